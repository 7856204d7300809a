package wormexporter

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadata"
)

// memStorage is a storage extension in memory whose disk can fill up:
// once full, every batch that writes fails with ENOSPC and changes
// nothing, as a transactional store on a full disk does.
type memStorage struct {
	mu        sync.Mutex
	data      map[string][]byte
	writesOK  int // writing batches still accepted before the disk is full; -1: no limit
	refusedAt []time.Time
	// deletesOnFull: a full disk still takes a batch that only deletes
	// (bbolt writes such a transaction into its file's free pages).
	deletesOnFull bool
}

func newMemStorage() *memStorage { return &memStorage{data: map[string][]byte{}, writesOK: -1} }

func (s *memStorage) Start(context.Context, component.Host) error { return nil }
func (s *memStorage) Shutdown(context.Context) error              { return nil }
func (s *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return s, nil
}

// fillAfter lets n more writing batches through, then refuses writes.
func (s *memStorage) fillAfter(n int) { s.mu.Lock(); s.writesOK = n; s.mu.Unlock() }
func (s *memStorage) free()           { s.mu.Lock(); s.writesOK = -1; s.mu.Unlock() }

func (s *memStorage) refusals() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.refusedAt) }

func (s *memStorage) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := s.Batch(ctx, op)
	return op.Value, err
}
func (s *memStorage) Set(ctx context.Context, key string, v []byte) error {
	return s.Batch(ctx, storage.SetOperation(key, v))
}
func (s *memStorage) Delete(ctx context.Context, key string) error {
	return s.Batch(ctx, storage.DeleteOperation(key))
}
func (s *memStorage) Close(context.Context) error { return nil }

func (s *memStorage) Batch(_ context.Context, ops ...*storage.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	writes, sets := false, false
	for _, op := range ops {
		writes = writes || op.Type != storage.Get
		sets = sets || op.Type == storage.Set
	}
	if writes && s.writesOK == 0 && (sets || !s.deletesOnFull) {
		s.refusedAt = append(s.refusedAt, time.Now())
		return &fsError{syscall.ENOSPC}
	}
	if writes && s.writesOK > 0 {
		s.writesOK--
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = append([]byte(nil), s.data[op.Key]...)
			if _, ok := s.data[op.Key]; !ok {
				op.Value = nil
			}
		case storage.Set:
			s.data[op.Key] = append([]byte(nil), op.Value...)
		case storage.Delete:
			delete(s.data, op.Key)
		}
	}
	return nil
}

type fsError struct{ errno syscall.Errno }

func (e *fsError) Error() string { return "write queue.db: " + e.errno.Error() }

type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

// The persistent queue must not lose a request it acknowledged when its
// storage refuses the write that records taking the request (a full state
// disk): the request is archived once the disk has space again. Without
// the storage guard, exporterhelper gives the request up and it never
// reaches the archive.
func TestQueuedRequestSurvivesFullStateDisk(t *testing.T) {
	dir := t.TempDir()
	st := newMemStorage()
	id := component.MustNewID("mem_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: dir}
	cfg.Origin = "test-origin"
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = &id
	q.NumConsumers = 1
	q.Batch = configoptional.None[exporterhelper.BatchConfig]() // one request, one export
	cfg.QueueConfig = configoptional.Some(q)
	core, logs := observer.New(zap.InfoLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), hostWith{id: st}))

	// The put of the request is the last write the disk takes.
	st.fillAfter(1)
	ld := plog.NewLogs()
	record(ld, "s-1", -1)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld), "the queue took the request: the agent is told so")
	require.Eventually(t, func() bool { return st.refusals() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"the queue tries to take the request while the disk is full")
	assert.Empty(t, segments(t, dir))

	st.free()
	require.Eventually(t, func() bool { return len(segments(t, dir)) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the acknowledged request is archived once the disk has space")
	assert.Equal(t, 1, logs.FilterMessageSnippet("cannot record that it took a request").Len())
	assert.Contains(t, logs.FilterMessageSnippet("cannot record").All()[0].ContextMap()["error"], "no space left on device")
	require.NoError(t, exp.Shutdown(context.Background()))
	// Every refusal the guard met is counted, for an alert on the metric.
	m, err := tel.GetMetric("otelcol_exporter_worm_queue_storage_refusals")
	require.NoError(t, err)
	sum := m.Data.(metricdata.Sum[int64])
	require.Len(t, sum.DataPoints, 1)
	assert.Equal(t, int64(st.refusals()), sum.DataPoints[0].Value)
}

// At shutdown the guard gives up waiting, so a collector whose state disk
// stays full still stops (the request stays in storage for the restart).
func TestStorageGuardLetsShutdownThrough(t *testing.T) {
	st := newMemStorage()
	id := component.MustNewID("mem_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: t.TempDir()}
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = &id
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	cfg.QueueConfig = configoptional.Some(q)
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), hostWith{id: st}))
	st.fillAfter(1)
	ld := plog.NewLogs()
	record(ld, "s-1", -1)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.Eventually(t, func() bool { return st.refusals() >= 2 }, 10*time.Second, 10*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- exp.Shutdown(context.Background()) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown hangs while the state disk is full")
	}
}

