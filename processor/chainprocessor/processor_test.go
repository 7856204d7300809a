package chainprocessor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor/internal/metadatatest"
)

const (
	metricEpochs  = "otelcol_processor_chain_epochs_started"
	metricChained = "otelcol_processor_chain_records_chained"
	metricVoided  = "otelcol_processor_chain_records_voided"
)

var zeroHash = strings.Repeat("0", 64)

func TestChainsRecords(t *testing.T) {
	ctx := context.Background()
	sink := new(consumertest.LogsSink)
	p, tel := startChain(t, testConfig("test-origin", false), sink, componenttest.NewNopHost())

	require.NoError(t, p.ConsumeLogs(ctx, batch("b1", 5, "s1", "s2")))
	require.Len(t, sink.AllLogs(), 1)
	first := records(t, sink.AllLogs()[0])
	require.Len(t, first, 6, "5 records and the epoch-start record")

	// The epoch-start record is leaf 0, in the collector's stream.
	starts := withEvent(first, integrity.EventEpochStart)
	require.Len(t, starts, 1)
	es := starts[0]
	logID := es.header.Log
	origin, _, err := integrity.SplitLogID(logID)
	require.NoError(t, err)
	assert.Equal(t, "test-origin", origin)
	assert.Equal(t, integrity.CollectorStream, es.header.Stream)
	assert.Equal(t, uint64(0), es.header.Index)
	assert.Equal(t, uint64(1), es.header.Seq)
	reason, ok := es.lr.Attributes().Get("agent_audit.chain.reason")
	require.True(t, ok)
	assert.Equal(t, ReasonNoState, reason.Str())
	_, hasPrev := es.lr.Attributes().Get("agent_audit.chain.previous_log_id")
	assert.False(t, hasPrev, "a first start knows no previous log")
	assert.Contains(t, es.body(), logID)
	assert.Equal(t, plog.SeverityNumberWarn, es.lr.SeverityNumber())
	assert.Equal(t, metadata.ScopeName, es.scope.Name())
	svc, _ := es.resource.Attributes().Get("service.name")
	assert.Equal(t, "otelcol-agentaudit", svc.Str())

	// Every record carries the six integrity attributes with the right types.
	for _, r := range first {
		attrs := r.lr.Attributes()
		for name, typ := range map[string]pcommon.ValueType{
			integrity.AttrLogID:          pcommon.ValueTypeStr,
			integrity.AttrLogIndex:       pcommon.ValueTypeInt,
			integrity.AttrStreamID:       pcommon.ValueTypeStr,
			integrity.AttrSequenceNumber: pcommon.ValueTypeInt,
			integrity.AttrPrevHash:       pcommon.ValueTypeStr,
			integrity.AttrRecordDigest:   pcommon.ValueTypeStr,
		} {
			v, ok := attrs.Get(name)
			require.True(t, ok, "%q lacks %s", r.body(), name)
			assert.Equal(t, typ, v.Type(), "%s", name)
		}
		assert.Equal(t, logID, r.header.Log)
		digest, _ := attrs.Get(integrity.AttrRecordDigest)
		assert.Equal(t, integrity.RecordDigest(r.canonical).String(), digest.Str())
		if r.header.Seq == 1 {
			prev, _ := attrs.Get(integrity.AttrPrevHash)
			assert.Equal(t, zeroHash, prev.Str(), "the first record of a stream has 64 zeros as prev_hash")
		}
	}
	// Records are in their session's stream, numbered from 1 in batch order.
	user := withoutEvent(first, integrity.EventEpochStart)
	wantStream := []string{"s1", "s2", "s1", "s2", "s1"}
	bySeq := map[string]uint64{}
	for _, r := range user {
		i := 0
		_, err := fmt.Sscanf(r.body(), "b1-%d", &i)
		require.NoError(t, err)
		assert.Equal(t, wantStream[i], r.header.Stream, r.body())
		bySeq[r.header.Stream]++
	}
	assert.Equal(t, map[string]uint64{"s1": 3, "s2": 2}, bySeq)

	// A second batch continues the streams and the log, without a new epoch start.
	require.NoError(t, p.ConsumeLogs(ctx, batch("b2", 4, "s1", "s3")))
	require.Len(t, sink.AllLogs(), 2)
	second := records(t, sink.AllLogs()[1])
	require.Len(t, second, 4)
	assert.Empty(t, withEvent(second, integrity.EventEpochStart))
	for _, r := range second {
		assert.GreaterOrEqual(t, r.header.Index, uint64(6))
		if r.header.Stream == "s1" {
			assert.Greater(t, r.header.Seq, uint64(3))
		}
	}

	all := append(first, second...)
	links := verifyChains(t, all)
	require.Len(t, links, 1)
	require.Len(t, links[logID], 10)
	// prev_hash of seq n+1 is the link of seq n, recomputed with integrity.Link.
	lastS1 := map[uint64]outRecord{}
	for _, r := range all {
		if r.header.Stream == "s1" {
			lastS1[r.header.Seq] = r
		}
	}
	require.Len(t, lastS1, 5)
	for seq := uint64(1); seq < 5; seq++ {
		h := lastS1[seq].header
		want := integrity.Link(logID, "s1", seq, h.Prev, integrity.RecordDigest(lastS1[seq].canonical))
		assert.Equal(t, want, lastS1[seq+1].header.Prev, "prev_hash of s1 seq %d", seq+1)
	}

	// The tree head passed with each batch covers exactly the leaves so far.
	heads := treeHeads(t, sink.Contexts())
	require.Len(t, heads, 2)
	for i, want := range []uint64{6, 10} {
		assert.Equal(t, logID, heads[i].LogID)
		assert.Equal(t, want, heads[i].Size)
		assert.Equal(t, rootOf(links[logID], want), heads[i].Root, "root after batch %d", i+1)
	}

	metadatatest.AssertEqualProcessorChainRecordsChained(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 9}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualProcessorChainEpochsStarted(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestCapabilities(t *testing.T) {
	p, _ := newChain(t, testConfig("o", false), consumertest.NewNop())
	assert.True(t, p.Capabilities().MutatesData, "the processor writes attributes on the records")
}

func TestIntegrityAttributesFromSenderAreOverwritten(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, _ := startChain(t, testConfig("o", false), sink, componenttest.NewNopHost())
	ld := batch("b", 1, "s1")
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	// Forged integrity attributes without audit.log.id: not a chained record.
	lr.Attributes().PutStr(integrity.AttrStreamID, "forged")
	lr.Attributes().PutInt(integrity.AttrSequenceNumber, 99)
	lr.Attributes().PutStr(integrity.AttrPrevHash, "ff")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	recs := withoutEvent(records(t, sink.AllLogs()...), integrity.EventEpochStart)
	require.Len(t, recs, 1)
	assert.Equal(t, "s1", recs[0].header.Stream)
	assert.Equal(t, uint64(1), recs[0].header.Seq)
	assert.Equal(t, integrity.Hash{}, recs[0].header.Prev)
	verifyChains(t, records(t, sink.AllLogs()...))
}

func TestStreamSelection(t *testing.T) {
	cfg := testConfig("o", false)
	cfg.StreamAttributes = []string{"tenant.id", "session.id"}
	sink := new(consumertest.LogsSink)
	p, _ := startChain(t, cfg, sink, componenttest.NewNopHost())

	tests := []struct {
		name  string
		res   map[string]any
		attrs map[string]any
		want  string
	}{
		{name: "first attribute on the record", attrs: map[string]any{"tenant.id": "t1", "session.id": "s1"}, want: "t1"},
		{name: "second attribute on the record", attrs: map[string]any{"session.id": "s2"}, want: "s2"},
		{name: "first attribute on the resource", res: map[string]any{"tenant.id": "t3"}, want: "t3"},
		{name: "record wins over resource for one name", res: map[string]any{"tenant.id": "t4-res"}, attrs: map[string]any{"tenant.id": "t4-rec"}, want: "t4-rec"},
		{name: "list order wins over record before resource", res: map[string]any{"tenant.id": "t5"}, attrs: map[string]any{"session.id": "s5"}, want: "t5"},
		{name: "second attribute on the resource", res: map[string]any{"session.id": "s6"}, want: "s6"},
		{name: "non-string value", attrs: map[string]any{"tenant.id": 42}, want: "42"},
		{name: "none of them", res: map[string]any{"host.id": "h"}, attrs: map[string]any{"user.id": "u"}, want: ""},
	}
	ld := plog.NewLogs()
	for _, tt := range tests {
		rl := ld.ResourceLogs().AppendEmpty()
		require.NoError(t, rl.Resource().Attributes().FromRaw(tt.res))
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		require.NoError(t, lr.Attributes().FromRaw(tt.attrs))
		lr.Body().SetStr(tt.name)
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := map[string]string{}
	for _, r := range withoutEvent(records(t, sink.AllLogs()...), integrity.EventEpochStart) {
		got[r.body()] = r.header.Stream
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, got[tt.name])
		})
	}
	verifyChains(t, records(t, sink.AllLogs()...))
}

