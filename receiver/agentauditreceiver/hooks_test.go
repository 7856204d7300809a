package agentauditreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// The events of the issue; every one has a fixture and an expected record.
var claudeCodeHookEvents = []string{
	"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse",
	"PostToolUseFailure", "Notification", "Stop", "SubagentStop", "PreCompact", "SessionEnd",
}

// expectedRecord is one entry of testdata/claudecode-records.json.
type expectedRecord struct {
	EventName    string                     `json:"event_name"`
	SeverityText string                     `json:"severity_text"`
	Attributes   map[string]json.RawMessage `json:"attributes"`
	Body         json.RawMessage            `json:"body"`
}

func loadExpectedRecords(t *testing.T) map[string]expectedRecord {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "claudecode-records.json"))
	require.NoError(t, err)
	var all map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &all))
	out := map[string]expectedRecord{}
	for k, v := range all {
		if strings.HasPrefix(k, "_") {
			continue
		}
		var e expectedRecord
		require.NoError(t, json.Unmarshal(v, &e), k)
		out[k] = e
	}
	return out
}

// assertHookRecord compares a record with its expectation attribute by
// attribute, so that a failure names the attribute.
func assertHookRecord(t *testing.T, want expectedRecord, lr plog.LogRecord) {
	t.Helper()
	assert.Equal(t, want.EventName, lr.EventName())
	assert.Equal(t, want.SeverityText, lr.SeverityText())
	assert.Zero(t, lr.Timestamp(), "a hook payload carries no time; ObservedTimestamp is the receive time")
	assert.NotZero(t, lr.ObservedTimestamp())
	got := lr.Attributes().AsRaw()
	for name, w := range want.Attributes {
		v, ok := got[name]
		if !assert.True(t, ok, "attribute %s missing", name) {
			continue
		}
		g, err := json.Marshal(v)
		require.NoError(t, err)
		assert.JSONEq(t, string(w), string(g), "attribute %s", name)
	}
	var extra []string
	for name := range got {
		if _, ok := want.Attributes[name]; !ok {
			extra = append(extra, name)
		}
	}
	assert.Empty(t, extra, "attributes not in the expectation")
	if want.Body == nil {
		assert.Equal(t, pcommon.ValueTypeEmpty, lr.Body().Type(), "no body expected")
	} else {
		g, err := json.Marshal(lr.Body().AsRaw())
		require.NoError(t, err)
		assert.JSONEq(t, string(want.Body), string(g), "body")
	}
}

func startHooksReceiver(t *testing.T, next consumer.Logs, mutate func(*Config)) string {
	t.Helper()
	url, _ := startReceiver(t, next, mutate)
	return strings.TrimSuffix(url, EventsPath) + ClaudeCodeHooksPath
}

type hookAnswer struct {
	code       int
	body       string
	retryAfter string
	resp       response
}

func postHook(t *testing.T, url, contentType string, body []byte) hookAnswer {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := hookAnswer{code: resp.StatusCode, body: string(raw), retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, json.Unmarshal(raw, &a.resp), "an error answer is JSON: %q", raw)
	}
	return a
}

func TestClaudeCodeFixturesBecomeTheDocumentedRecords(t *testing.T) {
	want := loadExpectedRecords(t)
	var names []string
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	wantNames := append([]string(nil), claudeCodeHookEvents...)
	sort.Strings(wantNames)
	require.Equal(t, wantNames, names, "one expected record per event of the issue")

	sink := new(consumertest.LogsSink)
	url := startHooksReceiver(t, sink, nil)
	for i, event := range claudeCodeHookEvents {
		t.Run(event, func(t *testing.T) {
			fixture, err := os.ReadFile(filepath.Join("testdata", "claudecode-hooks", event+".json"))
			require.NoError(t, err)
			a := postHook(t, url, "application/json", fixture)
			// Claude Code reads a 2xx with an empty body as "no decision".
			require.Equal(t, http.StatusOK, a.code, a.body)
			assert.Empty(t, a.body)
			require.Len(t, sink.AllLogs(), i+1)
			sl := sink.AllLogs()[i].ResourceLogs().At(0).ScopeLogs().At(0)
			v, _ := sl.Scope().Attributes().Get(auditrecord.AttrSchemaVersion)
			assert.Equal(t, auditrecord.SchemaVersion, v.Str())
			require.Equal(t, 1, sl.LogRecords().Len())
			assertHookRecord(t, want[event], sl.LogRecords().At(0))
		})
	}
	// Integers stay integers: tool_input.timeout is 120000, not 120000.0.
	lr := sink.AllLogs()[5].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	args, _ := lr.Attributes().Get("gen_ai.tool.call.arguments")
	timeout, _ := args.Map().Get("timeout")
	assert.Equal(t, pcommon.ValueTypeInt, timeout.Type())
}

