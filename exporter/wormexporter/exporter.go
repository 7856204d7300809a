package wormexporter

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

type wormExporter struct {
	cfg         *Config
	logger      *zap.Logger
	origin      string
	telemetry   *metadata.TelemetryBuilder
	backend     archive.Backend
	compression archive.Compression

	// s3 is set for the S3 backend. Until its start-up check has passed
	// (with on_unreachable_at_start: retry, the service may be away at
	// start), every push runs the check first and fails retryably.
	s3        *archive.S3Backend
	checkMu   sync.Mutex
	s3Checked bool

	// failing is set from the first failed write to the next successful
	// one, failedWrites counts the failures meanwhile: the operator gets
	// one error line when writing starts to fail and one line when it
	// works again, not one per retry.
	failing      atomic.Bool
	failedWrites atomic.Int64
}

func newWormExporter(cfg *Config, set exporter.Settings, origin string) (*wormExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &wormExporter{cfg: cfg, logger: set.Logger, origin: origin, telemetry: tb, compression: cfg.compression()}, nil
}

// checkTimeout bounds the S3 bucket check at start-up.
const checkTimeout = 30 * time.Second

func (e *wormExporter) start(ctx context.Context, _ component.Host) error {
	if e.cfg.QueueConfig.HasValue() && e.cfg.QueueConfig.Get().StorageID == nil {
		e.logger.Warn("sending_queue is enabled without storage: events acknowledged to clients " +
			"but still queued are lost if the collector crashes. Set sending_queue.storage to a " +
			"file_storage extension with fsync: true, or disable the queue.")
	}
	if e.cfg.S3 != nil {
		return e.startS3(ctx)
	}
	b, err := archive.NewFileBackend(e.cfg.Local.Directory)
	if err != nil {
		return err
	}
	e.backend = b
	e.logger.Info("Archiving to local directory", zap.String("directory", b.Root()), zap.String("origin", e.origin),
		zap.String("compression", string(e.compression)))
	return nil
}

func (e *wormExporter) startS3(ctx context.Context) error {
	c := e.cfg.S3
	var tlsCfg *tls.Config
	if !strings.HasPrefix(c.Endpoint, "http://") {
		var err error
		if tlsCfg, err = c.TLS.LoadTLSConfig(ctx); err != nil {
			return fmt.Errorf("s3.tls: %w", err)
		}
	} else if c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.CAPem != "" || c.TLS.CertPem != "" {
		// Someone meant to protect the connection; say that it is not.
		e.logger.Warn("s3.tls is set but s3.endpoint is http://: the connection is not encrypted and the TLS settings are unused",
			zap.String("endpoint", c.Endpoint))
	}
	client, err := archive.NewS3Client(ctx, archive.S3ClientConfig{
		Endpoint:        c.Endpoint,
		Region:          c.Region,
		PathStyle:       c.PathStyle,
		TLS:             tlsCfg,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: string(c.SecretAccessKey),
		SessionToken:    string(c.SessionToken),
		Profile:         c.Profile,
	})
	if err != nil {
		return err
	}
	e.s3 = archive.NewS3Backend(client, c.Bucket, c.Prefix, archive.ObjectLock{
		Mode: c.lockMode(), Retention: c.ObjectLock.Retention, LegalHold: c.ObjectLock.LegalHold})
	e.backend = e.s3
	fields := []zap.Field{zap.String("archive", e.s3.String()), zap.String("endpoint", c.Endpoint),
		zap.String("origin", e.origin), zap.String("object_lock_mode", c.lockMode()),
		zap.Duration("retention", c.ObjectLock.Retention), zap.Bool("legal_hold", c.ObjectLock.LegalHold),
		zap.String("compression", string(e.compression))}
	checkCtx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := e.s3.Check(checkCtx); err != nil {
		var ce *archive.CheckError
		if errors.As(err, &ce) && ce.Unreachable && c.OnUnreachableAtStart == unreachableRetry {
			e.logger.Warn("S3 archive unreachable at start; records wait in the sending queue and the "+
				"bucket is checked again before the first write (on_unreachable_at_start: retry)",
				append(fields, zap.Error(err))...)
			return nil
		}
		return fmt.Errorf("worm exporter: %w", err)
	}
	e.s3Checked = true
	e.logger.Info("Archiving to S3 with Object Lock", fields...)
	return nil
}

