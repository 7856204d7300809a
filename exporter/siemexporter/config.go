package siemexporter

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/agentaudit/otelcol-agentaudit/pkg/siem"
)

// Config is the exporter's configuration (README.md).
type Config struct {
	// Format of each event: cef (default), ecs or leef.
	Format string `mapstructure:"format"`
	// CEF, ECS and LEEF configure the formatters; only the one Format names
	// is used.
	CEF  siem.Config     `mapstructure:"cef"`
	ECS  siem.ECSConfig  `mapstructure:"ecs"`
	LEEF siem.LEEFConfig `mapstructure:"leef"`

	// The transport: exactly one is set.
	File          *FileConfig          `mapstructure:"file"`
	Syslog        *SyslogConfig        `mapstructure:"syslog"`
	Elasticsearch *ElasticsearchConfig `mapstructure:"elasticsearch"`
	SplunkHEC     *SplunkHECConfig     `mapstructure:"splunk_hec"`

	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is on by default, in memory. Give it `storage:` (a
	// file_storage extension) so that a long SIEM outage or a restart loses
	// nothing that was queued.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// OnQueueFull decides what happens to records that arrive while the
	// sending queue is full (a long SIEM outage): drop (default) counts
	// them in otelcol_exporter_siem_events_dropped and answers success, so
	// the pipeline, and the archive exporter beside this one, go on;
	// refuse returns the error to the pipeline, which makes receivers
	// refuse data and holds the archive up too.
	OnQueueFull string `mapstructure:"on_queue_full"`
	// RetryConfig never gives up by default (max_elapsed_time: 0): a SIEM
	// outage delays events, it does not drop them.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const (
	onQueueFullDrop   = "drop"
	onQueueFullRefuse = "refuse"
)

// Unmarshal gives the file and syslog sections their defaults before the
// user's values are laid over them (a pointer section is otherwise all
// zero). The elasticsearch and splunk_hec sections set theirs in their own
// Unmarshal.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if conf.IsSet("file") && cfg.File == nil {
		cfg.File = &FileConfig{MaxSize: defaultFileMaxSize, Fsync: true}
	}
	if conf.IsSet("syslog") && cfg.Syslog == nil {
		d := newDefaultSyslogConfig()
		cfg.Syslog = &d
	}
	return conf.Unmarshal(cfg)
}

// Formats the exporter writes.
const (
	formatCEF  = "cef"
	formatECS  = "ecs"
	formatLEEF = "leef"
)

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Format {
	case formatCEF:
		if err := cfg.CEF.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("cef: %w", err))
		}
	case formatECS:
		if err := cfg.ECS.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("ecs: %w", err))
		}
	case formatLEEF:
		if err := cfg.LEEF.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("leef: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("format must be cef, ecs or leef, not %q", cfg.Format))
	}
	if cfg.OnQueueFull != onQueueFullDrop && cfg.OnQueueFull != onQueueFullRefuse {
		errs = append(errs, fmt.Errorf("on_queue_full must be drop or refuse, not %q", cfg.OnQueueFull))
	}
	n := 0
	for _, t := range []struct {
		name string
		set  bool
		v    interface{ Validate() error }
	}{
		{"file", cfg.File != nil, cfg.File},
		{"syslog", cfg.Syslog != nil, cfg.Syslog},
		{"elasticsearch", cfg.Elasticsearch != nil, cfg.Elasticsearch},
		{"splunk_hec", cfg.SplunkHEC != nil, cfg.SplunkHEC},
	} {
		if !t.set {
			continue
		}
		n++
		if err := t.v.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
		}
	}
	if n != 1 {
		errs = append(errs, errors.New("exactly one transport must be configured: file, syslog, elasticsearch or splunk_hec"))
	}
	if cfg.Elasticsearch != nil && cfg.Format != formatECS {
		errs = append(errs, errors.New("elasticsearch takes JSON documents: set format: ecs"))
	}
	if h := cfg.SplunkHEC; h != nil && h.UseAck && cfg.TimeoutConfig.Timeout > 0 && h.AckTimeout >= cfg.TimeoutConfig.Timeout {
		// The exporter's timeout covers the whole delivery, the wait for the
		// acknowledgement included: it would cut the wait short and resend
		// events Splunk may already have indexed.
		errs = append(errs, fmt.Errorf("splunk_hec: ack_timeout (%v) must be shorter than timeout (%v)", h.AckTimeout, cfg.TimeoutConfig.Timeout))
	}
	return errors.Join(errs...)
}

// formatter returns the configured formatter; agent is this collector,
// for ECS agent.*.
func (cfg *Config) formatter(agent siem.ECSAgent) (siem.Formatter, error) {
	switch cfg.Format {
	case formatECS:
		ecs := cfg.ECS
		ecs.Agent = agent
		return siem.NewECS(ecs)
	case formatLEEF:
		return siem.NewLEEF(cfg.LEEF)
	default:
		return siem.NewCEF(cfg.CEF)
	}
}
