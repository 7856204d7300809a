package wormexporter

import (
	"errors"
	"strings"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config is the exporter's configuration (README "worm exporter").
type Config struct {
	// Local is the filesystem backend. It is the only backend so far; the
	// S3 Object Lock backend will sit beside it, and exactly one is set.
	Local *LocalConfig `mapstructure:"local"`

	// Origin names this collector in the keys of unchained records (chained
	// ones are keyed by their log id): one archive may hold the segments of
	// many collectors. Default: the host name.
	Origin string `mapstructure:"origin"`

	// StreamAttributes are the record attributes (then resource attributes)
	// whose first present value names the stream of a record that is not
	// chained (a chained record's stream is its audit.stream.id). Default:
	// session.id, host.id.
	StreamAttributes []string `mapstructure:"stream_attributes"`

	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is disabled by default: every write is then synchronous, so
	// the receiver acknowledges an event only once it is fsynced in the
	// archive. Enable it with `storage:` (a file_storage extension with
	// fsync) for throughput without losing that guarantee.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// RetryConfig never gives up by default (max_elapsed_time: 0): an audit
	// record is not dropped because the disk was briefly unavailable.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LocalConfig configures the filesystem backend.
type LocalConfig struct {
	// Directory is the archive root; created if missing.
	Directory string `mapstructure:"directory"`
}

func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Local == nil {
		errs = append(errs, errors.New("no backend configured: set local.directory"))
	} else if strings.TrimSpace(cfg.Local.Directory) == "" {
		errs = append(errs, errors.New("local.directory must not be empty"))
	}
	if len(cfg.StreamAttributes) == 0 {
		errs = append(errs, errors.New("stream_attributes must name at least one attribute"))
	}
	for _, a := range cfg.StreamAttributes {
		if a == "" {
			errs = append(errs, errors.New("stream_attributes must not contain an empty name"))
		}
	}
	return errors.Join(errs...)
}
