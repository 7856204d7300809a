package signprocessor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadata"
)

// timestamper obtains RFC 3161 tokens for checkpoints on its own goroutine,
// so a slow or absent time-stamp authority delays tokens, never records.
// It owes a token to the latest checkpoint of each log only: a checkpoint
// is consistent with every earlier one of its log, so a token over the
// latest puts the earlier ones in time too ("no later than"). While the TSA
// is down, newer checkpoints replace older ones in the queue, which stays
// one entry per log.
type timestamper struct {
	cfg       TimestampConfig
	client    *http.Client
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	next      consumer.Logs

	mu      sync.Mutex
	pending map[string]owedStamp // by log id

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	// roundMu serializes rounds (the loop and shutdown).
	roundMu sync.Mutex
}

type owedStamp struct {
	logID string
	size  uint64
	note  []byte
}

func newTimestamper(cfg TimestampConfig, client *http.Client, logger *zap.Logger, tb *metadata.TelemetryBuilder, next consumer.Logs) *timestamper {
	return &timestamper{
		cfg: cfg, client: client, logger: logger, telemetry: tb, next: next,
		pending: map[string]owedStamp{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// add owes a token to a checkpoint just emitted.
func (t *timestamper) add(logID string, size uint64, note []byte) {
	t.mu.Lock()
	if cur, ok := t.pending[logID]; !ok || size > cur.size {
		t.pending[logID] = owedStamp{logID: logID, size: size, note: note}
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *timestamper) loop() {
	defer close(t.done)
	// A request in flight is abandoned on stop: shutdown makes its own last
	// attempt within its deadline, and must not first wait out a hanging
	// TSA for up to the client timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := time.Duration(0)
	var retry <-chan time.Time
	for {
		select {
		case <-t.stop:
			return
		case <-t.wake:
			if backoff > 0 {
				continue // waiting out a failing TSA; the timer will come
			}
		case <-retry:
		}
		retry = nil
		if t.round(ctx) {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, time.Second), t.cfg.MaxBackoff)
		retry = time.After(backoff)
	}
}

// round asks for a token for every owed checkpoint; false if any failed.
func (t *timestamper) round(ctx context.Context) bool {
	t.roundMu.Lock()
	defer t.roundMu.Unlock()
	t.mu.Lock()
	owed := make([]owedStamp, 0, len(t.pending))
	for _, o := range t.pending {
		owed = append(owed, o)
	}
	t.mu.Unlock()
	ok := true
	for _, o := range owed {
		if err := t.stamp(ctx, o); err != nil {
			ok = false
			t.telemetry.ProcessorSignTimestampFailures.Add(ctx, 1)
			t.logger.Warn("No time-stamp token yet; the checkpoint's token is tried again later (the pipeline is not held up)",
				zap.String("log", o.logID), zap.Uint64("size", o.size), zap.Error(err))
			continue
		}
		t.telemetry.ProcessorSignTimestampsEmitted.Add(ctx, 1)
		t.mu.Lock()
		if cur, ok := t.pending[o.logID]; ok && cur.size == o.size {
			delete(t.pending, o.logID)
		}
		t.mu.Unlock()
	}
	return ok
}

// stamp gets a token for one checkpoint and passes it on as a record.
func (t *timestamper) stamp(ctx context.Context, o owedStamp) error {
	digest := sha256.Sum256(o.note)
	req, nonce, err := integrity.NewTimestampRequest(digest)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.Endpoint, bytes.NewReader(req))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := t.client.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("time-stamp authority answered %s", resp.Status)
	}
	token, err := integrity.ParseTimestampResponse(body)
	if err != nil {
		return err
	}
	// Checked as far as it can be without pinned roots (the verifier has
	// those): a TSA that stamps the wrong digest or echoes the wrong nonce
	// is an error now, not a surprise at audit time.
	info, err := integrity.CheckTimestampToken(token, digest, nonce)
	if err != nil {
		return err
	}

	ld, sl := integrity.NewCollectorBatch(metadata.ScopeName)
	lr := integrity.AppendCollectorRecord(sl, integrity.EventCheckpointTimestamp, plog.SeverityNumberInfo, pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr(fmt.Sprintf("RFC 3161 time stamp of the checkpoint of %s at size %d by %s: %s",
		o.logID, o.size, info.TSA, info.Time.UTC().Format(time.RFC3339Nano)))
	attrs := lr.Attributes()
	attrs.PutStr(integrity.AttrLogID, o.logID)
	attrs.PutInt(integrity.AttrCheckpointSize, int64(o.size))
	attrs.PutStr(integrity.AttrTimestampImprint, hex.EncodeToString(digest[:]))
	attrs.PutStr(integrity.AttrTimestampNonce, nonce.String())
	attrs.PutStr(integrity.AttrTimestampTime, info.Time.UTC().Format(time.RFC3339Nano))
	attrs.PutStr(integrity.AttrTimestampToken, base64.StdEncoding.EncodeToString(token))
	if err := t.next.ConsumeLogs(ctx, ld); err != nil {
		return fmt.Errorf("passing the token on: %w", err)
	}
	return nil
}

// shutdown stops the loop and makes one last round within ctx.
func (t *timestamper) shutdown(ctx context.Context) {
	close(t.stop)
	<-t.done
	if !t.round(ctx) {
		t.mu.Lock()
		for _, o := range t.pending {
			t.logger.Warn("Shut down without a time-stamp token for the latest checkpoint",
				zap.String("log", o.logID), zap.Uint64("size", o.size))
		}
		t.mu.Unlock()
	}
}
