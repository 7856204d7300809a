package siemexporter

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap/zaptest"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/testsiem"
)

// siemRejections records what a transport reported through rejected.
type siemRejections struct {
	mu      sync.Mutex
	n       int
	reasons []string
}

func (r *siemRejections) add(_ context.Context, n int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += n
	r.reasons = append(r.reasons, reason)
}

func (r *siemRejections) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *siemRejections) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.reasons, "\n")
}

func siemSettings(t *testing.T, format string) (transportSettings, *siemRejections) {
	rej := &siemRejections{}
	return transportSettings{
		telemetry: componenttest.NewNopTelemetrySettings(),
		logger:    zaptest.NewLogger(t),
		format:    format,
		rejected:  rej.add,
	}, rej
}

func testEventID(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// ecsEvents makes n ECS-like documents; the i-th carries markers[i] (when
// given) in its message so the test servers' fault predicates can pick it.
func ecsEvents(prefix string, n int, markers map[int]string) []event {
	evs := make([]event, n)
	base := time.Date(2026, 3, 4, 5, 6, 7, 123_000_000, time.UTC)
	for i := range evs {
		ts := base.Add(time.Duration(i) * time.Second)
		doc := map[string]any{
			"@timestamp": ts.Format(time.RFC3339Nano),
			"event":      map[string]any{"kind": "event", "action": "agent_audit.tool.call"},
			"message":    fmt.Sprintf("%s-%d %s", prefix, i, markers[i]),
		}
		b, _ := json.Marshal(doc)
		evs[i] = event{
			id:       testEventID(fmt.Sprintf("%s-%d", prefix, i)),
			time:     ts,
			host:     "host-a",
			name:     "agent_audit.tool.call",
			severity: 3,
			payload:  b,
		}
	}
	return evs
}

func sortedIDs(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.id
	}
	sort.Strings(out)
	return out
}

func eventsWithout(evs []event, drop ...int) []event {
	var out []event
	for i, e := range evs {
		skip := false
		for _, d := range drop {
			skip = skip || d == i
		}
		if !skip {
			out = append(out, e)
		}
	}
	return out
}

func containsMarker(m string) func([]byte) bool {
	return func(b []byte) bool { return bytes.Contains(b, []byte(m)) }
}

func esConfig(endpoint string) *ElasticsearchConfig {
	return &ElasticsearchConfig{ClientConfig: confighttp.ClientConfig{Endpoint: endpoint, Timeout: 10 * time.Second}}
}

func startES(t *testing.T, cfg *ElasticsearchConfig, set transportSettings) *esTransport {
	t.Helper()
	tr, err := newElasticsearchTransport(cfg, set)
	require.NoError(t, err)
	require.NoError(t, tr.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, tr.shutdown(context.Background())) })
	et := tr.(*esTransport)
	et.backoff = time.Millisecond
	return et
}

func requireRetryable(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "error must be retryable: %v", err)
}

func TestElasticsearchCreatesIntoDataStreamOnceEvenWhenResent(t *testing.T) {
	srv := testsiem.NewElasticsearch().Start(t)
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("a", 5, nil)

	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(evs), srv.DocIDs())
	h := srv.LastHeader()
	assert.Equal(t, "application/x-ndjson", h.Get("Content-Type"))
	for i, d := range srv.Docs() {
		assert.Equal(t, defaultDataStream, d.Index)
		assert.JSONEq(t, string(evs[i].payload), string(d.Source))
	}

	// A resend of the same records (exporterhelper after a lost answer)
	// answers 409 per item: delivered, nothing duplicated.
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(evs), srv.DocIDs())
	c := srv.Counters()
	assert.Equal(t, 5, c.Created)
	assert.Equal(t, 5, c.Conflicts)
	assert.Equal(t, 0, rej.count())
	assert.Equal(t, 0, tr.settled.len(), "a successful send forgets its ids")
}

func TestElasticsearchPartialBulkFailure(t *testing.T) {
	srv := testsiem.NewElasticsearch().Start(t)
	srv.FailItems(testsiem.ItemFault{Match: containsMarker("SLOW"), Status: 429, Type: "es_rejected_execution_exception",
		Reason: "rejected execution of primary operation", Times: 1})
	srv.FailItems(testsiem.ItemFault{Match: containsMarker("SHARD"), Status: 503, Type: "unavailable_shards_exception",
		Reason: "primary shard is not active", Times: 1})
	srv.FailItems(testsiem.ItemFault{Match: containsMarker("BAD"), Status: 400, Type: "document_parsing_exception",
		Reason: "[1:15] failed to parse field [event.duration] of type [long]", Times: -1})
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("p", 7, map[int]string{1: "SLOW", 2: "BAD", 4: "SLOW", 5: "SHARD"})

	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(eventsWithout(evs, 2)), srv.DocIDs(), "every document but the bad one is stored, once")
	assert.Equal(t, 1, rej.count())
	assert.Contains(t, rej.all(), "400 document_parsing_exception")
	assert.Contains(t, rej.all(), "failed to parse field")
	assert.Equal(t, 2, srv.Counters().Requests, "one request, then one with the three documents refused for now")
	assert.Equal(t, 7+3, srv.Counters().Items)
}

