package archive

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
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

func TestSegmentKey(t *testing.T) {
	key := SegmentKey("gw-1", "sess/1", RangeSequence, 1, 20, []byte("x\n"))
	assert.Equal(t, "gw-1/sess%2F1/seq-00000000000000000001-00000000000000000020-", key[:len(key)-len("0123456789abcdef.ndjson")])
	assert.True(t, strings.HasSuffix(key, SegmentSuffix))
	assert.NotEqual(t, key, SegmentKey("gw-1", "sess/1", RangeSequence, 1, 20, []byte("y\n")), "the key holds the content digest")
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

func TestEncodeDecodeRoundTrip(t *testing.T) {
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

	line, err := EncodeRecord(rl, sl, lr)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(line), "\n"), "one record is one line")
	assert.Contains(t, string(line), `"intValue":"9223372036854775807"`)

	got, err := DecodeSegment(append(line, line...))
	require.NoError(t, err)
	require.Len(t, got, 2)
	glr := got[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, lr.Attributes().AsRaw(), glr.Attributes().AsRaw())
	assert.Equal(t, "line1\nline2", glr.Body().Str())

	_, err = DecodeSegment([]byte("{not json}\n"))
	assert.ErrorContains(t, err, "line 1")
}

// BenchmarkEncodeRecord measures turning one ~1 KB record into its archive line.
func BenchmarkEncodeRecord(b *testing.B) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("agent_audit.tool.call")
	lr.Attributes().PutStr("session.id", "sess-1")
	lr.Attributes().PutStr("gen_ai.tool.name", "Bash")
	lr.Attributes().PutStr("pad", strings.Repeat("x", 790))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRecord(rl, sl, lr); err != nil {
			b.Fatal(err)
		}
	}
}
