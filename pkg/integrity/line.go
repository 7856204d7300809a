package integrity

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// ChainHeader holds a chained record's integrity attributes.
type ChainHeader struct {
	Digest Hash
	Index  uint64
	Log    string
	Prev   Hash
	Seq    uint64
	Stream string
}

// Link recomputes the record's link from the header.
func (h *ChainHeader) Link() Hash { return Link(h.Log, h.Stream, h.Seq, h.Prev, h.Digest) }

// HeaderFromAttributes reads the integrity attributes of a record. ok is
// false when the record is not chained (has no audit.log.id); err reports a
// chained record whose attributes are malformed.
func HeaderFromAttributes(attrs pcommon.Map) (h ChainHeader, ok bool, err error) {
	logID, found := attrs.Get(AttrLogID)
	if !found {
		return h, false, nil
	}
	h.Log = logID.AsString()
	get := func(name string) (pcommon.Value, error) {
		v, found := attrs.Get(name)
		if !found {
			return v, fmt.Errorf("chained record lacks %s", name)
		}
		return v, nil
	}
	var v pcommon.Value
	if v, err = get(AttrStreamID); err != nil {
		return h, true, err
	}
	h.Stream = v.AsString()
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{AttrLogIndex, &h.Index}, {AttrSequenceNumber, &h.Seq}} {
		if v, err = get(f.name); err != nil {
			return h, true, err
		}
		if v.Type() != pcommon.ValueTypeInt || v.Int() < 0 {
			return h, true, fmt.Errorf("%s is not a non-negative int", f.name)
		}
		*f.dst = uint64(v.Int())
	}
	for _, f := range []struct {
		name string
		dst  *Hash
	}{{AttrPrevHash, &h.Prev}, {AttrRecordDigest, &h.Digest}} {
		if v, err = get(f.name); err != nil {
			return h, true, err
		}
		if *f.dst, err = ParseHash(v.AsString()); err != nil {
			return h, true, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return h, true, nil
}

// SetAttributes writes the header as the record's integrity attributes.
func (h *ChainHeader) SetAttributes(attrs pcommon.Map) {
	attrs.PutStr(AttrLogID, h.Log)
	attrs.PutInt(AttrLogIndex, int64(h.Index))
	attrs.PutStr(AttrStreamID, h.Stream)
	attrs.PutInt(AttrSequenceNumber, int64(h.Seq))
	attrs.PutStr(AttrPrevHash, h.Prev.String())
	attrs.PutStr(AttrRecordDigest, h.Digest.String())
}

// Archive lines. Every line of a segment is one JSON object, itself in JCS
// form, followed by '\n':
//
//	{"chain":{"digest":"<hex>","index":N,"log":"<id>","prev":"<hex>","seq":N,"stream":"<id>"},"record":<canonical form>}
//	{"record":<canonical form>}            (a record that is not chained)
//
// The record is stored as exactly the bytes that were hashed, so checking
// a digest needs no re-serialization and no trust in any JSON library.
const (
	linePrefixChained = `{"chain":{"digest":"`
	linePrefixPlain   = `{"record":`
)

// AppendLine appends an archive line for a record with the given canonical
// form; h is nil for a record that is not chained.
func AppendLine(buf []byte, h *ChainHeader, canonical []byte) []byte {
	if h == nil {
		buf = append(buf, linePrefixPlain...)
	} else {
		buf = append(buf, linePrefixChained...)
		buf = hex.AppendEncode(buf, h.Digest[:])
		buf = append(buf, `","index":`...)
		buf = strconv.AppendUint(buf, h.Index, 10)
		buf = append(buf, `,"log":`...)
		buf = appendString(buf, h.Log)
		buf = append(buf, `,"prev":"`...)
		buf = hex.AppendEncode(buf, h.Prev[:])
		buf = append(buf, `","seq":`...)
		buf = strconv.AppendUint(buf, h.Seq, 10)
		buf = append(buf, `,"stream":`...)
		buf = appendString(buf, h.Stream)
		buf = append(buf, `},"record":`...)
	}
	buf = append(buf, canonical...)
	return append(buf, '}', '\n')
}

// ErrMalformedLine is wrapped by every ParseLine error.
var ErrMalformedLine = errors.New("malformed archive line")

// ParseLine splits an archive line (with or without its '\n') into its chain
// header (nil when the record is not chained) and the record's canonical
// bytes. It accepts only lines exactly as AppendLine writes them.
func ParseLine(line []byte) (*ChainHeader, []byte, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	if bytes.HasPrefix(line, []byte(linePrefixPlain)) {
		rec := line[len(linePrefixPlain):]
		if len(rec) < 3 || rec[0] != '{' || rec[len(rec)-1] != '}' {
			return nil, nil, fmt.Errorf("%w: record is not an object", ErrMalformedLine)
		}
		return nil, rec[:len(rec)-1], nil
	}
	if !bytes.HasPrefix(line, []byte(linePrefixChained)) {
		return nil, nil, fmt.Errorf("%w: does not start with %s or %s", ErrMalformedLine, linePrefixChained, linePrefixPlain)
	}
	p := &lineParser{b: line, i: len(linePrefixChained)}
	var h ChainHeader
	p.hash(&h.Digest)
	p.lit(`","index":`)
	h.Index = p.uint()
	p.lit(`,"log":`)
	h.Log = p.str()
	p.lit(`,"prev":"`)
	p.hash(&h.Prev)
	p.lit(`","seq":`)
	h.Seq = p.uint()
	p.lit(`,"stream":`)
	h.Stream = p.str()
	p.lit(`},"record":`)
	if p.err != nil {
		return nil, nil, p.err
	}
	rec := line[p.i:]
	if len(rec) < 3 || rec[0] != '{' || rec[len(rec)-1] != '}' || rec[len(rec)-2] != '}' {
		return nil, nil, fmt.Errorf("%w: record is not an object", ErrMalformedLine)
	}
	rec = rec[:len(rec)-1]
	// The header must be exactly as AppendLine writes it (no other escaping
	// of the strings), so one record has one line.
	if want := AppendLine(nil, &h, rec); !bytes.Equal(want[:len(want)-1], line) {
		return nil, nil, fmt.Errorf("%w: header is not in canonical form", ErrMalformedLine)
	}
	return &h, rec, nil
}

type lineParser struct {
	b   []byte
	i   int
	err error
}

func (p *lineParser) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s at byte %d", ErrMalformedLine, what, p.i)
	}
}

