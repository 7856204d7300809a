package testsiem

// Splunk HTTP Event Collector stand-in. What it reproduces (Splunk docs
// "Format events for HTTP Event Collector", "About HTTP Event Collector
// Indexer Acknowledgment", "Troubleshoot HTTP Event Collector" and the
// status code table there):
//
//	code HTTP text
//	 0   200  Success
//	 1   403  Token disabled
//	 2   401  Token is required
//	 3   401  Invalid authorization
//	 4   403  Invalid token
//	 5   400  No data
//	 6   400  Invalid data format
//	 7   400  Incorrect index
//	 8   500  Internal server error
//	 9   503  Server is busy
//	10   400  Data channel is missing
//	11   400  Invalid data channel
//	12   400  Event field is required
//	13   400  Event field cannot be blank
//	14   400  ACK is disabled
//	15   400  Error in handling indexed fields
//	16   400  Query string authorization is not enabled
//	17   200  HEC is healthy
//	18   503  HEC is unhealthy, queues are full
//	19   503  HEC is unhealthy, ack service unavailable
//	20   503  HEC is unhealthy, queues are full, ack service unavailable
//
//   - POST /services/collector/event (and /event/1.0, and /services/collector)
//     with "Authorization: Splunk <token>"; the body is JSON envelopes
//     written one after another (not an array). Events are handled in
//     order: an invalid one stops the request with 400 and
//     "invalid-event-number" (0-based) of the bad event, the events before it
//     having been accepted (stored here) and no ackId given.
//   - With acknowledgement on, a request needs a channel (header
//     X-Splunk-Request-Channel or ?channel=), a GUID; it answers
//     {"text":"Success","code":0,"ackId":N}, N counting up per channel from
//     0. POST /services/collector/ack?channel=C {"acks":[N,...]} answers
//     {"acks":{"N":bool}}; an id becomes true after a set number of polls
//     for it, or never when acknowledgements are scripted to be lost (as
//     when an ack id expires, or an indexer restarts before indexing).
//   - With acknowledgement off, /ack answers 400 code 14 and no ackId is
//     given.
//   - A request body over max_content_length (SetMaxBody) answers 413
//     before any event is read.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// HEC status codes (the table above).
const (
	HECSuccess           = 0
	HECTokenDisabled     = 1
	HECTokenRequired     = 2
	HECInvalidAuth       = 3
	HECInvalidToken      = 4
	HECNoData            = 5
	HECInvalidDataFormat = 6
	HECIncorrectIndex    = 7
	HECInternalError     = 8
	HECServerBusy        = 9
	HECChannelMissing    = 10
	HECInvalidChannel    = 11
	HECEventRequired     = 12
	HECEventBlank        = 13
	HECAckDisabled       = 14
	HECIndexedFields     = 15
	HECQueryAuthDisabled = 16
	HECQueuesFull        = 18
)

// hecCodes maps a code to its HTTP status and text.
var hecCodes = map[int]struct {
	status int
	text   string
}{
	0:  {200, "Success"},
	1:  {403, "Token disabled"},
	2:  {401, "Token is required"},
	3:  {401, "Invalid authorization"},
	4:  {403, "Invalid token"},
	5:  {400, "No data"},
	6:  {400, "Invalid data format"},
	7:  {400, "Incorrect index"},
	8:  {500, "Internal server error"},
	9:  {503, "Server is busy"},
	10: {400, "Data channel is missing"},
	11: {400, "Invalid data channel"},
	12: {400, "Event field is required"},
	13: {400, "Event field cannot be blank"},
	14: {400, "ACK is disabled"},
	15: {400, "Error in handling indexed fields"},
	16: {400, "Query string authorization is not enabled"},
	17: {200, "HEC is healthy"},
	18: {503, "HEC is unhealthy, queues are full"},
	19: {503, "HEC is unhealthy, ack service unavailable"},
	20: {503, "HEC is unhealthy, queues are full, ack service unavailable"},
}

// HECStatus returns the HTTP status Splunk answers with code.
func HECStatus(code int) int {
	if c, ok := hecCodes[code]; ok {
		return c.status
	}
	return http.StatusBadRequest
}

