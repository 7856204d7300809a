// Package testschema checks a built audit record against the schema tables
// of pkg/auditrecord, read here on their own rather than through the
// production checks (auditrecord.CheckValue, the decoder): the fuzz tests of
// the components that build records use it as an independent oracle.
package testschema

import (
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// Check returns why lr is not a valid record of its event type, or nil: a
// known event type, its required attributes present and not blank, every
// attribute the schema defines (for any event type) of the schema's type,
// and no agent_audit.* attribute the event type does not define unless
// extra allows it (attributes a component writes beside the schema's).
func Check(lr plog.LogRecord, extra func(name string) bool) error {
	specs, ok := specsFor(lr.EventName())
	if !ok {
		return fmt.Errorf("event name %q is not a schema event type", lr.EventName())
	}
	attrs := lr.Attributes()
	for name, spec := range specs {
		v, present := attrs.Get(name)
		if spec.Required && (!present || v.Type() == pcommon.ValueTypeStr && strings.TrimSpace(v.Str()) == "") {
			return fmt.Errorf("%s without required attribute %s (or blank)", lr.EventName(), name)
		}
	}
	for name, v := range attrs.All() {
		spec, defined := specs[name]
		if !defined {
			if strings.HasPrefix(name, auditrecord.EventNamePrefix) && (extra == nil || !extra(name)) {
				return fmt.Errorf("%s carries %s, which its event type does not define", lr.EventName(), name)
			}
			if spec, defined = anySpec(name); !defined {
				continue
			}
		}
		if reason := typeProblem(spec, v); reason != "" {
			return fmt.Errorf("%s attribute %s: %s (value %v)", lr.EventName(), name, reason, v.AsRaw())
		}
	}
	return nil
}

func specsFor(event string) (map[string]auditrecord.AttributeSpec, bool) {
	for _, et := range auditrecord.EventTypes {
		if et.Name != event {
			continue
		}
		m := map[string]auditrecord.AttributeSpec{}
		for _, a := range auditrecord.CommonAttributes {
			m[a.Name] = a
		}
		for _, a := range et.Attributes {
			m[a.Name] = a
		}
		return m, true
	}
	return nil, false
}

func anySpec(name string) (auditrecord.AttributeSpec, bool) {
	for _, a := range auditrecord.CommonAttributes {
		if a.Name == name {
			return a, true
		}
	}
	for _, et := range auditrecord.EventTypes {
		for _, a := range et.Attributes {
			if a.Name == name {
				return a, true
			}
		}
	}
	return auditrecord.AttributeSpec{}, false
}

func typeProblem(spec auditrecord.AttributeSpec, v pcommon.Value) string {
	switch spec.Type {
	case auditrecord.TypeString:
		if v.Type() != pcommon.ValueTypeStr {
			return "not a string"
		}
		if len(spec.Enum) > 0 && !slices.Contains(spec.Enum, v.Str()) {
			return "not one of " + strings.Join(spec.Enum, ", ")
		}
	case auditrecord.TypeInt:
		if v.Type() != pcommon.ValueTypeInt {
			return "not an integer"
		}
		if spec.Max > spec.Min && (v.Int() < spec.Min || v.Int() > spec.Max) {
			return "out of range"
		}
	case auditrecord.TypeDouble:
		if v.Type() != pcommon.ValueTypeDouble {
			return "not a double"
		}
	case auditrecord.TypeBool:
		if v.Type() != pcommon.ValueTypeBool {
			return "not a boolean"
		}
	case auditrecord.TypeStringArray:
		if v.Type() != pcommon.ValueTypeSlice {
			return "not an array"
		}
		for _, e := range v.Slice().All() {
			if e.Type() != pcommon.ValueTypeStr {
				return "an element is not a string"
			}
		}
	case auditrecord.TypeAny:
		if v.Type() == pcommon.ValueTypeEmpty {
			return "empty"
		}
	}
	return ""
}
