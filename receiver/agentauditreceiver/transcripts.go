package agentauditreceiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// Transcript formats (transcripts.format).
const (
	TranscriptFormatAuto       = "auto"
	TranscriptFormatClaudeCode = "claude_code"
	TranscriptFormatCodex      = "codex"
)

// Where a file seen for the first time starts (transcripts.start_at).
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

const (
	defaultTranscriptPoll  = time.Second
	defaultMaxLineSize     = 4 << 20
	defaultMaxBatchLines   = 1000
	minTranscriptPoll      = 10 * time.Millisecond
	maxMaxLineSize         = 64 << 20
	maxMaxBatchLines       = 100_000
	transcriptTransport    = "file"
	storageNameTranscripts = "transcripts"
)

// TranscriptsConfig is the `transcripts:` section of the receiver: the agent
// session files it tails (README "agentaudit receiver", docs/agents.md).
type TranscriptsConfig struct {
	// Include lists glob patterns (filepath.Match syntax; "*" stays inside
	// one directory; a leading "~/" is the collector user's home) of the
	// files to tail. Tailing is off while it is empty.
	Include []string `mapstructure:"include"`
	// Exclude lists patterns of files not to tail, matched against the
	// whole path.
	Exclude []string `mapstructure:"exclude"`
	// Format is claude_code, codex or auto (a file named rollout-*.jsonl, or
	// whose first line is a Codex session_meta, is Codex's; any other is
	// Claude Code's).
	Format string `mapstructure:"format"`
	// Storage is the storage extension (file_storage with fsync: true) that
	// keeps each file's committed offset across restarts.
	Storage *component.ID `mapstructure:"storage"`
	// PollInterval is how often the globs are matched and files read.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// StartAt says where a file that exists at the first poll and has no
	// saved offset starts: beginning (default) or end. Files that appear
	// later always start at their beginning, so nothing written between two
	// polls is skipped.
	StartAt string `mapstructure:"start_at"`
	// MaxLineSize bounds the bytes of one line kept in memory; a longer line
	// is recorded as agent_audit.source.unmapped (line_too_long) with its
	// beginning, and tailing goes on after it.
	MaxLineSize int `mapstructure:"max_line_size"`
	// MaxBatchLines bounds the lines of one batch handed to the pipeline
	// (one ConsumeLogs call and one storage write).
	MaxBatchLines int `mapstructure:"max_batch_lines"`
}

func defaultTranscriptsConfig() TranscriptsConfig {
	return TranscriptsConfig{
		Format:        TranscriptFormatAuto,
		PollInterval:  defaultTranscriptPoll,
		StartAt:       StartAtBeginning,
		MaxLineSize:   defaultMaxLineSize,
		MaxBatchLines: defaultMaxBatchLines,
	}
}

// Enabled says whether any file is to be tailed.
func (c *TranscriptsConfig) Enabled() bool { return len(c.Include) > 0 }

func (c *TranscriptsConfig) Validate() error {
	var errs []error
	switch c.Format {
	case TranscriptFormatAuto, TranscriptFormatClaudeCode, TranscriptFormatCodex:
	default:
		errs = append(errs, fmt.Errorf("format must be one of auto, claude_code, codex, got %q", c.Format))
	}
	switch c.StartAt {
	case StartAtBeginning, StartAtEnd:
	default:
		errs = append(errs, fmt.Errorf("start_at must be beginning or end, got %q", c.StartAt))
	}
	for _, list := range []struct {
		name     string
		patterns []string
	}{{"include", c.Include}, {"exclude", c.Exclude}} {
		for _, p := range list.patterns {
			if strings.TrimSpace(p) == "" {
				errs = append(errs, fmt.Errorf("%s: empty pattern", list.name))
				continue
			}
			if _, err := filepath.Match(expandHome(p), ""); err != nil {
				errs = append(errs, fmt.Errorf("%s: pattern %q: %w", list.name, p, err))
			}
		}
	}
	if c.Enabled() && c.Storage == nil {
		errs = append(errs, errors.New("storage is required when include is set: name a file_storage extension "+
			"(fsync: true) that keeps each file's offset, or a restart would read every transcript again"))
	}
	if c.PollInterval < minTranscriptPoll {
		errs = append(errs, fmt.Errorf("poll_interval must be at least %s, got %s", minTranscriptPoll, c.PollInterval))
	}
	if c.MaxLineSize < 1024 || c.MaxLineSize > maxMaxLineSize {
		errs = append(errs, fmt.Errorf("max_line_size must be between 1024 and %d bytes, got %d", maxMaxLineSize, c.MaxLineSize))
	}
	if c.MaxBatchLines < 1 || c.MaxBatchLines > maxMaxBatchLines {
		errs = append(errs, fmt.Errorf("max_batch_lines must be between 1 and %d, got %d", maxMaxBatchLines, c.MaxBatchLines))
	}
	return errors.Join(errs...)
}

// expandHome replaces a leading "~/" by the home directory, as a shell
// would: the documented locations of both agents' files are under it.
func expandHome(p string) string {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, rest)
}

// Storage keys. Each file has its own key, so one batch is one small write
// whatever the number of files; the index lists the keys because the
// storage API cannot list them.
const (
	stateIndexKey  = "transcripts/index"
	stateKeyPrefix = "transcripts/file/"
	// fingerprintSize is how much of a file's beginning tells it apart from
	// another file that got the same inode number.
	fingerprintSize = 1024
	// maxPendingTools bounds the tool names remembered per file for the
	// results that follow their calls.
	maxPendingTools = 256
	// maxBatchBytes bounds the line bytes of one batch (at least one line
	// is always taken, up to max_line_size).
	maxBatchBytes = 16 << 20
	// maxBatchesPerFile bounds the work on one file in one poll, so that a
	// huge backlog in one file does not starve the others.
	maxBatchesPerFile = 64
	// idleClose closes the handle of a file that has not grown for this
	// long: an agent keeps thousands of old transcripts, and one descriptor
	// each would exhaust the process limit.
	idleClose = 5 * time.Minute
	// maxBackoff bounds the wait between retries of a refused batch.
	maxBackoff = 30 * time.Second
)

