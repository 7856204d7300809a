package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// buildArchive writes an archive of n chained ~1 KB records over streams
// streams, in segments of 100, sealed by one checkpoint per 1,000 records,
// and returns its directory and trust file.
func buildArchive(tb testing.TB, n, streams int) (dir, trust string) {
	tb.Helper()
	dir = tb.TempDir()
	key, err := integrity.GenerateKey("ed25519")
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := integrity.NewKeySigner("bench", key)
	if err != nil {
		tb.Fatal(err)
	}
	trust = filepath.Join(dir, "trust.txt")
	if err := os.WriteFile(trust, integrity.TrustFileText("bench", signer.VerifierKey()), 0o644); err != nil {
		tb.Fatal(err)
	}
	root := filepath.Join(dir, "archive")
	write := func(key string, data []byte) {
		p := filepath.Join(root, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o444); err != nil {
			tb.Fatal(err)
		}
	}
	plain := func(event string, set func(lr plog.LogRecord)) []byte {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		sl := rl.ScopeLogs().AppendEmpty()
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(event)
		set(lr)
		return integrity.AppendLine(nil, nil, integrity.AppendCanonical(nil, rl, sl, lr))
	}
	const logID = "bench-host/1"
	write("bench-host/1/checkpoints/key-bench.ndjson", plain(integrity.EventKeyAnnouncement, func(lr plog.LogRecord) {
		lr.Attributes().PutStr("agent_audit.key.verifier_key", signer.VerifierKey())
		lr.Attributes().PutStr("agent_audit.key.algorithm", "ed25519")
	}))
	log := integrity.NewMerkleLog()
	heads := make([]integrity.ChainHeader, streams)
	segs := make([][]byte, streams)
	flush := func(s int) {
		if len(segs[s]) > 0 {
			write(archive.ChainedSegmentKey("bench-host", 1, fmt.Sprint("s", s), 0, heads[s].Seq, segs[s]), segs[s])
			segs[s] = nil
		}
	}
	for i := 0; i < n; i++ {
		s := i % streams
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		sl := rl.ScopeLogs().AppendEmpty()
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("agent_audit.tool.call")
		lr.SetTimestamp(1763900000000000000)
		lr.Attributes().PutStr("session.id", fmt.Sprint("s", s))
		lr.Attributes().PutStr("agent_audit.event.id", fmt.Sprint("evt-", i))
		lr.Attributes().PutStr("pad", strings.Repeat("x", 880))
		c := integrity.AppendCanonical(nil, rl, sl, lr)
		h := &heads[s]
		prev := integrity.Hash{}
		if h.Seq > 0 {
			prev = h.Link()
		}
		*h = integrity.ChainHeader{Digest: integrity.RecordDigest(c), Log: logID, Prev: prev, Seq: h.Seq + 1, Stream: fmt.Sprint("s", s)}
		h.Index = log.Append(h.Link())
		segs[s] = integrity.AppendLine(segs[s], h, c)
		if h.Seq%100 == 0 {
			flush(s)
		}
		if (i+1)%1000 == 0 || i == n-1 {
			note, err := integrity.SignCheckpoint(logID, log.Size(), log.Root(), signer)
			if err != nil {
				tb.Fatal(err)
			}
			write(fmt.Sprintf("bench-host/1/checkpoints/checkpoint-%020d.ndjson", log.Size()), plain(integrity.EventCheckpoint, func(lr plog.LogRecord) {
				lr.Body().SetStr(string(note))
			}))
		}
	}
	for s := range segs {
		flush(s)
	}
	return root, trust
}

func TestVerifyBuiltArchive(t *testing.T) {
	dir, trust := buildArchive(t, 2500, 7)
	tf, err := integrity.LoadTrustFile(trust)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(tf, false)
	if err := readDirForTest(v, dir); err != nil {
		t.Fatal(err)
	}
	v.finish()
	r := v.report(dir, trust)
	if !r.Verified || r.Logs[0].Size != 2500 || r.Checkpoints != 3 {
		t.Fatalf("report: verified=%v size=%d checkpoints=%d problems=%v %v", r.Verified, r.Logs[0].Size, r.Checkpoints, r.Problems, r.Logs[0].Problems)
	}
}

// BenchmarkVerify measures auditctl verify on one core, in MB of archive
// per second (b.SetBytes).
func BenchmarkVerify(b *testing.B) {
	dir, trust := buildArchive(b, 50_000, 20)
	tf, err := integrity.LoadTrustFile(trust)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		v := newVerifier(tf, false)
		if err := readDirForTest(v, dir); err != nil {
			b.Fatal(err)
		}
		v.finish()
		if r := v.report(dir, trust); !r.Verified {
			b.Fatalf("not verified: %v", r.Problems)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50_000, "ns/record")
}

func readDirForTest(v *verifier, dir string) error {
	r, err := archive.OpenDir(dir)
	if err != nil {
		return err
	}
	return v.readArchive(context.Background(), r, nil)
}