func TestClaudeCodeUnknownEventIsRecordedWithItsPayload(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startHooksReceiver(t, sink, nil)
	payload := `{"session_id":"s-1","cwd":"/home/alice/project","hook_event_name":"TeammateIdle","teammate_name":"researcher","nested":{"a":[1,null]}}`
	a := postHook(t, url, "application/json", []byte(payload))
	require.Equal(t, http.StatusOK, a.code, a.body)
	assert.Empty(t, a.body)
	require.Equal(t, 1, sink.LogRecordCount())
	lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assertHookRecord(t, expectedRecord{
		EventName:    "agent_audit.source.unmapped",
		SeverityText: "INFO",
		Attributes: map[string]json.RawMessage{
			"gen_ai.agent.name":           json.RawMessage(`"claude-code"`),
			"session.id":                  json.RawMessage(`"s-1"`),
			"process.working_directory":   json.RawMessage(`"/home/alice/project"`),
			"agent_audit.source.event":    json.RawMessage(`"TeammateIdle"`),
			"agent_audit.unmapped":        json.RawMessage(`"unknown_event"`),
			"agent_audit.unmapped_detail": json.RawMessage(`"no mapping for Claude Code hook event TeammateIdle"`),
		},
		// The nested null is kept as an empty value, which AsRaw reads as nil.
		Body: json.RawMessage(payload),
	}, lr)
}

func TestClaudeCodeKeepsUnmappedFieldsAndTreatsNullAsAbsent(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startHooksReceiver(t, sink, nil)
	payload := `{"session_id":"s-1","hook_event_name":"PreToolUse","tool_name":"mcp__github__create_issue",` +
		`"tool_input":{"title":"Parser crash"},"tool_use_id":null,"effort":{"level":"high"},"cwd":null}`
	a := postHook(t, url, "application/json", []byte(payload))
	require.Equal(t, http.StatusOK, a.code, a.body)
	lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assertHookRecord(t, expectedRecord{
		EventName:    "agent_audit.tool.call",
		SeverityText: "INFO",
		Attributes: map[string]json.RawMessage{
			"gen_ai.agent.name":          json.RawMessage(`"claude-code"`),
			"session.id":                 json.RawMessage(`"s-1"`),
			"agent_audit.source.event":   json.RawMessage(`"PreToolUse"`),
			"gen_ai.tool.name":           json.RawMessage(`"mcp__github__create_issue"`),
			"gen_ai.tool.call.arguments": json.RawMessage(`{"title":"Parser crash"}`),
			"claude_code.effort":         json.RawMessage(`{"level":"high"}`),
			"agent_audit.mcp.server":     json.RawMessage(`"github"`),
		},
	}, lr)
}

func TestClaudeCodeInterruptedToolAndActionsWithoutSpecifier(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startHooksReceiver(t, sink, nil)
	for _, p := range []string{
		`{"session_id":"s","hook_event_name":"PostToolUseFailure","tool_name":"Bash","tool_use_id":"t1","error":"Interrupted by user","is_interrupt":true}`,
		`{"session_id":"s","hook_event_name":"PermissionRequest","tool_name":"ExitPlanMode","tool_input":{"plan":"1. fix"}}`,
		`{"session_id":"s","hook_event_name":"PermissionRequest","tool_name":"Edit","tool_input":{"file_path":"/a/b.go","old_string":"x","new_string":"y"}}`,
	} {
		a := postHook(t, url, "application/json", []byte(p))
		require.Equal(t, http.StatusOK, a.code, a.body)
	}
	attr := func(i int, name string) string {
		lr := sink.AllLogs()[i].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		v, ok := lr.Attributes().Get(name)
		require.True(t, ok, name)
		return v.AsString()
	}
	assert.Equal(t, "interrupted", attr(0, "error.type"))
	assert.Equal(t, "failure", attr(0, "agent_audit.outcome"))
	assert.Equal(t, "ExitPlanMode", attr(1, "agent_audit.action"))
	assert.Equal(t, "Edit(/a/b.go)", attr(2, "agent_audit.action"))
}

