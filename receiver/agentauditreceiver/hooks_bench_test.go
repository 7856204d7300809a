package agentauditreceiver

import (
	"os"
	"testing"
)

// BenchmarkClaudeCodeHook is the hook endpoint's own work for one
// documented PreToolUse payload: decoding, mapping and the schema check
// (the HTTP server and the pipeline are measured end to end elsewhere).
func BenchmarkClaudeCodeHook(b *testing.B) {
	body, err := os.ReadFile("testdata/claudecode-hooks/PreToolUse.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, problems := translateClaudeCodeHook(body); len(problems) > 0 {
			b.Fatal(problems)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
