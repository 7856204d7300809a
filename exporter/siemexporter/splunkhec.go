package siemexporter

// Splunk HTTP Event Collector transport: every send is one POST to
// /services/collector/event with the events as JSON envelopes written one
// after another, then, with use_ack, polls of /services/collector/ack until
// Splunk says the request's ackId is indexed.
//
// Splunk handles the envelopes of a request in order and stops at the first
// bad one, answering 400 with "invalid-event-number" (0-based); the events
// before it were accepted. Codes (Splunk "Troubleshoot HTTP Event
// Collector" table) and what the transport does:
//
//	code (HTTP)                       what the transport does
//	0 (200)                           accepted; with use_ack, send returns nil only
//	                                  once /ack says the ackId is true (indexed)
//	1,2,3,4 (401/403) token           retryable, error log (token can be re-enabled
//	                                  or fixed in Splunk; nothing is dropped)
//	6,12,13,15 (400) with             events before N delivered; event N rejected;
//	  invalid-event-number N          the rest sent again at once (same send)
//	6,12,13,15 without N              all rejected (the request, built here, is
//	                                  refused as it is; resending cannot help)
//	5 (400) no data                   retryable (the body sent was not empty: what
//	                                  came through was not what was sent)
//	7 (400) incorrect index           retryable, error log: the token may not write
//	                                  the index (fixable in Splunk); N is not trusted
//	                                  (Splunk numbers it one too high for code 7)
//	8 (500), 9/18/19/20 (503), 429,   retryable; for 9, 18, 20 with N, events
//	  other 5xx, connection error     before N are remembered as delivered
//	10,11 (400) channel               retryable, error log (configuration)
//	14 (400) ACK disabled             from /ack only: the request was accepted; the
//	                                  token has acknowledgement off, set use_ack: false
//	HTTP 413 (max_content_length)     the batch is split in halves, each sent in turn;
//	                                  an event too large alone is rejected
//	other                             retryable, error log
//	ack timeout                       retryable: the events are sent again and may
//	                                  be indexed twice (see below)
//
// No code gives a permanent error: these are audit records, and every
// refusal above that is not about the event itself can be fixed in Splunk
// (token, index permission, acknowledgement setting) while the data waits
// in the sending queue, or by a collector restart with a persistent queue.
//
// Duplicates: HEC has no idempotent id, so a resend after an ack timeout
// (or a lost response) can index events twice. Every envelope carries the
// record's stable id as the indexed field event_id, so a search can drop
// them: `... | dedup event_id`.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.uber.org/zap"
)

const (
	defaultAckPollInterval = time.Second
	// defaultAckTimeout fits within the exporter's default 30 s timeout,
	// which bounds the whole send. Splunk usually indexes within seconds,
	// but a lightly loaded indexer can hold a partly filled batch for
	// minutes (kafka-connect-splunk raised its ack timeout to 300 s for this
	// reason): raise ack_timeout, and timeout above it, for such indexers.
	defaultAckTimeout = 20 * time.Second
	hecEventPath      = "/services/collector/event"
	hecAckPath        = "/services/collector/ack"
	// hecMaxResponse bounds a HEC answer read into memory; they are a few
	// dozen bytes.
	hecMaxResponse = 1 << 20
)

