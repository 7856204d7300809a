package archive

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompressionRoundTripsAndIsDeterministic(t *testing.T) {
	data := []byte(strings.Repeat(`{"chain":{},"record":{"body":"x"}}`+"\n", 500))
	for _, c := range []Compression{CompressionNone, CompressionGzip, CompressionZstd} {
		t.Run(string(c), func(t *testing.T) {
			body, err := c.Compress(data)
			require.NoError(t, err)
			again, err := c.Compress(data)
			require.NoError(t, err)
			assert.Equal(t, body, again, "a retried write must produce the same object")
			if c != CompressionNone {
				assert.Less(t, len(body), len(data)/10)
			}
			key := "o/1/streams/s/seq-1-2-abc" + SegmentSuffix + c.Suffix()
			assert.True(t, IsSegmentKey(key))
			out, err := DecodeObject(key, body)
			require.NoError(t, err)
			assert.Equal(t, data, out)
		})
	}
}

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]Compression{"": CompressionNone, "none": CompressionNone, "ZSTD": CompressionZstd, "gzip": CompressionGzip} {
		got, err := ParseCompression(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseCompression("lz4")
	assert.ErrorContains(t, err, `unknown compression "lz4": use none, gzip or zstd`)
}

func TestCorruptObjectsAreErrorsNotPanics(t *testing.T) {
	body, err := CompressionZstd.Compress([]byte("line\n"))
	require.NoError(t, err)
	body[len(body)/2] ^= 0xff
	_, err = DecodeObject("a.ndjson.zst", body)
	assert.ErrorContains(t, err, "a.ndjson.zst: zstd")
	_, err = DecodeObject("a.ndjson.gz", []byte("not gzip"))
	assert.ErrorContains(t, err, "a.ndjson.gz: gzip")
	assert.False(t, IsSegmentKey("a.ndjson.lz4"))
	assert.False(t, IsSegmentKey(".write-probe"))
}

func TestDecompressionIsBounded(t *testing.T) {
	// 1 GiB + 1 of zeros compresses to about 1 MB: a bucket object like
	// that must not make the verifier allocate the whole of it.
	zeros := make([]byte, 1<<20)
	var buf bytes.Buffer
	w, err := newBombWriter(&buf)
	require.NoError(t, err)
	for range maxSegmentBytes / len(zeros) {
		_, err := w.Write(zeros)
		require.NoError(t, err)
	}
	_, err = w.Write([]byte{0})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = DecodeObject("bomb.ndjson.gz", buf.Bytes())
	assert.ErrorContains(t, err, "more than 1073741824 bytes uncompressed")
}

func newBombWriter(buf *bytes.Buffer) (*gzip.Writer, error) {
	return gzip.NewWriterLevel(buf, gzip.BestSpeed)
}

// A zstd frame header may declare a content size or a window; neither may
// make the verifier allocate that much before anything is decoded: a
// 22-byte object claiming 1 GiB would cost 1 GiB, per object in flight.
func TestZstdDeclaredSizesDoNotAllocate(t *testing.T) {
	block := []byte{5<<3 | 1, 0, 0, 'h', 'e', 'l', 'l', 'o'} // a last raw block of 5 bytes
	frame := func(descriptor byte, extra []byte, size uint64) []byte {
		f := append([]byte{0x28, 0xb5, 0x2f, 0xfd, descriptor}, extra...)
		f = binary.LittleEndian.AppendUint64(f, size)
		return append(f, block...)
	}
	for name, body := range map[string][]byte{
		// FCS of 8 bytes, a 1 MiB window: the content size claims 1 GiB.
		"content size": frame(0xC0, []byte{0x50}, maxSegmentBytes),
		// Single segment: the window is the content size, 500 MiB.
		"window": frame(0xC0|0x20, nil, 500<<20),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := DecodeObject("a.ndjson.zst", body)
			runtime.ReadMemStats(&after)
			assert.ErrorContains(t, err, "a.ndjson.zst: zstd")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated for a %d-byte object", len(body))
		})
	}
}

// FuzzDecodeObject: whatever a bucket holds under whatever key, decoding
// never panics, never returns more than maxSegmentBytes, returns a plain
// object as it is, and names the key in its errors (the verifier reports
// them per object). What it returns compresses and decodes back to itself.
func FuzzDecodeObject(f *testing.F) {
	lines := []byte(`{"chain":{"seq":1},"record":{"body":"x"}}` + "\n")
	for _, c := range []Compression{CompressionNone, CompressionGzip, CompressionZstd} {
		body, err := c.Compress(lines)
		require.NoError(f, err)
		f.Add(SegmentSuffix+c.Suffix(), body)
	}
	f.Add(".ndjson.gz", []byte("not gzip"))
	f.Add(".zst", []byte{})
	f.Add(".ndjson.lz4", []byte("x"))
	f.Fuzz(func(t *testing.T, suffix string, body []byte) {
		key := "o/1/streams/s/seq-1-2-abc" + suffix
		out, err := DecodeObject(key, body)
		if err != nil {
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("error does not name the key %q: %v", key, err)
			}
			return
		}
		if len(out) > maxSegmentBytes {
			t.Fatalf("%d bytes out", len(out))
		}
		var c Compression
		switch {
		case strings.HasSuffix(key, CompressionZstd.Suffix()):
			c = CompressionZstd
		case strings.HasSuffix(key, CompressionGzip.Suffix()):
			c = CompressionGzip
		default:
			if !bytes.Equal(out, body) {
				t.Fatalf("a plain object changed")
			}
			return
		}
		again, err := c.Compress(out)
		require.NoError(t, err)
		back, err := DecodeObject(key, again)
		require.NoError(t, err)
		if !bytes.Equal(back, out) {
			t.Fatalf("%s does not round-trip", c)
		}
	})
}
