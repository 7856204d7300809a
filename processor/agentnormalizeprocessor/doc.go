// Package agentnormalizeprocessor turns the OpenTelemetry log events that
// real coding agents emit (Claude Code's claude_code.* events, OpenAI Codex
// CLI's codex.* events) into the audit events of docs/schema.md, so that an
// agent needs no plugin of this project to be audited: pointing its OTLP
// exporter at the collector is enough. Records it cannot map pass on as
// agent_audit.source.unmapped with a reason code, their original attributes
// kept, never dropped; records of other origins pass unchanged.
//
//go:generate go tool mdatagen metadata.yaml
package agentnormalizeprocessor
