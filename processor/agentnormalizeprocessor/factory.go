package agentnormalizeprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadata"
)

// NewFactory creates the agentnormalize processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

// createDefaultConfig normalizes every known source and keeps what the
// agent sent under agent_audit.source.: an audit trail should not lose
// evidence unless the operator says so.
func createDefaultConfig() component.Config {
	return &Config{
		KeepOriginal:   KeepPrefix,
		OriginalPrefix: defaultOriginalPrefix,
		Sources:        append([]string(nil), knownSources...),
	}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	n, err := newNormalizer(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, n.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(func(context.Context) error {
			n.tb.Shutdown()
			return nil
		}))
}
