package agentauditreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver/internal/metadata"
)

const (
	defaultEndpoint = "localhost:4320"
	// Large enough for a batch of 1,000 events of 4 KB; far below what
	// would let one client exhaust the collector's memory.
	defaultMaxRequestBodySize = 4 << 20
)

// NewFactory creates the agentaudit receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	server.MaxRequestBodySize = defaultMaxRequestBodySize
	return &Config{
		ServerConfig:        server,
		MaxEventsPerRequest: auditrecord.DefaultLimits.MaxEvents,
		MaxNestingDepth:     auditrecord.DefaultLimits.MaxDepth,
		MaxKeysPerObject:    auditrecord.DefaultLimits.MaxKeys,
		RetryAfter:          time.Second,
		Transcripts:         defaultTranscriptsConfig(),
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(cfg.(*Config), set, next)
}
