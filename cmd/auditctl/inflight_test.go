package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// testChain chains records the way the chain processor does, keeping each
// one's archive line, so a test can leave lines out and add notices.
type testChain struct {
	t       *testing.T
	logID   string
	log     *integrity.MerkleLog
	heads   map[string]integrity.ChainHeader
	headers []integrity.ChainHeader
	lines   [][]byte
	signer  integrity.Signer
}

func newTestChain(t *testing.T) *testChain {
	t.Helper()
	key, err := integrity.GenerateKey("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := integrity.NewKeySigner("test", key)
	if err != nil {
		t.Fatal(err)
	}
	return &testChain{t: t, logID: "host/1", log: integrity.NewMerkleLog(), heads: map[string]integrity.ChainHeader{}, signer: signer}
}

func (c *testChain) chain(stream string, ld plog.Logs) uint64 {
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	canonical := integrity.AppendCanonical(nil, rl, sl, sl.LogRecords().At(0))
	prev := integrity.Hash{}
	last, ok := c.heads[stream]
	if ok {
		prev = last.Link()
	}
	h := integrity.ChainHeader{Digest: integrity.RecordDigest(canonical), Log: c.logID, Prev: prev, Seq: last.Seq + 1, Stream: stream}
	h.Index = c.log.Append(h.Link())
	c.heads[stream] = h
	c.headers = append(c.headers, h)
	c.lines = append(c.lines, integrity.AppendLine(nil, &h, canonical))
	return h.Index
}

// record chains an agent's event in stream.
func (c *testChain) record(stream string) uint64 {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("agent_audit.tool.call")
	lr.Attributes().PutStr("session.id", stream)
	lr.Attributes().PutInt("n", int64(c.log.Size()))
	return c.chain(stream, ld)
}

// uncleanStop chains an unclean-stop notice listing leaves [from, size)
// (all of them); edit may change the notice before it is chained.
func (c *testChain) uncleanStop(from uint64, edit func(attrs pcommon.Map)) uint64 {
	size := c.log.Size()
	ld, sl := integrity.NewCollectorBatch("test")
	lr := integrity.AppendCollectorRecord(sl, integrity.EventUncleanStop, plog.SeverityNumberWarn, 1)
	lr.Attributes().PutInt(integrity.AttrInFlightFrom, int64(from))
	lr.Attributes().PutInt(integrity.AttrInFlightSize, int64(size))
	lr.Attributes().PutInt(integrity.AttrInFlightCount, int64(size-from))
	list := lr.Attributes().PutEmptySlice(integrity.AttrInFlightRecords)
	for i := from; i < size; i++ {
		h := &c.headers[i]
		m := list.AppendEmpty().SetEmptyMap()
		m.PutInt("index", int64(i))
		m.PutStr("stream", h.Stream)
		m.PutInt("seq", int64(h.Seq))
		m.PutStr("link", h.Link().String())
	}
	if edit != nil {
		edit(lr.Attributes())
	}
	return c.chain(integrity.CollectorStream, ld)
}

// verify checks the archive made of the chain's lines but those of drop,
// sealed by a checkpoint at the chain's size.
func (c *testChain) verify(drop ...uint64) *Report {
	c.t.Helper()
	return c.verifySealed(c.log.Size(), false, drop...)
}

// verifySealed is verify with the checkpoint at size sealed, and
// --allow-unsealed as given.
func (c *testChain) verifySealed(sealed uint64, allowUnsealed bool, drop ...uint64) *Report {
	c.t.Helper()
	var seg []byte
	for i, line := range c.lines {
		dropped := false
		for _, d := range drop {
			dropped = dropped || d == uint64(i)
		}
		if !dropped {
			seg = append(seg, line...)
		}
	}
	plain := func(event string, set func(lr plog.LogRecord)) []byte {
		ld, sl := integrity.NewCollectorBatch("test")
		lr := integrity.AppendCollectorRecord(sl, event, plog.SeverityNumberInfo, 1)
		set(lr)
		rl := ld.ResourceLogs().At(0)
		return integrity.AppendLine(nil, nil, integrity.AppendCanonical(nil, rl, sl, lr))
	}
	tree := integrity.NewMerkleLog()
	for _, h := range c.headers[:sealed] {
		tree.Append(h.Link())
	}
	note, err := integrity.SignCheckpoint(c.logID, sealed, tree.Root(), c.signer)
	if err != nil {
		c.t.Fatal(err)
	}
	cps := plain(integrity.EventKeyAnnouncement, func(lr plog.LogRecord) {
		lr.Attributes().PutStr(integrity.AttrKeyVerifierKey, c.signer.VerifierKey())
	})
	cps = append(cps, plain(integrity.EventCheckpoint, func(lr plog.LogRecord) { lr.Body().SetStr(string(note)) })...)
	v := newVerifier(nil, allowUnsealed)
	v.readSegment("records.ndjson", seg)
	v.readSegment("checkpoints.ndjson", cps)
	v.finish()
	return v.report("test", "")
}

func logProblems(r *Report) string {
	var all []string
	all = append(all, r.Problems...)
	for _, l := range r.Logs {
		all = append(all, l.Problems...)
		all = append(all, l.Missing...)
		for _, s := range l.Streams {
			all = append(all, s.Problems...)
		}
	}
	return strings.Join(all, "; ")
}

// crashedChain is a log whose collector died with leaves 5-9 in flight
// (5 and 6 never reached the archive, 7-9 did), restarted, declared them
// and went on; the checkpoint at its end covers them all.
func crashedChain(t *testing.T, edit func(attrs pcommon.Map)) (*testChain, []uint64) {
	c := newTestChain(t)
	for i := 0; i < 10; i++ {
		c.record(fmt.Sprint("s", i%2))
	}
	c.uncleanStop(5, edit)
	for i := 0; i < 4; i++ {
		c.record(fmt.Sprint("s", i%2))
	}
	return c, []uint64{5, 6}
}

func TestLostInFlightVerifies(t *testing.T) {
	c, lost := crashedChain(t, nil)
	r := c.verify(lost...)
	if !r.Verified {
		t.Fatalf("a log whose only missing leaves were declared in flight must verify: %s", logProblems(r))
	}
	l := r.Logs[0]
	if l.LostInFlight != 2 || l.MissingLeaves != 0 || l.Integrity != "ok" || l.Completeness != "complete" || l.SealedSize != 15 {
		t.Fatalf("log report: lost %d, missing %d, integrity %s, completeness %s, sealed %d",
			l.LostInFlight, l.MissingLeaves, l.Integrity, l.Completeness, l.SealedSize)
	}
	perStream := map[string]int{}
	for _, s := range l.Streams {
		perStream[s.Stream] = s.LostInFlight
		if s.MissingSeqs != 0 || len(s.Gaps) != 0 {
			t.Errorf("stream %s: a lost leaf is not a gap: %d missing seqs %v", s.Stream, s.MissingSeqs, s.Gaps)
		}
	}
	// Leaf 5 was stream s1's, leaf 6 s0's.
	if perStream["s0"] != 1 || perStream["s1"] != 1 {
		t.Errorf("per-stream lost in flight: %v", perStream)
	}
	var text bytes.Buffer
	r.writeText(&text, true)
	if !strings.Contains(text.String(), "lost in flight: 2 records") || !strings.Contains(text.String(), "records (1 lost in flight), seq") {
		t.Errorf("the text report shows the counts:\n%s", text.String())
	}

	// Nothing lost: the notice is there, the count is zero.
	if r := c.verify(); !r.Verified || r.Logs[0].LostInFlight != 0 {
		t.Errorf("all leaves present: verified %v, lost %d: %s", r.Verified, r.Logs[0].LostInFlight, logProblems(r))
	}
}

func TestMissingLeafOutsideDeclaredRangeFails(t *testing.T) {
	c, _ := crashedChain(t, nil)
	// Leaf 3 is before the declared range, leaf 12 after the notice.
	for _, drop := range []uint64{3, 12} {
		r := c.verify(5, drop)
		l := r.Logs[0]
		if r.Verified || l.MissingLeaves != 1 || l.LostInFlight != 1 || l.Completeness != "incomplete" {
			t.Errorf("leaf %d missing: verified %v, missing %d, lost %d, completeness %s", drop, r.Verified, l.MissingLeaves, l.LostInFlight, l.Completeness)
		}
	}
	// Without the notice, the same loss is a failure.
	plain := newTestChain(t)
	for i := 0; i < 10; i++ {
		plain.record("s0")
	}
	if r := plain.verify(5, 6); r.Verified || r.Logs[0].MissingLeaves != 2 || r.Logs[0].LostInFlight != 0 {
		t.Errorf("undeclared loss: verified %v, missing %d, lost %d", r.Verified, r.Logs[0].MissingLeaves, r.Logs[0].LostInFlight)
	}
}

func TestImplausibleUncleanStopNotice(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(attrs pcommon.Map)
		want string
	}{
		{"size is not the notice's place", func(a pcommon.Map) { a.PutInt(integrity.AttrInFlightSize, 12) }, "declares the log's size at the restart as 12"},
		{"count does not match", func(a pcommon.Map) { a.PutInt(integrity.AttrInFlightCount, 3) }, "counts 3 records but lists 5"},
		{"entry outside the range", func(a pcommon.Map) {
			v, _ := a.Get(integrity.AttrInFlightRecords)
			v.Slice().At(0).Map().PutInt("index", 2)
		}, "outside the range [5, 10) it declares"},
		{"range beyond the log", func(a pcommon.Map) { a.PutInt(integrity.AttrInFlightFrom, 40) }, "without a valid range"},
		{"link of a present leaf", func(a pcommon.Map) {
			v, _ := a.Get(integrity.AttrInFlightRecords)
			v.Slice().At(3).Map().PutStr("link", strings.Repeat("ab", 32))
		}, "leaf 8: unclean-stop notice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, lost := crashedChain(t, tc.edit)
			r := c.verify(lost...)
			if r.Verified || r.Logs[0].Integrity != "failed" || !strings.Contains(logProblems(r), tc.want) {
				t.Fatalf("verified %v, integrity %s; want a problem with %q: %s", r.Verified, r.Logs[0].Integrity, tc.want, logProblems(r))
			}
		})
	}
}

