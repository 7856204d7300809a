package agentnormalizeprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func reviewClaudePrompt(extra map[string]any) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName("com.anthropic.claude_code.events")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("claude_code.user_prompt")
	lr.Body().SetStr("claude_code.user_prompt")
	lr.Attributes().PutStr("event.name", "user_prompt")
	lr.Attributes().PutStr("session.id", "s-1")
	lr.Attributes().PutInt("prompt_length", 5)
	for k, v := range extra {
		_ = lr.Attributes().PutEmpty(k).FromRaw(v)
	}
	return ld
}

func reviewOnly(t *testing.T, ld plog.Logs) plog.LogRecord {
	t.Helper()
	require.Equal(t, 1, ld.LogRecordCount())
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				return lr
			}
		}
	}
	return plog.LogRecord{}
}

// Original attributes named like the keys the processor writes under the
// prefix for the body and the EventName ("body", "event_name") must not be
// overwritten by them: both values are what the agent sent.
func TestReviewOriginalAttributesDoNotCollideWithBodyAndEventName(t *testing.T) {
	out, _ := run(t, defaultConfig(), reviewClaudePrompt(map[string]any{
		"body": "attribute named body", "event_name": "attribute named event_name",
	}))
	lr := reviewOnly(t, out)
	require.Equal(t, "agent_audit.prompt", lr.EventName())
	var values []any
	for _, v := range lr.Attributes().All() {
		values = append(values, v.AsRaw())
	}
	assert.Contains(t, values, "attribute named body")
	assert.Contains(t, values, "attribute named event_name")
	assert.Contains(t, values, "claude_code.user_prompt") // the body and the EventName
}

// An original attribute "event" would become agent_audit.source.event, a
// common attribute of the schema (the event's name at its source, a
// string): the record would misstate its source, or fail the schema's type
// check. Like the genai connector, such an original moves one level down.
func TestReviewOriginalAttributeDoesNotPassForSchemaAttribute(t *testing.T) {
	out, _ := run(t, defaultConfig(), reviewClaudePrompt(map[string]any{"event": int64(7)}))
	lr := reviewOnly(t, out)
	require.Equal(t, "agent_audit.prompt", lr.EventName())
	_, clash := lr.Attributes().Get("agent_audit.source.event")
	assert.False(t, clash, "agent_audit.source.event is the schema's, not the agent's \"event\": %v", lr.Attributes().AsRaw())
	v, ok := lr.Attributes().Get("agent_audit.source.attributes.event")
	require.True(t, ok, "%v", lr.Attributes().AsRaw())
	assert.Equal(t, pcommon.ValueTypeInt, v.Type())
	assert.Equal(t, int64(7), v.Int())
}
