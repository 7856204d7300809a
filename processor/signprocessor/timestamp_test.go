package signprocessor

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/internal/testtsa"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadatatest"
)

const (
	metricStamped     = "otelcol_processor_sign_timestamps_emitted"
	metricStampFailed = "otelcol_processor_sign_timestamp_failures"
	// waitLong bounds waits for what happens on other goroutines: generous,
	// so a loaded machine (-race) does not make the tests flaky. Nothing
	// here asserts on speed.
	waitLong = 30 * time.Second
	tick     = 10 * time.Millisecond
)

func stampConfig(endpoint string, interval time.Duration, maxRecords uint64) *Config {
	cfg := testConfig(interval, maxRecords)
	cfg.Timestamp.Endpoint = endpoint
	cfg.Timestamp.Timeout = 10 * time.Second
	cfg.Timestamp.MaxBackoff = time.Second
	return cfg
}

func rootPool(tsa *testtsa.TSA) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(tsa.Root())
	return pool
}

// checkpointAt is the checkpoint record of a log at a size, if emitted.
func checkpointAt(t *testing.T, sink *consumertest.LogsSink, logID string, size uint64) (plog.LogRecord, bool) {
	t.Helper()
	return recordAt(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint), logID, size)
}

// stampsAt are the time-stamp records of a log's checkpoint at a size.
func stampsAt(t *testing.T, sink *consumertest.LogsSink, logID string, size uint64) []plog.LogRecord {
	t.Helper()
	var out []plog.LogRecord
	for _, lr := range recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp) {
		if r, ok := recordAt(t, []plog.LogRecord{lr}, logID, size); ok {
			out = append(out, r)
		}
	}
	return out
}

func recordAt(t *testing.T, lrs []plog.LogRecord, logID string, size uint64) (plog.LogRecord, bool) {
	t.Helper()
	for _, lr := range lrs {
		sz, _ := lr.Attributes().Get(integrity.AttrCheckpointSize)
		if attrStr(t, lr, integrity.AttrLogID) == logID && sz.Int() == int64(size) {
			return lr, true
		}
	}
	return plog.LogRecord{}, false
}

// verifyStamp checks a time-stamp record against the checkpoint record it
// stamps, as an offline verifier with the TSA's pinned root would.
func verifyStamp(t *testing.T, st, cp plog.LogRecord, roots *x509.CertPool) {
	t.Helper()
	assert.Equal(t, integrity.EventCheckpointTimestamp, st.EventName())
	assert.Equal(t, plog.SeverityNumberInfo, st.SeverityNumber())
	assert.NotZero(t, st.Timestamp())
	assert.Equal(t, attrStr(t, cp, integrity.AttrLogID), attrStr(t, st, integrity.AttrLogID))
	cpSize, _ := cp.Attributes().Get(integrity.AttrCheckpointSize)
	stSize, _ := st.Attributes().Get(integrity.AttrCheckpointSize)
	assert.Equal(t, cpSize.Int(), stSize.Int())

	digest := sha256.Sum256([]byte(cp.Body().Str()))
	assert.Equal(t, hex.EncodeToString(digest[:]), attrStr(t, st, integrity.AttrTimestampImprint),
		"the imprint is SHA-256 of the signed note")
	nonce, ok := new(big.Int).SetString(attrStr(t, st, integrity.AttrTimestampNonce), 10)
	require.True(t, ok, "the nonce is decimal")
	token, err := base64.StdEncoding.DecodeString(attrStr(t, st, integrity.AttrTimestampToken))
	require.NoError(t, err)

	info, err := integrity.VerifyTimestampToken(token, digest, nonce, roots)
	require.NoError(t, err)
	assert.Equal(t, info.Time.UTC().Format(time.RFC3339Nano), attrStr(t, st, integrity.AttrTimestampTime))
	assert.Equal(t, testtsa.Policy, info.Policy)
	assert.Contains(t, st.Body().Str(), info.TSA)

	// The token is bound to this note, this request, and the pinned root.
	_, err = integrity.VerifyTimestampToken(token, sha256.Sum256([]byte("another note\n")), nonce, roots)
	assert.Error(t, err, "another digest")
	_, err = integrity.VerifyTimestampToken(token, digest, new(big.Int).Add(nonce, big.NewInt(1)), roots)
	assert.Error(t, err, "another nonce")
	_, err = integrity.VerifyTimestampToken(token, digest, nonce, x509.NewCertPool())
	assert.Error(t, err, "a root the TSA does not chain to")
}

