package signprocessor

import (
	"context"
	"fmt"
	"strings"
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

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadata"
)

// slowSigner signs like a hardware TPM: a few times a second at best.
type slowSigner struct {
	integrity.Signer
	delay time.Duration
	signs atomic.Int64
}

func (s *slowSigner) Sign(msg []byte) ([]byte, error) {
	time.Sleep(s.delay)
	s.signs.Add(1)
	return s.Signer.Sign(msg)
}

// signerSpeeds are the signers the benchmarks compare: an in-memory key,
// and one that signs at a hardware TPM's pace.
var signerSpeeds = []struct {
	name  string
	delay time.Duration
}{
	{"fast-signer", 0},
	{"slow-signer-200ms", 200 * time.Millisecond},
}

func newSlowSigner(b *testing.B, algorithm string, delay time.Duration) *slowSigner {
	key, err := integrity.GenerateKey(algorithm)
	require.NoError(b, err)
	ks, err := integrity.NewKeySigner("bench", key)
	require.NoError(b, err)
	return &slowSigner{Signer: ks, delay: delay}
}

// countingSink counts what passes, keeping nothing (b.N batches would not
// fit in a consumertest.LogsSink).
type countingSink struct {
	records, checkpoints atomic.Int64
}

func (c *countingSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *countingSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if n := len(recordsWithEvent([]plog.Logs{ld}, integrity.EventCheckpoint)); n > 0 {
		c.checkpoints.Add(int64(n))
		return nil
	}
	c.records.Add(int64(ld.LogRecordCount()))
	return nil
}

var _ consumer.Logs = (*countingSink)(nil)

// BenchmarkConsumeWithSlowSigner shows that the throughput of the pipeline
// does not depend on how fast the key signs: with a signer that takes
// 200ms per signature and a checkpoint constantly due, ConsumeLogs runs as
// fast as with an in-memory key.
func BenchmarkConsumeWithSlowSigner(b *testing.B) {
	const perBatch = 100
	for _, bc := range signerSpeeds {
		b.Run(bc.name, func(b *testing.B) {
			signer := newSlowSigner(b, "ed25519", bc.delay)

			cfg := createDefaultConfig().(*Config)
			cfg.Interval = 100 * time.Millisecond
			cfg.MaxRecords = 10 // every batch makes a checkpoint due
			sink := &countingSink{}
			tel := componenttest.NewTelemetry()
			defer func() { require.NoError(b, tel.Shutdown(context.Background())) }()
			set := processortest.NewNopSettings(metadata.Type)
			set.TelemetrySettings = tel.NewTelemetrySettings()
			pl, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
			require.NoError(b, err)
			p := pl.(*signProcessor)
			require.NoError(b, p.Start(context.Background(), testHost{signerID: fakeSignerExt{signer}}))

			// One read-only batch, passed on untouched every time.
			ld := userBatch(perBatch)
			ld.MarkReadOnly()
			root := rootFor("o/bench", 0) // the root's value does not matter here

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A growing tree head per batch, as the chain processor sends.
				th := integrity.TreeHead{LogID: "o/bench", Size: uint64(perBatch * (i + 1)), Root: root}
				if err := p.ConsumeLogs(integrity.ContextWithTreeHead(context.Background(), th), ld); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
			require.NoError(b, p.Shutdown(context.Background()))
			require.Equal(b, int64(b.N*perBatch), sink.records.Load())
			require.Positive(b, sink.checkpoints.Load(), "the final checkpoint at least")
		})
	}
}

// blockingSigner holds every Sign call until released, and tells when one
// has begun.
type blockingSigner struct {
	integrity.Signer
	signing chan struct{} // a Sign call has begun
	release chan struct{} // closed: Sign calls go on
}

func (s *blockingSigner) Sign(msg []byte) ([]byte, error) {
	select {
	case s.signing <- struct{}{}:
	default:
	}
	<-s.release
	return s.Signer.Sign(msg)
}

