package auditrecord

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const toolCall = `{"event_name":"agent_audit.tool.call","time":"2026-11-23T10:00:00.123456789Z",` +
	`"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",` +
	`"attributes":{"session.id":"s-1","gen_ai.tool.name":"Bash","gen_ai.tool.call.arguments":{"command":"ls -l","timeout":30},` +
	`"agent_audit.risk_score":10,"custom.flag":true,"custom.ratio":0.5},"body":"list files"}`

func TestDecodeValidEvent(t *testing.T) {
	ld, err := Decode([]byte(toolCall), FormatJSON, DefaultLimits, now)
	require.NoError(t, err)
	require.Equal(t, 1, ld.LogRecordCount())
	sl := ld.ResourceLogs().At(0).ScopeLogs().At(0)
	assert.Equal(t, ScopeName, sl.Scope().Name())
	v, _ := sl.Scope().Attributes().Get(AttrSchemaVersion)
	assert.Equal(t, SchemaVersion, v.Str())

	lr := sl.LogRecords().At(0)
	assert.Equal(t, "agent_audit.tool.call", lr.EventName())
	assert.Equal(t, time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC), lr.Timestamp().AsTime())
	assert.Equal(t, now, lr.ObservedTimestamp().AsTime())
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", lr.TraceID().String())
	assert.Equal(t, "b7ad6b7169203331", lr.SpanID().String())
	assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	assert.Equal(t, "INFO", lr.SeverityText())
	assert.Equal(t, "list files", lr.Body().Str())
	assert.Equal(t, map[string]any{
		"session.id":                 "s-1",
		"gen_ai.tool.name":           "Bash",
		"gen_ai.tool.call.arguments": map[string]any{"command": "ls -l", "timeout": int64(30)},
		"agent_audit.risk_score":     int64(10),
		"custom.flag":                true,
		"custom.ratio":               0.5,
	}, lr.Attributes().AsRaw())
}

