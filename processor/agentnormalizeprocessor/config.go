package agentnormalizeprocessor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"
)

// KeepOriginal says what happens to a normalized record's original
// attributes, body and event name.
type KeepOriginal string

const (
	// KeepPrefix renames them under OriginalPrefix, so the archive still
	// holds what the agent sent.
	KeepPrefix KeepOriginal = "prefix"
	// KeepDrop removes them: the record holds only the schema's attributes.
	KeepDrop KeepOriginal = "drop"
)

// The sources this processor knows, by the prefix of their event names.
const (
	SourceClaudeCode = "claude_code"
	SourceCodex      = "codex"
)

var knownSources = []string{SourceClaudeCode, SourceCodex}

const defaultOriginalPrefix = "agent_audit.source."

// Config is the agentnormalize processor's configuration.
type Config struct {
	// KeepOriginal is prefix (default) or drop.
	KeepOriginal KeepOriginal `mapstructure:"keep_original"`
	// OriginalPrefix is put in front of every original attribute name when
	// KeepOriginal is prefix. Default agent_audit.source.
	OriginalPrefix string `mapstructure:"original_prefix"`
	// Sources lists the agents whose events are normalized (claude_code,
	// codex; default both). Records of a source not listed pass unchanged.
	Sources []string `mapstructure:"sources"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	switch c.KeepOriginal {
	case KeepPrefix, KeepDrop:
	default:
		errs = append(errs, fmt.Errorf("keep_original: must be prefix or drop, got %q", c.KeepOriginal))
	}
	if c.KeepOriginal == KeepPrefix {
		p := c.OriginalPrefix
		switch {
		case strings.TrimSpace(p) == "":
			errs = append(errs, errors.New("original_prefix: must not be empty when keep_original is prefix"))
		case !strings.HasSuffix(p, "."):
			errs = append(errs, fmt.Errorf("original_prefix: must end with a dot, got %q", p))
		case strings.HasPrefix(p, "audit."):
			// audit.* is reserved for the chain processor's integrity attributes.
			errs = append(errs, fmt.Errorf("original_prefix: %q is reserved for integrity attributes", p))
		}
	}
	if len(c.Sources) == 0 {
		errs = append(errs, fmt.Errorf("sources: list at least one of %s", strings.Join(knownSources, ", ")))
	}
	for i, s := range c.Sources {
		if !slices.Contains(knownSources, s) {
			errs = append(errs, fmt.Errorf("sources[%d]: unknown source %q (known: %s)", i, s, strings.Join(knownSources, ", ")))
		} else if slices.Index(c.Sources, s) != i {
			errs = append(errs, fmt.Errorf("sources[%d]: %q listed twice", i, s))
		}
	}
	return errors.Join(errs...)
}