func (p *lineParser) lit(s string) {
	if p.err != nil {
		return
	}
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.fail("expected " + s)
		return
	}
	p.i += len(s)
}

func (p *lineParser) hash(h *Hash) {
	if p.err != nil {
		return
	}
	if len(p.b)-p.i < 64 {
		p.fail("short hash")
		return
	}
	if _, err := hex.Decode(h[:], p.b[p.i:p.i+64]); err != nil {
		p.fail("bad hash")
		return
	}
	p.i += 64
}

func (p *lineParser) uint() uint64 {
	if p.err != nil {
		return 0
	}
	j := p.i
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		p.fail("bad number")
		return 0
	}
	p.i = j
	return n
}

func (p *lineParser) str() string {
	if p.err != nil {
		return ""
	}
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		p.fail("expected string")
		return ""
	}
	j, escaped := p.i+1, false
	for ; j < len(p.b) && p.b[j] != '"'; j++ {
		if p.b[j] == '\\' {
			escaped = true
			j++
		}
	}
	if j >= len(p.b) {
		p.fail("unterminated string")
		return ""
	}
	raw := p.b[p.i : j+1]
	p.i = j + 1
	if !escaped {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.fail("bad string")
	}
	return s
}

// LogsFromCanonical rebuilds a record from its canonical form, so archived
// records can be turned back into OTLP (auditctl, tests). The header, when
// given, becomes the integrity attributes again.
func LogsFromCanonical(canonical []byte, h *ChainHeader) (plog.Logs, error) {
	var c canonicalJSON
	d := json.NewDecoder(bytes.NewReader(canonical))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return plog.Logs{}, fmt.Errorf("canonical record: %w", err)
	}
	if c.V != CanonicalVersion {
		return plog.Logs{}, fmt.Errorf("canonical record: version %d, this build reads %d", c.V, CanonicalVersion)
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl(c.Resource.SchemaURL)
	rl.Resource().SetDroppedAttributesCount(c.Resource.Dropped)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.SetSchemaUrl(c.Scope.SchemaURL)
	sl.Scope().SetName(c.Scope.Name)
	sl.Scope().SetVersion(c.Scope.Version)
	sl.Scope().SetDroppedAttributesCount(c.Scope.Dropped)
	lr := sl.LogRecords().AppendEmpty()
	var err error
	set := func(m pcommon.Map, raw map[string]json.RawMessage) {
		for k, v := range raw {
			if err == nil {
				err = setValue(m.PutEmpty(k), v)
			}
		}
	}
	set(rl.Resource().Attributes(), c.Resource.Attributes)
	set(sl.Scope().Attributes(), c.Scope.Attributes)
	set(lr.Attributes(), c.Attributes)
	if len(c.Body) > 0 && err == nil {
		err = setValue(lr.Body(), c.Body)
	}
	if err != nil {
		return plog.Logs{}, fmt.Errorf("canonical record: %w", err)
	}
	lr.SetDroppedAttributesCount(c.Dropped)
	lr.SetEventName(c.EventName)
	lr.SetFlags(plog.LogRecordFlags(c.Flags))
	lr.SetSeverityNumber(plog.SeverityNumber(c.SeverityNumber))
	lr.SetSeverityText(c.SeverityText)
	for _, t := range []struct {
		s   string
		set func(pcommon.Timestamp)
	}{{c.Time, lr.SetTimestamp}, {c.ObservedTime, lr.SetObservedTimestamp}} {
		if t.s != "" {
			n, err := strconv.ParseUint(t.s, 10, 64)
			if err != nil {
				return plog.Logs{}, fmt.Errorf("canonical record: time %q: %w", t.s, err)
			}
			t.set(pcommon.Timestamp(n))
		}
	}
	if c.TraceID != "" {
		var id pcommon.TraceID
		if _, err := hex.Decode(id[:], []byte(c.TraceID)); err != nil || len(c.TraceID) != 32 {
			return plog.Logs{}, fmt.Errorf("canonical record: trace_id %q", c.TraceID)
		}
		lr.SetTraceID(id)
	}
	if c.SpanID != "" {
		var id pcommon.SpanID
		if _, err := hex.Decode(id[:], []byte(c.SpanID)); err != nil || len(c.SpanID) != 16 {
			return plog.Logs{}, fmt.Errorf("canonical record: span_id %q", c.SpanID)
		}
		lr.SetSpanID(id)
	}
	if h != nil {
		h.SetAttributes(lr.Attributes())
	}
	return ld, nil
}

