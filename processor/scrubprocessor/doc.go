// Package scrubprocessor keeps credentials and unwanted personal data out of
// the audit trail. It runs before the chain processor, so records are hashed
// as they leave it: a secret is masked (or replaced by a keyed HMAC
// pseudonym, or its attribute or record dropped) before anything commits to
// it. Prompts and tool output (Tier 2 content) are replaced by their keyed
// HMAC-SHA256 digest unless the configuration keeps them raw. Detection is
// pkg/secrets; this package walks the records and applies the actions.
//
//go:generate go tool mdatagen metadata.yaml
package scrubprocessor