func TestClaudeCodeMalformedPayloadsAreRefusedWithAReason(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startHooksReceiver(t, sink, func(c *Config) {
		c.ServerConfig.MaxRequestBodySize = 64 << 10
	})
	huge := `{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_response":{"stdout":"` +
		strings.Repeat("x", 70<<10) + `"}}`
	for _, tc := range []struct {
		name, contentType, body string
		code                    int
		want                    []auditrecord.Problem // nil: check errContains only
		errContains             string
	}{
		{name: "not JSON", body: `session_id=s`, code: 400,
			want: []auditrecord.Problem{{Reason: "malformed JSON at byte 1: invalid character 's' looking for beginning of value"}}},
		{name: "truncated", body: `{"session_id":"s",`, code: 400,
			want: []auditrecord.Problem{{Reason: "malformed JSON: unexpected end of input"}}},
		{name: "array", body: `[{"session_id":"s","hook_event_name":"Stop"}]`, code: 400,
			want: []auditrecord.Problem{{Reason: "a hook payload must be one JSON object, got an array"}}},
		{name: "two objects", body: `{"session_id":"s","hook_event_name":"Stop"}{}`, code: 400,
			want: []auditrecord.Problem{{Reason: "malformed JSON: data after the end of the payload object"}}},
		{name: "empty", body: ``, code: 400,
			want: []auditrecord.Problem{{Reason: "empty body: send one Claude Code hook payload (a JSON object)"}}},
		{name: "invalid UTF-8", body: "{\"session_id\":\"\xc3\x28\",\"hook_event_name\":\"Stop\"}", code: 400,
			want: []auditrecord.Problem{{Reason: "body is not valid UTF-8 (first bad byte at offset 15)"}}},
		{name: "missing hook_event_name", body: `{"session_id":"s"}`, code: 400,
			want: []auditrecord.Problem{{Field: "hook_event_name", Reason: "required field is missing"}}},
		{name: "empty hook_event_name", body: `{"session_id":"s","hook_event_name":" "}`, code: 400,
			want: []auditrecord.Problem{{Field: "hook_event_name", Reason: "required field is empty"}}},
		{name: "hook_event_name not a string", body: `{"session_id":"s","hook_event_name":7}`, code: 400,
			want: []auditrecord.Problem{{Field: "hook_event_name", Reason: "must be a string, got a number"}}},
		{name: "missing session_id and tool_name", body: `{"hook_event_name":"PreToolUse"}`, code: 400,
			want: []auditrecord.Problem{
				{Field: "session_id", Reason: "required field is missing"},
				{Field: "tool_name", Reason: "required field is missing"},
			}},
		{name: "wrong types", body: `{"session_id":42,"hook_event_name":"PostToolUseFailure","tool_name":["Bash"],"is_interrupt":"no","cwd":{}}`, code: 400,
			want: []auditrecord.Problem{
				{Field: "cwd", Reason: "must be a string, got an object"},
				{Field: "is_interrupt", Reason: "must be a boolean, got a string"},
				{Field: "session_id", Reason: "must be a string, got a number"},
				{Field: "tool_name", Reason: "must be a string, got an array"},
			}},
		{name: "empty session_id", body: `{"session_id":"","hook_event_name":"Stop"}`, code: 400,
			want: []auditrecord.Problem{{Field: "session_id", Reason: "required attribute is empty"}}},
		{name: "duplicate field", body: `{"session_id":"a","session_id":"b","hook_event_name":"Stop"}`, code: 400,
			want: []auditrecord.Problem{{Field: "session_id", Reason: "duplicate field"}}},
		{name: "tool_input too deep", body: `{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"a":` +
			strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, code: 400,
			want: []auditrecord.Problem{{Field: "tool_input.a" + strings.Repeat("[0]", 31), Reason: "nested deeper than 32 levels"}}},
		{name: "integer beyond int64 in an unmapped field", body: `{"session_id":"s","hook_event_name":"Stop","tokens":18446744073709551616}`, code: 400,
			want: []auditrecord.Problem{{Field: "tokens", Reason: "integer does not fit in a signed 64-bit integer"}}},
		{name: "huge tool output", body: huge, code: 413, errContains: "body larger than max_request_body_size (65536 bytes)"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `{"session_id":"s","hook_event_name":"Stop"}`, code: 415, errContains: "is not supported"},
		{name: "ndjson", contentType: "application/x-ndjson", body: `{"session_id":"s","hook_event_name":"Stop"}`, code: 415, errContains: "a hook payload is one JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			a := postHook(t, url, ct, []byte(tc.body))
			assert.Equal(t, tc.code, a.code, a.body)
			assert.Zero(t, a.resp.Accepted)
			if tc.want != nil {
				assert.Equal(t, "hook payload refused: nothing of it was recorded", a.resp.Error)
				assert.Equal(t, tc.want, a.resp.Problems)
			} else {
				assert.Contains(t, a.resp.Error, tc.errContains)
			}
		})
	}
	assert.Zero(t, sink.LogRecordCount(), "nothing of a refused payload may reach the pipeline")

	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestClaudeCodePipelineRefusalIsNotADecision(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"queue full", exporterhelper.ErrQueueIsFull, http.StatusTooManyRequests},
		{"memory limiter", errors.New("data refused due to high memory usage"), http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := consumer.NewLogs(func(context.Context, plog.Logs) error { return tc.err })
			require.NoError(t, err)
			url := startHooksReceiver(t, next, func(c *Config) { c.RetryAfter = 2 * time.Second })
			a := postHook(t, url, "application/json", []byte(`{"session_id":"s","hook_event_name":"Stop"}`))
			// Not 2xx: Claude Code treats it as a non-blocking error and goes on.
			assert.Equal(t, tc.code, a.code)
			assert.Equal(t, "2", a.retryAfter)
			assert.Contains(t, a.resp.Error, "pipeline refused the event")
		})
	}
}
