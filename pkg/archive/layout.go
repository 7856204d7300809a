// Package archive defines the layout of the WORM archive (object keys and the
// segment format) and the storage backends that hold it. The wormexporter
// writes it; auditctl reads it. docs/archive.md documents the layout.
package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// SegmentSuffix ends the key of every segment object.
const SegmentSuffix = ".ndjson"

// ErrConflict is returned when a key already holds different content. It
// never happens to segments written by this package, whose keys contain the
// digest of their content, unless the archive was tampered with.
var ErrConflict = errors.New("archive: key already holds different content")

// Backend stores immutable objects.
type Backend interface {
	// Put stores data under key without ever replacing an existing object.
	// Putting the same bytes again is a success with existed=true, so a
	// retried write cannot create a second copy; different bytes under an
	// existing key is ErrConflict.
	Put(ctx context.Context, key string, data []byte) (existed bool, err error)
}

// The archive layout (version 2, docs/archive.md). Every object is a
// segment of archive lines (integrity.AppendLine); its key says what it holds:
//
//	<origin>/<epoch>/streams/<stream>/seq-<first>-<last>-<digest>.ndjson   chained records of one stream
//	<origin>/<epoch>/checkpoints/checkpoint-<size>-<digest>.ndjson          a signed checkpoint of the log
//	<origin>/<epoch>/checkpoints/key-<name>-<digest>.ndjson                 a key announcement
//	<origin>/unchained/<stream>/time-<first>-<last>-<digest>.ndjson        records without chain attributes
//
// <origin>/<epoch> is the log id (audit.log.id) of the chain processor that
// chained the records; for unchained records origin is the exporter's.
// Sequence numbers, sizes and times are zero-padded to 20 digits so listings
// sort in order (the epoch, a Unix time in nanoseconds, has 19 digits until
// 2286); digest is
// the first 16 hex digits of the SHA-256 of the segment, so a retried write
// of the same segment finds it there and a different one cannot replace it.

// ChainedSegmentKey is the key of a segment of chained records of one stream.
func ChainedSegmentKey(origin string, epoch uint64, stream string, first, last uint64, data []byte) string {
	return fmt.Sprintf("%s/%d/streams/%s/seq-%020d-%020d-%s%s",
		EscapeName(origin), epoch, EscapeName(stream), first, last, shortDigest(data), SegmentSuffix)
}

// CheckpointKey is the key of a checkpoint record of a log at a size.
func CheckpointKey(origin string, epoch uint64, size uint64, data []byte) string {
	return fmt.Sprintf("%s/%d/checkpoints/checkpoint-%020d-%s%s",
		EscapeName(origin), epoch, size, shortDigest(data), SegmentSuffix)
}

// TimestampKey is the key of a time-stamp record for a checkpoint of a log
// at a size.
func TimestampKey(origin string, epoch uint64, size uint64, data []byte) string {
	return fmt.Sprintf("%s/%d/checkpoints/timestamp-%020d-%s%s",
		EscapeName(origin), epoch, size, shortDigest(data), SegmentSuffix)
}

// KeyAnnouncementKey is the key of a key-announcement record.
func KeyAnnouncementKey(origin string, epoch uint64, keyName string, data []byte) string {
	return fmt.Sprintf("%s/%d/checkpoints/key-%s-%s%s",
		EscapeName(origin), epoch, EscapeName(keyName), shortDigest(data), SegmentSuffix)
}

// UnchainedSegmentKey is the key of a segment of records without chain
// attributes; first and last are their earliest and latest time stamps in
// Unix nanoseconds.
func UnchainedSegmentKey(origin, stream string, first, last uint64, data []byte) string {
	return fmt.Sprintf("%s/unchained/%s/time-%020d-%020d-%s%s",
		EscapeName(origin), EscapeName(stream), first, last, shortDigest(data), SegmentSuffix)
}

func shortDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// maxEscapedName keeps a path element well under the 255-byte limit of
// common file systems and the 1024-byte limit of S3 keys.
const maxEscapedName = 128

// EscapeName turns an origin or stream id into one safe key element: ASCII
// letters, digits, '_' and '-' stay, every other byte becomes %XX (so "." and
// ".." cannot occur). Names whose escaped form is too long are cut and end
// in "~" and 16 hex digits of their SHA-256; the records keep the full id.
func EscapeName(name string) string {
	if name == "" {
		return "%00"
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if len(s) <= maxEscapedName {
		return s
	}
	sum := sha256.Sum256([]byte(name))
	cut := s[:maxEscapedName-17]
	// Do not cut an escape sequence in half.
	if i := strings.LastIndexByte(cut, '%'); i >= len(cut)-2 {
		cut = cut[:i]
	}
	return cut + "~" + hex.EncodeToString(sum[:8])
}

// DecodeSegment parses segment bytes back into one plog.Logs per line, with
// the integrity attributes of chained records restored.
func DecodeSegment(data []byte) ([]plog.Logs, error) {
	var out []plog.Logs
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
		h, rec, err := integrity.ParseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		ld, err := integrity.LogsFromCanonical(rec, h)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, ld)
	}
	return out, nil
}
