package loadgen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.uber.org/goleak"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/secrets"
)

// TestEventsValidate: the receiver's own decoder accepts every generated
// line, alone (so a failure names the line), and the stream has the mix
// it promises: every event type of the mix, large and small events, and
// secrets.
func TestEventsValidate(t *testing.T) {
	g := NewGenerator(1, Options{})
	names := map[string]int{}
	var small, large, withSecret int
	for range 5000 {
		e := g.Next()
		_, err := auditrecord.Decode(append(e.JSON, '\n'), auditrecord.FormatNDJSON, auditrecord.DefaultLimits, time.Now())
		require.NoError(t, err, "%s", e.JSON)
		names[e.Name]++
		switch {
		case len(e.JSON) < 1024:
			small++
		case len(e.JSON) > 4096:
			large++
		}
		if len(e.Secrets) > 0 {
			withSecret++
		}
	}
	for _, m := range mix {
		assert.Positive(t, names[m.name], m.name)
	}
	assert.Greater(t, small, 2500, "mostly small events")
	assert.Positive(t, large, "some multi-KB tool outputs")
	assert.Positive(t, withSecret, "some secrets")
	assert.Less(t, withSecret, 500, "secrets are rare")
}

// TestDeterministicBySeed: the same seed gives the same bytes, another
// seed other bytes.
func TestDeterministicBySeed(t *testing.T) {
	a, b, c := NewGenerator(7, Options{}), NewGenerator(7, Options{}), NewGenerator(8, Options{})
	same := true
	for range 200 {
		ea, eb, ec := a.Next(), b.Next(), c.Next()
		require.Equal(t, ea.JSON, eb.JSON)
		same = same && bytes.Equal(ea.JSON, ec.JSON)
	}
	assert.False(t, same)
}

// TestSecretsAreRealFormats: the project's detector finds every secret the
// generator places, where it placed it, so a scrubber has work to do.
func TestSecretsAreRealFormats(t *testing.T) {
	d, err := secrets.New(secrets.Options{})
	require.NoError(t, err)
	g := NewGenerator(3, Options{SecretEvery: 1})
	for range 300 {
		e := g.Next()
		require.Len(t, e.Secrets, 1)
		s := e.Secrets[0]
		require.Contains(t, string(e.JSON), s)
		found := false
		for _, f := range d.Find(string(e.JSON), nil) {
			if f.Start <= strings.Index(string(e.JSON), s) && f.End >= strings.Index(string(e.JSON), s)+len(s) {
				found = true
			}
		}
		assert.True(t, found, "secret %q not found in %s", s, e.JSON)
	}
}

// TestOTLPRoundTrip: an OTLP body decodes to exactly the records the
// native decoder makes of the same events.
func TestOTLPRoundTrip(t *testing.T) {
	evs := make([]Event, 50)
	g := NewGenerator(5, Options{})
	for i := range evs {
		evs[i] = g.Next()
	}
	body, err := EncodeOTLP(evs)
	require.NoError(t, err)
	req := plogotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(body))
	got := req.Logs()
	want, err := auditrecord.Decode(EncodeNDJSON(evs), auditrecord.FormatNDJSON, auditrecord.DefaultLimits, time.Now())
	require.NoError(t, err)
	require.Equal(t, len(evs), got.LogRecordCount())
	gl := got.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	wl := want.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := range evs {
		g, w := gl.At(i), wl.At(i)
		assert.Equal(t, w.Attributes().AsRaw(), g.Attributes().AsRaw(), "record %d", i)
		assert.Equal(t, w.Body().AsRaw(), g.Body().AsRaw(), "record %d", i)
		assert.Equal(t, w.Timestamp(), g.Timestamp(), "record %d", i)
		assert.Equal(t, w.SeverityNumber(), g.SeverityNumber(), "record %d", i)
		assert.Equal(t, w.TraceID(), g.TraceID(), "record %d", i)
		id, _ := g.Attributes().Get("agent_audit.event.id")
		assert.Equal(t, evs[i].ID, id.Str())
	}
}

