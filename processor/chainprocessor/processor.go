package chainprocessor

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor/internal/metadata"
)

// Reasons a new epoch starts (agent_audit.chain.reason on the epoch-start
// record).
const (
	ReasonNoState          = "no_state"
	ReasonStateUnreadable  = "state_unreadable"
	ReasonOriginChanged    = "origin_changed"
	ReasonStateWriteFailed = "state_write_failed"
)

// errEpochAbandoned fails a batch chained in an epoch whose state could not
// be written; the next batch starts a new epoch.
var errEpochAbandoned = errors.New("chain state of this epoch could not be written; the batch must be sent again")

// Storage keys.
const (
	keyLog          = "log"
	keyStreamPrefix = "s/"
	keyFlightPrefix = "f/"
)

// flightKey is the storage key of a flight's records.
func flightKey(epoch, id uint64) string {
	return fmt.Sprintf("%s%d/%d", keyFlightPrefix, epoch, id)
}

// persistedLog is the Merkle log's state in storage.
type persistedLog struct {
	Origin string   `json:"origin"`
	Epoch  uint64   `json:"epoch"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
	// Confirmed: every leaf below it is known to be downstream (it is the
	// first leaf of the oldest flight; Size when none is in flight).
	Confirmed uint64 `json:"confirmed"`
	// Flights are the ids of the flights (groups of chained records not
	// yet known to be downstream) whose records are stored under
	// flightKey.
	Flights []uint64 `json:"flights,omitempty"`
	// Clean is written at a shutdown that left nothing in flight.
	Clean bool `json:"clean,omitempty"`
}

// flightEntry is a chained record not yet known to be downstream: what an
// unclean-stop notice lists if the process dies before it is.
type flightEntry struct {
	Index  uint64 `json:"i"`
	Stream string `json:"s"`
	Seq    uint64 `json:"q"`
	Link   []byte `json:"l"`
}

func flightEntryOf(h *integrity.ChainHeader) flightEntry {
	link := h.Link()
	return flightEntry{Index: h.Index, Stream: h.Stream, Seq: h.Seq, Link: link[:]}
}

// persistedHead is a stream head in storage.
type persistedHead struct {
	Epoch uint64 `json:"epoch"`
	Seq   uint64 `json:"seq"`
	Link  string `json:"link"`
}

type streamHead struct {
	seq  uint64
	link integrity.Hash
}

// notice is a record the processor wrote itself, already chained, waiting
// to be released downstream with the next batch.
type notice struct {
	logs plog.Logs
	// epoch and flight (the notice's leaf index) name its own flight;
	// covers are flights it accounts for (a void notice's refused batch),
	// confirmed with it once it is downstream.
	epoch  uint64
	flight uint64
	covers []uint64
	// head is the log's tree head just after the notice was chained.
	head integrity.TreeHead
}

// chainLog is the state of one chain processor (shared by its instances in
// several pipelines, which must not chain into two different logs).
type chainLog struct {
	cfg       *Config
	origin    string
	id        component.ID
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder

	refs   int // started instances
	refsMu sync.Mutex

	client storage.Client // nil without storage

	mu       sync.Mutex
	epoch    uint64
	logID    string
	log      *integrity.MerkleLog
	heads    map[string]*streamHead
	dirty    map[string]struct{}
	version  uint64 // incremented by every change
	pending  []*notice
	newEpoch string // reason to start a new epoch before the next batch

	// Flights: records chained but not yet known to be downstream, by the
	// index of their first leaf. A batch's records form one flight from
	// chaining until next.ConsumeLogs returns; a notice is one until the
	// batch releasing it gets through. They are persisted with the state
	// (flightWrite: not yet written; flightDelete: keys of confirmed ones
	// still in storage), so that a start after an unclean stop can list
	// them.
	flights      map[uint64][]flightEntry
	flightWrite  map[uint64]struct{}
	flightDelete []string
	// noticeFlights are the flights that are notices of the processor's
	// own; durableSize is the size of the current log the last successful
	// state write held. Leaves at or above it were never passed on.
	noticeFlights map[uint64]struct{}
	durableSize   uint64
	// leftEpoch is the epoch of the log last left after a failed write:
	// its notices still to go out are passed on with a tree head of
	// their own log.
	leftEpoch uint64
	// refusing is the error of the last batch passed on, if it was
	// refused: notices waiting then go out on their own (probing) before
	// a new batch is chained.
	refusing error
	probing  bool

	persistMu sync.Mutex
	durable   uint64 // highest version known to be in storage
}

func newChainLog(cfg *Config, set processor.Settings, origin string) (*chainLog, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &chainLog{
		cfg:       cfg,
		origin:    origin,
		id:        set.ID,
		logger:    set.Logger,
		telemetry: tb,
		heads:     map[string]*streamHead{},
		dirty:     map[string]struct{}{},
		flights:   map[uint64][]flightEntry{},

		flightWrite:   map[uint64]struct{}{},
		noticeFlights: map[uint64]struct{}{},
	}, nil
}

func (c *chainLog) start(ctx context.Context, host component.Host) error {
	c.refsMu.Lock()
	defer c.refsMu.Unlock()
	c.refs++
	if c.refs > 1 {
		return nil
	}
	if c.cfg.Storage == nil {
		c.logger.Warn("chain processor has no storage: every start begins a new log (epoch). " +
			"Set storage to a file_storage extension with fsync: true.")
	} else {
		ext, ok := host.GetExtensions()[*c.cfg.Storage]
		if !ok {
			return fmt.Errorf("storage %q: no such extension in service.extensions", c.cfg.Storage)
		}
		se, ok := ext.(storage.Extension)
		if !ok {
			return fmt.Errorf("storage %q is not a storage extension", c.cfg.Storage)
		}
		client, err := se.GetClient(ctx, component.KindProcessor, c.id, "")
		if err != nil {
			return fmt.Errorf("storage %q: %w", c.cfg.Storage, err)
		}
		c.client = client
	}
	reason, prevLogID, prevSize, lost := c.load(ctx)
	if reason == "" {
		// The processor's own notices (this start's unclean-stop notice,
		// later void notices) go on the collector stream of the log it
		// continues.
		if err := c.loadHeads(ctx, []string{integrity.CollectorStream}); err != nil {
			return fmt.Errorf("reading chain state: %w", err)
		}
	}
	c.mu.Lock()
	if reason != "" {
		c.startEpochLocked(reason, prevLogID, prevSize)
	} else if len(lost) > 0 {
		c.uncleanStopLocked(lost, slices.Collect(maps.Keys(c.flights)))
	}
	v, epoch := c.version, c.epoch
	c.mu.Unlock()
	// The new epoch must be durable before any record of it leaves.
	if err := c.persist(ctx, v, epoch); err != nil {
		return fmt.Errorf("writing chain state: %w", err)
	}
	c.logger.Info("chain log ready", zap.String("log_id", c.logID), zap.Uint64("size", c.log.Size()))
	return nil
}

// load restores the log from storage, or says why a new epoch is needed.
// lost are the records the previous run left in flight.
func (c *chainLog) load(ctx context.Context) (reason, prevLogID string, prevSize uint64, lost []flightEntry) {
	if c.client == nil {
		return ReasonNoState, "", 0, nil
	}
	data, err := c.client.Get(ctx, keyLog)
	if err != nil {
		c.logger.Error("chain state unreadable; starting a new epoch", zap.Error(err))
		return ReasonStateUnreadable, "", 0, nil
	}
	if data == nil {
		return ReasonNoState, "", 0, nil
	}
	var st persistedLog
	if err := json.Unmarshal(data, &st); err != nil {
		c.logger.Error("chain state unreadable; starting a new epoch", zap.Error(err))
		return ReasonStateUnreadable, "", 0, nil
	}
	prevLogID = integrity.LogID(st.Origin, st.Epoch)
	if st.Origin != c.origin {
		return ReasonOriginChanged, prevLogID, st.Size, nil
	}
	log, err := integrity.RestoreMerkleLog(st.Size, st.Hashes)
	if err != nil {
		c.logger.Error("chain state unreadable; starting a new epoch", zap.Error(err))
		return ReasonStateUnreadable, prevLogID, st.Size, nil
	}
	for _, id := range st.Flights {
		key := flightKey(st.Epoch, id)
		var entries []flightEntry
		data, err := c.client.Get(ctx, key)
		if err == nil && data != nil {
			err = json.Unmarshal(data, &entries)
		}
		if err != nil || data == nil {
			// Its records cannot be declared: if they are not in the
			// archive, the verifier reports them missing.
			c.logger.Error("chain state: records in flight at the last stop are unreadable",
				zap.String("key", key), zap.Error(err))
		}
		var valid []flightEntry
		for _, e := range entries {
			if e.Index < st.Size && len(e.Link) == len(integrity.Hash{}) {
				valid = append(valid, e)
			}
		}
		if len(valid) == 0 {
			c.flightDelete = append(c.flightDelete, key)
			continue
		}
		// The flight stays (in storage too) until the notice declaring
		// it is downstream: killed again before that, the next start
		// declares it again, with the notice.
		c.flights[id] = valid
		lost = append(lost, valid...)
	}
	slices.SortFunc(lost, func(a, b flightEntry) int { return cmp.Compare(a.Index, b.Index) })
	if len(lost) > 0 || !st.Clean {
		c.logger.Warn("chain state: the last stop was not clean", zap.Uint64("size", st.Size),
			zap.Uint64("confirmed", st.Confirmed), zap.Int("in_flight", len(lost)))
	}
	c.mu.Lock()
	c.epoch, c.logID, c.log = st.Epoch, prevLogID, log
	c.mu.Unlock()
	return "", "", 0, lost
}

// uncleanStopLocked chains the notice that lists the records the last run
// left in flight: chained and persisted, but not known to have reached the
// next consumer. Those of them the archive lacks were never acknowledged
// (the receiver answers only after the pipeline returned); with their links
// the verifier can still recompute every checkpoint over them.
//
// The notice covers the flights it declares: they are confirmed with it.
func (c *chainLog) uncleanStopLocked(lost []flightEntry, flights []uint64) {
	size := c.log.Size()
	ld, lr := newNotice(integrity.EventUncleanStop, plog.SeverityNumberWarn)
	lr.Body().SetStr(fmt.Sprintf("Unclean stop: %d chained records (leaves %d to %d) were not known to be downstream; "+
		"any of them not in the archive was never acknowledged to its sender.", len(lost), lost[0].Index, size-1))
	lr.Attributes().PutInt(integrity.AttrInFlightCount, int64(len(lost)))
	lr.Attributes().PutInt(integrity.AttrInFlightFrom, int64(lost[0].Index))
	lr.Attributes().PutInt(integrity.AttrInFlightSize, int64(size))
	list := lr.Attributes().PutEmptySlice(integrity.AttrInFlightRecords)
	for _, e := range lost {
		m := list.AppendEmpty().SetEmptyMap()
		m.PutInt("index", int64(e.Index))
		m.PutStr("stream", e.Stream)
		m.PutInt("seq", int64(e.Seq))
		m.PutStr("link", integrity.Hash(e.Link).String())
	}
	c.chainNoticeLocked(ld, flights...)
}

// startEpochLocked begins a new log whose first record says why.
func (c *chainLog) startEpochLocked(reason, prevLogID string, prevSize uint64) {
	if c.log != nil {
		c.voidUnreleasedLocked(reason)
		c.leftEpoch = c.epoch
	}
	old := c.epoch
	epoch := uint64(time.Now().UnixNano())
	if epoch <= c.epoch {
		epoch = c.epoch + 1
	}
	c.epoch = epoch
	c.logID = integrity.LogID(c.origin, epoch)
	c.log = integrity.NewMerkleLog()
	c.durableSize = 0
	clear(c.heads)
	clear(c.dirty)
	// The flights of the abandoned log are not declared: its epoch start
	// names its size, and it is never continued.
	c.dropFlightsLocked(old)
	c.newEpoch = ""
	c.telemetry.ProcessorChainEpochsStarted.Add(context.Background(), 1)
	c.logger.Warn("starting a new chain epoch", zap.String("log_id", c.logID), zap.String("reason", reason),
		zap.String("previous_log_id", prevLogID))

	ld, lr := newNotice(integrity.EventEpochStart, plog.SeverityNumberWarn)
	lr.Body().SetStr(fmt.Sprintf("New log %s started: %s.", c.logID, reason))
	lr.Attributes().PutStr(integrity.AttrEpochReason, reason)
	if prevLogID != "" {
		lr.Attributes().PutStr(integrity.AttrPrevLogID, prevLogID)
		lr.Attributes().PutInt(integrity.AttrPrevSize, int64(prevSize))
	}
	c.chainNoticeLocked(ld)
}

func newNotice(event string, sev plog.SeverityNumber) (plog.Logs, plog.LogRecord) {
	ld, sl := integrity.NewCollectorBatch(metadata.ScopeName)
	return ld, integrity.AppendCollectorRecord(sl, event, sev, pcommon.NewTimestampFromTime(time.Now()))
}

// chainNoticeLocked chains a record of the processor's own and queues it.
func (c *chainLog) chainNoticeLocked(ld plog.Logs, covers ...uint64) {
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	lr := sl.LogRecords().At(0)
	canonical := integrity.AppendCanonical(nil, rl, sl, lr)
	h := c.appendLocked(integrity.CollectorStream, sha256.Sum256(canonical))
	h.SetAttributes(lr.Attributes())
	c.addFlightLocked([]flightEntry{flightEntryOf(&h)})
	c.noticeFlights[h.Index] = struct{}{}
	c.pending = append(c.pending, &notice{logs: ld, epoch: c.epoch, flight: h.Index, covers: covers,
		head: integrity.TreeHead{LogID: c.logID, Size: c.log.Size(), Root: c.log.Root()}})
}

// voidUnreleasedLocked is called when the current log is left after a
// failed state write. Its records chained after the last successful write
// were never passed on (their batches failed), but notices chained after
// them still go out (with the next log's first batch): without a list of
// the records before them, the log would have a gap there. A void notice
// listing those records is chained into the log being left, after every
// other leaf. Without such a notice nothing of the log follows them, and
// nothing is written.
func (c *chainLog) voidUnreleasedLocked(reason string) {
	var entries []flightEntry
	lastNotice, anyNotice := uint64(0), false
	for id, fl := range c.flights {
		if id < c.durableSize {
			continue
		}
		if _, isNotice := c.noticeFlights[id]; isNotice {
			lastNotice, anyNotice = max(lastNotice, id), true
			continue
		}
		entries = append(entries, fl...)
	}
	slices.SortFunc(entries, func(a, b flightEntry) int { return cmp.Compare(a.Index, b.Index) })
	if !anyNotice || len(entries) == 0 || entries[0].Index > lastNotice {
		return
	}
	c.chainVoidLocked(entries, "chain state write failed ("+reason+"): the records were never passed on")
}

// addFlightLocked records chained records as in flight; the flight's id is
// its first leaf index.
func (c *chainLog) addFlightLocked(entries []flightEntry) uint64 {
	id := entries[0].Index
	c.flights[id] = entries
	c.flightWrite[id] = struct{}{}
	return id
}

// confirm records that flights of epoch reached the next consumer. Their
// storage keys go with the next state write (no write of their own).
func (c *chainLog) confirm(epoch uint64, ids ...uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return // dropped with their log
	}
	for _, id := range ids {
		if _, ok := c.flights[id]; !ok {
			continue
		}
		delete(c.flights, id)
		delete(c.noticeFlights, id)
		if _, unwritten := c.flightWrite[id]; unwritten {
			delete(c.flightWrite, id)
		} else {
			c.flightDelete = append(c.flightDelete, flightKey(epoch, id))
		}
	}
}

// confirmNotices confirms released notices and what they cover.
func (c *chainLog) confirmNotices(notices []*notice) {
	for _, n := range notices {
		c.confirm(n.epoch, append([]uint64{n.flight}, n.covers...)...)
	}
}

// dropFlightsLocked forgets the flights of epoch (a log being left).
func (c *chainLog) dropFlightsLocked(epoch uint64) {
	for id := range c.flights {
		if _, unwritten := c.flightWrite[id]; !unwritten {
			c.flightDelete = append(c.flightDelete, flightKey(epoch, id))
		}
	}
	clear(c.flights)
	clear(c.flightWrite)
	clear(c.noticeFlights)
}

// confirmedLocked is the size below which every leaf is known to be
// downstream: the start of the oldest flight.
func (c *chainLog) confirmedLocked() uint64 {
	confirmed := c.log.Size()
	for id := range c.flights {
		confirmed = min(confirmed, id)
	}
	return confirmed
}

// stateOpsLocked are the storage operations that write the state as it is
// in memory: dirty stream heads, new flights, deletions of confirmed ones,
// and the log.
func (c *chainLog) stateOpsLocked(clean bool) []*storage.Operation {
	ops := make([]*storage.Operation, 0, len(c.dirty)+len(c.flightWrite)+len(c.flightDelete)+1)
	for s := range c.dirty {
		h := c.heads[s]
		data, _ := json.Marshal(persistedHead{Epoch: c.epoch, Seq: h.seq, Link: h.link.String()})
		ops = append(ops, storage.SetOperation(keyStreamPrefix+s, data))
	}
	for _, key := range c.flightDelete {
		ops = append(ops, storage.DeleteOperation(key))
	}
	for id := range c.flightWrite {
		data, _ := json.Marshal(c.flights[id])
		ops = append(ops, storage.SetOperation(flightKey(c.epoch, id), data))
	}
	ids := make([]uint64, 0, len(c.flights))
	for id := range c.flights {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	data, _ := json.Marshal(persistedLog{Origin: c.origin, Epoch: c.epoch, Size: c.log.Size(), Hashes: c.log.Hashes(),
		Confirmed: c.confirmedLocked(), Flights: ids, Clean: clean})
	ops = append(ops, storage.SetOperation(keyLog, data))
	clear(c.dirty)
	clear(c.flightWrite)
	c.flightDelete = nil
	return ops
}

// appendLocked gives a record with this digest the next place in its stream
// and in the log.
func (c *chainLog) appendLocked(stream string, digest integrity.Hash) integrity.ChainHeader {
	head := c.heads[stream]
	if head == nil {
		head = &streamHead{}
		c.heads[stream] = head
	}
	h := integrity.ChainHeader{Digest: digest, Log: c.logID, Prev: head.link, Seq: head.seq + 1, Stream: stream}
	link := h.Link()
	h.Index = c.log.Append(link)
	head.seq, head.link = h.Seq, link
	c.dirty[stream] = struct{}{}
	c.version++
	return h
}

// persist makes every change up to version v durable. Concurrent callers
// share one storage transaction (group commit).
//
// epoch is the epoch the caller's records were chained in. Once a write
// failed, nothing more of that epoch is made durable or released: a batch
// chained after the failed one would otherwise carry (in its tree head) the
// leaves of records that were never passed on, and a checkpoint would cover
// a gap. Such batches fail and their senders retry into the next epoch.
func (c *chainLog) persist(ctx context.Context, v, epoch uint64) error {
	c.mu.Lock()
	abandoned := c.epoch != epoch || c.newEpoch != ""
	c.mu.Unlock()
	if abandoned {
		return errEpochAbandoned
	}
	if c.client == nil {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.mu.Lock()
	if c.epoch != epoch || c.newEpoch != "" {
		c.mu.Unlock()
		return errEpochAbandoned
	}
	if c.durable >= v {
		c.mu.Unlock()
		return nil
	}
	ops := c.stateOpsLocked(false)
	current, size := c.version, c.log.Size()
	c.mu.Unlock()
	if err := c.client.Batch(ctx, ops...); err != nil {
		c.telemetry.ProcessorChainStateWriteErrors.Add(ctx, 1)
		c.mu.Lock()
		// What is in memory can no longer be made durable in order: the
		// next batch goes into a new log, and nothing of this one that
		// was not durable is ever released.
		if c.newEpoch == "" {
			c.newEpoch = ReasonStateWriteFailed
		}
		// The deletions of confirmed flights it carried go with the next
		// write (the new epoch's): the left log is never written again.
		for _, op := range ops {
			if op.Type == storage.Delete {
				c.flightDelete = append(c.flightDelete, op.Key)
			}
		}
		c.mu.Unlock()
		return err
	}
	c.durable = current
	c.mu.Lock()
	if c.epoch == epoch {
		c.durableSize = max(c.durableSize, size)
	}
	c.mu.Unlock()
	return nil
}

// loadHeads reads the heads of streams not in memory from storage (outside
// the lock, since it is I/O) and adds those of the current epoch.
func (c *chainLog) loadHeads(ctx context.Context, streams []string) error {
	if c.client == nil {
		return nil
	}
	c.mu.Lock()
	epoch := c.epoch
	var missing []string
	for _, s := range streams {
		if _, ok := c.heads[s]; !ok && !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	loaded := map[string]*streamHead{}
	for _, s := range missing {
		data, err := c.client.Get(ctx, keyStreamPrefix+s)
		if err != nil {
			return fmt.Errorf("reading head of stream %q: %w", s, err)
		}
		if data == nil {
			continue
		}
		var ph persistedHead
		if err := json.Unmarshal(data, &ph); err != nil {
			return fmt.Errorf("head of stream %q is unreadable: %w", s, err)
		}
		if ph.Epoch != epoch {
			continue // a head of an earlier log: the stream starts over in this one
		}
		link, err := integrity.ParseHash(ph.Link)
		if err != nil {
			return fmt.Errorf("head of stream %q is unreadable: %w", s, err)
		}
		loaded[s] = &streamHead{seq: ph.Seq, link: link}
	}
	c.mu.Lock()
	if c.epoch == epoch {
		for s, h := range loaded {
			if _, ok := c.heads[s]; !ok {
				c.heads[s] = h
			}
		}
	}
	c.mu.Unlock()
	return nil
}

// item is a record of the batch being chained.
type item struct {
	lr     plog.LogRecord
	stream string
	digest integrity.Hash
	header integrity.ChainHeader
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *chainLog) consume(ctx context.Context, next consumer.Logs, ld plog.Logs) error {
	items := make([]item, 0, ld.LogRecordCount())
	bp := bufPool.Get().(*[]byte)
	var refused error
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len() && refused == nil; i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len() && refused == nil; j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if _, chained := lr.Attributes().Get(integrity.AttrLogID); chained {
					continue // chained (and checkpointed) by an upstream collector
				}
				if integrity.IsReservedEventName(lr.EventName()) {
					refused = fmt.Errorf("record %d has event name %q, which only the collector's integrity components may write", len(items), lr.EventName())
					break
				}
				*bp = integrity.AppendCanonical((*bp)[:0], rl, sl, lr)
				items = append(items, item{lr: lr, stream: integrity.StreamOf(c.cfg.StreamAttributes, rl.Resource().Attributes(), lr.Attributes()), digest: sha256.Sum256(*bp)})
			}
		}
	}
	bufPool.Put(bp)
	if refused != nil {
		return consumererror.NewPermanent(refused)
	}

	// While the next component refuses, a new batch is not chained until
	// the notices already waiting got through: each refused attempt would
	// otherwise add a flight and a void notice, and carry every earlier
	// one, for as long as the refusal lasts.
	// One batch tries the notices; the others meanwhile get the last
	// refusal.
	c.mu.Lock()
	if c.refusing != nil && c.newEpoch == "" {
		if c.probing {
			err := c.refusing
			c.mu.Unlock()
			return err
		}
		if len(c.pending) > 0 {
			c.probing = true
			c.mu.Unlock()
			err := c.flush(ctx, next)
			c.mu.Lock()
			c.probing = false
			if err != nil && !consumererror.IsPermanent(err) {
				c.mu.Unlock()
				return err
			}
		}
	}
	c.mu.Unlock()

	streams := make([]string, 0, 4)
	for i := range items {
		if !slices.Contains(streams, items[i].stream) {
			streams = append(streams, items[i].stream)
		}
	}
	if err := c.loadHeads(ctx, streams); err != nil {
		return err
	}

	c.mu.Lock()
	if c.newEpoch != "" {
		c.startEpochLocked(c.newEpoch, c.logID, c.log.Size())
	}
	var flight []flightEntry
	for i := range items {
		items[i].header = c.appendLocked(items[i].stream, items[i].digest)
		flight = append(flight, flightEntryOf(&items[i].header))
	}
	var flightID uint64
	if len(flight) > 0 {
		flightID = c.addFlightLocked(flight)
	}
	version, epoch := c.version, c.epoch
	head := integrity.TreeHead{LogID: c.logID, Size: c.log.Size(), Root: c.log.Root()}
	// The pending notices go out with this batch only: a batch running
	// concurrently must not release them a second time. They are put back
	// if this batch does not get through.
	released := c.pending
	c.pending = nil
	c.mu.Unlock()

	if err := c.persist(ctx, version, epoch); err != nil {
		c.requeue(released)
		return fmt.Errorf("chain processor: writing state: %w", err)
	}
	released = c.passLeft(ctx, next, released, epoch)
	for i := range items {
		items[i].header.SetAttributes(items[i].lr.Attributes())
	}
	for _, n := range released {
		n.logs.ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	}
	c.telemetry.ProcessorChainRecordsChained.Add(ctx, int64(len(items)))

	if err := next.ConsumeLogs(integrity.ContextWithTreeHead(ctx, head), ld); err != nil {
		c.setRefusing(err)
		c.requeue(released)
		// The batch stays in flight until its void notice is downstream.
		c.void(items, flightID, err)
		// The batch is not given back unchained: once passed on it may be
		// held by a consumer that took it (one exporter of a fan-out, an
		// in-memory queue), and must not change under it. Receivers send
		// a new batch on retry, which is chained anew.
		return err
	}
	c.setRefusing(nil)
	c.confirmNotices(released)
	if len(flight) > 0 {
		c.confirm(epoch, flightID)
	}
	return nil
}

// setRefusing records the outcome of passing a batch on. A permanent error
// is about that batch's content, not the next component's state: it does
// not hold back other batches (which would be refused as permanent too).
func (c *chainLog) setRefusing(err error) {
	if consumererror.IsPermanent(err) {
		err = nil
	}
	c.mu.Lock()
	c.refusing = err
	c.mu.Unlock()
}

// passLeft passes on the released notices of the log last left (after a
// failed state write) in a batch of their own, with the tree head of that
// log as it was after the last of them was chained, so that a checkpoint
// covers them; it returns the other notices. Every leaf under that head is
// released or listed by a notice: records chained after the last
// successful write and before a notice are listed by the void notice
// chained when the log was left. It runs once the current epoch is
// durable: a restart then never continues the left log, whose notices
// after its last successful write were never written. Notices it could not
// pass on are queued again.
func (c *chainLog) passLeft(ctx context.Context, next consumer.Logs, released []*notice, epoch uint64) []*notice {
	c.mu.Lock()
	left := c.leftEpoch
	c.mu.Unlock()
	if left == 0 || left == epoch {
		return released
	}
	var old, rest []*notice
	var head integrity.TreeHead
	for _, n := range released {
		if n.epoch == left {
			old = append(old, n)
			if n.head.Size > head.Size {
				head = n.head
			}
		} else {
			rest = append(rest, n)
		}
	}
	if len(old) == 0 {
		return released
	}
	ld := plog.NewLogs()
	for _, n := range old {
		n.logs.ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	}
	if err := next.ConsumeLogs(integrity.ContextWithTreeHead(ctx, head), ld); err != nil {
		c.logger.Warn("notices of the previous log not passed on; trying again with the next batch", zap.Error(err))
		c.requeue(old)
	}
	return rest
}

// requeue puts notices taken by a batch that did not get through back at
// the front of the queue.
func (c *chainLog) requeue(notices []*notice) {
	if len(notices) == 0 {
		return
	}
	c.mu.Lock()
	c.pending = slices.Concat(notices, c.pending)
	c.mu.Unlock()
}

// void records that chained records were refused downstream: the sender
// was told to retry and will send them again as new records. The notice
// lists their links, so the log's tree can still be recomputed and the
// verifier can tell a refused record from a deleted one.
func (c *chainLog) void(items []item, flightID uint64, cause error) {
	if len(items) == 0 {
		return
	}
	entries := make([]flightEntry, len(items))
	for i := range items {
		entries[i] = flightEntryOf(&items[i].header)
	}
	c.mu.Lock()
	if items[0].header.Log == c.logID {
		c.chainVoidLocked(entries, cause.Error(), flightID)
	}
	c.mu.Unlock()
}

// chainVoidLocked chains a void notice listing entries; it covers the
// flights given.
func (c *chainLog) chainVoidLocked(entries []flightEntry, cause string, covers ...uint64) {
	ld, lr := newNotice(integrity.EventVoid, plog.SeverityNumberWarn)
	lr.Body().SetStr(fmt.Sprintf("%d chained records were refused downstream; their senders were told to retry.", len(entries)))
	lr.Attributes().PutInt(integrity.AttrVoidedCount, int64(len(entries)))
	msg := cause
	if len(msg) > 512 {
		// Cut on a rune boundary: an attribute string must be valid UTF-8.
		msg = strings.ToValidUTF8(msg[:512], "")
	}
	lr.Attributes().PutStr(integrity.AttrVoidedError, msg)
	list := lr.Attributes().PutEmptySlice(integrity.AttrVoidedRecords)
	for _, e := range entries {
		m := list.AppendEmpty().SetEmptyMap()
		m.PutInt("index", int64(e.Index))
		m.PutStr("stream", e.Stream)
		m.PutInt("seq", int64(e.Seq))
		m.PutStr("link", integrity.Hash(e.Link).String())
	}
	c.telemetry.ProcessorChainRecordsVoided.Add(context.Background(), int64(len(entries)))
	c.chainNoticeLocked(ld, covers...)
}

// flush releases notices still waiting (at shutdown: the epoch start of a
// collector that received nothing, a void notice after the last batch).
func (c *chainLog) flush(ctx context.Context, next consumer.Logs) error {
	c.mu.Lock()
	released := c.pending
	c.pending = nil
	version, epoch := c.version, c.epoch
	head := integrity.TreeHead{LogID: c.logID, Size: c.log.Size(), Root: c.log.Root()}
	c.mu.Unlock()
	if len(released) == 0 {
		return nil
	}
	if err := c.persist(ctx, version, epoch); err != nil {
		c.requeue(released)
		return err
	}
	released = c.passLeft(ctx, next, released, epoch)
	if len(released) == 0 {
		return nil
	}
	ld := plog.NewLogs()
	for _, n := range released {
		n.logs.ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	}
	if err := next.ConsumeLogs(integrity.ContextWithTreeHead(ctx, head), ld); err != nil {
		c.setRefusing(err)
		c.requeue(released)
		return err
	}
	c.setRefusing(nil)
	c.confirmNotices(released)
	return nil
}

// persistStop writes the state a last time at shutdown: the confirmations
// since the last write, and whether the stop is clean (nothing left in
// flight). A start that does not find the mark knows the stop was not.
func (c *chainLog) persistStop(ctx context.Context) error {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.mu.Lock()
	if c.newEpoch != "" {
		c.mu.Unlock()
		return nil // the log is abandoned; its state is not written again
	}
	ops := c.stateOpsLocked(len(c.flights) == 0)
	current := c.version
	c.mu.Unlock()
	if err := c.client.Batch(context.WithoutCancel(ctx), ops...); err != nil {
		return err
	}
	c.durable = current
	return nil
}

func (c *chainLog) shutdown(ctx context.Context, next consumer.Logs) error {
	c.refsMu.Lock()
	defer c.refsMu.Unlock()
	if c.refs == 0 {
		return nil
	}
	c.refs--
	if c.refs > 0 {
		return nil
	}
	var errs []error
	if c.log != nil {
		if err := c.flush(ctx, next); err != nil {
			errs = append(errs, fmt.Errorf("chain processor: releasing pending records: %w", err))
		}
	}
	if c.client != nil {
		if c.log != nil {
			if err := c.persistStop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("chain processor: writing state at shutdown: %w", err))
			}
		}
		errs = append(errs, c.client.Close(ctx))
		c.client = nil
	}
	c.telemetry.Shutdown()
	return errors.Join(errs...)
}

// chainProcessor is one pipeline's instance; instances of one component id
// share a chainLog.
type chainProcessor struct {
	log  *chainLog
	next consumer.Logs
	// started: this instance holds a reference on the shared log, which
	// only its first Shutdown may give back.
	started atomic.Bool
}

func (p *chainProcessor) Start(ctx context.Context, host component.Host) error {
	// Set even if start fails: the reference is taken either way.
	p.started.Store(true)
	return p.log.start(ctx, host)
}

func (p *chainProcessor) Shutdown(ctx context.Context) error {
	if !p.started.CompareAndSwap(true, false) {
		return nil // not started, or already shut down
	}
	return p.log.shutdown(ctx, p.next)
}

func (p *chainProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (p *chainProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return p.log.consume(ctx, p.next, ld)
}
