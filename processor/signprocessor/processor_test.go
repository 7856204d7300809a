package signprocessor

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadatatest"
)

const (
	metricEmitted  = "otelcol_processor_sign_checkpoints_emitted"
	metricFailures = "otelcol_processor_sign_failures"
	metricNoHead   = "otelcol_processor_sign_batches_without_tree_head"
)

var signerID = component.MustNewID("signer")

// fakeSignerExt is an extension with the signer extension's Signer method.
type fakeSignerExt struct{ signer integrity.Signer }

func (fakeSignerExt) Start(context.Context, component.Host) error { return nil }
func (fakeSignerExt) Shutdown(context.Context) error              { return nil }
func (e fakeSignerExt) Signer() integrity.Signer                  { return e.signer }

// plainExt is an extension without a Signer method.
type plainExt struct{}

func (plainExt) Start(context.Context, component.Host) error { return nil }
func (plainExt) Shutdown(context.Context) error              { return nil }

type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

func newSigner(t *testing.T, algorithm string) integrity.Signer {
	t.Helper()
	key, err := integrity.GenerateKey(algorithm)
	require.NoError(t, err)
	s, err := integrity.NewKeySigner("test-key-"+algorithm, key)
	require.NoError(t, err)
	return s
}

func testConfig(interval time.Duration, maxRecords uint64) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Interval = interval
	cfg.MaxRecords = maxRecords
	return cfg
}

func newSign(t *testing.T, cfg *Config, next consumer.Logs) (*signProcessor, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p.(*signProcessor), tel
}

func startSign(t *testing.T, cfg *Config, next consumer.Logs, signer integrity.Signer) (*signProcessor, *componenttest.Telemetry) {
	t.Helper()
	p, tel := newSign(t, cfg, next)
	require.NoError(t, p.Start(context.Background(), testHost{signerID: fakeSignerExt{signer}}))
	return p, tel
}

// rootFor is a stand-in root for a log at a size.
func rootFor(logID string, size uint64) integrity.Hash {
	return sha256.Sum256(fmt.Appendf(nil, "%s@%d", logID, size))
}

func head(logID string, size uint64) integrity.TreeHead {
	return integrity.TreeHead{LogID: logID, Size: size, Root: rootFor(logID, size)}
}

// userBatch is a batch of n records, as the chain processor passes them on.
func userBatch(n int) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := 0; i < n; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("agent_audit.tool.call")
		lr.Body().SetStr(fmt.Sprintf("record %d", i))
	}
	return ld
}

// consumeWithHead passes a read-only batch (the processor must not change
// it) that brings the tree head th.
func consumeWithHead(t *testing.T, p *signProcessor, th integrity.TreeHead) plog.Logs {
	t.Helper()
	ld := userBatch(2)
	ld.MarkReadOnly()
	require.NoError(t, p.ConsumeLogs(integrity.ContextWithTreeHead(context.Background(), th), ld))
	return ld
}

// recordsWithEvent returns the records with this event name, in the order
// the batches reached the sink.
func recordsWithEvent(lds []plog.Logs, event string) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					if lrs.At(k).EventName() == event {
						out = append(out, lrs.At(k))
					}
				}
			}
		}
	}
	return out
}

// checkpointBatches returns the batches holding a checkpoint or a key
// announcement, in order.
func checkpointBatches(lds []plog.Logs) []plog.Logs {
	var out []plog.Logs
	for _, ld := range lds {
		if len(recordsWithEvent([]plog.Logs{ld}, integrity.EventCheckpoint))+
			len(recordsWithEvent([]plog.Logs{ld}, integrity.EventKeyAnnouncement)) > 0 {
			out = append(out, ld)
		}
	}
	return out
}

// eventually polls cond until it holds, for at most 5 seconds.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "condition not met within 5s: "+msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

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

func attrStr(t *testing.T, lr plog.LogRecord, name string) string {
	t.Helper()
	v, ok := lr.Attributes().Get(name)
	require.True(t, ok, "record lacks %s", name)
	return v.AsString()
}

