package loadgen

import (
	"bytes"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// Format is the wire format of a request.
type Format string

const (
	// Native is NDJSON for the agentaudit receiver's POST /v1/events.
	Native Format = "native"
	// OTLP is OTLP/HTTP protobuf for POST /v1/logs.
	OTLP Format = "otlp"
)

// ContentType is the Content-Type header of the format's requests.
func (f Format) ContentType() string {
	if f == OTLP {
		return "application/x-protobuf"
	}
	return "application/x-ndjson"
}

// Path is the URL path the format is posted to.
func (f Format) Path() string {
	if f == OTLP {
		return "/v1/logs"
	}
	return "/v1/events"
}

// ParseFormat reads "native" or "otlp".
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case Native, OTLP:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown format %q (native or otlp)", s)
}

// EncodeNDJSON is the native request body of events: one JSON line each.
func EncodeNDJSON(events []Event) []byte {
	var b bytes.Buffer
	for _, e := range events {
		b.Write(e.JSON)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// EncodeOTLP is the OTLP/HTTP protobuf request body of the same records
// the agentaudit receiver makes of the events (auditrecord.Decode: same
// attributes, body, severity and time), so both formats carry equal
// records to the pipeline.
func EncodeOTLP(events []Event) ([]byte, error) {
	ld, err := auditrecord.Decode(EncodeNDJSON(events), auditrecord.FormatNDJSON, auditrecord.DefaultLimits, time.Now())
	if err != nil {
		return nil, err
	}
	return plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
}

// Encode is the request body of events in format f.
func Encode(f Format, events []Event) ([]byte, error) {
	if f == OTLP {
		return EncodeOTLP(events)
	}
	return EncodeNDJSON(events), nil
}

// Request is one prepared request body.
type Request struct {
	Body   []byte
	Events int
}

// Prepare generates n events in requests of batch events (the last may be
// smaller), encoded in format f.
func Prepare(g *Generator, f Format, n, batch int) ([]Request, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("batch must be positive, got %d", batch)
	}
	var out []Request
	for done := 0; done < n; {
		k := min(batch, n-done)
		evs := make([]Event, k)
		for i := range evs {
			evs[i] = g.Next()
		}
		body, err := Encode(f, evs)
		if err != nil {
			return nil, err
		}
		out = append(out, Request{Body: body, Events: k})
		done += k
	}
	return out, nil
}
