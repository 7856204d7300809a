package siem

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestLEEFReviewOddRecords: empty and unusual records give one event that
// the strict parser accepts, with the expected attributes, without panics.
func TestLEEFReviewOddRecords(t *testing.T) {
	raw := []byte{0, 0xff, '\n', '^'}
	for _, d := range []string{"\t", "^", "~"} {
		l := newLEEF(t, d)
		cases := map[string]struct {
			set  func(lr plog.LogRecord, res pcommon.Resource)
			want map[string]string
		}{
			"empty": {func(plog.LogRecord, pcommon.Resource) {}, map[string]string{"sev": "3"}},
			"bytes body": {func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetEmptyBytes().FromRaw(raw) },
				map[string]string{"sev": "3", "msg": base64.StdEncoding.EncodeToString(raw)}},
			"empty map body": {func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetEmptyMap() },
				map[string]string{"sev": "3", "msg": "{}"}},
			"NaN body": {func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetDouble(math.NaN()) },
				map[string]string{"sev": "3", "msg": "NaN"}},
			"odd types": {func(lr plog.LogRecord, res pcommon.Resource) {
				a := lr.Attributes()
				a.PutStr("server.port", "443")             // int key from a string: left out
				a.PutDouble("process.pid", 1)              // int key from a double: left out
				a.PutInt("agent_audit.risk_score", -1)     // sev: clamped to 1..10
				a.PutDouble("user.name", math.Inf(-1))     // as text
				a.PutEmptyMap("user.id").PutStr("k", "\n") // as JSON text
				a.PutEmptySlice("file.path")               // "[]"
				res.Attributes().PutBool("service.instance.id", true)
				lr.SetEventName("|x\\|")
			}, map[string]string{"sev": "3", "cat": "|x\\|", "action": "|x\\|", "usrName": "-Infinity", "userId": `{"k":"\n"}`,
				"resource": "[]", "filePath": "[]", "fileName": "[]", "collectorId": "true", "riskScore": "-1"}},
		}
		for name, c := range cases {
			res := pcommon.NewResource()
			lr := plog.NewLogRecord()
			c.set(lr, res)
			ev := l.Format(res, lr)
			require.NotContains(t, ev, "\n", "%s %q", name, d)
			p, err := parseLEEF(ev)
			require.NoError(t, err, "%s: %q", name, ev)
			assert.Len(t, p.attrs, len(c.want), "%s %q: %q", name, d, ev)
			for k, v := range c.want {
				assert.Equal(t, leefVal(v, []rune(d)[0]), p.attrs[k], "%s %q: %s in %q", name, d, k, ev)
			}
			assert.False(t, strings.HasSuffix(ev, d), "trailing delimiter")
		}
	}
}

// TestLEEFReviewTimestampBeyondInt64: devTime of a timestamp above MaxInt64
// ns is its date (2554), not a wrapped one before 1970.
func TestLEEFReviewTimestampBeyondInt64(t *testing.T) {
	l := newLEEF(t, "")
	lr := plog.NewLogRecord()
	lr.SetTimestamp(pcommon.Timestamp(math.MaxUint64))
	p, err := parseLEEF(l.Format(pcommon.NewResource(), lr))
	require.NoError(t, err)
	assert.Equal(t, "Jul 21 2554 23:34:33.709 GMT", p.attrs["devTime"])
}

// TestLEEFReviewUnderscoreDelimiter: '_' is in every event name
// (agent_audit.*), so as the delimiter it would turn every cat, the static
// key that selects the QID map entry, into agent\uFFFDaudit.*. It is
// refused like '.' and ':'.
func TestLEEFReviewUnderscoreDelimiter(t *testing.T) {
	for _, d := range []string{"_", "x5F", "0x5f"} {
		cfg := DefaultLEEFConfig()
		cfg.Delimiter = d
		err := cfg.Validate()
		require.Error(t, err, "delimiter %q", d)
		assert.Contains(t, err.Error(), "is not allowed")
	}
}