// newGuardedExporter is a worm exporter archiving into dir whose
// persistent queue (one consumer, no batching) stores in st.
func newGuardedExporter(t *testing.T, st *memStorage, dir string, logger *zap.Logger) exporter.Logs {
	t.Helper()
	id := component.MustNewID("mem_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: dir}
	cfg.Origin = "test-origin"
	q := exporterhelper.NewDefaultQueueConfig()
	q.StorageID = &id
	q.NumConsumers = 1
	q.Batch = configoptional.None[exporterhelper.BatchConfig]()
	cfg.QueueConfig = configoptional.Some(q)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = logger
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	return exp
}

// When shutdown interrupts the guard's wait, the queue tries to delete
// the request it could not take; a full disk may still take a batch that
// only deletes. The request must stay in storage and be archived after a
// restart (the deletion lost it: the stored read index pointed at a
// deleted item).
func TestShutdownOnFullStateDiskKeepsTheRequest(t *testing.T) {
	st := newMemStorage()
	st.deletesOnFull = true
	dir := t.TempDir()
	host := hostWith{component.MustNewID("mem_storage"): st}
	exp := newGuardedExporter(t, st, dir, zap.NewNop())
	require.NoError(t, exp.Start(context.Background(), host))
	st.fillAfter(1)
	ld := plog.NewLogs()
	record(ld, "s-1", -1)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.Eventually(t, func() bool { return st.refusals() >= 2 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Empty(t, segments(t, dir))

	st.free()
	exp = newGuardedExporter(t, st, dir, zap.NewNop())
	require.NoError(t, exp.Start(context.Background(), host))
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool { return len(segments(t, dir)) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the acknowledged request is archived after the restart")
}

// A request that was being exported when the collector stopped (killed,
// or stopped while the export was retried) is put back into the queue at
// start. If the state disk is full then, exporterhelper deletes it from
// its dispatched list and fails to put it again: the acknowledged request
// is lost. The guard holds the start until the storage takes the put.
func TestStartOnFullStateDiskKeepsInFlightRequest(t *testing.T) {
	st := newMemStorage()
	host := hostWith{component.MustNewID("mem_storage"): st}
	first := t.TempDir()
	exp := newGuardedExporter(t, st, first, zap.NewNop())
	require.NoError(t, exp.Start(context.Background(), host))
	// The disk takes the put and the taking of the request, not the write
	// that records its export: the storage lists it as in flight, as after
	// a kill during the export.
	st.fillAfter(2)
	ld := plog.NewLogs()
	record(ld, "s-1", -1)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.Eventually(t, func() bool { return len(segments(t, first)) == 1 && st.refusals() >= 2 },
		10*time.Second, 10*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))

	// Restart on the still full disk, archiving elsewhere: the request
	// in flight must reach the new archive once the disk has space.
	second := t.TempDir()
	core, logs := observer.New(zap.InfoLevel)
	exp = newGuardedExporter(t, st, second, zap.New(core))
	refused := st.refusals()
	started := make(chan error, 1)
	go func() { started <- exp.Start(context.Background(), host) }()
	require.Eventually(t, func() bool { return st.refusals() >= refused+2 }, 10*time.Second, 10*time.Millisecond)
	st.free()
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("start hangs after the disk has space")
	}
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool { return len(segments(t, second)) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the request in flight at the stop is archived after the restart")
	assert.Positive(t, logs.FilterMessageSnippet("cannot put back").Len())
}

// fullDisk is an archive backend on a disk that can be full.
type fullDisk struct {
	full    bool
	written int
}

func (d *fullDisk) Put(_ context.Context, key string, _ []byte) (bool, error) {
	if d.full {
		return false, &os.PathError{Op: "write", Path: ".tmp/obj-1", Err: syscall.ENOSPC}
	}
	d.written++
	return false, nil
}

// A full archive disk is named in one error line when writes start to
// fail (not one per retry), and its end in one line when they work again.
func TestFullArchiveDiskIsLoggedOnce(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: t.TempDir()}
	core, logs := observer.New(zap.InfoLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	e, err := newWormExporter(cfg, set, "o")
	require.NoError(t, err)
	d := &fullDisk{full: true}
	e.backend = d
	ld := plog.NewLogs()
	record(ld, "s1", 1)
	for range 3 {
		err = e.pushLogs(context.Background(), ld)
		require.ErrorIs(t, err, syscall.ENOSPC)
		assert.False(t, consumererror.IsPermanent(err), "a full disk is retried, not dropped")
	}
	full := logs.FilterMessageSnippet("disk is full (ENOSPC)")
	require.Equal(t, 1, full.Len(), "one line for the whole episode")
	assert.Equal(t, zap.ErrorLevel, full.All()[0].Level)
	assert.Contains(t, full.All()[0].ContextMap()["error"], "no space left on device")

	d.full = false
	require.NoError(t, e.pushLogs(context.Background(), ld))
	require.NoError(t, e.pushLogs(context.Background(), ld))
	back := logs.FilterMessage("Archive writes succeed again")
	require.Equal(t, 1, back.Len())
	assert.Equal(t, int64(3), back.All()[0].ContextMap()["failed_writes"])
	assert.Equal(t, 2, d.written)
}

// halfFullDisk takes the first object it is given (and finds it again on
// a retry), and refuses every other with ENOSPC: the disk filled in the
// middle of a batch.
type halfFullDisk struct{ first string }

func (d *halfFullDisk) Put(_ context.Context, key string, _ []byte) (bool, error) {
	switch d.first {
	case "":
		d.first = key
		return false, nil
	case key:
		return true, nil // a retry finds the object it wrote
	}
	return false, &os.PathError{Op: "write", Path: ".tmp/obj-2", Err: syscall.ENOSPC}
}

// A batch whose first segment was written before the disk filled is
// retried: finding that segment again is not the end of the episode, so
// the retries log nothing more (they logged "succeed again" and a new
// "disk is full" line each).
func TestFullDiskMidBatchIsLoggedOnce(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: t.TempDir()}
	core, logs := observer.New(zap.InfoLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	e, err := newWormExporter(cfg, set, "o")
	require.NoError(t, err)
	e.backend = &halfFullDisk{}
	ld := plog.NewLogs()
	record(ld, "s-a", -1)
	record(ld, "s-b", -1)
	for range 3 {
		require.ErrorIs(t, e.pushLogs(context.Background(), ld), syscall.ENOSPC)
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("disk is full (ENOSPC)").Len(), "one line for the whole episode")
	assert.Zero(t, logs.FilterMessage("Archive writes succeed again").Len(), "the disk is still full")
}
