// Package testsiem runs in-process stand-ins for the SIEM HTTP APIs the
// siem exporter writes to: Elasticsearch `_bulk` and the Splunk HTTP Event
// Collector. They listen on 127.0.0.1 (a given port, or a free one from
// testport) so both unit tests and end-to-end tests that run the built
// collector binary can use them, answer with the bodies and status codes the
// real products document, and can be scripted to fail the ways the real
// products fail. Every method is safe for concurrent use.
//
// Elasticsearch (Bulk API reference, docs-bulk.html; data streams):
//   - POST /_bulk and POST /<index>/_bulk take NDJSON: an action line, then
//     a source line, the body ending with a newline. Only the create action
//     is accepted into a data stream; an index action answers, per item,
//     400 illegal_argument_exception ("only write ops with an op_type of
//     create are allowed in data streams"). Every target is treated as a
//     data stream: a source without @timestamp answers, per item, 400
//     document_parsing_exception.
//   - The answer is 200 even when items fail: {"took","errors","items"},
//     one item per action in order, {"create":{"_index","_id","status",...}}
//     with "result":"created" (201), or "error":{"type","reason"}; an
//     existing _id answers 409 version_conflict_engine_exception.
//   - A whole-request failure answers {"error":{"root_cause","type",
//     "reason"},"status":N} with that HTTP status (401 security_exception,
//     429 es_rejected_execution_exception, 503, 400 for a malformed body);
//     a body over the size limit answers 413 with no body, as
//     http.max_content_length does.
package testsiem

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
)

// server is the HTTP listener both stand-ins share.
type server struct {
	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{}
}

func (s *server) start(t testing.TB, port int, h http.Handler) {
	t.Helper()
	if port == 0 {
		port = testport.Free(t)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("testsiem: listen on 127.0.0.1:%d: %v", port, err)
	}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		ln.Close()
		t.Fatal("testsiem: server already started")
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(s.stop)
}

func (s *server) stop() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	<-done
}

func (s *server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// readBody reads a request body, gunzipping it when Content-Encoding says so
// (the collector's HTTP client compresses when configured to).
func readBody(r *http.Request, limit int64) ([]byte, bool, error) {
	var rd io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, false, err
		}
		defer zr.Close()
		rd = zr
	}
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Doc is one document the Elasticsearch stand-in stored.
type Doc struct {
	// Index is the data stream (the _index of the create action).
	Index string
	ID    string
	// Source is the document as sent.
	Source json.RawMessage
}

// ItemFault makes the items whose source Match accepts fail.
type ItemFault struct {
	// Match selects the items (it gets the source line).
	Match func(source []byte) bool
	// Status, Type and Reason are the item's answer, e.g. 429
	// es_rejected_execution_exception.
	Status int
	Type   string
	Reason string
	// Times is how many attempts of each matching _id fail before it is
	// handled normally; a negative Times fails them always.
	Times int
}

type itemFault struct {
	ItemFault
	seen map[string]int // attempts per _id
}

type wholeFault struct {
	status int
	left   int
}

// Elasticsearch is a stand-in for an Elasticsearch cluster's Bulk API.
type Elasticsearch struct {
	server

	// Set before Start.
	user, password string
	apiKey         string
	maxBody        int64

	mu         sync.Mutex
	docs       map[string]Doc // by index + "\x00" + id
	order      []string
	whole      []*wholeFault
	items      []*itemFault
	requests   int
	itemsSeen  int
	created    int
	conflicts  int
	authFailed int
	lastHeader http.Header
}

// NewElasticsearch returns a stopped stand-in without authentication and a
// 100 MiB body limit (Elasticsearch's http.max_content_length default).
func NewElasticsearch() *Elasticsearch {
	return &Elasticsearch{docs: map[string]Doc{}, maxBody: 100 << 20}
}

// RequireBasicAuth makes every request need these Basic credentials (or the
// API key, when one is required too).
func (s *Elasticsearch) RequireBasicAuth(user, password string) *Elasticsearch {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password = user, password
	return s
}

// RequireAPIKey makes every request need "Authorization: ApiKey <key>",
// key being the encoded form Elasticsearch's create API key answer gives
// (base64 of id:api_key).
func (s *Elasticsearch) RequireAPIKey(key string) *Elasticsearch {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
	return s
}

// SetMaxBody sets the body size above which a request answers 413.
func (s *Elasticsearch) SetMaxBody(n int64) *Elasticsearch {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxBody = n
	return s
}

// Start listens on a free loopback port until the test ends.
func (s *Elasticsearch) Start(t testing.TB) *Elasticsearch {
	return s.StartOn(t, 0)
}

// StartOn listens on 127.0.0.1:port (0: a free one) until the test ends.
func (s *Elasticsearch) StartOn(t testing.TB, port int) *Elasticsearch {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.handle)
	s.start(t, port, mux)
	return s
}

// Stop stops listening; Start's cleanup does it too.
func (s *Elasticsearch) Stop() { s.stop() }

