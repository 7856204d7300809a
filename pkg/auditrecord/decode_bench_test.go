package auditrecord

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkDecode measures the native decoder alone on batches of 100
// events of about 1 KB, as the end-to-end benchmark sends them.
func BenchmarkDecode(b *testing.B) {
	var body bytes.Buffer
	for i := range 100 {
		fmt.Fprintf(&body, `{"event_name":"agent_audit.tool.call","time":"2026-11-23T10:00:00.000000001Z",`+
			`"attributes":{"session.id":"sess-%d","agent_audit.event.id":"bench-%06d","gen_ai.tool.name":"Bash",`+
			`"gen_ai.tool.call.arguments":{"command":"ls -la /home/alice/project"},"pad":%q}}`+"\n",
			i%50, i, strings.Repeat("x", 790))
	}
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body.Bytes(), FormatNDJSON, DefaultLimits, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100)/1000, "µs/event")
}
