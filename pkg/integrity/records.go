package integrity

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// NewCollectorBatch starts a batch of records the integrity components write
// themselves (epoch starts, void notices, checkpoints, key announcements):
// resource service.name "otelcol-agentaudit", scope the writing component.
func NewCollectorBatch(scopeName string) (plog.Logs, plog.ScopeLogs) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "otelcol-agentaudit")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	return ld, sl
}

// AppendCollectorRecord adds one such record, stamped now.
func AppendCollectorRecord(sl plog.ScopeLogs, event string, sev plog.SeverityNumber, now pcommon.Timestamp) plog.LogRecord {
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(now)
	lr.SetObservedTimestamp(now)
	lr.SetEventName(event)
	lr.SetSeverityNumber(sev)
	return lr
}