// FailRequests makes the next n bulk requests answer status as a whole
// (429, 503, 401, 403, 400, ...), with the error body Elasticsearch gives
// for it.
func (s *Elasticsearch) FailRequests(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.whole = append(s.whole, &wholeFault{status: status, left: n})
}

// FailItems adds an item fault; the first matching fault answers an item.
func (s *Elasticsearch) FailItems(f ItemFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, &itemFault{ItemFault: f, seen: map[string]int{}})
}

// Docs returns the stored documents in the order they were created.
func (s *Elasticsearch) Docs() []Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Doc, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.docs[k])
	}
	return out
}

// DocIDs returns the stored _ids, sorted.
func (s *Elasticsearch) DocIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.docs[k].ID)
	}
	sort.Strings(out)
	return out
}

// ESCounters counts what the stand-in saw.
type ESCounters struct {
	// Requests is every request to a _bulk path, answered or failed.
	Requests int
	// Items is every action line of a request that reached item handling.
	Items int
	// Created and Conflicts are items answered 201 and 409.
	Created, Conflicts int
	// AuthFailures is requests answered 401 for missing or wrong
	// credentials (not scripted ones).
	AuthFailures int
}

// Counters returns the counters.
func (s *Elasticsearch) Counters() ESCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ESCounters{
		Requests: s.requests, Items: s.itemsSeen, Created: s.created,
		Conflicts: s.conflicts, AuthFailures: s.authFailed,
	}
}

// LastHeader returns the headers of the last bulk request.
func (s *Elasticsearch) LastHeader() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHeader.Clone()
}

func esError(status int, typ, reason string) map[string]any {
	cause := map[string]any{"type": typ, "reason": reason}
	return map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	}
}

// wholeBodies are the errors Elasticsearch answers for a whole request.
func wholeBody(status int, path string) map[string]any {
	switch status {
	case http.StatusUnauthorized:
		return esError(status, "security_exception", "missing authentication credentials for REST request ["+path+"]")
	case http.StatusForbidden:
		return esError(status, "security_exception", "action [indices:data/write/bulk] is unauthorized for user [agentaudit]")
	case http.StatusTooManyRequests:
		return esError(status, "es_rejected_execution_exception", "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=0]")
	case http.StatusServiceUnavailable:
		return esError(status, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];")
	case http.StatusBadRequest:
		return esError(status, "illegal_argument_exception", "Malformed action/metadata line [1]")
	default:
		return esError(status, "exception", http.StatusText(status))
	}
}

func (s *Elasticsearch) authorized(h http.Header) bool {
	if s.user == "" && s.apiKey == "" {
		return true
	}
	auth := h.Get("Authorization")
	if s.apiKey != "" && auth == "ApiKey "+s.apiKey {
		return true
	}
	if s.user != "" {
		u, p, ok := (&http.Request{Header: h}).BasicAuth()
		if ok && u == s.user && p == s.password {
			return true
		}
	}
	return false
}

func (s *Elasticsearch) handle(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	pathIndex := ""
	switch {
	case path == "/_bulk":
	case strings.HasSuffix(path, "/_bulk") && strings.Count(path, "/") == 2:
		pathIndex = strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/_bulk")
	default:
		writeJSON(w, http.StatusBadRequest, esError(400, "illegal_argument_exception", "no handler found for uri ["+path+"] and method ["+r.Method+"]"))
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		writeJSON(w, http.StatusMethodNotAllowed, esError(405, "illegal_argument_exception", "Incorrect HTTP method for uri ["+path+"] and method ["+r.Method+"], allowed: [POST, PUT]"))
		return
	}

	s.mu.Lock()
	s.requests++
	s.lastHeader = r.Header.Clone()
	if !s.authorized(r.Header) {
		s.authFailed++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
		writeJSON(w, http.StatusUnauthorized, esError(401, "security_exception", "unable to authenticate user [agentaudit] for REST request ["+path+"]"))
		return
	}
	for len(s.whole) > 0 && s.whole[0].left <= 0 {
		s.whole = s.whole[1:]
	}
	if len(s.whole) > 0 {
		f := s.whole[0]
		f.left--
		s.mu.Unlock()
		if f.status == http.StatusTooManyRequests || f.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		writeJSON(w, f.status, wholeBody(f.status, path))
		return
	}
	limit := s.maxBody
	s.mu.Unlock()

	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") && !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusNotAcceptable, map[string]any{"error": "Content-Type header [" + ct + "] is not supported", "status": 406})
		return
	}
	body, tooBig, err := readBody(r, limit)
	if tooBig {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, esError(400, "parse_exception", err.Error()))
		return
	}
	items, perr := parseBulk(body, pathIndex)
	if perr != nil {
		writeJSON(w, http.StatusBadRequest, esError(400, "illegal_argument_exception", perr.Error()))
		return
	}

	start := time.Now()
	s.mu.Lock()
	out := make([]any, 0, len(items))
	anyErr := false
	for _, it := range items {
		s.itemsSeen++
		res := s.item(it)
		if res["status"].(int) >= 300 {
			anyErr = true
		}
		out = append(out, map[string]any{it.op: res})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"took":   time.Since(start).Milliseconds(),
		"errors": anyErr,
		"items":  out,
	})
}

