package signprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/agentaudit/otelcol-agentaudit/processor/signprocessor/internal/metadata"
)

// NewFactory creates the sign processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	ts := confighttp.NewDefaultClientConfig()
	ts.Timeout = 10 * time.Second
	return &Config{
		Signer:     component.MustNewID("signer"),
		Interval:   10 * time.Second,
		MaxRecords: 10000,
		Timestamp:  TimestampConfig{ClientConfig: ts, MaxBackoff: time.Minute},
	}
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	return newSignProcessor(cfg.(*Config), set, next)
}
