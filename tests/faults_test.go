package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testsiem"
)

// The fault suite (issue 9). Each TestFault* test runs in a bounded form in
// make test; make faults runs the long forms by setting the durations
// below in the environment.

// faultDuration reads a duration from env (Go syntax, e.g. 3m), or def.
func faultDuration(t testing.TB, env string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "%s=%q", env, v)
	require.Positive(t, d, "%s=%q", env, v)
	return d
}

// faultClient is a well-behaved agent: it posts numbered NDJSON batches,
// retries a batch until it gets a 2xx, honours Retry-After, and records
// every answer. With pace set, it starts a batch at most every pace (a
// steady load); without, as fast as it is answered.
type faultClient struct {
	url    string
	prefix string
	batch  int
	pace   time.Duration

	mu           sync.Mutex
	acked        map[string]time.Time // event id -> when its batch was acknowledged
	answers      map[int]int          // HTTP status (0: no answer) -> count
	noRetryAfter int                  // 429/503 answers without Retry-After
}

func newFaultClient(url, prefix string, batch int, pace time.Duration) *faultClient {
	return &faultClient{url: url, prefix: prefix, batch: batch, pace: pace,
		acked: map[string]time.Time{}, answers: map[int]int{}}
}

// run sends batches until stop is closed (the batch in hand is still sent
// to its acknowledgement) or ctx ends.
func (c *faultClient) run(ctx context.Context, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		started := time.Now()
		var body bytes.Buffer
		ids := make([]string, 0, c.batch)
		for i := range c.batch {
			id := fmt.Sprintf("%s-%06d-%03d", c.prefix, n, i)
			ids = append(ids, id)
			body.Write(eventJSON(id, fmt.Sprintf("sess-%d", i%5), 200))
			body.WriteByte('\n')
		}
		for {
			if ctx.Err() != nil {
				return
			}
			res, err := post(ctx, c.url, "application/x-ndjson", body.Bytes(), nil)
			status := res.Status
			if err != nil {
				status = 0
			}
			c.mu.Lock()
			c.answers[status]++
			wait := 50 * time.Millisecond
			if status == 429 || status == 503 {
				if s, err := strconv.Atoi(res.RetryAfter); err == nil && s > 0 {
					wait = time.Duration(s) * time.Second
				} else {
					c.noRetryAfter++
				}
			}
			if status/100 == 2 {
				now := time.Now()
				for _, id := range ids {
					c.acked[id] = now
				}
			}
			c.mu.Unlock()
			if status/100 == 2 {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if c.pace > 0 {
			time.Sleep(time.Until(started.Add(c.pace)))
		}
	}
}

// start runs the client in the background; the returned function stops it
// and waits until its last batch is acknowledged (or the test's bound of
// 5 minutes is over).
func (c *faultClient) start(t testing.TB) (stopAndWait func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx, stop) }()
	var once sync.Once
	stopAndWait = func() {
		once.Do(func() {
			close(stop)
			<-done
			cancel()
		})
	}
	t.Cleanup(stopAndWait)
	return stopAndWait
}

func (c *faultClient) ackedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acked)
}

// ackedIDs returns the acknowledged ids; between from and to (zero: no
// bound) only those acknowledged in that interval.
func (c *faultClient) ackedIDs(from, to time.Time) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for id, at := range c.acked {
		if (from.IsZero() || !at.Before(from)) && (to.IsZero() || at.Before(to)) {
			out[id] = true
		}
	}
	return out
}

func (c *faultClient) answerCounts() (map[int]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]int{}
	for k, v := range c.answers {
		out[k] = v
	}
	return out, c.noRetryAfter
}

func refusals(answers map[int]int) int { return answers[429] + answers[503] }

