// Package genaiconnector turns spans that follow the OpenTelemetry GenAI
// semantic conventions (invoke_agent, execute_tool and inference spans, with
// their gen_ai events) into audit records of the documented event types
// (docs/schema.md, "OpenTelemetry GenAI spans"). It is a traces-to-logs
// connector because the conversion changes the signal: an application's
// traces pipeline feeds it, and the audit logs pipeline (scrub, chain, sign,
// archive) takes its records. Nothing the mapping does not know is dropped
// silently: such spans and span events become agent_audit.source.unmapped
// records that say why (agent_audit.unmapped, a reason code).
//
//go:generate go tool mdatagen metadata.yaml
package genaiconnector
