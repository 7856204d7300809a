package agentauditreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver/internal/metadata"
)

func reviewUserLine(id string) string {
	return `{"type":"user","sessionId":"s1","uuid":"` + id + `","message":{"content":"` + id + `"}}`
}

func reviewEventIDs(sink *consumertest.LogsSink) []string {
	var ids []string
	for _, lr := range records(sink) {
		id, _ := lr.Attributes().Get(auditrecord.AttrEventID)
		ids = append(ids, id.Str())
	}
	return ids
}

// A line ending in "\r\n" is a line like any other: its CR is not content,
// and it does not make the line "longer than max_line_size".
func TestReviewCRLFLinesAreMappedNotTooLong(t *testing.T) {
	lines, _ := readLines(bytes.NewReader([]byte("ab\r\n")), 0, 1024, 10)
	require.Len(t, lines, 1)
	assert.Equal(t, "ab", string(lines[0].data))
	assert.Equal(t, int64(2), lines[0].length, "the CR is not part of the line's length")

	// A line of exactly max_line_size bytes, with a CRLF ending, fits.
	exact := strings.Repeat("x", 1024)
	lines, _ = readLines(bytes.NewReader([]byte(exact+"\r\n"+exact+"\n")), 0, 1024, 10)
	require.Len(t, lines, 2)
	for i, l := range lines {
		assert.Equal(t, exact, string(l.data), "line %d", i)
		assert.Equal(t, int64(1024), l.length, "line %d", i)
	}
	// One byte more is too long, whatever the ending.
	lines, _ = readLines(bytes.NewReader([]byte(exact+"y\r\n")), 0, 1024, 10)
	require.Len(t, lines, 1)
	assert.Equal(t, int64(1025), lines[0].length)

	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	appendFile(t, e.path("s1.jsonl"), reviewUserLine("u1")+"\r\n"+reviewUserLine("u2")+"\r\n")
	require.NoError(t, tl.poll())
	recs := records(sink)
	require.Len(t, recs, 2)
	for _, lr := range recs {
		assert.Equal(t, "agent_audit.prompt", lr.EventName(), "%v", attrs(lr))
	}
}

// A file with more lines than one poll reads (maxBatchesPerFile batches)
// and untouched for long: its handle is closed after the poll, and the rest
// must still be read at the next polls, not taken for "already read".
func TestReviewOldFileWithBacklogIsReadToItsEnd(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.MaxBatchLines = 1
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("old.jsonl")
	var b strings.Builder
	want := make([]string, 0, maxBatchesPerFile+5)
	for i := range maxBatchesPerFile + 5 {
		id := fmt.Sprintf("u%d", i)
		want = append(want, id)
		b.WriteString(reviewUserLine(id) + "\n")
	}
	appendFile(t, path, b.String())
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(path, old, old))
	for range 4 {
		require.NoError(t, tl.poll())
	}
	assert.Equal(t, want, reviewEventIDs(sink))
}

// A file renamed out of the patterns with more lines left than one poll
// reads: the open handle reads all of them before the file is forgotten.
func TestReviewGoneFileWithBacklogIsReadToItsEnd(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.MaxBatchLines = 1
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, reviewUserLine("first")+"\n")
	require.NoError(t, tl.poll())
	want := []string{"first"}
	var b strings.Builder
	for i := range maxBatchesPerFile + 5 {
		id := fmt.Sprintf("u%d", i)
		want = append(want, id)
		b.WriteString(reviewUserLine(id) + "\n")
	}
	appendFile(t, path, b.String())
	require.NoError(t, os.Rename(path, path+".done"))
	for range 4 {
		require.NoError(t, tl.poll())
	}
	assert.Equal(t, want, reviewEventIDs(sink))
	assert.Empty(t, tl.files, "forgotten once read to its end")
}

// refuseOnce refuses the first batch, then hands on.
type refuseOnce struct {
	consumertest.LogsSink
	mu      sync.Mutex
	refused bool
}

func (r *refuseOnce) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	r.mu.Lock()
	if !r.refused {
		r.refused = true
		r.mu.Unlock()
		return fmt.Errorf("pipeline full")
	}
	r.mu.Unlock()
	return r.LogsSink.ConsumeLogs(ctx, ld)
}

// start_at end is for the files present at the first poll. When that poll
// is cut short by a refused batch, a file created afterwards is still new
// and read from its beginning.
func TestReviewStartAtEndRefusedFirstPollDoesNotSkipNewFiles(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.StartAt = StartAtEnd
	// No "\n" in the last 64 KiB: start_at end finds no line end to start
	// after and reads this file from 0, so the first poll hands a batch on.
	e.cfg.MaxLineSize = 1024
	appendFile(t, e.path("a.jsonl"), reviewUserLine("a1")+"\n"+strings.Repeat("x", 70<<10))
	sink := &refuseOnce{}
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	require.Error(t, tl.poll())
	appendFile(t, e.path("b.jsonl"), reviewUserLine("b1")+"\n")
	require.NoError(t, tl.poll())
	assert.Equal(t, []string{"a1", "b1"}, reviewEventIDs(&sink.LogsSink))
}

