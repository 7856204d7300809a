package chainprocessor

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// Config is the chain processor's configuration.
type Config struct {
	// Origin names this collector's log; the log id and the checkpoint
	// origin line are "<origin>/<epoch>". Default: the host name (spaces,
	// control characters and '+' replaced by '-'). It must be
	// unique among the collectors that write to one archive.
	Origin string `mapstructure:"origin"`
	// StreamAttributes picks a record's stream: the first of these present
	// on the record's attributes, then on its resource's attributes.
	// Records with none of them form the stream "".
	StreamAttributes []string `mapstructure:"stream_attributes"`
	// Storage is the storage extension (file_storage with fsync: true) that
	// keeps stream heads and the Merkle log across restarts. Without it
	// every start begins a new log.
	Storage *component.ID `mapstructure:"storage"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Origin != "" {
		if err := integrity.ValidateOrigin(c.Origin); err != nil {
			errs = append(errs, fmt.Errorf("origin: %w", err))
		}
	}
	if len(c.StreamAttributes) == 0 {
		errs = append(errs, errors.New("stream_attributes: list at least one attribute (default: session.id, host.id)"))
	}
	for _, a := range c.StreamAttributes {
		if a == "" {
			errs = append(errs, errors.New("stream_attributes: empty attribute name"))
		}
	}
	return errors.Join(errs...)
}