// ConsumeLogs never waits for a signature: while a Sign call is held in
// the middle of a checkpoint, batches (including ones that make the next
// checkpoint due) go through.
func TestConsumeDoesNotWaitForSigning(t *testing.T) {
	signer := &blockingSigner{
		Signer:  newSigner(t, "ecdsa-p256"),
		signing: make(chan struct{}, 1),
		release: make(chan struct{}),
	}
	released := false
	defer func() {
		if !released {
			close(signer.release)
		}
	}()
	sink := new(consumertest.LogsSink)
	p, tel := startSign(t, testConfig(100*time.Millisecond, 1), sink, signer)

	within(t, "ConsumeLogs making a checkpoint due", func() error {
		_, err := consumeHeads(p, head("o/1", 2))
		return err
	})
	select {
	case <-signer.signing:
	case <-time.After(waitLong):
		require.FailNow(t, "no Sign call")
	}

	// Sign is held now. More batches, each making a checkpoint due.
	var batches []plog.Logs
	within(t, "ConsumeLogs while a Sign call is held", func() (err error) {
		var heads []integrity.TreeHead
		for size := uint64(3); size <= 10; size++ {
			heads = append(heads, head("o/1", size))
		}
		batches, err = consumeHeads(p, heads...)
		return err
	})
	require.Len(t, batches, 8)
	all := sink.AllLogs()
	require.Len(t, all, 9, "every batch reached the sink")
	for i, ld := range batches {
		assert.True(t, ld == all[i+1], "batch %d passed on", i)
	}
	assert.Empty(t, checkpointBatches(all), "no checkpoint yet: its signature is held")

	released = true
	close(signer.release)
	require.Eventually(t, func() bool {
		_, ok := checkpointAt(t, sink, "o/1", 10)
		return ok
	}, waitLong, tick, "the checkpoint of the latest head once signing goes on")
	cp, _ := checkpointAt(t, sink, "o/1", 10)
	verifyCheckpoint(t, cp, signer, head("o/1", 10))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Zero(t, counter(t, tel, metricFailures))
}

// BenchmarkChainAndSignWithSlowSigner is the pipeline the distributions
// run, chain then sign, on records of about 1 KB, with an in-memory key and
// with a signer that takes 200 ms per signature (like a hardware TPM). The
// chain processor's work dominates; the events/s of the two must match.
func BenchmarkChainAndSignWithSlowSigner(b *testing.B) {
	const perBatch = 100
	template := plog.NewLogs()
	sl := template.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := range perBatch {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("agent_audit.tool.call")
		lr.Attributes().PutStr("session.id", fmt.Sprintf("sess-%d", i%10))
		lr.Attributes().PutStr("gen_ai.tool.name", "Bash")
		lr.Body().SetStr(strings.Repeat("x", 900))
	}
	for _, bc := range signerSpeeds {
		b.Run(bc.name, func(b *testing.B) {
			signer := newSlowSigner(b, "ecdsa-p256", bc.delay)

			sink := &countingSink{}
			cfg := createDefaultConfig().(*Config)
			cfg.Interval = 100 * time.Millisecond
			cfg.MaxRecords = 1000
			set := processortest.NewNopSettings(metadata.Type)
			sp, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
			require.NoError(b, err)
			host := testHost{signerID: fakeSignerExt{signer}}
			require.NoError(b, sp.Start(context.Background(), host))

			chainCfg := chainprocessor.NewFactory().CreateDefaultConfig().(*chainprocessor.Config)
			chainCfg.Origin = "bench"
			chainSet := processortest.NewNopSettings(chainprocessor.NewFactory().Type())
			chainSet.ID = component.MustNewIDWithName("chain", bc.name)
			cp, err := chainprocessor.NewFactory().CreateLogs(context.Background(), chainSet, chainCfg, sp)
			require.NoError(b, err)
			require.NoError(b, cp.Start(context.Background(), host))

			b.ResetTimer()
			for range b.N {
				ld := plog.NewLogs()
				template.CopyTo(ld)
				if err := cp.ConsumeLogs(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
			require.NoError(b, cp.Shutdown(context.Background()))
			require.NoError(b, sp.Shutdown(context.Background()))
			b.ReportMetric(float64(signer.signs.Load()), "signatures")
		})
	}
}