func TestTimestampEveryCheckpoint(t *testing.T) {
	tsa := testtsa.New(t)
	sink := new(consumertest.LogsSink)
	signer := newSigner(t, "ed25519")
	p, tel := startSign(t, stampConfig(tsa.URL(), time.Hour, 5), sink, signer)

	// One checkpoint at a time, so none is superseded before its token.
	sizes := []uint64{6, 12, 20}
	for i, size := range sizes {
		consumeWithHead(t, p, head("o/1", size))
		require.Eventually(t, func() bool {
			_, ok := checkpointAt(t, sink, "o/1", size)
			return ok
		}, waitLong, tick, "checkpoint at %d", size)
		require.Eventually(t, func() bool { return len(stampsAt(t, sink, "o/1", size)) > 0 }, waitLong, tick, "token for %d", size)
		cp, _ := checkpointAt(t, sink, "o/1", size)
		verifyCheckpoint(t, cp, signer, head("o/1", size))
		sts := stampsAt(t, sink, "o/1", size)
		require.Len(t, sts, 1, "one token per checkpoint")
		verifyStamp(t, sts[0], cp, rootPool(tsa))
		assert.Equal(t, i+1, tsa.Requests())
	}
	require.Eventually(t, func() bool { return counter(t, tel, metricStamped) == int64(len(sizes)) }, waitLong, tick)

	// Nothing new at shutdown: no checkpoint, no request.
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Len(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint), len(sizes))
	assert.Len(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp), len(sizes))
	assert.Equal(t, len(sizes), tsa.Requests())
	metadatatest.AssertEqualProcessorSignTimestampsEmitted(t, tel,
		[]metricdata.DataPoint[int64]{{Value: int64(len(sizes))}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	assert.Zero(t, counter(t, tel, metricStampFailed))
	assert.Zero(t, counter(t, tel, metricFailures))
}

// within runs f on another goroutine and fails the test if it does not
// return at all (a bound far beyond any normal run: not a speed check), or
// returns an error.
func within(t *testing.T, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		require.NoError(t, err, what)
	case <-time.After(waitLong):
		require.FailNow(t, what+" did not return")
	}
}

// consumeHeads passes a read-only batch per head, as consumeWithHead does,
// from any goroutine.
func consumeHeads(p *signProcessor, heads ...integrity.TreeHead) ([]plog.Logs, error) {
	var sent []plog.Logs
	for _, th := range heads {
		ld := userBatch(2)
		ld.MarkReadOnly()
		if err := p.ConsumeLogs(integrity.ContextWithTreeHead(context.Background(), th), ld); err != nil {
			return sent, err
		}
		sent = append(sent, ld)
	}
	return sent, nil
}

