package archive

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compression is how segment objects are stored. The key of a compressed
// object ends in the codec's suffix after SegmentSuffix; the digest in the
// key is always of the uncompressed lines, so the name says what the object
// holds however it is stored.
type Compression string

const (
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
	CompressionZstd Compression = "zstd"
)

// maxSegmentBytes bounds what one object may decompress to, so a hostile
// object (a zip bomb in a bucket) cannot exhaust the verifier's memory.
const maxSegmentBytes = 1 << 30

// The zstd coders are safe for concurrent EncodeAll/DecodeAll calls and
// costly to create, so the package keeps one of each.
var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxSegmentBytes), zstd.WithDecoderConcurrency(0))
)

// ParseCompression checks a configured codec name; "" is none.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(s)); c {
	case "", CompressionNone:
		return CompressionNone, nil
	case CompressionGzip, CompressionZstd:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q: use none, gzip or zstd", s)
}

// Suffix is what the codec adds to a segment key.
func (c Compression) Suffix() string {
	switch c {
	case CompressionGzip:
		return ".gz"
	case CompressionZstd:
		return ".zst"
	}
	return ""
}

// ContentType is the object's media type.
func (c Compression) ContentType() string {
	switch c {
	case CompressionGzip:
		return "application/gzip"
	case CompressionZstd:
		return "application/zstd"
	}
	return "application/x-ndjson"
}

// Compress encodes segment lines for storage. The output depends only on
// the input (gzip without a time stamp or name), so a retried write
// produces the same object.
func (c Compression) Compress(data []byte) ([]byte, error) {
	switch c {
	case CompressionGzip:
		var buf bytes.Buffer
		w, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CompressionZstd:
		return zstdEncoder.EncodeAll(data, make([]byte, 0, len(data)/4+64)), nil
	}
	return data, nil
}

// IsSegmentKey says whether an object key names a segment (compressed or not).
func IsSegmentKey(key string) bool {
	return strings.HasSuffix(key, SegmentSuffix) ||
		strings.HasSuffix(key, SegmentSuffix+CompressionGzip.Suffix()) ||
		strings.HasSuffix(key, SegmentSuffix+CompressionZstd.Suffix())
}

// DecodeObject returns the segment lines an object holds, decompressing by
// the key's suffix.
func DecodeObject(key string, body []byte) ([]byte, error) {
	switch {
	case strings.HasSuffix(key, CompressionZstd.Suffix()):
		out, err := zstdDecoder.DecodeAll(body, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", key, err)
		}
		return out, nil
	case strings.HasSuffix(key, CompressionGzip.Suffix()):
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", key, err)
		}
		out, err := io.ReadAll(io.LimitReader(r, maxSegmentBytes+1))
		if err == nil && len(out) > maxSegmentBytes {
			err = fmt.Errorf("more than %d bytes uncompressed", maxSegmentBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", key, err)
		}
		return out, nil
	}
	return body, nil
}