// The notice's links are what the checkpoint's root is recomputed with: a
// wrong link for a lost leaf does not match the signed root.
func TestLostLeafLinkIsCheckedAgainstCheckpoint(t *testing.T) {
	c, lost := crashedChain(t, func(a pcommon.Map) {
		v, _ := a.Get(integrity.AttrInFlightRecords)
		v.Slice().At(0).Map().PutStr("link", strings.Repeat("cd", 32))
	})
	r := c.verify(lost...)
	if r.Verified || !strings.Contains(logProblems(r), "do not hash to its root") {
		t.Fatalf("verified %v: %s", r.Verified, logProblems(r))
	}
}

// An attacker with write access to the archive, but without the signing
// key, deletes sealed records and appends, in the unsealed tail, an
// unclean-stop notice of their own (digest and links need no secret)
// declaring them in flight. With --allow-unsealed the forged tail is
// accepted, but it must not account for leaves a checkpoint covers: only a
// sealed notice may do that. (Before, the deletion verified as
// lost_in_flight.) A void notice is the same.
func TestUnsealedNoticeDoesNotExcuseSealedLeaves(t *testing.T) {
	for _, kind := range []string{"unclean-stop", "void"} {
		t.Run(kind, func(t *testing.T) {
			c := newTestChain(t)
			for i := 0; i < 10; i++ {
				c.record(fmt.Sprint("s", i%2))
			}
			if kind == "unclean-stop" {
				c.uncleanStop(5, nil)
			} else {
				c.void(5, 10)
			}
			r := c.verifySealed(10, true, 5, 6)
			l := r.Logs[0]
			if r.Verified || l.MissingLeaves != 2 || l.LostInFlight != 0 || l.Voided != 0 {
				t.Fatalf("sealed leaves deleted behind a forged unsealed notice: verified %v, missing %d, lost %d, voided %d: %s",
					r.Verified, l.MissingLeaves, l.LostInFlight, l.Voided, logProblems(r))
			}
			// The same notice sealed (the collector's own, checkpointed
			// after it) does account for them.
			if r := c.verifySealed(11, false, 5, 6); !r.Verified {
				t.Fatalf("a sealed notice accounts for the leaves it lists: %s", logProblems(r))
			}
			// An unsealed notice still accounts for unsealed leaves: a
			// live log just after a restart, verified with
			// --allow-unsealed before the next checkpoint.
			if r := c.verifySealed(5, true, 5, 6); !r.Verified {
				t.Fatalf("an unsealed notice accounts for unsealed leaves: %s", logProblems(r))
			}
		})
	}
}