// fileState is what is persisted per file, and what mapping needs to go on
// mid-file after a restart (Codex names the session only on its first line).
type fileState struct {
	Path    string `json:"path"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	FPLen   int    `json:"fp_len"`
	FP      string `json:"fp"`
	Offset  int64  `json:"offset"`
	Format  string `json:"format,omitempty"`
	Session string `json:"session,omitempty"`
	Model   string `json:"model,omitempty"`
	// Provider is Codex's model_provider of session_meta.
	Provider string `json:"provider,omitempty"`
	// Tools maps the id of a tool call whose result has not been read yet
	// to the tool's name: results name only the id.
	Tools map[string]string `json:"tools,omitempty"`
}

func (s fileState) clone() fileState {
	c := s
	c.Tools = make(map[string]string, len(s.Tools))
	for k, v := range s.Tools {
		c.Tools[k] = v
	}
	return c
}

type tailedFile struct {
	key   string
	state fileState
	fh    *os.File
	// stored says the key is in the persisted index.
	stored bool
	// dirty says the in-memory state is ahead of storage (a storage write
	// failed after the pipeline took the batch).
	dirty      bool
	lastGrowth time.Time
	lastSize   int64
	// closedSize is the size the file had when its handle was closed after
	// being read (-1: not closed that way); unchanged, it is not reopened.
	closedSize int64
	// marker, when set, is recorded before the next lines: why the file is
	// read again from its beginning.
	marker *fileMarker
	// behind says the last drain stopped at maxBatchesPerFile with lines
	// left: the handle stays open (no idle close, no prune when gone) until
	// the file is read to its end.
	behind bool
}

type fileMarker struct {
	event, reason, detail string
}

type transcriptTailer struct {
	cfg     *TranscriptsConfig
	logger  *zap.Logger
	next    consumer.Logs
	obsrecv *receiverhelper.ObsReport
	client  storage.Client

	include, exclude []string
	files            map[string]*tailedFile
	firstPoll        bool
	// atStart holds the keys of the files present at the first poll and
	// not registered yet (start_at end applies to them only): a first poll
	// cut short by a refused batch must not make later files start at end.
	atStart map[string]bool

	// stop ends the loop between batches; consumeCtx is cancelled only when
	// Shutdown's own deadline passes, so that the batch in flight at a
	// graceful stop completes and is committed instead of read again.
	stop          chan struct{}
	consumeCtx    context.Context
	cancelConsume context.CancelFunc
	done          chan struct{}
	stopOnce      sync.Once
}

func newTranscriptTailer(cfg *TranscriptsConfig, logger *zap.Logger, next consumer.Logs, obsrecv *receiverhelper.ObsReport, client storage.Client) *transcriptTailer {
	t := &transcriptTailer{
		cfg: cfg, logger: logger, next: next, obsrecv: obsrecv, client: client,
		files: map[string]*tailedFile{}, firstPoll: true,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, p := range cfg.Include {
		t.include = append(t.include, expandHome(p))
	}
	for _, p := range cfg.Exclude {
		t.exclude = append(t.exclude, expandHome(p))
	}
	t.consumeCtx, t.cancelConsume = context.WithCancel(context.Background())
	return t
}

// startTranscripts gets the storage client and starts the tailer.
func (r *agentAuditReceiver) startTranscripts(ctx context.Context, host component.Host) error {
	cfg := &r.cfg.Transcripts
	ext, ok := host.GetExtensions()[*cfg.Storage]
	if !ok {
		return fmt.Errorf("transcripts: storage extension %q is not configured (add it under extensions and service.extensions)", cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("transcripts: extension %q is not a storage extension", cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, r.settings.ID, storageNameTranscripts)
	if err != nil {
		return fmt.Errorf("transcripts: storage client: %w", err)
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: r.settings.ID, Transport: transcriptTransport, ReceiverCreateSettings: r.settings,
	})
	if err != nil {
		_ = client.Close(ctx)
		return err
	}
	t := newTranscriptTailer(cfg, r.settings.Logger, r.next, obs, client)
	if err := t.load(ctx); err != nil {
		_ = client.Close(ctx)
		return fmt.Errorf("transcripts: reading saved offsets: %w", err)
	}
	r.tailer = t
	go t.run()
	r.settings.Logger.Info("Tailing agent transcripts", zap.Strings("include", cfg.Include), zap.String("format", cfg.Format))
	return nil
}

// load reads the committed state of every known file.
func (t *transcriptTailer) load(ctx context.Context) error {
	raw, err := t.client.Get(ctx, stateIndexKey)
	if err != nil || raw == nil {
		return err
	}
	var keys []string
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	for _, k := range keys {
		b, err := t.client.Get(ctx, stateKeyPrefix+k)
		if err != nil {
			return err
		}
		if b == nil {
			continue
		}
		var st fileState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		t.files[k] = &tailedFile{key: k, state: st, stored: true, lastSize: -1, closedSize: -1}
	}
	// With a saved index (written at the end of the first poll, even with
	// no file), the collector ran before: a file without an offset
	// appeared while it was down and is read from its beginning.
	t.firstPoll = false
	return nil
}

// shutdown stops the loop after the batch in flight, or cancels that batch
// when ctx ends first (it is then read again at the next start).
func (t *transcriptTailer) shutdown(ctx context.Context) error {
	t.stopOnce.Do(func() { close(t.stop) })
	select {
	case <-t.done:
	case <-ctx.Done():
		t.cancelConsume()
		<-t.done
	}
	t.cancelConsume()
	t.flushDirty()
	for _, f := range t.files {
		t.closeFile(f)
	}
	return t.client.Close(context.Background())
}

func (t *transcriptTailer) stopping() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

func (t *transcriptTailer) run() {
	defer close(t.done)
	var backoff time.Duration
	for !t.stopping() {
		wait := t.cfg.PollInterval
		if err := t.poll(); err != nil {
			// Backpressure: nothing advances; the same lines are offered
			// again after a growing pause.
			backoff = min(max(2*backoff, 100*time.Millisecond), maxBackoff)
			wait = backoff
			t.logger.Warn("Pipeline refused transcript lines; retrying without advancing", zap.Duration("retry_in", wait), zap.Error(err))
		} else {
			backoff = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-t.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// seenFile is one matched path at this poll.
type seenFile struct {
	path string
	key  string
	info os.FileInfo
}

// match lists the regular files the globs match, minus the excluded ones,
// each once, in path order.
func (t *transcriptTailer) match() []seenFile {
	paths := map[string]bool{}
	for _, p := range t.include {
		m, _ := filepath.Glob(p) // patterns are validated; the only error is ErrBadPattern
		for _, path := range m {
			paths[path] = true
		}
	}
	out := make([]seenFile, 0, len(paths))
	for path := range paths {
		excluded := false
		for _, x := range t.exclude {
			if ok, _ := filepath.Match(x, path); ok {
				excluded = true
				break
			}
		}
		if excluded {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		dev, ino := fileID(fi)
		out = append(out, seenFile{path: path, key: fmt.Sprintf("%d:%d", dev, ino), info: fi})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino //nolint:unconvert // Dev is int32 or uint64 by platform
	}
	return 0, 0
}

// poll reads what is new in every matched file. It returns the pipeline's
// error when a batch was refused.
func (t *transcriptTailer) poll() error {
	seen := t.match()
	present := make(map[string]bool, len(seen))
	for _, s := range seen {
		present[s.key] = true
	}
	if t.firstPoll {
		t.atStart, t.firstPoll = present, false
	}
	// Files gone from the globs first: a rotated file's last lines come
	// before the first lines of the file that replaced it.
	var gone []*tailedFile
	for k, f := range t.files {
		if !present[k] {
			gone = append(gone, f)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].state.Path < gone[j].state.Path })
	for _, f := range gone {
		if t.stopping() {
			return nil
		}
		if f.fh != nil {
			// Renamed out of the globs or deleted: the open handle still
			// reads it, so its last lines are not lost.
			fi, err := f.fh.Stat()
			if err == nil {
				if err := t.drain(f, fi); err != nil {
					return err
				}
			} else {
				f.behind = false
			}
		}
		if f.behind {
			continue // more lines than one poll reads: drained on, not forgotten
		}
		t.prune(f)
	}
	for _, s := range seen {
		if t.stopping() {
			return nil
		}
		f := t.files[s.key]
		if f == nil {
			f = &tailedFile{key: s.key, state: fileState{Path: s.path}, lastSize: -1, closedSize: -1}
			f.state.Dev, f.state.Ino = fileID(s.info)
			if t.atStart[s.key] && t.cfg.StartAt == StartAtEnd {
				if err := t.openAt(f, s.path); err == nil {
					f.state.Offset = lastLineEnd(f.fh, s.info.Size(), int64(t.cfg.MaxLineSize))
					f.state.FP, f.state.FPLen = fingerprint(f.fh, fingerprintSize)
					// Saved at the end of this poll: a restart before the
					// file grows must not read what start_at end skipped.
					f.dirty = true
				}
			}
			t.files[s.key] = f
			delete(t.atStart, s.key)
		}
		if f.state.Path != s.path {
			t.logger.Debug("Transcript renamed", zap.String("from", f.state.Path), zap.String("to", s.path))
			f.state.Path = s.path
		}
		if err := t.drain(f, s.info); err != nil {
			return err
		}
		if f.fh != nil && !f.behind && time.Since(f.lastGrowth) > idleClose {
			t.closeFile(f)
		}
	}
	if t.atStart != nil {
		// The first poll is done: saving the index, even empty, tells the
		// next start that start_at end is behind it.
		if err := t.client.Batch(context.WithoutCancel(t.consumeCtx), t.indexOp()); err != nil {
			t.logger.Warn("Cannot save the transcripts index", zap.Error(err))
		}
		t.atStart = nil
	}
	t.flushDirty()
	return nil
}

// openAt opens a file and checks that it is still the one tracked (the
// path may have been replaced between the glob and the open), and that
// its beginning is still the one fingerprinted: an inode number reused by
// another file, or a file rewritten in place, starts over at 0.
func (t *transcriptTailer) openAt(f *tailedFile, path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return err
	}
	dev, ino := fileID(fi)
	if dev != f.state.Dev || ino != f.state.Ino {
		fh.Close()
		return fmt.Errorf("%s was replaced while opening it", path)
	}
	if f.state.FPLen > 0 {
		fp, n := fingerprint(fh, int64(f.state.FPLen))
		if n != f.state.FPLen || fp != f.state.FP {
			t.restart(f, "transcript.rewritten", "rewritten",
				fmt.Sprintf("the first %d bytes of the file changed (same inode): read again from its beginning; offset was %d", f.state.FPLen, f.state.Offset))
		}
	}
	f.fh = fh
	return nil
}

// restart makes the file read again from 0, with a marker record first.
func (t *transcriptTailer) restart(f *tailedFile, event, reason, detail string) {
	t.logger.Warn("Transcript read again from its beginning", zap.String("path", f.state.Path), zap.String("reason", reason), zap.String("detail", detail))
	f.marker = &fileMarker{event: event, reason: reason, detail: detail}
	// What was learnt from the old content may not hold for the new one
	// (an inode number reused by another session's file).
	f.state = fileState{Path: f.state.Path, Dev: f.state.Dev, Ino: f.state.Ino}
}

func (t *transcriptTailer) closeFile(f *tailedFile) {
	if f.fh != nil {
		f.fh.Close()
		f.fh = nil
		f.closedSize = f.lastSize
	}
}

// prune forgets a file that is no longer matched.
func (t *transcriptTailer) prune(f *tailedFile) {
	t.closeFile(f)
	delete(t.files, f.key)
	if !f.stored {
		return
	}
	ops := []*storage.Operation{storage.DeleteOperation(stateKeyPrefix + f.key), t.indexOp()}
	if err := t.client.Batch(t.consumeCtx, ops...); err != nil {
		// Harmless: a stale entry is pruned again at the next start.
		t.logger.Warn("Cannot forget a transcript's offset", zap.String("path", f.state.Path), zap.Error(err))
	}
}

func (t *transcriptTailer) indexOp() *storage.Operation {
	keys := make([]string, 0, len(t.files))
	for k, f := range t.files {
		if f.stored {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	b, _ := json.Marshal(keys)
	return storage.SetOperation(stateIndexKey, b)
}

// drain reads a file's complete lines past its committed offset, batch by
// batch, each handed to the pipeline and then committed.
func (t *transcriptTailer) drain(f *tailedFile, fi os.FileInfo) error {
	size := fi.Size()
	if f.lastSize < 0 {
		// First sight in this process: a file untouched for long gets its
		// handle closed after this read, not kept for idleClose more.
		f.lastGrowth, f.lastSize = fi.ModTime(), size
	}
	if f.fh == nil {
		if size == f.closedSize && f.marker == nil {
			return nil // unchanged since it was read and closed
		}
		if err := t.openAt(f, f.state.Path); err != nil {
			return nil //nolint:nilerr // vanished or replaced: the next poll sees what it became
		}
	} else if size != f.lastSize && size >= f.state.Offset && f.state.FPLen > 0 {
		// Rewritten in place (copy-truncate, then written past the old
		// offset before this poll): the beginning tells.
		if fp, n := fingerprint(f.fh, int64(f.state.FPLen)); n != f.state.FPLen || fp != f.state.FP {
			t.restart(f, "transcript.rewritten", "rewritten",
				fmt.Sprintf("the first %d bytes of the file changed (same inode): read again from its beginning; offset was %d", f.state.FPLen, f.state.Offset))
		}
	}
	if size != f.lastSize {
		f.lastGrowth, f.lastSize = time.Now(), size
	}
	if size < f.state.Offset {
		t.restart(f, "transcript.truncated", "truncated",
			fmt.Sprintf("file shrank to %d bytes below the offset %d: read again from its beginning", size, f.state.Offset))
	}
	f.behind = false
	for range maxBatchesPerFile {
		if t.stopping() {
			f.behind = true // not read to its end: a gone file is not forgotten
			return nil
		}
		lines, end := readLines(f.fh, f.state.Offset, t.cfg.MaxLineSize, t.cfg.MaxBatchLines)
		if end == f.state.Offset && f.marker == nil {
			return nil
		}
		if err := t.consume(f, lines, end); err != nil {
			return err
		}
		if len(lines) < t.cfg.MaxBatchLines && end >= size {
			return nil
		}
	}
	f.behind = true
	return nil
}

// consume maps the lines, hands them to the pipeline and, only once it took
// them, commits the new offset.
func (t *transcriptTailer) consume(f *tailedFile, lines []rawLine, end int64) error {
	st := f.state.clone()
	if st.Format == "" {
		st.Format = t.detectFormat(st.Path, f.fh)
	}
	m := newLineMapper(&st, time.Now())
	if f.marker != nil {
		m.marker(*f.marker)
	}
	for _, l := range lines {
		m.mapLine(l, t.cfg.MaxLineSize)
	}
	logs := m.logs
	n := logs.LogRecordCount()
	if n > 0 {
		ctx := t.obsrecv.StartLogsOp(t.consumeCtx)
		err := t.next.ConsumeLogs(ctx, logs)
		t.obsrecv.EndLogsOp(ctx, st.Format+"_transcript", n, err)
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", st.Path, f.state.Offset, err)
		}
	}
	st.Offset = end
	if st.FPLen < fingerprintSize {
		st.FP, st.FPLen = fingerprint(f.fh, fingerprintSize)
	}
	f.state = st
	f.marker = nil
	f.dirty = true
	return t.commit(f)
}

// commit writes one file's state (and the index when the file is new): one
// storage batch per pipeline batch.
func (t *transcriptTailer) commit(f *tailedFile) error {
	b, _ := json.Marshal(f.state)
	ops := []*storage.Operation{storage.SetOperation(stateKeyPrefix+f.key, b)}
	wasStored := f.stored
	if !f.stored {
		f.stored = true
		ops = append(ops, t.indexOp())
	}
	if err := t.client.Batch(context.WithoutCancel(t.consumeCtx), ops...); err != nil {
		f.stored = wasStored
		// The pipeline has the records: keep the offset in memory (no
		// repeat while this process runs) and write it again at the end of
		// the poll. Only a crash before that repeats the batch.
		t.logger.Error("Cannot save a transcript's offset; a crash now would read its last batch again",
			zap.String("path", f.state.Path), zap.Error(err))
		return nil
	}
	f.dirty = false
	return nil
}

// flushDirty writes again the offsets whose write failed; a failure is
// logged, not returned: the records are in the pipeline already.
func (t *transcriptTailer) flushDirty() {
	var errs []error
	for _, f := range t.files {
		if f.dirty {
			_ = t.commit(f)
			if f.dirty {
				errs = append(errs, fmt.Errorf("offset of %s not saved", f.state.Path))
			}
		}
	}
	if len(errs) > 0 {
		t.logger.Warn("Transcript offsets not saved yet", zap.Error(errors.Join(errs...)))
	}
}

// detectFormat decides a file's format once, before its first batch.
func (t *transcriptTailer) detectFormat(path string, fh *os.File) string {
	if t.cfg.Format != TranscriptFormatAuto {
		return t.cfg.Format
	}
	if strings.HasPrefix(filepath.Base(path), "rollout-") {
		return TranscriptFormatCodex
	}
	first, _ := readLines(fh, 0, 64<<10, 1)
	if len(first) == 1 {
		var top struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(first[0].data, &top) == nil && top.Type == "session_meta" && len(top.Payload) > 0 {
			return TranscriptFormatCodex
		}
	}
	return TranscriptFormatClaudeCode
}

// fingerprint is the SHA-256 of the file's first n bytes (fewer when the
// file is shorter), and how many bytes that is.
func fingerprint(fh *os.File, n int64) (string, int) {
	buf := make([]byte, n)
	got, _ := fh.ReadAt(buf, 0)
	sum := sha256.Sum256(buf[:got])
	return hex.EncodeToString(sum[:]), got
}

// rawLine is one complete line of a file, without its "\n".
type rawLine struct {
	offset int64
	// data holds at most max_line_size bytes of the line.
	data []byte
	// length is the line's whole length; more than len(data) when the line
	// was longer than max_line_size.
	length int64
}

// readLines reads the complete lines from offset: at most maxLines, and
// about maxBatchBytes; of a line longer than maxLine only the first maxLine
// bytes are kept, the rest is read past. A last line without its "\n" is
// not returned: it waits for the writer to finish it. end is the offset
// after the last line returned.
func readLines(fh io.ReaderAt, offset int64, maxLine, maxLines int) ([]rawLine, int64) {
	var lines []rawLine
	pos, end := offset, offset
	var cur []byte
	var curLen int64
	// lastCR says the line's last byte so far is "\r": a CRLF ending is not
	// content, neither in data nor in length (else every CRLF line would
	// look longer than max_line_size).
	lastCR := false
	batchBytes := 0
	buf := make([]byte, 64<<10)
	for {
		n, err := fh.ReadAt(buf, pos)
		chunk := buf[:n]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			part := chunk
			if i >= 0 {
				part = chunk[:i]
			}
			if room := maxLine - len(cur); room > 0 {
				cur = append(cur, part[:min(room, len(part))]...)
			}
			curLen += int64(len(part))
			if len(part) > 0 {
				lastCR = part[len(part)-1] == '\r'
			}
			if i < 0 {
				pos += int64(len(chunk))
				break
			}
			pos += int64(i + 1)
			chunk = chunk[i+1:]
			if lastCR {
				curLen--
				cur = cur[:min(int64(len(cur)), curLen)]
			}
			lines = append(lines, rawLine{offset: end, data: cur, length: curLen})
			batchBytes += len(cur)
			end = pos
			cur, curLen, lastCR = nil, 0, false
			if len(lines) >= maxLines || batchBytes >= maxBatchBytes {
				return lines, end
			}
		}
		if err != nil || n == 0 {
			return lines, end
		}
	}
}

// lastLineEnd is the offset after the last "\n" before size (0 when there
// is none within maxBack bytes): start_at end starts after the last
// complete line rather than inside a partial one.
func lastLineEnd(fh io.ReaderAt, size, maxBack int64) int64 {
	buf := make([]byte, 64<<10)
	pos := size
	for pos > 0 && size-pos <= maxBack {
		n := min(int64(len(buf)), pos)
		pos -= n
		got, _ := fh.ReadAt(buf[:n], pos)
		if i := bytes.LastIndexByte(buf[:got], '\n'); i >= 0 {
			return pos + int64(i) + 1
		}
	}
	return 0
}

// Attributes the tailer writes beyond the schema's common ones; like the
// normalizer's, they are written by the collector only (docs/schema.md
// "Claude Code transcripts").
const (
	attrTranscriptPath   = "agent_audit.transcript.path"
	attrTranscriptOffset = "agent_audit.transcript.offset"
	attrSourceEvent      = "agent_audit.source.event"
	attrUnmapped         = "agent_audit.unmapped"
	attrUnmappedDetail   = "agent_audit.unmapped_detail"
	codexAgentName       = "codex"
	codexFieldPrefix     = "codex."
	// maxUnmappedBody bounds the raw bytes of a line that is not JSON or
	// too long, kept in the body of its record.
	maxUnmappedBody = 64 << 10
)

// Reasons in agent_audit.unmapped of a line that became
// agent_audit.source.unmapped.
const (
	reasonInvalidUTF8    = "invalid_utf8"
	reasonInvalidJSON    = "invalid_json"
	reasonLineTooLong    = "line_too_long"
	reasonNoMapping      = "unknown_event"
	reasonMissingAttr    = "missing_attribute"
	reasonWrongType      = "wrong_type"
	sourceEventLine      = "transcript.line"
	unknownToolName      = "unknown"
	unknownSessionID     = "unknown"
	unknownModelName     = "unknown"
	claudeCodeProvider   = "anthropic"
	defaultCodexProvider = "openai"
)

// obj is one JSON object of a line, its fields undecoded.
type obj map[string]json.RawMessage

// str reads a string field: present is false when it is absent or null, ok
// false when it is present but not a string.
func (o obj) str(k string) (s string, present, ok bool) {
	raw, found := o[k]
	if !found || len(raw) == 0 || isNull(raw) {
		return "", false, false
	}
	if json.Unmarshal(raw, &s) != nil {
		return "", true, false
	}
	return s, true, true
}

// object reads an object field, with the same present/ok as str.
func (o obj) object(k string) (obj, bool, bool) {
	raw, found := o[k]
	if !found || len(raw) == 0 || isNull(raw) {
		return nil, false, false
	}
	var m obj
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, true, false
	}
	return m, true, true
}

func (o obj) kind(k string) string {
	if raw, ok := o[k]; ok && len(raw) > 0 {
		return rawKind(raw)
	}
	return "nothing"
}

// lineMapper turns the lines of one batch of one file into records.
type lineMapper struct {
	st       *fileState
	logs     plog.Logs
	records  plog.LogRecordSlice
	observed pcommon.Timestamp
	// perLine counts the records of the current line, so that each gets
	// its own agent_audit.event.id.
	perLine int
}

func newLineMapper(st *fileState, now time.Time) *lineMapper {
	logs := plog.NewLogs()
	sl := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(auditrecord.ScopeName)
	sl.Scope().Attributes().PutStr(auditrecord.AttrSchemaVersion, auditrecord.SchemaVersion)
	return &lineMapper{st: st, logs: logs, records: sl.LogRecords(), observed: pcommon.NewTimestampFromTime(now)}
}

func (m *lineMapper) agentName() string {
	if m.st.Format == TranscriptFormatCodex {
		return codexAgentName
	}
	return claudeCodeAgentName
}

func (m *lineMapper) session() string {
	if m.st.Session != "" {
		return m.st.Session
	}
	if s := sessionFromPath(m.st.Path); s != "" {
		return s
	}
	return unknownSessionID
}

// sessionFromPath is the session id a file name carries: Claude Code names
// a transcript <session id>.jsonl, Codex rollout-<time>-<session id>.jsonl.
// It stands in until a line names the session (a garbage first line, or a
// Codex file read from its end).
func sessionFromPath(path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if len(stem) >= 36 && isUUID(stem[len(stem)-36:]) {
		return stem[len(stem)-36:]
	}
	return stem
}

func isUUID(s string) bool {
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return len(s) == 36
}

// record appends a record with what every record of a transcript line has.
func (m *lineMapper) record(eventType, sourceEvent string, l rawLine, ts pcommon.Timestamp) plog.LogRecord {
	lr := m.records.AppendEmpty()
	lr.SetEventName(eventType)
	auditrecord.SetSeverity(lr, eventType)
	lr.SetObservedTimestamp(m.observed)
	if ts != 0 {
		lr.SetTimestamp(ts)
	}
	a := lr.Attributes()
	a.PutStr(auditrecord.AttrSessionID, m.session())
	a.PutStr("gen_ai.agent.name", m.agentName())
	a.PutStr(attrSourceEvent, sourceEvent)
	a.PutStr(attrTranscriptPath, m.st.Path)
	a.PutInt(attrTranscriptOffset, l.offset)
	m.perLine++
	return lr
}

// marker records why a file is read again from its beginning.
func (m *lineMapper) marker(mk fileMarker) {
	lr := m.record(unmappedEventType, mk.event, rawLine{}, 0)
	lr.Attributes().PutStr(attrUnmapped, mk.reason)
	lr.Attributes().PutStr(attrUnmappedDetail, mk.detail)
}

// unmapped records a line (or a part of it) that has no mapping or cannot
// be mapped: never dropped, the reason says why.
func (m *lineMapper) unmapped(l rawLine, sourceEvent, reason, detail string, body json.RawMessage, ts pcommon.Timestamp) plog.LogRecord {
	lr := m.record(unmappedEventType, sourceEvent, l, ts)
	lr.Attributes().PutStr(attrUnmapped, reason)
	if detail != "" {
		lr.Attributes().PutStr(attrUnmappedDetail, detail)
	}
	if body != nil {
		setRaw(lr.Body(), body)
	}
	return lr
}

// rawBody keeps a line that is not JSON as text: at most maxUnmappedBody
// bytes, cut on a character boundary, bytes that are not UTF-8 replaced by
// U+FFFD (the record says so in its reason).
func rawBody(lr plog.LogRecord, data []byte) {
	if len(data) > maxUnmappedBody {
		data = data[:maxUnmappedBody]
		for len(data) > 0 && !utf8.Valid(data[len(data)-min(len(data), utf8.UTFMax):]) && !utf8.RuneStart(data[len(data)-1]) {
			data = data[:len(data)-1]
		}
	}
	lr.Body().SetStr(strings.ToValidUTF8(string(data), "\uFFFD"))
}

// mapLine maps one complete line.
func (m *lineMapper) mapLine(l rawLine, maxLine int) {
	m.perLine = 0
	if l.length > int64(len(l.data)) {
		lr := m.unmapped(l, sourceEventLine, reasonLineTooLong,
			fmt.Sprintf("line of %d bytes is longer than max_line_size (%d bytes); the body holds its first %d bytes", l.length, maxLine, min(len(l.data), maxUnmappedBody)), nil, 0)
		rawBody(lr, l.data)
		return
	}
	if len(bytes.TrimSpace(l.data)) == 0 {
		return // a blank line is no event
	}
	if reason := auditrecord.TextProblem(l.data); reason != "" {
		code := reasonInvalidJSON
		if !utf8.Valid(l.data) {
			code = reasonInvalidUTF8
		}
		lr := m.unmapped(l, sourceEventLine, code, reason, nil, 0)
		rawBody(lr, l.data)
		return
	}
	var top obj
	if err := json.Unmarshal(l.data, &top); err != nil || top == nil {
		detail := "a transcript line must be one JSON object"
		if err != nil {
			detail = jsonProblem(err)
			var ute *json.UnmarshalTypeError
			if errors.As(err, &ute) {
				detail = "a transcript line must be one JSON object, got " + rawKind(bytes.TrimSpace(l.data))
			}
		}
		lr := m.unmapped(l, sourceEventLine, reasonInvalidJSON, detail, nil, 0)
		rawBody(lr, l.data)
		return
	}
	typ, present, ok := top.str("type")
	switch {
	case !present:
		m.unmapped(l, sourceEventLine, reasonMissingAttr, `the line has no "type"`, l.data, 0)
		return
	case !ok:
		m.unmapped(l, sourceEventLine, reasonWrongType, `"type" must be a string, got `+top.kind("type"), l.data, 0)
		return
	case strings.TrimSpace(typ) == "":
		// The type becomes agent_audit.source.event, which the schema
		// requires non-blank: a blank type names no event, like none.
		m.unmapped(l, sourceEventLine, reasonMissingAttr, `the line's "type" is empty`, l.data, 0)
		return
	}
	ts := lineTime(top)
	if m.st.Format == TranscriptFormatCodex {
		m.codexLine(l, top, typ, ts)
	} else {
		m.claudeLine(l, top, typ, ts)
	}
}

