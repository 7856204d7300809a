package agentnormalizeprocessor

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// eventIndex holds, per event type of the schema, the attribute specs that
// apply (common ones, overridden by the type's own).
var eventIndex = func() map[string]*eventSpec {
	m := map[string]*eventSpec{}
	for _, et := range auditrecord.EventTypes {
		s := &eventSpec{Severity: et.Severity, attrs: map[string]auditrecord.AttributeSpec{}}
		for _, a := range auditrecord.CommonAttributes {
			s.attrs[a.Name] = a
		}
		for _, a := range et.Attributes {
			s.attrs[a.Name] = a
		}
		for name := range s.attrs {
			s.names = append(s.names, name)
		}
		sort.Strings(s.names)
		m[et.Name] = s
	}
	return m
}()

type eventSpec struct {
	Severity plog.SeverityNumber
	attrs    map[string]auditrecord.AttributeSpec
	names    []string
}

// validate checks a mapped event against the schema (docs/schema.md,
// Validation rules): required attributes present and not blank, types,
// enums and ranges of those it defines, and no agent_audit.* attribute
// the event type does not define. The mappings are written to pass it; it
// is here so that an agent's odd value (an empty tool name, a negative
// port) leaves the record unmapped instead of archiving an invalid event.
func validate(eventType string, attrs pcommon.Map) *failure {
	spec, ok := eventIndex[eventType]
	if !ok {
		return &failure{code: reasonUnknownEvent, text: fmt.Sprintf("no audit event type %q", eventType)}
	}
	for _, name := range spec.names {
		a := spec.attrs[name]
		v, present := attrs.Get(name)
		if !present {
			if a.Required {
				return &failure{code: reasonMissingAttribute, text: fmt.Sprintf("%s requires attribute %s", eventType, name)}
			}
			continue
		}
		if reason := checkType(a, v); reason != "" {
			return &failure{code: reasonInvalidValue, text: fmt.Sprintf("%s attribute %s: %s", eventType, name, reason)}
		}
	}
	for name := range attrs.All() {
		if _, defined := spec.attrs[name]; !defined && strings.HasPrefix(name, auditrecord.EventNamePrefix) {
			return &failure{code: reasonInvalidValue, text: fmt.Sprintf("%s does not define attribute %s", eventType, name)}
		}
	}
	return nil
}

func checkType(a auditrecord.AttributeSpec, v pcommon.Value) string {
	switch a.Type {
	case auditrecord.TypeString:
		if v.Type() != pcommon.ValueTypeStr {
			return "must be a string, got " + kind(v)
		}
		if a.Required && strings.TrimSpace(v.Str()) == "" {
			return "must not be empty"
		}
		if len(a.Enum) > 0 && !slices.Contains(a.Enum, v.Str()) {
			return fmt.Sprintf("must be one of %s, got %q", strings.Join(a.Enum, ", "), v.Str())
		}
	case auditrecord.TypeInt:
		if v.Type() != pcommon.ValueTypeInt {
			return "must be an integer, got " + kind(v)
		}
		if a.Max > a.Min && (v.Int() < a.Min || v.Int() > a.Max) {
			return fmt.Sprintf("must be between %d and %d, got %d", a.Min, a.Max, v.Int())
		}
	case auditrecord.TypeDouble:
		if v.Type() != pcommon.ValueTypeDouble {
			return "must be a number, got " + kind(v)
		}
	case auditrecord.TypeBool:
		if v.Type() != pcommon.ValueTypeBool {
			return "must be a boolean, got " + kind(v)
		}
	case auditrecord.TypeStringArray:
		if v.Type() != pcommon.ValueTypeSlice {
			return "must be an array of strings, got " + kind(v)
		}
		for _, e := range v.Slice().All() {
			if e.Type() != pcommon.ValueTypeStr {
				return "must be an array of strings"
			}
		}
	case auditrecord.TypeAny:
		if v.Type() == pcommon.ValueTypeEmpty {
			return "must not be empty"
		}
	}
	return ""
}

func sortStrings(s []string) { sort.Strings(s) }
