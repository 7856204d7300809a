// Package siemexporter sends audit records to a SIEM in the format it parses
// natively (CEF, ECS JSON or LEEF, from pkg/siem) over one transport: syslog
// (RFC 5424 with octet counting over TCP or TLS, UDP, RFC 3164),
// Elasticsearch _bulk into a data stream, Splunk HEC with indexer
// acknowledgement, or rotating files. README.md documents the options and
// why the SIEM pipeline is kept apart from the archive pipeline.
//
//go:generate go tool mdatagen metadata.yaml
package siemexporter
