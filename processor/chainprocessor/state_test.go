package chainprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor/internal/metadata"
)

// memStorage is an in-memory storage extension whose writes can be made to
// fail, and whose content a test can read while the processor runs.
type memStorage struct {
	mu        sync.Mutex
	data      map[string][]byte
	failBatch atomic.Bool
	open      atomic.Int32
}

var _ storage.Extension = (*memStorage)(nil)

func newMemStorage() *memStorage { return &memStorage{data: map[string][]byte{}} }

func (*memStorage) Start(context.Context, component.Host) error { return nil }
func (*memStorage) Shutdown(context.Context) error              { return nil }

func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	m.open.Add(1)
	return &memClient{m: m}, nil
}

// log returns the persisted log state.
func (m *memStorage) log(t *testing.T) persistedLog {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var st persistedLog
	require.NoError(t, json.Unmarshal(m.data[keyLog], &st))
	return st
}

func (m *memStorage) head(t *testing.T, stream string) persistedHead {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var h persistedHead
	require.NoError(t, json.Unmarshal(m.data[keyStreamPrefix+stream], &h))
	return h
}

type memClient struct {
	m      *memStorage
	closed atomic.Bool
}

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.m.data[key], nil
}

func (c *memClient) Set(_ context.Context, key string, value []byte) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.data[key] = value
	return nil
}

func (c *memClient) Delete(_ context.Context, key string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	delete(c.m.data, key)
	return nil
}

func (c *memClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	if c.m.failBatch.Load() {
		return errors.New("disk full")
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			c.m.data[op.Key] = op.Value
		case storage.Delete:
			delete(c.m.data, op.Key)
		case storage.Get:
			op.Value = c.m.data[op.Key]
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error {
	if c.closed.CompareAndSwap(false, true) {
		c.m.open.Add(-1)
	}
	return nil
}

// durabilityChecker is a next consumer that checks, when a batch arrives,
// that the storage already holds the state of the tree head it brings.
type durabilityChecker struct {
	consumertest.LogsSink
	t     *testing.T
	store *memStorage
}

func (d *durabilityChecker) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	th, ok := integrity.TreeHeadFromContext(ctx)
	if !ok {
		d.t.Error("batch without tree head")
	} else {
		d.store.mu.Lock()
		var st persistedLog
		err := json.Unmarshal(d.store.data[keyLog], &st)
		d.store.mu.Unlock()
		if err != nil || st.Size < th.Size || integrity.LogID(st.Origin, st.Epoch) != th.LogID {
			d.t.Errorf("batch released before its state was durable: head %+v, stored %s size %d (%v)",
				th, integrity.LogID(st.Origin, st.Epoch), st.Size, err)
		}
	}
	return d.LogsSink.ConsumeLogs(ctx, ld)
}

func TestStateIsDurableBeforeRelease(t *testing.T) {
	store := newMemStorage()
	next := &durabilityChecker{t: t, store: store}
	p, _ := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})

	// The new epoch is written at start, before any record leaves.
	st := store.log(t)
	assert.Equal(t, "o", st.Origin)
	assert.Equal(t, uint64(1), st.Size)

	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < 25; c++ {
				assert.NoError(t, p.ConsumeLogs(context.Background(), batch(fmt.Sprintf("g%d-%d", g, c), 6, "a", "b")))
			}
		}()
	}
	wg.Wait()
	recs := records(t, next.AllLogs()...)
	require.Equal(t, 601, len(recs))
	links := verifyChains(t, recs)
	require.Len(t, links, 1)

	// The stored state is the log's: size, compact range and stream heads.
	st = store.log(t)
	logID := integrity.LogID(st.Origin, st.Epoch)
	require.Contains(t, links, logID)
	assert.Equal(t, uint64(601), st.Size)
	restored, err := integrity.RestoreMerkleLog(st.Size, st.Hashes)
	require.NoError(t, err)
	assert.Equal(t, rootOf(links[logID], 601), restored.Root())
	for _, s := range []string{"a", "b", integrity.CollectorStream} {
		last := lastOfStream(recs, s)
		h := store.head(t, s)
		assert.Equal(t, st.Epoch, h.Epoch, s)
		assert.Equal(t, last.header.Seq, h.Seq, s)
		assert.Equal(t, last.header.Link().String(), h.Link, s)
	}

	require.NoError(t, p.Shutdown(context.Background()))
	assert.Zero(t, store.open.Load(), "the storage client is closed at shutdown")
}