func TestConcurrentBatches(t *testing.T) {
	for _, withStorage := range []bool{false, true} {
		t.Run(fmt.Sprintf("storage=%v", withStorage), func(t *testing.T) {
			host := component.Host(componenttest.NewNopHost())
			if withStorage {
				ext, _ := startFileStorage(t, t.TempDir())
				host = testHost{testStorageID: ext}
			}
			sink := new(consumertest.LogsSink)
			p, tel := startChain(t, testConfig("o", withStorage), sink, host)

			const goroutines, calls, perCall = 8, 50, 10
			var wg sync.WaitGroup
			errs := make(chan error, goroutines*calls)
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for c := 0; c < calls; c++ {
						errs <- p.ConsumeLogs(context.Background(), batch(fmt.Sprintf("g%d-c%d", g, c), perCall, "s0", "s1", "s2"))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}

			const total = goroutines*calls*perCall + 1 // and the epoch start
			recs := records(t, sink.AllLogs()...)
			// Each notice is released exactly once, however many batches
			// are in flight when it is pending.
			require.Equal(t, 1, len(withEvent(recs, integrity.EventEpochStart)), "epoch-start records passed on")
			require.Equal(t, total, len(recs))
			bodies := map[string]bool{}
			perStream := map[string]int{}
			for _, r := range recs {
				require.False(t, bodies[r.body()], "record %q passed on twice", r.body())
				bodies[r.body()] = true
				perStream[r.header.Stream]++
			}
			// Streams s0..s2 get 4, 3, 3 of every 10 records.
			assert.Equal(t, map[string]int{"s0": 1600, "s1": 1200, "s2": 1200, integrity.CollectorStream: 1}, perStream)
			links := verifyChains(t, recs)
			require.Len(t, links, 1)
			var logID string
			for id := range links {
				logID = id
			}
			require.Equal(t, total, len(links[logID]))

			// Every head is a prefix of the one log, with the right root.
			heads := treeHeads(t, sink.Contexts())
			require.Len(t, heads, goroutines*calls)
			bySize := map[uint64]integrity.Hash{}
			var maxSize uint64
			for _, th := range heads {
				assert.Equal(t, logID, th.LogID)
				if root, ok := bySize[th.Size]; ok {
					assert.Equal(t, root, th.Root)
				}
				bySize[th.Size] = th.Root
				maxSize = max(maxSize, th.Size)
			}
			assert.Equal(t, uint64(total), maxSize)
			tree := integrity.NewMerkleLog()
			for _, link := range links[logID] {
				tree.Append(link)
				if root, ok := bySize[tree.Size()]; ok {
					assert.Equal(t, tree.Root(), root, "root of the head at size %d", tree.Size())
				}
			}
			assert.Equal(t, int64(total-1), counter(t, tel, metricChained))
		})
	}
}