// mountTmpfs mounts a tmpfs of size (mount's syntax, e.g. 8m) on a new
// directory for the rest of the test. The fault tests need it to make a
// small disk: they fail, not skip, where mounting is impossible (not root,
// no CAP_SYS_ADMIN), since a skipped fault test proves nothing.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir() // its removal is registered first, so it runs after the unmount
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	require.NoError(t, err, "the fault tests mount a small tmpfs as the full disk and need root (CAP_SYS_ADMIN): %s", out)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fsUse is the used and total bytes of the filesystem holding dir.
func fsUse(t testing.TB, dir string) (used, total uint64) {
	t.Helper()
	var s syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &s))
	return (s.Blocks - s.Bfree) * uint64(s.Bsize), s.Blocks * uint64(s.Bsize)
}

// filler fills a filesystem with one file, as another program writing to
// the same disk does, and keeps it full: space the collector frees (a
// temporary object it removes after a failed write) is taken again.
type filler struct {
	path string
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// fillUp appends to f until the filesystem has no space left.
func fillUp(f *os.File) error {
	chunk := make([]byte, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			// Then the last few blocks, smaller than a chunk.
			for {
				if _, err := f.Write(chunk[:512]); err != nil {
					break
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func startFiller(t *testing.T, path string) *filler {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	require.NoError(t, fillUp(f), "filling %s", path)
	fl := &filler{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		defer f.Close()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-fl.stop:
				return
			case <-tick.C:
				_ = fillUp(f)
			}
		}
	}()
	// A test that ends before remove (a failed require) still stops the
	// filler and closes its file, before mountTmpfs's cleanup unmounts:
	// an open file keeps the tmpfs busy, and it would stay mounted.
	t.Cleanup(fl.halt)
	return fl
}

// halt stops topping up and closes the file; it may be called again.
func (f *filler) halt() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
}

// remove stops topping up and deletes the file: the space is back.
func (f *filler) remove(t testing.TB) {
	t.Helper()
	f.halt()
	require.NoError(t, os.Remove(f.path))
}

// archiveOn renders localConfig with the worm exporter's archive at
// Extra["archive_dir"] and the file_storage extension (the exporter's
// persistent queue and the chain state) at Extra["queue_dir"], where set.
func archiveOn(tmpl string) string {
	tmpl = strings.Replace(tmpl, "directory: {{.Dir}}/archive",
		`directory: {{or (index .Extra "archive_dir") (printf "%s/archive" .Dir)}}`, 1)
	return strings.Replace(tmpl, "directory: {{.Dir}}/queue",
		`directory: {{or (index .Extra "queue_dir") (printf "%s/queue" .Dir)}}`, 1)
}

// TestFaultArchiveDiskFull fills the archive's disk while a retrying agent
// sends. The layout is the one an operator would choose: the archive on a
// disk of its own (a small tmpfs here), the persistent queue and the chain
// state on the state disk. While the archive disk is full, the exporter
// cannot write a segment: it must keep the records in its queue and retry
// (never acknowledge and drop), the receiver must push back with 429/503
// and Retry-After once the queue is full, and the log must name ENOSPC.
// When the space returns, every acknowledged event is archived and the
// archive verifies. AGENTAUDIT_FAULT_DISK_FULL is how long the disk stays
// full after the first refusal (default 5s).
func TestFaultArchiveDiskFull(t *testing.T) {
	hold := faultDuration(t, "AGENTAUDIT_FAULT_DISK_FULL", 5*time.Second)
	mnt := mountTmpfs(t, "16m")
	archiveDir := filepath.Join(mnt, "archive")
	c := newCollector(t, archiveOn(localConfig), map[string]string{
		"archive_dir": archiveDir, "queue_size": "20", "sign_interval": "500ms"})
	c.archiveURL = archiveDir // a local directory: readArchive and auditctl open it as one

	cl := newFaultClient(c.url(), "full", 100, 0)
	stopClient := cl.start(t)
	// The disk fills once the archive is demonstrably taking records, so
	// that what follows is the full disk's doing, not a slow start.
	deadline := time.Now().Add(time.Minute)
	for cl.ackedCount() < 2000 || c.metric("otelcol_exporter_worm_records_written") < 1000 {
		require.True(t, time.Now().Before(deadline), "2000 events not acknowledged and 1000 archived within a minute")
		time.Sleep(20 * time.Millisecond)
	}
	usedBefore, total := fsUse(t, mnt)
	ackedBeforeFull := cl.ackedCount()
	a0, _ := cl.answerCounts()
	fl := startFiller(t, filepath.Join(mnt, "filler"))
	fullAt := time.Now()
	usedFull, _ := fsUse(t, mnt)
	t.Logf("e2e: disk full: archive fs %d KiB, archive used %d KiB; filled to %d KiB (%.1f%%) after %d acknowledged events (answers until then %v)",
		total>>10, usedBefore>>10, usedFull>>10, 100*float64(usedFull)/float64(total), ackedBeforeFull, a0)

	// The queue on the state disk absorbs what arrives until it is full;
	// then the receiver refuses.
	deadline = time.Now().Add(2 * time.Minute)
	for {
		a, _ := cl.answerCounts()
		if refusals(a) > refusals(a0) {
			break
		}
		require.True(t, time.Now().Before(deadline), "no 429/503 within 2 minutes of the archive disk filling up: answers %v\n%s", a, c.logs())
		time.Sleep(50 * time.Millisecond)
	}
	firstRefusal := time.Since(fullAt)
	ackedAtRefusal := cl.ackedCount()
	time.Sleep(hold)
	a, noRA := cl.answerCounts()
	ackedWhileFull := cl.ackedCount() - ackedBeforeFull
	writeErrors := c.metric("otelcol_exporter_worm_write_errors")
	recordsAtFull := c.metric("otelcol_exporter_worm_records_written")
	assert.True(t, c.healthy(), "the collector stays up with its archive disk full")
	assert.Zero(t, noRA, "every 429/503 carries Retry-After")
	for code := range a {
		assert.Contains(t, []int{200, 429, 503}, code, "no other answer while the archive disk is full: %v", a)
	}
	assert.Positive(t, writeErrors, "failed writes are counted in otelcol_exporter_worm_write_errors")
	logs := c.logs()
	assert.Contains(t, logs, "no space left on device", "the log names ENOSPC")
	assert.Equal(t, 1, strings.Count(logs, "The archive's disk is full (ENOSPC)"), "one error line for the episode, not one per retry")
	t.Logf("e2e: disk full: the operator reads: %s", firstLineWith(logs, "The archive's disk is full"))
	// Acknowledged after the disk filled, before the first refusal: at
	// most what the queue holds, queue_size (20) requests of 100 events,
	// plus what its consumers have taken out of it into batches being
	// retried (at most num_consumers (2) + 1 batches of max_size (10000)
	// records), and the one request in flight. Then the receiver refuses.
	assert.LessOrEqual(t, ackedAtRefusal-ackedBeforeFull, 20*100+3*10000+100, "acknowledged while full is bounded by the queue")

	freedAt, firstAckAfter, acked, got := freeAndRecover(t, c, cl, fl, stopClient)
	caughtUp := time.Since(freedAt)
	assert.Contains(t, c.logs(), "Archive writes succeed again", "and the end of the episode")
	r, code := waitWhole(t, c.archiveDir(), c.trustFile(), 2*time.Minute)
	assert.Equal(t, 0, code, "%v", r.allProblems())
	require.Len(t, r.Logs, 1)
	assert.Zero(t, r.Logs[0].MissingLeaves)
	a, _ = cl.answerCounts()
	t.Logf("e2e: disk full: first refusal %s after the disk filled, %d events acknowledged until then; held full %s: %d events acknowledged while full (queue), %.0f write errors, %.0f records archived by the end of the hold",
		firstRefusal.Round(10*time.Millisecond), ackedAtRefusal-ackedBeforeFull, hold, ackedWhileFull, writeErrors, recordsAtFull)
	t.Logf("e2e: disk full: space back: first acknowledgement after %s, archive caught up after %s; %d acknowledged, %d archived, answers %v; log of %d leaves (%d voided) verifies",
		firstAckAfter.Round(10*time.Millisecond), caughtUp.Round(100*time.Millisecond), len(acked), len(got), a, r.Logs[0].Size, r.Logs[0].Voided)
	assert.Equal(t, len(acked), countIn(got, acked))
}

// freeAndRecover gives the full disk its space back (removes the filler),
// waits for the next acknowledgement, lets the client run on for 2 s, stops
// it and waits until every acknowledged event is archived. It returns when
// the space came back, how long the first acknowledgement took after that,
// the acknowledged ids and the archive's count of each.
func freeAndRecover(t *testing.T, c *collector, cl *faultClient, fl *filler, stopClient func()) (time.Time, time.Duration, map[string]bool, map[string]int) {
	t.Helper()
	ackedAtFree := cl.ackedCount()
	fl.remove(t)
	freedAt := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for cl.ackedCount() == ackedAtFree {
		require.True(t, time.Now().Before(deadline), "nothing acknowledged within 2 minutes of the space returning\n%s", c.logs())
		time.Sleep(20 * time.Millisecond)
	}
	firstAckAfter := time.Since(freedAt)
	time.Sleep(2 * time.Second)
	stopClient()
	acked := cl.ackedIDs(time.Time{}, time.Time{})
	return freedAt, firstAckAfter, acked, waitArchived(t, c.archiveDir(), acked, 3*time.Minute)
}

// countIn counts the ids of want present in got.
func countIn(got map[string]int, want map[string]bool) int {
	n := 0
	for id := range want {
		if got[id] > 0 {
			n++
		}
	}
	return n
}

// TestFaultSIEMDown stops the SIEM (an Elasticsearch Bulk API stand-in)
// for AGENTAUDIT_FAULT_SIEM_DOWN (default 20s) under a steady load. The
// archive must not notice: every request is acknowledged (the SIEM copy
// drops what does not fit its queue, on_queue_full: drop, and counts it),
// every event is archived and the archive verifies. When the SIEM is back,
// what was queued is delivered, and every record the SIEM copy was given is
// either in Elasticsearch or counted as dropped.
func TestFaultSIEMDown(t *testing.T) {
	down := faultDuration(t, "AGENTAUDIT_FAULT_SIEM_DOWN", 20*time.Second)
	es := testsiem.NewElasticsearch().Start(t)
	u, err := url.Parse(es.URL())
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	c := newCollector(t, localConfig, map[string]string{
		"sign_interval": "500ms",
		"siem": siemYAML("format: ecs", "elasticsearch:", "  endpoint: "+es.URL(),
			"retry_on_failure:", "  initial_interval: 100ms", "  max_interval: 1s",
			"sending_queue:", "  queue_size: 20", "  num_consumers: 1"),
	})

	// 20 events every 100 ms: 200 events/s, far below what the archive
	// drains, so any refusal would be the SIEM's doing.
	cl := newFaultClient(c.url(), "sd", 20, 100*time.Millisecond)
	stopClient := cl.start(t)
	time.Sleep(3 * time.Second)
	require.Positive(t, len(es.Docs()), "the SIEM receives while it is up")

	es.Stop()
	downAt := time.Now()
	docsAtDown := len(es.Docs())
	time.Sleep(down)
	droppedDown := c.metric("otelcol_exporter_siem_events_dropped")
	es.StartOn(t, port)
	upAt := time.Now()
	during := cl.ackedIDs(downAt, upAt)

	// Recovery: the first event acknowledged during the outage that
	// reaches Elasticsearch (it was in the SIEM queue).
	deadline := time.Now().Add(time.Minute)
	var recovered time.Duration
	for recovered == 0 {
		for _, d := range es.Docs() {
			var doc ecsDoc
			require.NoError(t, json.Unmarshal(d.Source, &doc))
			if during[doc.Event.ID] {
				recovered = time.Since(upAt)
				break
			}
		}
		if recovered == 0 {
			require.True(t, time.Now().Before(deadline), "nothing queued during the outage reached Elasticsearch within a minute of its return")
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second) // steady load after the return
	stopClient()

	a, _ := cl.answerCounts()
	acked := cl.ackedIDs(time.Time{}, time.Time{})
	assert.Equal(t, map[int]int{200: a[200]}, a, "every request is acknowledged: a SIEM outage refuses nothing")
	got := waitArchived(t, c.archiveDir(), acked, 2*time.Minute)
	assert.Equal(t, len(acked), countIn(got, acked), "every acknowledged event is archived")
	assert.Positive(t, len(during), "events were acknowledged during the outage")
	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	assert.Equal(t, 0, code, "%v", r.allProblems())

	// Every record of the archive went to the SIEM copy too (forward/siem
	// gets the pipeline's records); each is in Elasticsearch or counted as
	// dropped, once the SIEM queue has drained.
	var archived, docs int
	var dropped float64
	deadline = time.Now().Add(time.Minute)
	for {
		archived = len(readArchive(t, c.archiveDir()))
		docs = len(es.Docs())
		dropped = c.metric("otelcol_exporter_siem_events_dropped")
		if float64(docs)+dropped == float64(archived) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	assert.Positive(t, droppedDown, "the SIEM copy drops what does not fit its queue during the outage, and counts it")
	assert.Contains(t, c.logs(), "The SIEM sending queue is full")
	assert.Equal(t, float64(archived), float64(docs)+dropped,
		"every archived record is in Elasticsearch or counted as dropped (%d docs, %.0f dropped, %d archived)", docs, dropped, archived)
	t.Logf("e2e: siem down %s under 200 events/s: answers %v; %d events acknowledged (%d during the outage), all archived; log of %d leaves verifies",
		down, a, len(acked), len(during), r.Logs[0].Size)
	t.Logf("e2e: siem down: %d docs before the outage, %.0f records dropped by the SIEM copy during it (%.0f in all); first queued event delivered %s after the return; %d docs + %.0f dropped = %d archived records",
		docsAtDown, droppedDown, dropped, recovered.Round(10*time.Millisecond), docs, dropped, archived)
}

// firstLineWith returns the first line of logs containing s, cut to 400
// bytes.
func firstLineWith(logs, s string) string {
	for l := range strings.Lines(logs) {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l[:min(len(l), 400)])
		}
	}
	return ""
}

// TestFaultStateDiskFull fills the state disk instead: the file_storage
// extension (the worm exporter's persistent queue and the chain state) on a
// small tmpfs, the archive on the normal disk. Whatever cannot be stored
// must be refused (503/429 with Retry-After), not acknowledged, and what
// the queue did take must not be given up when the disk refuses the write
// that records taking it (the worm exporter's storage guard holds the
// queue until the disk has space). When the space returns the collector
// serves again, every acknowledged event is archived and the archive
// verifies with nothing missing.
func TestFaultStateDiskFull(t *testing.T) {
	hold := faultDuration(t, "AGENTAUDIT_FAULT_DISK_FULL", 5*time.Second)
	mnt := mountTmpfs(t, "64m")
	c := newCollector(t, archiveOn(localConfig), map[string]string{
		"queue_dir": filepath.Join(mnt, "queue"), "sign_interval": "500ms"})

	cl := newFaultClient(c.url(), "state", 100, 0)
	stopClient := cl.start(t)
	deadline := time.Now().Add(time.Minute)
	for cl.ackedCount() < 2000 {
		require.True(t, time.Now().Before(deadline), "2000 events not acknowledged within a minute")
		time.Sleep(20 * time.Millisecond)
	}
	usedBefore, total := fsUse(t, mnt)
	ackedBeforeFull := cl.ackedCount()
	fl := startFiller(t, filepath.Join(mnt, "filler"))
	usedFull, _ := fsUse(t, mnt)
	t.Logf("e2e: state disk full: fs %d KiB, state used %d KiB; filled to %d KiB (%.1f%%) after %d acknowledged events",
		total>>10, usedBefore>>10, usedFull>>10, 100*float64(usedFull)/float64(total), ackedBeforeFull)
	time.Sleep(hold)
	a, noRA := cl.answerCounts()
	ackedWhileFull := cl.ackedCount() - ackedBeforeFull
	logs := c.logs()
	t.Logf("e2e: state disk full for %s: %d events acknowledged, answers %v; healthy %v; log: %s",
		hold, ackedWhileFull, a, c.healthy(), firstLineWith(logs, "no space left on device"))
	assert.Zero(t, noRA, "every 429/503 carries Retry-After")
	for code := range a {
		assert.Contains(t, []int{200, 429, 503}, code, "no other answer while the state disk is full: %v", a)
	}
	assert.Contains(t, logs, "no space left on device", "the log names ENOSPC")
	assert.True(t, c.healthy(), "the collector stays up with its state disk full")

	_, firstAckAfter, acked, got := freeAndRecover(t, c, cl, fl, stopClient)
	assert.Equal(t, len(acked), countIn(got, acked))
	r, code := waitWhole(t, c.archiveDir(), c.trustFile(), 2*time.Minute)
	assert.Equal(t, 0, code, "%v", r.allProblems())
	// A chain state write the full disk refused starts a new log (epoch,
	// reason state_write_failed): one log or several, none missing a leaf.
	require.NotEmpty(t, r.Logs)
	var leaves, voided int
	for _, l := range r.Logs {
		assert.Zero(t, l.MissingLeaves, l.LogID)
		leaves += int(l.Size)
		voided += l.Voided
	}
	if t.Failed() {
		for l := range strings.Lines(c.logs()) {
			if strings.Contains(l, "starting a new chain epoch") || strings.Contains(l, "chain processor:") {
				t.Logf("e2e: state disk full: %s", strings.TrimSpace(l[:min(len(l), 600)]))
			}
		}
	}
	a, _ = cl.answerCounts()
	t.Logf("e2e: state disk full: space back: first acknowledgement after %s; %d acknowledged, %d archived, answers %v; %d logs, %d leaves (%d voided); the storage guard held the queue %d times",
		firstAckAfter.Round(10*time.Millisecond), len(acked), len(got), a, len(r.Logs), leaves, voided,
		strings.Count(c.logs(), "cannot record that it took a request"))
}

// waitWhole polls auditctl verify (every record under a checkpoint) until
// the archive verifies or the timeout is over, and returns the last
// report. After a fault the archive
// becomes whole only when every batch the worm exporter is still retrying
// has been written: a batch with a checkpoint and the key announcement may
// wait up to retry_on_failure.max_interval (30 s) for its next attempt
// while later checkpoints already seal the log.
func waitWhole(t testing.TB, archiveDir, trust string, timeout time.Duration) (verifyResult, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, code := verifyReport(t, archiveDir, trust)
		if code == 0 || time.Now().After(deadline) {
			return r, code
		}
		time.Sleep(time.Second)
	}
}

// TestFaultTmpfsUnmountedOnEarlyEnd: a fault test that ends before it
// removes its filler (a failed require, a timeout) must still leave no
// mount behind: the filler's file is closed before the unmount.
func TestFaultTmpfsUnmountedOnEarlyEnd(t *testing.T) {
	var mnt string
	t.Run("ends with the disk full", func(t *testing.T) {
		mnt = mountTmpfs(t, "1m")
		startFiller(t, filepath.Join(mnt, "filler"))
	})
	mounts, err := os.ReadFile("/proc/self/mounts")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), " "+mnt+" ", "the tmpfs is unmounted")
}
