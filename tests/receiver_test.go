package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// The documented archive line (docs/schema.md, "How a record is archived")
// for the event posted below: the chain header, then the record's canonical
// form (docs/integrity.md). OBSERVED is the receive time.
var wantRecord = `{"attributes":{"agent_audit.event.id":"evt-1","agent_audit.risk_score":{"int":"40"},` +
	`"big":{"int":"9223372036854775807"},"flags":{"array":[{"bool":true},"é<"]},` +
	`"gen_ai.tool.call.arguments":{"map":{"command":"rm -rf build/","timeout":{"int":"120"}}},` +
	`"gen_ai.tool.name":"Bash","ratio":{"double":0.25},"session.id":"sess-byte-for-byte"},` +
	`"body":"tool call requested by the model","event_name":"agent_audit.tool.call",` +
	`"observed_time_unix_nano":"OBSERVED","resource":{},` +
	`"scope":{"attributes":{"agent_audit.schema.version":"` + auditrecord.SchemaVersion + `"},"name":"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"},` +
	`"severity_number":9,"severity_text":"INFO","span_id":"b7ad6b7169203331",` +
	`"time_unix_nano":"1795428000123456789","trace_id":"0af7651916cd43dd8448eb211c80319c","v":1}`

var wantHeader = regexp.MustCompile(`^\{"chain":\{"digest":"([0-9a-f]{64})","index":\d+,"log":"e2e/\d+","prev":"0{64}","seq":1,"stream":"sess-byte-for-byte"\},"record":`)