// lineTime is the line's "timestamp" (RFC 3339), or 0 (unset) without a
// valid one: the observed time is always there.
func lineTime(top obj) pcommon.Timestamp {
	s, _, ok := top.str("timestamp")
	if !ok {
		return 0
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.UnixNano() <= 0 {
		return 0
	}
	return pcommon.NewTimestampFromTime(t)
}

// claudeLine maps a line of a Claude Code transcript (docs/schema.md
// "Claude Code transcripts").
func (m *lineMapper) claudeLine(l rawLine, top obj, typ string, ts pcommon.Timestamp) {
	if sid, _, ok := top.str("sessionId"); ok && strings.TrimSpace(sid) != "" {
		m.st.Session = sid
	}
	first := m.records.Len()
	switch typ {
	case "user":
		m.claudeUser(l, top, ts)
	case "assistant":
		m.claudeAssistant(l, top, ts)
	default:
		m.unmapped(l, typ, reasonNoMapping, "", l.data, ts)
	}
	uuid, _, _ := top.str("uuid")
	n := m.records.Len() - first
	for i := first; i < m.records.Len(); i++ {
		a := m.records.At(i).Attributes()
		if uuid != "" {
			id := uuid
			if n > 1 {
				id = fmt.Sprintf("%s/%d", uuid, i-first)
			}
			a.PutStr(auditrecord.AttrEventID, id)
		}
		for _, f := range []struct{ field, attr string }{
			{"cwd", "process.working_directory"},
			{"permissionMode", "agent_audit.permission_mode"},
			{"agentId", "gen_ai.agent.id"},
			{"version", claudeCodeFieldPrefix + "version"},
			{"gitBranch", claudeCodeFieldPrefix + "gitBranch"},
			{"parentUuid", claudeCodeFieldPrefix + "parentUuid"},
			{"userType", claudeCodeFieldPrefix + "userType"},
			{"requestId", claudeCodeFieldPrefix + "requestId"},
		} {
			if s, _, ok := top.str(f.field); ok && s != "" {
				a.PutStr(f.attr, s)
			}
		}
		for _, f := range []string{"isSidechain", "isMeta"} {
			if raw := top[f]; string(raw) == "true" || string(raw) == "false" {
				a.PutBool(claudeCodeFieldPrefix+f, string(raw) == "true")
			}
		}
	}
}

// message reads the line's "message" object, recording the line as
// unmapped when it is missing or not an object.
func (m *lineMapper) message(l rawLine, top obj, typ string, ts pcommon.Timestamp) (obj, bool) {
	msg, present, ok := top.object("message")
	switch {
	case !present:
		m.unmapped(l, typ, reasonMissingAttr, `the line has no "message"`, l.data, ts)
	case !ok:
		m.unmapped(l, typ, reasonWrongType, `"message" must be an object, got `+top.kind("message"), l.data, ts)
	}
	return msg, ok
}

// blocks reads message.content: a string is one text block.
func (m *lineMapper) blocks(l rawLine, msg obj, typ string, ts pcommon.Timestamp) ([]obj, bool) {
	raw, found := msg["content"]
	if !found || isNull(raw) {
		m.unmapped(l, typ, reasonMissingAttr, `the message has no "content"`, l.data, ts)
		return nil, false
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		b, _ := json.Marshal(text)
		return []obj{{"type": json.RawMessage(`"text"`), "text": b}}, true
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		m.unmapped(l, typ, reasonWrongType, `message.content must be a string or an array, got `+rawKind(raw), l.data, ts)
		return nil, false
	}
	out := make([]obj, 0, len(list))
	for i, b := range list {
		var o obj
		if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &o) != nil {
			m.unmapped(l, typ, reasonWrongType, fmt.Sprintf("message.content[%d] must be an object, got %s", i, rawKind(b)), b, ts)
			continue
		}
		out = append(out, o)
	}
	return out, true
}

