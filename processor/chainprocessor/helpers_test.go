package chainprocessor

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor/internal/metadata"
)

var testStorageID = component.MustNewIDWithName("file_storage", "chain")

// testHost is a component.Host that holds the given extensions
// (componenttest's nop host holds none).
type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

// startFileStorage starts a real file_storage extension (fsync on) on dir.
// The returned function shuts it down; it is safe to call more than once and
// is also run at cleanup.
func startFileStorage(t *testing.T, dir string) (component.Component, func()) {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	cfg.Compaction.Directory = dir
	cfg.FSync = true
	require.NoError(t, cfg.Validate())
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	var once sync.Once
	stop := func() {
		once.Do(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	}
	t.Cleanup(stop)
	return ext, stop
}

// testConfig returns a new *Config (a new pointer, so the factory creates a
// new chain log rather than returning the cached one).
func testConfig(origin string, withStorage bool) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Origin = origin
	if withStorage {
		id := testStorageID
		cfg.Storage = &id
	}
	return cfg
}

// newChain creates a chain processor with its own telemetry; it is shut down
// at cleanup (a second Shutdown is a no-op).
func newChain(t *testing.T, cfg *Config, next consumer.Logs) (processor.Logs, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, tel
}

// startChain creates and starts a chain processor.
func startChain(t *testing.T, cfg *Config, next consumer.Logs, host component.Host) (processor.Logs, *componenttest.Telemetry) {
	t.Helper()
	p, tel := newChain(t, cfg, next)
	require.NoError(t, p.Start(context.Background(), host))
	return p, tel
}

// batch builds one ResourceLogs with two scopes; record i is in stream
// streams[i%len(streams)] (as session.id) and has body "<label>-<i>".
func batch(label string, n int, streams ...string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl("https://opentelemetry.io/schemas/1.30.0")
	rl.Resource().Attributes().PutStr("host.id", "host-1")
	rl.Resource().Attributes().PutStr("service.name", "agent")
	scopes := []plog.ScopeLogs{rl.ScopeLogs().AppendEmpty(), rl.ScopeLogs().AppendEmpty()}
	scopes[0].Scope().SetName("scope-a")
	scopes[1].Scope().SetName("scope-b")
	scopes[1].Scope().SetVersion("1.2.3")
	scopes[1].SetSchemaUrl("https://example.com/schema")
	for i := 0; i < n; i++ {
		lr := scopes[i%2].LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + i))
		lr.SetEventName("agent_audit.tool.call")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Body().SetStr(fmt.Sprintf("%s-%d", label, i))
		lr.Attributes().PutStr("session.id", streams[i%len(streams)])
		lr.Attributes().PutInt("n", int64(i))
	}
	return ld
}

// outRecord is a record as it left the chain processor.
type outRecord struct {
	canonical []byte
	header    integrity.ChainHeader
	chained   bool
	headerErr error // a malformed chain header
	lr        plog.LogRecord
	resource  pcommon.Resource
	scope     pcommon.InstrumentationScope
}

func (r outRecord) event() string { return r.lr.EventName() }
func (r outRecord) body() string  { return r.lr.Body().AsString() }

// records flattens batches, reading each record's chain header.
func records(_ *testing.T, lds ...plog.Logs) []outRecord {
	var out []outRecord
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				for k := 0; k < sl.LogRecords().Len(); k++ {
					lr := sl.LogRecords().At(k)
					h, ok, err := integrity.HeaderFromAttributes(lr.Attributes())
					out = append(out, outRecord{
						canonical: integrity.AppendCanonical(nil, rl, sl, lr),
						header:    h,
						chained:   ok,
						headerErr: err,
						lr:        lr,
						resource:  rl.Resource(),
						scope:     sl.Scope(),
					})
				}
			}
		}
	}
	return out
}

// withEvent returns the records with this event name.
func withEvent(recs []outRecord, event string) []outRecord {
	var out []outRecord
	for _, r := range recs {
		if r.event() == event {
			out = append(out, r)
		}
	}
	return out
}

