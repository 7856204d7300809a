// Package signerextension holds the private key that signs the audit trail's
// checkpoints and hands it to the components that sign.
//
// A component that signs (a checkpoint is a C2SP signed note over the Merkle
// root of the trail) does not read a key file itself: its configuration
// names a signer extension and, in Start, it asks the host for it with
// GetSigner. The key is therefore configured, permission-checked and loaded
// once per collector, however many components sign with it, and the
// components see only the integrity.Signer interface, never key material.
//
// The file provider loads a PEM private key (Ed25519 or ECDSA P-256) that
// must not be readable by group or others. A TPM provider, keeping a key that
// never leaves the TPM, will implement the same integrity.Signer interface,
// so the components that sign will not change.
//
//go:generate go tool mdatagen metadata.yaml
package signerextension
