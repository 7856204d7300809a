package siemexporter

// Elasticsearch transport: one `_bulk` request per send, every document a
// `create` into a data stream with the event id as _id.
//
// The Bulk API answers 200 even when documents fail, so every item's status
// is read (Elasticsearch reference, "Bulk API", response body: errors,
// items[].create.status, items[].create.error.type/reason). Data streams
// take only op_type create and need @timestamp in every document
// ("Data streams", "Use a data stream"). What each answer does:
//
//	answer                                   what the transport does
//	whole request: connection error, 5xx     retryable error (exporterhelper resends)
//	whole request: 429                       retryable, honouring Retry-After
//	whole request: 401, 403                  retryable, error log: credentials or
//	                                         privileges can be fixed while the data waits
//	whole request: 413                       the batch is split in halves and each sent
//	                                         again (down to one document, which is then
//	                                         rejected: it can never fit); warning that
//	                                         suggests a smaller sending_queue batch size
//	whole request: 400                       the batch is split in halves (as for 413) to
//	                                         isolate the documents at fault; a single
//	                                         document refused so is rejected
//	whole request: other (404, 405, 3xx...)  retryable, error log: endpoint wrong
//	unreadable or mismatched response        retryable (safe: a resend answers 409 for
//	                                         what was created)
//	item 200, 201                            delivered
//	item 409 version_conflict_engine_exc.    delivered before (same _id = same record);
//	                                         counted in a debug log
//	item 429, 5xx                            resent alone, up to esItemAttempts times with
//	                                         backoff inside send; then a retryable error
//	item 401, 403, 404, 408                  retryable with an error log: privileges,
//	                                         index blocks and a missing index template are
//	                                         configuration, not the document's fault
//	item other 4xx (400 mapper_parsing/      rejected through transportSettings.rejected
//	document_parsing, illegal_argument...)   with the error type and reason; not retried
//
// A send that returns an error leaves exporterhelper to resend the whole
// batch. Documents created meanwhile would answer 409 (no duplicate), and
// documents rejected would be rejected and counted again; so the transport
// remembers the ids it settled (created or rejected) in a send that failed,
// and leaves them out of the resend (settledIDs).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.uber.org/zap"
)

const (
	defaultDataStream = "logs-agent_audit-default"
	// esItemAttempts is how many times one send posts documents that
	// answered 429 or 5xx before it gives up and lets exporterhelper's
	// backoff take over.
	esItemAttempts = 3
	// esItemBackoff is the first pause before such a resend; it doubles.
	esItemBackoff = 200 * time.Millisecond
	// maxResponseBytes bounds a response body read into memory: a bulk
	// answer is a few hundred bytes per document, so 10 000 documents fit
	// well within it.
	maxResponseBytes = 32 << 20
	// maxLoggedRejects is how many rejected documents a send logs one by one.
	maxLoggedRejects = 3
)

