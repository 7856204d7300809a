package auditrecord

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Format is the framing of a request body.
type Format int

const (
	// FormatJSON is one event object or an array of event objects.
	FormatJSON Format = iota
	// FormatNDJSON is one event object per line; blank lines are ignored.
	FormatNDJSON
)

// Limits bound what one request may contain.
type Limits struct {
	// MaxEvents is the largest number of events in one request.
	MaxEvents int
	// MaxDepth is the deepest nesting of objects and arrays inside an
	// attribute value or the body (a scalar has depth 0).
	MaxDepth int
	// MaxKeys is the largest number of keys in one object (the attributes
	// or any object inside a value). pdata finds a key by a linear scan, so
	// building an object costs keys² comparisons: without this bound one
	// 4 MiB object of 500,000 keys took minutes of CPU; at 256 the worst
	// 4 MiB body costs about as much as an ordinary one.
	MaxKeys int
}

// DefaultLimits are the receiver's defaults.
var DefaultLimits = Limits{MaxEvents: 10_000, MaxDepth: 32, MaxKeys: 256}

// ScopeName is the instrumentation scope of records decoded here.
const ScopeName = "github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"

// Problem is one reason a request was refused.
type Problem struct {
	// Index is the 0-based position of the event in the request (for NDJSON,
	// among the non-blank lines). Absent when the problem is the whole body.
	Index  *int   `json:"index,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// InvalidRequestError lists every problem found in a request. Nothing of a
// request that has one is accepted.
type InvalidRequestError struct {
	Problems []Problem
	// TooLarge is set when the request holds more events than allowed.
	TooLarge bool
}

func (e *InvalidRequestError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid request"
	}
	p := e.Problems[0]
	msg := p.Reason
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	if p.Index != nil {
		msg = fmt.Sprintf("event %d: %s", *p.Index, msg)
	}
	if len(e.Problems) > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", len(e.Problems)-1)
	}
	return msg
}

// Decode parses a request body of native events, validates every event
// against the schema, and returns them as log records that share one
// resource and scope. It returns an *InvalidRequestError listing every
// problem when any event is invalid: a request is accepted whole or not at all.
// now is the observed time stamped on each record.
func Decode(body []byte, format Format, lim Limits, now time.Time) (plog.Logs, error) {
	if lim.MaxEvents <= 0 {
		lim.MaxEvents = DefaultLimits.MaxEvents
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if lim.MaxKeys <= 0 {
		lim.MaxKeys = DefaultLimits.MaxKeys
	}
	bodyProblem := func(reason string) error {
		return &InvalidRequestError{Problems: []Problem{{Reason: reason}}}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return plog.Logs{}, bodyProblem("empty body: send one event, an array of events, or NDJSON")
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD; an audit
	// record must not be altered on the way in, so refuse it instead.
	if !utf8.Valid(body) {
		return plog.Logs{}, bodyProblem(fmt.Sprintf("body is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(body)))
	}
	if off := unpairedSurrogate(body); off >= 0 {
		// encoding/json would turn it into U+FFFD: refuse rather than alter.
		return plog.Logs{}, bodyProblem(fmt.Sprintf("unpaired UTF-16 surrogate escape at byte %d", off))
	}
	raws, err := split(body, format, lim.MaxEvents)
	if err != nil {
		return plog.Logs{}, err
	}

	logs := plog.NewLogs()
	sl := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(ScopeName)
	sl.Scope().Attributes().PutStr(AttrSchemaVersion, SchemaVersion)
	records := sl.LogRecords()
	records.EnsureCapacity(len(raws))
	observed := pcommon.NewTimestampFromTime(now)

	var problems []Problem
	for i, raw := range raws {
		lr := records.AppendEmpty()
		lr.SetObservedTimestamp(observed)
		for _, p := range decodeEvent(raw, lim, lr) {
			idx := i
			p.Index = &idx
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return plog.Logs{}, &InvalidRequestError{Problems: problems}
	}
	return logs, nil
}

// split frames the body into one raw JSON text per event.
func split(body []byte, format Format, maxEvents int) ([][]byte, error) {
	tooMany := func() error {
		return &InvalidRequestError{TooLarge: true, Problems: []Problem{{
			Reason: fmt.Sprintf("too many events in one request (limit %d)", maxEvents),
		}}}
	}
	if format == FormatNDJSON {
		var raws [][]byte
		for line := range bytes.SplitSeq(body, []byte{'\n'}) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if len(raws) == maxEvents {
				return nil, tooMany()
			}
			raws = append(raws, line)
		}
		return raws, nil
	}

	trimmed := bytes.TrimSpace(body)
	switch trimmed[0] {
	case '{':
		return [][]byte{trimmed}, nil
	case '[':
	default:
		return nil, &InvalidRequestError{Problems: []Problem{{Reason: "body must be a JSON object (one event) or a JSON array of events"}}}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // the opening '['
		return nil, &InvalidRequestError{Problems: []Problem{{Reason: jsonReason(err)}}}
	}
	var raws [][]byte
	for dec.More() {
		idx := len(raws)
		if idx == maxEvents {
			return nil, tooMany()
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, &InvalidRequestError{Problems: []Problem{{Index: &idx, Reason: jsonReason(err)}}}
		}
		raws = append(raws, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, &InvalidRequestError{Problems: []Problem{{Reason: jsonReason(err)}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &InvalidRequestError{Problems: []Problem{{Reason: "malformed JSON: data after the end of the array"}}}
	}
	if len(raws) == 0 {
		return nil, &InvalidRequestError{Problems: []Problem{{Reason: "empty array: no events"}}}
	}
	return raws, nil
}

// eventDecoder holds the state of decoding one event.
type eventDecoder struct {
	dec      *json.Decoder
	lim      Limits
	problems []Problem
}

func (d *eventDecoder) fail(field, reason string) {
	d.problems = append(d.problems, Problem{Field: field, Reason: reason})
}

// decodeEvent fills lr from one raw event and validates it. It returns the
// problems found; lr is garbage when there are any.
func decodeEvent(raw []byte, lim Limits, lr plog.LogRecord) []Problem {
	d := &eventDecoder{dec: json.NewDecoder(bytes.NewReader(raw)), lim: lim}
	d.dec.UseNumber()
	if err := d.readEvent(lr); err != nil {
		if errors.Is(err, errReported) {
			return d.problems
		}
		// A syntax error ends the event; problems found before it still count.
		return append(d.problems, Problem{Reason: jsonReason(err)})
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return append(d.problems, Problem{Reason: "malformed JSON: data after the end of the event object"})
	}
	if len(d.problems) > 0 {
		return d.problems
	}
	d.validate(lr)
	return d.problems
}

// errReported ends decoding of one event after a problem that makes the rest
// meaningless; the problem itself is already recorded.
var errReported = errors.New("event problem already reported")

func (d *eventDecoder) readEvent(lr plog.LogRecord) error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		d.fail("", "an event must be a JSON object, got "+tokenKind(tok))
		return errReported
	}
	seen := map[string]bool{}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string)
		if seen[key] {
			d.fail(key, "duplicate field")
		}
		seen[key] = true
		switch key {
		case "event_name", "time", "trace_id", "span_id":
			s, ok, err := d.readString(key)
			if err != nil {
				return err
			}
			if ok {
				d.setStringField(lr, key, s)
			}
		case "attributes":
			tok, err := d.dec.Token()
			if err != nil {
				return err
			}
			if delim, ok := tok.(json.Delim); !ok || delim != '{' {
				d.fail(key, "must be a JSON object, got "+tokenKind(tok))
				if err := d.skipOpened(tok); err != nil {
					return err
				}
				continue
			}
			// The attributes object is the container of the values, as the
			// event object is of the body: both start at depth 0.
			if err := d.readMap("attributes", lr.Attributes(), 0); err != nil {
				return err
			}
		case "body":
			if err := d.readValue("body", lr.Body(), 0); err != nil {
				return err
			}
		default:
			d.fail(key, "unknown field (allowed: event_name, time, trace_id, span_id, attributes, body)")
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	}
	_, err = d.dec.Token() // the closing '}'
	if !seen["event_name"] {
		d.fail("event_name", "required field is missing")
	}
	if !seen["attributes"] {
		d.fail("attributes", "required field is missing")
	}
	if seen["span_id"] && !seen["trace_id"] {
		d.fail("span_id", "requires trace_id")
	}
	return err
}

// setStringField stores one of the event's string fields.
func (d *eventDecoder) setStringField(lr plog.LogRecord, key, s string) {
	switch key {
	case "event_name":
		lr.SetEventName(s)
	case "time":
		d.setTime(lr, s)
	case "trace_id":
		var id pcommon.TraceID
		if d.parseID(key, s, id[:]) {
			lr.SetTraceID(id)
		}
	case "span_id":
		var id pcommon.SpanID
		if d.parseID(key, s, id[:]) {
			lr.SetSpanID(id)
		}
	}
}

// skipOpened skips the rest of a value whose first token was tok (nothing
// when tok was a scalar).
func (d *eventDecoder) skipOpened(tok json.Token) error {
	if delim, ok := tok.(json.Delim); ok && (delim == '[' || delim == '{') {
		return d.skipRest()
	}
	return nil
}

func (d *eventDecoder) readString(field string) (string, bool, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return "", false, err
	}
	s, ok := tok.(string)
	if !ok {
		d.fail(field, "must be a string, got "+tokenKind(tok))
		return "", false, d.skipOpened(tok)
	}
	return s, true, nil
}

var maxTime = time.Unix(0, math.MaxInt64)

func (d *eventDecoder) setTime(lr plog.LogRecord, s string) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail("time", "must be an RFC 3339 time stamp such as 2026-01-02T15:04:05.123456789Z")
		return
	}
	// Timestamps are Unix nanoseconds in an int64 (up to 2262-04-11), and
	// 0 means "unset". Compare times, not UnixNano, which wraps outside.
	if !t.After(time.Unix(0, 0)) || !t.Before(maxTime) {
		d.fail("time", "must lie after 1970-01-01T00:00:00Z and before 2262")
		return
	}
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t))
}

func (d *eventDecoder) parseID(field, s string, dst []byte) bool {
	if len(s) != 2*len(dst) {
		d.fail(field, fmt.Sprintf("must be %d hexadecimal characters", 2*len(dst)))
		return false
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		d.fail(field, fmt.Sprintf("must be %d hexadecimal characters", 2*len(dst)))
		return false
	}
	for _, b := range dst {
		if b != 0 {
			return true
		}
	}
	d.fail(field, "must not be all zeros")
	return false
}

// readMap reads the members of an object whose '{' was consumed into m.
func (d *eventDecoder) readMap(path string, m pcommon.Map, depth int) error {
	if depth > d.lim.MaxDepth {
		d.fail(path, fmt.Sprintf("nested deeper than %d levels", d.lim.MaxDepth))
		return d.skipRest()
	}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string)
		field := path + "." + key
		if key == "" {
			d.fail(path, "empty attribute key")
		}
		if m.Len() == d.lim.MaxKeys {
			d.fail(path, fmt.Sprintf("more than %d keys in one object", d.lim.MaxKeys))
			return d.skipRest()
		}
		v, exists := m.GetOrPutEmpty(key)
		if exists {
			d.fail(field, "duplicate key")
			if err := d.skipValue(); err != nil {
				return err
			}
			continue
		}
		if err := d.readValue(field, v, depth); err != nil {
			return err
		}
	}
	_, err := d.dec.Token() // '}'
	return err
}

// readValue reads one JSON value into v. depth is the nesting depth of the
// value's container.
func (d *eventDecoder) readValue(path string, v pcommon.Value, depth int) error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth+1 > d.lim.MaxDepth {
			d.fail(path, fmt.Sprintf("nested deeper than %d levels", d.lim.MaxDepth))
			return d.skipRest()
		}
		if t == '{' {
			return d.readMap(path, v.SetEmptyMap(), depth+1)
		}
		s := v.SetEmptySlice()
		for i := 0; d.dec.More(); i++ {
			if err := d.readValue(fmt.Sprintf("%s[%d]", path, i), s.AppendEmpty(), depth+1); err != nil {
				return err
			}
		}
		_, err := d.dec.Token() // ']'
		return err
	case string:
		v.SetStr(t)
	case bool:
		v.SetBool(t)
	case json.Number:
		d.setNumber(path, v, string(t))
	case nil:
		// Nested nulls (tool arguments often hold them) stay as empty
		// values; a whole attribute of null is meaningless.
		if depth == 0 && path != "body" {
			d.fail(path, "null is not allowed; leave the attribute out instead")
		}
	}
	return nil
}

func (d *eventDecoder) setNumber(path string, v pcommon.Value, s string) {
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.fail(path, "number is out of range for a 64-bit float")
			return
		}
		v.SetDouble(f)
		return
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.fail(path, "integer does not fit in a signed 64-bit integer")
		return
	}
	v.SetInt(i)
}

// skipValue skips one whole JSON value.
func (d *eventDecoder) skipValue() error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	return d.skipOpened(tok)
}

// skipRest skips to the end of the container whose opening token was consumed.
func (d *eventDecoder) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		if delim, ok := tok.(json.Delim); ok {
			if delim == '{' || delim == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// validate checks a decoded event against its event type.
func (d *eventDecoder) validate(lr plog.LogRecord) {
	schema, ok := eventIndex[lr.EventName()]
	if !ok {
		d.fail("event_name", fmt.Sprintf("unknown event type %q (see docs/schema.md for the list)", lr.EventName()))
		return
	}
	lr.SetSeverityNumber(schema.Severity)
	lr.SetSeverityText(SeverityText(schema.Severity))
	attrs := lr.Attributes()
	for _, name := range schema.required {
		v, ok := attrs.Get(name)
		if !ok {
			d.fail("attributes."+name, "required attribute is missing")
		} else if v.Type() == pcommon.ValueTypeStr && strings.TrimSpace(v.Str()) == "" {
			d.fail("attributes."+name, "required attribute is empty")
		}
	}
	for name, v := range attrs.All() {
		field := "attributes." + name
		spec, known := schema.attrs[name]
		if !known {
			switch {
			case strings.HasPrefix(name, "audit."):
				d.fail(field, "reserved: integrity attributes are written by the collector, not by clients")
				continue
			case strings.HasPrefix(name, EventNamePrefix):
				d.fail(field, fmt.Sprintf("unknown attribute for event type %s", schema.Name))
				continue
			}
			// An attribute the schema defines for another event type keeps
			// its type here too: process.pid is an integer everywhere.
			if spec, known = attributeIndex[name]; !known {
				continue
			}
		}
		d.checkType(field, spec, v)
	}
}

func (d *eventDecoder) checkType(field string, spec *AttributeSpec, v pcommon.Value) {
	want := spec.Type
	switch want {
	case TypeString:
		if v.Type() != pcommon.ValueTypeStr {
			d.fail(field, "must be a string, got "+valueKind(v))
			return
		}
		if len(spec.Enum) > 0 && !contains(spec.Enum, v.Str()) {
			d.fail(field, fmt.Sprintf("must be one of %s, got %q", strings.Join(spec.Enum, ", "), v.Str()))
		}
	case TypeInt:
		if v.Type() != pcommon.ValueTypeInt {
			d.fail(field, "must be an integer, got "+valueKind(v))
			return
		}
		if spec.Max > spec.Min && (v.Int() < spec.Min || v.Int() > spec.Max) {
			d.fail(field, fmt.Sprintf("must be between %d and %d", spec.Min, spec.Max))
		}
	case TypeDouble:
		switch v.Type() {
		case pcommon.ValueTypeDouble:
		case pcommon.ValueTypeInt:
			// A JSON 1 where 1.0 was meant: store the declared type.
			v.SetDouble(float64(v.Int()))
		default:
			d.fail(field, "must be a number, got "+valueKind(v))
		}
	case TypeBool:
		if v.Type() != pcommon.ValueTypeBool {
			d.fail(field, "must be a boolean, got "+valueKind(v))
		}
	case TypeStringArray:
		if v.Type() != pcommon.ValueTypeSlice {
			d.fail(field, "must be an array of strings, got "+valueKind(v))
			return
		}
		for i, e := range v.Slice().All() {
			if e.Type() != pcommon.ValueTypeStr {
				d.fail(fmt.Sprintf("%s[%d]", field, i), "must be a string, got "+valueKind(e))
			}
		}
	case TypeAny:
		if v.Type() == pcommon.ValueTypeEmpty {
			d.fail(field, "must not be empty")
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// valueKind is Kind in JSON words: the native API's clients sent objects
// and nulls, not maps and empty values.
func valueKind(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return "an object"
	case pcommon.ValueTypeEmpty:
		return "null"
	}
	return Kind(v)
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "an array"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a string"
	}
}

// jsonReason turns a decoding error into a message for the client.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		if strings.Contains(syn.Error(), "exceeded max depth") {
			return "malformed JSON: nested too deeply"
		}
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	default:
		return "malformed JSON: " + err.Error()
	}
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// unpairedSurrogate returns the offset of the first \uD800-\uDFFF escape
// inside a JSON string that is not a high surrogate followed by a low one,
// or -1. Only string contents are examined.
func unpairedSurrogate(b []byte) int {
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(b):
			if b[i+1] != 'u' {
				i++ // skip the escaped character, which may be a quote
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok || r < 0xD800 || r > 0xDFFF {
				i++
				continue
			}
			if r >= 0xDC00 {
				return i
			}
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return i
		}
	}
	return -1
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
