package tests

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overloadLimitMiB and overloadSpikeMiB are the memory_limiter's settings
// in the overload test: limit_mib and spike_limit_mib instead of the
// shipped percentages of the machine's memory, so the bound on memory is a
// figure of the config rather than of the machine the test runs on.
const (
	overloadLimitMiB = 256
	overloadSpikeMiB = 64
)

// overloadConfig is localConfig with the memory_limiter in MiB.
func overloadConfig(t testing.TB) string {
	old := "    limit_percentage: 80\n    spike_limit_percentage: 20\n"
	require.Contains(t, localConfig, old)
	return strings.Replace(localConfig, old,
		fmt.Sprintf("    limit_mib: %d\n    spike_limit_mib: %d\n", overloadLimitMiB, overloadSpikeMiB), 1)
}

// overloadRun is what a load phase offered and was answered.
type overloadRun struct {
	mu         sync.Mutex
	acked      map[string]bool
	statuses   map[int]int
	noRetryHdr int
	offered    int             // events of the requests started
	answered   int             // events of the requests answered
	latency    []time.Duration // of the answered requests
}

// send posts one request of perReq events, every event its own session
// (every event its own fsynced segment: the archive's worst case), and
// records the answer. It reports whether the collector answered.
func (o *overloadRun) send(ctx context.Context, url, prefix string, n, perReq int) (int, bool) {
	var body []byte
	ids := make([]string, 0, perReq)
	for i := range perReq {
		id := fmt.Sprintf("%s-%d-%d", prefix, n, i)
		ids = append(ids, id)
		body = append(body, eventJSON(id, id, 800)...) // one session per event
		body = append(body, '\n')
	}
	o.mu.Lock()
	o.offered += perReq
	o.mu.Unlock()
	start := time.Now()
	res, err := post(ctx, url, "application/x-ndjson", body, nil)
	if err != nil {
		return 0, false // the deadline cut the request short
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answered += perReq
	o.latency = append(o.latency, time.Since(start))
	o.statuses[res.Status]++
	switch res.Status {
	case http.StatusOK:
		for _, id := range ids {
			o.acked[id] = true
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if res.RetryAfter == "" {
			o.noRetryHdr++
		}
	}
	return res.Status, true
}

const overloadPerReq = 100

// closedLoop sends from clients goroutines until ctx ends, each as fast as
// it is answered (10 ms pause after a refusal).
func (o *overloadRun) closedLoop(ctx context.Context, url, prefix string, clients int) {
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				status, ok := o.send(ctx, url, fmt.Sprintf("%s-%d", prefix, w), n, overloadPerReq)
				if ok && status != http.StatusOK {
					time.Sleep(10 * time.Millisecond) // a client that honours back-pressure a little
				}
			}
		}()
	}
	wg.Wait()
}

// openLoop offers rate events/s until ctx ends, whatever the answers, as
// many independent agents do: a request starts every perReq/rate seconds
// on its own connection, at most maxInFlight at once (a request due while
// that many are open is counted in skipped, not sent).
func (o *overloadRun) openLoop(ctx context.Context, url, prefix string, rate float64, maxInFlight int) (skipped int) {
	interval := time.Duration(float64(overloadPerReq) / rate * float64(time.Second))
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return skipped
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			skipped++
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o.send(ctx, url, prefix, n, overloadPerReq)
		}()
	}
}