// void chains a void notice listing leaves [from, to).
func (c *testChain) void(from, to uint64) uint64 {
	ld, sl := integrity.NewCollectorBatch("test")
	lr := integrity.AppendCollectorRecord(sl, integrity.EventVoid, plog.SeverityNumberWarn, 1)
	lr.Attributes().PutInt(integrity.AttrVoidedCount, int64(to-from))
	list := lr.Attributes().PutEmptySlice(integrity.AttrVoidedRecords)
	for i := from; i < to; i++ {
		h := &c.headers[i]
		m := list.AppendEmpty().SetEmptyMap()
		m.PutInt("index", int64(i))
		m.PutStr("stream", h.Stream)
		m.PutInt("seq", int64(h.Seq))
		m.PutStr("link", h.Link().String())
	}
	return c.chain(integrity.CollectorStream, ld)
}

// A sealed notice accounts for a sealed leaf whatever unsealed notice also
// lists it: after a second kill, the next start's notice (unsealed until
// the next checkpoint) lists again what the first, sealed, one declared.
func TestSealedNoticeAccountsWhateverUnsealedOneRepeatsIt(t *testing.T) {
	c, lost := crashedChain(t, nil)
	c.uncleanStop(5, nil) // leaf 15, relisting 5-14
	for _, order := range []string{"archive order", "unsealed notice first"} {
		if order == "unsealed notice first" {
			// The archive's order of lines is not the log's (several
			// exporters, segments): the verdict must not depend on it.
			c.lines = append([][]byte{c.lines[15]}, c.lines[:15]...)
			lost = []uint64{6, 7} // the same leaves, one line later
		}
		r := c.verifySealed(15, true, lost...)
		if !r.Verified || r.Logs[0].LostInFlight != 2 || r.Logs[0].Completeness != "unsealed" {
			t.Fatalf("%s: verified %v, lost %d, completeness %s: %s", order, r.Verified, r.Logs[0].LostInFlight, r.Logs[0].Completeness, logProblems(r))
		}
	}
}

// An identical copy of a notice (a segment written twice) counts as a
// duplicate and declares nothing twice.
func TestDuplicatedUncleanStopNotice(t *testing.T) {
	c, lost := crashedChain(t, nil)
	c.lines = append(c.lines, c.lines[10])
	r := c.verify(lost...)
	l := r.Logs[0]
	if !r.Verified || l.LostInFlight != 2 || l.Duplicates != 1 || l.MissingLeaves != 0 {
		t.Fatalf("verified %v, lost %d, duplicates %d, missing %d: %s", r.Verified, l.LostInFlight, l.Duplicates, l.MissingLeaves, logProblems(r))
	}
}
