package agentauditreceiver

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Config is the receiver's configuration (README "agentaudit receiver").
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, auth, CORS,
	// max_request_body_size (a larger body gets 413).
	// A named field, not an embedded one: embedding would promote
	// ServerConfig's Unmarshal method and the fields below would be ignored.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// MaxEventsPerRequest bounds the events in one request; more gets 413.
	MaxEventsPerRequest int `mapstructure:"max_events_per_request"`

	// MaxNestingDepth bounds the nesting of objects and arrays inside an
	// attribute value or body; deeper gets 400.
	MaxNestingDepth int `mapstructure:"max_nesting_depth"`

	// MaxKeysPerObject bounds the keys of one object (the attributes or any
	// object inside a value); more gets 400. It bounds the CPU one request
	// can cost: building an object is quadratic in its keys.
	MaxKeysPerObject int `mapstructure:"max_keys_per_object"`

	// RetryAfter is the delay sent in Retry-After with 429 and 503 answers.
	RetryAfter time.Duration `mapstructure:"retry_after"`

	// Transcripts tails agent session files (transcripts.go); off while
	// include is empty.
	Transcripts TranscriptsConfig `mapstructure:"transcripts"`

	// prevent unkeyed literal initialization
	_ struct{}
}

func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty"))
	}
	if cfg.ServerConfig.MaxRequestBodySize <= 0 {
		errs = append(errs, fmt.Errorf("max_request_body_size must be positive, got %d", cfg.ServerConfig.MaxRequestBodySize))
	}
	if cfg.MaxEventsPerRequest <= 0 {
		errs = append(errs, fmt.Errorf("max_events_per_request must be positive, got %d", cfg.MaxEventsPerRequest))
	}
	if cfg.MaxNestingDepth <= 0 || cfg.MaxNestingDepth > 1000 {
		errs = append(errs, fmt.Errorf("max_nesting_depth must be between 1 and 1000, got %d", cfg.MaxNestingDepth))
	}
	if cfg.MaxKeysPerObject <= 0 || cfg.MaxKeysPerObject > 10_000 {
		errs = append(errs, fmt.Errorf("max_keys_per_object must be between 1 and 10000, got %d", cfg.MaxKeysPerObject))
	}
	if cfg.RetryAfter < time.Second {
		errs = append(errs, fmt.Errorf("retry_after must be at least 1s, got %s", cfg.RetryAfter))
	}
	if err := cfg.Transcripts.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("transcripts: %w", err))
	}
	return errors.Join(errs...)
}
