package signprocessor

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"
)

// Config is the sign processor's configuration.
type Config struct {
	// Signer is the signer extension holding the checkpoint key.
	Signer component.ID `mapstructure:"signer"`
	// PreviousSigner, when set, is the signer extension holding the key
	// that Signer's key replaces. The first checkpoint of every log in this
	// process is signed by both keys: the old key vouches for the new one,
	// and a verifier that trusts the old key follows the rotation. Remove
	// it once the transition checkpoint is archived.
	PreviousSigner *component.ID `mapstructure:"previous_signer"`
	// Interval: a checkpoint at least this often while the log grows.
	Interval time.Duration `mapstructure:"interval"`
	// MaxRecords: a checkpoint as soon as the log grew by this many records
	// since the last one (0: by interval only).
	MaxRecords uint64 `mapstructure:"max_records"`
	// Timestamp, when its endpoint is set, sends each checkpoint's digest
	// to an RFC 3161 time-stamp authority and emits the token it returns.
	Timestamp TimestampConfig `mapstructure:"timestamp"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TimestampConfig configures RFC 3161 time stamps of checkpoints.
type TimestampConfig struct {
	// ClientConfig is the TSA's URL (endpoint), TLS, headers and timeout.
	confighttp.ClientConfig `mapstructure:",squash"`
	// MaxBackoff bounds the wait between attempts while the TSA fails.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
}

// Unmarshal decodes the time-stamp settings. Without it, the Unmarshal of
// the embedded confighttp.ClientConfig would be promoted to this type and
// decode the HTTP client settings alone, silently dropping max_backoff.
// conf.Unmarshal here skips this method (confmap calls it with the
// top-level Unmarshaler disabled) and lets confmap call the embedded
// ClientConfig's Unmarshal for its part and decode the rest. (As for every
// config embedding a squashed Unmarshaler, confmap then ignores unknown
// keys in this section.)
func (c *TimestampConfig) Unmarshal(conf *confmap.Conf) error {
	return conf.Unmarshal(c)
}

// Enabled reports whether checkpoints are time-stamped.
func (c *TimestampConfig) Enabled() bool { return c.Endpoint != "" }

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Signer.Type().String() == "" {
		errs = append(errs, errors.New("signer: name the signer extension that holds the checkpoint key"))
	}
	if c.PreviousSigner != nil && *c.PreviousSigner == c.Signer {
		errs = append(errs, fmt.Errorf("previous_signer: %q is the signer itself; name the extension holding the key being replaced", c.Signer))
	}
	if c.Interval < 100*time.Millisecond {
		errs = append(errs, errors.New("interval: must be at least 100ms"))
	}
	if c.Timestamp.Enabled() {
		if c.Timestamp.Timeout <= 0 {
			errs = append(errs, errors.New("timestamp.timeout: must be positive, so a hanging TSA cannot hold a token back forever"))
		}
		if c.Timestamp.MaxBackoff < time.Second {
			errs = append(errs, errors.New("timestamp.max_backoff: must be at least 1s"))
		}
	}
	return errors.Join(errs...)
}
