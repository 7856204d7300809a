package auditrecord

import (
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// EventSchema returns an event type and the attribute specs that apply to
// it (the common ones, overridden by the type's own), or false for a name
// the schema does not define. Both are shared: do not change them.
func EventSchema(eventType string) (*EventType, map[string]*AttributeSpec, bool) {
	s, ok := eventIndex[eventType]
	if !ok {
		return nil, nil, false
	}
	return s.EventType, s.attrs, true
}

// AttributeSpecOf returns the spec the schema gives an attribute name, for
// any event type: types are the same wherever a name appears.
func AttributeSpecOf(name string) (*AttributeSpec, bool) {
	s, ok := attributeIndex[name]
	return s, ok
}

// CheckValue says why v cannot be the value of an attribute with spec, or
// "" when it can. It is for records built inside the collector (the
// normalizer, the GenAI connector, the fuzz tests' checks): unlike the
// native decoder, which stores a JSON integer given for a double as a
// double, an integer is not a double here, because a built record must
// already carry the declared type. Blank required strings are the
// caller's rule (the native API answers them with another text).
func CheckValue(spec *AttributeSpec, v pcommon.Value) string {
	switch spec.Type {
	case TypeString:
		if v.Type() != pcommon.ValueTypeStr {
			return "must be a string, got " + Kind(v)
		}
		if len(spec.Enum) > 0 && !slices.Contains(spec.Enum, v.Str()) {
			return fmt.Sprintf("must be one of %s, got %q", strings.Join(spec.Enum, ", "), v.Str())
		}
	case TypeInt:
		if v.Type() != pcommon.ValueTypeInt {
			return "must be an integer, got " + Kind(v)
		}
		if spec.Max > spec.Min && (v.Int() < spec.Min || v.Int() > spec.Max) {
			return fmt.Sprintf("must be between %d and %d, got %d", spec.Min, spec.Max, v.Int())
		}
	case TypeDouble:
		if v.Type() != pcommon.ValueTypeDouble {
			return "must be a number, got " + Kind(v)
		}
	case TypeBool:
		if v.Type() != pcommon.ValueTypeBool {
			return "must be a boolean, got " + Kind(v)
		}
	case TypeStringArray:
		if v.Type() != pcommon.ValueTypeSlice {
			return "must be an array of strings, got " + Kind(v)
		}
		for i, e := range v.Slice().All() {
			if e.Type() != pcommon.ValueTypeStr {
				return fmt.Sprintf("must be an array of strings, element %d is %s", i, Kind(e))
			}
		}
	case TypeAny:
		if v.Type() == pcommon.ValueTypeEmpty {
			return "must not be empty"
		}
	}
	return ""
}

// Kind names the kind of a pdata value in problem texts.
func Kind(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return "a string"
	case pcommon.ValueTypeInt:
		return "an integer"
	case pcommon.ValueTypeDouble:
		return "a fractional number"
	case pcommon.ValueTypeBool:
		return "a boolean"
	case pcommon.ValueTypeMap:
		return "a map"
	case pcommon.ValueTypeSlice:
		return "an array"
	case pcommon.ValueTypeBytes:
		return "bytes"
	default:
		return "an empty value"
	}
}

// SeverityText is the SeverityText that goes with a severity number in
// audit records: INFO, WARN or ERROR.
func SeverityText(s plog.SeverityNumber) string {
	switch {
	case s >= plog.SeverityNumberError:
		return "ERROR"
	case s >= plog.SeverityNumberWarn:
		return "WARN"
	default:
		return "INFO"
	}
}

// SetSeverity gives lr the severity the schema gives eventType (number and
// text), and reports false, leaving lr as it is, for an event type the
// schema does not define.
func SetSeverity(lr plog.LogRecord, eventType string) bool {
	s, ok := eventIndex[eventType]
	if !ok {
		return false
	}
	lr.SetSeverityNumber(s.Severity)
	lr.SetSeverityText(SeverityText(s.Severity))
	return true
}
