package chainprocessor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// snapshot is the storage as a SIGKILL leaves it: what was written, and
// nothing the process would have written later.
func (m *memStorage) snapshot() *memStorage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &memStorage{data: maps.Clone(m.data)}
}

func (m *memStorage) flightKeys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.data {
		if strings.HasPrefix(k, keyFlightPrefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// holdConsumer passes batches on, but holds the one whose first record's
// body starts with "held" (a copy is kept) until release is closed, as a
// pipeline does whose process is about to die.
type holdConsumer struct {
	consumertest.LogsSink
	held    plog.Logs
	entered chan struct{}
	release chan struct{}
}

func (h *holdConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if strings.HasPrefix(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().AsString(), "held") {
		h.held = plog.NewLogs()
		ld.CopyTo(h.held)
		close(h.entered)
		<-h.release
		return errors.New("the process died")
	}
	return h.LogsSink.ConsumeLogs(ctx, ld)
}

// inFlightList reads the records an unclean-stop notice lists.
func inFlightList(t *testing.T, r outRecord) []flightEntry {
	t.Helper()
	v, ok := r.lr.Attributes().Get(integrity.AttrInFlightRecords)
	require.True(t, ok)
	var out []flightEntry
	for _, item := range v.Slice().All() {
		m := item.Map()
		idx, _ := m.Get("index")
		stream, _ := m.Get("stream")
		seq, _ := m.Get("seq")
		link, _ := m.Get("link")
		h, err := integrity.ParseHash(link.Str())
		require.NoError(t, err)
		out = append(out, flightEntry{Index: uint64(idx.Int()), Stream: stream.Str(), Seq: uint64(seq.Int()), Link: h[:]})
	}
	return out
}

func attrInt(t *testing.T, r outRecord, key string) uint64 {
	t.Helper()
	v, ok := r.lr.Attributes().Get(key)
	require.True(t, ok, key)
	return uint64(v.Int())
}

// A collector killed while a batch it chained and persisted is still on its
// way downstream declares that batch's records at the next start: their
// links, so the verifier can recompute the checkpoints over them, and the
// range they lie in. Batches that got through are not declared.
func TestUncleanStopDeclaresRecordsInFlight(t *testing.T) {
	store := newMemStorage()
	next := &holdConsumer{entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { close(next.release) })
	p1, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	require.NoError(t, p1.ConsumeLogs(context.Background(), batch("a", 5, "x", "y")))
	require.NoError(t, p1.ConsumeLogs(context.Background(), batch("b", 3, "x")))
	go func() { _ = p1.ConsumeLogs(context.Background(), batch("held", 4, "x", "y")) }()
	<-next.entered
	disk := store.snapshot()
	st := disk.log(t)
	assert.Equal(t, uint64(13), st.Size)
	assert.Equal(t, uint64(9), st.Confirmed, "the held batch starts at leaf 9; all below it got through")
	assert.False(t, st.Clean)

	next2 := &consumertest.LogsSink{}
	p2, _ := startChain(t, testConfig("o", true), next2, testHost{testStorageID: disk})
	// Killed again before the notice went out: the next start declares
	// the held batch again, and the lost notice.
	disk2 := disk.snapshot()
	require.NoError(t, p2.ConsumeLogs(context.Background(), batch("after", 2, "x")))
	after := records(t, next2.AllLogs()...)
	notices := withEvent(after, integrity.EventUncleanStop)
	require.Len(t, notices, 1, "the start after the kill declares what was in flight")
	n := notices[0]
	held := records(t, next.held)
	heldRecs := withEvent(held, "agent_audit.tool.call")
	require.Len(t, heldRecs, 4)
	var want []flightEntry
	for _, r := range heldRecs {
		want = append(want, flightEntryOf(&r.header))
	}
	assert.Equal(t, want, inFlightList(t, n), "exactly the held batch's records, with their links")
	assert.Equal(t, uint64(4), attrInt(t, n, integrity.AttrInFlightCount))
	assert.Equal(t, uint64(9), attrInt(t, n, integrity.AttrInFlightFrom))
	assert.Equal(t, uint64(13), attrInt(t, n, integrity.AttrInFlightSize))
	assert.Equal(t, uint64(13), n.header.Index, "the notice is the first leaf after the restart")
	assert.Equal(t, held[0].header.Log, n.header.Log, "the log goes on: no new epoch")
	assert.Empty(t, withEvent(after, integrity.EventEpochStart))

	next3 := &consumertest.LogsSink{}
	p3, _ := startChain(t, testConfig("o", true), next3, testHost{testStorageID: disk2})
	require.NoError(t, p3.ConsumeLogs(context.Background(), batch("third", 1, "x")))
	again := withEvent(records(t, next3.AllLogs()...), integrity.EventUncleanStop)
	require.Len(t, again, 1)
	assert.Equal(t, append(want, flightEntryOf(&n.header)), inFlightList(t, again[0]),
		"the held batch and the first notice, which never went out")
	assert.Equal(t, uint64(9), attrInt(t, again[0], integrity.AttrInFlightFrom))
	assert.Equal(t, uint64(14), attrInt(t, again[0], integrity.AttrInFlightSize))

	// With the held batch, everything chains without a gap.
	all := append(append(records(t, next.AllLogs()...), held...), after...)
	verifyChains(t, all)
	for _, r := range after {
		if r.header.Stream == "x" && strings.HasPrefix(r.body(), "after-") {
			assert.Greater(t, r.header.Seq, lastOfStream(held, "x").header.Seq)
		}
	}
}

// Confirmations are written with the next state write (no write of their
// own); a shutdown writes them and marks the stop clean, and the next start
// declares nothing.
func TestCleanStopDeclaresNothing(t *testing.T) {
	store := newMemStorage()
	next := &consumertest.LogsSink{}
	p1, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	for _, label := range []string{"a", "b", "c"} {
		require.NoError(t, p1.ConsumeLogs(context.Background(), batch(label, 4, "x")))
	}
	st := store.log(t)
	assert.Equal(t, []uint64{9}, st.Flights, "only the last batch is still recorded as in flight")
	assert.Equal(t, uint64(9), st.Confirmed)
	assert.Len(t, store.flightKeys(), 1, "flights of confirmed batches are deleted from storage")

	require.NoError(t, p1.Shutdown(context.Background()))
	st = store.log(t)
	assert.True(t, st.Clean)
	assert.Empty(t, st.Flights)
	assert.Equal(t, st.Size, st.Confirmed)
	assert.Empty(t, store.flightKeys())

	next2 := &consumertest.LogsSink{}
	p2, _ := startChain(t, testConfig("o", true), next2, testHost{testStorageID: store})
	require.NoError(t, p2.ConsumeLogs(context.Background(), batch("d", 2, "x")))
	assert.Empty(t, withEvent(records(t, next2.AllLogs()...), integrity.EventUncleanStop))
	assert.False(t, store.log(t).Clean, "a running collector's state is not marked clean")
}

// A batch refused downstream stays in flight until its void notice is
// downstream: killed before that, the start declares it.
func TestRefusedBatchStaysInFlightUntilItsVoidNotice(t *testing.T) {
	store := newMemStorage()
	next := &flakyConsumer{}
	p1, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	require.NoError(t, p1.ConsumeLogs(context.Background(), batch("a", 3, "x")))
	next.setErr(errors.New("queue full"))
	require.Error(t, p1.ConsumeLogs(context.Background(), batch("refused", 2, "x")))
	next.setErr(nil)
	// The void notice is chained but goes out with the next batch; this
	// batch's state write is the last before the kill.
	disk := store.snapshot()

	next2 := &consumertest.LogsSink{}
	p2, _ := startChain(t, testConfig("o", true), next2, testHost{testStorageID: disk})
	require.NoError(t, p2.ConsumeLogs(context.Background(), batch("after", 1, "x")))
	after := records(t, next2.AllLogs()...)
	notices := withEvent(after, integrity.EventUncleanStop)
	require.Len(t, notices, 1)
	refused := records(t, next.refusedBatches()...)
	var want []flightEntry
	for _, r := range withEvent(refused, "agent_audit.tool.call") {
		want = append(want, flightEntryOf(&r.header))
	}
	require.Len(t, want, 2)
	assert.Equal(t, want, inFlightList(t, notices[0]))
	verifyChains(t, append(append(records(t, next.AllLogs()...), refused...), after...))

	// Once the void notice is downstream, the refused batch is confirmed
	// with it: a later kill declares neither.
	require.NoError(t, p1.ConsumeLogs(context.Background(), batch("b", 1, "x")))
	require.Len(t, withEvent(records(t, next.AllLogs()...), integrity.EventVoid), 1)
	require.NoError(t, p1.ConsumeLogs(context.Background(), batch("c", 1, "x")))
	st := store.log(t)
	assert.Equal(t, []uint64{st.Size - 1}, st.Flights, "only batch c is left in flight")
}

// The processor's own notices continue the @collector stream of a log
// restored from storage. (Before, a void notice after a restart took seq 1
// again, which the verifier reports as equivocation with the epoch start.)
func TestVoidNoticeAfterRestartContinuesCollectorStream(t *testing.T) {
	store := newMemStorage()
	p1, _ := startChain(t, testConfig("o", true), &consumertest.LogsSink{}, testHost{testStorageID: store})
	require.NoError(t, p1.ConsumeLogs(context.Background(), batch("a", 3, "x")))
	require.NoError(t, p1.Shutdown(context.Background()))

	next := &flakyConsumer{}
	p2, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	next.setErr(errors.New("queue full"))
	require.Error(t, p2.ConsumeLogs(context.Background(), batch("refused", 1, "x")))
	next.setErr(nil)
	require.NoError(t, p2.ConsumeLogs(context.Background(), batch("b", 1, "x")))
	voids := withEvent(records(t, next.AllLogs()...), integrity.EventVoid)
	require.Len(t, voids, 1)
	assert.Equal(t, integrity.CollectorStream, voids[0].header.Stream)
	assert.Equal(t, uint64(2), voids[0].header.Seq, "after the epoch start, seq 1")
	assert.NotEqual(t, integrity.Hash{}, voids[0].header.Prev)
}

// leavesAccountedFor returns, per log, the leaf indices the released records
// and the void and unclean-stop notices among them account for.
func leavesAccountedFor(t *testing.T, recs []outRecord) map[string]map[uint64]bool {
	t.Helper()
	out := map[string]map[uint64]bool{}
	add := func(log string, idx uint64) {
		if out[log] == nil {
			out[log] = map[uint64]bool{}
		}
		out[log][idx] = true
	}
	for _, r := range recs {
		add(r.header.Log, r.header.Index)
		for _, key := range []string{integrity.AttrVoidedRecords, integrity.AttrInFlightRecords} {
			if v, ok := r.lr.Attributes().Get(key); ok {
				for _, item := range v.Slice().All() {
					idx, _ := item.Map().Get("index")
					add(r.header.Log, uint64(idx.Int()))
				}
			}
		}
	}
	return out
}

// A batch whose state write failed was chained in a log that is then
// abandoned. A void notice chained into that log afterwards (a batch
// refused downstream once the write had failed) still goes out, after the
// failed batch's leaves: it must list them too, or they are a gap in the
// log (before, they were neither passed on nor voided, and verify reported
// them missing).
func TestFailedStateWriteLeavesNoGapBeforeALaterNotice(t *testing.T) {
	store := newMemStorage()
	next := &holdConsumer{entered: make(chan struct{}), release: make(chan struct{})}
	p, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("a", 3, "x")))
	heldErr := make(chan error, 1)
	go func() { heldErr <- p.ConsumeLogs(context.Background(), batch("held", 2, "x")) }()
	<-next.entered

	store.failBatch.Store(true)
	require.Error(t, p.ConsumeLogs(context.Background(), batch("failed", 2, "y")))
	close(next.release) // the held batch is refused now: its void notice is chained
	require.Error(t, <-heldErr)
	store.failBatch.Store(false)
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("c", 1, "x")))

	recs := records(t, next.AllLogs()...)
	voids := withEvent(recs, integrity.EventVoid)
	require.Len(t, voids, 2, "the held batch's void notice, and one for the failed batch chained after it")
	assert.Equal(t, uint64(2), attrInt(t, voids[1], integrity.AttrVoidedCount))
	assert.Greater(t, voids[1].header.Index, voids[0].header.Index, "it stands after every other leaf of the log")
	accounted := leavesAccountedFor(t, recs)
	oldLog := recs[0].header.Log
	var maxIdx uint64
	for idx := range accounted[oldLog] {
		maxIdx = max(maxIdx, idx)
	}
	for i := uint64(0); i <= maxIdx; i++ {
		assert.True(t, accounted[oldLog][i], "leaf %d of the abandoned log is neither released nor listed by a notice", i)
	}
	for _, r := range recs {
		assert.False(t, strings.HasPrefix(r.body(), "failed-"), "a record of the failed batch was released")
	}
}

