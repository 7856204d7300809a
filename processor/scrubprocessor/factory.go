package scrubprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor/internal/metadata"
)

// NewFactory creates the scrub processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

// createDefaultConfig: every class detected and masked, prompts and tool
// output digested. The digest needs a key, so the default configuration
// asks for one (hmac.key_file or hmac.key_env) rather than keep content raw.
func createDefaultConfig() component.Config {
	return &Config{
		ResourceAttributes: true,
		ScopeAttributes:    true,
		Content: ContentConfig{
			Action:       ContentHMAC,
			BodyOfEvents: append([]string(nil), defaultContentEvents...),
			Attributes:   append([]string(nil), defaultContentAttributes...),
		},
		HMAC:            HMACConfig{KeyID: defaultKeyID},
		ReportAttribute: defaultReportAttribute,
	}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	s, err := newScrubber(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, s.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(func(context.Context) error {
			s.tb.Shutdown()
			return nil
		}))
}