type bulkItem struct {
	op     string
	index  string
	id     string
	source []byte
	// bad is an item-level error found while parsing (status, type, reason).
	badStatus int
	badType   string
	badReason string
}

// parseBulk parses a bulk body strictly; an error answers the whole request
// 400, as Elasticsearch does for a malformed action line.
func parseBulk(body []byte, pathIndex string) ([]bulkItem, error) {
	if len(body) == 0 {
		return nil, errors.New("request body is required")
	}
	if body[len(body)-1] != '\n' {
		return nil, errors.New("The bulk request must be terminated by a newline [\\n]")
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
	var items []bulkItem
	line := 0
	for sc.Scan() {
		line++
		action := bytes.TrimSpace(sc.Bytes())
		if len(action) == 0 {
			continue
		}
		var a map[string]json.RawMessage
		if err := json.Unmarshal(action, &a); err != nil || len(a) != 1 {
			return nil, fmt.Errorf("Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]", line)
		}
		var op string
		var meta json.RawMessage
		for k, v := range a {
			op, meta = k, v
		}
		switch op {
		case "create", "index":
		case "update", "delete":
			return nil, fmt.Errorf("Malformed action/metadata line [%d]: this stand-in takes create and index only, not [%s]", line, op)
		default:
			return nil, fmt.Errorf("Malformed action/metadata line [%d], expected field [create], [delete], [index] or [update] but found [%s]", line, op)
		}
		var m struct {
			Index *string `json:"_index"`
			ID    *string `json:"_id"`
		}
		dec := json.NewDecoder(bytes.NewReader(meta))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("Action/metadata line [%d] contains an unknown parameter: %v", line, err)
		}
		it := bulkItem{op: op, index: pathIndex}
		if m.Index != nil {
			it.index = *m.Index
		}
		if m.ID != nil {
			it.id = *m.ID
		}
		if it.index == "" {
			return nil, errors.New("Validation Failed: 1: index is missing;")
		}
		if !sc.Scan() {
			return nil, fmt.Errorf("The bulk request must be terminated by a newline [\\n]; action line [%d] has no source", line)
		}
		line++
		src := bytes.TrimSpace(sc.Bytes())
		it.source = append([]byte(nil), src...)
		var doc map[string]json.RawMessage
		switch {
		case json.Unmarshal(src, &doc) != nil:
			it.badStatus, it.badType = 400, "document_parsing_exception"
			it.badReason = fmt.Sprintf("[1:1] failed to parse: source line [%d] is not a JSON object", line)
		case op == "index":
			it.badStatus, it.badType = 400, "illegal_argument_exception"
			it.badReason = "only write ops with an op_type of create are allowed in data streams"
		case doc["@timestamp"] == nil:
			it.badStatus, it.badType = 400, "document_parsing_exception"
			it.badReason = "[1:2] failed to parse: data stream timestamp field [@timestamp] is missing"
		case it.id == "":
			// Elasticsearch would make an id up; the exporter always sends
			// its own, so a missing one is a bug worth failing loudly on.
			it.badStatus, it.badType = 400, "action_request_validation_exception"
			it.badReason = "Validation Failed: 1: this stand-in requires an _id;"
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errors.New("Validation Failed: 1: no requests added;")
	}
	return items, nil
}

// backingIndex is the name of a data stream's first backing index, which
// Elasticsearch reports as an item's _index.
func backingIndex(ds string) string {
	return ".ds-" + ds + "-" + time.Now().UTC().Format("2006.01.02") + "-000001"
}

// item answers one action; s.mu is held.
func (s *Elasticsearch) item(it bulkItem) map[string]any {
	res := map[string]any{"_index": backingIndex(it.index), "_id": it.id}
	fail := func(status int, typ, reason string) map[string]any {
		res["status"] = status
		res["error"] = map[string]any{"type": typ, "reason": reason, "index": res["_index"]}
		return res
	}
	if it.badStatus != 0 {
		return fail(it.badStatus, it.badType, it.badReason)
	}
	key := it.index + "\x00" + it.id
	if _, ok := s.docs[key]; ok {
		s.conflicts++
		return fail(http.StatusConflict, "version_conflict_engine_exception",
			fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", it.id))
	}
	for _, f := range s.items {
		if !f.Match(it.source) {
			continue
		}
		f.seen[it.id]++
		if f.Times < 0 || f.seen[it.id] <= f.Times {
			return fail(f.Status, f.Type, f.Reason)
		}
		break
	}
	s.docs[key] = Doc{Index: it.index, ID: it.id, Source: json.RawMessage(it.source)}
	s.order = append(s.order, key)
	s.created++
	res["_version"] = 1
	res["result"] = "created"
	res["_shards"] = map[string]any{"total": 2, "successful": 1, "failed": 0}
	res["_seq_no"] = len(s.order) - 1
	res["_primary_term"] = 1
	res["status"] = http.StatusCreated
	return res
}

// APIKey returns the encoded API key Elasticsearch's create API key answer
// gives for id and key ("encoded": base64 of id:key).
func APIKey(id, key string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + key))
}