// TestPrepareBatches: n events in requests of batch, the last one short.
func TestPrepareBatches(t *testing.T) {
	reqs, err := Prepare(NewGenerator(1, Options{}), Native, 250, 100)
	require.NoError(t, err)
	require.Len(t, reqs, 3)
	assert.Equal(t, []int{100, 100, 50}, []int{reqs[0].Events, reqs[1].Events, reqs[2].Events})
	assert.Equal(t, 50, bytes.Count(reqs[2].Body, []byte{'\n'}))
	_, err = Prepare(NewGenerator(1, Options{}), Native, 10, 0)
	assert.Error(t, err)
}

// TestRunRetries503: a server that answers every request's first attempt
// with 503 (Retry-After: 1) and the second with 200: every request is
// acknowledged after exactly one retry, the Retry-After wait is capped by
// MaxBackoff, and the statuses are counted.
func TestRunRetries503(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		assert.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
		// Odd calls refuse, even calls accept: with one client, each
		// request is refused once and then accepted.
		if calls.Add(1)%2 == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"accepted":1}`)
	}))
	defer srv.Close()
	reqs, err := Prepare(NewGenerator(1, Options{}), Native, 50, 10)
	require.NoError(t, err)
	begin := time.Now()
	res := Run(context.Background(), RunConfig{URL: srv.URL, ContentType: Native.ContentType(), Clients: 1, MaxBackoff: 20 * time.Millisecond}, reqs)
	assert.Equal(t, 5, res.Requests)
	assert.Equal(t, 50, res.Events)
	assert.Equal(t, 5, res.Retries)
	assert.Equal(t, map[int]int{503: 5, 200: 5}, res.Status)
	assert.Zero(t, res.Failed)
	assert.Positive(t, res.Latency.P50)
	assert.GreaterOrEqual(t, res.Latency.Max, res.Latency.P99)
	assert.GreaterOrEqual(t, res.Latency.P99, res.Latency.P50)
	// Five waits of at most 20 ms each, not five of Retry-After's second.
	assert.Less(t, time.Since(begin), 4*time.Second)
}

// TestRunRefusalIsNotRetried: a 400 is final; the request counts as failed
// after one attempt.
func TestRunRefusalIsNotRetried(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	reqs, err := Prepare(NewGenerator(1, Options{}), OTLP, 30, 10)
	require.NoError(t, err)
	res := Run(context.Background(), RunConfig{URL: srv.URL, ContentType: OTLP.ContentType(), Clients: 3}, reqs)
	assert.Equal(t, int64(3), calls.Load())
	assert.Equal(t, 3, res.Failed)
	assert.Equal(t, 30, res.FailedEvents)
	assert.Zero(t, res.Events)
	assert.Zero(t, res.Retries)
	assert.Equal(t, map[int]int{400: 3}, res.Status)
}

// TestRunDurationBound: with a time bound the run stops taking requests
// once it has elapsed, though more were prepared.
func TestRunDurationBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	reqs, err := Prepare(NewGenerator(1, Options{}), Native, 1000, 1)
	require.NoError(t, err)
	res := Run(context.Background(), RunConfig{URL: srv.URL, ContentType: Native.ContentType(), Clients: 2, Duration: 200 * time.Millisecond}, reqs)
	assert.Positive(t, res.Events)
	assert.Less(t, res.Events, 1000)
	assert.Equal(t, res.Requests, res.Status[200])
}

// TestSummarisePercentiles: nearest-rank percentiles (the smallest sample
// with at least p of the samples at or below it). Of 1..100 ms the p99 is
// 99 ms, not the maximum; of two samples the p50 is the smaller one; one
// sample or equal samples give that value; no samples give zeros.
func TestSummarisePercentiles(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, ms(i))
	}
	l := summarise(hundred)
	assert.Equal(t, ms(50), l.P50)
	assert.Equal(t, ms(99), l.P99)
	assert.Equal(t, ms(100), l.Max)
	assert.Equal(t, 99.0, l.P99ms)

	l = summarise([]time.Duration{ms(7), ms(3)})
	assert.Equal(t, ms(3), l.P50)
	assert.Equal(t, ms(7), l.P99)

	for _, ds := range [][]time.Duration{{ms(5)}, {ms(5), ms(5), ms(5)}} {
		l = summarise(ds)
		assert.Equal(t, Latency{P50: ms(5), P99: ms(5), Max: ms(5), P50ms: 5, P99ms: 5, MaxMs: 5}, l)
	}
	assert.Equal(t, Latency{}, summarise(nil))
}

// TestRetryAfter: Retry-After is delay-seconds or an HTTP date (RFC 9110
// 10.2.3); a date in the past means now; anything else is no advice.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"Sun, 06 Dec 2026 04:00:02 GMT", 2 * time.Second, true},
		{"Sunday, 06-Dec-26 04:00:05 GMT", 5 * time.Second, true},
		{"Sun, 06 Dec 2026 03:59:00 GMT", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	} {
		d, ok := retryAfter(c.h, now)
		assert.Equal(t, c.ok, ok, c.h)
		assert.Equal(t, c.want, d, c.h)
	}
}

// TestRunHonoursRetryAfterDate: a 503 whose Retry-After is an HTTP date
// is retried after that date (capped by MaxBackoff), not after Backoff.
func TestRunHonoursRetryAfterDate(t *testing.T) {
	var calls atomic.Int64
	var first time.Time // written and read by the handler only
	var second atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first = time.Now()
			// Two whole seconds ahead: the wait is over one second
			// whatever the sub-second part of now.
			w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		second.Store(int64(time.Since(first)))
	}))
	defer srv.Close()
	reqs, err := Prepare(NewGenerator(1, Options{}), Native, 1, 1)
	require.NoError(t, err)
	res := Run(context.Background(), RunConfig{URL: srv.URL, ContentType: Native.ContentType(), MaxBackoff: time.Minute}, reqs)
	require.Equal(t, 1, res.Requests)
	assert.Equal(t, 1, res.Retries)
	assert.Greater(t, time.Duration(second.Load()), time.Second, "the retry waited for the date")
}

// TestRunLeavesNoGoroutines: a run with its own client closes its
// connections when it returns; the server (still up, as a collector is
// between two runs) holds no client goroutine of it.
func TestRunLeavesNoGoroutines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	opts := goleak.IgnoreCurrent()
	reqs, err := Prepare(NewGenerator(1, Options{}), Native, 40, 10)
	require.NoError(t, err)
	res := Run(context.Background(), RunConfig{URL: srv.URL, ContentType: Native.ContentType(), Clients: 4}, reqs)
	require.Equal(t, 4, res.Requests)
	// The server's side of a closed connection ends on its own.
	goleak.VerifyNone(t, opts, goleak.IgnoreTopFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"))
}

// errAfter is a context whose Err turns to Canceled after n calls: the
// moment a run's context ends falls between taking a request and sending
// it.
type errAfter struct {
	context.Context
	n atomic.Int64
}

func (c *errAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestRunCountsOnlySentRequests: a request taken but never sent, because
// the run's context ended in between, is neither failed nor a retry
// (it made Retries -1 and counted as failed).
func TestRunCountsOnlySentRequests(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	reqs, err := Prepare(NewGenerator(1, Options{}), Native, 30, 10)
	require.NoError(t, err)
	ctx := &errAfter{Context: context.Background()}
	ctx.n.Store(1) // the first take sees a live context, the send does not
	res := Run(ctx, RunConfig{URL: srv.URL, ContentType: Native.ContentType(), Clients: 1}, reqs)
	assert.Zero(t, calls.Load())
	assert.Zero(t, res.Retries)
	assert.Zero(t, res.Failed)
	assert.Zero(t, res.FailedEvents)
	assert.Zero(t, res.Requests)
}
