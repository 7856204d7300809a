package archive

import (
	"bytes"
	"compress/gzip"
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
	if testing.Short() {
		t.Skip("compresses 1 GiB")
	}
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