// Notices of a log left after a failed state write go out with a tree head
// of that log (its final size), so the sign processor seals them: a void
// notice released in the next log's first batch with only that log's head
// was covered by no checkpoint, and the old log verified only with
// --allow-unsealed (and a notice no checkpoint covers does not account for
// sealed leaves).
func TestNoticesOfALeftLogGoOutWithItsTreeHead(t *testing.T) {
	store := newMemStorage()
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("a", 3, "x")))
	next.setErr(errors.New("queue full"))
	require.Error(t, p.ConsumeLogs(context.Background(), batch("refused", 2, "x")))
	next.setErr(nil)
	store.failBatch.Store(true)
	require.Error(t, p.ConsumeLogs(context.Background(), batch("failed", 2, "x")))
	store.failBatch.Store(false)
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("c", 1, "x")))

	covered := map[string]uint64{}
	for _, th := range treeHeads(t, next.Contexts()) {
		covered[th.LogID] = max(covered[th.LogID], th.Size)
	}
	recs := records(t, next.AllLogs()...)
	voids := withEvent(recs, integrity.EventVoid)
	require.NotEmpty(t, voids)
	logs := map[string]bool{}
	for _, r := range recs {
		logs[r.header.Log] = true
		assert.Greater(t, covered[r.header.Log], r.header.Index, "%s leaf %d (%s) is covered by no tree head passed on", r.header.Log, r.header.Index, r.event())
	}
	assert.Len(t, logs, 2)
	accounted := leavesAccountedFor(t, recs)
	for log, size := range covered {
		for i := uint64(0); i < size; i++ {
			assert.True(t, accounted[log][i], "%s leaf %d is under a tree head but neither released nor listed", log, i)
		}
	}
	// A tree head passed on is the root of the log's leaves.
	links := map[string]map[uint64]integrity.Hash{}
	for _, r := range recs {
		if links[r.header.Log] == nil {
			links[r.header.Log] = map[uint64]integrity.Hash{}
		}
		links[r.header.Log][r.header.Index] = r.header.Link()
		for _, key := range []string{integrity.AttrVoidedRecords} {
			if v, ok := r.lr.Attributes().Get(key); ok {
				for _, item := range v.Slice().All() {
					idx, _ := item.Map().Get("index")
					link, _ := item.Map().Get("link")
					h, err := integrity.ParseHash(link.Str())
					require.NoError(t, err)
					links[r.header.Log][uint64(idx.Int())] = h
				}
			}
		}
	}
	for _, th := range treeHeads(t, next.Contexts()) {
		l := integrity.NewMerkleLog()
		for i := uint64(0); i < th.Size; i++ {
			l.Append(links[th.LogID][i])
		}
		assert.Equal(t, l.Root(), th.Root, "root of %s at %d", th.LogID, th.Size)
	}
}

