// Package agentauditreceiver receives audit events from AI agents over the
// native HTTP API (POST /v1/events), validates them against the audit schema
// and hands them on as log records. A request is accepted whole or refused
// whole; the client sees 2xx only once the pipeline has taken the events.
//
//go:generate go tool mdatagen metadata.yaml
package agentauditreceiver