func TestTimestampAuthorityDown(t *testing.T) {
	tsa := testtsa.New(t)
	tsa.SetDown(true)
	sink := new(consumertest.LogsSink)
	signer := newSigner(t, "ecdsa-p256")
	p, tel := startSign(t, stampConfig(tsa.URL(), 100*time.Millisecond, 10), sink, signer)

	// Data flows while the TSA is down.
	const batches = 20
	var heads []integrity.TreeHead
	for i := 1; i <= batches; i++ {
		heads = append(heads, head("o/1", uint64(10*i)))
	}
	heads = append(heads, head("o/2", 15)) // a second log (a new epoch)
	var sent []plog.Logs
	within(t, "ConsumeLogs while the TSA is down", func() (err error) {
		sent, err = consumeHeads(p, heads...)
		return err
	})
	require.Len(t, sent, batches+1)
	passed := map[plog.Logs]bool{}
	for _, ld := range sink.AllLogs() {
		passed[ld] = true
	}
	for i, ld := range sent {
		assert.True(t, passed[ld], "batch %d reached the sink", i)
	}

	// Checkpoints go out as usual; the tokens fail and are counted.
	require.Eventually(t, func() bool {
		_, ok1 := checkpointAt(t, sink, "o/1", 10*batches)
		_, ok2 := checkpointAt(t, sink, "o/2", 15)
		return ok1 && ok2
	}, waitLong, tick, "checkpoints of both logs while the TSA is down")
	require.Eventually(t, func() bool { return counter(t, tel, metricStampFailed) >= 2 }, waitLong, tick, "failed time-stamp requests")
	assert.Empty(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp))
	assert.Zero(t, tsa.Requests())
	assert.Zero(t, counter(t, tel, metricFailures), "a TSA outage is no checkpoint failure")

	// The TSA is back: the latest checkpoint of each log gets its token.
	tsa.SetDown(false)
	require.Eventually(t, func() bool {
		return len(stampsAt(t, sink, "o/1", 10*batches)) > 0 && len(stampsAt(t, sink, "o/2", 15)) > 0
	}, waitLong, tick, "tokens for the latest checkpoints once the TSA is back")
	for _, lh := range []struct {
		log  string
		size uint64
	}{{"o/1", 10 * batches}, {"o/2", 15}} {
		cp, _ := checkpointAt(t, sink, lh.log, lh.size)
		sts := stampsAt(t, sink, lh.log, lh.size)
		require.Len(t, sts, 1)
		verifyStamp(t, sts[0], cp, rootPool(tsa))
	}
	// Superseded checkpoints were dropped from the queue: one token per
	// log, for its latest checkpoint (which puts the earlier ones in time).
	require.Eventually(t, func() bool { return counter(t, tel, metricStamped) == 2 }, waitLong, tick)
	metadatatest.AssertEqualProcessorSignTimestampsEmitted(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	assert.Len(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp), 2)
	assert.Equal(t, 2, tsa.Requests())

	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, 2, tsa.Requests(), "nothing owed at shutdown")
}

func TestTimestampFinalAttemptAtShutdown(t *testing.T) {
	tsa := testtsa.New(t)
	tsa.SetDown(true)
	sink := new(consumertest.LogsSink)
	// Checkpoints only when asked (and at shutdown); the loop, once it
	// failed, waits out its backoff.
	cfg := stampConfig(tsa.URL(), time.Hour, 0)
	cfg.Timestamp.MaxBackoff = time.Hour
	p, tel := startSign(t, cfg, sink, newSigner(t, "ed25519"))

	consumeWithHead(t, p, head("o/1", 3))
	require.NoError(t, p.signRound(context.Background()))
	require.Eventually(t, func() bool { return counter(t, tel, metricStampFailed) >= 1 }, waitLong, tick)

	tsa.SetDown(false)
	consumeWithHead(t, p, head("o/1", 7))
	require.NoError(t, p.Shutdown(context.Background()))
	// By the time Shutdown returns, the final checkpoint has its token.
	cp, ok := checkpointAt(t, sink, "o/1", 7)
	require.True(t, ok, "the final checkpoint")
	sts := stampsAt(t, sink, "o/1", 7)
	require.Len(t, sts, 1, "the final checkpoint's token")
	verifyStamp(t, sts[0], cp, rootPool(tsa))
}