// runOnce starts a chain processor on the storage in dir, consumes the
// batches, shuts it and the storage down, and returns what it passed on.
func runOnce(t *testing.T, dir, origin string, batches ...plog.Logs) ([]outRecord, []integrity.TreeHead, *componenttest.Telemetry) {
	t.Helper()
	ext, stopStorage := startFileStorage(t, dir)
	sink := new(consumertest.LogsSink)
	// A new *Config each run: the factory caches the chain log per component
	// id and config pointer, and a restart must not reuse the old one.
	p, tel := startChain(t, testConfig(origin, true), sink, testHost{testStorageID: ext})
	for _, ld := range batches {
		require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	stopStorage()
	return records(t, sink.AllLogs()...), treeHeads(t, sink.Contexts()), tel
}

func lastOfStream(recs []outRecord, stream string) outRecord {
	var last outRecord
	for _, r := range recs {
		if r.header.Stream == stream && r.header.Seq > last.header.Seq {
			last = r
		}
	}
	return last
}

func firstOfStream(recs []outRecord, stream string) outRecord {
	var first outRecord
	for _, r := range recs {
		if r.header.Stream == stream && (first.header.Seq == 0 || r.header.Seq < first.header.Seq) {
			first = r
		}
	}
	return first
}

func TestStatePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	run1, _, tel1 := runOnce(t, dir, "o1", batch("r1", 5, "a", "b"))
	require.Len(t, run1, 6)
	assert.Equal(t, int64(1), counter(t, tel1, metricEpochs))
	logID := run1[0].header.Log

	run2, heads2, tel2 := runOnce(t, dir, "o1", batch("r2a", 4, "a", "b", "c"), batch("r2b", 3, "a"))
	require.Len(t, run2, 7)
	assert.Empty(t, withEvent(run2, integrity.EventEpochStart), "a restart with state continues the log")
	assert.Equal(t, int64(0), counter(t, tel2, metricEpochs))
	for _, r := range run2 {
		assert.Equal(t, logID, r.header.Log)
		assert.GreaterOrEqual(t, r.header.Index, uint64(len(run1)), "leaf indices continue")
	}
	// Streams continue: seq N+1 with prev_hash = link of seq N.
	for _, s := range []string{"a", "b"} {
		last, next := lastOfStream(run1, s), firstOfStream(run2, s)
		assert.Equal(t, last.header.Seq+1, next.header.Seq, "stream %s", s)
		assert.Equal(t, last.header.Link(), next.header.Prev, "stream %s", s)
	}
	assert.Equal(t, uint64(1), firstOfStream(run2, "c").header.Seq, "a new stream starts at 1")

	all := append(run1, run2...)
	links := verifyChains(t, all)
	require.Len(t, links, 1)
	require.Len(t, links[logID], 13)
	require.Len(t, heads2, 2)
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 10, Root: rootOf(links[logID], 10)}, heads2[0])
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 13, Root: rootOf(links[logID], 13)}, heads2[1])

	// And once more, from a head that was itself loaded from storage.
	run3, heads3, _ := runOnce(t, dir, "o1", batch("r3", 2, "a", "c"))
	all = append(all, run3...)
	links = verifyChains(t, all)
	require.Len(t, links, 1)
	require.Len(t, heads3, 1)
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 15, Root: rootOf(links[logID], 15)}, heads3[0])
}

