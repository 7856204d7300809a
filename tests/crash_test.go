package tests

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
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

// TestCrashLosesNoAcknowledgedEvent kills the collector with SIGKILL at a
// random point while a client sends 20,000 events, restarts it on the same
// state, and checks that every acknowledged event reaches the archive.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("e2e: crash seed %d", seed)

	c := newCollector(t, localConfig, nil)
	const total = 20_000
	s := newSender(c.url(), "crash", total, 100)
	done := s.start(t, 200, 7)

	s.waitAcked(t, int64(1_000+rng.IntN(total-3_000)), done)
	// Land the kill at a random moment within the next request or so.
	time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
	ackedBeforeKill := s.ackCount.Load()
	c.kill()
	t.Logf("e2e: SIGKILL after %d acknowledged events", ackedBeforeKill)
	time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
	c.start()

	require.NoError(t, <-done)
	acked := s.ackedIDs()
	require.Len(t, acked, total)
	got := waitArchived(t, c.archiveDir(), acked, 2*time.Minute)
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	t.Logf("e2e: crash: %d acknowledged, %d archived (%d duplicates from retries), statuses%s",
		len(acked), len(got), dups, s.statusSummary())
	assert.Len(t, got, total, "every event is in the archive")

	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	assertCrashArchive(t, r, code)
	l := r.Logs[0]
	t.Logf("e2e: crash: log %s: %d leaves, %d missing (cut-short request), %d voided, verify exit %d",
		l.LogID, l.Size, l.MissingLeaves, l.Voided, code)
}

// assertCrashArchive checks the archive of a collector killed under load
// and restarted: integrity holds everywhere, and what is missing is exactly
// the records chained for the request the kill cut short (its events were
// sent again and chained anew), each one a reported gap in its stream.
func assertCrashArchive(t *testing.T, r verifyResult, code int) {
	t.Helper()
	require.Len(t, r.Logs, 1, "the restart continued the log from its persisted state")
	l := r.Logs[0]
	assert.Equal(t, l.Size, l.SealedSize, "checkpoints after the restart seal the whole log")
	assert.Equal(t, "ok", l.Integrity, "%v", l.Problems)
	var gapSeqs uint64
	for _, s := range l.Streams {
		assert.Equal(t, "ok", s.Integrity, "stream %s: %v", s.Stream, s.Problems)
		gapSeqs += s.MissingSeqs
	}
	assert.Equal(t, l.MissingLeaves, gapSeqs, "every missing leaf shows as a gap in its stream")
	assert.LessOrEqual(t, l.MissingLeaves, uint64(100), "at most the one request in flight at the kill")
	if l.MissingLeaves == 0 {
		assert.Equal(t, 0, code, "%v", r.allProblems())
	} else {
		assert.Equal(t, 1, code, "missing records fail verification")
		assert.NotEmpty(t, l.Missing)
	}
}
