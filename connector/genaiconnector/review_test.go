package genaiconnector

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func reviewSpan(td ptrace.Traces, name, op string) ptrace.Span {
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName(name)
	span.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	span.SetStartTimestamp(1773480000000000000)
	span.SetEndTimestamp(1773480001500000000)
	span.Attributes().PutStr("gen_ai.operation.name", op)
	return span
}

// agent_audit.source.event is a required string of agent_audit.source.unmapped:
// a span (or span event) without a name must still give a record the schema
// accepts, not one whose required attribute is empty.
func TestReviewUnnamedSpanAndEventGiveValidUnmappedRecords(t *testing.T) {
	td := ptrace.NewTraces()
	reviewSpan(td, "", "create_agent")
	tool := reviewSpan(td, "execute_tool Bash", "execute_tool")
	tool.SetSpanID(pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9})
	tool.Attributes().PutStr("gen_ai.tool.name", "Bash")
	tool.Events().AppendEmpty().SetTimestamp(1773480000500000000) // no name
	ld, _ := convertWith(t, defaultCfg(), td)
	n := 0
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				checkGenAIRecord(t, lr, defaultCfg())
				if lr.EventName() == unmappedEvent {
					n++
					v, ok := lr.Attributes().Get(sourceEventAttr)
					require.True(t, ok)
					assert.NotEmpty(t, strings.TrimSpace(v.Str()))
				}
			}
		}
	}
	assert.Equal(t, 2, n, "one unmapped span, one unmapped span event")
}

// The span's duration is end minus start, in milliseconds.
func TestReviewDurationInMilliseconds(t *testing.T) {
	td := ptrace.NewTraces()
	s := reviewSpan(td, "execute_tool Bash", "execute_tool")
	s.Attributes().PutStr("gen_ai.tool.name", "Bash")
	ld, _ := convertWith(t, defaultCfg(), td)
	var end plog.LogRecord
	for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		if lr.EventName() == "agent_audit.tool.result" {
			end = lr
		}
	}
	assert.Equal(t, int64(1500), attr(t, end, "agent_audit.duration_ms"))
	assert.Equal(t, s.EndTimestamp(), end.Timestamp())
	assert.Equal(t, s.TraceID(), end.TraceID())
	assert.Equal(t, s.SpanID(), end.SpanID())
}