// ElasticsearchConfig configures the Elasticsearch transport.
type ElasticsearchConfig struct {
	// ClientConfig: endpoint is the cluster's base URL
	// (https://es.example:9200); headers, tls, timeout, compression and
	// proxy as for every collector HTTP client.
	confighttp.ClientConfig `mapstructure:",squash"`
	// DataStream receives the documents (default logs-agent_audit-default).
	// Data stream names follow type-dataset-namespace; a logs-*-* name gets
	// Elasticsearch's built-in logs index template.
	DataStream string `mapstructure:"data_stream"`
	// User and Password give Basic authentication; APIKey gives
	// "Authorization: ApiKey <key>", key being the "encoded" value of the
	// create API key answer. Use one or the other, not both. The role needs
	// the create_doc (or create) privilege on the data stream, and
	// auto_configure when the data stream does not exist yet.
	User     string              `mapstructure:"user"`
	Password configopaque.String `mapstructure:"password"`
	APIKey   configopaque.String `mapstructure:"api_key"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Unmarshal applies the defaults before decoding. The squashed
// confighttp.ClientConfig has an Unmarshal method of its own; without this
// one it would be promoted and decode only the HTTP client's keys, losing
// data_stream and the credentials. confmap calls the embedded one for the
// squashed part.
func (c *ElasticsearchConfig) Unmarshal(conf *confmap.Conf) error {
	if c.DataStream == "" {
		c.DataStream = defaultDataStream
	}
	return conf.Unmarshal(c)
}

// Validate checks the configuration.
func (c *ElasticsearchConfig) Validate() error {
	var errs []error
	if err := validateBaseURL(c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.DataStream != "" {
		if err := validateDataStream(c.DataStream); err != nil {
			errs = append(errs, err)
		}
	}
	if c.APIKey != "" && (c.User != "" || c.Password != "") {
		errs = append(errs, errors.New("set either api_key or user and password, not both"))
	}
	if c.Password != "" && c.User == "" {
		errs = append(errs, errors.New("password is set but user is not"))
	}
	if c.User != "" && c.Password == "" {
		errs = append(errs, errors.New("user is set but password is not"))
	}
	return errors.Join(errs...)
}

// validateBaseURL checks an http(s) base URL.
func validateBaseURL(s string) error {
	if s == "" {
		return errors.New("endpoint is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return fmt.Errorf("endpoint %q has no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("endpoint %q: give the base URL, without query or fragment", s)
	}
	return nil
}

// validateDataStream applies Elasticsearch's index name rules (lowercase,
// no \ / * ? " < > | , # : or space, not starting with - _ +, at most 255
// bytes) and the data stream naming scheme's use of '-' as separator.
func validateDataStream(ds string) error {
	if len(ds) > 255 {
		return fmt.Errorf("data_stream %q is longer than 255 bytes", ds)
	}
	if ds != strings.ToLower(ds) {
		return fmt.Errorf("data_stream %q must be lowercase", ds)
	}
	if strings.ContainsAny(ds, `\/*?"<>|,#: `) {
		return fmt.Errorf("data_stream %q contains a character Elasticsearch refuses in index names", ds)
	}
	if strings.HasPrefix(ds, "-") || strings.HasPrefix(ds, "_") || strings.HasPrefix(ds, "+") || strings.HasPrefix(ds, ".") {
		return fmt.Errorf("data_stream %q must not start with - _ + or .", ds)
	}
	if strings.Count(ds, "-") < 2 {
		return fmt.Errorf("data_stream %q: name it type-dataset-namespace (e.g. logs-agent_audit-default)", ds)
	}
	return nil
}

type esTransport struct {
	cfg      ElasticsearchConfig
	set      transportSettings
	client   *http.Client
	bulkURL  string
	auth     string
	settled  *settledIDs
	attempts int
	backoff  time.Duration
}

func newElasticsearchTransport(cfg *ElasticsearchConfig, set transportSettings) (transport, error) {
	if set.format != formatECS {
		return nil, fmt.Errorf("elasticsearch takes JSON documents: set format: ecs (format is %q)", set.format)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := *cfg
	if c.DataStream == "" {
		c.DataStream = defaultDataStream
	}
	t := &esTransport{
		cfg:      c,
		set:      set,
		bulkURL:  strings.TrimRight(c.Endpoint, "/") + "/_bulk",
		settled:  newSettledIDs(settledIDsMax),
		attempts: esItemAttempts,
		backoff:  esItemBackoff,
	}
	switch {
	case c.APIKey != "":
		t.auth = "ApiKey " + string(c.APIKey)
	case c.User != "":
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(c.User, string(c.Password))
		t.auth = req.Header.Get("Authorization")
	}
	return t, nil
}

func (t *esTransport) start(ctx context.Context, host component.Host) error {
	client, err := t.cfg.ToClient(ctx, host.GetExtensions(), t.set.telemetry)
	if err != nil {
		return fmt.Errorf("elasticsearch: HTTP client: %w", err)
	}
	t.client = client
	return nil
}

func (t *esTransport) shutdown(context.Context) error {
	if t.client != nil {
		t.client.CloseIdleConnections()
	}
	return nil
}

func (t *esTransport) send(ctx context.Context, events []event) error {
	if t.client == nil {
		return errors.New("elasticsearch: send before start")
	}
	batch := batchKey(events)
	pending := t.framed(ctx, batch, t.settled.unsettled(batch, events))
	var err error
	for attempt := 1; len(pending) > 0; attempt++ {
		var retry []event
		var why string
		retry, why, err = t.post(ctx, batch, pending)
		if err != nil {
			return err
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		if attempt >= t.attempts {
			return fmt.Errorf("elasticsearch: %d documents still refused for now after %d attempts (%s); the batch will be retried", len(pending), attempt, why)
		}
		if err = sleepOrDone(ctx, t.backoff<<(attempt-1)); err != nil {
			return fmt.Errorf("elasticsearch: %d documents refused for now (%s): %w", len(pending), why, err)
		}
	}
	t.settled.forget(batch, events)
	return nil
}

// framed returns evs with every payload on one line, as the bulk NDJSON
// body needs: a document with line breaks inside (JSON whitespace) is
// compacted, and one that is empty or cannot be compacted is rejected here.
// Either would otherwise be read as an action line and make Elasticsearch
// refuse the whole request, every other document of the batch with it.
func (t *esTransport) framed(ctx context.Context, batch string, evs []event) []event {
	var out, bad []event
	for i, e := range evs {
		p := bytes.TrimSpace(e.payload)
		ok := len(p) > 0
		if ok && bytes.ContainsAny(p, "\r\n") {
			var b bytes.Buffer
			if ok = json.Compact(&b, p) == nil; ok {
				p = b.Bytes()
			}
		}
		if !ok {
			if out == nil {
				out = append(make([]event, 0, len(evs)), evs[:i]...)
			}
			bad = append(bad, e)
			continue
		}
		if out != nil || len(p) != len(e.payload) {
			if out == nil {
				out = append(make([]event, 0, len(evs)), evs[:i]...)
			}
			e.payload = p
			out = append(out, e)
		}
	}
	if out == nil {
		return evs
	}
	if len(bad) > 0 {
		t.set.logger.Warn("Elasticsearch: ECS payload is not one JSON document; dropped",
			zap.String("id", bad[0].id), zap.Int("documents", len(bad)))
		t.set.rejected(ctx, len(bad), "elasticsearch: the ECS payload is not a JSON document")
		t.settled.add(batch, bad)
	}
	return out
}

// post sends one bulk request and returns the documents to send again (item
// 429 or 5xx) with a summary of why, or an error for the whole batch.
func (t *esTransport) post(ctx context.Context, batch string, evs []event) ([]event, string, error) {
	var body bytes.Buffer
	for _, e := range evs {
		// _id and _index come from the configuration and the event id
		// (hex), so this cannot fail or need escaping beyond Marshal.
		action, _ := json.Marshal(map[string]any{"create": map[string]string{"_index": t.cfg.DataStream, "_id": e.id}})
		body.Write(action)
		body.WriteByte('\n')
		body.Write(bytes.TrimRight(e.payload, "\r\n"))
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.bulkURL, &body)
	if err != nil {
		return nil, "", fmt.Errorf("elasticsearch: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("elasticsearch: bulk request to %s: %w", t.bulkURL, err)
	}
	raw, readErr := readAtMost(resp.Body, maxResponseBytes)
	resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusOK:
		if readErr != nil {
			return nil, "", fmt.Errorf("elasticsearch: reading the bulk response: %w", readErr)
		}
		return t.items(ctx, batch, evs, raw)
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return t.split(ctx, batch, evs)
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		err := fmt.Errorf("elasticsearch: bulk request answered %d%s", resp.StatusCode, esErrorSummary(raw))
		if d, ok := retryAfter(resp.Header); ok {
			return nil, "", exporterhelper.NewThrottleRetry(err, d)
		}
		return nil, "", err
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		err := fmt.Errorf("elasticsearch: bulk request answered %d%s: check user and password or api_key, and that the role may create documents in %q (create_doc, auto_configure); retrying, nothing is dropped",
			resp.StatusCode, esErrorSummary(raw), t.cfg.DataStream)
		t.set.logger.Error("Elasticsearch refused the credentials", zap.Error(err))
		return nil, "", err
	case resp.StatusCode == http.StatusBadRequest && len(evs) > 1:
		// A whole-request 400 names no document; halving finds the ones at
		// fault instead of dropping every document of the batch with them.
		t.set.logger.Warn("Elasticsearch refused a bulk request as malformed: sending the batch in halves to isolate the documents at fault",
			zap.Int("documents", len(evs)), zap.String("reason", "400"+esErrorSummary(raw)))
		return t.halves(ctx, batch, evs)
	case resp.StatusCode == http.StatusBadRequest:
		reason := "elasticsearch: bulk request refused: 400" + esErrorSummary(raw)
		t.set.logger.Error("Elasticsearch refused a one-document bulk request as malformed; the document is dropped",
			zap.String("id", evs[0].id), zap.String("reason", reason))
		t.set.rejected(ctx, 1, reason)
		t.settled.add(batch, evs)
		return nil, "", nil
	default:
		err := fmt.Errorf("elasticsearch: bulk request to %s answered %d%s: check the endpoint; retrying", t.bulkURL, resp.StatusCode, esErrorSummary(raw))
		t.set.logger.Error("Unexpected Elasticsearch answer", zap.Error(err))
		return nil, "", err
	}
}

// split handles 413: the request is bigger than http.max_content_length.
// Halves are sent in turn, so a batch that is too big still gets through
// without looping on the same request; a single document too big is
// rejected.
func (t *esTransport) split(ctx context.Context, batch string, evs []event) ([]event, string, error) {
	if len(evs) == 1 {
		reason := "elasticsearch: 413: the document is larger than the cluster's http.max_content_length"
		t.set.logger.Warn("Document too large for Elasticsearch; dropped", zap.String("id", evs[0].id), zap.Int("bytes", len(evs[0].payload)))
		t.set.rejected(ctx, 1, reason)
		t.settled.add(batch, evs)
		return nil, "", nil
	}
	t.set.logger.Warn("Elasticsearch answered 413 (request larger than http.max_content_length): sending the batch in halves; lower sending_queue::batch::max_size to avoid this",
		zap.Int("documents", len(evs)))
	return t.halves(ctx, batch, evs)
}

// halves posts the two halves of evs in turn and joins their outcomes.
func (t *esTransport) halves(ctx context.Context, batch string, evs []event) ([]event, string, error) {
	half := len(evs) / 2
	var retry []event
	var whys []string
	for _, part := range [][]event{evs[:half], evs[half:]} {
		r, why, err := t.post(ctx, batch, part)
		if err != nil {
			return nil, "", err
		}
		retry = append(retry, r...)
		if why != "" {
			whys = append(whys, why)
		}
	}
	return retry, strings.Join(whys, "; "), nil
}

type esItem struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// items reads a 200 bulk answer, item by item, in request order.
func (t *esTransport) items(ctx context.Context, batch string, evs []event, raw []byte) ([]event, string, error) {
	var resp struct {
		Errors *bool                `json:"errors"`
		Items  []map[string]*esItem `json:"items"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, "", fmt.Errorf("elasticsearch: unreadable bulk response: %w", err)
	}
	if resp.Errors == nil || len(resp.Items) != len(evs) {
		return nil, "", fmt.Errorf("elasticsearch: bulk response has %d items for %d documents", len(resp.Items), len(evs))
	}
	var (
		retry     []event
		retryWhy  = map[string]int{}
		conflicts int
		config    []string
		rejects   = map[string]int{}
		firstWhy  = map[string]string{}
		logged    int
	)
	var done []event
	for i, m := range resp.Items {
		var it *esItem
		for _, v := range m {
			it = v
		}
		if it == nil {
			return nil, "", fmt.Errorf("elasticsearch: bulk response item %d is empty", i)
		}
		e := evs[i]
		typ, reason := "", ""
		if it.Error != nil {
			typ, reason = it.Error.Type, it.Error.Reason
		}
		switch {
		case it.Status == http.StatusOK || it.Status == http.StatusCreated:
			done = append(done, e)
		case it.Status == http.StatusConflict && typ == "version_conflict_engine_exception":
			conflicts++
			done = append(done, e)
		case it.Status == http.StatusTooManyRequests || it.Status >= 500:
			retry = append(retry, e)
			retryWhy[fmt.Sprintf("%d %s", it.Status, typ)]++
		case it.Status == http.StatusUnauthorized || it.Status == http.StatusForbidden ||
			it.Status == http.StatusNotFound || it.Status == http.StatusRequestTimeout:
			config = append(config, fmt.Sprintf("%d %s: %s", it.Status, typ, reason))
		case it.Status >= 400:
			key := fmt.Sprintf("%d %s", it.Status, typ)
			rejects[key]++
			if _, ok := firstWhy[key]; !ok {
				firstWhy[key] = reason
			}
			if logged < maxLoggedRejects {
				logged++
				t.set.logger.Warn("Elasticsearch rejected a document; it is dropped",
					zap.String("id", e.id), zap.Int("status", it.Status), zap.String("type", typ), zap.String("reason", reason))
			}
			done = append(done, e)
		default:
			return nil, "", fmt.Errorf("elasticsearch: bulk response item %d has status %d", i, it.Status)
		}
	}
	if conflicts > 0 {
		t.set.logger.Debug("Documents were already in Elasticsearch (409 on our own _id): a resend", zap.Int("documents", conflicts))
	}
	keys := make([]string, 0, len(rejects))
	for k := range rejects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.set.rejected(ctx, rejects[k], "elasticsearch: "+k+": "+firstWhy[k])
	}
	t.settled.add(batch, done)
	if len(config) > 0 {
		err := fmt.Errorf("elasticsearch: %d documents refused by configuration or privileges (first: %s); retrying, nothing is dropped", len(config), config[0])
		t.set.logger.Error("Elasticsearch refused documents for a reason the cluster's configuration can fix", zap.Error(err))
		return nil, "", err
	}
	return retry, esRetrySummary(retryWhy), nil
}

func esRetrySummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// esErrorSummary renders an Elasticsearch error body as ": type: reason",
// or "" when there is none.
func esErrorSummary(raw []byte) string {
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &body) != nil || body.Error == nil {
		return ""
	}
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body.Error, &e) == nil && e.Type != "" {
		return ": " + e.Type + ": " + e.Reason
	}
	var s string
	if json.Unmarshal(body.Error, &s) == nil {
		return ": " + s
	}
	return ""
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// readBounded reads at most limit bytes; a longer body is an error rather
// than a partly read answer taken for a whole one.
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("response larger than %d bytes", limit)
	}
	return b, nil
}

func sleepOrDone(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// settledIDsMax bounds the memory of settled ids: beyond it the oldest are
// forgotten, and a resend of those only costs a 409 (Elasticsearch) or a
// possible duplicate (Splunk), never a loss.
const settledIDsMax = 100_000

// settledIDs remembers the events a send delivered or rejected for good
// while the send as a whole still failed, so that exporterhelper's resend of
// the same batch leaves them out: no second rejection count, no duplicate
// where the SIEM cannot recognise one. A send that succeeds forgets its ids.
// What is remembered belongs to the batch (batchKey): another batch that
// carries some of the same records (a replay from the archive after the
// first batch was given up) is sent in full, as the transport contract
// wants of every send.
type settledIDs struct {
	mu    sync.Mutex
	max   int
	ids   map[string]struct{} // batch key + event id
	order []string
}

func newSettledIDs(maxIDs int) *settledIDs {
	return &settledIDs{max: maxIDs, ids: map[string]struct{}{}}
}

// batchKey identifies a batch by its events' ids in order: exporterhelper
// resends a failed batch as it is, so its resends have the same key. It
// is 32 hex digits, so batch+id keys cannot run into each other.
func batchKey(evs []event) string {
	h := sha256.New()
	for _, e := range evs {
		h.Write([]byte(e.id))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *settledIDs) add(batch string, evs []event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		k := batch + e.id
		if _, ok := s.ids[k]; ok {
			continue
		}
		s.ids[k] = struct{}{}
		s.order = append(s.order, k)
	}
	for len(s.ids) > s.max && len(s.order) > 0 {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
	}
	if len(s.order) > 2*s.max+1024 {
		s.compact()
	}
}

// compact drops forgotten ids from order; s.mu is held.
func (s *settledIDs) compact() {
	kept := make([]string, 0, len(s.ids))
	for _, id := range s.order {
		if _, ok := s.ids[id]; ok {
			kept = append(kept, id)
		}
	}
	s.order = kept
}

func (s *settledIDs) unsettled(batch string, evs []event) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) == 0 {
		return evs
	}
	out := make([]event, 0, len(evs))
	for _, e := range evs {
		if _, ok := s.ids[batch+e.id]; !ok {
			out = append(out, e)
		}
	}
	return out
}

func (s *settledIDs) forget(batch string, evs []event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) == 0 {
		return
	}
	for _, e := range evs {
		delete(s.ids, batch+e.id)
	}
	if len(s.ids) == 0 {
		s.order = s.order[:0]
	} else if len(s.order) > 2*len(s.ids)+1024 {
		s.compact()
	}
}

func (s *settledIDs) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}
