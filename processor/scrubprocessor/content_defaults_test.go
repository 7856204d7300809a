package scrubprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// The content defaults cover what the ingestion paths carry raw: the body of
// agent_audit.source.unmapped (docs/schema.md, "Unmapped events: the
// convention") and the agents' own prompt and output attributes, which stay
// on a record the agentnormalize processor cannot map.

func canonicalDigest(t *testing.T, v pcommon.Value) string {
	t.Helper()
	return "[HMAC:content:k1:" + hmacHex(testKey(t), string(integrity.AppendCanonicalValue(nil, v))) + "]"
}

func TestDefaultContentDigestsUnmappedSourceBody(t *testing.T) {
	p, sink, tel := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.source.unmapped")
	lr.Attributes().PutStr("agent_audit.source.event", "TeammateIdle")
	lr.Attributes().PutStr("agent_audit.unmapped", "unknown_event")
	lr.Attributes().PutStr("agent_audit.unmapped_detail", "no mapping for Claude Code hook event TeammateIdle")
	// A hook payload as sent: whatever a newer agent puts in it, prompts included.
	payload := lr.Body().SetEmptyMap()
	payload.PutStr("hook_event_name", "TeammateIdle")
	payload.PutStr("teammate_message", "Summarize the incident report for the board")
	want := canonicalDigest(t, lr.Body())

	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, want, out.Body().Str(), "the raw payload in the body is content")
	assert.Equal(t, map[string]any{
		"session.id":                  "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830",
		"agent_audit.source.event":    "TeammateIdle",
		"agent_audit.unmapped":        "unknown_event",
		"agent_audit.unmapped_detail": "no mapping for Claude Code hook event TeammateIdle",
	}, out.Attributes().AsRaw(), "the convention's attributes say what the record is and stay readable")
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_content_digested"))
}

func TestDefaultContentDigestsAgentPromptAttribute(t *testing.T) {
	const prompt = "The parser tests fail on empty input. Fix it and run go test ./pkg/parser/..."
	p, sink, _ := newScrub(t, nil)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	// Claude Code's user_prompt the normalizer could not map...
	unmapped := lrs.AppendEmpty()
	unmapped.SetEventName("agent_audit.source.unmapped")
	unmapped.Attributes().PutStr("agent_audit.source.event", "claude_code.user_prompt")
	unmapped.Attributes().PutStr("prompt", prompt)
	unmapped.Body().SetStr("claude_code.user_prompt")
	// ...and one that reached the pipeline without a normalizer.
	raw := lrs.AppendEmpty()
	raw.Attributes().PutStr("event.name", "user_prompt")
	raw.Attributes().PutStr("prompt", prompt)
	raw.Body().SetStr("claude_code.user_prompt")

	out := consume(t, p, sink, ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	want := "[HMAC:content:k1:" + hmacHex(testKey(t), prompt) + "]"
	for i := range 2 {
		assert.Equal(t, want, mustGet(out.At(i).Attributes(), "prompt").Str(), "record %d", i)
	}
	assert.Equal(t, "user_prompt", mustGet(out.At(1).Attributes(), "event.name").Str())
}

func TestDefaultContentDigestsAgentOutputAttribute(t *testing.T) {
	const output = "running 12 tests\ntest result: ok. 12 passed; 0 failed"
	p, sink, _ := newScrub(t, nil)
	// Codex's tool_result the normalizer could not map (say, no tool_name).
	ld, lr := oneRecord("agent_audit.source.unmapped")
	lr.Attributes().PutStr("agent_audit.source.event", "codex.tool_result")
	lr.Attributes().PutStr("agent_audit.unmapped", "missing_attribute")
	lr.Attributes().PutStr("output", output)
	lr.Attributes().PutStr("call_id", "call_Q7mZ2xK9pL4vN8rT1wY6bH3d")

	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, "[HMAC:content:k1:"+hmacHex(testKey(t), output)+"]", mustGet(out.Attributes(), "output").Str())
	assert.Equal(t, "call_Q7mZ2xK9pL4vN8rT1wY6bH3d", mustGet(out.Attributes(), "call_id").Str())
}

func TestDefaultContentDigestsCompactInstructions(t *testing.T) {
	const instructions = "Keep the list of failing tests and the customer's name"
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.agent.compact")
	lr.Attributes().PutStr("agent_audit.compact.trigger", "manual")
	lr.Attributes().PutStr("agent_audit.compact.instructions", instructions)

	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, "[HMAC:content:k1:"+hmacHex(testKey(t), instructions)+"]",
		mustGet(out.Attributes(), "agent_audit.compact.instructions").Str())
	assert.Equal(t, "manual", mustGet(out.Attributes(), "agent_audit.compact.trigger").Str())
}

func TestUnmappedSourceBodyKeptRawWhereConfigured(t *testing.T) {
	p, sink, _ := newScrub(t, func(c *Config) { c.Content.KeepRawEvents = []string{"agent_audit.source.unmapped"} })
	ld, lr := oneRecord("agent_audit.source.unmapped")
	lr.Attributes().PutStr("agent_audit.source.event", "TeammateIdle")
	lr.Body().SetStr("export PGPASSWORD=" + dbPassword)
	out := firstRecord(consume(t, p, sink, ld))
	require.Equal(t, pcommon.ValueTypeStr, out.Body().Type())
	assert.Equal(t, "export PGPASSWORD=[REDACTED:password_assignment]", out.Body().Str(), "raw content is still scrubbed")
}
