package loadgen

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// RunConfig bounds and shapes one run.
type RunConfig struct {
	// URL the requests are posted to.
	URL string
	// ContentType of every request.
	ContentType string
	// Clients is the number of concurrent clients (default 1).
	Clients int
	// Duration stops taking new requests once it has elapsed since the
	// start (0: no time bound). Requests in flight finish.
	Duration time.Duration
	// MaxAttempts is how often one request is tried before it counts as
	// failed (default 100).
	MaxAttempts int
	// Backoff is the wait after a 429, a 503 or a transport error when the
	// answer has no Retry-After, in seconds or as an HTTP date (default
	// 10 ms); MaxBackoff caps any wait, Retry-After included (default
	// 250 ms), so that a load run keeps its
	// pace against a collector that asks for seconds.
	Backoff, MaxBackoff time.Duration
	// Client sends the requests (default: a client with keep-alive for
	// Clients connections).
	Client *http.Client
}

// Result is what one run did.
type Result struct {
	// Requests and Events acknowledged with 2xx.
	Requests int `json:"requests"`
	Events   int `json:"events"`
	// Bytes of acknowledged request bodies.
	Bytes int64 `json:"bytes"`
	// Failed requests: refused with another status, or out of attempts.
	Failed       int `json:"failed_requests"`
	FailedEvents int `json:"failed_events"`
	// Retries: attempts after the first, over all requests.
	Retries int `json:"retries"`
	// Status counts every answer by HTTP status; TransportErrors the
	// attempts that got none.
	Status          map[int]int `json:"status"`
	TransportErrors int         `json:"transport_errors"`
	// Elapsed from the first request to the last answer.
	Elapsed time.Duration `json:"-"`
	Seconds float64       `json:"seconds"`
	// EventsPerSecond acknowledged.
	EventsPerSecond float64 `json:"events_per_second"`
	// Latency of the attempts that were answered with 2xx, from sending the
	// request to reading the whole answer.
	Latency Latency `json:"latency_ms"`
}

// Latency summarises request latencies, in milliseconds in JSON.
type Latency struct {
	P50 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
	// The same in milliseconds, for the JSON summary.
	P50ms float64 `json:"p50"`
	P99ms float64 `json:"p99"`
	MaxMs float64 `json:"max"`
}

func summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	// Nearest rank: the ceil(p*n)-th smallest sample (1-based).
	q := func(p float64) time.Duration {
		return ds[min(len(ds)-1, max(0, int(math.Ceil(p*float64(len(ds))))-1))]
	}
	l := Latency{P50: q(0.50), P99: q(0.99), Max: ds[len(ds)-1]}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	l.P50ms, l.P99ms, l.MaxMs = ms(l.P50), ms(l.P99), ms(l.Max)
	return l
}

// Run posts the requests with cfg.Clients concurrent clients until all are
// sent, the duration has elapsed or ctx ends, and returns what happened.
func Run(ctx context.Context, cfg RunConfig, reqs []Request) Result {
	if cfg.Clients <= 0 {
		cfg.Clients = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 100
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 250 * time.Millisecond
	}
	client := cfg.Client
	if client == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: cfg.Clients, MaxConnsPerHost: cfg.Clients}
		// The run's own connections end with it: kept idle, each holds two
		// goroutines and a collector connection until the server drops it.
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	var (
		mu      sync.Mutex
		res     = Result{Status: map[int]int{}}
		lat     []time.Duration
		next    int
		begin   = time.Now()
		stopAt  time.Time
		wg      sync.WaitGroup
		timeout = cfg.Duration > 0
	)
	if timeout {
		stopAt = begin.Add(cfg.Duration)
	}
	take := func() (Request, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(reqs) || ctx.Err() != nil || (timeout && time.Now().After(stopAt)) {
			return Request{}, false
		}
		next++
		return reqs[next-1], true
	}
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, ok := take()
				if !ok {
					return
				}
				a := attempt(ctx, client, cfg, r)
				if a.attempts == 0 {
					return // the run ended before the request was sent
				}
				mu.Lock()
				for st, n := range a.status {
					res.Status[st] += n
				}
				res.TransportErrors += a.transportErrors
				res.Retries += a.attempts - 1
				if a.ok {
					res.Requests++
					res.Events += r.Events
					res.Bytes += int64(len(r.Body))
					lat = append(lat, a.latency)
				} else {
					res.Failed++
					res.FailedEvents += r.Events
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	res.Seconds = res.Elapsed.Seconds()
	if res.Seconds > 0 {
		res.EventsPerSecond = float64(res.Events) / res.Seconds
	}
	res.Latency = summarise(lat)
	return res
}

type attemptResult struct {
	ok              bool
	attempts        int
	status          map[int]int
	transportErrors int
	latency         time.Duration // of the successful attempt
}

// attempt sends one request until it is acknowledged, refused for good, or
// out of attempts.
func attempt(ctx context.Context, client *http.Client, cfg RunConfig, r Request) attemptResult {
	a := attemptResult{status: map[int]int{}}
	for a.attempts < cfg.MaxAttempts && ctx.Err() == nil {
		a.attempts++
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(r.Body))
		if err != nil {
			return a
		}
		req.Header.Set("Content-Type", cfg.ContentType)
		t0 := time.Now()
		resp, err := client.Do(req)
		wait := cfg.Backoff
		if err != nil {
			a.transportErrors++
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			a.status[resp.StatusCode]++
			switch {
			case resp.StatusCode/100 == 2:
				a.ok, a.latency = true, d
				return a
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
				if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
					wait = d
				}
			default:
				return a // refused: sending it again would be refused again
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(wait, cfg.MaxBackoff)):
		}
	}
	return a
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 10.2.3), a date in the past being no wait. ok is false when
// the header gives no advice.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}
