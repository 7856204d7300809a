// Package integrity is the tamper-evidence core that the chain and sign
// processors, the worm exporter and auditctl share: the canonical form of a
// record, the per-stream hash chain, the RFC 6962 Merkle log, C2SP
// checkpoints and signed notes, and the archive line format.
// docs/integrity.md documents all of it, for verifiers outside this project.
package integrity

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// CanonicalVersion is written into every canonical form as "v". A change to
// the projection below is a new version; verifiers keep reading old ones.
const CanonicalVersion = 1

// IsIntegrityAttribute reports whether a record attribute is one of the six
// the chain processor writes (AttrLogID ... AttrRecordDigest). They are
// excluded from the canonical form: the chain link binds them instead, and
// the digest must not depend on itself. Every other attribute, audit.* or
// not, is part of the canonical form.
func IsIntegrityAttribute(name string) bool {
	switch name {
	case AttrLogID, AttrLogIndex, AttrStreamID, AttrSequenceNumber, AttrPrevHash, AttrRecordDigest:
		return true
	}
	return false
}

// AppendCanonical appends the canonical form (version 1) of a log record to
// buf: a JSON object serialized per RFC 8785 (JCS), holding
//
//	v                         1
//	time_unix_nano            decimal string, omitted when 0
//	observed_time_unix_nano   decimal string, omitted when 0
//	severity_number           number, omitted when 0
//	severity_text             omitted when empty
//	event_name                omitted when empty
//	body                      value (see below), omitted when empty
//	attributes                map of values without the integrity attributes, omitted when empty
//	dropped_attributes_count  number, omitted when 0
//	flags                     number, omitted when 0
//	trace_id, span_id         lowercase hex, omitted when empty
//	resource                  {attributes, dropped_attributes_count, schema_url}
//	scope                     {name, version, attributes, dropped_attributes_count, schema_url}
//
// A value is a JSON string for a string, null for an empty value, and an
// object with one key naming the type otherwise: {"int":"<decimal>"},
// {"double":<JCS number>|"NaN"|"Infinity"|"-Infinity"}, {"bool":b},
// {"bytes":"<base64>"}, {"array":[values]}, {"map":{key: value}}.
// Maps are JSON objects, so keys are sorted and a key occurring twice keeps
// its first value (as pcommon.Map.Get does). Invalid UTF-8 becomes U+FFFD.
//
// The function never fails: every record has a canonical form.
func AppendCanonical(buf []byte, rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) []byte {
	// Keys in JCS order (sorted by UTF-16 code units; all ASCII here).
	buf = append(buf, '{')
	key := objectKeys(&buf)
	if lr.Attributes().Len() > 0 && hasNonIntegrity(lr.Attributes()) {
		key("attributes")
		buf = appendMap(buf, lr.Attributes(), true)
	}
	if lr.Body().Type() != pcommon.ValueTypeEmpty {
		key("body")
		buf = appendValue(buf, lr.Body())
	}
	if n := lr.DroppedAttributesCount(); n != 0 {
		key("dropped_attributes_count")
		buf = strconv.AppendUint(buf, uint64(n), 10)
	}
	if s := lr.EventName(); s != "" {
		key("event_name")
		buf = appendString(buf, s)
	}
	if f := lr.Flags(); f != 0 {
		key("flags")
		buf = strconv.AppendUint(buf, uint64(f), 10)
	}
	if t := lr.ObservedTimestamp(); t != 0 {
		key("observed_time_unix_nano")
		buf = appendQuotedUint(buf, uint64(t))
	}
	key("resource")
	buf = appendResource(buf, rl.Resource(), rl.SchemaUrl())
	key("scope")
	buf = appendScope(buf, sl.Scope(), sl.SchemaUrl())
	if n := lr.SeverityNumber(); n != 0 {
		key("severity_number")
		buf = strconv.AppendInt(buf, int64(n), 10)
	}
	if s := lr.SeverityText(); s != "" {
		key("severity_text")
		buf = appendString(buf, s)
	}
	if id := lr.SpanID(); !id.IsEmpty() {
		key("span_id")
		buf = appendHexString(buf, id[:])
	}
	if t := lr.Timestamp(); t != 0 {
		key("time_unix_nano")
		buf = appendQuotedUint(buf, uint64(t))
	}
	if id := lr.TraceID(); !id.IsEmpty() {
		key("trace_id")
		buf = appendHexString(buf, id[:])
	}
	key("v")
	buf = strconv.AppendInt(buf, CanonicalVersion, 10)
	return append(buf, '}')
}

