package tests

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sender posts numbered events in NDJSON batches and retries every batch
// until it gets a 2xx, as a well-behaved agent does.
type sender struct {
	url      string
	prefix   string
	total    int
	batch    int
	mu       sync.Mutex
	acked    map[string]bool
	ackCount atomic.Int64
	statuses sync.Map // status code -> *atomic.Int64
	retries  atomic.Int64
}

func newSender(url, prefix string, total, batch int) *sender {
	return &sender{url: url, prefix: prefix, total: total, batch: batch, acked: map[string]bool{}}
}

func (s *sender) count(status int) {
	v, _ := s.statuses.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// run sends everything; it gives up only when ctx ends.
func (s *sender) run(ctx context.Context, padding int, sessionOf func(i int) string) error {
	for start := 0; start < s.total; start += s.batch {
		var body bytes.Buffer
		var ids []string
		for i := start; i < min(start+s.batch, s.total); i++ {
			id := fmt.Sprintf("%s-%06d", s.prefix, i)
			ids = append(ids, id)
			body.Write(eventJSON(id, sessionOf(i), padding))
			body.WriteByte('\n')
		}
		for {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res, err := post(ctx, s.url, "application/x-ndjson", body.Bytes(), nil)
			if err == nil {
				s.count(res.Status)
				if res.Status/100 == 2 {
					break
				}
			} else {
				s.count(0) // connection refused or cut: the collector is down
			}
			s.retries.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
		s.mu.Lock()
		for _, id := range ids {
			s.acked[id] = true
		}
		s.mu.Unlock()
		s.ackCount.Add(int64(len(ids)))
	}
	return nil
}

// start runs the sender in the background (events of padding bytes spread
// over sessions sess-0 .. sess-<sessions-1>) for at most 5 minutes; the
// channel gets its result.
func (s *sender) start(t testing.TB, padding, sessions int) chan error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, padding, func(i int) string { return fmt.Sprintf("sess-%d", i%sessions) }) }()
	return done
}

// waitAcked waits until n events are acknowledged; the sender must not
// finish first.
func (s *sender) waitAcked(t testing.TB, n int64, done chan error) {
	t.Helper()
	for s.ackCount.Load() < n {
		select {
		case err := <-done:
			t.Fatalf("sender finished before %d acknowledged events: %v", n, err)
		case <-time.After(time.Millisecond):
		}
	}
}

func (s *sender) ackedIDs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.acked))
	for id := range s.acked {
		out[id] = true
	}
	return out
}

func (s *sender) statusSummary() string {
	var out string
	s.statuses.Range(func(k, v any) bool {
		out += fmt.Sprintf(" %v:%d", k, v.(*atomic.Int64).Load())
		return true
	})
	return out
}

