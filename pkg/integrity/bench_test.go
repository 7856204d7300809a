package integrity

import (
	"crypto/sha256"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// benchRecord is an audit record like the receiver produces whose
// canonical form is 1 KB.
func benchRecord() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord")
	sl.Scope().Attributes().PutStr("agent_audit.schema.version", "1.0.0")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(1763900000123456789)
	lr.SetObservedTimestamp(1763900000200000000)
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("INFO")
	lr.SetEventName("agent_audit.tool.call")
	a := lr.Attributes()
	a.PutStr("session.id", "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830")
	a.PutStr("agent_audit.event.id", "0b8e2c1d-6f3a-4d5e-9b7c-2a1f8e4d6c30")
	a.PutStr("gen_ai.agent.name", "claude-code")
	a.PutStr("gen_ai.tool.name", "Bash")
	a.PutStr("gen_ai.tool.call.id", "toolu_01D7FLrfh4GYq7yT1ULFeyMV")
	args := a.PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutStr("command", "go test ./pkg/parser/...")
	args.PutInt("timeout", 120000)
	a.PutInt("agent_audit.risk_score", 10)
	a.PutStr("pad", strings.Repeat("x", 312)) // canonical form: 1,024 bytes
	return ld
}

// BenchmarkChainRecord is the chain processor's work per ~1 KB record:
// canonical form, record digest, link, Merkle leaf append.
func BenchmarkChainRecord(b *testing.B) {
	ld := benchRecord()
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	lr := sl.LogRecords().At(0)
	log := NewMerkleLog()
	var prev Hash
	buf := make([]byte, 0, 4096)
	buf = AppendCanonical(buf, rl, sl, lr)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		buf = AppendCanonical(buf[:0], rl, sl, lr)
		digest := RecordDigest(buf)
		seq++
		prev = Link("host-1/1", "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830", seq, prev, digest)
		log.Append(prev)
	}
}

// BenchmarkCanonical is the canonical form alone.
func BenchmarkCanonical(b *testing.B) {
	ld := benchRecord()
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	lr := sl.LogRecords().At(0)
	buf := AppendCanonical(nil, rl, sl, lr)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCanonical(buf[:0], rl, sl, lr)
	}
}

// BenchmarkSHA256 is the floor: hashing the same bytes.
func BenchmarkSHA256(b *testing.B) {
	ld := benchRecord()
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	buf := AppendCanonical(nil, rl, sl, sl.LogRecords().At(0))
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sha256.Sum256(buf)
	}
}