// ensureChecked runs the S3 bucket check if it has not passed yet.
func (e *wormExporter) ensureChecked(ctx context.Context) error {
	if e.s3 == nil {
		return nil
	}
	e.checkMu.Lock()
	defer e.checkMu.Unlock()
	if e.s3Checked {
		return nil
	}
	if err := e.s3.Check(ctx); err != nil {
		e.telemetry.ExporterWormWriteErrors.Add(ctx, 1)
		// Never permanent: a record is not dropped because the bucket is
		// misconfigured; it waits until someone fixes it.
		e.logger.Error("S3 archive check failed; records stay queued", zap.String("archive", e.s3.String()), zap.Error(err))
		return err
	}
	e.s3Checked = true
	e.logger.Info("S3 archive check passed; writing", zap.String("archive", e.s3.String()))
	return nil
}

func (e *wormExporter) shutdown(context.Context) error {
	e.telemetry.Shutdown()
	return nil
}

// segment collects the lines of one object: the records of one stream of
// one log (chained), of one stream (unchained), or one checkpoint.
type segment struct {
	key        func(data []byte) string
	chained    bool
	lines      []segmentLine
	minT, maxT uint64
}

// segmentLine is one archive line and the record's sequence number.
type segmentLine struct {
	seq  uint64
	data []byte
}

type groupKey struct {
	logID, stream string
	chained       bool
}

