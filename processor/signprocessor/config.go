package signprocessor

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config is the sign processor's configuration.
type Config struct {
	// Signer is the signer extension holding the checkpoint key.
	Signer component.ID `mapstructure:"signer"`
	// Interval: a checkpoint at least this often while the log grows.
	Interval time.Duration `mapstructure:"interval"`
	// MaxRecords: a checkpoint as soon as the log grew by this many records
	// since the last one (0: by interval only).
	MaxRecords uint64 `mapstructure:"max_records"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Signer.Type().String() == "" {
		errs = append(errs, errors.New("signer: name the signer extension that holds the checkpoint key"))
	}
	if c.Interval < 100*time.Millisecond {
		errs = append(errs, errors.New("interval: must be at least 100ms"))
	}
	return errors.Join(errs...)
}