func TestStateWriteFailureStartsNewEpoch(t *testing.T) {
	store := newMemStorage()
	next := &durabilityChecker{t: t, store: store}
	p, tel := startChain(t, testConfig("o", true), next, testHost{testStorageID: store})

	require.NoError(t, p.ConsumeLogs(context.Background(), batch("ok1", 3, "a")))
	oldLog := store.log(t)
	oldID := integrity.LogID(oldLog.Origin, oldLog.Epoch)

	store.failBatch.Store(true)
	err := p.ConsumeLogs(context.Background(), batch("failed", 2, "a"))
	require.Error(t, err)
	assert.ErrorContains(t, err, "writing state")
	assert.ErrorContains(t, err, "disk full")
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_chain_state_write_errors"))
	assert.Len(t, next.AllLogs(), 1, "the failed batch is not released")
	store.failBatch.Store(false)

	require.NoError(t, p.ConsumeLogs(context.Background(), batch("ok2", 2, "a")))
	require.Len(t, next.AllLogs(), 2)
	second := records(t, next.AllLogs()[1])
	starts := withEvent(second, integrity.EventEpochStart)
	require.Len(t, starts, 1, "the next batch begins a new log")
	attrs := starts[0].lr.Attributes()
	reason, _ := attrs.Get("agent_audit.chain.reason")
	assert.Equal(t, ReasonStateWriteFailed, reason.Str())
	prevID, _ := attrs.Get("agent_audit.chain.previous_log_id")
	assert.Equal(t, oldID, prevID.Str())
	prevSize, ok := attrs.Get("agent_audit.chain.previous_size")
	require.True(t, ok)
	assert.GreaterOrEqual(t, prevSize.Int(), int64(4), "at least what the old log released")
	for _, r := range withoutEvent(second, integrity.EventEpochStart) {
		assert.NotEqual(t, oldID, r.header.Log)
		assert.True(t, strings.HasPrefix(r.body(), "ok2-"))
	}
	assert.Equal(t, uint64(1), firstOfStream(second, "a").header.Seq)
	for _, r := range records(t, next.AllLogs()...) {
		assert.False(t, strings.HasPrefix(r.body(), "failed-"), "a record of the failed batch was released")
	}
	verifyChains(t, records(t, next.AllLogs()...))
	assert.Empty(t, withEvent(records(t, next.AllLogs()...), integrity.EventVoid),
		"nothing of the old log follows the failed batch: no void notice, the old log stays sealed")
	assert.Equal(t, int64(2), counter(t, tel, metricEpochs))
	assert.NotEqual(t, oldLog.Epoch, store.log(t).Epoch)
}

// gateConsumer holds the first batch it gets until released (and then
// refuses it if failFirst is set); the others pass at once.
type gateConsumer struct {
	consumertest.LogsSink
	failFirst bool
	entered   chan struct{}
	release   chan struct{}
	calls     atomic.Int32
}

func (g *gateConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if g.calls.Add(1) == 1 {
		close(g.entered)
		<-g.release
		if g.failFirst {
			return errors.New("refused")
		}
	}
	return g.LogsSink.ConsumeLogs(ctx, ld)
}