// pushLogs writes one segment per stream and log, and one object per
// checkpoint. A failed write is retried with the whole batch; the segments
// already written are found again under the same key (it contains their
// digest) and not written twice.
func (e *wormExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if err := e.ensureChecked(ctx); err != nil {
		return err
	}
	groups := map[groupKey]*segment{}
	var singles []*segment
	var canonical []byte
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				canonical = integrity.AppendCanonical(canonical[:0], rl, sl, lr)
				if seg := e.integrityObject(lr, canonical); seg != nil {
					singles = append(singles, seg)
					continue
				}
				h, chained, err := integrity.HeaderFromAttributes(lr.Attributes())
				if err != nil {
					e.logger.Warn("record has malformed chain attributes; archived as unchained", zap.Error(err))
					chained = false
				}
				var gk groupKey
				if chained {
					if integrity.RecordDigest(canonical) != h.Digest {
						// Changed after it was chained (a processor after the
						// chain processor, or on the way from an agent). The
						// archive keeps it as it came; the verifier reports it.
						e.telemetry.ExporterWormDigestMismatches.Add(ctx, 1)
						e.logger.Warn("record does not match its digest", zap.String("log_id", h.Log),
							zap.String("stream", h.Stream), zap.Uint64("seq", h.Seq))
					}
					gk = groupKey{logID: h.Log, stream: h.Stream, chained: true}
				} else {
					gk = groupKey{stream: integrity.StreamOf(e.cfg.StreamAttributes, rl.Resource().Attributes(), lr.Attributes())}
				}
				seg, ok := groups[gk]
				if !ok {
					seg = e.newSegment(gk)
					groups[gk] = seg
				}
				var hp *integrity.ChainHeader
				if chained {
					hp = &h
				}
				seg.add(integrity.AppendLine(nil, hp, canonical), h.Seq, lr)
			}
		}
	}

	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.logID, b.logID), cmp.Compare(a.stream, b.stream))
	})
	var errs []error
	for _, k := range keys {
		if err := e.write(ctx, groups[k]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, seg := range singles {
		if err := e.write(ctx, seg); err != nil {
			errs = append(errs, err)
		}
	}
	// A permanent error drops the whole batch, so it may only when every
	// failure is permanent: a segment that failed for a passing reason is
	// retried with the batch (the segments written are found again), or
	// its records are lost. The conflict stays in the message.
	if slices.ContainsFunc(errs, func(err error) bool { return !consumererror.IsPermanent(err) }) {
		for i, err := range errs {
			if consumererror.IsPermanent(err) {
				errs[i] = errors.New(err.Error())
			}
		}
	}
	return errors.Join(errs...)
}

func (e *wormExporter) newSegment(gk groupKey) *segment {
	seg := &segment{chained: gk.chained, minT: ^uint64(0)}
	if origin, epoch, err := integrity.SplitLogID(gk.logID); err == nil && gk.chained {
		seg.key = func(data []byte) string {
			return archive.ChainedSegmentKey(origin, epoch, gk.stream, seg.lines[0].seq, seg.lines[len(seg.lines)-1].seq, data)
		}
	} else {
		// A chained record whose log id does not parse is still archived;
		// the verifier reports it.
		seg.chained = false
		seg.key = func(data []byte) string {
			return archive.UnchainedSegmentKey(e.origin, gk.stream, seg.minT, seg.maxT, data)
		}
	}
	return seg
}

// integrityObject returns the object for a checkpoint, its time stamp or a
// key announcement, which are stored one per object beside the log's
// streams, or nil.
func (e *wormExporter) integrityObject(lr plog.LogRecord, canonical []byte) *segment {
	name := lr.EventName()
	if name != integrity.EventCheckpoint && name != integrity.EventCheckpointTimestamp && name != integrity.EventKeyAnnouncement {
		return nil
	}
	v, ok := lr.Attributes().Get(integrity.AttrLogID)
	if !ok {
		return nil
	}
	origin, epoch, err := integrity.SplitLogID(v.AsString())
	if err != nil {
		return nil
	}
	// Only well-formed ones get their own object; anything else claiming
	// these names (a forged OTLP record) is archived as an unchained record,
	// which the verifier reports.
	var key func(data []byte) string
	if name == integrity.EventCheckpoint || name == integrity.EventCheckpointTimestamp {
		size, ok := lr.Attributes().Get(integrity.AttrCheckpointSize)
		if !ok || size.Type() != pcommon.ValueTypeInt || size.Int() < 0 {
			return nil
		}
		keyFor := archive.CheckpointKey
		if name == integrity.EventCheckpointTimestamp {
			keyFor = archive.TimestampKey
		}
		key = func(data []byte) string { return keyFor(origin, epoch, uint64(size.Int()), data) }
	} else {
		keyName, ok := lr.Attributes().Get(integrity.AttrKeyName)
		if !ok || keyName.Type() != pcommon.ValueTypeStr {
			return nil
		}
		key = func(data []byte) string { return archive.KeyAnnouncementKey(origin, epoch, keyName.Str(), data) }
	}
	return &segment{key: key, lines: []segmentLine{{data: integrity.AppendLine(nil, nil, canonical)}}}
}

func (seg *segment) add(data []byte, seq uint64, lr plog.LogRecord) {
	seg.lines = append(seg.lines, segmentLine{seq: seq, data: data})
	t := uint64(lr.Timestamp())
	if t == 0 {
		t = uint64(lr.ObservedTimestamp())
	}
	seg.minT = min(seg.minT, t)
	seg.maxT = max(seg.maxT, t)
}

func (e *wormExporter) write(ctx context.Context, seg *segment) error {
	if seg.chained {
		// Sequence numbers, not arrival order, are the truth: queues reorder.
		slices.SortStableFunc(seg.lines, func(a, b segmentLine) int { return cmp.Compare(a.seq, b.seq) })
	}
	size := 0
	for _, l := range seg.lines {
		size += len(l.data)
	}
	data := make([]byte, 0, size)
	for _, l := range seg.lines {
		data = append(data, l.data...)
	}
	// The key's digest is of the lines, not of the compressed bytes.
	key := seg.key(data) + e.compression.Suffix()
	body, err := e.compression.Compress(data)
	if err != nil {
		return fmt.Errorf("cannot compress segment %s: %w", key, err)
	}
	existed, err := e.backend.Put(ctx, key, body)
	if err != nil {
		e.telemetry.ExporterWormWriteErrors.Add(ctx, 1)
		e.failedWrites.Add(1)
		if !errors.Is(err, archive.ErrConflict) && e.failing.CompareAndSwap(false, true) {
			msg := "Cannot write to the archive; the records are kept and the write is retried until it succeeds " +
				"(otelcol_exporter_worm_write_errors counts the failures)"
			if errors.Is(err, syscall.ENOSPC) {
				msg = "The archive's disk is full (ENOSPC): free space on it. The records are kept and the write is retried " +
					"until it succeeds; meanwhile the queue fills and the receivers refuse new events (429/503)"
			}
			e.logger.Error(msg, zap.String("key", key), zap.Error(err))
		}
		if errors.Is(err, archive.ErrConflict) {
			// Cannot happen to an honest archive: the key holds the digest.
			return consumererror.NewPermanent(err)
		}
		return fmt.Errorf("cannot write segment %s: %w", key, err)
	}
	if existed {
		// Nothing was written: finding an object a retry had written
		// before the failure does not end the episode.
		e.telemetry.ExporterWormSegmentsExisting.Add(ctx, 1)
		return nil
	}
	if e.failing.CompareAndSwap(true, false) {
		e.logger.Info("Archive writes succeed again", zap.Int64("failed_writes", e.failedWrites.Swap(0)))
	}
	e.telemetry.ExporterWormSegmentsWritten.Add(ctx, 1)
	e.telemetry.ExporterWormBytesWritten.Add(ctx, int64(len(body)))
	e.telemetry.ExporterWormRecordsWritten.Add(ctx, int64(len(seg.lines)))
	return nil
}