// HECText returns the text Splunk answers with code.
func HECText(code int) string { return hecCodes[code].text }

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// HECEvent is one event the stand-in accepted.
type HECEvent struct {
	Channel string
	// AckID is the ackId of the request that carried it, -1 when none was
	// given (acknowledgement off, or accepted before an invalid event).
	AckID int64
	// Envelope is the event's JSON envelope as sent.
	Envelope json.RawMessage
}

// Decode decodes the envelope into v.
func (e HECEvent) Decode(v any) error { return json.Unmarshal(e.Envelope, v) }

// EventFault makes the events Match accepts invalid.
type EventFault struct {
	Match func(envelope []byte) bool
	// Code is the answer: a per-event code (6, 12, 13, 15, or 7 for an index
	// the token may not write) with invalid-event-number.
	Code int
	// Times is how many times each matching envelope fails before it is
	// accepted; negative: always.
	Times int
}

type eventFault struct {
	EventFault
	seen map[string]int
}

type hecFault struct {
	code int
	left int
	// accept is how many leading events the request stores before failing
	// (reported as invalid-event-number), as Splunk does when its queues
	// fill in the middle of a request.
	accept int
}

type ackState struct {
	polls int
	lost  bool
}

// SplunkHEC is a stand-in for a Splunk HTTP Event Collector.
type SplunkHEC struct {
	server

	mu        sync.Mutex
	token     string
	useAck    bool
	ackPolls  int
	loseAcks  bool
	faults    []*hecFault
	evFaults  []*eventFault
	events    []HECEvent
	nextAck   map[string]int64
	acks      map[string]map[int64]*ackState
	requests  int
	ackPollsN int
	lastHdr   http.Header
	lastQuery string
	maxBody   int64
}

// NewSplunkHEC returns a stopped stand-in that takes token, with indexer
// acknowledgement on and acks true at the first poll.
func NewSplunkHEC(token string) *SplunkHEC {
	return &SplunkHEC{
		token: token, useAck: true, ackPolls: 1, maxBody: 800 << 20,
		nextAck: map[string]int64{}, acks: map[string]map[int64]*ackState{},
	}
}

// SetMaxBody sets the request body size above which an event request
// answers 413, as limits.conf [http_input] max_content_length does
// (default 800 MB; Splunk 6.4 and before, and many sites, 1 MB).
func (s *SplunkHEC) SetMaxBody(n int64) *SplunkHEC {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxBody = n
	return s
}

// SetUseAck turns indexer acknowledgement on or off for the token.
func (s *SplunkHEC) SetUseAck(on bool) *SplunkHEC {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.useAck = on
	return s
}

// SetAckAfterPolls makes an ack id true at the n-th poll that asks for it
// (n >= 1), simulating indexing delay.
func (s *SplunkHEC) SetAckAfterPolls(n int) *SplunkHEC {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackPolls = max(n, 1)
	return s
}

// LoseAcks makes ack ids given from now on never become true (on) or
// behave normally again (off). Events are stored either way: a lost ack does
// not mean lost data, only that the sender cannot know.
func (s *SplunkHEC) LoseAcks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseAcks = on
}

// Start listens on a free loopback port until the test ends.
func (s *SplunkHEC) Start(t testing.TB) *SplunkHEC { return s.StartOn(t, 0) }

// StartOn listens on 127.0.0.1:port (0: a free one) until the test ends.
func (s *SplunkHEC) StartOn(t testing.TB, port int) *SplunkHEC {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/services/collector", s.handleEvent)
	mux.HandleFunc("/services/collector/event", s.handleEvent)
	mux.HandleFunc("/services/collector/event/1.0", s.handleEvent)
	mux.HandleFunc("/services/collector/ack", s.handleAck)
	mux.HandleFunc("/services/collector/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"text": "HEC is healthy", "code": 17})
	})
	s.start(t, port, mux)
	return s
}

// Stop stops listening; Start's cleanup does it too.
func (s *SplunkHEC) Stop() { s.stop() }

// FailRequests makes the next n event requests fail with code (1 token
// disabled, 4 invalid token, 8 internal error, 9 server busy, 18 queues
// full, 7 incorrect index, ...) at its documented HTTP status.
func (s *SplunkHEC) FailRequests(code, n int) {
	s.FailRequestsAfter(code, n, 0)
}

