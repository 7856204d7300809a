// Package wormexporter archives audit records as immutable segments (write
// once, read many): NDJSON files keyed by origin, stream and range, written
// so that nothing is ever overwritten and a retry cannot create a second copy.
// The local filesystem backend is the embedded default; the S3 backend writes
// every object under Object Lock. docs/archive.md describes the layout.
//
//go:generate go tool mdatagen metadata.yaml
package wormexporter