// While the next component refuses, a retried batch is refused before it
// is chained, as long as the notices already waiting cannot be passed on:
// otherwise every attempt chained its records, added a flight and a void
// notice (in memory and in storage) and carried all earlier void notices
// downstream, so state and traffic grew with every retry (200 refused
// attempts left 400 flights in storage and a batch of 202 records).
func TestRefusingDownstreamDoesNotGrowFlights(t *testing.T) {
	store := newMemStorage()
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("a", 2, "x")))
	next.setErr(errors.New("queue full"))
	for i := 0; i < 50; i++ {
		require.Error(t, p.ConsumeLogs(context.Background(), batch("r", 2, "x")))
	}
	assert.LessOrEqual(t, len(store.flightKeys()), 3, "flights in storage while refused")
	for _, b := range next.refusedBatches() {
		assert.LessOrEqual(t, b.LogRecordCount(), 3, "a refused attempt carries its own records and at most one notice")
	}
	next.setErr(nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("ok", 1, "x")))
	recs := records(t, next.AllLogs()...)
	require.Len(t, withEvent(recs, integrity.EventVoid), 1, "only the first refused attempt was chained")
	all := append(recs, records(t, next.refusedBatches()[0])...)
	verifyChains(t, withoutEvent(all, "")) // every leaf accounted for: present or the refused copy
	require.NoError(t, p.Shutdown(context.Background()))
	assert.True(t, store.log(t).Clean)
}