func TestLostStateStartsNewEpoch(t *testing.T) {
	run1, _, _ := runOnce(t, t.TempDir(), "o1", batch("r1", 3, "a"))
	run2, heads2, tel2 := runOnce(t, t.TempDir(), "o1", batch("r2", 3, "a"))

	starts := withEvent(run2, integrity.EventEpochStart)
	require.Len(t, starts, 1)
	reason, _ := starts[0].lr.Attributes().Get("agent_audit.chain.reason")
	assert.Equal(t, ReasonNoState, reason.Str())
	_, hasPrev := starts[0].lr.Attributes().Get("agent_audit.chain.previous_log_id")
	assert.False(t, hasPrev, "nothing is known of the lost log")
	assert.NotEqual(t, run1[0].header.Log, run2[0].header.Log, "a new log id")
	assert.Equal(t, uint64(0), starts[0].header.Index)
	assert.Equal(t, uint64(1), firstOfStream(run2, "a").header.Seq, "streams start over in the new log")
	links := verifyChains(t, append(run1, run2...))
	assert.Len(t, links, 2)
	assert.Equal(t, uint64(4), heads2[0].Size)
	assert.Equal(t, int64(1), counter(t, tel2, metricEpochs))
}

func TestOriginChangeStartsNewEpoch(t *testing.T) {
	dir := t.TempDir()
	run1, _, _ := runOnce(t, dir, "o1", batch("r1", 3, "a"))
	run2, _, _ := runOnce(t, dir, "o2", batch("r2", 2, "a"))

	starts := withEvent(run2, integrity.EventEpochStart)
	require.Len(t, starts, 1)
	attrs := starts[0].lr.Attributes()
	reason, _ := attrs.Get("agent_audit.chain.reason")
	assert.Equal(t, ReasonOriginChanged, reason.Str())
	prevID, ok := attrs.Get("agent_audit.chain.previous_log_id")
	require.True(t, ok)
	assert.Equal(t, run1[0].header.Log, prevID.Str())
	prevSize, ok := attrs.Get("agent_audit.chain.previous_size")
	require.True(t, ok)
	assert.Equal(t, int64(len(run1)), prevSize.Int())
	origin, _, err := integrity.SplitLogID(run2[0].header.Log)
	require.NoError(t, err)
	assert.Equal(t, "o2", origin)
	assert.Equal(t, uint64(1), firstOfStream(run2, "a").header.Seq, "a head of the old log is not used in the new one")
	verifyChains(t, append(run1, run2...))

	// The new epoch was made durable at start: the next restart continues it.
	run3, _, _ := runOnce(t, dir, "o2", batch("r3", 1, "a"))
	assert.Empty(t, withEvent(run3, integrity.EventEpochStart))
	assert.Equal(t, run2[0].header.Log, run3[0].header.Log)
	assert.Equal(t, uint64(3), run3[0].header.Seq)
	links := verifyChains(t, append(append(run1, run2...), run3...))
	assert.Len(t, links, 2)
}

