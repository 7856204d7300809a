package siemexporter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap/zaptest"
)

func fileSettings(t *testing.T) transportSettings {
	return transportSettings{
		telemetry: componenttest.NewNopTelemetrySettings(),
		logger:    zaptest.NewLogger(t),
		format:    formatCEF,
		rejected:  func(context.Context, int, string) { t.Error("the file transport rejected events") },
	}
}

func numberedEvents(from, n int, size int) []event {
	evs := make([]event, n)
	for i := range evs {
		p := fmt.Sprintf("event-%06d ", from+i)
		evs[i] = event{payload: []byte(p + strings.Repeat("x", max(0, size-len(p))))}
	}
	return evs
}

// readLines reads the rotated files (oldest first) and then the current one.
func readLines(t *testing.T, tr *fileTransport) []string {
	t.Helper()
	var lines []string
	for _, p := range append(tr.backups(), tr.cfg.Path) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.True(t, len(b) == 0 || b[len(b)-1] == '\n', "%s ends in a newline", p)
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

func TestFileTransportAppendsLinesAndRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	rotations := 0
	tr := newFileTransport(&FileConfig{Path: filepath.Join(dir, "sub", "events.cef"), MaxSize: 10_000, Fsync: true},
		fileSettings(t), func(context.Context) { rotations++ })
	clock := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	tr.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	ctx := context.Background()
	require.NoError(t, tr.start(ctx, componenttest.NewNopHost()))
	sent := 0
	for b := 0; b < 40; b++ {
		require.NoError(t, tr.send(ctx, numberedEvents(sent, 10, 100)))
		sent += 10
	}
	// A batch larger than max_size still goes whole into one file.
	require.NoError(t, tr.send(ctx, numberedEvents(sent, 200, 100)))
	sent += 200
	require.NoError(t, tr.shutdown(ctx))

	lines := readLines(t, tr)
	require.Equal(t, sent, len(lines))
	for i, l := range lines {
		require.True(t, strings.HasPrefix(l, fmt.Sprintf("event-%06d ", i)), "line %d in order: %.20s", i, l)
	}
	assert.Equal(t, len(tr.backups()), rotations)
	assert.GreaterOrEqual(t, rotations, 40*1010/10_000)
	for _, p := range tr.backups() {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.LessOrEqual(t, st.Size(), int64(10_000), "%s stays under max_size", p)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	st, err := os.Stat(tr.cfg.Path)
	require.NoError(t, err)
	assert.Equal(t, int64(200*101), st.Size(), "the oversized batch is alone in the current file")
}

func TestFileTransportKeepsMaxBackups(t *testing.T) {
	dir := t.TempDir()
	tr := newFileTransport(&FileConfig{Path: filepath.Join(dir, "events[1].cef"), MaxSize: 1000, MaxBackups: 2},
		fileSettings(t), nil)
	ctx := context.Background()
	require.NoError(t, tr.start(ctx, componenttest.NewNopHost()))
	for b := 0; b < 10; b++ {
		require.NoError(t, tr.send(ctx, numberedEvents(b*5, 5, 100)))
	}
	require.NoError(t, tr.shutdown(ctx))
	require.Len(t, tr.backups(), 2, "glob characters in the path are taken literally")
	lines := readLines(t, tr)
	// Each file holds one batch of five 101-byte lines; 2 backups + current.
	require.Equal(t, 15, len(lines))
	assert.True(t, strings.HasPrefix(lines[0], "event-000035 "))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 3)
}

func TestFileTransportCutsTornLastLineOnStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.cef")
	require.NoError(t, os.WriteFile(path, []byte("whole line 1\nwhole line 2\nhalf a li"), 0o600))
	tr := newFileTransport(&FileConfig{Path: path}, fileSettings(t), nil)
	ctx := context.Background()
	require.NoError(t, tr.start(ctx, componenttest.NewNopHost()))
	require.NoError(t, tr.send(ctx, []event{{payload: []byte("next")}}))
	require.NoError(t, tr.shutdown(ctx))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "whole line 1\nwhole line 2\nnext\n", string(b))

	// A file with no newline at all is all torn.
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("y", 100_000)), 0o600))
	require.NoError(t, tr.start(ctx, componenttest.NewNopHost()))
	require.NoError(t, tr.send(ctx, []event{{payload: []byte("first")}}))
	require.NoError(t, tr.shutdown(ctx))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "first\n", string(b))
}

func TestFileTransportStartFailsOnUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	tr := newFileTransport(&FileConfig{Path: filepath.Join(blocker, "events.cef")}, fileSettings(t), nil)
	err := tr.start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not-a-dir")
}