func (m *lineMapper) claudeUser(l rawLine, top obj, ts pcommon.Timestamp) {
	msg, ok := m.message(l, top, "user", ts)
	if !ok {
		return
	}
	blocks, ok := m.blocks(l, msg, "user", ts)
	if !ok {
		return
	}
	var texts []string
	for _, b := range blocks {
		bt, _, _ := b.str("type")
		switch bt {
		case "text":
			if s, _, ok := b.str("text"); ok {
				texts = append(texts, s)
				continue
			}
			m.unmapped(l, "user.text", reasonWrongType, "a text block's text must be a string, got "+b.kind("text"), rawObj(b), ts)
		case "tool_result":
			m.claudeToolResult(l, b, ts)
		default:
			m.unmapped(l, "user."+orUnknown(bt), reasonNoMapping, "", rawObj(b), ts)
		}
	}
	if len(texts) > 0 {
		prompt := strings.Join(texts, "\n")
		lr := m.record("agent_audit.prompt", "user", l, ts)
		lr.Body().SetStr(prompt)
		lr.Attributes().PutInt("agent_audit.prompt.length", int64(utf8.RuneCountInString(prompt)))
	}
	if len(blocks) == 0 && len(texts) == 0 {
		m.unmapped(l, "user", reasonNoMapping, "message.content is empty", l.data, ts)
	}
}

