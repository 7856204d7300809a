package tests

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverloadPushesBackWithBoundedMemory offers far more than the pipeline
// drains: every event has its own session, so every event becomes its own
// fsynced segment (the archive's worst case), behind a small queue with one
// consumer. The receiver must answer 429/503 with Retry-After, memory must
// stay bounded, the collector must stay healthy, and every event it did
// acknowledge must still reach the archive.
func TestOverloadPushesBackWithBoundedMemory(t *testing.T) {
	c := newCollector(t, localConfig, map[string]string{"queue_size": "10", "num_consumers": "1"})
	const (
		clients  = 8
		perReq   = 100
		duration = 8 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()

	var (
		mu         sync.Mutex
		acked      = map[string]bool{}
		statuses   = map[int]int{}
		noRetryHdr int
		offered    int
	)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				var body []byte
				var ids []string
				for i := range perReq {
					id := fmt.Sprintf("ovl-%d-%d-%d", w, n, i)
					ids = append(ids, id)
					body = append(body, eventJSON(id, id, 800)...) // one session per event
					body = append(body, '\n')
				}
				res, err := post(ctx, c.url(), "application/x-ndjson", body, nil)
				if err != nil {
					continue // the deadline cut the request short
				}
				mu.Lock()
				offered += perReq
				statuses[res.Status]++
				switch res.Status {
				case http.StatusOK:
					for _, id := range ids {
						acked[id] = true
					}
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					if res.RetryAfter == "" {
						noRetryHdr++
					}
				}
				mu.Unlock()
				if res.Status != http.StatusOK {
					time.Sleep(10 * time.Millisecond) // a client that honours back-pressure a little
				}
			}
		}()
	}
	wg.Wait()

	refused := statuses[http.StatusTooManyRequests] + statuses[http.StatusServiceUnavailable]
	rss := c.peakRSS()
	t.Logf("e2e: overload: offered %d events in %s (%d/s), acknowledged %d; answers %v; peak RSS %d MiB",
		offered, duration, offered/int(duration/time.Second), len(acked), statuses, rss>>20)
	require.Positive(t, refused, "the pipeline must push back under overload")
	assert.Zero(t, noRetryHdr, "every 429/503 carries Retry-After")
	for code := range statuses {
		assert.Contains(t, []int{200, 429, 503}, code, "no other answer under load")
	}
	assert.Less(t, rss, int64(1<<30), "memory stays bounded")
	assert.True(t, c.healthy(), "the collector stays healthy")

	drainStart := time.Now()
	waitArchived(t, c.archiveDir(), acked, 3*time.Minute)
	t.Logf("e2e: overload: the archive caught up %s after the load stopped", time.Since(drainStart).Round(100*time.Millisecond))

	// And it serves again once the load is gone.
	res, err := post(context.Background(), c.url(), "application/json", eventJSON("after-overload", "s", 0), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Status, res.Body)

	// Every refused batch had been chained already: void notices account
	// for those records, so the archive of an overloaded collector verifies
	// whole, with nothing missing.
	waitArchived(t, c.archiveDir(), map[string]bool{"after-overload": true}, time.Minute)
	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	assert.Equal(t, 0, code, "%v", r.allProblems())
	require.Len(t, r.Logs, 1)
	assert.Zero(t, r.Logs[0].MissingLeaves)
	assert.Positive(t, r.Logs[0].Voided, "refused records are voided, not missing")
	t.Logf("e2e: overload: log of %d leaves verifies; %d voided by %d refusals", r.Logs[0].Size, r.Logs[0].Voided, refused)
}
