package siem

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Formatter writes one audit record as one SIEM event. Implementations are
// safe for concurrent use, write no line terminator, and guarantee that
// nothing a record holds can end the event early or forge another field.
type Formatter interface {
	// Append appends the event of one record to dst and returns the
	// extended buffer.
	Append(dst []byte, res pcommon.Resource, lr plog.LogRecord) []byte
}

var _ Formatter = (*CEF)(nil)