func (m *lineMapper) claudeToolResult(l rawLine, b obj, ts pcommon.Timestamp) {
	id, _, idOK := b.str("tool_use_id")
	outcome := "success"
	switch raw := b["is_error"]; {
	case raw == nil || isNull(raw) || string(raw) == "false":
	case string(raw) == "true":
		outcome = "failure"
	default:
		m.unmapped(l, "user.tool_result", reasonWrongType, "is_error must be a boolean, got "+rawKind(raw), rawObj(b), ts)
		return
	}
	lr := m.record("agent_audit.tool.result", "user.tool_result", l, ts)
	a := lr.Attributes()
	name := unknownToolName
	if idOK && id != "" {
		a.PutStr("gen_ai.tool.call.id", id)
		if n, ok := m.st.Tools[id]; ok {
			name = n
			delete(m.st.Tools, id)
		}
	}
	a.PutStr("gen_ai.tool.name", name)
	a.PutStr(auditrecord.AttrOutcome, outcome)
	if outcome == "failure" {
		a.PutStr("error.type", "tool_error")
	}
	if raw, ok := b["content"]; ok && !isNull(raw) {
		setRaw(a.PutEmpty("gen_ai.tool.call.result"), raw)
	}
}

func (m *lineMapper) claudeAssistant(l rawLine, top obj, ts pcommon.Timestamp) {
	msg, ok := m.message(l, top, "assistant", ts)
	if !ok {
		return
	}
	blocks, ok := m.blocks(l, msg, "assistant", ts)
	if !ok {
		return
	}
	var texts []string
	for _, b := range blocks {
		bt, _, _ := b.str("type")
		switch bt {
		case "text":
			if s, _, ok := b.str("text"); ok {
				texts = append(texts, s)
			}
		case "tool_use":
			m.toolCall(l, "assistant.tool_use", b, "id", "name", "input", false, ts)
		case "thinking", "redacted_thinking":
			// The model's reasoning is not the agent's action; its tokens
			// are in the usage of the response record.
		default:
			m.unmapped(l, "assistant."+orUnknown(bt), reasonNoMapping, "", rawObj(b), ts)
		}
	}
	if len(texts) == 0 && m.perLine > 0 {
		// Tool calls (or unmapped blocks) stand for the line; a response
		// record is for text, or for a line that would leave none.
		return
	}
	model, _, ok := msg.str("model")
	if !ok || strings.TrimSpace(model) == "" {
		m.unmapped(l, "assistant", reasonMissingAttr, "message.model is missing or not a string: a model response needs the model", l.data, ts)
		return
	}
	lr := m.record("agent_audit.model.response", "assistant", l, ts)
	a := lr.Attributes()
	a.PutStr("gen_ai.request.model", model)
	a.PutStr("gen_ai.response.model", model)
	a.PutStr("gen_ai.provider.name", claudeCodeProvider)
	if id, _, ok := msg.str("id"); ok && id != "" {
		a.PutStr("gen_ai.response.id", id)
	}
	if sr, _, ok := msg.str("stop_reason"); ok && sr != "" {
		a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr(sr)
	}
	if usage, present, ok := msg.object("usage"); ok {
		for field, attr := range map[string]string{
			"input_tokens":                "gen_ai.usage.input_tokens",
			"output_tokens":               "gen_ai.usage.output_tokens",
			"cache_read_input_tokens":     "gen_ai.usage.cache_read.input_tokens",
			"cache_creation_input_tokens": "gen_ai.usage.cache_creation.input_tokens",
		} {
			var n int64
			if raw, ok := usage[field]; ok && json.Unmarshal(raw, &n) == nil {
				a.PutInt(attr, n)
			}
		}
	} else if present {
		setRaw(a.PutEmpty(claudeCodeFieldPrefix+"usage"), msg["usage"])
	}
	if len(texts) > 0 {
		lr.Body().SetStr(strings.Join(texts, "\n"))
	}
}