// SplunkHECConfig configures the Splunk HEC transport.
type SplunkHECConfig struct {
	// ClientConfig: endpoint is the HEC base URL, e.g.
	// https://splunk.example:8088 (a trailing /services/collector or
	// /services/collector/event is accepted and removed).
	confighttp.ClientConfig `mapstructure:",squash"`
	// Token is the HEC token (required).
	Token configopaque.String `mapstructure:"token"`
	// Channel is the X-Splunk-Request-Channel, a GUID; default: a random one
	// made at start. It is sent with every request, acknowledgement on or
	// not: a token with acknowledgement on refuses requests without one.
	Channel string `mapstructure:"channel"`
	// Index, Source and Sourcetype are the envelope's fields; empty index
	// and source are left out (the token's defaults apply). Sourcetype
	// defaults by format: _json for ecs, cef for cef (the sourcetype
	// Splunk Connect for Syslog and the CEF add-on use), leef for leef.
	Index      string `mapstructure:"index"`
	Source     string `mapstructure:"source"`
	Sourcetype string `mapstructure:"sourcetype"`
	// UseAck waits for indexer acknowledgement (default true): a send
	// succeeds only once Splunk has indexed its events. The token must have
	// indexer acknowledgement enabled; when it has not, events are taken as
	// delivered when accepted, with a warning.
	UseAck bool `mapstructure:"use_ack"`
	// AckPollInterval is the pause between polls of /ack (default 1s).
	AckPollInterval time.Duration `mapstructure:"ack_poll_interval"`
	// AckTimeout is how long a send waits for its ack (default 20s). The
	// exporter's timeout must be longer, or it cuts the wait short.
	AckTimeout time.Duration `mapstructure:"ack_timeout"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Unmarshal applies the defaults before decoding: use_ack is true unless
// the configuration says false, which a plain bool cannot tell from unset
// otherwise. It also keeps the squashed ClientConfig's Unmarshal from being
// promoted (see ElasticsearchConfig.Unmarshal).
func (c *SplunkHECConfig) Unmarshal(conf *confmap.Conf) error {
	if !conf.IsSet("use_ack") {
		c.UseAck = true
	}
	if c.AckPollInterval == 0 {
		c.AckPollInterval = defaultAckPollInterval
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = defaultAckTimeout
	}
	return conf.Unmarshal(c)
}

var hecChannelRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Validate checks the configuration.
func (c *SplunkHECConfig) Validate() error {
	var errs []error
	if err := validateBaseURL(c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.Token == "" {
		errs = append(errs, errors.New("token is required"))
	}
	if c.Channel != "" && !hecChannelRE.MatchString(c.Channel) {
		errs = append(errs, fmt.Errorf("channel %q must be a GUID (e.g. 0d6c2b4e-1f0a-4c59-9a55-3b8f7c2d1e90)", c.Channel))
	}
	if c.AckPollInterval < 0 {
		errs = append(errs, errors.New("ack_poll_interval must not be negative"))
	}
	if c.AckTimeout < 0 {
		errs = append(errs, errors.New("ack_timeout must not be negative"))
	}
	if c.AckPollInterval > 0 && c.AckTimeout > 0 && c.AckPollInterval > c.AckTimeout {
		errs = append(errs, errors.New("ack_poll_interval must not exceed ack_timeout"))
	}
	return errors.Join(errs...)
}

type hecTransport struct {
	cfg        SplunkHECConfig
	set        transportSettings
	client     *http.Client
	eventURL   string
	ackURL     string
	channel    string
	sourcetype string
	settled    *settledIDs
	warnedAck  atomic.Bool
}

func newSplunkHECTransport(cfg *SplunkHECConfig, set transportSettings) (transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := *cfg
	if c.AckPollInterval == 0 {
		c.AckPollInterval = defaultAckPollInterval
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = defaultAckTimeout
	}
	base := strings.TrimRight(c.Endpoint, "/")
	base = strings.TrimSuffix(base, "/event/1.0")
	base = strings.TrimSuffix(base, "/event")
	base = strings.TrimSuffix(base, "/services/collector")
	t := &hecTransport{
		cfg:        c,
		set:        set,
		eventURL:   base + hecEventPath,
		sourcetype: c.Sourcetype,
		settled:    newSettledIDs(settledIDsMax),
	}
	if t.sourcetype == "" {
		switch set.format {
		case formatECS:
			t.sourcetype = "_json"
		case formatLEEF:
			t.sourcetype = "leef"
		default:
			t.sourcetype = "cef"
		}
	}
	t.ackURL = base + hecAckPath
	return t, nil
}

func newGUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func (t *hecTransport) start(ctx context.Context, host component.Host) error {
	t.channel = t.cfg.Channel
	if t.channel == "" {
		g, err := newGUID()
		if err != nil {
			return fmt.Errorf("splunk_hec: making a channel: %w", err)
		}
		t.channel = g
	}
	t.ackURL += "?channel=" + url.QueryEscape(t.channel)
	client, err := t.cfg.ToClient(ctx, host.GetExtensions(), t.set.telemetry)
	if err != nil {
		return fmt.Errorf("splunk_hec: HTTP client: %w", err)
	}
	t.client = client
	return nil
}

func (t *hecTransport) shutdown(context.Context) error {
	if t.client != nil {
		t.client.CloseIdleConnections()
	}
	return nil
}

// hecEnvelope is one event as HEC's JSON event protocol takes it.
type hecEnvelope struct {
	// Time is epoch seconds with milliseconds, written as a plain decimal:
	// Splunk refuses exponent notation (code 15).
	Time       json.Number       `json:"time,omitempty"`
	Host       string            `json:"host,omitempty"`
	Source     string            `json:"source,omitempty"`
	Sourcetype string            `json:"sourcetype,omitempty"`
	Index      string            `json:"index,omitempty"`
	Event      json.RawMessage   `json:"event"`
	Fields     map[string]string `json:"fields,omitempty"`
}

func hecTime(t time.Time) json.Number {
	if t.IsZero() {
		return ""
	}
	ms := t.UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	return json.Number(fmt.Sprintf("%s%d.%03d", sign, ms/1000, ms%1000))
}

// encode writes the envelopes of evs. An ECS payload that is not a JSON
// object is returned in bad: HEC would refuse it, and so would every resend.
func (t *hecTransport) encode(evs []event) (body []byte, good, bad []event) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, e := range evs {
		env := hecEnvelope{
			Time:       hecTime(e.time),
			Host:       e.host,
			Source:     t.cfg.Source,
			Sourcetype: t.sourcetype,
			Index:      t.cfg.Index,
			Fields:     map[string]string{"event_id": e.id},
		}
		if t.set.format == formatECS {
			p := bytes.TrimSpace(e.payload)
			if len(p) == 0 || p[0] != '{' || !json.Valid(p) {
				bad = append(bad, e)
				continue
			}
			env.Event = p
		} else {
			s, err := json.Marshal(string(bytes.TrimRight(e.payload, "\r\n")))
			if err != nil {
				bad = append(bad, e)
				continue
			}
			env.Event = s
		}
		if err := enc.Encode(env); err != nil {
			bad = append(bad, e)
			continue
		}
		good = append(good, e)
	}
	return buf.Bytes(), good, bad
}

// hecReply is a HEC answer.
type hecReply struct {
	status  int
	header  http.Header
	text    string
	code    int
	hasCode bool
	ackID   *int64
	invalid int // invalid-event-number, -1 when absent
	raw     string
}

func (r hecReply) String() string {
	if r.hasCode {
		return fmt.Sprintf("HTTP %d, code %d %q", r.status, r.code, r.text)
	}
	if r.raw != "" {
		return fmt.Sprintf("HTTP %d: %.200s", r.status, r.raw)
	}
	return fmt.Sprintf("HTTP %d", r.status)
}

func (t *hecTransport) do(ctx context.Context, u string, body []byte) (hecReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return hecReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Splunk "+string(t.cfg.Token))
	req.Header.Set("X-Splunk-Request-Channel", t.channel)
	resp, err := t.client.Do(req)
	if err != nil {
		return hecReply{}, err
	}
	raw, readErr := readAtMost(resp.Body, hecMaxResponse)
	resp.Body.Close()
	r := hecReply{status: resp.StatusCode, header: resp.Header, invalid: -1, raw: strings.TrimSpace(string(raw))}
	if readErr != nil {
		return r, fmt.Errorf("reading the answer: %w", readErr)
	}
	var b struct {
		Text    string          `json:"text"`
		Code    *int            `json:"code"`
		AckID   *int64          `json:"ackId"`
		Invalid *int            `json:"invalid-event-number"`
		Acks    map[string]bool `json:"acks"`
	}
	if json.Unmarshal(raw, &b) == nil {
		r.text = b.Text
		if b.Code != nil {
			r.code, r.hasCode = *b.Code, true
		}
		r.ackID = b.AckID
		if b.Invalid != nil {
			r.invalid = *b.Invalid
		}
	}
	return r, nil
}

func (t *hecTransport) send(ctx context.Context, events []event) error {
	if t.client == nil {
		return errors.New("splunk_hec: send before start")
	}
	batch := batchKey(events)
	if err := t.deliver(ctx, batch, t.settled.unsettled(batch, events)); err != nil {
		return err
	}
	t.settled.forget(batch, events)
	return nil
}

// deliver sends pending (events of batch) until each is delivered or
// rejected, or returns an error.
func (t *hecTransport) deliver(ctx context.Context, batch string, pending []event) error {
	total := len(pending)
	// Every round either ends the send or removes at least one event from
	// pending, so total+1 rounds are enough.
	for round := 0; len(pending) > 0 && round <= total; round++ {
		body, good, bad := t.encode(pending)
		if len(bad) > 0 {
			t.reject(ctx, batch, bad, "splunk_hec: the ECS payload is not a JSON object")
		}
		pending = good
		if len(pending) == 0 {
			break
		}
		r, err := t.do(ctx, t.eventURL, body)
		if err != nil {
			return fmt.Errorf("splunk_hec: POST %s: %w", t.eventURL, err)
		}
		// Only a HEC answer with code 0 is an acceptance: a 200 without
		// one (an empty body, a proxy's or Splunk Web's page) says
		// nothing about the events.
		accepted := r.status/100 == 2 && r.hasCode && r.code == 0
		if accepted {
			if err := t.awaitAck(ctx, r); err != nil {
				return err
			}
			pending = nil
			break
		}
		if r.status == http.StatusRequestEntityTooLarge {
			return t.split(ctx, batch, pending, r)
		}
		n := r.invalid
		switch {
		case r.hasCode && isHECEventCode(r.code) && n >= 0 && n < len(pending):
			t.settled.add(batch, pending[:n])
			t.reject(ctx, batch, pending[n:n+1], fmt.Sprintf("splunk_hec: code %d %s", r.code, r.text))
			pending = pending[n+1:]
			continue
		case r.hasCode && isHECEventCode(r.code):
			t.reject(ctx, batch, pending, fmt.Sprintf("splunk_hec: code %d %s", r.code, r.text))
			pending = nil
			continue
		}
		return t.refusal(batch, pending, r)
	}
	if len(pending) > 0 {
		return fmt.Errorf("splunk_hec: %d events left after %d requests", len(pending), total+1)
	}
	return nil
}

// split handles 413: the request is larger than the HEC's
// max_content_length (limits.conf [http_input]), so resending it as it is
// can never succeed. Halves are delivered in turn, each remembered once
// delivered so that a resend of the batch leaves it out; an event too
// large alone is rejected.
func (t *hecTransport) split(ctx context.Context, batch string, evs []event, r hecReply) error {
	if len(evs) == 1 {
		t.reject(ctx, batch, evs, fmt.Sprintf("splunk_hec: %s: the event is larger than the HEC's max_content_length", r))
		return nil
	}
	t.set.logger.Warn("Splunk HEC answered 413 (request larger than max_content_length): sending the batch in halves; lower sending_queue::batch::max_size to avoid this",
		zap.Int("events", len(evs)))
	half := len(evs) / 2
	for _, part := range [][]event{evs[:half], evs[half:]} {
		if err := t.deliver(ctx, batch, part); err != nil {
			return err
		}
		t.settled.add(batch, part)
	}
	return nil
}

// isHECEventCode tells the codes that are about one event's content.
func isHECEventCode(code int) bool {
	switch code {
	case 6, 12, 13, 15:
		return true
	}
	return false
}

func (t *hecTransport) reject(ctx context.Context, batch string, evs []event, reason string) {
	for i, e := range evs {
		if i == maxLoggedRejects {
			break
		}
		t.set.logger.Warn("Splunk HEC rejected an event; it is dropped", zap.String("event_id", e.id), zap.String("reason", reason))
	}
	t.set.rejected(ctx, len(evs), reason)
	t.settled.add(batch, evs)
}

// refusal turns a refused request into the error send returns; see the
// table at the top of the file.
func (t *hecTransport) refusal(batch string, pending []event, r hecReply) error {
	busy := r.hasCode && (r.code == 9 || r.code == 18 || r.code == 20)
	if busy && r.invalid > 0 && r.invalid <= len(pending) {
		// Splunk took the events before invalid-event-number in: keep the
		// resend from indexing them twice.
		t.settled.add(batch, pending[:r.invalid])
	}
	err := fmt.Errorf("splunk_hec: %s", r)
	switch {
	case r.hasCode && r.code >= 1 && r.code <= 4:
		err = fmt.Errorf("splunk_hec: token refused (%s): check the token and that it is enabled; retrying, nothing is dropped", r)
		t.set.logger.Error("Splunk HEC refused the token", zap.Error(err))
	case r.hasCode && r.code == 7:
		err = fmt.Errorf("splunk_hec: %s: the token may not write index %q (add it to the token's allowed indexes); retrying, nothing is dropped", r, t.cfg.Index)
		t.set.logger.Error("Splunk HEC refused the index", zap.Error(err))
	case r.hasCode && (r.code == 10 || r.code == 11):
		err = fmt.Errorf("splunk_hec: %s: channel %q refused; retrying, nothing is dropped", r, t.channel)
		t.set.logger.Error("Splunk HEC refused the channel", zap.Error(err))
	case r.status == http.StatusTooManyRequests || r.status >= 500 || busy || (r.hasCode && r.code == 8):
		if d, ok := retryAfter(r.header); ok {
			return exporterhelper.NewThrottleRetry(err, d)
		}
	default:
		err = fmt.Errorf("splunk_hec: unexpected answer (%s); retrying", r)
		t.set.logger.Error("Unexpected Splunk HEC answer", zap.Error(err))
	}
	return err
}

// awaitAck waits, with use_ack, until Splunk reports the request indexed.
func (t *hecTransport) awaitAck(ctx context.Context, r hecReply) error {
	if !t.cfg.UseAck {
		return nil
	}
	if r.ackID == nil {
		if t.warnedAck.CompareAndSwap(false, true) {
			t.set.logger.Warn("Splunk HEC gave no ackId: the token has indexer acknowledgement off, so events count as delivered when accepted; enable it on the token, or set use_ack: false")
		}
		return nil
	}
	id := *r.ackID
	key := strconv.FormatInt(id, 10)
	body, _ := json.Marshal(map[string][]int64{"acks": {id}})
	deadline := time.Now().Add(t.cfg.AckTimeout)
	var last string
	for polls := 0; ; polls++ {
		wait := t.cfg.AckPollInterval
		if left := time.Until(deadline); left < wait {
			wait = max(left, 0)
		}
		if err := sleepOrDone(ctx, wait); err != nil {
			return fmt.Errorf("splunk_hec: ack %d on channel %s not received (%w); the events will be resent and may be indexed twice (dedupe on event_id)", id, t.channel, err)
		}
		ar, err := t.do(ctx, t.ackURL, body)
		switch {
		case err != nil:
			last = err.Error()
		case ar.status == http.StatusOK && !ar.hasCode:
			var acks struct {
				Acks map[string]bool `json:"acks"`
			}
			if json.Unmarshal([]byte(ar.raw), &acks) == nil && acks.Acks[key] {
				return nil
			}
			last = "not indexed yet"
		case ar.hasCode && ar.code == 14:
			if t.warnedAck.CompareAndSwap(false, true) {
				t.set.logger.Warn("Splunk HEC answers ACK is disabled: events count as delivered when accepted; set use_ack: false")
			}
			return nil
		default:
			last = ar.String()
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	t.set.logger.Warn("Splunk HEC did not acknowledge a request in time; resending its events, which may index them twice",
		zap.Int64("ack_id", id), zap.String("channel", t.channel), zap.Duration("ack_timeout", t.cfg.AckTimeout), zap.String("last", last))
	return fmt.Errorf("splunk_hec: ack %d on channel %s not true within %s (last: %s); the events will be resent and may be indexed twice (dedupe on event_id)", id, t.channel, t.cfg.AckTimeout, last)
}