// verifyCheckpoint checks a checkpoint record against the signer's
// verifier key and the tree head it must sign.
func verifyCheckpoint(t *testing.T, lr plog.LogRecord, signer integrity.Signer, want integrity.TreeHead) {
	t.Helper()
	assert.Equal(t, integrity.EventCheckpoint, lr.EventName())
	assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	assert.NotZero(t, lr.Timestamp())
	trust, err := integrity.ParseTrustFile(integrity.TrustFileText("test", signer.VerifierKey()))
	require.NoError(t, err)
	cp, err := integrity.OpenCheckpoint([]byte(lr.Body().Str()), trust.Verifiers)
	require.NoError(t, err)
	assert.Equal(t, want.LogID, cp.Origin)
	assert.Equal(t, want.Size, cp.Size)
	assert.Equal(t, want.Root, cp.Root)
	assert.Equal(t, []string{fmt.Sprintf("%s+%08x", signer.Name(), signer.KeyHash())}, cp.Signers)

	assert.Equal(t, want.LogID, attrStr(t, lr, integrity.AttrLogID))
	size, _ := lr.Attributes().Get(integrity.AttrCheckpointSize)
	assert.Equal(t, int64(want.Size), size.Int())
	assert.Equal(t, base64.StdEncoding.EncodeToString(want.Root[:]), attrStr(t, lr, integrity.AttrCheckpointRoot))
	assert.Equal(t, signer.Name(), attrStr(t, lr, integrity.AttrKeyName))

	// Another key does not verify it.
	other, err := integrity.GenerateKey("ed25519")
	require.NoError(t, err)
	otherSigner, err := integrity.NewKeySigner(signer.Name(), other)
	require.NoError(t, err)
	otherTrust, err := integrity.ParseTrustFile(integrity.TrustFileText("other", otherSigner.VerifierKey()))
	require.NoError(t, err)
	_, err = integrity.OpenCheckpoint([]byte(lr.Body().Str()), otherTrust.Verifiers)
	assert.Error(t, err)
}

func verifyAnnouncement(t *testing.T, lr plog.LogRecord, signer integrity.Signer, logID string) {
	t.Helper()
	assert.Equal(t, integrity.EventKeyAnnouncement, lr.EventName())
	assert.Equal(t, signer.VerifierKey(), attrStr(t, lr, integrity.AttrKeyVerifierKey))
	assert.Equal(t, signer.Name(), attrStr(t, lr, integrity.AttrKeyName))
	assert.Equal(t, signer.Algorithm(), attrStr(t, lr, integrity.AttrKeyAlgorithm))
	assert.Equal(t, logID, attrStr(t, lr, integrity.AttrLogID))
	block, _ := pem.Decode([]byte(attrStr(t, lr, integrity.AttrKeyPublicKey)))
	require.NotNil(t, block)
	assert.Equal(t, "PUBLIC KEY", block.Type)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	assert.True(t, pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()), "the announced public key is the signer's")
	assert.Contains(t, lr.Body().Str(), signer.Name())
}