// objectKeys returns a function that writes the next key of a JSON object
// being appended to *buf, with the comma before every key but the first.
func objectKeys(buf *[]byte) func(k string) {
	first := true
	return func(k string) {
		if !first {
			*buf = append(*buf, ',')
		}
		first = false
		*buf = append(*buf, '"')
		*buf = append(*buf, k...)
		*buf = append(*buf, '"', ':')
	}
}

func appendResource(buf []byte, res pcommon.Resource, schemaURL string) []byte {
	buf = append(buf, '{')
	key := objectKeys(&buf)
	if res.Attributes().Len() > 0 {
		key("attributes")
		buf = appendMap(buf, res.Attributes(), false)
	}
	if n := res.DroppedAttributesCount(); n != 0 {
		key("dropped_attributes_count")
		buf = strconv.AppendUint(buf, uint64(n), 10)
	}
	if schemaURL != "" {
		key("schema_url")
		buf = appendString(buf, schemaURL)
	}
	return append(buf, '}')
}

func appendScope(buf []byte, scope pcommon.InstrumentationScope, schemaURL string) []byte {
	buf = append(buf, '{')
	key := objectKeys(&buf)
	if scope.Attributes().Len() > 0 {
		key("attributes")
		buf = appendMap(buf, scope.Attributes(), false)
	}
	if n := scope.DroppedAttributesCount(); n != 0 {
		key("dropped_attributes_count")
		buf = strconv.AppendUint(buf, uint64(n), 10)
	}
	if s := scope.Name(); s != "" {
		key("name")
		buf = appendString(buf, s)
	}
	if schemaURL != "" {
		key("schema_url")
		buf = appendString(buf, schemaURL)
	}
	if s := scope.Version(); s != "" {
		key("version")
		buf = appendString(buf, s)
	}
	return append(buf, '}')
}

func hasNonIntegrity(m pcommon.Map) bool {
	found := false
	m.Range(func(k string, _ pcommon.Value) bool {
		if !IsIntegrityAttribute(k) {
			found = true
			return false
		}
		return true
	})
	return found
}

// mapEntry is one key of a map being serialized, kept in a pooled slice.
type mapEntry struct {
	key   string
	val   pcommon.Value
	ascii bool
}

func compareEntries(a, b mapEntry) int {
	if a.ascii && b.ascii {
		return strings.Compare(a.key, b.key)
	}
	return compareJCS(a.key, b.key)
}

func appendMap(buf []byte, m pcommon.Map, skipIntegrity bool) []byte {
	// Small fixed array: most maps have a few dozen keys at most, so this
	// stays on the stack.
	var local [32]mapEntry
	entries := local[:0]
	m.Range(func(k string, v pcommon.Value) bool {
		if skipIntegrity && IsIntegrityAttribute(k) {
			return true
		}
		entries = append(entries, mapEntry{k, v, isASCII(k)})
		return true
	})
	// Stable, so that of two equal keys the first one comes first and wins.
	slices.SortStableFunc(entries, compareEntries)
	buf = append(buf, '{')
	for i, e := range entries {
		if i > 0 && compareEntries(e, entries[i-1]) == 0 {
			continue
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, e.key)
		buf = append(buf, ':')
		buf = appendValue(buf, e.val)
	}
	return append(buf, '}')
}

// AppendCanonicalValue appends the canonical form of one value (as inside a
// record's canonical form, see AppendCanonical) to buf. The scrub processor
// digests structured content with it, so a digest can be recomputed from
// the original value by anyone holding the key.
func AppendCanonicalValue(buf []byte, v pcommon.Value) []byte { return appendValue(buf, v) }