// toolCall records one tool call block; it returns false when the block
// became an unmapped record instead.
func (m *lineMapper) toolCall(l rawLine, sourceEvent string, b obj, idField, nameField, argsField string, argsJSONString bool, ts pcommon.Timestamp) bool {
	name, present, ok := b.str(nameField)
	switch {
	case !present || (ok && strings.TrimSpace(name) == ""):
		m.unmapped(l, sourceEvent, reasonMissingAttr, "a tool call needs a "+nameField, rawObj(b), ts)
		return false
	case !ok:
		m.unmapped(l, sourceEvent, reasonWrongType, nameField+" must be a string, got "+b.kind(nameField), rawObj(b), ts)
		return false
	}
	lr := m.record("agent_audit.tool.call", sourceEvent, l, ts)
	a := lr.Attributes()
	a.PutStr("gen_ai.tool.name", name)
	if srv := mcpServer(name); srv != "" {
		a.PutStr("agent_audit.mcp.server", srv)
	}
	if id, _, ok := b.str(idField); ok && id != "" {
		a.PutStr("gen_ai.tool.call.id", id)
		if m.st.Tools == nil {
			m.st.Tools = map[string]string{}
		}
		if len(m.st.Tools) >= maxPendingTools {
			// Calls whose results never came: forget one so the state
			// stays bounded; its result would name the tool "unknown".
			for k := range m.st.Tools {
				delete(m.st.Tools, k)
				break
			}
		}
		m.st.Tools[id] = name
	}
	if raw, ok := b[argsField]; ok && !isNull(raw) {
		var s string
		if argsJSONString && json.Unmarshal(raw, &s) == nil {
			// Codex writes the arguments as a JSON text inside a string;
			// as an object they are searchable like Claude Code's.
			if t := bytes.TrimSpace([]byte(s)); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
				raw = t
			}
		}
		setRaw(a.PutEmpty("gen_ai.tool.call.arguments"), raw)
	}
	return true
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func rawObj(o obj) json.RawMessage {
	b, _ := json.Marshal(o)
	return b
}

