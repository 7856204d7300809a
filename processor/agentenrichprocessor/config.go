package agentenrichprocessor

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Defaults of the file hashing settings.
const (
	// defaultMaxFileSize bounds what one record can make the collector read:
	// 16 MiB covers source files, configs and documents, the files agents
	// usually touch, and hashes in a few tens of milliseconds.
	defaultMaxFileSize = 16 << 20
	// defaultHashTimeout bounds the time hashing adds to one batch, so a
	// slow or hung disk delays the pipeline by this much at most.
	defaultHashTimeout = 2 * time.Second
)

// defaultExcludedPaths are pseudo file systems: their "regular" files are
// kernel state (a process's environment, memory maps), not resources an
// audit record should fingerprint, and reading some has side effects.
var defaultExcludedPaths = []string{"/proc", "/sys", "/dev"}

// Config is the agentenrich processor's configuration.
type Config struct {
	// HostIdentity adds host.id and host.name of the collector's host to
	// records that carry neither on the record nor on its resource.
	HostIdentity bool `mapstructure:"host_identity"`
	// CollectorIdentity adds agent_audit.collector.id, .version and .host.
	CollectorIdentity bool `mapstructure:"collector_identity"`
	// UserFromProcess adds user.name of the OS user the collector runs as.
	// Off by default: that user is usually a service account, not the
	// person the agent acts for, and a wrong user.name is worse than none.
	UserFromProcess bool `mapstructure:"user_from_process"`

	// HashFiles computes agent_audit.file.sha256 of the file that a file
	// event (agent_audit.file.read, .write, .delete) names.
	HashFiles bool `mapstructure:"hash_files"`
	// HashAnyFilePath extends hashing to every record with a file.path.
	HashAnyFilePath bool `mapstructure:"hash_any_file_path"`
	// AllowedPaths restricts hashing to files below these directories,
	// symbolic links resolved; empty allows every absolute path.
	AllowedPaths []string `mapstructure:"allowed_paths"`
	// ExcludedPaths are never hashed, even below an allowed path.
	ExcludedPaths []string `mapstructure:"excluded_paths"`
	// MaxFileSize is the largest file hashed, in bytes.
	MaxFileSize int64 `mapstructure:"max_file_size"`
	// HashTimeout bounds the hashing time of one batch; files not hashed
	// by then are marked timeout.
	HashTimeout time.Duration `mapstructure:"hash_timeout"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	checkPaths := func(key string, paths []string) {
		for i, p := range paths {
			switch {
			case p == "":
				errs = append(errs, fmt.Errorf("%s[%d]: must not be empty", key, i))
			case !filepath.IsAbs(p):
				// A relative prefix would depend on the collector's working
				// directory, which has nothing to do with the agent's.
				errs = append(errs, fmt.Errorf("%s[%d]: must be an absolute path, got %q", key, i, p))
			}
		}
	}
	checkPaths("allowed_paths", c.AllowedPaths)
	checkPaths("excluded_paths", c.ExcludedPaths)
	if c.MaxFileSize <= 0 {
		errs = append(errs, fmt.Errorf("max_file_size: must be positive, got %d", c.MaxFileSize))
	}
	if c.HashTimeout <= 0 {
		errs = append(errs, fmt.Errorf("hash_timeout: must be positive, got %s", c.HashTimeout))
	}
	if !c.HostIdentity && !c.CollectorIdentity && !c.UserFromProcess && !c.HashFiles {
		errs = append(errs, errors.New("nothing to do: enable at least one of host_identity, collector_identity, user_from_process, hash_files"))
	}
	return errors.Join(errs...)
}