func TestUnreadableStateStartsNewEpoch(t *testing.T) {
	dir := t.TempDir()
	run1, _, _ := runOnce(t, dir, "o1", batch("r1", 2, "a"))

	// Overwrite the log state with garbage through the storage itself.
	ext, stop := startFileStorage(t, dir)
	client, err := ext.(storage.Extension).GetClient(context.Background(), component.KindProcessor, component.NewID(metadata.Type), "")
	require.NoError(t, err)
	require.NoError(t, client.Set(context.Background(), "log", []byte("{not json")))
	require.NoError(t, client.Close(context.Background()))
	stop()

	run2, _, _ := runOnce(t, dir, "o1", batch("r2", 2, "a"))
	starts := withEvent(run2, integrity.EventEpochStart)
	require.Len(t, starts, 1)
	reason, _ := starts[0].lr.Attributes().Get("agent_audit.chain.reason")
	assert.Equal(t, ReasonStateUnreadable, reason.Str())
	assert.NotEqual(t, run1[0].header.Log, run2[0].header.Log)
	verifyChains(t, append(run1, run2...))
}

func TestWithoutStorageEveryStartIsANewEpoch(t *testing.T) {
	var logIDs []string
	for run := 0; run < 2; run++ {
		sink := new(consumertest.LogsSink)
		p, tel := startChain(t, testConfig("o", false), sink, componenttest.NewNopHost())
		require.NoError(t, p.ConsumeLogs(context.Background(), batch("r", 2, "a")))
		require.NoError(t, p.Shutdown(context.Background()))
		recs := records(t, sink.AllLogs()...)
		starts := withEvent(recs, integrity.EventEpochStart)
		require.Len(t, starts, 1)
		reason, _ := starts[0].lr.Attributes().Get("agent_audit.chain.reason")
		assert.Equal(t, ReasonNoState, reason.Str())
		assert.Equal(t, uint64(1), firstOfStream(recs, "a").header.Seq)
		assert.Equal(t, int64(1), counter(t, tel, metricEpochs))
		verifyChains(t, recs)
		logIDs = append(logIDs, recs[0].header.Log)
	}
	assert.NotEqual(t, logIDs[0], logIDs[1])
}