func appendValue(buf []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(buf, v.Str())
	case pcommon.ValueTypeInt:
		buf = append(buf, `{"int":"`...)
		buf = strconv.AppendInt(buf, v.Int(), 10)
		return append(buf, '"', '}')
	case pcommon.ValueTypeDouble:
		buf = append(buf, `{"double":`...)
		buf = appendDouble(buf, v.Double())
		return append(buf, '}')
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return append(buf, `{"bool":true}`...)
		}
		return append(buf, `{"bool":false}`...)
	case pcommon.ValueTypeBytes:
		buf = append(buf, `{"bytes":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, v.Bytes().AsRaw())
		return append(buf, '"', '}')
	case pcommon.ValueTypeSlice:
		buf = append(buf, `{"array":[`...)
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, s.At(i))
		}
		return append(buf, ']', '}')
	case pcommon.ValueTypeMap:
		buf = append(buf, `{"map":`...)
		buf = appendMap(buf, v.Map(), false)
		return append(buf, '}')
	default:
		return append(buf, "null"...)
	}
}

// appendDouble writes a finite double as ECMAScript's Number.prototype.toString
// does, which is what RFC 8785 requires; non-finite values, which JSON cannot
// hold, become strings.
func appendDouble(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(buf, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-Infinity"`...)
	case f == 0:
		return append(buf, '0')
	}
	if f < 0 {
		buf = append(buf, '-')
		f = -f
	}
	// Shortest round-trip digits and the decimal exponent.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	n := exp + 1 // position of the decimal point relative to the digits
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		buf = append(buf, digits...)
		for i := 0; i < n-k; i++ {
			buf = append(buf, '0')
		}
	case 0 < n && n <= 21:
		buf = append(buf, digits[:n]...)
		buf = append(buf, '.')
		buf = append(buf, digits[n:]...)
	case -6 < n && n <= 0:
		buf = append(buf, '0', '.')
		for i := 0; i < -n; i++ {
			buf = append(buf, '0')
		}
		buf = append(buf, digits...)
	default:
		buf = append(buf, digits[0])
		if k > 1 {
			buf = append(buf, '.')
			buf = append(buf, digits[1:]...)
		}
		buf = append(buf, 'e')
		if n-1 >= 0 {
			buf = append(buf, '+')
		}
		buf = strconv.AppendInt(buf, int64(n-1), 10)
	}
	return buf
}

func appendQuotedUint(buf []byte, n uint64) []byte {
	buf = append(buf, '"')
	buf = strconv.AppendUint(buf, n, 10)
	return append(buf, '"')
}

func appendHexString(buf []byte, b []byte) []byte {
	buf = append(buf, '"')
	buf = hex.AppendEncode(buf, b)
	return append(buf, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JCS string: only '"', '\\' and control
// characters are escaped (the short forms where JSON has them), everything
// else is literal UTF-8; invalid UTF-8 becomes U+FFFD.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		// Fast path: skip 8 plain ASCII bytes at a time (no control
		// character, quote, backslash or non-ASCII byte among them).
		for i+8 <= len(s) && plainASCII8(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// load64 reads 8 bytes of s at i, little-endian (the compiler merges the
// loads into one).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainASCII8 reports whether none of the 8 bytes in x needs attention in
// a JSON string: all are ASCII, none below 0x20, none is '"' or '\\'.
func plainASCII8(x uint64) bool {
	hasLess := (x - lsb*0x20) & ^x & msb
	q := x ^ (lsb * '"')
	hasQuote := (q - lsb) & ^q & msb
	bs := x ^ (lsb * '\\')
	hasBackslash := (bs - lsb) & ^bs & msb
	return (x&msb)|hasLess|hasQuote|hasBackslash == 0
}

// compareJCS orders object keys as RFC 8785 does: by the UTF-16 code units
// of the key as written (invalid bytes already replaced by U+FFFD, one per
// byte, which is what both []rune(s) and appendString do). ASCII keys, nearly
// all of them, compare as bytes.
func compareJCS(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&msb != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
