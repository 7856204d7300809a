package agentnormalizeprocessor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadatatest"
)

const (
	claudeSession = "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830"
	codexConv     = "0199a3c4-5e7f-7a81-b2c3-d4e5f6a7b8c9"
)

// mapped splits a record's attributes into the schema's and the originals
// kept under the default prefix.
func mapped(lr plog.LogRecord) (schema, orig map[string]any) {
	schema, orig = map[string]any{}, map[string]any{}
	for k, v := range lr.Attributes().AsRaw() {
		if rest, ok := strings.CutPrefix(k, defaultOriginalPrefix); ok {
			orig[rest] = v
		} else {
			schema[k] = v
		}
	}
	return schema, orig
}

func ts(s string) pcommon.Timestamp {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return pcommon.NewTimestampFromTime(t)
}

func one(t *testing.T, recs map[string][]plog.LogRecord, name string) plog.LogRecord {
	t.Helper()
	require.Len(t, recs[name], 1, name)
	return recs[name][0]
}

func TestClaudeCodeEventsBecomeAuditEvents(t *testing.T) {
	out, tel := run(t, defaultConfig(), loadFixture(t, "claude_code.json"))
	recs := records(out)
	common := func(m map[string]any) map[string]any {
		m["session.id"] = claudeSession
		m["gen_ai.agent.name"] = "claude-code"
		m["user.id"] = "alice@example.com"
		return m
	}

	lr := one(t, recs, "agent_audit.prompt")
	s, orig := mapped(lr)
	assert.Equal(t, common(map[string]any{"agent_audit.prompt.length": int64(77)}), s)
	assert.Equal(t, "The parser tests fail on empty input. Fix it and run go test ./pkg/parser/...", lr.Body().Str())
	assert.NotContains(t, orig, "prompt", "the prompt text lives only in the body, where the scrub processor digests it")
	assert.Equal(t, "user_prompt", orig["event.name"])
	assert.Equal(t, "claude_code.user_prompt", orig["body"])
	assert.Equal(t, ts("2026-03-14T09:12:41.007Z"), lr.Timestamp())
	assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	assert.Equal(t, "INFO", lr.SeverityText())

	lr = one(t, recs, "agent_audit.model.response")
	s, orig = mapped(lr)
	assert.Equal(t, common(map[string]any{
		"gen_ai.request.model": "claude-sonnet-4-5-20250929", "gen_ai.provider.name": "anthropic",
		"gen_ai.usage.input_tokens": int64(12873), "gen_ai.usage.output_tokens": int64(412),
		"gen_ai.usage.cache_read.input_tokens": int64(10240), "gen_ai.usage.cache_creation.input_tokens": int64(1893),
		"agent_audit.duration_ms": int64(3921),
	}), s)
	assert.Equal(t, "0.0452", orig["cost_usd"], "what the schema has no place for stays under the prefix")
	assert.Equal(t, ts("2026-03-14T09:12:45.136Z"), lr.Timestamp(), "no timeUnixNano: event.timestamp gives the time")
	assert.Equal(t, pcommon.ValueTypeEmpty, lr.Body().Type())

	lr = one(t, recs, "agent_audit.permission.decision")
	s, _ = mapped(lr)
	assert.Equal(t, common(map[string]any{
		"gen_ai.tool.name": "Bash", "gen_ai.tool.call.id": "toolu_01Tz5KcFhW9mB3yRdN7qLsVe",
		"agent_audit.action": "Bash(rm -rf build)", "agent_audit.decision": "allow",
		"agent_audit.decision.source": "user", "agent_audit.approver.id": "alice@example.com",
	}), s)

	lr = one(t, recs, "agent_audit.tool.result")
	s, _ = mapped(lr)
	assert.Equal(t, common(map[string]any{
		"gen_ai.tool.name": "Bash", "gen_ai.tool.call.id": "toolu_01Tz5KcFhW9mB3yRdN7qLsVe",
		"agent_audit.outcome": "failure", "agent_audit.duration_ms": int64(2210),
		"error.type": "ShellError", "exception.message": "Exit code 1: rm: cannot remove 'build/cache': Permission denied",
		"gen_ai.tool.call.arguments": `{"command": "rm -rf build", "description": "Remove build output"}`,
	}), s)

	lr = one(t, recs, "agent_audit.error")
	s, _ = mapped(lr)
	assert.Equal(t, common(map[string]any{
		"gen_ai.request.model": "claude-sonnet-4-5-20250929", "gen_ai.provider.name": "anthropic",
		"error.type": "529", "http.response.status_code": int64(529),
		"exception.message": `API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
	}), s)
	assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber())
	assert.Equal(t, "ERROR", lr.SeverityText())

	// All five moved to one scope that states the schema version; the
	// agent's scope is kept under the prefix, the emptied one is gone.
	require.Equal(t, 1, out.ResourceLogs().At(0).ScopeLogs().Len())
	sc := out.ResourceLogs().At(0).ScopeLogs().At(0).Scope()
	assert.Equal(t, auditrecord.ScopeName, sc.Name())
	assert.Equal(t, map[string]any{
		auditrecord.AttrSchemaVersion:      auditrecord.SchemaVersion,
		"agent_audit.source.scope.name":    "com.anthropic.claude_code.events",
		"agent_audit.source.scope.version": "2.1.158",
	}, sc.Attributes().AsRaw())

	metadatatest.AssertEqualProcessorAgentnormalizeRecordsNormalized(t, tel, []metricdata.DataPoint[int64]{
		dp("source", "claude_code", "event", "agent_audit.prompt"),
		dp("source", "claude_code", "event", "agent_audit.model.response"),
		dp("source", "claude_code", "event", "agent_audit.permission.decision"),
		dp("source", "claude_code", "event", "agent_audit.tool.result"),
		dp("source", "claude_code", "event", "agent_audit.error"),
	}, metricdatatest.IgnoreTimestamp())
}

func dp(kv ...string) metricdata.DataPoint[int64] {
	var attrs []attribute.KeyValue
	for i := 0; i < len(kv); i += 2 {
		attrs = append(attrs, attribute.String(kv[i], kv[i+1]))
	}
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attrs...), Value: 1}
}

func TestCodexEventsBecomeAuditEvents(t *testing.T) {
	out, _ := run(t, defaultConfig(), loadFixture(t, "codex.json"))
	recs := records(out)
	common := func(m map[string]any) map[string]any {
		m["session.id"] = codexConv
		m["gen_ai.conversation.id"] = codexConv
		m["gen_ai.agent.name"] = "codex"
		m["user.id"] = "bob@example.com"
		return m
	}

	s, _ := mapped(one(t, recs, "agent_audit.session.start"))
	assert.Equal(t, common(map[string]any{
		"gen_ai.request.model": "gpt-5-codex", "gen_ai.provider.name": "OpenAI", "agent_audit.permission_mode": "on-request",
	}), s)

	lr := one(t, recs, "agent_audit.prompt")
	s, orig := mapped(lr)
	assert.Equal(t, common(map[string]any{"agent_audit.prompt.length": int64(42)}), s)
	assert.Equal(t, pcommon.ValueTypeEmpty, lr.Body().Type(), "the redaction placeholder is not the prompt")
	assert.Equal(t, "[REDACTED]", orig["prompt"])

	require.Len(t, recs["agent_audit.model.request"], 2)
	byAttempt := map[int64]map[string]any{}
	for _, lr := range recs["agent_audit.model.request"] {
		s, orig := mapped(lr)
		byAttempt[orig["attempt"].(int64)] = s
	}
	assert.Equal(t, common(map[string]any{
		"gen_ai.request.model": "gpt-5-codex", "http.response.status_code": int64(200), "agent_audit.outcome": "success",
	}), byAttempt[1])
	assert.Equal(t, common(map[string]any{
		"gen_ai.request.model": "gpt-5-codex", "http.response.status_code": int64(503), "agent_audit.outcome": "failure",
		"exception.message": "http 503 Service Unavailable",
	}), byAttempt[2])

	s, _ = mapped(one(t, recs, "agent_audit.model.response"))
	assert.Equal(t, common(map[string]any{
		"gen_ai.request.model": "gpt-5-codex", "gen_ai.usage.input_tokens": int64(9314), "gen_ai.usage.output_tokens": int64(387),
		"gen_ai.usage.cache_read.input_tokens": int64(8064), "agent_audit.duration_ms": int64(6739),
	}), s)

	s, _ = mapped(one(t, recs, "agent_audit.permission.decision"))
	assert.Equal(t, common(map[string]any{
		"gen_ai.tool.name": "shell", "agent_audit.action": "shell", "gen_ai.tool.call.id": "call_Q7mZ2xK9pL4vN8rT1wY6bH3d",
		"agent_audit.decision": "allow", "agent_audit.decision.source": "user", "agent_audit.approver.id": "bob@example.com",
	}), s)

	s, orig = mapped(one(t, recs, "agent_audit.tool.result"))
	assert.Equal(t, common(map[string]any{
		"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Q7mZ2xK9pL4vN8rT1wY6bH3d", "agent_audit.outcome": "success",
		"agent_audit.duration_ms":    int64(2193),
		"gen_ai.tool.call.arguments": `{"command": ["bash", "-lc", "cargo test -p parser"], "workdir": "/home/bob/project", "timeout_ms": 120000}`,
		"gen_ai.tool.call.result":    "running 12 tests\ntest result: ok. 12 passed; 0 failed",
	}), s)
	assert.NotContains(t, orig, "output", "tool output lives only in gen_ai.tool.call.result")

	// A stream event that is no audit event is recorded as unmapped.
	lr = one(t, recs, UnmappedEvent)
	assert.Equal(t, "codex.sse_event", attr(lr, AttrSourceEvent))
	assert.Equal(t, "unknown_event", attr(lr, AttrUnmapped))
	assert.Equal(t, `no mapping for codex.sse_event of kind "response.created" (only response.completed and failures are audit events)`,
		attr(lr, AttrUnmappedDetail))
	assert.Equal(t, "response.created", attr(lr, "event.kind"), "original attributes stay unprefixed")
}

func attr(lr plog.LogRecord, k string) string {
	v, _ := lr.Attributes().Get(k)
	return v.AsString()
}

func TestFixturesMatchExpectedRecords(t *testing.T) {
	for _, f := range []string{"claude_code.json", "codex.json", "malformed.json"} {
		t.Run(f, func(t *testing.T) {
			out, _ := run(t, defaultConfig(), loadFixture(t, f))
			got := canonicalLines(out)
			assert.Equal(t, expectedLines(t, f, got), got)
		})
	}
}

func TestMalformedAndUnexpectedPayloadsAreRecordedUnmapped(t *testing.T) {
	in := loadFixture(t, "malformed.json")
	n := in.LogRecordCount()
	orig := plog.NewLogs()
	in.CopyTo(orig)
	out, tel := run(t, defaultConfig(), in)
	require.Equal(t, n, out.LogRecordCount(), "nothing is dropped")
	want := []struct{ event, code, detail string }{
		{"claude_code.telemetry_ping", "unknown_event", "no mapping for Claude Code event claude_code.telemetry_ping"},
		{"claude_code.tool_result", "missing_attribute", "required attribute session.id is missing or empty"},
		{"claude_code.tool_result", "wrong_type", `attribute success: expected true or false, got "yes"`},
		{"claude_code.user_prompt", "wrong_type", "attribute prompt_length: expected an integer, got a map"},
		{"claude_code.tool_decision", "invalid_value", `attribute decision: unknown value "maybe" (expected accept, reject)`},
		{"claude_code.api_request", "missing_attribute", "required attribute model is missing or empty"},
		{"codex.tool_decision", "wrong_type", "attribute source: expected a string, got an integer"},
		{"codex.websocket_event", "unknown_event", "no mapping for Codex event codex.websocket_event"},
		{"codex.user_prompt", "missing_attribute", "required attribute conversation.id is missing or empty"},
	}
	lrs := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, len(want), lrs.Len())
	origs := orig.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i, w := range want {
		lr := lrs.At(i)
		assert.Equal(t, UnmappedEvent, lr.EventName(), "record %d", i)
		assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber(), "record %d", i)
		assert.Equal(t, "INFO", lr.SeverityText(), "record %d", i)
		assert.Equal(t, w.event, attr(lr, AttrSourceEvent), "record %d", i)
		assert.Equal(t, w.code, attr(lr, AttrUnmapped), "record %d", i)
		assert.Equal(t, w.detail, attr(lr, AttrUnmappedDetail), "record %d", i)
		// The original attributes stay as sent, unprefixed, beside the
		// three of the convention; so do the body and the time stamps.
		o := origs.At(i)
		for _, k := range []string{AttrSourceEvent, AttrUnmapped, AttrUnmappedDetail} {
			lr.Attributes().Remove(k)
		}
		assert.Equal(t, o.Attributes().AsRaw(), lr.Attributes().AsRaw(), "record %d", i)
		assert.Equal(t, o.Body().AsRaw(), lr.Body().AsRaw(), "record %d", i)
		assert.Equal(t, o.Timestamp(), lr.Timestamp(), "record %d", i)
	}
	assert.Equal(t, "fixtures", out.ResourceLogs().At(0).ScopeLogs().At(0).Scope().Name(),
		"unmapped records stay in the agent's scope: they are not checked against the schema")
	metadatatest.AssertEqualProcessorAgentnormalizeRecordsUnmapped(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("source", "claude_code"), attribute.String("reason", "unknown_event")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("source", "claude_code"), attribute.String("reason", "missing_attribute")), Value: 2},
		{Attributes: attribute.NewSet(attribute.String("source", "claude_code"), attribute.String("reason", "wrong_type")), Value: 2},
		{Attributes: attribute.NewSet(attribute.String("source", "claude_code"), attribute.String("reason", "invalid_value")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("source", "codex"), attribute.String("reason", "wrong_type")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("source", "codex"), attribute.String("reason", "unknown_event")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("source", "codex"), attribute.String("reason", "missing_attribute")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestKeepOriginalDrop(t *testing.T) {
	cfg := defaultConfig()
	cfg.KeepOriginal = KeepDrop
	out, _ := run(t, cfg, loadFixture(t, "claude_code.json"))
	for _, lrs := range records(out) {
		for _, lr := range lrs {
			for k := range lr.Attributes().All() {
				assert.False(t, strings.HasPrefix(k, defaultOriginalPrefix), k)
			}
		}
	}
	sc := out.ResourceLogs().At(0).ScopeLogs().At(0).Scope()
	assert.Equal(t, map[string]any{auditrecord.AttrSchemaVersion: auditrecord.SchemaVersion}, sc.Attributes().AsRaw())
}

func TestOtherRecordsPassUnchanged(t *testing.T) {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	native := sl.LogRecords().AppendEmpty()
	native.SetEventName("agent_audit.prompt")
	native.Attributes().PutStr("session.id", "s")
	native.Body().SetStr("codex.foo is broken, fix it") // a prompt, not an event name
	plain := sl.LogRecords().AppendEmpty()
	plain.Body().SetStr("GET /healthz 200")
	lookalike := sl.LogRecords().AppendEmpty()
	lookalike.Body().SetStr("codex.sse_event and more words")
	chained := sl.LogRecords().AppendEmpty()
	chained.Attributes().PutStr("event.name", "codex.user_prompt")
	chained.Attributes().PutStr("audit.stream.id", "s")
	want := plog.NewLogs()
	ld.CopyTo(want)

	out, _ := run(t, defaultConfig(), ld)
	assert.Equal(t, want, out)
}

func TestDisabledSourcePassesUnchanged(t *testing.T) {
	cfg := defaultConfig()
	cfg.Sources = []string{SourceClaudeCode}
	in := loadFixture(t, "codex.json")
	want := plog.NewLogs()
	in.CopyTo(want)
	out, _ := run(t, cfg, in)
	assert.Equal(t, want, out)
}

func TestClaudeScopeIdentifiesUnprefixedEventName(t *testing.T) {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName("com.anthropic.claude_code.events")
	lr := sl.LogRecords().AppendEmpty()
	lr.Attributes().PutStr("event.name", "user_prompt")
	lr.Attributes().PutStr("session.id", "s-1")
	lr.Attributes().PutInt("prompt_length", 3)
	lr.Attributes().PutStr("event.timestamp", "not a time")
	out, _ := run(t, defaultConfig(), ld)
	got := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, UnmappedEvent, got.EventName())
	assert.Equal(t, "claude_code.user_prompt", attr(got, AttrSourceEvent))
	assert.Equal(t, "invalid_value", attr(got, AttrUnmapped))
	assert.Equal(t, `attribute event.timestamp: expected an RFC 3339 time stamp, got "not a time"`, attr(got, AttrUnmappedDetail))
}

func TestUnmappedRecordKeepsEverythingTheAgentSent(t *testing.T) {
	for _, keep := range []KeepOriginal{KeepPrefix, KeepDrop} {
		t.Run(string(keep), func(t *testing.T) {
			ld := plog.NewLogs()
			sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
			sl.Scope().SetName("codex_otel")
			lr := sl.LogRecords().AppendEmpty()
			// Codex's tracing bridge: a code location in EventName.
			lr.SetEventName("codex_otel::otel_event_manager")
			lr.SetSeverityNumber(plog.SeverityNumberDebug)
			lr.Attributes().PutStr("event.name", "codex.websocket_request")
			lr.Attributes().PutStr("conversation.id", codexConv)
			lr.Attributes().PutStr("prompt", "raw text the agent sent")
			lr.Body().SetStr("websocket request")
			cfg := defaultConfig()
			cfg.KeepOriginal = keep
			out, _ := run(t, cfg, ld)
			got := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			assert.Equal(t, UnmappedEvent, got.EventName())
			assert.Equal(t, plog.SeverityNumberInfo, got.SeverityNumber())
			assert.Equal(t, map[string]any{
				"event.name":                    "codex.websocket_request",
				"conversation.id":               codexConv,
				"prompt":                        "raw text the agent sent",
				"agent_audit.source.event":      "codex.websocket_request",
				"agent_audit.source.event_name": "codex_otel::otel_event_manager",
				"agent_audit.unmapped":          "unknown_event",
				"agent_audit.unmapped_detail":   "no mapping for Codex event codex.websocket_request",
			}, got.Attributes().AsRaw())
			assert.Equal(t, "websocket request", got.Body().Str())

			// A second collector leaves the record as it is.
			again := plog.NewLogs()
			out.CopyTo(again)
			twice, _ := run(t, cfg, again)
			assert.Equal(t, out, twice)
		})
	}
}

func TestEveryMappedRecordIsValidUnderTheSchema(t *testing.T) {
	for _, f := range []string{"claude_code.json", "codex.json"} {
		out, _ := run(t, defaultConfig(), loadFixture(t, f))
		for name, lrs := range records(out) {
			if !strings.HasPrefix(name, "agent_audit.") || name == UnmappedEvent {
				continue // not mapped: checked by the unmapped tests
			}
			for _, lr := range lrs {
				s, _ := mapped(lr)
				m := pcommon.NewMap()
				require.NoError(t, m.FromRaw(s))
				assert.Nil(t, validate(name, m), "%s from %s", name, f)
				// The receiver's decoder is the schema's reference: the
				// mapped event, sent natively, must be accepted.
				ev := map[string]any{"event_name": name, "attributes": s}
				if lr.Body().Type() == pcommon.ValueTypeStr {
					ev["body"] = lr.Body().Str()
				}
				raw, err := json.Marshal(ev)
				require.NoError(t, err)
				_, err = auditrecord.Decode(raw, auditrecord.FormatJSON, auditrecord.DefaultLimits, time.Now())
				assert.NoError(t, err, "%s from %s", name, f)
			}
		}
	}
}
