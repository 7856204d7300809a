package siem

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// BenchmarkOTLPJSONBaseline is the yardstick for the formatters: the same
// tool-call record as BenchmarkCEF, ECS and LEEF, encoded as OTLP/JSON by
// pdata's own marshaler (what a stock collector's file or debug output
// costs per record).
func BenchmarkOTLPJSONBaseline(b *testing.B) {
	res, lr := toolCall()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res.CopyTo(rl.Resource())
	lr.CopyTo(rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	var m plog.JSONMarshaler
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := m.MarshalLogs(ld)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(int64(n))
}
