package wormexporter

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/agentaudit/otelcol-agentaudit/exporter/wormexporter/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// NewFactory creates the worm exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability))
}

// defaultTimeout bounds one export: with the S3 backend a batch is a PUT
// of a few MB per stream, which the exporterhelper's 5 s default cuts off
// on a slow link.
const defaultTimeout = 30 * time.Second

func createDefaultConfig() component.Config {
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 0
	queue := exporterhelper.NewDefaultQueueConfig()
	return &Config{
		StreamAttributes: []string{auditrecord.AttrSessionID, auditrecord.AttrHostID},
		TimeoutConfig:    exporterhelper.TimeoutConfig{Timeout: defaultTimeout},
		QueueConfig:      configoptional.Default(queue),
		RetryConfig:      retry,
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	origin := c.Origin
	if origin == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		origin = host
	}
	e, err := newWormExporter(c, set, origin)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// The exporter only reads records; the archive holds exact copies.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.RetryConfig),
	)
	if err != nil || !c.QueueConfig.HasValue() || c.QueueConfig.Get().StorageID == nil {
		return exp, err
	}
	// A persistent queue: see storageGuard.
	return guardedLogs{Logs: exp, guard: newStorageGuard(*c.QueueConfig.Get().StorageID, set.Logger, e.telemetry)}, nil
}