// A failed state write must not forget the deletions of confirmed flights
// it carried: the log it abandons is never written again, and its flight
// keys stayed in storage for good (one per failure).
func TestFailedStateWriteKeepsFlightDeletions(t *testing.T) {
	store := newMemStorage()
	p, _ := startChain(t, testConfig("o", true), &consumertest.LogsSink{}, testHost{testStorageID: store})
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("a", 2, "x")))
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("b", 2, "x")))
	require.Len(t, store.flightKeys(), 1, "batch b's flight")
	store.failBatch.Store(true)
	require.Error(t, p.ConsumeLogs(context.Background(), batch("c", 2, "x")))
	store.failBatch.Store(false)
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("d", 2, "x")))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.True(t, store.log(t).Clean)
	assert.Empty(t, store.flightKeys(), "flights left in storage after a clean stop")
}

// The same with concurrent senders: while one batch tries the waiting
// notices, the others must not be chained either (before, they found
// nothing left to try and were chained, refused and voided, a few more
// flights on every round).
func TestRefusingDownstreamConcurrentSendersDoNotGrowFlights(t *testing.T) {
	store := newMemStorage()
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})
	next.setErr(errors.New("queue full"))
	require.Error(t, p.ConsumeLogs(context.Background(), batch("first", 2, "x")))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				assert.Error(t, p.ConsumeLogs(context.Background(), batch(fmt.Sprintf("r%d-%d", g, i), 2, "x")))
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, len(store.flightKeys()), 3, "flights in storage while refused")
}

// A permanent refusal is about the batch, not the next component's state:
// the next batch is chained and passed on as usual (it must not be held
// back with, or refused as, that error).
func TestPermanentRefusalDoesNotHoldBackTheNextBatch(t *testing.T) {
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())
	next.setErr(consumererror.NewPermanent(errors.New("bad batch")))
	require.Error(t, p.ConsumeLogs(context.Background(), batch("bad", 1, "x")))
	next.setErr(nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("ok", 1, "x")))
	assert.Len(t, withEvent(records(t, next.AllLogs()...), integrity.EventVoid), 1)
}