// faultKills is the number of SIGKILLs TestCrashLosesNoAcknowledgedEvent
// deals: $AGENTAUDIT_FAULT_KILLS (make faults sets 20), else 3.
func faultKills(t *testing.T) int {
	v := os.Getenv("AGENTAUDIT_FAULT_KILLS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "AGENTAUDIT_FAULT_KILLS")
	require.Positive(t, n, "AGENTAUDIT_FAULT_KILLS")
	return n
}

// crashSenders is how many clients send at once, so that several requests
// (and chained batches) are in flight when a kill lands; crashBatch the
// events per request.
const (
	crashSenders = 2
	crashBatch   = 100
)

// TestCrashLosesNoAcknowledgedEvent kills the collector with SIGKILL at
// random moments while clients that retry until acknowledged send events,
// restarting it on the same state after a random delay each time. Every
// acknowledged event must reach the archive, and the archive must verify:
// records in flight at a kill that never reached the archive are declared
// by the unclean-stop notice of the next start (lost_in_flight), at most
// the requests in flight per kill.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	began := time.Now()
	kills := faultKills(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("e2e: crash seed %d, %d kills", seed, kills)

	c := newCollector(t, localConfig, nil)
	// Enough events that the kills are spread over a run of a few
	// thousand events each.
	total := max(20_000, kills*2_000)
	var senders []*sender
	var running atomic.Int32
	results := make(chan error, crashSenders)
	for i := range crashSenders {
		s := newSender(c.url(), fmt.Sprintf("crash%d", i), total/crashSenders, crashBatch)
		senders = append(senders, s)
		done := s.start(t, 200, 7)
		running.Add(1)
		go func() { err := <-done; running.Add(-1); results <- err }()
	}
	acked := func() int64 {
		var n int64
		for _, s := range senders {
			n += s.ackCount.Load()
		}
		return n
	}

	// Kill points: random acknowledged counts, in order.
	points := make([]int64, kills)
	for k := range points {
		points[k] = int64(500 + rng.IntN(total-2_500))
	}
	slices.Sort(points)
	var killedAt []int64
	for _, p := range points {
		for acked() < p {
			require.Positive(t, running.Load(), "the senders finished before %d acknowledged events", p)
			time.Sleep(time.Millisecond)
		}
		// Land the kill at a random moment within the next request or so.
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
		killedAt = append(killedAt, acked())
		c.kill()
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		c.start()
	}
	t.Logf("e2e: crash: SIGKILL after %v acknowledged events", killedAt)

	all := map[string]bool{}
	var retries int64
	statuses := ""
	for range senders {
		require.NoError(t, <-results)
	}
	for i, s := range senders {
		for id := range s.ackedIDs() {
			all[id] = true
		}
		retries += s.retries.Load()
		statuses += fmt.Sprintf(" sender %d:%s", i, s.statusSummary())
	}
	require.Equal(t, total, len(all), "every event is acknowledged")
	got := waitArchived(t, c.archiveDir(), all, 2*time.Minute)
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	assert.Len(t, got, total, "every event is in the archive")

	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	assertCrashArchiveKills(t, r, code, kills, crashSenders*crashBatch)
	l := r.Logs[0]
	// Duplicates: events sent again after a kill cut off their
	// acknowledgement (new leaves), and records the exporter's persistent
	// queue delivered again after a restart (identical leaves).
	t.Logf("e2e: crash: %d kills, %d events acknowledged, %d archived (%d duplicate events: %d identical records redelivered, "+
		"the rest sent again; %d retried requests), log %s: %d leaves, %d lost in flight, %d missing, %d voided, verify exit %d, %.0f s; statuses%s",
		kills, len(all), len(got), dups, l.Duplicates, retries, l.LogID, l.Size, l.LostInFlight, l.MissingLeaves, l.Voided, code,
		time.Since(began).Seconds(), statuses)
}

// assertCrashArchive checks the archive of a collector killed once under
// load, with one request in flight, and restarted.
func assertCrashArchive(t *testing.T, r verifyResult, code int) {
	t.Helper()
	assertCrashArchiveKills(t, r, code, 1, crashBatch)
}

// assertCrashArchiveKills checks the archive of a collector killed under
// load kills times and restarted each time: integrity holds everywhere, no
// leaf is missing, and the records chained for requests the kills cut
// short (their events were sent again and chained anew) are declared lost
// in flight, at most inFlight events (plus the notices that were waiting to
// go out) per kill. The archive verifies.
func assertCrashArchiveKills(t *testing.T, r verifyResult, code, kills, inFlight int) {
	t.Helper()
	require.Len(t, r.Logs, 1, "the restarts continued the log from its persisted state")
	l := r.Logs[0]
	assert.Equal(t, l.Size, l.SealedSize, "checkpoints after the restart seal the whole log")
	assert.Equal(t, "ok", l.Integrity, "%v", l.Problems)
	assert.Equal(t, "complete", l.Completeness, "%v", l.Missing)
	assert.Zero(t, l.MissingLeaves, "every leaf the archive lacks was declared in flight: %v", l.Missing)
	var lost uint64
	for _, s := range l.Streams {
		assert.Equal(t, "ok", s.Integrity, "stream %s: %v", s.Stream, s.Problems)
		assert.Zero(t, s.MissingSeqs, "stream %s: %v", s.Stream, s.Gaps)
		lost += s.LostInFlight
	}
	assert.Equal(t, l.LostInFlight, lost, "every leaf lost in flight is counted in its stream")
	// Per kill: the requests in flight, the unclean-stop notice of the
	// previous start and a void notice, if they were still waiting to go
	// out.
	assert.LessOrEqual(t, l.LostInFlight, uint64(kills*(inFlight+2)), "at most the requests in flight at each kill")
	assert.Equal(t, 0, code, "the archive verifies: %v", r.allProblems())
	assert.True(t, r.Verified)
}
