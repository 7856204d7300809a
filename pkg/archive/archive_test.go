package archive

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{
		"session-42_A": "session-42_A",
		"..":           "%2E%2E",
		"a/b":          "a%2Fb",
		"":             "%00",
		"é":            "%C3%A9",
	} {
		assert.Equal(t, want, EscapeName(in), in)
	}
	long := EscapeName(strings.Repeat("/", 100))
	assert.LessOrEqual(t, len(long), maxEscapedName)
	assert.Regexp(t, `^(%2F)+~[0-9a-f]{16}$`, long)
	assert.NotEqual(t, long, EscapeName(strings.Repeat("/", 101)))
}

func TestKeys(t *testing.T) {
	data := []byte("x\n")
	assert.Equal(t, "gw-1/17/streams/sess%2F1/seq-00000000000000000001-00000000000000000020-"+shortDigest(data)+".ndjson",
		ChainedSegmentKey("gw-1", 17, "sess/1", 1, 20, data))
	assert.NotEqual(t, ChainedSegmentKey("gw-1", 17, "sess/1", 1, 20, data),
		ChainedSegmentKey("gw-1", 17, "sess/1", 1, 20, []byte("y\n")), "the key holds the content digest")
	assert.Equal(t, "a%2Eb/3/checkpoints/checkpoint-00000000000000000100-"+shortDigest(data)+".ndjson", CheckpointKey("a.b", 3, 100, data))
	assert.Equal(t, "a/3/checkpoints/key-k1-"+shortDigest(data)+".ndjson", KeyAnnouncementKey("a", 3, "k1", data))
	assert.Equal(t, "a/unchained/%00/time-00000000000000000005-00000000000000000009-"+shortDigest(data)+".ndjson", UnchainedSegmentKey("a", "", 5, 9, data))
}

func TestFileBackendNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFileBackend(dir)
	require.NoError(t, err)
	ctx := context.Background()

	existed, err := b.Put(ctx, "o/s/a.ndjson", []byte("one\n"))
	require.NoError(t, err)
	assert.False(t, existed)
	path := filepath.Join(dir, "o", "s", "a.ndjson")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o444), info.Mode().Perm(), "archived files are read-only")

	existed, err = b.Put(ctx, "o/s/a.ndjson", []byte("one\n"))
	require.NoError(t, err)
	assert.True(t, existed, "the same bytes again are a successful no-op")

	_, err = b.Put(ctx, "o/s/a.ndjson", []byte("two\n"))
	require.ErrorIs(t, err, ErrConflict)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "one\n", string(got))

	entries, err := os.ReadDir(filepath.Join(dir, tempDir))
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary file is left behind")
}

// compressedTwoWays returns segment lines and two different zstd
// encodings of them: another encoder's, and this package's.
func compressedTwoWays(t *testing.T) (lines, older, newer []byte) {
	t.Helper()
	for i := range 500 {
		lines = fmt.Appendf(lines, `{"chain":{"seq":%d},"record":{"body":"compressible %d"}}`+"\n", i, i*i%97)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderCRC(false))
	require.NoError(t, err)
	older = enc.EncodeAll(lines, nil)
	newer, err = CompressionZstd.Compress(lines)
	require.NoError(t, err)
	require.NotEqual(t, older, newer)
	return lines, older, newer
}

// The same lines compressed by another encoder (an upgrade between a
// write and its retry from a persistent queue) are the segment already
// there, not a conflict; other lines are one, and the file is untouched.
func TestFileBackendSameLinesCompressedOtherwise(t *testing.T) {
	dir := t.TempDir()
	b, err := NewFileBackend(dir)
	require.NoError(t, err)
	ctx := context.Background()
	lines, older, newer := compressedTwoWays(t)
	gz, err := CompressionGzip.Compress(lines)
	require.NoError(t, err)

	_, err = b.Put(ctx, "o/s/a.ndjson.zst", older)
	require.NoError(t, err)
	existed, err := b.Put(ctx, "o/s/a.ndjson.zst", newer)
	require.NoError(t, err)
	assert.True(t, existed)
	other, err := CompressionZstd.Compress([]byte("other\n"))
	require.NoError(t, err)
	_, err = b.Put(ctx, "o/s/a.ndjson.zst", other)
	assert.ErrorIs(t, err, ErrConflict)
	// Bytes that are not of the key's codec are not compared decoded.
	_, err = b.Put(ctx, "o/s/a.ndjson.zst", gz)
	assert.ErrorIs(t, err, ErrConflict)
	got, err := os.ReadFile(filepath.Join(dir, "o", "s", "a.ndjson.zst"))
	require.NoError(t, err)
	assert.Equal(t, older, got)
}

func TestFileBackendRejectsEscapingKeys(t *testing.T) {
	b, err := NewFileBackend(t.TempDir())
	require.NoError(t, err)
	for _, key := range []string{"", "/abs", "a/../b", "a//b", ".tmp/x", `a\b`, "a/./b"} {
		_, err := b.Put(context.Background(), key, []byte("x"))
		assert.ErrorContains(t, err, "invalid key", key)
	}
}

func TestFileBackendRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, tempDir), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, tempDir, "obj-123"), []byte("half"), 0o444))
	_, err := NewFileBackend(dir)
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Join(dir, tempDir))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestFileBackendUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes through permissions; a file in the way fails for everyone.
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o644))
		_, err := NewFileBackend(filepath.Join(file, "archive"))
		require.ErrorContains(t, err, "cannot create")
		return
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o555))
	_, err := NewFileBackend(filepath.Join(dir, "archive"))
	require.ErrorContains(t, err, "cannot create")
}

func TestDecodeSegment(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.id", "h1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("agent_audit.file.read")
	lr.Attributes().PutInt("big", math.MaxInt64)
	lr.Attributes().PutDouble("ratio", 0.1)
	lr.Body().SetStr("line1\nline2")

	c := integrity.AppendCanonical(nil, rl, sl, lr)
	h := &integrity.ChainHeader{Digest: integrity.RecordDigest(c), Log: "o/1", Seq: 1, Stream: "s"}
	data := integrity.AppendLine(integrity.AppendLine(nil, h, c), nil, c)
	assert.Equal(t, 2, strings.Count(string(data), "\n"), "one record is one line")

	got, err := DecodeSegment(data)
	require.NoError(t, err)
	require.Len(t, got, 2)
	glr := got[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	v, _ := glr.Attributes().Get("big")
	assert.Equal(t, int64(math.MaxInt64), v.Int())
	v, _ = glr.Attributes().Get(integrity.AttrSequenceNumber)
	assert.Equal(t, int64(1), v.Int(), "chain attributes come back from the header")
	assert.Equal(t, "line1\nline2", glr.Body().Str())
	plain := got[1].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	_, ok := plain.Attributes().Get(integrity.AttrSequenceNumber)
	assert.False(t, ok)

	_, err = DecodeSegment([]byte("{not json}\n"))
	assert.ErrorContains(t, err, "line 1")
}