// codexLine maps a line of a Codex rollout (docs/schema.md "Codex
// rollouts").
func (m *lineMapper) codexLine(l rawLine, top obj, typ string, ts pcommon.Timestamp) {
	payload, present, ok := top.object("payload")
	switch {
	case typ != "session_meta" && typ != "response_item" && typ != "turn_context" && typ != "event_msg":
		m.unmapped(l, typ, reasonNoMapping, "", l.data, ts)
		return
	case !present:
		m.unmapped(l, typ, reasonMissingAttr, `the line has no "payload"`, l.data, ts)
		return
	case !ok:
		m.unmapped(l, typ, reasonWrongType, `"payload" must be an object, got `+top.kind("payload"), l.data, ts)
		return
	}
	ptype, _, _ := payload.str("type")
	switch typ {
	case "session_meta":
		m.codexSessionMeta(l, payload, ts)
	case "turn_context":
		// The model of the turns that follow; the line itself (approval
		// and sandbox policy) is kept as sent.
		if model, _, ok := payload.str("model"); ok && model != "" {
			m.st.Model = model
		}
		m.unmapped(l, typ, reasonNoMapping, "", l.data, ts)
	case "event_msg":
		m.unmapped(l, "event_msg."+orUnknown(ptype), reasonNoMapping, "", l.data, ts)
	case "response_item":
		src := "response_item." + orUnknown(ptype)
		switch ptype {
		case "message":
			m.codexMessage(l, payload, src, ts)
		case "function_call":
			m.toolCall(l, src, payload, "call_id", "name", "arguments", true, ts)
		case "custom_tool_call":
			m.toolCall(l, src, payload, "call_id", "name", "input", true, ts)
		case "function_call_output", "custom_tool_call_output":
			m.codexToolOutput(l, payload, src, ts)
		default:
			m.unmapped(l, src, reasonNoMapping, "", l.data, ts)
		}
	}
}