func TestDownstreamErrorVoidsRecords(t *testing.T) {
	ctx := context.Background()
	next := &flakyConsumer{}
	p, tel := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())

	require.NoError(t, p.ConsumeLogs(ctx, batch("ok1", 3, "s1")))

	errDown := errors.New("queue is full")
	next.setErr(errDown)
	err := p.ConsumeLogs(ctx, batch("refused", 4, "s1", "s2"))
	require.ErrorIs(t, err, errDown)
	assert.False(t, consumererror.IsPermanent(err), "the sender must retry")
	next.setErr(nil)

	require.NoError(t, p.ConsumeLogs(ctx, batch("ok2", 2, "s1")))

	passed := records(t, next.AllLogs()...)
	refused := records(t, next.refusedBatches()...)
	require.Len(t, refused, 4)
	require.Len(t, passed, 1+3+2+1, "epoch start, two batches and the void notice")
	voids := withEvent(passed, integrity.EventVoid)
	require.Len(t, voids, 1)
	void := voids[0]
	assert.Equal(t, integrity.CollectorStream, void.header.Stream)
	assert.Equal(t, uint64(2), void.header.Seq, "after the epoch start")
	assert.Equal(t, plog.SeverityNumberWarn, void.lr.SeverityNumber())
	attrs := void.lr.Attributes()
	cnt, _ := attrs.Get("agent_audit.chain.voided_count")
	assert.Equal(t, int64(4), cnt.Int())
	cause, _ := attrs.Get("agent_audit.chain.voided_error")
	assert.Equal(t, "queue is full", cause.Str())
	list, ok := attrs.Get(integrity.AttrVoidedRecords)
	require.True(t, ok)
	require.Equal(t, pcommon.ValueTypeSlice, list.Type())
	require.Equal(t, 4, list.Slice().Len())
	for i, r := range refused {
		m := list.Slice().At(i).Map()
		idx, _ := m.Get("index")
		stream, _ := m.Get("stream")
		seq, _ := m.Get("seq")
		link, _ := m.Get("link")
		assert.Equal(t, int64(r.header.Index), idx.Int())
		assert.Equal(t, r.header.Stream, stream.Str())
		assert.Equal(t, int64(r.header.Seq), seq.Int())
		assert.Equal(t, r.header.Link().String(), link.Str())
	}

	// The refused records keep their places: with them, the log is whole and
	// its streams unbroken; the head passed on covers them.
	links := verifyChains(t, append(passed, refused...))
	require.Len(t, links, 1)
	logID := void.header.Log
	require.Len(t, links[logID], 11)
	heads := treeHeads(t, next.Contexts())
	// After a refusal the void notice goes out on its own before the next
	// batch is chained.
	require.Len(t, heads, 3)
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 4, Root: rootOf(links[logID], 4)}, heads[0])
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 9, Root: rootOf(links[logID], 9)}, heads[1])
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 11, Root: rootOf(links[logID], 11)}, heads[2])

	metadatatest.AssertEqualProcessorChainRecordsVoided(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 4}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	assert.Equal(t, int64(9), counter(t, tel, metricChained))
}

func TestFirstBatchRefusedKeepsEpochStartPending(t *testing.T) {
	ctx := context.Background()
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())

	next.setErr(errors.New("down"))
	require.Error(t, p.ConsumeLogs(ctx, batch("refused", 2, "s1")))
	next.setErr(nil)
	require.NoError(t, p.ConsumeLogs(ctx, batch("ok", 1, "s1")))

	passed := records(t, next.AllLogs()...)
	assert.Len(t, withEvent(passed, integrity.EventEpochStart), 1, "released once, with the first batch that got through")
	voids := withEvent(passed, integrity.EventVoid)
	require.Len(t, voids, 1)
	list, _ := voids[0].lr.Attributes().Get(integrity.AttrVoidedRecords)
	assert.Equal(t, 2, list.Slice().Len(), "only the refused records are void, not the pending notice")

	refused := withoutEvent(records(t, next.refusedBatches()...), integrity.EventEpochStart)
	require.Len(t, refused, 2)
	links := verifyChains(t, append(passed, refused...))
	require.Len(t, links, 1)
	for _, l := range links {
		assert.Len(t, l, 5)
	}
}

func TestShutdownReleasesVoidNotice(t *testing.T) {
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("ok", 1, "s1")))
	next.setErr(errors.New("down"))
	require.Error(t, p.ConsumeLogs(context.Background(), batch("refused", 1, "s1")))
	next.setErr(nil)
	require.NoError(t, p.Shutdown(context.Background()))
	passed := records(t, next.AllLogs()...)
	require.Len(t, withEvent(passed, integrity.EventVoid), 1)
	heads := treeHeads(t, next.Contexts())
	require.Len(t, heads, 2)
	assert.Equal(t, uint64(4), heads[1].Size)
}

func TestShutdownReportsReleaseFailure(t *testing.T) {
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())
	next.setErr(errors.New("down"))
	err := p.Shutdown(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "releasing pending records")
	assert.ErrorContains(t, err, "down")
}

