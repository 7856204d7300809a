package signprocessor

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadata"
)

type logState struct {
	latest integrity.TreeHead // the largest head seen
	signed uint64             // size of the last checkpoint emitted
	// handedOver: a checkpoint of this log signed by both the previous and
	// the current key went out in this process (key rotation).
	handedOver bool
}

type signProcessor struct {
	cfg       *Config
	settings  component.TelemetrySettings
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	next      consumer.Logs
	signer    integrity.Signer
	previous  integrity.Signer // the key being replaced, or nil
	stamper   *timestamper     // nil without a time-stamp authority

	mu        sync.Mutex
	logs      map[string]*logState
	announced bool // the key announcement went out in this process
	warned    bool

	wake     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// signMu serializes signing rounds (ticker, size trigger, shutdown).
	signMu sync.Mutex
}

func newSignProcessor(cfg *Config, set processor.Settings, next consumer.Logs) (*signProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &signProcessor{
		cfg:       cfg,
		settings:  set.TelemetrySettings,
		logger:    set.Logger,
		telemetry: tb,
		next:      next,
		logs:      map[string]*logState{},
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}, nil
}

func (p *signProcessor) Start(ctx context.Context, host component.Host) error {
	// Nothing is kept until every check passed: Shutdown takes a set signer
	// to mean that the loop runs, and would wait for it forever otherwise.
	s, err := signerextension.GetSigner(host, p.cfg.Signer)
	if err != nil {
		return err
	}
	var prev integrity.Signer
	if p.cfg.PreviousSigner != nil {
		prev, err = signerextension.GetSigner(host, *p.cfg.PreviousSigner)
		if err != nil {
			return fmt.Errorf("previous_signer: %w", err)
		}
		if sameKey(prev, s) {
			return fmt.Errorf("previous_signer %q holds the same key as signer %q: nothing to rotate", *p.cfg.PreviousSigner, p.cfg.Signer)
		}
	}
	var stamper *timestamper
	if p.cfg.Timestamp.Enabled() {
		client, err := p.cfg.Timestamp.ToClient(ctx, host.GetExtensions(), p.settings)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		stamper = newTimestamper(p.cfg.Timestamp, client, p.logger, p.telemetry, p.next)
	}
	p.signer, p.previous, p.stamper = s, prev, stamper
	if prev != nil {
		p.logger.Info("Key rotation: the first checkpoint of each log is signed by both keys",
			zap.String("previous_key", prev.VerifierKey()), zap.String("key", s.VerifierKey()))
	}
	if stamper != nil {
		go stamper.loop()
	}
	go p.loop()
	return nil
}

func (p *signProcessor) loop() {
	defer close(p.done)
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.wake:
		}
		if err := p.signRound(context.Background()); err != nil {
			p.logger.Warn("checkpoint not emitted; trying again on the next tick", zap.Error(err))
		}
	}
}