func TestCheckpointAfterMaxRecords(t *testing.T) {
	for _, alg := range []string{"ed25519", "ecdsa-p256"} {
		t.Run(alg, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			signer := newSigner(t, alg)
			// A long interval: only the record count triggers checkpoints.
			p, tel := startSign(t, testConfig(time.Hour, 10), sink, signer)
			const logID = "o/1"

			b1 := consumeWithHead(t, p, head(logID, 4))
			require.Len(t, sink.AllLogs(), 1)
			assert.True(t, b1 == sink.AllLogs()[0], "the batch itself is passed on, not a copy")
			want := userBatch(2)
			want.MarkReadOnly()
			assert.Equal(t, want, sink.AllLogs()[0], "and it is unchanged")
			th, ok := integrity.TreeHeadFromContext(sink.Contexts()[0])
			require.True(t, ok, "the context is passed on too")
			assert.Equal(t, head(logID, 4), th)

			// The log grew by 12 >= 10 since the last (no) checkpoint.
			b2 := consumeWithHead(t, p, head(logID, 12))
			eventually(t, func() bool { return len(checkpointBatches(sink.AllLogs())) == 1 }, "first checkpoint")
			all := sink.AllLogs()
			require.Len(t, all, 3)
			// The checkpoint may overtake b2 (it is emitted from another goroutine).
			assert.True(t, all[1] == b2 || all[2] == b2, "b2 is passed on")
			cb := checkpointBatches(all)[0]
			require.Equal(t, 2, cb.LogRecordCount(), "a key announcement and a checkpoint")
			sl := cb.ResourceLogs().At(0).ScopeLogs().At(0)
			assert.Equal(t, metadata.ScopeName, sl.Scope().Name())
			svc, _ := cb.ResourceLogs().At(0).Resource().Attributes().Get("service.name")
			assert.Equal(t, "otelcol-agentaudit", svc.Str())
			verifyAnnouncement(t, sl.LogRecords().At(0), signer, logID)
			verifyCheckpoint(t, sl.LogRecords().At(1), signer, head(logID, 12))

			// 15 - 12 < 10: not yet.
			consumeWithHead(t, p, head(logID, 15))
			require.NoError(t, p.signRound(context.Background()), "a round in between would sign 15: make it explicit")
			eventually(t, func() bool { return len(checkpointBatches(sink.AllLogs())) == 2 }, "second checkpoint")
			cb = checkpointBatches(sink.AllLogs())[1]
			require.Equal(t, 1, cb.LogRecordCount(), "no second key announcement")
			verifyCheckpoint(t, cb.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), signer, head(logID, 15))

			// 24 - 15 < 10: no checkpoint; 25 - 15 >= 10: one.
			consumeWithHead(t, p, head(logID, 24))
			consumeWithHead(t, p, head(logID, 25))
			eventually(t, func() bool { return len(checkpointBatches(sink.AllLogs())) == 3 }, "third checkpoint")
			cb = checkpointBatches(sink.AllLogs())[2]
			require.Equal(t, 1, cb.LogRecordCount())
			verifyCheckpoint(t, cb.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), signer, head(logID, 25))

			require.NoError(t, p.Shutdown(context.Background()))
			assert.Len(t, checkpointBatches(sink.AllLogs()), 3, "nothing new to seal at shutdown")
			assert.Len(t, recordsWithEvent(sink.AllLogs(), integrity.EventKeyAnnouncement), 1)
			metadatatest.AssertEqualProcessorSignCheckpointsEmitted(t, tel,
				[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			assert.Zero(t, counter(t, tel, metricFailures))
			assert.Zero(t, counter(t, tel, metricNoHead))
		})
	}
}

func TestCheckpointByInterval(t *testing.T) {
	sink := new(consumertest.LogsSink)
	signer := newSigner(t, "ed25519")
	p, tel := startSign(t, testConfig(100*time.Millisecond, 0), sink, signer)
	const logID = "o/7"

	consumeWithHead(t, p, head(logID, 3))
	eventually(t, func() bool { return len(recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)) == 1 }, "checkpoint by interval")
	cps := recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)
	verifyCheckpoint(t, cps[0], signer, head(logID, 3))

	// The log did not grow: no new checkpoint, however many rounds.
	consumeWithHead(t, p, head(logID, 3))
	consumeWithHead(t, p, head(logID, 2)) // a batch overtaken by a later one
	for i := 0; i < 3; i++ {
		require.NoError(t, p.signRound(context.Background()))
	}
	assert.Len(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint), 1)

	// It grew: the next tick signs the new size.
	consumeWithHead(t, p, head(logID, 5))
	eventually(t, func() bool { return len(recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)) == 2 }, "second checkpoint by interval")
	verifyCheckpoint(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)[1], signer, head(logID, 5))
	assert.Equal(t, int64(2), counter(t, tel, metricEmitted))
}