func TestReservedEventNamesAreRefused(t *testing.T) {
	for _, name := range []string{
		integrity.EventCheckpoint,
		integrity.EventVoid,
		integrity.EventKeyAnnouncement,
		integrity.EventEpochStart,
		"agent_audit.key.rotation",
	} {
		t.Run(name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p, tel := startChain(t, testConfig("o", false), sink, componenttest.NewNopHost())
			ld := batch("b", 3, "s1")
			ld.ResourceLogs().At(0).ScopeLogs().At(1).LogRecords().At(0).SetEventName(name)
			err := p.ConsumeLogs(context.Background(), ld)
			require.Error(t, err)
			assert.True(t, consumererror.IsPermanent(err), "a retry cannot help: %v", err)
			assert.ErrorContains(t, err, name)
			assert.Zero(t, sink.LogRecordCount(), "nothing is passed on")
			for _, r := range records(t, ld) {
				assert.False(t, r.chained, "a refused batch is not chained")
			}
			assert.Zero(t, counter(t, tel, metricChained))

			// The refused batch took no place in the log.
			require.NoError(t, p.ConsumeLogs(context.Background(), batch("next", 1, "s1")))
			recs := records(t, sink.AllLogs()...)
			require.Len(t, recs, 2)
			rec := withoutEvent(recs, integrity.EventEpochStart)[0]
			assert.Equal(t, uint64(1), rec.header.Seq)
			assert.Equal(t, uint64(1), rec.header.Index)
		})
	}
}

func TestSimilarEventNamesAreAllowed(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, _ := startChain(t, testConfig("o", false), sink, componenttest.NewNopHost())
	ld := batch("b", 2, "s1")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetEventName("agent_audit.checkpointing")
	ld.ResourceLogs().At(0).ScopeLogs().At(1).LogRecords().At(0).SetEventName("agent_audit.session.start")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	verifyChains(t, records(t, sink.AllLogs()...))
}

func TestChainedRecordsPassThroughUntouched(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, tel := startChain(t, testConfig("o", false), sink, componenttest.NewNopHost())

	// A checkpoint and a record chained by an upstream collector, and one
	// record of our own.
	ld := batch("local", 1, "s1")
	upstream := ld.ResourceLogs().AppendEmpty()
	sl := upstream.ScopeLogs().AppendEmpty()
	cp := sl.LogRecords().AppendEmpty()
	cp.SetEventName(integrity.EventCheckpoint)
	cp.Body().SetStr("upstream/7\n3\nAAAA\n")
	cp.Attributes().PutStr(integrity.AttrLogID, "upstream/7")
	rec := sl.LogRecords().AppendEmpty()
	rec.Body().SetStr("chained upstream")
	h := integrity.ChainHeader{
		Digest: integrity.RecordDigest(integrity.AppendCanonical(nil, upstream, sl, rec)),
		Index:  2, Log: "upstream/7", Seq: 2, Stream: "x",
	}
	h.SetAttributes(rec.Attributes())
	before := plog.NewLogs()
	upstream.CopyTo(before.ResourceLogs().AppendEmpty())

	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	out := sink.AllLogs()
	require.Len(t, out, 1)
	// Batch order: the local records, the upstream ones, then the epoch start.
	require.Equal(t, 3, out[0].ResourceLogs().Len())
	assert.Equal(t, before.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw(),
		out[0].ResourceLogs().At(1).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw())
	assert.Equal(t, before.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Attributes().AsRaw(),
		out[0].ResourceLogs().At(1).ScopeLogs().At(0).LogRecords().At(1).Attributes().AsRaw())

	var ours []outRecord
	for _, r := range records(t, out...) {
		if r.lr.Body().Str() == "chained upstream" || r.event() == integrity.EventCheckpoint {
			continue
		}
		ours = append(ours, r)
	}
	require.Len(t, ours, 2)
	links := verifyChains(t, ours)
	require.Len(t, links, 1)
	heads := treeHeads(t, sink.Contexts())
	assert.Equal(t, uint64(2), heads[0].Size, "upstream records take no leaf")
	assert.Equal(t, int64(1), counter(t, tel, metricChained))

	// A batch of upstream records only still passes on, with the head.
	only := plog.NewLogs()
	before.CopyTo(only)
	require.NoError(t, p.ConsumeLogs(context.Background(), only))
	require.Len(t, sink.AllLogs(), 2)
	assert.Equal(t, 2, sink.AllLogs()[1].LogRecordCount())
	assert.Equal(t, heads[0], treeHeads(t, sink.Contexts())[1])
}