func TestDecodeFramings(t *testing.T) {
	ev := func(id string) string {
		return `{"event_name":"agent_audit.session.start","attributes":{"session.id":"` + id + `"}}`
	}
	for _, tc := range []struct {
		name   string
		body   string
		format Format
		want   []string
	}{
		{"single object", ev("a"), FormatJSON, []string{"a"}},
		{"array", "[" + ev("a") + "," + ev("b") + "]", FormatJSON, []string{"a", "b"}},
		{"ndjson with blank and CRLF lines", ev("a") + "\r\n\n  \n" + ev("b") + "\n", FormatNDJSON, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ld, err := Decode([]byte(tc.body), tc.format, DefaultLimits, now)
			require.NoError(t, err)
			var got []string
			recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for _, lr := range recs.All() {
				v, _ := lr.Attributes().Get("session.id")
				got = append(got, v.Str())
				// Without a time the event time stays unknown (zero), as the
				// OTel data model says; the observed time is the receive time.
				assert.Zero(t, lr.Timestamp())
				assert.Equal(t, now, lr.ObservedTimestamp().AsTime().UTC())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeKeepsNestedNullsAndSurrogatePairs(t *testing.T) {
	body := `{"event_name":"agent_audit.tool.call","attributes":{"session.id":"\ud83d\ude00","gen_ai.tool.name":"Edit",` +
		`"gen_ai.tool.call.arguments":{"old":null,"list":[null,1]}},"body":{"a":null}}`
	ld, err := Decode([]byte(body), FormatJSON, DefaultLimits, now)
	require.NoError(t, err)
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	sid, _ := lr.Attributes().Get("session.id")
	assert.Equal(t, "😀", sid.Str())
	args, _ := lr.Attributes().Get("gen_ai.tool.call.arguments")
	assert.Equal(t, map[string]any{"old": nil, "list": []any{nil, int64(1)}}, args.AsRaw())
	assert.Equal(t, map[string]any{"a": nil}, lr.Body().AsRaw())
}

func TestDecodeDoubleAttributeAcceptsInteger(t *testing.T) {
	body := `{"event_name":"agent_audit.model.request","attributes":{"session.id":"s","gen_ai.request.model":"m","gen_ai.request.temperature":1}}`
	ld, err := Decode([]byte(body), FormatJSON, DefaultLimits, now)
	require.NoError(t, err)
	v, _ := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get("gen_ai.request.temperature")
	assert.Equal(t, pcommon.ValueTypeDouble, v.Type())
	assert.Equal(t, 1.0, v.Double())
}

func TestDecodeInvalid(t *testing.T) {
	deep := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	at := func(i int) *int { return &i }
	valid := `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s"}}`
	for _, tc := range []struct {
		name   string
		body   string
		format Format
		want   []Problem
	}{
		{"empty body", "", FormatJSON, []Problem{{Reason: "empty body: send one event, an array of events, or NDJSON"}}},
		{"whitespace body", " \n\t", FormatNDJSON, []Problem{{Reason: "empty body: send one event, an array of events, or NDJSON"}}},
		{"empty array", "[]", FormatJSON, []Problem{{Reason: "empty array: no events"}}},
		{"not an object", `"hello"`, FormatJSON, []Problem{{Reason: "body must be a JSON object (one event) or a JSON array of events"}}},
		{"invalid utf-8", "{\"event_name\":\"a\xff\"}", FormatJSON, []Problem{{Reason: "body is not valid UTF-8 (first bad byte at offset 16)"}}},
		{"malformed object", `{"event_name":`, FormatJSON, []Problem{{Index: at(0), Reason: "malformed JSON: unexpected end of input"}}},
		{"malformed array element", "[" + valid + `,{"a":}]`, FormatJSON, []Problem{{Index: at(1), Reason: "malformed JSON at byte 78: invalid character '}' looking for beginning of value"}}},
		{"trailing data", valid + valid, FormatJSON, []Problem{{Index: at(0), Reason: "malformed JSON: data after the end of the event object"}}},
		{"ndjson bad line among good", valid + "\n{oops}\n" + valid, FormatNDJSON, []Problem{{Index: at(1), Reason: "malformed JSON at byte 1: invalid character 'o'"}}},
		{"event not an object", "[1]", FormatJSON, []Problem{{Index: at(0), Reason: "an event must be a JSON object, got a number"}}},
		{"missing fields", `{}`, FormatJSON, []Problem{
			{Index: at(0), Field: "event_name", Reason: "required field is missing"},
			{Index: at(0), Field: "attributes", Reason: "required field is missing"},
		}},
		{"unknown event type", `{"event_name":"agent_audit.nope","attributes":{"session.id":"s"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "event_name", Reason: `unknown event type "agent_audit.nope" (see docs/schema.md for the list)`},
		}},
		{"unknown top-level field", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s"},"sev":1}`, FormatJSON, []Problem{
			{Index: at(0), Field: "sev", Reason: "unknown field (allowed: event_name, time, trace_id, span_id, attributes, body)"},
		}},
		{"wrong types", `{"event_name":"agent_audit.tool.result","attributes":{"session.id":7,"gen_ai.tool.name":"x","agent_audit.outcome":"maybe","agent_audit.duration_ms":"5"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.agent_audit.duration_ms", Reason: "must be an integer, got a string"},
			{Index: at(0), Field: "attributes.agent_audit.outcome", Reason: `must be one of success, failure, unknown, got "maybe"`},
			{Index: at(0), Field: "attributes.session.id", Reason: "must be a string, got an integer"},
		}},
		{"event_name wrong type", `{"event_name":{"a":1},"attributes":{"session.id":"s"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "event_name", Reason: "must be a string, got an object"},
		}},
		{"missing required attribute", `{"event_name":"agent_audit.file.read","attributes":{"session.id":" \t"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.file.path", Reason: "required attribute is missing"},
			{Index: at(0), Field: "attributes.session.id", Reason: "required attribute is empty"},
		}},
		{"integer too large", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s","n":9223372036854775808}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.n", Reason: "integer does not fit in a signed 64-bit integer"},
		}},
		{"float too large", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s","n":1e400}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.n", Reason: "number is out of range for a 64-bit float"},
		}},
		{"null attribute", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s","x":null}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.x", Reason: "null is not allowed; leave the attribute out instead"},
		}},
		{"duplicate keys", `{"event_name":"agent_audit.session.end","event_name":"agent_audit.error","attributes":{"session.id":"s","session.id":"t"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "event_name", Reason: "duplicate field"},
			{Index: at(0), Field: "attributes.session.id", Reason: "duplicate key"},
		}},
		{"reserved and unknown project attributes", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s","audit.sequence.number":1,"agent_audit.decision":"allow"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.agent_audit.decision", Reason: "unknown attribute for event type agent_audit.session.end"},
			{Index: at(0), Field: "attributes.audit.sequence.number", Reason: "reserved: integrity attributes are written by the collector, not by clients"},
		}},
		{"bad ids and time", `{"event_name":"agent_audit.session.end","time":"yesterday","trace_id":"00000000000000000000000000000000","span_id":"xyz","attributes":{"session.id":"s"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "time", Reason: "must be an RFC 3339 time stamp such as 2026-01-02T15:04:05.123456789Z"},
			{Index: at(0), Field: "trace_id", Reason: "must not be all zeros"},
			{Index: at(0), Field: "span_id", Reason: "must be 16 hexadecimal characters"},
		}},
		{"risk score out of range", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s","agent_audit.risk_score":101}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.agent_audit.risk_score", Reason: "must be between 0 and 100"},
		}},
		{"string array element", `{"event_name":"agent_audit.model.response","attributes":{"session.id":"s","gen_ai.request.model":"m","gen_ai.response.finish_reasons":["stop",1]}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.gen_ai.response.finish_reasons[1]", Reason: "must be a string, got an integer"},
		}},
		{"deep attribute", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.x" + strings.Repeat("[0]", 32), Reason: "nested deeper than 32 levels"},
		}},
		{"attributes not an object, later problems still found", `{"attributes":"x","event_name":7}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes", Reason: "must be a JSON object, got a string"},
			{Index: at(0), Field: "event_name", Reason: "must be a string, got a number"},
		}},
		{"lone high surrogate", `{"event_name":"agent_audit.prompt","attributes":{"session.id":"\ud800x"}}`, FormatJSON, []Problem{
			{Reason: "unpaired UTF-16 surrogate escape at byte 63"},
		}},
		{"lone low surrogate", `{"event_name":"agent_audit.prompt","attributes":{"session.id":"s"},"body":"\udc00"}`, FormatJSON, []Problem{
			{Reason: "unpaired UTF-16 surrogate escape at byte 75"},
		}},
		{"span without trace, epoch time", `{"event_name":"agent_audit.prompt","time":"1970-01-01T00:00:00Z","span_id":"b7ad6b7169203331","attributes":{"session.id":"s"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "span_id", Reason: "requires trace_id"},
			{Index: at(0), Field: "time", Reason: "must lie after 1970-01-01T00:00:00Z and before 2262"},
		}},
		{"time before 1678 does not wrap", `{"event_name":"agent_audit.prompt","time":"1600-01-01T00:00:00Z","attributes":{"session.id":"s"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "time", Reason: "must lie after 1970-01-01T00:00:00Z and before 2262"},
		}},
		{"time past int64 nanoseconds in UTC", `{"event_name":"agent_audit.prompt","time":"2262-04-11T20:00:00-05:00","attributes":{"session.id":"s"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "time", Reason: "must lie after 1970-01-01T00:00:00Z and before 2262"},
		}},
		{"attribute of another event type keeps its type", `{"event_name":"agent_audit.tool.call","attributes":{"session.id":"s","gen_ai.tool.name":"Bash","process.pid":"123"}}`, FormatJSON, []Problem{
			{Index: at(0), Field: "attributes.process.pid", Reason: "must be an integer, got a string"},
		}},
		{"10000-deep array body", deep, FormatJSON, []Problem{{Index: at(0), Reason: "an event must be a JSON object, got an array"}}},
		{"20000-deep array body", strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000), FormatJSON, []Problem{{Index: at(0), Reason: "malformed JSON: nested too deeply"}}},
		{"10000-deep ndjson event", `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s"},"body":` + deep + "}", FormatNDJSON, []Problem{
			{Index: at(0), Field: "body" + strings.Repeat("[0]", 32), Reason: "nested deeper than 32 levels"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body), tc.format, DefaultLimits, now)
			var inv *InvalidRequestError
			require.True(t, errors.As(err, &inv), "want *InvalidRequestError, got %v", err)
			sortProblems(inv.Problems)
			sortProblems(tc.want)
			assert.Equal(t, tc.want, inv.Problems)
			assert.False(t, inv.TooLarge)
		})
	}
}