func TestValidEventsLandInTheArchiveAsDocumented(t *testing.T) {
	c := newCollector(t, localConfig, nil)
	ctx := context.Background()

	one := `{"event_name":"agent_audit.tool.call","time":"2026-11-23T10:00:00.123456789Z",` +
		`"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",` +
		`"attributes":{"session.id":"sess-byte-for-byte","agent_audit.event.id":"evt-1","gen_ai.tool.name":"Bash",` +
		`"gen_ai.tool.call.arguments":{"command":"rm -rf build/","timeout":120},"agent_audit.risk_score":40,` +
		`"big":9223372036854775807,"ratio":0.25,"flags":[true,"é<"]},"body":"tool call requested by the model"}`
	res, err := post(ctx, c.url(), "application/json", []byte(one), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
	assert.JSONEq(t, `{"accepted":1}`, res.Body)

	array := "[" + string(eventJSON("evt-2", "sess-a", 10)) + "," + string(eventJSON("evt-3", "sess-a", 10)) + "]"
	res, err = post(ctx, c.url(), "application/json", []byte(array), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
	assert.JSONEq(t, `{"accepted":2}`, res.Body)

	ndjson := string(eventJSON("evt-4", "sess-b", 10)) + "\n\n" + string(eventJSON("evt-5", "sess-b", 10)) + "\n"
	res, err = post(ctx, c.url(), "application/x-ndjson", []byte(ndjson), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
	assert.JSONEq(t, `{"accepted":2}`, res.Body)

	ids := waitArchived(t, c.archiveDir(), map[string]bool{"evt-1": true, "evt-2": true, "evt-3": true, "evt-4": true, "evt-5": true}, 30*time.Second)
	assert.Len(t, ids, 5)

	var found bool
	for _, l := range readArchive(t, c.archiveDir()) {
		if !strings.Contains(string(l.Line), `"evt-1"`) {
			continue
		}
		found = true
		assert.Regexp(t, `^e2e/\d+/streams/sess-byte-for-byte/seq-00000000000000000001-00000000000000000001-[0-9a-f]{16}\.ndjson$`, l.Key)
		observed := regexp.MustCompile(`"observed_time_unix_nano":"(\d+)"`).FindSubmatch(l.Line)
		require.NotNil(t, observed)
		header := wantHeader.FindSubmatch(l.Line)
		require.NotNil(t, header, "chain header: %s", l.Line)
		record := strings.Replace(wantRecord, "OBSERVED", string(observed[1]), 1)
		assert.Equal(t, string(header[0])+record+"}\n", string(l.Line))
		sum := sha256.Sum256([]byte(record))
		assert.Equal(t, hex.EncodeToString(sum[:]), string(header[1]), "the digest is SHA-256 of the record's bytes")
	}
	assert.True(t, found)
}

func TestBadInputsAreRefusedAndNothingOfThemIsArchived(t *testing.T) {
	c := newCollector(t, localConfig, nil)
	ctx := context.Background()
	valid := string(eventJSON("never-archived", "s", 0))

	// 10,000 levels of nesting inside an attribute value.
	deep := `{"event_name":"agent_audit.tool.call","attributes":{"session.id":"s","gen_ai.tool.name":"x","a":` +
		strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `}}`
	// A 4 MiB object of 500,000 keys once cost minutes of CPU; now it is refused.
	var manyKeys strings.Builder
	manyKeys.WriteString(`{"event_name":"agent_audit.prompt","attributes":{"session.id":"s"`)
	for i := 0; manyKeys.Len() < 4_000_000; i++ {
		fmt.Fprintf(&manyKeys, `,"k%d":1`, i)
	}
	manyKeys.WriteString("}}")
	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		status      int
		want        string // substring of the JSON answer
	}{
		{"malformed JSON", "application/json", []byte(`{"event_name":"agent_audit.tool.call",`), 400, `"reason":"malformed JSON: unexpected end of input"`},
		{"wrong types", "application/json", []byte(`{"event_name":"agent_audit.tool.call","attributes":{"session.id":42,"gen_ai.tool.name":["Bash"]}}`), 400, `"field":"attributes.gen_ai.tool.name","reason":"must be a string, got an array"`},
		{"missing required field", "application/json", []byte(`{"event_name":"agent_audit.tool.call","attributes":{"session.id":"s"}}`), 400, `"field":"attributes.gen_ai.tool.name","reason":"required attribute is missing"`},
		{"unknown event type", "application/json", []byte(`{"event_name":"agent_audit.teleport","attributes":{"session.id":"s"}}`), 400, `unknown event type \"agent_audit.teleport\"`},
		{"invalid UTF-8", "application/json", []byte("{\"event_name\":\"agent_audit.prompt\",\"attributes\":{\"session.id\":\"\xc3\x28\"}}"), 400, `"reason":"body is not valid UTF-8 (first bad byte at offset 63)"`},
		{"10 MB body", "application/json", bytes.Repeat([]byte("x"), 10<<20), 413, `"error":"body larger than max_request_body_size (4194304 bytes)"`},
		{"10,000-deep nesting", "application/json", []byte(deep), 400, `"reason":"nested deeper than 32 levels"`},
		{"empty body", "application/json", nil, 400, `"reason":"empty body: send one event, an array of events, or NDJSON"`},
		{"integer beyond int64", "application/json", []byte(`{"event_name":"agent_audit.file.write","attributes":{"session.id":"s","file.path":"/a","file.size":18446744073709551616}}`), 400, `"field":"attributes.file.size","reason":"integer does not fit in a signed 64-bit integer"`},
		{"one bad event among good ones", "application/x-ndjson", []byte(valid + "\n" + `{"event_name":"agent_audit.prompt"}` + "\n" + valid), 400, `"index":1,"field":"attributes","reason":"required field is missing"`},
		{"reserved integrity attribute", "application/json", []byte(`{"event_name":"agent_audit.prompt","attributes":{"session.id":"s","audit.sequence.number":1}}`), 400, `reserved: integrity attributes are written by the collector`},
		{"500,000 keys in one object", "application/json", []byte(manyKeys.String()), 400, `"field":"attributes","reason":"more than 256 keys in one object"`},
		{"form content type", "application/x-www-form-urlencoded", []byte(valid), 415, `is not supported; send application/json or application/x-ndjson`},
		{"too many events", "application/x-ndjson", bytes.Repeat([]byte(`{"event_name":"agent_audit.prompt","attributes":{"session.id":"s"}}`+"\n"), 10_001), 413, `too many events in one request (limit 10000)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := post(ctx, c.url(), tc.contentType, tc.body, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.status, res.Status, res.Body)
			assert.Contains(t, res.Body, tc.want)
			var answer struct {
				Accepted *int `json:"accepted"`
			}
			require.NoError(t, json.Unmarshal([]byte(res.Body), &answer), res.Body)
			require.NotNil(t, answer.Accepted)
			assert.Zero(t, *answer.Accepted)
		})
	}

	req, _ := http.NewRequest(http.MethodGet, c.url(), nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// A valid marker after all of them: once it is archived, anything the
	// bad requests had let through would be too.
	res, err := post(ctx, c.url(), "application/json", eventJSON("marker", "s", 0), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	ids := waitArchived(t, c.archiveDir(), map[string]bool{"marker": true}, 30*time.Second)
	assert.Equal(t, map[string]int{"marker": 1}, ids, "only the marker may be in the archive")
	agentRecords := 0
	for _, l := range readArchive(t, c.archiveDir()) {
		name := l.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).EventName()
		if !integrity.IsReservedEventName(name) { // the collector's own records (epoch start, checkpoints)
			agentRecords++
		}
	}
	assert.Equal(t, 1, agentRecords)
	// Events the schema refused (body-level refusals name no event), and
	// every refused request: the 14 above and the GET.
	assert.Equal(t, float64(9), c.metric("otelcol_receiver_agentaudit_events_invalid"))
	assert.Equal(t, float64(15), c.metric("otelcol_receiver_agentaudit_requests_refused"))
}

const authConfig = `
extensions:
  health_check:
    endpoint: 127.0.0.1:{{.HealthPort}}
  bearertokenauth:
    token: s3cret-token
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
    auth:
      authenticator: bearertokenauth
exporters:
  worm:
    origin: e2e
    local:
      directory: {{.Dir}}/archive
service:
  extensions: [health_check, bearertokenauth]
  pipelines:
    logs:
      receivers: [agentaudit]
      exporters: [worm]
  telemetry:
    metrics:
      level: none
`

func TestAuthenticationIsEnforced(t *testing.T) {
	c := newCollector(t, authConfig, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		header map[string]string
		status int
	}{
		{nil, http.StatusUnauthorized},
		{map[string]string{"Authorization": "Bearer wrong"}, http.StatusUnauthorized},
		{map[string]string{"Authorization": "Bearer s3cret-token"}, http.StatusOK},
	} {
		res, err := post(ctx, c.url(), "application/json", eventJSON(fmt.Sprint("auth-", tc.status), "s", 0), tc.header)
		require.NoError(t, err)
		assert.Equal(t, tc.status, res.Status, res.Body)
	}
	// With the queue disabled the write is synchronous: acknowledged means on disk.
	assert.Equal(t, map[string]int{"auth-200": 1}, eventIDs(t, c.archiveDir()))
}
