package genaiconnector

import (
	"errors"
	"fmt"
	"strings"
)

// What happens to the span attributes that the mapping does not turn into a
// schema attribute.
const (
	// KeepPrefix keeps them on the record under OriginalPrefix, so the audit
	// trail holds everything the application sent.
	KeepPrefix = "prefix"
	// KeepDrop leaves them out: the record holds the schema attributes only.
	KeepDrop = "drop"
)

// DefaultOriginalPrefix is where kept original attributes go: under the
// project's own namespace, so an original name can never pass for a schema
// attribute (or for a reserved audit.* integrity attribute).
const DefaultOriginalPrefix = "agent_audit.source."

// Config of the genai connector.
type Config struct {
	// KeepOriginal is prefix (default) or drop. Unmapped records always keep
	// the originals under OriginalPrefix: they are all such a record holds.
	KeepOriginal string `mapstructure:"keep_original"`
	// OriginalPrefix is put in front of every kept original attribute name.
	OriginalPrefix string `mapstructure:"original_prefix"`
	// EmitNonGenAI emits an agent_audit.source.unmapped record (reason not_genai)
	// for each span without any gen_ai.* attribute. Off by default: such
	// spans (HTTP, database...) are not audit events; they are counted.
	EmitNonGenAI bool `mapstructure:"emit_non_genai"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	switch c.KeepOriginal {
	case KeepPrefix, KeepDrop:
	default:
		errs = append(errs, fmt.Errorf("keep_original: must be %q or %q, got %q", KeepPrefix, KeepDrop, c.KeepOriginal))
	}
	p := c.OriginalPrefix
	switch {
	case !strings.HasPrefix(p, "agent_audit.") || !strings.HasSuffix(p, "."):
		errs = append(errs, fmt.Errorf("original_prefix: must start with \"agent_audit.\" and end with \".\", got %q", p))
	case p == "agent_audit." || strings.Contains(p, ".."):
		// Directly under agent_audit. an original "outcome" would read as the
		// schema's agent_audit.outcome.
		errs = append(errs, fmt.Errorf("original_prefix: must name a namespace below agent_audit., got %q", p))
	case p == unmappedAttr+"." || p == spanAttrPrefix:
		errs = append(errs, fmt.Errorf("original_prefix: %q is used by the connector's own attributes", p))
	}
	return errors.Join(errs...)
}
