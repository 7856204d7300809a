package wormexporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

type wormExporter struct {
	cfg       *Config
	logger    *zap.Logger
	origin    string
	telemetry *metadata.TelemetryBuilder
	backend   archive.Backend
}

func newWormExporter(cfg *Config, set exporter.Settings, origin string) (*wormExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &wormExporter{cfg: cfg, logger: set.Logger, origin: origin, telemetry: tb}, nil
}

func (e *wormExporter) start(_ context.Context, _ component.Host) error {
	b, err := archive.NewFileBackend(e.cfg.Local.Directory)
	if err != nil {
		return err
	}
	e.backend = b
	if e.cfg.QueueConfig.HasValue() && e.cfg.QueueConfig.Get().StorageID == nil {
		e.logger.Warn("sending_queue is enabled without storage: events acknowledged to clients " +
			"but still queued are lost if the collector crashes. Set sending_queue.storage to a " +
			"file_storage extension with fsync: true, or disable the queue.")
	}
	e.logger.Info("Archiving to local directory", zap.String("directory", b.Root()), zap.String("origin", e.origin))
	return nil
}

func (e *wormExporter) shutdown(context.Context) error {
	e.telemetry.Shutdown()
	return nil
}

// segment collects the records of one stream in one export.
type segment struct {
	stream     string
	lines      []segmentLine
	minT, maxT uint64
}

// segmentLine is one encoded record and its sequence number (-1: none).
type segmentLine struct {
	seq  int64
	data []byte
}

// pushLogs writes one segment per stream. A failed write is retried with the
// whole batch; the segments already written are found again under the same
// key (it contains their digest) and not written twice.
func (e *wormExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	segments := map[string]*segment{}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				stream := e.streamOf(rl.Resource().Attributes(), lr.Attributes())
				seg, ok := segments[stream]
				if !ok {
					seg = &segment{stream: stream, minT: ^uint64(0)}
					segments[stream] = seg
				}
				line, err := archive.EncodeRecord(rl, sl, lr)
				if err != nil {
					return consumererror.NewPermanent(fmt.Errorf("cannot encode record: %w", err))
				}
				seg.add(line, lr)
			}
		}
	}

	streams := make([]string, 0, len(segments))
	for s := range segments {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	var errs []error
	for _, s := range streams {
		if err := e.write(ctx, segments[s]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (seg *segment) add(data []byte, lr plog.LogRecord) {
	seq := int64(-1)
	if v, ok := lr.Attributes().Get(auditrecord.AttrSequenceNumber); ok && v.Type() == pcommon.ValueTypeInt && v.Int() >= 0 {
		seq = v.Int()
	}
	seg.lines = append(seg.lines, segmentLine{seq: seq, data: data})
	t := uint64(lr.Timestamp())
	if t == 0 {
		t = uint64(lr.ObservedTimestamp())
	}
	seg.minT = min(seg.minT, t)
	seg.maxT = max(seg.maxT, t)
}

func (e *wormExporter) write(ctx context.Context, seg *segment) error {
	kind, first, last := archive.RangeTime, seg.minT, seg.maxT
	if !slices.ContainsFunc(seg.lines, func(l segmentLine) bool { return l.seq < 0 }) {
		// Sequence numbers, not arrival order, are the truth: queues reorder.
		slices.SortStableFunc(seg.lines, func(a, b segmentLine) int { return cmp.Compare(a.seq, b.seq) })
		kind, first, last = archive.RangeSequence, uint64(seg.lines[0].seq), uint64(seg.lines[len(seg.lines)-1].seq)
	}
	size := 0
	for _, l := range seg.lines {
		size += len(l.data)
	}
	data := make([]byte, 0, size)
	for _, l := range seg.lines {
		data = append(data, l.data...)
	}
	key := archive.SegmentKey(e.origin, seg.stream, kind, first, last, data)
	existed, err := e.backend.Put(ctx, key, data)
	if err != nil {
		if errors.Is(err, archive.ErrConflict) {
			// Cannot happen to an honest archive: the key holds the digest.
			return consumererror.NewPermanent(err)
		}
		return fmt.Errorf("cannot write segment %s: %w", key, err)
	}
	if existed {
		e.telemetry.ExporterWormSegmentsExisting.Add(ctx, 1)
		return nil
	}
	e.telemetry.ExporterWormSegmentsWritten.Add(ctx, 1)
	e.telemetry.ExporterWormBytesWritten.Add(ctx, int64(len(data)))
	return nil
}

// streamOf names a record's stream: the first configured attribute present
// on the record, else on its resource. Records with none share stream "".
func (e *wormExporter) streamOf(resource, record pcommon.Map) string {
	for _, name := range e.cfg.StreamAttributes {
		if v, ok := record.Get(name); ok {
			return v.AsString()
		}
		if v, ok := resource.Get(name); ok {
			return v.AsString()
		}
	}
	return ""
}
