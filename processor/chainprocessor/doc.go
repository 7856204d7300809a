// Package chainprocessor makes audit records tamper-evident: it gives each
// record a sequence number and a hash link in its stream (a session, a host)
// and appends the link to the collector's RFC 6962 Merkle log, whose signed
// checkpoints (the sign processor) then commit to every record at once.
// State is made durable before a batch is passed on, so a crash never
// reuses a sequence number; lost state starts a new log with a record that
// says so. docs/integrity.md describes the construction.
//
//go:generate go tool mdatagen metadata.yaml
package chainprocessor