func TestDecodeTooManyEvents(t *testing.T) {
	ev := `{"event_name":"agent_audit.session.end","attributes":{"session.id":"s"}}`
	lim := Limits{MaxEvents: 2, MaxDepth: 8, MaxKeys: 8}
	for _, tc := range []struct {
		body   string
		format Format
	}{
		{"[" + ev + "," + ev + "," + ev + "]", FormatJSON},
		{ev + "\n" + ev + "\n" + ev, FormatNDJSON},
	} {
		_, err := Decode([]byte(tc.body), tc.format, lim, now)
		var inv *InvalidRequestError
		require.ErrorAs(t, err, &inv)
		assert.True(t, inv.TooLarge)
		assert.Equal(t, "too many events in one request (limit 2)", inv.Problems[0].Reason)
	}
}

func TestDecodeKeyLimit(t *testing.T) {
	var keys strings.Builder
	for i := range 4 {
		fmt.Fprintf(&keys, `,"k%d":{"a":1,"b":2,"c":3}`, i)
	}
	body := `{"event_name":"agent_audit.prompt","attributes":{"session.id":"s"` + keys.String() + `}}`
	_, err := Decode([]byte(body), FormatJSON, Limits{MaxKeys: 5}, now)
	require.NoError(t, err, "5 keys at the top and 3 in each nested object are within the limit")
	_, err = Decode([]byte(body), FormatJSON, Limits{MaxKeys: 4}, now)
	var inv *InvalidRequestError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, []Problem{{Index: inv.Problems[0].Index, Field: "attributes", Reason: "more than 4 keys in one object"}}, inv.Problems)
	_, err = Decode([]byte(body), FormatJSON, Limits{MaxKeys: 2}, now)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "attributes.k0", inv.Problems[0].Field, "nested objects are bounded too")
}

func TestEveryEventTypeHasAValidMinimalEvent(t *testing.T) {
	for _, et := range EventTypes {
		attrs := map[string]any{}
		for name, spec := range eventIndex[et.Name].attrs {
			if !spec.Required {
				continue
			}
			switch {
			case len(spec.Enum) > 0:
				attrs[name] = spec.Enum[0]
			default:
				attrs[name] = "x"
			}
		}
		body, _ := json.Marshal(map[string]any{"event_name": et.Name, "attributes": attrs})
		_, err := Decode(body, FormatJSON, DefaultLimits, now)
		assert.NoError(t, err, et.Name)
	}
}

// sortProblems orders problems by index then field so tests do not depend on
// the order in which they were found.
func sortProblems(ps []Problem) {
	idx := func(p Problem) int {
		if p.Index == nil {
			return -1
		}
		return *p.Index
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if idx(ps[i]) != idx(ps[j]) {
			return idx(ps[i]) < idx(ps[j])
		}
		return ps[i].Field < ps[j].Field
	})
}
