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

// RangeKind says what the range in a segment key counts.
type RangeKind string

const (
	// RangeSequence: the records carry audit.sequence.number and the range is
	// the first and last sequence number.
	RangeSequence RangeKind = "seq"
	// RangeTime: records without sequence numbers; the range is the earliest
	// and latest record time stamp in Unix nanoseconds.
	RangeTime RangeKind = "time"
)

// SegmentKey is the object key of a segment:
//
//	<origin>/<stream>/<kind>-<first>-<last>-<digest>.ndjson
//
// first and last are zero-padded to 20 digits so keys sort in range order;
// digest is the first 16 hex digits of the SHA-256 of the segment bytes.
func SegmentKey(origin, stream string, kind RangeKind, first, last uint64, data []byte) string {
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%s/%s/%s-%020d-%020d-%s%s",
		EscapeName(origin), EscapeName(stream), kind, first, last, hex.EncodeToString(sum[:8]), SegmentSuffix)
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

// EncodeRecord returns one segment line: the record with its resource and
// scope as an OTLP/JSON LogsData document holding exactly that record,
// followed by '\n'. OTLP/JSON keeps every attribute's type (64-bit integers
// as strings), so the line decodes back to the same record.
func EncodeRecord(rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) ([]byte, error) {
	one := plog.NewLogs()
	orl := one.ResourceLogs().AppendEmpty()
	rl.Resource().CopyTo(orl.Resource())
	orl.SetSchemaUrl(rl.SchemaUrl())
	osl := orl.ScopeLogs().AppendEmpty()
	sl.Scope().CopyTo(osl.Scope())
	osl.SetSchemaUrl(sl.SchemaUrl())
	lr.CopyTo(osl.LogRecords().AppendEmpty())
	line, err := (&plog.JSONMarshaler{}).MarshalLogs(one)
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

// DecodeSegment parses segment bytes back into one plog.Logs per line.
func DecodeSegment(data []byte) ([]plog.Logs, error) {
	var out []plog.Logs
	var u plog.JSONUnmarshaler
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if ld.LogRecordCount() != 1 {
			return nil, fmt.Errorf("line %d: holds %d records, want 1", i+1, ld.LogRecordCount())
		}
		out = append(out, ld)
	}
	return out, nil
}
