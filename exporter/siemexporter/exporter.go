package siemexporter

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/exporter/siemexporter/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/pkg/siem"
)

type siemExporter struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	formatter siem.Formatter
	transport transport
}

func newSIEMExporter(cfg *Config, set exporter.Settings) (*siemExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	f, err := cfg.formatter(collectorIdentity(set))
	if err != nil {
		return nil, err
	}
	e := &siemExporter{cfg: cfg, logger: set.Logger, telemetry: tb, formatter: f}
	ts := transportSettings{
		telemetry: set.TelemetrySettings,
		logger:    set.Logger,
		format:    cfg.Format,
		rejected:  e.rejected,
	}
	if e.transport, err = newTransport(cfg, ts, func(ctx context.Context) { tb.ExporterSiemFilesRotated.Add(ctx, 1) }); err != nil {
		return nil, err
	}
	return e, nil
}

// rejectedInSend counts the events a transport reported as rejected during
// one send, so that pushLogs leaves them out of events_sent.
type rejectedInSend struct{ n atomic.Int64 }

type rejectedInSendKey struct{}

func (e *siemExporter) rejected(ctx context.Context, n int, reason string) {
	if c, ok := ctx.Value(rejectedInSendKey{}).(*rejectedInSend); ok {
		c.n.Add(int64(n))
	}
	e.telemetry.ExporterSiemEventsRejected.Add(ctx, int64(n))
	e.logger.Warn("The SIEM refused events for good; they are not retried (the archive holds them)",
		zap.Int("events", n), zap.String("reason", reason))
}

// dropped counts records refused by the full sending queue; the warning is
// rate limited by the logger's sampling.
func (e *siemExporter) dropped(ctx context.Context, n int) {
	e.telemetry.ExporterSiemEventsDropped.Add(ctx, int64(n))
	e.logger.Warn("The SIEM sending queue is full: records are not sent to the SIEM (the archive pipeline goes on; "+
		"otelcol_exporter_siem_events_dropped counts them). Is the SIEM reachable?", zap.Int("records", n))
}

func (e *siemExporter) start(ctx context.Context, host component.Host) error {
	if e.cfg.QueueConfig.HasValue() && e.cfg.QueueConfig.Get().StorageID == nil {
		e.logger.Info("sending_queue has no storage: events queued for the SIEM are lost if the collector " +
			"stops or crashes (the archive pipeline is not affected). Set sending_queue.storage to a " +
			"file_storage extension to keep them.")
	}
	return e.transport.start(ctx, host)
}

func (e *siemExporter) shutdown(ctx context.Context) error {
	if e.transport == nil {
		return nil
	}
	return e.transport.shutdown(ctx)
}

func (e *siemExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	events := make([]event, 0, ld.LogRecordCount())
	var bytes int64
	var canon []byte
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				ev := event{
					time:     recordTime(lr),
					host:     recordHost(res, lr),
					name:     lr.EventName(),
					severity: siem.Severity(res, lr),
					payload:  e.formatter.Append(nil, res, lr),
				}
				ev.id, canon = recordID(canon, rl, sl, lr)
				bytes += int64(len(ev.payload))
				events = append(events, ev)
			}
		}
	}
	if len(events) == 0 {
		return nil
	}
	rej := &rejectedInSend{}
	if err := e.transport.send(context.WithValue(ctx, rejectedInSendKey{}, rej), events); err != nil {
		e.telemetry.ExporterSiemSendErrors.Add(ctx, 1)
		return err
	}
	// Events the SIEM refused for good are counted in events_rejected, not
	// as sent too.
	e.telemetry.ExporterSiemEventsSent.Add(ctx, max(int64(len(events))-rej.n.Load(), 0))
	e.telemetry.ExporterSiemBytesSent.Add(ctx, bytes)
	return nil
}

func recordTime(lr plog.LogRecord) time.Time {
	t := lr.Timestamp()
	if t == 0 {
		t = lr.ObservedTimestamp()
	}
	if t == 0 {
		return time.Now().UTC()
	}
	return t.AsTime().UTC()
}

func recordHost(res pcommon.Resource, lr plog.LogRecord) string {
	for _, name := range []string{"host.name", auditrecord.AttrHostID} {
		if v, ok := lr.Attributes().Get(name); ok && v.Str() != "" {
			return v.Str()
		}
		if v, ok := res.Attributes().Get(name); ok && v.Str() != "" {
			return v.Str()
		}
	}
	return ""
}

// recordID is the event's stable id: for a chained record its place in the
// collector's Merkle log (log id and leaf index, unique by construction),
// otherwise the digest of its canonical form, so a retried batch carries
// the same ids. 160 bits in hex.
func recordID(canon []byte, rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) (string, []byte) {
	h := sha256.New()
	logID, hasLog := lr.Attributes().Get(integrity.AttrLogID)
	index, hasIndex := lr.Attributes().Get(integrity.AttrLogIndex)
	if hasLog && hasIndex && logID.Type() == pcommon.ValueTypeStr && index.Type() == pcommon.ValueTypeInt {
		h.Write([]byte("agentaudit siem id v1 leaf\n"))
		h.Write([]byte(logID.Str()))
		h.Write([]byte{'\n'})
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(index.Int())))
	} else {
		canon = integrity.AppendCanonical(canon[:0], rl, sl, lr)
		h.Write([]byte("agentaudit siem id v1 record\n"))
		h.Write(canon)
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:20]), canon
}

// collectorIdentity is this collector as ECS agent.* names it: its build
// version, its service.instance.id and its host name.
func collectorIdentity(set exporter.Settings) siem.ECSAgent {
	a := siem.ECSAgent{Version: set.BuildInfo.Version}
	if v, ok := set.Resource.Attributes().Get("service.instance.id"); ok {
		a.ID = v.AsString()
	}
	if h, err := os.Hostname(); err == nil {
		a.Name = h
	}
	return a
}

// newTransport builds the configured transport.
func newTransport(cfg *Config, set transportSettings, rotated func(context.Context)) (transport, error) {
	switch {
	case cfg.File != nil:
		return newFileTransport(cfg.File, set, rotated), nil
	case cfg.Syslog != nil:
		return newSyslogTransport(cfg.Syslog, set)
	case cfg.Elasticsearch != nil:
		return newElasticsearchTransport(cfg.Elasticsearch, set)
	case cfg.SplunkHEC != nil:
		return newSplunkHECTransport(cfg.SplunkHEC, set)
	}
	return nil, errors.New("no transport configured")
}