func (m *lineMapper) codexSessionMeta(l rawLine, p obj, ts pcommon.Timestamp) {
	id, present, ok := p.str("id")
	switch {
	case !present || (ok && strings.TrimSpace(id) == ""):
		m.unmapped(l, "session_meta", reasonMissingAttr, "payload.id (the session id) is missing or empty", l.data, ts)
		return
	case !ok:
		m.unmapped(l, "session_meta", reasonWrongType, "payload.id must be a string, got "+p.kind("id"), l.data, ts)
		return
	}
	m.st.Session = id
	if prov, _, ok := p.str("model_provider"); ok && prov != "" {
		m.st.Provider = prov
	}
	lr := m.record("agent_audit.session.start", "session_meta", l, ts)
	a := lr.Attributes()
	if cwd, _, ok := p.str("cwd"); ok && cwd != "" {
		a.PutStr("process.working_directory", cwd)
	}
	if m.st.Provider != "" {
		a.PutStr("gen_ai.provider.name", m.st.Provider)
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "id", "cwd", "model_provider":
			continue
		}
		if !isNull(p[k]) {
			setRaw(a.PutEmpty(codexFieldPrefix+k), p[k])
		}
	}
}

func (m *lineMapper) codexMessage(l rawLine, p obj, src string, ts pcommon.Timestamp) {
	role, _, _ := p.str("role")
	var texts []string
	if raw, ok := p["content"]; ok {
		var list []obj
		if json.Unmarshal(raw, &list) != nil {
			m.unmapped(l, src, reasonWrongType, "payload.content must be an array of objects, got "+rawKind(raw), l.data, ts)
			return
		}
		for _, b := range list {
			if s, _, ok := b.str("text"); ok {
				texts = append(texts, s)
			}
		}
	}
	text := strings.Join(texts, "\n")
	switch role {
	case "user":
		lr := m.record("agent_audit.prompt", src, l, ts)
		lr.Body().SetStr(text)
		lr.Attributes().PutInt("agent_audit.prompt.length", int64(utf8.RuneCountInString(text)))
	case "assistant":
		lr := m.record("agent_audit.model.response", src, l, ts)
		a := lr.Attributes()
		model := m.st.Model
		if model == "" {
			// No turn_context read yet (a file read from its end): the
			// schema requires a model, and "unknown" says it honestly.
			model = unknownModelName
		}
		a.PutStr("gen_ai.request.model", model)
		prov := m.st.Provider
		if prov == "" {
			prov = defaultCodexProvider
		}
		a.PutStr("gen_ai.provider.name", prov)
		if id, _, ok := p.str("id"); ok && id != "" {
			a.PutStr("gen_ai.response.id", id)
		}
		lr.Body().SetStr(text)
	default:
		m.unmapped(l, src+"."+orUnknown(role), reasonNoMapping, "", l.data, ts)
	}
}

func (m *lineMapper) codexToolOutput(l rawLine, p obj, src string, ts pcommon.Timestamp) {
	id, _, _ := p.str("call_id")
	raw, has := p["output"]
	outcome, errType := "unknown", ""
	var result json.RawMessage
	if has && !isNull(raw) {
		result = raw
		var s string
		var o obj
		switch {
		case json.Unmarshal(raw, &s) == nil:
			outcome, errType, result = codexOutcome(s, raw)
		case json.Unmarshal(raw, &o) == nil:
			// Newer shape: {"content": ..., "success": bool}.
			if c, ok := o["content"]; ok {
				result = c
			}
			switch string(o["success"]) {
			case "true":
				outcome = "success"
			case "false":
				outcome, errType = "failure", "tool_error"
			}
		}
	}
	lr := m.record("agent_audit.tool.result", src, l, ts)
	a := lr.Attributes()
	name := unknownToolName
	if id != "" {
		a.PutStr("gen_ai.tool.call.id", id)
		if n, ok := m.st.Tools[id]; ok {
			name = n
			delete(m.st.Tools, id)
		}
	}
	a.PutStr("gen_ai.tool.name", name)
	a.PutStr(auditrecord.AttrOutcome, outcome)
	if errType != "" {
		a.PutStr("error.type", errType)
	}
	if result != nil {
		setRaw(a.PutEmpty("gen_ai.tool.call.result"), result)
	}
}

// codexOutcome reads the exit code Codex puts in a command's output: a JSON
// text {"output": ..., "metadata": {"exit_code": N}}, or plain text
// starting "Exit code: N". Other outputs say nothing of success: unknown.
func codexOutcome(s string, raw json.RawMessage) (outcome, errType string, result json.RawMessage) {
	var structured struct {
		Output   json.RawMessage `json:"output"`
		Metadata struct {
			ExitCode *int64 `json:"exit_code"`
		} `json:"metadata"`
	}
	code := (*int64)(nil)
	result = raw
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") && json.Unmarshal([]byte(t), &structured) == nil && structured.Metadata.ExitCode != nil {
		code = structured.Metadata.ExitCode
		if structured.Output != nil {
			result = structured.Output
		}
	} else if rest, ok := strings.CutPrefix(s, "Exit code: "); ok {
		var n int64
		if _, err := fmt.Sscanf(rest, "%d", &n); err == nil {
			code = &n
		}
	}
	switch {
	case code == nil:
		return "unknown", "", result
	case *code == 0:
		return "success", "", result
	}
	return "failure", "nonzero_exit", result
}

// setRaw sets v to a JSON value, as the native API converts one (integers
// stay integers, nested nulls become empty values).
func setRaw(v pcommon.Value, raw json.RawMessage) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		v.SetStr(strings.ToValidUTF8(string(raw), "\uFFFD"))
		return
	}
	setAny(v, x)
}

func setAny(v pcommon.Value, x any) {
	switch t := x.(type) {
	case nil:
		// An empty value, as the native API keeps a nested null.
	case string:
		v.SetStr(t)
	case bool:
		v.SetBool(t)
	case json.Number:
		if i, err := t.Int64(); err == nil && !strings.ContainsAny(string(t), ".eE") {
			v.SetInt(i)
		} else {
			f, _ := t.Float64()
			v.SetDouble(f)
		}
	case []any:
		s := v.SetEmptySlice()
		s.EnsureCapacity(len(t))
		for _, e := range t {
			setAny(s.AppendEmpty(), e)
		}
	case map[string]any:
		m := v.SetEmptyMap()
		m.EnsureCapacity(len(t))
		for k, e := range t {
			setAny(m.PutEmpty(k), e)
		}
	}
}