// withoutEvent returns the records with another event name.
func withoutEvent(recs []outRecord, event string) []outRecord {
	var out []outRecord
	for _, r := range recs {
		if r.event() != event {
			out = append(out, r)
		}
	}
	return out
}

// verifyChains checks every property a verifier checks on chained records:
// digests match the canonical form, every stream of every log is numbered
// 1..N without gaps or duplicates and each record's prev_hash is the link of
// its predecessor (64 zeros for the first), and the leaf indices of each log
// are exactly 0..size-1. It returns each log's links in leaf order.
func verifyChains(t *testing.T, recs []outRecord) map[string][]integrity.Hash {
	t.Helper()
	type streamKey struct{ log, stream string }
	streams := map[streamKey][]integrity.ChainHeader{}
	leaves := map[string]map[uint64]integrity.Hash{}
	for _, r := range recs {
		require.True(t, r.chained, "record %q is not chained", r.body())
		require.NoError(t, r.headerErr, "record %q", r.body())
		h := r.header
		require.Equal(t, integrity.RecordDigest(r.canonical), h.Digest, "digest of %q", r.body())
		k := streamKey{h.Log, h.Stream}
		streams[k] = append(streams[k], h)
		if leaves[h.Log] == nil {
			leaves[h.Log] = map[uint64]integrity.Hash{}
		}
		_, dup := leaves[h.Log][h.Index]
		require.False(t, dup, "leaf %d of %s used twice", h.Index, h.Log)
		leaves[h.Log][h.Index] = h.Link()
	}
	for k, hs := range streams {
		sort.Slice(hs, func(i, j int) bool { return hs[i].Seq < hs[j].Seq })
		var prev integrity.Hash // zeros
		for i, h := range hs {
			require.Equal(t, uint64(i+1), h.Seq, "stream %q of %s: sequence numbers must be 1..N", k.stream, k.log)
			require.Equal(t, prev, h.Prev, "stream %q of %s: prev_hash of seq %d", k.stream, k.log, h.Seq)
			prev = h.Link()
		}
	}
	out := map[string][]integrity.Hash{}
	for log, m := range leaves {
		links := make([]integrity.Hash, len(m))
		for idx, link := range m {
			require.Less(t, idx, uint64(len(m)), "leaf indices of %s must be 0..%d", log, len(m)-1)
			links[idx] = link
		}
		out[log] = links
	}
	return out
}

// rootOf is the root of a Merkle log of the first n links.
func rootOf(links []integrity.Hash, n uint64) integrity.Hash {
	l := integrity.NewMerkleLog()
	for _, link := range links[:n] {
		l.Append(link)
	}
	return l.Root()
}

// treeHeads returns the tree heads the contexts passed to next carried.
func treeHeads(t *testing.T, ctxs []context.Context) []integrity.TreeHead {
	t.Helper()
	heads := make([]integrity.TreeHead, 0, len(ctxs))
	for _, ctx := range ctxs {
		th, ok := integrity.TreeHeadFromContext(ctx)
		require.True(t, ok, "every batch passed on carries a tree head")
		heads = append(heads, th)
	}
	return heads
}

// flakyConsumer passes batches to a sink, or refuses them with err while
// err is set (keeping a copy of every refused batch).
type flakyConsumer struct {
	consumertest.LogsSink
	mu      sync.Mutex
	err     error
	refused []plog.Logs
}

func (c *flakyConsumer) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

func (c *flakyConsumer) refusedBatches() []plog.Logs {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.refused)
}

func (c *flakyConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	c.mu.Lock()
	err := c.err
	if err != nil {
		cp := plog.NewLogs()
		ld.CopyTo(cp)
		c.refused = append(c.refused, cp)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.LogsSink.ConsumeLogs(ctx, ld)
}

// counter reads the value of a monotonic int64 counter (0 when it was
// never recorded).
func counter(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum", name)
	var v int64
	for _, dp := range sum.DataPoints {
		v += dp.Value
	}
	return v
}
