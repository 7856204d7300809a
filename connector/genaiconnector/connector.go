package genaiconnector

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector/internal/metadata"
)

// genaiConnector converts each traces batch into one logs batch. It keeps no
// state between batches, so gateways running it scale out like the rest of
// the pipeline.
type genaiConnector struct {
	component.StartFunc

	cfg    *Config
	next   consumer.Logs
	tb     *metadata.TelemetryBuilder
	logger *zap.Logger
	now    func() time.Time
}

func (c *genaiConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeTraces converts and hands the records on. An error of the logs
// pipeline goes back to the receiver unchanged, so the sender is told to
// retry (pushback) instead of the records being dropped here.
func (c *genaiConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	cv := converter{cfg: c.cfg, observed: c.now()}
	ld := cv.convert(td)
	n := ld.LogRecordCount()
	if n > 0 {
		if err := c.next.ConsumeLogs(ctx, ld); err != nil {
			return err
		}
	}
	// Counted once the records are accepted downstream: a refused batch is
	// sent again by the client and would otherwise count twice.
	for op, k := range cv.stats.converted {
		c.tb.ConnectorGenaiSpansConverted.Add(ctx, k, metric.WithAttributes(attribute.String("operation", op)))
	}
	for reason, k := range cv.stats.unmapped {
		c.tb.ConnectorGenaiRecordsUnmapped.Add(ctx, k, metric.WithAttributes(attribute.String("reason", reason)))
	}
	if cv.stats.skipped > 0 {
		c.tb.ConnectorGenaiSpansSkipped.Add(ctx, cv.stats.skipped)
	}
	if n > 0 {
		c.tb.ConnectorGenaiRecordsEmitted.Add(ctx, int64(n))
	}
	if len(cv.stats.unmapped) > 0 {
		c.logger.Debug("GenAI spans or span events recorded as agent_audit.unmapped", zap.Any("reasons", cv.stats.unmapped))
	}
	return nil
}

// Shutdown releases the telemetry instruments.
func (c *genaiConnector) Shutdown(context.Context) error {
	c.tb.Shutdown()
	return nil
}
