package genaiconnector

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector/internal/metadata"
)

// NewFactory creates the genai connector factory.
func NewFactory() connector.Factory {
	return connector.NewFactory(metadata.Type, createDefaultConfig,
		connector.WithTracesToLogs(createTracesToLogs, metadata.TracesToLogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{KeepOriginal: KeepPrefix, OriginalPrefix: DefaultOriginalPrefix}
}

func createTracesToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Traces, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &genaiConnector{cfg: cfg.(*Config), next: next, tb: tb, logger: set.Logger, now: time.Now}, nil
}
