package agentenrichprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/agentaudit/otelcol-agentaudit/processor/agentenrichprocessor/internal/metadata"
)

// NewFactory creates the agentenrich processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

// createDefaultConfig adds host and collector identity and hashes the
// files of file events; the process user stays off (see Config).
func createDefaultConfig() component.Config {
	return &Config{
		HostIdentity:      true,
		CollectorIdentity: true,
		HashFiles:         true,
		ExcludedPaths:     append([]string(nil), defaultExcludedPaths...),
		MaxFileSize:       defaultMaxFileSize,
		HashTimeout:       defaultHashTimeout,
	}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	e, err := newEnricher(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, e.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithStart(e.start),
		processorhelper.WithShutdown(func(context.Context) error {
			e.tb.Shutdown()
			return nil
		}))
}
