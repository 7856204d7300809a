package wormexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadatatest"
	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(id string) (*Config, error) {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	cfg, err := load("worm")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/agentaudit/archive", cfg.Local.Directory)
	assert.Equal(t, []string{"session.id", "host.id"}, cfg.StreamAttributes)
	assert.False(t, cfg.QueueConfig.HasValue(), "the queue is off by default: writes are synchronous")
	assert.Zero(t, cfg.RetryConfig.MaxElapsedTime, "retries never give up by default")

	cfg, err = load("worm/custom")
	require.NoError(t, err)
	assert.Equal(t, "gateway-eu-1", cfg.Origin)
	assert.Equal(t, []string{"tenant.id"}, cfg.StreamAttributes)
	require.True(t, cfg.QueueConfig.HasValue())
	assert.Equal(t, "file_storage", cfg.QueueConfig.Get().StorageID.String())
	assert.Equal(t, int64(500), cfg.QueueConfig.Get().QueueSize)

	_, err = load("worm/nobackend")
	require.ErrorContains(t, err, "no backend configured: set local.directory or s3.bucket")

	cfg, err = load("worm/s3")
	require.NoError(t, err)
	assert.Equal(t, "audit-archive", cfg.S3.Bucket)
	assert.Equal(t, "gateways/", cfg.S3.Prefix)
	assert.Equal(t, "GOVERNANCE", cfg.S3.lockMode())
	assert.Equal(t, 61320*time.Hour, cfg.S3.ObjectLock.Retention)
	assert.True(t, cfg.S3.ObjectLock.LegalHold)
	assert.Equal(t, "retry", cfg.S3.OnUnreachableAtStart)
	assert.Equal(t, archive.CompressionGzip, cfg.compression())

	cfg, err = load("worm/s3defaults")
	require.NoError(t, err)
	assert.Equal(t, "COMPLIANCE", cfg.S3.lockMode())
	assert.Equal(t, archive.CompressionZstd, cfg.compression(), "s3 compresses with zstd unless told otherwise")
	assert.Equal(t, 30*time.Second, cfg.TimeoutConfig.Timeout)
	cfg, err = load("worm")
	require.NoError(t, err)
	assert.Equal(t, archive.CompressionNone, cfg.compression(), "local archives stay plain NDJSON unless told otherwise")

	_, err = load("worm/s3bad")
	for _, want := range []string{
		"s3.bucket must be set",
		`s3.endpoint "s3.example.com" must be an http:// or https:// URL`,
		"s3.access_key_id and s3.secret_access_key go together",
		`s3.object_lock.mode "locked" must be COMPLIANCE or GOVERNANCE`,
		"s3.object_lock.retention must be set",
		`s3.on_unreachable_at_start "later" must be fail or retry`,
		`unknown compression "lz4"`,
	} {
		assert.ErrorContains(t, err, want)
	}
	_, err = load("worm/both")
	assert.ErrorContains(t, err, "set one backend, local or s3, not both")
}

func TestCompressedSegmentsVerifyAsPlainOnes(t *testing.T) {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: dir}
	cfg.Compression = "zstd"
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	ld := plog.NewLogs()
	record(ld, "s1", 1)
	record(ld, "s1", 2)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld), "a retry finds the same object")

	r, err := archive.OpenDir(dir)
	require.NoError(t, err)
	var keys []string
	require.NoError(t, r.Walk(context.Background(), func(o archive.Object) error {
		require.NoError(t, o.Corrupt)
		keys = append(keys, o.Key)
		logs, err := archive.DecodeSegment(o.Data)
		require.NoError(t, err)
		assert.Len(t, logs, 2)
		return nil
	}))
	require.Len(t, keys, 1)
	assert.True(t, strings.HasSuffix(keys[0], ".ndjson.zst"), keys[0])
	assert.Contains(t, keys[0], "o1/5/streams/s1/seq-00000000000000000001-00000000000000000002-")
}