type canonicalJSON struct {
	Attributes     map[string]json.RawMessage `json:"attributes"`
	Body           json.RawMessage            `json:"body"`
	Dropped        uint32                     `json:"dropped_attributes_count"`
	EventName      string                     `json:"event_name"`
	Flags          uint32                     `json:"flags"`
	ObservedTime   string                     `json:"observed_time_unix_nano"`
	Resource       canonicalContainer         `json:"resource"`
	Scope          canonicalContainer         `json:"scope"`
	SeverityNumber int32                      `json:"severity_number"`
	SeverityText   string                     `json:"severity_text"`
	SpanID         string                     `json:"span_id"`
	Time           string                     `json:"time_unix_nano"`
	TraceID        string                     `json:"trace_id"`
	V              int                        `json:"v"`
}

type canonicalContainer struct {
	Attributes map[string]json.RawMessage `json:"attributes"`
	Dropped    uint32                     `json:"dropped_attributes_count"`
	Name       string                     `json:"name"`
	SchemaURL  string                     `json:"schema_url"`
	Version    string                     `json:"version"`
}

func setValue(dst pcommon.Value, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
		return nil
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		dst.SetStr(s)
		return nil
	}
	var tagged map[string]json.RawMessage
	if err := json.Unmarshal(raw, &tagged); err != nil || len(tagged) != 1 {
		return fmt.Errorf("value %s: want a string, null or a one-key object", raw)
	}
	for tag, v := range tagged {
		switch tag {
		case "int":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return err
			}
			dst.SetInt(n)
		case "double":
			var f float64
			if err := json.Unmarshal(v, &f); err == nil {
				dst.SetDouble(f)
				return nil
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return err
			}
			dst.SetDouble(f)
		case "bool":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			dst.SetBool(b)
		case "bytes":
			var b []byte
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			dst.SetEmptyBytes().FromRaw(b)
		case "array":
			var items []json.RawMessage
			if err := json.Unmarshal(v, &items); err != nil {
				return err
			}
			s := dst.SetEmptySlice()
			for _, it := range items {
				if err := setValue(s.AppendEmpty(), it); err != nil {
					return err
				}
			}
		case "map":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			pm := dst.SetEmptyMap()
			for k, it := range m {
				if err := setValue(pm.PutEmpty(k), it); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("value type %q unknown", tag)
		}
	}
	return nil
}
