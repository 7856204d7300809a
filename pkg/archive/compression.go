package archive

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"sync"

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

// maxZstdWindow bounds the history a zstd stream may ask the decoder to
// keep (allocated up front). The exporter's encoder uses at most 8 MiB.
const maxZstdWindow = 32 << 20

// The zstd encoder is safe for concurrent EncodeAll calls and costly to
// create, so the package keeps one. Objects are decoded as streams, not
// with DecodeAll, which allocates whatever content size a frame header
// declares before decoding a byte (a 22-byte object could cost 1 GiB);
// stream decoders are reused from a pool.
var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zstdDecoders   = sync.Pool{New: func() any {
		// Concurrency 1: the stream is decoded synchronously, with no
		// goroutines to stop when a decoder is dropped from the pool.
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		return d
	}}
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

// sameSegment says whether two stored forms of key hold the same segment.
// Equal bytes do. So do other bytes that decompress to the same lines: the
// key's digest is of the lines, and the encoder's output for them may
// change between releases (a batch retried from a persistent queue after
// an upgrade), which is not a conflict.
func sameSegment(key string, stored, data []byte) bool {
	if bytes.Equal(stored, data) {
		return true
	}
	if !strings.HasSuffix(key, CompressionZstd.Suffix()) && !strings.HasSuffix(key, CompressionGzip.Suffix()) {
		return false
	}
	a, err := DecodeObject(key, stored)
	if err != nil {
		return false
	}
	b, err := DecodeObject(key, data)
	return err == nil && bytes.Equal(a, b)
}

// DecodeObject returns the segment lines an object holds, decompressing by
// the key's suffix.
func DecodeObject(key string, body []byte) ([]byte, error) {
	switch {
	case strings.HasSuffix(key, CompressionZstd.Suffix()):
		d := zstdDecoders.Get().(*zstd.Decoder)
		defer func() {
			d.Reset(nil) // drop the reference to body
			zstdDecoders.Put(d)
		}()
		// A bytes.Reader, not a bytes.Buffer: Reset decodes a Buffer with
		// DecodeAll.
		if err := d.Reset(bytes.NewReader(body)); err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", key, err)
		}
		out, err := readBounded(d)
		if err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", key, err)
		}
		return out, nil
	case strings.HasSuffix(key, CompressionGzip.Suffix()):
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", key, err)
		}
		out, err := readBounded(r)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", key, err)
		}
		return out, nil
	}
	return body, nil
}

// readBounded reads r whole, refusing more than maxSegmentBytes.
func readBounded(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxSegmentBytes+1))
	if err == nil && len(out) > maxSegmentBytes {
		err = fmt.Errorf("more than %d bytes uncompressed", maxSegmentBytes)
	}
	return out, err
}