func TestShutdownEmitsFinalCheckpoint(t *testing.T) {
	sink := new(consumertest.LogsSink)
	signer := newSigner(t, "ecdsa-p256")
	p, tel := startSign(t, testConfig(time.Hour, 1000), sink, signer)

	// Two logs (a new epoch began): both are sealed.
	consumeWithHead(t, p, head("o/1", 5))
	consumeWithHead(t, p, head("o/1", 7))
	consumeWithHead(t, p, head("o/2", 3))
	assert.Empty(t, checkpointBatches(sink.AllLogs()))

	require.NoError(t, p.Shutdown(context.Background()))
	cbs := checkpointBatches(sink.AllLogs())
	require.Len(t, cbs, 1, "one batch with the announcement and both checkpoints")
	anns := recordsWithEvent(cbs, integrity.EventKeyAnnouncement)
	require.Len(t, anns, 1)
	cps := recordsWithEvent(cbs, integrity.EventCheckpoint)
	require.Len(t, cps, 2)
	byLog := map[string]plog.LogRecord{}
	for _, cp := range cps {
		byLog[attrStr(t, cp, integrity.AttrLogID)] = cp
	}
	verifyCheckpoint(t, byLog["o/1"], signer, head("o/1", 7))
	verifyCheckpoint(t, byLog["o/2"], signer, head("o/2", 3))
	assert.Equal(t, int64(2), counter(t, tel, metricEmitted))

	// Shutdown is safe to call again, and emits nothing more.
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Len(t, checkpointBatches(sink.AllLogs()), 1)
}

func TestShutdownWithNothingToSign(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, _ := startSign(t, testConfig(time.Hour, 1000), sink, newSigner(t, "ed25519"))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Empty(t, sink.AllLogs(), "no log, no checkpoint, no announcement")
}