func TestTimestampShutdownWithTSADown(t *testing.T) {
	tsa := testtsa.New(t)
	tsa.SetDown(true)
	sink := new(consumertest.LogsSink)
	p, tel := startSign(t, stampConfig(tsa.URL(), time.Hour, 1000), sink, newSigner(t, "ed25519"))
	consumeWithHead(t, p, head("o/1", 3))
	before := counter(t, tel, metricStampFailed)
	within(t, "Shutdown with the TSA down", func() error { return p.Shutdown(context.Background()) })
	_, ok := checkpointAt(t, sink, "o/1", 3)
	assert.True(t, ok, "the final checkpoint goes out without its token")
	assert.Empty(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp))
	assert.Greater(t, counter(t, tel, metricStampFailed), before, "the final attempt failed and was counted")
}

// TSAs that answer badly or not at all: tokens fail, nothing else does.
func TestTimestampAuthorityMisbehaves(t *testing.T) {
	tests := []struct {
		name    string
		handler func(release <-chan struct{}) http.HandlerFunc
	}{
		{name: "not a time-stamp response", handler: func(<-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/timestamp-reply")
				_, _ = w.Write([]byte("this is not DER"))
			}
		}},
		{name: "hangs", handler: func(release <-chan struct{}) http.HandlerFunc {
			return func(_ http.ResponseWriter, r *http.Request) {
				// Read the query, so the server notices the client hang up.
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-release: // the test is over (Close waits for handlers)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(tt.handler(release))
			defer srv.Close()
			defer close(release)
			sink := new(consumertest.LogsSink)
			cfg := stampConfig(srv.URL, 100*time.Millisecond, 1)
			cfg.Timestamp.Timeout = 200 * time.Millisecond
			signer := newSigner(t, "ed25519")
			p, tel := startSign(t, cfg, sink, signer)

			within(t, "ConsumeLogs", func() error {
				_, err := consumeHeads(p, head("o/1", 2), head("o/1", 4), head("o/1", 6), head("o/1", 8), head("o/1", 10))
				return err
			})
			require.Eventually(t, func() bool { return counter(t, tel, metricStampFailed) >= 1 }, waitLong, tick)
			require.Eventually(t, func() bool {
				_, ok := checkpointAt(t, sink, "o/1", 10)
				return ok
			}, waitLong, tick)
			within(t, "Shutdown", func() error { return p.Shutdown(context.Background()) })
			assert.Empty(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp))
			assert.Zero(t, counter(t, tel, metricStamped))
			assert.Zero(t, counter(t, tel, metricFailures))
		})
	}
}

func TestTimestampStartFailure(t *testing.T) {
	cfg := stampConfig("https://127.0.0.1:1/tsa", time.Hour, 1)
	cfg.Timestamp.TLS.CAFile = "/nonexistent/ca.pem"
	sink := new(consumertest.LogsSink)
	p, _ := newSign(t, cfg, sink)
	err := p.Start(context.Background(), testHost{signerID: fakeSignerExt{newSigner(t, "ed25519")}})
	require.Error(t, err)
	assert.ErrorContains(t, err, "timestamp:")
	shutdownPromptly(t, p)
}

// Shutdown keeps to its context's deadline even while a request of the
// loop hangs on a TSA with a long timeout: the loop's request is abandoned
// and the final attempt is bounded by the shutdown context.
func TestTimestampShutdownDeadlineWithHangingTSA(t *testing.T) {
	release := make(chan struct{})
	requests := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		requests <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	sink := new(consumertest.LogsSink)
	cfg := stampConfig(srv.URL, time.Hour, 1)
	cfg.Timestamp.Timeout = time.Hour
	p, tel := startSign(t, cfg, sink, newSigner(t, "ed25519"))
	consumeWithHead(t, p, head("o/1", 3))
	select {
	case <-requests: // the loop's request hangs now
	case <-time.After(waitLong):
		require.FailNow(t, "no time-stamp request")
	}
	consumeWithHead(t, p, head("o/1", 5))

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	within(t, "Shutdown with a hanging TSA", func() error { return p.Shutdown(ctx) })
	_, ok := checkpointAt(t, sink, "o/1", 5)
	assert.True(t, ok, "the final checkpoint")
	assert.Empty(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpointTimestamp))
	assert.Positive(t, counter(t, tel, metricStampFailed))
}