// FailRequestsAfter is FailRequests where each failing request first stores
// its first accept events and reports invalid-event-number accept.
func (s *SplunkHEC) FailRequestsAfter(code, n, accept int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &hecFault{code: code, left: n, accept: accept})
}

// FailEvents adds an event fault; the first matching one answers.
func (s *SplunkHEC) FailEvents(f EventFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evFaults = append(s.evFaults, &eventFault{EventFault: f, seen: map[string]int{}})
}

// Events returns the accepted events in order.
func (s *SplunkHEC) Events() []HECEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HECEvent(nil), s.events...)
}

// HECCounters counts what the stand-in saw.
type HECCounters struct {
	// Requests is every request to an event path; AckPolls every request
	// to /ack.
	Requests, AckPolls int
	// Events is the accepted events.
	Events int
}

// Counters returns the counters.
func (s *SplunkHEC) Counters() HECCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return HECCounters{Requests: s.requests, AckPolls: s.ackPollsN, Events: len(s.events)}
}

// LastHeader returns the headers of the last event request.
func (s *SplunkHEC) LastHeader() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHdr.Clone()
}

func hecAnswer(w http.ResponseWriter, code int, extra map[string]any) {
	body := map[string]any{"text": hecCodes[code].text, "code": code}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, HECStatus(code), body)
}

// auth checks the token; s.mu is held.
func (s *SplunkHEC) auth(r *http.Request) (int, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return HECTokenRequired, false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Splunk") {
		return HECInvalidAuth, false
	}
	if tok != s.token {
		return HECInvalidToken, false
	}
	return 0, true
}

func channelOf(r *http.Request) string {
	if c := r.Header.Get("X-Splunk-Request-Channel"); c != "" {
		return c
	}
	return r.URL.Query().Get("channel")
}

func (s *SplunkHEC) handleEvent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.requests++
	s.lastHdr = r.Header.Clone()
	s.lastQuery = r.URL.RawQuery
	if code, ok := s.auth(r); !ok {
		s.mu.Unlock()
		hecAnswer(w, code, nil)
		return
	}
	channel := channelOf(r)
	if s.useAck {
		if channel == "" {
			s.mu.Unlock()
			hecAnswer(w, HECChannelMissing, nil)
			return
		}
		if !guidRE.MatchString(channel) {
			s.mu.Unlock()
			hecAnswer(w, HECInvalidChannel, nil)
			return
		}
	}
	var fault *hecFault
	for len(s.faults) > 0 && s.faults[0].left <= 0 {
		s.faults = s.faults[1:]
	}
	if len(s.faults) > 0 {
		fault = s.faults[0]
		fault.left--
	}
	limit := s.maxBody
	s.mu.Unlock()

	body, tooBig, err := readBody(r, limit)
	if tooBig {
		// Splunk refuses the request before reading any event.
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"text": "Content-Length too large (maximum is " + strconv.FormatInt(limit, 10) + ")"})
		return
	}
	if err != nil {
		hecAnswer(w, HECInvalidDataFormat, nil)
		return
	}
	envs, badAt, badCode := splitEnvelopes(body)
	if len(envs) == 0 && badAt < 0 {
		hecAnswer(w, HECNoData, nil)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if fault != nil && fault.accept <= 0 {
		hecAnswer(w, fault.code, nil)
		return
	}
	var accepted []json.RawMessage
	for i, env := range envs {
		if fault != nil && i == fault.accept {
			s.store(channel, -1, accepted)
			hecAnswer(w, fault.code, map[string]any{"invalid-event-number": i})
			return
		}
		if code := s.eventFault(env); code != 0 {
			s.store(channel, -1, accepted)
			hecAnswer(w, code, map[string]any{"invalid-event-number": i})
			return
		}
		accepted = append(accepted, env)
	}
	if badAt >= 0 {
		s.store(channel, -1, accepted)
		hecAnswer(w, badCode, map[string]any{"invalid-event-number": badAt})
		return
	}
	if fault != nil {
		// accept is at or past the end: the whole request went in before
		// the failure was noticed; Splunk would still answer the error.
		s.store(channel, -1, accepted)
		hecAnswer(w, fault.code, map[string]any{"invalid-event-number": len(envs)})
		return
	}
	if !s.useAck {
		s.store(channel, -1, accepted)
		hecAnswer(w, HECSuccess, nil)
		return
	}
	id := s.nextAck[channel]
	s.nextAck[channel] = id + 1
	if s.acks[channel] == nil {
		s.acks[channel] = map[int64]*ackState{}
	}
	s.acks[channel][id] = &ackState{lost: s.loseAcks}
	s.store(channel, id, accepted)
	hecAnswer(w, HECSuccess, map[string]any{"ackId": id})
}