// TestOverloadPushesBackWithBoundedMemory first measures the rate the
// pipeline sustains (a short unthrottled run: the archive's records
// written per second), then offers about 10 times that rate for
// AGENTAUDIT_FAULT_OVERLOAD (default 8s) behind a small queue with one
// consumer. The receiver must answer 429/503 with Retry-After, peak memory
// must stay under the memory_limiter's limit_mib, the collector must stay
// healthy, and every event it did acknowledge must still reach the
// archive, which verifies whole.
func TestOverloadPushesBackWithBoundedMemory(t *testing.T) {
	duration := faultDuration(t, "AGENTAUDIT_FAULT_OVERLOAD", 8*time.Second)
	const (
		clients     = 8
		calibrate   = 3 * time.Second
		maxInFlight = 256
	)
	c := newCollector(t, overloadConfig(t), map[string]string{"queue_size": "10", "num_consumers": "1"})
	o := &overloadRun{acked: map[string]bool{}, statuses: map[int]int{}}

	// The sustained rate: records the archive took per second while
	// clients sent as fast as they were answered.
	written0 := c.metric("otelcol_exporter_worm_records_written")
	ctx, cancel := context.WithTimeout(context.Background(), calibrate)
	start := time.Now()
	o.closedLoop(ctx, c.url(), "cal", clients)
	cancel()
	sustained := (c.metric("otelcol_exporter_worm_records_written") - written0) / time.Since(start).Seconds()
	require.Positive(t, sustained, "the archive takes records under load")
	calOffered := o.offered

	target := 10 * sustained
	ctx, cancel = context.WithTimeout(context.Background(), duration)
	defer cancel()
	start = time.Now()
	skipped := o.openLoop(ctx, c.url(), "ovl", target, maxInFlight)
	elapsed := time.Since(start)
	offeredRate := float64(o.offered-calOffered) / elapsed.Seconds()

	refused := o.statuses[http.StatusTooManyRequests] + o.statuses[http.StatusServiceUnavailable]
	rss := c.peakRSS()
	t.Logf("e2e: overload: sustained %.0f events/s (unthrottled %s); offered %.0f events/s for %s (target %.0f/s): %.1fx the sustained rate; %d requests not sent (%d open at once)",
		sustained, calibrate, offeredRate, duration, target, offeredRate/sustained, skipped, maxInFlight)
	// A collector that answered nothing fails here, not with an index
	// out of range below.
	require.NotEmpty(t, o.latency, "no request was answered: %v\n%s", o.statuses, c.logs())
	slices.Sort(o.latency)
	t.Logf("e2e: overload: %d events offered in all, %d answered, %d acknowledged; answers %v (time to answer: median %s, max %s); peak RSS %d MiB (memory_limiter limit_mib %d, spike %d)",
		o.offered, o.answered, len(o.acked), o.statuses, o.latency[len(o.latency)/2].Round(time.Millisecond),
		o.latency[len(o.latency)-1].Round(time.Millisecond), rss>>20, overloadLimitMiB, overloadSpikeMiB)
	require.Positive(t, refused, "the pipeline must push back under overload")
	assert.Greater(t, offeredRate, 2*sustained, "the load offered was an overload (at least twice the sustained rate)")
	assert.Zero(t, o.noRetryHdr, "every 429/503 carries Retry-After")
	for code := range o.statuses {
		assert.Contains(t, []int{200, 429, 503}, code, "no other answer under load")
	}
	// The memory_limiter refuses data once the heap passes limit_mib -
	// spike_limit_mib and collects garbage at limit_mib; the rest of the
	// resident set (code, stacks, runtime) fits in the spike allowance on
	// top of that, so the whole process stays under limit_mib.
	require.Positive(t, rss)
	assert.Less(t, rss, int64(overloadLimitMiB)<<20, "peak RSS stays under the memory_limiter's limit_mib")
	assert.True(t, c.healthy(), "the collector stays healthy")

	drainStart := time.Now()
	waitArchived(t, c.archiveDir(), o.acked, 3*time.Minute)
	t.Logf("e2e: overload: the archive caught up %s after the load stopped", time.Since(drainStart).Round(100*time.Millisecond))

	// And it serves again once the load is gone: requests the clients
	// gave up on at the deadline were still taken by the server, so the
	// queue may be full a while longer; a client that retries after
	// Retry-After gets in.
	served := time.Now()
	deadline := served.Add(2 * time.Minute)
	for {
		res, err := post(context.Background(), c.url(), "application/json", eventJSON("after-overload", "s", 0), nil)
		require.NoError(t, err)
		if res.Status == http.StatusOK {
			break
		}
		require.Contains(t, []int{429, 503}, res.Status, res.Body)
		require.True(t, time.Now().Before(deadline), "still refused 2 minutes after the load: %s", res.Body)
		time.Sleep(time.Second)
	}
	t.Logf("e2e: overload: a new request is served %s after the archive caught up", time.Since(served).Round(100*time.Millisecond))

	// Requests the clients gave up on at the deadline may still have
	// been queued: the archive is complete once the queue is empty.
	deadline = time.Now().Add(3 * time.Minute)
	for c.metric("otelcol_exporter_queue_size") != 0 {
		require.True(t, time.Now().Before(deadline), "the worm exporter's queue is not empty 3 minutes after the load")
		time.Sleep(200 * time.Millisecond)
	}

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