// record appends a record; with seq >= 0 it is chained as the chain
// processor would (log "o1/5", stream = session).
func record(ld plog.Logs, session string, seq int64) plog.LogRecord {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.id", "h1")
	sl := rl.ScopeLogs().AppendEmpty()
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("agent_audit.tool.call")
	lr.SetTimestamp(1_000 + 0)
	if session != "" {
		lr.Attributes().PutStr("session.id", session)
	}
	if seq >= 0 {
		c := integrity.AppendCanonical(nil, rl, sl, lr)
		h := integrity.ChainHeader{Digest: integrity.RecordDigest(c), Index: uint64(seq), Log: "o1/5", Seq: uint64(seq), Stream: session}
		h.SetAttributes(lr.Attributes())
	}
	return lr
}

func startExporter(t *testing.T, dir string) (exporter.Logs, *componenttest.Telemetry) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: dir}
	cfg.Origin = "test-origin"
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp, tel
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() && strings.HasSuffix(path, archive.SegmentSuffix) {
			rel, _ := filepath.Rel(dir, path)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	}))
	sort.Strings(keys)
	return keys
}

func TestOneSegmentPerStreamAndIdempotentRetry(t *testing.T) {
	dir := t.TempDir()
	exp, tel := startExporter(t, dir)
	ld := plog.NewLogs()
	record(ld, "s-2", -1)
	record(ld, "s-1", -1)
	record(ld, "s-2", -1)
	record(ld, "", -1) // falls back to the resource's host.id
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))

	keys := segments(t, dir)
	require.Len(t, keys, 3)
	assert.Regexp(t, `^test-origin/unchained/h1/time-00000000000000001000-00000000000000001000-[0-9a-f]{16}\.ndjson$`, keys[0])
	assert.Regexp(t, `^test-origin/unchained/s-1/time-`, keys[1])
	assert.Regexp(t, `^test-origin/unchained/s-2/time-`, keys[2])

	data, err := os.ReadFile(filepath.Join(dir, keys[2]))
	require.NoError(t, err)
	recs, err := archive.DecodeSegment(data)
	require.NoError(t, err)
	assert.Len(t, recs, 2)

	// The same batch again (an exporter retry) writes nothing new.
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, keys, segments(t, dir))
	metadatatest.AssertEqualExporterWormSegmentsWritten(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterWormSegmentsExisting(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestSequencedRecordsAreOrderedBySequence(t *testing.T) {
	dir := t.TempDir()
	exp, _ := startExporter(t, dir)
	ld := plog.NewLogs()
	for _, seq := range []int64{7, 5, 6} {
		record(ld, "s", seq)
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	keys := segments(t, dir)
	require.Len(t, keys, 1)
	assert.Regexp(t, `^o1/5/streams/s/seq-00000000000000000005-00000000000000000007-`, keys[0])
	data, err := os.ReadFile(filepath.Join(dir, keys[0]))
	require.NoError(t, err)
	recs, err := archive.DecodeSegment(data)
	require.NoError(t, err)
	var seqs []int64
	for _, r := range recs {
		v, _ := r.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get("audit.sequence.number")
		seqs = append(seqs, v.Int())
	}
	assert.Equal(t, []int64{5, 6, 7}, seqs)
}

func TestCheckpointsGoBesideStreamsAndDigestsAreChecked(t *testing.T) {
	dir := t.TempDir()
	exp, tel := startExporter(t, dir)
	ld := plog.NewLogs()
	record(ld, "s", 1)
	tampered := record(ld, "s", 2)
	tampered.Body().SetStr("changed after chaining")
	cp := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	cp.SetEventName(integrity.EventCheckpoint)
	cp.Body().SetStr("o1/5\n3\nroot\n\n- sig\n")
	cp.Attributes().PutStr(integrity.AttrLogID, "o1/5")
	cp.Attributes().PutInt("agent_audit.checkpoint.size", 3)
	ts := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	ts.SetEventName(integrity.EventCheckpointTimestamp)
	ts.Attributes().PutStr(integrity.AttrLogID, "o1/5")
	ts.Attributes().PutInt(integrity.AttrCheckpointSize, 3)
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))

	keys := segments(t, dir)
	require.Len(t, keys, 3)
	assert.Regexp(t, `^o1/5/checkpoints/checkpoint-00000000000000000003-[0-9a-f]{16}\.ndjson$`, keys[0])
	assert.Regexp(t, `^o1/5/checkpoints/timestamp-00000000000000000003-[0-9a-f]{16}\.ndjson$`, keys[1])
	assert.Regexp(t, `^o1/5/streams/s/seq-00000000000000000001-00000000000000000002-`, keys[2])
	metadatatest.AssertEqualExporterWormDigestMismatches(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestMalformedIntegrityRecordsAreArchivedNotFatal(t *testing.T) {
	dir := t.TempDir()
	exp, _ := startExporter(t, dir)
	ld := plog.NewLogs()
	for _, name := range []string{integrity.EventCheckpoint, integrity.EventCheckpointTimestamp, integrity.EventKeyAnnouncement} {
		lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetEventName(name)
		lr.Attributes().PutStr(integrity.AttrLogID, "o1/5") // but no size / key name
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	keys := segments(t, dir)
	require.Len(t, keys, 1)
	assert.Regexp(t, `^test-origin/unchained/`, keys[0])
}

func TestStartFailsOnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: filepath.Join(file, "archive")}
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.ErrorContains(t, exp.Start(context.Background(), componenttest.NewNopHost()), "cannot create")
}

var _ component.Config = (*Config)(nil)

// flakyBackend refuses one stream's key as a conflict and fails another's
// once, as a store that was briefly away.
type flakyBackend struct {
	conflict, flaky string
	failed          bool
	written         []string
}

func (b *flakyBackend) Put(_ context.Context, key string, _ []byte) (bool, error) {
	switch {
	case strings.Contains(key, b.conflict):
		return true, fmt.Errorf("%w: %s", archive.ErrConflict, key)
	case strings.Contains(key, b.flaky) && !b.failed:
		b.failed = true
		return false, errors.New("503 SlowDown")
	}
	b.written = append(b.written, key)
	return false, nil
}

// A permanent error drops the whole batch: a conflict on one segment must
// not take with it a segment of the same batch that failed for a passing
// reason, whose records would then be lost.
func TestConflictDoesNotDropSegmentsThatMayStillBeWritten(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Local = &LocalConfig{Directory: t.TempDir()}
	e, err := newWormExporter(cfg, exportertest.NewNopSettings(metadata.Type), "o")
	require.NoError(t, err)
	b := &flakyBackend{conflict: "/streams/s1/", flaky: "/streams/s2/"}
	e.backend = b
	ld := plog.NewLogs()
	record(ld, "s1", 1)
	record(ld, "s2", 1)

	err = e.pushLogs(context.Background(), ld)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "retried, or s2's record is lost: %v", err)
	err = e.pushLogs(context.Background(), ld)
	assert.True(t, consumererror.IsPermanent(err), "only the conflict is left: %v", err)
	require.Len(t, b.written, 1)
	assert.Contains(t, b.written[0], "/streams/s2/")
}

func TestSessionTokenNeedsKeys(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.S3 = &S3Config{Bucket: "audit", SessionToken: "token", ObjectLock: ObjectLockConfig{Retention: time.Hour}}
	assert.ErrorContains(t, cfg.Validate(), "s3.session_token is only used with s3.access_key_id and s3.secret_access_key")
	cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey = "id", "secret"
	assert.NoError(t, cfg.Validate())
}

// TLS settings with an http:// endpoint would protect nothing: the
// exporter says so at start rather than letting an operator believe the
// archive traffic is encrypted.
func TestS3TLSWithPlainHTTPEndpointWarns(t *testing.T) {
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "audit", true)
	cfg := createDefaultConfig().(*Config)
	cfg.S3 = &S3Config{Endpoint: srv.Endpoint(), PathStyle: true, Bucket: "audit", AccessKeyID: srv.AccessKey(),
		SecretAccessKey: configopaque.String(srv.SecretKey()), ObjectLock: ObjectLockConfig{Retention: time.Hour}}
	cfg.S3.TLS.CAFile = "/etc/ssl/private-ca.pem"
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zap.WarnLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Equal(t, 1, logs.FilterMessageSnippet("s3.tls is set but s3.endpoint is http://").Len())
}