// A notice goes out with one batch only, even while that batch is still
// on its way and other batches overtake it.
func TestPendingNoticeIsReleasedOnce(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("first batch refused=%v", failFirst), func(t *testing.T) {
			next := &gateConsumer{failFirst: failFirst, entered: make(chan struct{}), release: make(chan struct{})}
			p, _ := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())

			firstErr := make(chan error, 1)
			go func() { firstErr <- p.ConsumeLogs(context.Background(), batch("first", 2, "a")) }()
			<-next.entered // the first batch, with the epoch start, is downstream
			require.NoError(t, p.ConsumeLogs(context.Background(), batch("second", 2, "a")))
			close(next.release)
			if failFirst {
				require.Error(t, <-firstErr)
			} else {
				require.NoError(t, <-firstErr)
			}
			require.NoError(t, p.ConsumeLogs(context.Background(), batch("third", 1, "a")))

			recs := records(t, next.AllLogs()...)
			assert.Equal(t, 1, len(withEvent(recs, integrity.EventEpochStart)), "epoch-start records passed on")
			if failFirst {
				assert.Equal(t, 1, len(withEvent(recs, integrity.EventVoid)))
			}
		})
	}
}

func TestVoidedErrorIsCutToValidUTF8(t *testing.T) {
	next := &flakyConsumer{}
	p, _ := startChain(t, testConfig("o", false), next, componenttest.NewNopHost())
	// 511 ASCII bytes, then two-byte runes: byte 512 is in the middle of one.
	next.setErr(errors.New(strings.Repeat("x", 511) + strings.Repeat("é", 10)))
	require.Error(t, p.ConsumeLogs(context.Background(), batch("refused", 1, "a")))
	next.setErr(nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), batch("ok", 1, "a")))
	voids := withEvent(records(t, next.AllLogs()...), integrity.EventVoid)
	require.Len(t, voids, 1)
	msg, _ := voids[0].lr.Attributes().Get("agent_audit.chain.voided_error")
	assert.LessOrEqual(t, len(msg.Str()), 512)
	assert.True(t, strings.HasPrefix(msg.Str(), strings.Repeat("x", 511)))
	assert.True(t, utf8.ValidString(msg.Str()), "an OTLP string must be valid UTF-8")
}

// Shutdown may be called again, or without Start (component.Component);
// neither may shut down a log that another pipeline's instance still uses.
func TestShutdownOfOneInstanceLeavesSharedLogRunning(t *testing.T) {
	ctx := context.Background()
	store := newMemStorage()
	host := testHost{testStorageID: store}
	cfg := testConfig("o", true)
	set := processortest.NewNopSettings(metadata.Type)
	sink1, sink2, sink3 := new(consumertest.LogsSink), new(consumertest.LogsSink), new(consumertest.LogsSink)
	p1, err := NewFactory().CreateLogs(ctx, set, cfg, sink1)
	require.NoError(t, err)
	p2, err := NewFactory().CreateLogs(ctx, set, cfg, sink2)
	require.NoError(t, err)
	p3, err := NewFactory().CreateLogs(ctx, set, cfg, sink3) // never started
	require.NoError(t, err)
	require.NoError(t, p1.Start(ctx, host))
	require.NoError(t, p2.Start(ctx, host))

	require.NoError(t, p1.Shutdown(ctx))
	require.NoError(t, p1.Shutdown(ctx))
	require.NoError(t, p3.Shutdown(ctx))
	assert.Zero(t, sink1.LogRecordCount()+sink3.LogRecordCount(), "p2 still runs: nothing is flushed")
	assert.Equal(t, int32(1), store.open.Load(), "p2 still runs: the storage stays open")

	require.NoError(t, p2.ConsumeLogs(ctx, batch("b", 2, "a")))
	assert.Equal(t, uint64(3), store.log(t).Size, "p2's batch is durable")
	require.NoError(t, p2.Shutdown(ctx))
	assert.Zero(t, store.open.Load())
	verifyChains(t, records(t, sink2.AllLogs()...))
}