func TestShutdownWithoutStart(t *testing.T) {
	p, _ := newSign(t, testConfig(time.Hour, 1000), consumertest.NewNop())
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestBatchWithoutTreeHead(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, tel := startSign(t, testConfig(time.Hour, 1), sink, newSigner(t, "ed25519"))

	b1, b2, empty := userBatch(3), userBatch(1), plog.NewLogs()
	require.NoError(t, p.ConsumeLogs(context.Background(), b1))
	require.NoError(t, p.ConsumeLogs(context.Background(), b2))
	require.NoError(t, p.ConsumeLogs(context.Background(), empty))
	require.Len(t, sink.AllLogs(), 3, "batches without a head still pass on")
	assert.True(t, b1 == sink.AllLogs()[0])
	assert.True(t, b2 == sink.AllLogs()[1])
	assert.True(t, empty == sink.AllLogs()[2])
	metadatatest.AssertEqualProcessorSignBatchesWithoutTreeHead(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	require.NoError(t, p.Shutdown(context.Background()))
	assert.Len(t, sink.AllLogs(), 3, "nothing to sign")
}

func TestStartFailsWithoutSigner(t *testing.T) {
	tests := []struct {
		name string
		host component.Host
		want string
	}{
		{name: "no extension", host: componenttest.NewNopHost(), want: `signer extension "signer" not found`},
		{name: "not a signer", host: testHost{signerID: plainExt{}}, want: `extension "signer" is not a signer extension`},
		{name: "signer not started", host: testHost{signerID: fakeSignerExt{}}, want: `signer extension "signer" has not started`},
		{name: "other id", host: testHost{component.MustNewIDWithName("signer", "other"): fakeSignerExt{newSigner(t, "ed25519")}}, want: `signer extension "signer" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p, _ := newSign(t, testConfig(time.Hour, 1), sink)
			err := p.Start(context.Background(), tt.host)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.want)
			require.NoError(t, p.Shutdown(context.Background()), "shutdown after a failed start")
			assert.Empty(t, sink.AllLogs())
		})
	}
}

// checkpointRefuser refuses batches holding checkpoints while failing is
// set; other batches always pass.
type checkpointRefuser struct {
	consumertest.LogsSink
	failing  atomic.Bool
	refusals atomic.Int64
}

func (c *checkpointRefuser) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if c.failing.Load() && len(checkpointBatches([]plog.Logs{ld})) > 0 {
		c.refusals.Add(1)
		return errors.New("exporter queue is full")
	}
	return c.LogsSink.ConsumeLogs(ctx, ld)
}

func TestEmissionFailureIsRetried(t *testing.T) {
	next := &checkpointRefuser{}
	next.failing.Store(true)
	signer := newSigner(t, "ed25519")
	p, tel := startSign(t, testConfig(100*time.Millisecond, 5), next, signer)
	const logID = "o/3"

	consumeWithHead(t, p, head(logID, 6))
	eventually(t, func() bool { return counter(t, tel, metricFailures) >= 1 }, "a failed emission")
	assert.Empty(t, checkpointBatches(next.AllLogs()))
	// Normal batches are unaffected.
	consumeWithHead(t, p, head(logID, 8))
	assert.Equal(t, 2, len(next.AllLogs()))

	next.failing.Store(false)
	eventually(t, func() bool { return len(checkpointBatches(next.AllLogs())) >= 1 }, "the checkpoint once next accepts it")
	cbs := checkpointBatches(next.AllLogs())
	require.Len(t, cbs, 1)
	anns := recordsWithEvent(cbs, integrity.EventKeyAnnouncement)
	require.Len(t, anns, 1, "the announcement that was refused goes out with the checkpoint")
	verifyAnnouncement(t, anns[0], signer, logID)
	cps := recordsWithEvent(cbs, integrity.EventCheckpoint)
	require.Len(t, cps, 1)
	verifyCheckpoint(t, cps[0], signer, head(logID, 8))
	assert.Equal(t, next.refusals.Load(), counter(t, tel, metricFailures), "one failure per refused round")
	assert.Equal(t, int64(1), counter(t, tel, metricEmitted))
}

func TestShutdownReportsFinalCheckpointFailure(t *testing.T) {
	next := &checkpointRefuser{}
	next.failing.Store(true)
	p, tel := startSign(t, testConfig(time.Hour, 1000), next, newSigner(t, "ed25519"))
	consumeWithHead(t, p, head("o/1", 4))
	err := p.Shutdown(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "final checkpoint")
	assert.ErrorContains(t, err, "exporter queue is full")
	assert.Equal(t, int64(1), counter(t, tel, metricFailures))
}

// failingSigner cannot sign.
type failingSigner struct{ integrity.Signer }

func (failingSigner) Sign([]byte) ([]byte, error) { return nil, errors.New("TPM is gone") }

func TestSigningFailure(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, tel := startSign(t, testConfig(time.Hour, 1), sink, failingSigner{newSigner(t, "ed25519")})
	consumeWithHead(t, p, head("o/1", 4))
	eventually(t, func() bool { return counter(t, tel, metricFailures) >= 1 }, "a signing failure")
	assert.Empty(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint))
	err := p.Shutdown(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "TPM is gone")
	assert.Zero(t, counter(t, tel, metricEmitted))
}

func TestConcurrentBatches(t *testing.T) {
	sink := new(consumertest.LogsSink)
	signer := newSigner(t, "ed25519")
	p, tel := startSign(t, testConfig(100*time.Millisecond, 7), sink, signer)

	var size atomic.Uint64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				ld := userBatch(1)
				th := head("o/1", size.Add(3))
				if err := p.ConsumeLogs(integrity.ContextWithTreeHead(context.Background(), th), ld); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(context.Background()))

	assert.Equal(t, 8*50, len(sink.AllLogs())-len(checkpointBatches(sink.AllLogs())), "every batch passed on once")
	anns := recordsWithEvent(sink.AllLogs(), integrity.EventKeyAnnouncement)
	require.Len(t, anns, 1)
	cps := recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)
	require.NotEmpty(t, cps)
	var last int64
	for _, cp := range cps {
		sz, _ := cp.Attributes().Get(integrity.AttrCheckpointSize)
		require.Greater(t, sz.Int(), last, "checkpoint sizes only grow")
		last = sz.Int()
		verifyCheckpoint(t, cp, signer, head("o/1", uint64(sz.Int())))
	}
	assert.Equal(t, int64(size.Load()), last, "the final checkpoint seals the largest head")
	assert.Equal(t, int64(len(cps)), counter(t, tel, metricEmitted))
}
