package genaiconnector

import (
	"context"
	"os"
	"testing"

	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector/internal/metadata"
)

// BenchmarkGenAISpans converts the documented agent trace (invoke_agent,
// chat and execute_tool spans with their events) through the factory as
// the collector builds it; the connector does not change its input, so
// the same traces are converted every iteration.
func BenchmarkGenAISpans(b *testing.B) {
	raw, err := os.ReadFile("testdata/agent_trace.json")
	if err != nil {
		b.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	if err != nil {
		b.Fatal(err)
	}
	sink := new(consumertest.LogsSink)
	c, err := NewFactory().CreateTracesToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type),
		createDefaultConfig(), sink)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.ConsumeTraces(context.Background(), td); err != nil {
			b.Fatal(err)
		}
		sink.Reset()
	}
	b.ReportMetric(float64(b.N)*float64(td.SpanCount())/b.Elapsed().Seconds(), "spans/s")
}
