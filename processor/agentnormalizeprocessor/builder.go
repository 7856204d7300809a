package agentnormalizeprocessor

import (
	"sort"

	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// Reason codes of unmapped records: the attribute agent_audit.unmapped and
// the metric's reason label (docs/schema.md lists every component's codes).
// The attribute agent_audit.unmapped_detail holds the full text.
const (
	reasonUnknownEvent     = "unknown_event"
	reasonMissingAttribute = "missing_attribute"
	reasonWrongType        = "wrong_type"
	reasonInvalidValue     = "invalid_value"
)

type failure struct{ code, text string }

// builder reads the agent's attributes and writes the audit event's. The
// first problem it meets is kept in fail; later reads return zero values,
// so a mapping reads straight through and the caller checks fail once.
type builder struct {
	orig, res pcommon.Map
	out       pcommon.Map
	body      pcommon.Value
	// moved lists original attributes whose value became content of the
	// event (body, tool output), so they are not kept a second time.
	moved map[string]bool
	fail  *failure
}

func (b *builder) failf(code, format string, args ...any) {
	if b.fail == nil {
		b.fail = &failure{code: code, text: fmt.Sprintf(format, args...)}
	}
}

func (b *builder) get(key string) (pcommon.Value, bool) {
	if b.fail != nil {
		return pcommon.Value{}, false
	}
	return b.orig.Get(key)
}

// getIdentity looks on the record, then on the resource: exporters differ
// in where they put session and user attributes.
func (b *builder) getIdentity(key string) (pcommon.Value, bool) {
	if v, ok := b.get(key); ok || b.fail != nil {
		return v, ok
	}
	return b.res.Get(key)
}

func (b *builder) asStr(key string, v pcommon.Value) (string, bool) {
	if v.Type() != pcommon.ValueTypeStr {
		b.failf(reasonWrongType, "attribute %s: expected a string, got %s", key, auditrecord.Kind(v))
		return "", false
	}
	return v.Str(), true
}

// str reads an optional string attribute.
func (b *builder) str(key string) (string, bool) {
	v, ok := b.get(key)
	if !ok {
		return "", false
	}
	return b.asStr(key, v)
}

// identityStr reads an optional string from the record or the resource.
func (b *builder) identityStr(key string) (string, bool) {
	v, ok := b.getIdentity(key)
	if !ok {
		return "", false
	}
	s, ok := b.asStr(key, v)
	return s, ok && strings.TrimSpace(s) != ""
}

// reqStr reads a string attribute the mapping cannot do without.
func (b *builder) reqStr(key string) string {
	s, ok := b.str(key)
	if b.fail == nil && (!ok || strings.TrimSpace(s) == "") {
		b.failf(reasonMissingAttribute, "required attribute %s is missing or empty", key)
	}
	return s
}

// int reads an optional integer. Agents write numbers as integers, as
// whole doubles, or (Claude Code, for several attributes) as decimal
// strings; all three are accepted, anything else is a wrong type.
func (b *builder) int(key string) (int64, bool) {
	v, ok := b.get(key)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if d == math.Trunc(d) && math.Abs(d) < 1<<53 {
			return int64(d), true
		}
	case pcommon.ValueTypeStr:
		if i, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64); err == nil {
			return i, true
		}
		b.failf(reasonWrongType, "attribute %s: expected an integer, got %q", key, v.Str())
		return 0, false
	}
	b.failf(reasonWrongType, "attribute %s: expected an integer, got %s", key, auditrecord.Kind(v))
	return 0, false
}

// bool reads an optional boolean, written as a boolean or as "true"/"false"
// (both agents document the string form).
func (b *builder) bool(key string) (bool, bool) {
	v, ok := b.get(key)
	if !ok {
		return false, false
	}
	switch v.Type() {
	case pcommon.ValueTypeBool:
		return v.Bool(), true
	case pcommon.ValueTypeStr:
		switch strings.ToLower(strings.TrimSpace(v.Str())) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		b.failf(reasonWrongType, "attribute %s: expected true or false, got %q", key, v.Str())
		return false, false
	}
	b.failf(reasonWrongType, "attribute %s: expected a boolean, got %s", key, auditrecord.Kind(v))
	return false, false
}

// The setters write only when the value was present.
func (b *builder) putStr(key, val string, ok bool) {
	if ok && b.fail == nil && val != "" {
		b.out.PutStr(key, val)
	}
}

func (b *builder) putInt(key string, val int64, ok bool) {
	if ok && b.fail == nil {
		b.out.PutInt(key, val)
	}
}

// copyStr maps an optional string attribute to an audit attribute.
func (b *builder) copyStr(from, to string) {
	s, ok := b.str(from)
	b.putStr(to, s, ok)
}

// copyInt maps an optional integer attribute to an audit attribute.
func (b *builder) copyInt(from, to string) {
	i, ok := b.int(from)
	b.putInt(to, i, ok)
}

// redactedPrompts are what the agents send instead of the prompt text when
// prompt logging is off; they are not the prompt and do not become the body.
var redactedPrompts = map[string]bool{"<REDACTED>": true, "[REDACTED]": true, "": true}

// promptBody moves the prompt text, when the agent sent it, into the body.
func (b *builder) promptBody(key string) {
	s, ok := b.str(key)
	if ok && b.fail == nil && !redactedPrompts[strings.TrimSpace(s)] {
		b.body.SetStr(s)
		b.moved[key] = true
	}
}

// outcome maps a success flag; absent means the agent did not say.
func (b *builder) outcome(key string) {
	ok, present := b.bool(key)
	switch {
	case b.fail != nil:
	case !present:
		b.out.PutStr(auditrecord.AttrOutcome, "unknown")
	case ok:
		b.out.PutStr(auditrecord.AttrOutcome, "success")
	default:
		b.out.PutStr(auditrecord.AttrOutcome, "failure")
	}
}

// enum maps a documented value of the agent to the schema's; a value the
// agent's documentation does not list is refused rather than guessed.
func (b *builder) enum(key string, values map[string]string, required bool) (string, bool) {
	s, ok := b.str(key)
	if b.fail != nil {
		return "", false
	}
	if !ok {
		if required {
			b.failf(reasonMissingAttribute, "required attribute %s is missing or empty", key)
		}
		return "", false
	}
	if v, known := values[s]; known {
		return v, true
	}
	b.failf(reasonInvalidValue, "attribute %s: unknown value %q (expected %s)", key, s, listOf(values))
	return "", false
}

func listOf(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// parseTime reads event.timestamp: ISO 8601 as both agents write it.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("expected an RFC 3339 time stamp, got %q", s)
	}
	if t.Year() >= 2262 || t.UnixNano() <= 0 {
		return time.Time{}, fmt.Errorf("time stamp %q must lie between 1970 and 2262", s)
	}
	return t, nil
}