func TestElasticsearchItemRetryExhaustedThenResent(t *testing.T) {
	srv := testsiem.NewElasticsearch().Start(t)
	srv.FailItems(testsiem.ItemFault{Match: containsMarker("BUSY"), Status: 429, Type: "es_rejected_execution_exception",
		Reason: "rejected execution", Times: esItemAttempts + 1})
	srv.FailItems(testsiem.ItemFault{Match: containsMarker("BAD"), Status: 400, Type: "mapper_parsing_exception",
		Reason: "failed to parse", Times: -1})
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("x", 4, map[int]string{0: "BUSY", 3: "BAD"})

	err := tr.send(context.Background(), evs)
	requireRetryable(t, err)
	assert.Contains(t, err.Error(), "429 es_rejected_execution_exception")
	assert.Equal(t, sortedIDs(evs[1:3]), srv.DocIDs())
	assert.Equal(t, 1, rej.count())

	// exporterhelper resends the whole batch: only the busy document goes
	// out again; the rejected one is not sent nor counted twice.
	before := srv.Counters().Items
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(evs[:3]), srv.DocIDs())
	assert.Equal(t, 1, rej.count(), "the rejected document is reported once")
	assert.Equal(t, 2, srv.Counters().Items-before, "the resend carries only the document refused for now, twice")
}

func TestElasticsearchWholeRequestFailures(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := testsiem.NewElasticsearch().Start(t)
			srv.FailRequests(status, 1)
			set, rej := siemSettings(t, formatECS)
			tr := startES(t, esConfig(srv.URL()), set)
			evs := ecsEvents("w", 3, nil)

			err := tr.send(context.Background(), evs)
			requireRetryable(t, err)
			assert.Contains(t, err.Error(), fmt.Sprint(status))
			assert.Empty(t, srv.DocIDs())

			require.NoError(t, tr.send(context.Background(), evs))
			assert.Equal(t, sortedIDs(evs), srv.DocIDs())
			assert.Equal(t, 0, rej.count())
		})
	}
}

func TestElasticsearchAuthentication(t *testing.T) {
	srv := testsiem.NewElasticsearch().RequireBasicAuth("agentaudit", "s3cret").
		RequireAPIKey(testsiem.APIKey("key-id", "key-secret")).Start(t)
	evs := ecsEvents("auth", 2, nil)

	t.Run("wrong password is retried, nothing dropped", func(t *testing.T) {
		set, rej := siemSettings(t, formatECS)
		cfg := esConfig(srv.URL())
		cfg.User, cfg.Password = "agentaudit", "wrong"
		err := startES(t, cfg, set).send(context.Background(), evs)
		requireRetryable(t, err)
		assert.Contains(t, err.Error(), "401")
		assert.Contains(t, err.Error(), "nothing is dropped")
		assert.Equal(t, 0, rej.count())
	})
	t.Run("forbidden is retried", func(t *testing.T) {
		srv2 := testsiem.NewElasticsearch().Start(t)
		srv2.FailRequests(403, 1)
		set, _ := siemSettings(t, formatECS)
		tr := startES(t, esConfig(srv2.URL()), set)
		err := tr.send(context.Background(), evs)
		requireRetryable(t, err)
		assert.Contains(t, err.Error(), "create_doc")
		require.NoError(t, tr.send(context.Background(), evs))
	})
	t.Run("basic", func(t *testing.T) {
		set, _ := siemSettings(t, formatECS)
		cfg := esConfig(srv.URL())
		cfg.User, cfg.Password = "agentaudit", "s3cret"
		require.NoError(t, startES(t, cfg, set).send(context.Background(), evs[:1]))
	})
	t.Run("api key", func(t *testing.T) {
		set, _ := siemSettings(t, formatECS)
		cfg := esConfig(srv.URL())
		cfg.APIKey = "key-secret"
		requireRetryable(t, startES(t, cfg, set).send(context.Background(), evs[1:]))
		cfg.APIKey = "a2V5LWlkOmtleS1zZWNyZXQ=" // base64("key-id:key-secret")
		require.NoError(t, startES(t, cfg, set).send(context.Background(), evs[1:]))
		assert.Equal(t, "ApiKey a2V5LWlkOmtleS1zZWNyZXQ=", srv.LastHeader().Get("Authorization"))
	})
	assert.Equal(t, sortedIDs(evs), srv.DocIDs())
}

