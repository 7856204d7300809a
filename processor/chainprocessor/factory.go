package chainprocessor

import (
	"context"
	"os"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/chainprocessor/internal/metadata"
)

// NewFactory creates the chain processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{StreamAttributes: []string{"session.id", "host.id"}}
}

// logs holds one chainLog per component id: a chain processor listed in
// several pipelines is one log, not several logs fighting over one storage
// key and one origin.
var (
	logsMu sync.Mutex
	logs   = map[component.ID]*chainLog{}
)

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c := cfg.(*Config)
	logsMu.Lock()
	defer logsMu.Unlock()
	cl, ok := logs[set.ID]
	if !ok || cl.cfg != c {
		origin := c.Origin
		if origin == "" {
			host, err := os.Hostname()
			if err != nil {
				return nil, err
			}
			origin = integrity.OriginForHost(host)
		}
		if err := integrity.ValidateOrigin(origin); err != nil {
			return nil, err
		}
		var err error
		if cl, err = newChainLog(c, set, origin); err != nil {
			return nil, err
		}
		logs[set.ID] = cl
	}
	return &chainProcessor{log: cl, next: next}, nil
}
