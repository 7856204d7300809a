package siemexporter

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/exporter/siemexporter/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/siem"
)

// NewFactory creates the siem exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability))
}

// defaultTimeout bounds one delivery; with Splunk HEC it includes waiting
// for the indexer acknowledgement.
const defaultTimeout = 30 * time.Second

func createDefaultConfig() component.Config {
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 0
	return &Config{
		Format:        formatCEF,
		OnQueueFull:   onQueueFullDrop,
		CEF:           siem.DefaultConfig(),
		ECS:           siem.DefaultECSConfig(),
		LEEF:          siem.DefaultLEEFConfig(),
		TimeoutConfig: exporterhelper.TimeoutConfig{Timeout: defaultTimeout},
		QueueConfig:   configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:   retry,
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e, err := newSIEMExporter(c, set)
	if err != nil {
		return nil, err
	}
	return wrapExporter(ctx, set, c, e)
}

// wrapExporter puts exporterhelper's timeout, queue and retry around e.
func wrapExporter(ctx context.Context, set exporter.Settings, c *Config, e *siemExporter) (exporter.Logs, error) {
	exp, err := exporterhelper.NewLogs(ctx, set, c, e.pushLogs,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.RetryConfig),
	)
	if err != nil || c.OnQueueFull == onQueueFullRefuse || !c.QueueConfig.HasValue() {
		return exp, err
	}
	return dropWhenFull{Logs: exp, e: e}, nil
}

// dropWhenFull answers success for records the full sending queue refused,
// after counting them: the SIEM is a copy, the archive is the record, and a
// SIEM outage must not stop the records reaching the archive (the worm
// exporter gets them from the same pipeline, or through a connector).
type dropWhenFull struct {
	exporter.Logs
	e *siemExporter
}

func (d dropWhenFull) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	err := d.Logs.ConsumeLogs(ctx, ld)
	if errors.Is(err, exporterhelper.ErrQueueIsFull) {
		d.e.dropped(ctx, ld.LogRecordCount())
		return nil
	}
	return err
}