func TestShutdownReleasesEpochStart(t *testing.T) {
	dir := t.TempDir()
	ext, stop := startFileStorage(t, dir)
	sink := new(consumertest.LogsSink)
	p, _ := startChain(t, testConfig("o", true), sink, testHost{testStorageID: ext})
	assert.Zero(t, sink.LogRecordCount(), "the epoch start waits for the first batch")
	require.NoError(t, p.Shutdown(context.Background()))
	stop()

	recs := records(t, sink.AllLogs()...)
	require.Len(t, recs, 1)
	assert.Equal(t, integrity.EventEpochStart, recs[0].event())
	links := verifyChains(t, recs)
	heads := treeHeads(t, sink.Contexts())
	require.Len(t, heads, 1)
	logID := recs[0].header.Log
	assert.Equal(t, integrity.TreeHead{LogID: logID, Size: 1, Root: rootOf(links[logID], 1)}, heads[0])

	// The released record is durable: the next run continues after it.
	run2, _, _ := runOnce(t, dir, "o", batch("r2", 1, "a"))
	require.Len(t, run2, 1)
	assert.Equal(t, logID, run2[0].header.Log)
	assert.Equal(t, uint64(1), run2[0].header.Index)
}

func TestShutdownWithoutStartIsNoop(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, _ := newChain(t, testConfig("o", false), sink)
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Zero(t, sink.LogRecordCount())
}

func TestStartFailsWithoutStorageExtension(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		p, _ := newChain(t, testConfig("o", true), consumertest.NewNop())
		err := p.Start(context.Background(), componenttest.NewNopHost())
		require.Error(t, err)
		assert.ErrorContains(t, err, `storage "file_storage/chain": no such extension`)
	})
	t.Run("not a storage extension", func(t *testing.T) {
		p, _ := newChain(t, testConfig("o", true), consumertest.NewNop())
		nop, err := extensiontest.NewNopFactory().Create(context.Background(),
			extensiontest.NewNopSettings(extensiontest.NopType), extensiontest.NewNopFactory().CreateDefaultConfig())
		require.NoError(t, err)
		err = p.Start(context.Background(), testHost{testStorageID: nop})
		require.Error(t, err)
		assert.ErrorContains(t, err, "is not a storage extension")
	})
}

func TestOriginDefaultsToHostName(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	sink := new(consumertest.LogsSink)
	p, _ := startChain(t, testConfig("", false), sink, componenttest.NewNopHost())
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("b", 1, "s")))
	origin, _, err := integrity.SplitLogID(records(t, sink.AllLogs()...)[0].header.Log)
	require.NoError(t, err)
	assert.Equal(t, integrity.OriginForHost(host), origin)
	assert.NoError(t, integrity.ValidateOrigin(integrity.OriginForHost("bad host+name\n")))
}

func TestCreateRefusesInvalidOrigin(t *testing.T) {
	_, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type),
		testConfig("bad origin", false), consumertest.NewNop())
	require.Error(t, err)
}

// One component id in several pipelines is one log: the factory returns
// instances sharing it, and only the last Shutdown releases pending records.
func TestInstancesOfOneComponentShareALog(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig("o", false)
	set := processortest.NewNopSettings(metadata.Type)
	sink1, sink2 := new(consumertest.LogsSink), new(consumertest.LogsSink)
	p1, err := NewFactory().CreateLogs(ctx, set, cfg, sink1)
	require.NoError(t, err)
	p2, err := NewFactory().CreateLogs(ctx, set, cfg, sink2)
	require.NoError(t, err)
	require.NoError(t, p1.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, p2.Start(ctx, componenttest.NewNopHost()))

	require.NoError(t, p1.Shutdown(ctx))
	assert.Zero(t, sink1.LogRecordCount()+sink2.LogRecordCount(), "p2 still runs: nothing is flushed yet")

	require.NoError(t, p2.ConsumeLogs(ctx, batch("b", 2, "s")))
	require.NoError(t, p2.Shutdown(ctx))
	recs := records(t, sink2.AllLogs()...)
	require.Len(t, recs, 3)
	assert.Len(t, withEvent(recs, integrity.EventEpochStart), 1, "one log, one epoch start")
	verifyChains(t, recs)
}