func (p *signProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeLogs notes the tree head the batch brings and passes the batch on
// untouched; signing happens elsewhere.
func (p *signProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if th, ok := integrity.TreeHeadFromContext(ctx); ok {
		p.mu.Lock()
		st := p.logs[th.LogID]
		if st == nil {
			st = &logState{}
			p.logs[th.LogID] = st
		}
		if th.Size > st.latest.Size {
			st.latest = th
		}
		due := p.cfg.MaxRecords > 0 && st.latest.Size-st.signed >= p.cfg.MaxRecords
		p.mu.Unlock()
		if due {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	} else if ld.LogRecordCount() > 0 {
		p.telemetry.ProcessorSignBatchesWithoutTreeHead.Add(ctx, 1)
		p.mu.Lock()
		warn := !p.warned
		p.warned = true
		p.mu.Unlock()
		if warn {
			p.logger.Warn("a batch arrived without a tree head: put the sign processor directly after the chain processor " +
				"(no batch processor between them), or its records are not covered by checkpoints")
		}
	}
	return p.next.ConsumeLogs(ctx, ld)
}

// signRound signs and emits a checkpoint for every log that grew since its
// last checkpoint.
func (p *signProcessor) signRound(ctx context.Context) error {
	p.signMu.Lock()
	defer p.signMu.Unlock()
	type head struct {
		integrity.TreeHead
		handOver bool
	}
	p.mu.Lock()
	var heads []head
	for _, st := range p.logs {
		if st.latest.Size > st.signed {
			heads = append(heads, head{TreeHead: st.latest, handOver: p.previous != nil && !st.handedOver})
		}
	}
	announce := !p.announced
	p.mu.Unlock()
	if len(heads) == 0 {
		return nil
	}
	ld, sl := integrity.NewCollectorBatch(metadata.ScopeName)
	now := pcommon.NewTimestampFromTime(time.Now())
	if announce {
		if err := p.appendAnnouncements(sl, heads[0].LogID, now); err != nil {
			p.telemetry.ProcessorSignFailures.Add(ctx, 1)
			return err
		}
	}
	var errs []error
	// Only the heads whose checkpoint was signed count as signed: the others
	// are tried again on the next round.
	type signedHead struct {
		integrity.TreeHead
		note       []byte
		handedOver bool
	}
	signed := make([]signedHead, 0, len(heads))
	for _, h := range heads {
		signers := []note.Signer{p.signer}
		if h.handOver {
			// The transition checkpoint: the old key vouches for the new.
			signers = append(signers, p.previous)
		}
		msg, err := integrity.SignCheckpoint(h.LogID, h.Size, h.Root, signers...)
		if err != nil {
			errs = append(errs, fmt.Errorf("signing checkpoint of %s at size %d: %w", h.LogID, h.Size, err))
			continue
		}
		signed = append(signed, signedHead{TreeHead: h.TreeHead, note: msg, handedOver: h.handOver})
		lr := integrity.AppendCollectorRecord(sl, integrity.EventCheckpoint, plog.SeverityNumberInfo, now)
		lr.Body().SetStr(string(msg))
		lr.Attributes().PutStr(integrity.AttrLogID, h.LogID)
		lr.Attributes().PutInt(integrity.AttrCheckpointSize, int64(h.Size))
		lr.Attributes().PutStr(integrity.AttrCheckpointRoot, base64.StdEncoding.EncodeToString(h.Root[:]))
		lr.Attributes().PutStr(integrity.AttrKeyName, p.signer.Name())
	}
	if sl.LogRecords().Len() > 0 {
		if err := p.next.ConsumeLogs(ctx, ld); err != nil {
			p.telemetry.ProcessorSignFailures.Add(ctx, 1)
			return errors.Join(append(errs, fmt.Errorf("passing checkpoints on: %w", err))...)
		}
	}
	p.mu.Lock()
	if announce {
		p.announced = true
	}
	emitted := 0
	for _, h := range signed {
		if st := p.logs[h.LogID]; st != nil && h.Size > st.signed {
			st.signed = h.Size
			st.handedOver = st.handedOver || h.handedOver
			emitted++
		}
	}
	p.mu.Unlock()
	if p.stamper != nil {
		for _, h := range signed {
			p.stamper.add(h.LogID, h.Size, h.note)
		}
	}
	p.telemetry.ProcessorSignCheckpointsEmitted.Add(ctx, int64(emitted))
	if len(errs) > 0 {
		p.telemetry.ProcessorSignFailures.Add(ctx, int64(len(errs)))
	}
	return errors.Join(errs...)
}

// appendAnnouncements writes the records that put the signing keys into
// the trail before their first checkpoint: name, verifier key, public key
// and, for a TPM key, the evidence that it lives in the TPM. During a
// rotation the previous key is announced too, and the new key's
// announcement names it.
func (p *signProcessor) appendAnnouncements(sl plog.ScopeLogs, logID string, now pcommon.Timestamp) error {
	if p.previous != nil {
		if err := appendAnnouncement(sl, p.previous, "", logID, now); err != nil {
			return err
		}
		return appendAnnouncement(sl, p.signer, keyID(p.previous), logID, now)
	}
	return appendAnnouncement(sl, p.signer, "", logID, now)
}

// sameKey: both signers hold one key, whatever name each gives it (a
// rotation to the same key under a new name rotates nothing).
func sameKey(a, b integrity.Signer) bool {
	if a.VerifierKey() == b.VerifierKey() {
		return true
	}
	pub, ok := a.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(b.Public())
}

func keyID(s integrity.Signer) string { return fmt.Sprintf("%s+%08x", s.Name(), s.KeyHash()) }

func appendAnnouncement(sl plog.ScopeLogs, s integrity.Signer, previous, logID string, now pcommon.Timestamp) error {
	pub, err := integrity.MarshalPublicKeyPEM(s.Public())
	if err != nil {
		return fmt.Errorf("key announcement: %w", err)
	}
	lr := integrity.AppendCollectorRecord(sl, integrity.EventKeyAnnouncement, plog.SeverityNumberInfo, now)
	body := fmt.Sprintf("Checkpoints of %s are signed with key %s (%s).", logID, s.Name(), s.Algorithm())
	attrs := lr.Attributes()
	if previous != "" {
		body += fmt.Sprintf(" It replaces key %s; the transition checkpoint carries both signatures.", previous)
		attrs.PutStr(integrity.AttrKeyPrevious, previous)
	}
	attrs.PutStr(integrity.AttrLogID, logID)
	attrs.PutStr(integrity.AttrKeyName, s.Name())
	attrs.PutStr(integrity.AttrKeyVerifierKey, s.VerifierKey())
	attrs.PutStr(integrity.AttrKeyAlgorithm, s.Algorithm())
	attrs.PutStr(integrity.AttrKeyPublicKey, string(pub))
	if es, ok := s.(integrity.EvidenceSigner); ok {
		if ev := es.TPMEvidence(); ev != nil {
			ev.PutAttributes(attrs)
			body += " The key lives in a TPM; the announcement carries its certification by the TPM's attestation key."
		}
	}
	lr.Body().SetStr(body)
	return nil
}

// Shutdown stops the ticker and seals what the log holds with a last
// checkpoint (the chain processor, earlier in the pipeline, has already
// released its last records).
func (p *signProcessor) Shutdown(ctx context.Context) error {
	if p.signer == nil {
		return nil
	}
	// Shutdown must be safe to call again (component.Component).
	first := false
	p.stopOnce.Do(func() {
		first = true
		close(p.stop)
	})
	if !first {
		return nil
	}
	<-p.done
	err := p.signRound(ctx)
	if p.stamper != nil {
		// One last try for the tokens still owed, within the shutdown
		// deadline; what is left is logged.
		p.stamper.shutdown(ctx)
	}
	p.telemetry.Shutdown()
	if err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	return nil
}
