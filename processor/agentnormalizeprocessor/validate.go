package agentnormalizeprocessor

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// validate checks a mapped event against the schema (docs/schema.md,
// Validation rules): required attributes present and not blank, types,
// enums and ranges of those it defines, and no agent_audit.* attribute
// the event type does not define. The mappings are written to pass it; it
// is here so that an agent's odd value (an empty tool name, a negative
// port) leaves the record unmapped instead of archiving an invalid event.
func validate(eventType string, attrs pcommon.Map) *failure {
	_, specs, ok := auditrecord.EventSchema(eventType)
	if !ok {
		return &failure{code: reasonUnknownEvent, text: fmt.Sprintf("no audit event type %q", eventType)}
	}
	// In name order, so that the first failure reported does not depend on
	// map iteration.
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		a := specs[name]
		v, present := attrs.Get(name)
		if !present {
			if a.Required {
				return &failure{code: reasonMissingAttribute, text: fmt.Sprintf("%s requires attribute %s", eventType, name)}
			}
			continue
		}
		reason := auditrecord.CheckValue(a, v)
		if reason == "" && a.Required && v.Type() == pcommon.ValueTypeStr && strings.TrimSpace(v.Str()) == "" {
			reason = "must not be empty"
		}
		if reason != "" {
			return &failure{code: reasonInvalidValue, text: fmt.Sprintf("%s attribute %s: %s", eventType, name, reason)}
		}
	}
	for name := range attrs.All() {
		if _, defined := specs[name]; !defined && strings.HasPrefix(name, auditrecord.EventNamePrefix) {
			return &failure{code: reasonInvalidValue, text: fmt.Sprintf("%s does not define attribute %s", eventType, name)}
		}
	}
	return nil
}
