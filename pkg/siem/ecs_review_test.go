package siem

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestECSReviewResourceFallback: README ("Mapping") says an attribute is
// looked up in the record's attributes, then in the resource's. A resource
// attribute with an ECS field feeds that field when the record has none.
func TestECSReviewResourceFallback(t *testing.T) {
	e := newECS(t)
	res := pcommon.NewResource()
	ra := res.Attributes()
	ra.PutStr("host.name", "agent-host")
	ra.PutStr("host.id", "h-1")
	ra.PutStr("user.id", "u-1")
	ra.PutStr("gen_ai.agent.name", "claude-code")
	ra.PutStr("gen_ai.provider.name", "anthropic")
	ra.PutStr("user.name", "resource-user")
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.tool.call")
	lr.Attributes().PutStr("user.name", "record-user")
	doc, out := formatECS(t, e, res, lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	for path, want := range map[string]any{
		"host.name":         "agent-host",
		"host.id":           "h-1",
		"user.id":           "u-1",
		"user.name":         "record-user", // the record wins
		"gen_ai.agent.name": "claude-code",
		"gen_ai.system":     "anthropic",
		"event.provider":    "claude-code",
		"related.hosts":     []any{"agent-host"},
		"related.user":      []any{"record-user", "u-1"},
		// the resource value that lost stays under the namespace
		"agent_audit.resource.user.name": "resource-user",
	} {
		got, ok := getPath(doc, dotted(path)...)
		assert.True(t, ok, "%s in %s", path, out)
		assert.Equal(t, want, got, path)
	}
	for _, p := range []string{"host", "gen_ai"} {
		_, ok := getPath(doc, "agent_audit", "resource", p)
		assert.False(t, ok, "resource %s.* used by an ECS field is not repeated: %s", p, out)
	}
}

// TestECSReviewResourceOnlyRecordIgnored: a record attribute named like a
// resource-only source (service.version) still stays under the namespace.
func TestECSReviewResourceOnlyRecordIgnored(t *testing.T) {
	e := newECS(t)
	lr := plog.NewLogRecord()
	lr.Attributes().PutStr("service.version", "9.9.9")
	doc, out := formatECS(t, e, pcommon.NewResource(), lr)
	_, ok := getPath(doc, "agent", "version")
	assert.False(t, ok, "%s", out)
	got, _ := getPath(doc, "agent_audit", "service", "version")
	assert.Equal(t, "9.9.9", got)
}

// TestECSReviewControlCharacters: README says control characters are
// escaped; DEL and the C1 controls (NEL, U+0085, is a line end to Unicode
// readers, as LS and PS are) must not be written raw.
func TestECSReviewControlCharacters(t *testing.T) {
	e := newECS(t)
	v := "a\u0085b\x7fc\u0080d\u009fe"
	lr := plog.NewLogRecord()
	lr.Body().SetStr(v)
	lr.Attributes().PutStr("k\u0085", v)
	doc, out := formatECS(t, e, pcommon.NewResource(), lr)
	for _, bad := range []string{"\u0085", "\x7f", "\u0080", "\u009f"} {
		assert.NotContains(t, string(out), bad, "raw control character %q", bad)
	}
	assert.Equal(t, v, doc["message"])
	got, _ := getPath(doc, "agent_audit", "k\u0085")
	assert.Equal(t, v, got)
}

// TestECSReviewURLDomainIPv6: ECS url.domain keeps the [ ] of an IPv6
// literal (RFC 2732); related.ip holds the bare address.
func TestECSReviewURLDomainIPv6(t *testing.T) {
	e := newECS(t)
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.network.request")
	lr.Attributes().PutStr("url.full", "http://[2001:db8::1]:8080/x")
	doc, out := formatECS(t, e, pcommon.NewResource(), lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	got, _ := getPath(doc, "url", "domain")
	assert.Equal(t, "[2001:db8::1]", got)
	got, _ = getPath(doc, "related", "ip")
	assert.Equal(t, []any{"2001:db8::1"}, got)
	got, _ = getPath(doc, "url", "port")
	assert.Equal(t, json.Number("8080"), got)
}

// TestECSReviewOddRecords: empty and unusual records give a valid document
// that passes the field list checks, without panics.
func TestECSReviewOddRecords(t *testing.T) {
	fields := loadECSFields(t)
	e := newECS(t)
	cases := map[string]func(lr plog.LogRecord, res pcommon.Resource){
		"empty":       func(plog.LogRecord, pcommon.Resource) {},
		"bytes body":  func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetEmptyBytes().FromRaw([]byte{0, 0xff, '\n'}) },
		"empty bytes": func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetEmptyBytes() },
		"empty map":   func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetEmptyMap() },
		"empty slice": func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetEmptySlice() },
		"double body": func(lr plog.LogRecord, _ pcommon.Resource) { lr.Body().SetDouble(math.NaN()) },
		"inf attrs": func(lr plog.LogRecord, res pcommon.Resource) {
			a := lr.Attributes()
			a.PutDouble("gen_ai.request.temperature", math.Inf(1))
			a.PutDouble("gen_ai.request.top_p", math.NaN())
			a.PutDouble("x", math.Inf(-1))
			a.PutEmptySlice("process.args").AppendEmpty().SetDouble(math.NaN())
			a.PutEmptyMap("m").PutDouble("n", math.NaN())
			res.Attributes().PutDouble("r", math.Inf(1))
		},
		"extreme ints": func(lr plog.LogRecord, res pcommon.Resource) {
			a := lr.Attributes()
			a.PutInt("agent_audit.duration_ms", math.MaxInt64/1_000_000)
			a.PutInt("file.size", math.MaxInt64)
			a.PutInt("process.pid", math.MinInt64)
			a.PutInt("agent_audit.risk_score", math.MinInt64)
			a.PutInt("audit.sequence.number", math.MaxInt64)
			a.PutInt("gen_ai.request.seed", math.MinInt32)
			a.PutInt("server.port", 0)
			lr.SetSeverityNumber(plog.SeverityNumber(math.MinInt32))
			lr.SetDroppedAttributesCount(math.MaxUint32)
			lr.SetFlags(plog.LogRecordFlags(math.MaxUint32))
		},
		"empty strings": func(lr plog.LogRecord, res pcommon.Resource) {
			a := lr.Attributes()
			for _, k := range []string{"user.id", "server.address", "url.full", "file.path", "process.executable.path", "agent_audit.outcome", ""} {
				a.PutStr(k, "")
			}
			a.PutEmpty("user.name")
			res.Attributes().PutStr("", "")
			lr.SetEventName("agent_audit.")
		},
		"forged names": func(lr plog.LogRecord, res pcommon.Resource) {
			a := lr.Attributes()
			a.PutStr(`"},"event":{"kind":"x`, "v")
			a.PutStr("agent_audit", "v")
			a.PutStr("_conflicts", "v")
			a.PutStr("_conflicts.x", "v")
			a.PutStr("resource", "v")
			a.PutStr("\xff", "v")
			a.PutStr("\xfe", "v")
			m := a.PutEmptyMap("map")
			m.PutStr("\xff", "1")
			m.PutStr("\xfe", "2")
			m.PutStr("\uFFFD_2", "3")
			res.Attributes().PutStr("x.", "v")
			lr.SetEventName("agent_audit.\u2028\x00")
			lr.SetSeverityText("\n")
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			res := pcommon.NewResource()
			lr := plog.NewLogRecord()
			set(lr, res)
			doc, out := formatECS(t, e, res, lr)
			require.NoError(t, checkECSDoc(fields, doc, "agent_audit"), "%s", out)
			assert.False(t, strings.ContainsAny(string(out), "\r\n"), "%s", out)
		})
	}
}

// TestECSReviewTimestampBeyondInt64: a timestamp past 2262 (above
// MaxInt64 ns; OTLP times are uint64) is written as its date, not wrapped
// to a date before 1970. CEF's rt reads the same value unwrapped.
func TestECSReviewTimestampBeyondInt64(t *testing.T) {
	e := newECS(t)
	lr := plog.NewLogRecord()
	lr.SetTimestamp(pcommon.Timestamp(math.MaxUint64))
	lr.SetObservedTimestamp(pcommon.Timestamp(1 << 63))
	doc, out := formatECS(t, e, pcommon.NewResource(), lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	assert.Equal(t, "2554-07-21T23:34:33.709551615Z", doc["@timestamp"])
	got, _ := getPath(doc, "event", "created")
	assert.Equal(t, "2262-04-11T23:47:16.854775808Z", got)
}
