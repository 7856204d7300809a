package signprocessor

import (
	"context"
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

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadata"
)

type logState struct {
	latest integrity.TreeHead // the largest head seen
	signed uint64             // size of the last checkpoint emitted
}

type signProcessor struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	next      consumer.Logs
	signer    integrity.Signer

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
		logger:    set.Logger,
		telemetry: tb,
		next:      next,
		logs:      map[string]*logState{},
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}, nil
}

func (p *signProcessor) Start(_ context.Context, host component.Host) error {
	s, err := signerextension.GetSigner(host, p.cfg.Signer)
	if err != nil {
		return err
	}
	p.signer = s
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
	p.mu.Lock()
	var heads []integrity.TreeHead
	for _, st := range p.logs {
		if st.latest.Size > st.signed {
			heads = append(heads, st.latest)
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
		if err := p.appendAnnouncement(sl, heads[0].LogID, now); err != nil {
			p.telemetry.ProcessorSignFailures.Add(ctx, 1)
			return err
		}
	}
	var errs []error
	// Only the heads whose checkpoint was signed count as signed: the others
	// are tried again on the next round.
	signed := make([]integrity.TreeHead, 0, len(heads))
	for _, th := range heads {
		note, err := integrity.SignCheckpoint(th.LogID, th.Size, th.Root, p.signer)
		if err != nil {
			errs = append(errs, fmt.Errorf("signing checkpoint of %s at size %d: %w", th.LogID, th.Size, err))
			continue
		}
		signed = append(signed, th)
		lr := integrity.AppendCollectorRecord(sl, integrity.EventCheckpoint, plog.SeverityNumberInfo, now)
		lr.Body().SetStr(string(note))
		lr.Attributes().PutStr(integrity.AttrLogID, th.LogID)
		lr.Attributes().PutInt(integrity.AttrCheckpointSize, int64(th.Size))
		lr.Attributes().PutStr(integrity.AttrCheckpointRoot, base64.StdEncoding.EncodeToString(th.Root[:]))
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
	for _, th := range signed {
		if st := p.logs[th.LogID]; st != nil && th.Size > st.signed {
			st.signed = th.Size
			emitted++
		}
	}
	p.mu.Unlock()
	p.telemetry.ProcessorSignCheckpointsEmitted.Add(ctx, int64(emitted))
	if len(errs) > 0 {
		p.telemetry.ProcessorSignFailures.Add(ctx, int64(len(errs)))
	}
	return errors.Join(errs...)
}

// appendAnnouncement writes the record that puts the signing key into the
// trail before its first checkpoint: name, verifier key and public key, so
// an auditor sees which key signed and since when.
func (p *signProcessor) appendAnnouncement(sl plog.ScopeLogs, logID string, now pcommon.Timestamp) error {
	pub, err := integrity.MarshalPublicKeyPEM(p.signer.Public())
	if err != nil {
		return fmt.Errorf("key announcement: %w", err)
	}
	lr := integrity.AppendCollectorRecord(sl, integrity.EventKeyAnnouncement, plog.SeverityNumberInfo, now)
	lr.Body().SetStr(fmt.Sprintf("Checkpoints of %s are signed with key %s (%s).", logID, p.signer.Name(), p.signer.Algorithm()))
	lr.Attributes().PutStr(integrity.AttrLogID, logID)
	lr.Attributes().PutStr(integrity.AttrKeyName, p.signer.Name())
	lr.Attributes().PutStr(integrity.AttrKeyVerifierKey, p.signer.VerifierKey())
	lr.Attributes().PutStr(integrity.AttrKeyAlgorithm, p.signer.Algorithm())
	lr.Attributes().PutStr(integrity.AttrKeyPublicKey, string(pub))
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
	p.telemetry.Shutdown()
	if err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	return nil
}
