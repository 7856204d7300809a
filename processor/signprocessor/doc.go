// Package signprocessor seals the chain processor's Merkle log: every
// interval, every N records and at shutdown it signs a C2SP tlog-checkpoint
// of the log as a C2SP signed note, with the key of a signer extension, and
// emits it as a record (agent_audit.checkpoint) into the same pipeline, so
// it reaches the archive and the SIEM beside the records it commits to.
// Signing happens on its own goroutine, never on the path of a batch: a
// hardware TPM signs a few times a second at best.
//
//go:generate go tool mdatagen metadata.yaml
package signprocessor
