// Package agentenrichprocessor adds to audit records the facts their source
// left out and the collector can establish itself: the host's identity
// (host.id, host.name), the collector's identity (agent_audit.collector.*),
// optionally the OS user it runs as, and the SHA-256 of the files that file
// events name, so the record fingerprints the resource it is about. Every
// attribute it adds is listed in agent_audit.enriched, so an auditor can
// tell what the source said from what the collector added.
//
//go:generate go tool mdatagen metadata.yaml
package agentenrichprocessor