// store keeps accepted envelopes; s.mu is held.
func (s *SplunkHEC) store(channel string, ack int64, envs []json.RawMessage) {
	for _, e := range envs {
		s.events = append(s.events, HECEvent{Channel: channel, AckID: ack, Envelope: e})
	}
}

// eventFault returns the scripted code for env, 0 for none; s.mu is held.
func (s *SplunkHEC) eventFault(env []byte) int {
	for _, f := range s.evFaults {
		if !f.Match(env) {
			continue
		}
		k := string(env)
		f.seen[k]++
		if f.Times < 0 || f.seen[k] <= f.Times {
			return f.Code
		}
		return 0
	}
	return 0
}

// splitEnvelopes reads concatenated JSON envelopes and checks each as Splunk
// does. It returns the valid leading envelopes and, when one is invalid, its
// 0-based number and code (badAt -1: all valid).
func splitEnvelopes(body []byte) (envs []json.RawMessage, badAt, badCode int) {
	dec := json.NewDecoder(bytes.NewReader(body))
	for i := 0; ; i++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return envs, -1, 0
		}
		if err != nil {
			return envs, i, HECInvalidDataFormat
		}
		if code := checkEnvelope(raw); code != 0 {
			return envs, i, code
		}
		envs = append(envs, raw)
	}
}

func checkEnvelope(raw json.RawMessage) int {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return HECInvalidDataFormat
	}
	ev, ok := env["event"]
	if !ok || string(ev) == "null" {
		return HECEventRequired
	}
	if string(ev) == `""` {
		return HECEventBlank
	}
	if t, ok := env["time"]; ok {
		var f float64
		if json.Unmarshal(t, &f) != nil {
			var s string
			if json.Unmarshal(t, &s) != nil {
				return HECInvalidDataFormat
			}
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return HECInvalidDataFormat
			}
		}
		// Splunk refuses exponent notation in time ("Error in handling
		// indexed fields"), seen with clients printing floats as 1.7E9.
		if bytes.ContainsAny(t, "eE") {
			return HECIndexedFields
		}
	}
	for _, k := range []string{"host", "source", "sourcetype", "index"} {
		if v, ok := env[k]; ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return HECInvalidDataFormat
			}
		}
	}
	if f, ok := env["fields"]; ok {
		var fields map[string]any
		if json.Unmarshal(f, &fields) != nil {
			return HECIndexedFields
		}
		for _, v := range fields {
			switch v := v.(type) {
			case string:
			case []any:
				for _, e := range v {
					if _, ok := e.(string); !ok {
						return HECIndexedFields
					}
				}
			default:
				return HECIndexedFields
			}
		}
	}
	return 0
}

func (s *SplunkHEC) handleAck(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackPollsN++
	if code, ok := s.auth(r); !ok {
		hecAnswer(w, code, nil)
		return
	}
	if !s.useAck {
		hecAnswer(w, HECAckDisabled, nil)
		return
	}
	channel := channelOf(r)
	if channel == "" {
		hecAnswer(w, HECChannelMissing, nil)
		return
	}
	if !guidRE.MatchString(channel) {
		hecAnswer(w, HECInvalidChannel, nil)
		return
	}
	body, tooBig, err := readBody(r, 1<<20)
	var req struct {
		Acks []int64 `json:"acks"`
	}
	if err != nil || tooBig || json.Unmarshal(body, &req) != nil || req.Acks == nil {
		hecAnswer(w, HECInvalidDataFormat, nil)
		return
	}
	out := map[string]bool{}
	for _, id := range req.Acks {
		st := s.acks[channel][id]
		if st == nil {
			out[strconv.FormatInt(id, 10)] = false
			continue
		}
		st.polls++
		out[strconv.FormatInt(id, 10)] = !st.lost && st.polls >= s.ackPolls
	}
	writeJSON(w, http.StatusOK, map[string]any{"acks": out})
}
