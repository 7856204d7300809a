package agentnormalizeprocessor

import (
	"context"
	"os"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadata"
)

// BenchmarkNormalize runs the processor over Claude Code's and Codex's
// documented events (the e2e fixtures), through the factory as the
// collector builds it. Each iteration normalizes a fresh copy (the
// processor changes records in place); BenchmarkNormalizeCopyOnly is that
// copy alone, to subtract.
func BenchmarkNormalize(b *testing.B) {
	for _, fixture := range []string{"claude_code", "codex"} {
		b.Run(fixture, func(b *testing.B) {
			ld := benchLogs(b, fixture)
			p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type),
				createDefaultConfig(), consumertest.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c := plog.NewLogs()
				ld.CopyTo(c)
				if err := p.ConsumeLogs(context.Background(), c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(ld.LogRecordCount())/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkNormalizeCopyOnly(b *testing.B) {
	ld := benchLogs(b, "claude_code")
	b.ReportAllocs()
	for b.Loop() {
		c := plog.NewLogs()
		ld.CopyTo(c)
	}
	b.ReportMetric(float64(b.N)*float64(ld.LogRecordCount())/b.Elapsed().Seconds(), "records/s")
}

func benchLogs(b *testing.B, fixture string) plog.Logs {
	raw, err := os.ReadFile("testdata/" + fixture + ".json")
	if err != nil {
		b.Fatal(err)
	}
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	if err != nil {
		b.Fatal(err)
	}
	return ld
}