// A hook must be answered even when the pipeline does not return: Claude
// Code waits for the answer (up to the hook's timeout, which may be
// minutes when unset) before it goes on.
func TestReviewHookAnswersWhenPipelineHangs(t *testing.T) {
	saved := hookConsumeTimeout
	hookConsumeTimeout = 50 * time.Millisecond
	t.Cleanup(func() { hookConsumeTimeout = saved })
	release := make(chan struct{})
	defer close(release)
	next, err := consumer.NewLogs(func(ctx context.Context, _ plog.Logs) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return nil
		}
	})
	require.NoError(t, err)
	url := startHooksReceiver(t, next, nil)
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(`{"session_id":"s","hook_event_name":"Stop"}`))
	require.NoError(t, err, "the hook is answered, not left waiting on the pipeline")
	defer resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
}

// Shutdown while the tailer's batch is blocked in ConsumeLogs returns once
// its ctx ends, and the batch is read again at the next start.
func TestReviewShutdownDuringBlockedConsumeIsBoundedByCtx(t *testing.T) {
	dir := t.TempDir()
	ext := startFileStorage(t, t.TempDir())
	host := testHost{testStorageID: ext}
	path := filepath.Join(dir, "s1.jsonl")
	appendFile(t, path, reviewUserLine("u1")+"\n")

	newR := func(next consumer.Logs) *agentAuditReceiver {
		cfg := createDefaultConfig().(*Config)
		cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
		cfg.Transcripts.Include = []string{filepath.Join(dir, "*.jsonl")}
		id := testStorageID
		cfg.Transcripts.Storage = &id
		cfg.Transcripts.PollInterval = 10 * time.Millisecond
		require.NoError(t, cfg.Validate())
		set := receivertest.NewNopSettings(metadata.Type)
		set.ID = component.MustNewID("agentaudit")
		r, err := newReceiver(cfg, set, next)
		require.NoError(t, err)
		return r
	}
	entered := make(chan struct{}, 1)
	blocked, err := consumer.NewLogs(func(ctx context.Context, _ plog.Logs) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	})
	require.NoError(t, err)
	r := newR(blocked)
	require.NoError(t, r.Start(context.Background(), host))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = r.Shutdown(ctx)

	sink := new(consumertest.LogsSink)
	r = newR(sink)
	require.NoError(t, r.Start(context.Background(), host))
	for i := 0; i < 1000 && sink.LogRecordCount() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, r.Shutdown(context.Background()))
	assert.Equal(t, []string{"u1"}, reviewEventIDs(sink), "the cancelled batch is read again, once")
}

// start_at end is for the first start only: a file created while the
// collector was down, after a first run that found no file at all, is new
// and read from its beginning.
func TestReviewStartAtEndOnlyAtTheFirstStartEvenWithoutFiles(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.StartAt = StartAtEnd
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	require.NoError(t, tl.poll())
	stopTailer(t, tl)

	appendFile(t, e.path("s1.jsonl"), reviewUserLine("u1")+"\n")
	tl = e.newTailer(sink)
	defer stopTailer(t, tl)
	require.NoError(t, tl.poll())
	assert.Equal(t, []string{"u1"}, reviewEventIDs(sink))
}

// A body over max_request_body_size is refused without a Content-Length
// (chunked) and after decompression (a small gzip of a huge payload).
func TestReviewHookHugeBodiesAreRefused(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url := startHooksReceiver(t, sink, func(c *Config) { c.ServerConfig.MaxRequestBodySize = 4096 })
	payload := `{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Read","tool_response":"` + strings.Repeat("a", 1<<20) + `"}`

	req, err := http.NewRequest(http.MethodPost, url, io.MultiReader(strings.NewReader(payload)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write([]byte(payload))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.Less(t, gz.Len(), 4096)
	req, err = http.NewRequest(http.MethodPost, url, bytes.NewReader(gz.Bytes()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Zero(t, sink.LogRecordCount())
}

// A file deleted and created again at the same path within one poll: the
// old file's last lines come first (through the open handle), then the new
// file from its beginning; each line once.
func TestReviewDeletedAndRecreatedWithinOnePoll(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, reviewUserLine("u1")+"\n")
	require.NoError(t, tl.poll())
	appendFile(t, path, reviewUserLine("u2")+"\n")
	require.NoError(t, os.Remove(path))
	appendFile(t, path, reviewUserLine("v1")+"\n")
	require.NoError(t, tl.poll())
	require.NoError(t, tl.poll())
	assert.Equal(t, []string{"u1", "u2", "v1"}, reviewEventIDs(sink))
	assert.Len(t, tl.files, 1)
}
