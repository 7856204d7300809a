package siemexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// event is one audit record, formatted and ready for a transport.
type event struct {
	// id is stable for a record: the same record always gets the same id
	// (hex, 40 characters), so a retried delivery can be recognised
	// (Elasticsearch _id, HEC dedup).
	id string
	// time is the record's Timestamp, or its ObservedTimestamp when unset.
	time time.Time
	// host is the host the record comes from (host.name, else host.id), or
	// "" when the record has neither.
	host string
	// name is the record's event type (EventName), e.g. agent_audit.tool.call.
	name string
	// severity is the CEF severity, 0 (lowest) to 10 (siem.Severity).
	severity int
	// payload is the formatted event (a CEF or LEEF line, or an ECS JSON
	// document), without a line terminator.
	payload []byte
}

// transport delivers events to one SIEM.
type transport interface {
	start(ctx context.Context, host component.Host) error
	// send delivers events, in order. nil means every event was delivered
	// or was refused for good by the SIEM and reported through
	// transportSettings.rejected. An error marked with
	// consumererror.NewPermanent drops the batch (exporterhelper does not
	// retry it); any other error makes exporterhelper retry the whole
	// batch, so a transport resends events it had already delivered
	// only where the SIEM recognises them (Elasticsearch create with our
	// id) or documents the duplicates.
	send(ctx context.Context, events []event) error
	shutdown(ctx context.Context) error
}

// transportSettings is what every transport gets from the exporter.
type transportSettings struct {
	telemetry component.TelemetrySettings
	logger    *zap.Logger
	// format is the formatter's name: "cef", "leef" or "ecs" (JSON
	// documents).
	format string
	// rejected counts events the SIEM refused for good (e.g. an
	// Elasticsearch 400 mapping error): they are not retried.
	rejected func(ctx context.Context, n int, reason string)
}