func TestElasticsearchTooLargeSplitsTheBatch(t *testing.T) {
	srv := testsiem.NewElasticsearch().Start(t)
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("big", 8, map[int]string{5: strings.Repeat("y", 3000)})
	// Two ordinary documents (with their action lines) fit, the large one
	// never does.
	srv.SetMaxBody(int64(2*(len(evs[0].payload)+120) + 10))

	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(eventsWithout(evs, 5)), srv.DocIDs())
	assert.Equal(t, 1, rej.count())
	assert.Contains(t, rej.all(), "413")
}

// A whole-request 400 names no document: the batch is halved until the
// documents at fault are alone; only those are rejected.
func TestElasticsearchMalformedRequestIsSplit(t *testing.T) {
	// One 400 (a proxy's, say): the halves get through, nothing is lost.
	srv := testsiem.NewElasticsearch().Start(t)
	srv.FailRequests(400, 1)
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("m", 3, nil)
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Zero(t, rej.count())
	assert.Equal(t, sortedIDs(evs), srv.DocIDs())

	// Every request refused: each document ends up alone and is rejected
	// with Elasticsearch's reason.
	srv = testsiem.NewElasticsearch().Start(t)
	srv.FailRequests(400, 100)
	set, rej = siemSettings(t, formatECS)
	tr = startES(t, esConfig(srv.URL()), set)
	require.NoError(t, tr.send(context.Background(), ecsEvents("n", 3, nil)))
	assert.Equal(t, 3, rej.count())
	assert.Contains(t, rej.all(), "illegal_argument_exception")
	assert.Empty(t, srv.DocIDs())
}

func TestElasticsearchDataStreamRules(t *testing.T) {
	srv := testsiem.NewElasticsearch().Start(t)
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("ts", 2, nil)
	// A document without @timestamp cannot enter a data stream.
	evs[1].payload = []byte(`{"message":"no timestamp"}`)
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(evs[:1]), srv.DocIDs())
	assert.Contains(t, rej.all(), "data stream timestamp field [@timestamp] is missing")
}

func TestElasticsearchUnreachableIsRetryable(t *testing.T) {
	set, _ := siemSettings(t, formatECS)
	tr := startES(t, esConfig(fmt.Sprintf("http://127.0.0.1:%d", testport.Free(t))), set)
	requireRetryable(t, tr.send(context.Background(), ecsEvents("u", 1, nil)))
}

func TestElasticsearchNeedsECS(t *testing.T) {
	set, _ := siemSettings(t, formatCEF)
	_, err := newElasticsearchTransport(esConfig("http://127.0.0.1:9200"), set)
	require.ErrorContains(t, err, "format: ecs")
}

func TestElasticsearchConfigValidate(t *testing.T) {
	ok := esConfig("https://es.example:9200")
	require.NoError(t, ok.Validate())
	for name, mod := range map[string]func(*ElasticsearchConfig){
		"no endpoint":      func(c *ElasticsearchConfig) { c.Endpoint = "" },
		"bad scheme":       func(c *ElasticsearchConfig) { c.Endpoint = "ftp://es:9200" },
		"uppercase stream": func(c *ElasticsearchConfig) { c.DataStream = "logs-Agent-default" },
		"not a ds name":    func(c *ElasticsearchConfig) { c.DataStream = "audit" },
		"bad character":    func(c *ElasticsearchConfig) { c.DataStream = "logs-a*b-default" },
		"both auths": func(c *ElasticsearchConfig) {
			c.User, c.Password, c.APIKey = "u", "p", "k"
		},
		"user without password": func(c *ElasticsearchConfig) { c.User = "u" },
	} {
		c := *ok
		mod(&c)
		assert.Error(t, c.Validate(), name)
	}
}

func TestElasticsearchConfigUnmarshal(t *testing.T) {
	var c ElasticsearchConfig
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoint": "https://es:9200", "user": "u", "password": "p", "timeout": "7s",
	}).Unmarshal(&c))
	assert.Equal(t, "https://es:9200", c.Endpoint)
	assert.Equal(t, 7*time.Second, c.Timeout)
	assert.Equal(t, "u", c.User)
	assert.Equal(t, defaultDataStream, c.DataStream)

	c = ElasticsearchConfig{}
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoint": "https://es:9200", "data_stream": "logs-agent_audit-prod",
	}).Unmarshal(&c))
	assert.Equal(t, "logs-agent_audit-prod", c.DataStream)
}
