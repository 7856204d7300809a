package wormexporter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
)

// Config is the exporter's configuration (README "worm exporter").
type Config struct {
	// Local is the filesystem backend; S3 the S3 Object Lock backend.
	// Exactly one is set.
	Local *LocalConfig `mapstructure:"local"`
	S3    *S3Config    `mapstructure:"s3"`

	// Compression of segment objects: none, gzip or zstd. Default: zstd
	// for s3, none for local.
	Compression string `mapstructure:"compression"`

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

// S3Config configures the S3 Object Lock backend.
type S3Config struct {
	// Endpoint is the URL of an S3-compatible service; empty means AWS S3
	// in Region.
	Endpoint string `mapstructure:"endpoint"`
	Region   string `mapstructure:"region"`
	Bucket   string `mapstructure:"bucket"`
	// Prefix is put before every object key, e.g. "audit/".
	Prefix string `mapstructure:"prefix"`
	// PathStyle addresses the bucket as endpoint/bucket (MinIO and most
	// S3-compatible services need it).
	PathStyle bool `mapstructure:"path_style"`
	// TLS for https endpoints: a private CA (ca_file), client certificates.
	TLS configtls.ClientConfig `mapstructure:"tls"`

	// Static credentials. When unset, the AWS SDK's standard chain is used
	// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared files and Profile,
	// web identity, ECS and EC2 roles).
	AccessKeyID     string              `mapstructure:"access_key_id"`
	SecretAccessKey configopaque.String `mapstructure:"secret_access_key"`
	SessionToken    configopaque.String `mapstructure:"session_token"`
	Profile         string              `mapstructure:"profile"`

	ObjectLock ObjectLockConfig `mapstructure:"object_lock"`

	// OnUnreachableAtStart is what happens when the service does not answer
	// at start-up: "fail" (default) stops the collector with the error;
	// "retry" starts anyway and repeats the bucket check before the first
	// write, while records wait in the sending queue. Wrong credentials or
	// a bucket without Object Lock always fail the start.
	OnUnreachableAtStart string `mapstructure:"on_unreachable_at_start"`
}

// ObjectLockConfig is the retention every object is written with.
type ObjectLockConfig struct {
	// Mode is COMPLIANCE (default: nobody can delete or shorten the
	// retention, not even the account root) or GOVERNANCE (users with
	// s3:BypassGovernanceRetention can).
	Mode string `mapstructure:"mode"`
	// Retention is how long after it is written an object stays locked
	// (e.g. 61320h for 7 years). Required: there is no safe default.
	Retention time.Duration `mapstructure:"retention"`
	// LegalHold places a legal hold on every object as well; it lasts
	// until someone with s3:PutObjectLegalHold removes it.
	LegalHold bool `mapstructure:"legal_hold"`
}

const (
	unreachableFail  = "fail"
	unreachableRetry = "retry"
)

func (c *S3Config) validate() []error {
	var errs []error
	if strings.TrimSpace(c.Bucket) == "" {
		errs = append(errs, errors.New("s3.bucket must be set"))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("s3.endpoint %q must be an http:// or https:// URL", c.Endpoint))
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("s3.access_key_id and s3.secret_access_key go together: set both, or neither to use the AWS credential chain"))
	}
	if c.SessionToken != "" && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
		// It would be ignored without a word, and the chain used instead.
		errs = append(errs, errors.New("s3.session_token is only used with s3.access_key_id and s3.secret_access_key"))
	}
	switch strings.ToUpper(c.ObjectLock.Mode) {
	case "", "COMPLIANCE", "GOVERNANCE":
	default:
		errs = append(errs, fmt.Errorf("s3.object_lock.mode %q must be COMPLIANCE or GOVERNANCE", c.ObjectLock.Mode))
	}
	if c.ObjectLock.Retention < time.Second {
		errs = append(errs, errors.New("s3.object_lock.retention must be set, e.g. 61320h (7 years): objects stay undeletable that long after they are written"))
	}
	switch c.OnUnreachableAtStart {
	case "", unreachableFail, unreachableRetry:
	default:
		errs = append(errs, fmt.Errorf("s3.on_unreachable_at_start %q must be fail or retry", c.OnUnreachableAtStart))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("s3.tls: %w", err))
	}
	return errs
}

func (cfg *Config) Validate() error {
	var errs []error
	switch {
	case cfg.Local != nil && cfg.S3 != nil:
		errs = append(errs, errors.New("set one backend, local or s3, not both (run two worm exporters to write both)"))
	case cfg.Local == nil && cfg.S3 == nil:
		errs = append(errs, errors.New("no backend configured: set local.directory or s3.bucket"))
	case cfg.Local != nil && strings.TrimSpace(cfg.Local.Directory) == "":
		errs = append(errs, errors.New("local.directory must not be empty"))
	case cfg.S3 != nil:
		errs = append(errs, cfg.S3.validate()...)
	}
	if _, err := archive.ParseCompression(cfg.Compression); err != nil {
		errs = append(errs, err)
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

// compression is the codec segments are written with.
func (cfg *Config) compression() archive.Compression {
	if cfg.Compression == "" && cfg.S3 != nil {
		return archive.CompressionZstd
	}
	c, _ := archive.ParseCompression(cfg.Compression)
	return c
}

// lockMode is the configured Object Lock mode, COMPLIANCE unless set.
func (c *S3Config) lockMode() string {
	if c.ObjectLock.Mode == "" {
		return "COMPLIANCE"
	}
	return strings.ToUpper(c.ObjectLock.Mode)
}
