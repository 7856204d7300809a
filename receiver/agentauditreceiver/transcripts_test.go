package agentauditreceiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver/internal/metadata"
)

var testStorageID = component.MustNewIDWithName("file_storage", "transcripts")

type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

// startFileStorage starts a real file_storage extension (fsync on) on dir,
// as the shipped configs use it.
func startFileStorage(t *testing.T, dir string) storage.Extension {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	cfg.Compaction.Directory = dir
	cfg.FSync = true
	require.NoError(t, cfg.Validate())
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext.(storage.Extension)
}

// tailEnv is one transcripts directory with its storage; each newTailer is
// a collector (re)start over the same storage.
type tailEnv struct {
	t       *testing.T
	dir     string
	storage storage.Extension
	cfg     TranscriptsConfig
}

func newTailEnv(t *testing.T) *tailEnv {
	t.Helper()
	cfg := defaultTranscriptsConfig()
	dir := t.TempDir()
	cfg.Include = []string{filepath.Join(dir, "*.jsonl")}
	id := testStorageID
	cfg.Storage = &id
	require.NoError(t, cfg.Validate())
	return &tailEnv{t: t, dir: dir, storage: startFileStorage(t, t.TempDir()), cfg: cfg}
}

// newTailer makes a tailer without starting its loop: the tests call poll
// themselves, so that what happens between two polls is theirs to decide.
func (e *tailEnv) newTailer(next consumer.Logs) *transcriptTailer {
	e.t.Helper()
	client, err := e.storage.GetClient(context.Background(), component.KindReceiver, component.MustNewID("agentaudit"), storageNameTranscripts)
	require.NoError(e.t, err)
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: component.MustNewID("agentaudit"), Transport: transcriptTransport,
		ReceiverCreateSettings: receivertest.NewNopSettings(metadata.Type),
	})
	require.NoError(e.t, err)
	cfg := e.cfg
	tl := newTranscriptTailer(&cfg, zap.NewNop(), next, obs, client)
	require.NoError(e.t, tl.load(context.Background()))
	return tl
}

// stop shuts a tailer down as the receiver does; its loop never ran.
func stopTailer(t *testing.T, tl *transcriptTailer) {
	t.Helper()
	close(tl.done)
	require.NoError(t, tl.shutdown(context.Background()))
}

func (e *tailEnv) path(name string) string { return filepath.Join(e.dir, name) }

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func fixture(t *testing.T, name string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "transcripts", name))
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	return lines[:len(lines)-1] // after the last "\n": nothing
}

func records(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

// attrs is a record's attributes as Go values, for whole-map comparisons.
func attrs(lr plog.LogRecord) map[string]any { return lr.Attributes().AsRaw() }

// lineKey names a record by its line: path and offset.
func lineKey(lr plog.LogRecord) string {
	p, _ := lr.Attributes().Get(attrTranscriptPath)
	o, _ := lr.Attributes().Get(attrTranscriptOffset)
	return fmt.Sprintf("%s@%d", filepath.Base(p.Str()), o.Int())
}

func TestTranscriptClaudeCodeFixture(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830.jsonl")
	lines := fixture(t, "claude-code.jsonl")
	appendFile(t, path, strings.Join(lines, ""))
	require.NoError(t, tl.poll())

	recs := records(sink)
	require.Len(t, recs, 8)
	offsets := make([]int64, len(lines))
	for i := 1; i < len(lines); i++ {
		offsets[i] = offsets[i-1] + int64(len(lines[i-1]))
	}
	const sid = "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830"
	common := func(i int, sourceEvent string, extra map[string]any) map[string]any {
		m := map[string]any{
			"session.id":                    sid,
			"gen_ai.agent.name":             "claude-code",
			"agent_audit.source.event":      sourceEvent,
			"agent_audit.transcript.path":   path,
			"agent_audit.transcript.offset": offsets[i],
		}
		if i > 0 {
			m["agent_audit.event.id"] = fmt.Sprintf("a1f0c9e2-%04d-4e5f-8a9b-0c1d2e3f4a50", i)
			m["process.working_directory"] = "/home/alice/project"
			m["claude_code.version"] = "2.1.17"
			m["claude_code.gitBranch"] = "main"
			m["claude_code.userType"] = "external"
			m["claude_code.isSidechain"] = false
			if i > 1 {
				m["claude_code.parentUuid"] = fmt.Sprintf("a1f0c9e2-%04d-4e5f-8a9b-0c1d2e3f4a50", i-1)
			}
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// Line 0: a summary line, before any line names the session: the file
	// name does.
	assert.Equal(t, unmappedEventType, recs[0].EventName())
	assert.Equal(t, common(0, "summary", map[string]any{"agent_audit.unmapped": "unknown_event"}), attrs(recs[0]))
	assert.Equal(t, map[string]any{"type": "summary", "summary": "Fix parser on empty input", "leafUuid": "9d0c6a7e-1b2f-4c3d-8e4f-5a6b7c8d9e01"}, recs[0].Body().AsRaw())

	prompt := "The parser tests fail on empty input. Fix it and run go test ./pkg/parser/..."
	assert.Equal(t, "agent_audit.prompt", recs[1].EventName())
	assert.Equal(t, common(1, "user", map[string]any{"agent_audit.prompt.length": int64(len(prompt)), "agent_audit.permission_mode": "default"}), attrs(recs[1]))
	assert.Equal(t, prompt, recs[1].Body().Str())
	assert.Equal(t, "2026-03-14T09:12:41.007Z", recs[1].Timestamp().AsTime().UTC().Format("2006-01-02T15:04:05.000Z"))
	assert.Equal(t, "INFO", recs[1].SeverityText())
	assert.NotZero(t, recs[1].ObservedTimestamp())

	assert.Equal(t, "agent_audit.model.response", recs[2].EventName())
	assert.Equal(t, common(2, "assistant", map[string]any{
		"gen_ai.request.model":                     "claude-sonnet-4-5-20250929",
		"gen_ai.response.model":                    "claude-sonnet-4-5-20250929",
		"gen_ai.response.id":                       "msg_01XFDUDYJgAACzvnptvVoYEL",
		"gen_ai.provider.name":                     "anthropic",
		"gen_ai.usage.input_tokens":                int64(12873),
		"gen_ai.usage.output_tokens":               int64(412),
		"gen_ai.usage.cache_read.input_tokens":     int64(8192),
		"gen_ai.usage.cache_creation.input_tokens": int64(1024),
		"claude_code.requestId":                    "req_011CQ9nZ7v8Wb2Xc3Yd4Ze5F",
	}), attrs(recs[2]))
	assert.Equal(t, "I'll run the parser tests first.", recs[2].Body().Str())

	assert.Equal(t, "agent_audit.tool.call", recs[3].EventName())
	assert.Equal(t, common(3, "assistant.tool_use", map[string]any{
		"gen_ai.tool.name":           "Bash",
		"gen_ai.tool.call.id":        "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
		"gen_ai.tool.call.arguments": map[string]any{"command": "go test ./pkg/parser/...", "description": "Run the parser tests"},
		"claude_code.requestId":      "req_011CQ9nZ7v8Wb2Xc3Yd4Ze5F",
	}), attrs(recs[3]))

	assert.Equal(t, "agent_audit.tool.result", recs[4].EventName())
	assert.Equal(t, common(4, "user.tool_result", map[string]any{
		"gen_ai.tool.name":        "Bash",
		"gen_ai.tool.call.id":     "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
		"agent_audit.outcome":     "failure",
		"error.type":              "tool_error",
		"gen_ai.tool.call.result": "--- FAIL: TestParseEmpty (0.00s)\nFAIL\tgithub.com/alice/project/pkg/parser\t0.412s",
	}), attrs(recs[4]))

	assert.Equal(t, "agent_audit.tool.call", recs[5].EventName())
	assert.Equal(t, common(5, "assistant.tool_use", map[string]any{
		"gen_ai.tool.name":           "mcp__github__create_issue",
		"agent_audit.mcp.server":     "github",
		"gen_ai.tool.call.id":        "toolu_01Hs8kLm2nPq3rSt4uVw5xYz",
		"gen_ai.tool.call.arguments": map[string]any{"owner": "alice", "repo": "project", "title": "Parser fails on empty input"},
	}), attrs(recs[5]))

	assert.Equal(t, "agent_audit.tool.result", recs[6].EventName())
	assert.Equal(t, common(6, "user.tool_result", map[string]any{
		"gen_ai.tool.name":        "mcp__github__create_issue",
		"gen_ai.tool.call.id":     "toolu_01Hs8kLm2nPq3rSt4uVw5xYz",
		"agent_audit.outcome":     "success",
		"gen_ai.tool.call.result": []any{map[string]any{"type": "text", "text": "Created issue #42"}},
	}), attrs(recs[6]))

	assert.Equal(t, unmappedEventType, recs[7].EventName())
	assert.Equal(t, common(7, "system", map[string]any{"agent_audit.unmapped": "unknown_event"}), attrs(recs[7]))

	// Every record carries the schema's scope.
	sl := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0)
	assert.Equal(t, auditrecord.ScopeName, sl.Scope().Name())
	v, _ := sl.Scope().Attributes().Get(auditrecord.AttrSchemaVersion)
	assert.Equal(t, auditrecord.SchemaVersion, v.Str())
}

func TestTranscriptCodexFixture(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("rollout-2025-10-29T00-59-38-019a2d7a-41c4-78b1-b7cc-a45d62a89cd5.jsonl")
	lines := fixture(t, "codex.jsonl")
	appendFile(t, path, strings.Join(lines, ""))
	require.NoError(t, tl.poll())

	recs := records(sink)
	require.Len(t, recs, 11)
	var off int64
	for i, lr := range recs {
		a := lr.Attributes()
		v, _ := a.Get("session.id")
		assert.Equal(t, "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5", v.Str(), i)
		v, _ = a.Get("gen_ai.agent.name")
		assert.Equal(t, "codex", v.Str(), i)
		v, _ = a.Get(attrTranscriptOffset)
		assert.Equal(t, off, v.Int(), i)
		off += int64(len(lines[i]))
	}
	type want struct {
		event, source string
		attrs         map[string]any
	}
	for i, w := range []want{
		{"agent_audit.session.start", "session_meta", map[string]any{
			"process.working_directory": "/home/alice/project", "gen_ai.provider.name": "openai",
			"codex.timestamp": "2025-10-29T00:59:38.308Z", "codex.originator": "codex_cli_rs", "codex.cli_version": "0.46.0",
			"codex.source": "cli",
			"codex.git":    map[string]any{"commit_hash": "3f9c2b1", "branch": "main", "repository_url": "git@github.com:alice/project.git"},
		}},
		{unmappedEventType, "turn_context", map[string]any{"agent_audit.unmapped": "unknown_event"}},
		{"agent_audit.prompt", "response_item.message", map[string]any{"agent_audit.prompt.length": int64(32)}},
		{unmappedEventType, "event_msg.user_message", map[string]any{"agent_audit.unmapped": "unknown_event"}},
		{unmappedEventType, "response_item.reasoning", map[string]any{"agent_audit.unmapped": "unknown_event"}},
		{"agent_audit.tool.call", "response_item.function_call", map[string]any{
			"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Qx3pL8mN2vB7cD1eF4gH6jK9",
			"gen_ai.tool.call.arguments": map[string]any{"command": []any{"bash", "-lc", "ls"}, "workdir": "/home/alice/project"},
		}},
		{"agent_audit.tool.result", "response_item.function_call_output", map[string]any{
			"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Qx3pL8mN2vB7cD1eF4gH6jK9",
			"agent_audit.outcome": "success", "gen_ai.tool.call.result": "go.mod\nmain.go\npkg\n",
		}},
		{"agent_audit.tool.call", "response_item.function_call", map[string]any{
			"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Wr5tY7uI9oP1aS3dF5gH7jK2",
			"gen_ai.tool.call.arguments": map[string]any{"command": []any{"bash", "-lc", "go test ./..."}},
		}},
		{"agent_audit.tool.result", "response_item.function_call_output", map[string]any{
			"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Wr5tY7uI9oP1aS3dF5gH7jK2",
			"agent_audit.outcome": "failure", "error.type": "nonzero_exit",
			"gen_ai.tool.call.result": "Exit code: 1\nWall time: 2.3 seconds\nOutput:\n--- FAIL: TestParseEmpty\n",
		}},
		{unmappedEventType, "event_msg.token_count", map[string]any{"agent_audit.unmapped": "unknown_event"}},
		{"agent_audit.model.response", "response_item.message", map[string]any{
			"gen_ai.request.model": "gpt-5-codex", "gen_ai.provider.name": "openai",
		}},
	} {
		lr := recs[i]
		assert.Equal(t, w.event, lr.EventName(), i)
		expected := map[string]any{
			"session.id": "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5", "gen_ai.agent.name": "codex",
			"agent_audit.source.event": w.source, "agent_audit.transcript.path": path,
		}
		o, _ := lr.Attributes().Get(attrTranscriptOffset)
		expected[attrTranscriptOffset] = o.Int()
		for k, v := range w.attrs {
			expected[k] = v
		}
		assert.Equal(t, expected, attrs(lr), i)
	}
	assert.Equal(t, "List the files and run the tests", recs[2].Body().Str())
	assert.Equal(t, "TestParseEmpty fails; the parser does not handle empty input.", recs[10].Body().Str())
	assert.Equal(t, "2025-10-29T00:59:45.64Z", recs[10].Timestamp().AsTime().UTC().Format(time.RFC3339Nano))
}

func TestTranscriptAppendAndPartialLines(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	line := func(i int) string {
		return fmt.Sprintf(`{"type":"user","sessionId":"s1","uuid":"u%d","message":{"role":"user","content":"prompt %d"}}`, i, i)
	}
	appendFile(t, path, line(1)+"\n"+line(2)+"\n"+line(3)[:20])
	require.NoError(t, tl.poll())
	require.Len(t, records(sink), 2, "the partial third line waits")

	require.NoError(t, tl.poll())
	require.Len(t, records(sink), 2, "still partial: nothing new")

	appendFile(t, path, line(3)[20:]+"\n"+line(4)+"\n")
	require.NoError(t, tl.poll())
	recs := records(sink)
	require.Len(t, recs, 4)
	for i, lr := range recs {
		assert.Equal(t, fmt.Sprintf("prompt %d", i+1), lr.Body().Str())
		id, _ := lr.Attributes().Get(auditrecord.AttrEventID)
		assert.Equal(t, fmt.Sprintf("u%d", i+1), id.Str())
	}
}

func TestTranscriptRotation(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"old-1","message":{"content":"a"}}`+"\n")
	require.NoError(t, tl.poll())

	// The writer renames the file out of the globs, writes one last line to
	// the old file, and starts a new file at the path.
	require.NoError(t, os.Rename(path, path+".1"))
	appendFile(t, path+".1", `{"type":"user","sessionId":"s1","uuid":"old-2","message":{"content":"b"}}`+"\n")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"new-1","message":{"content":"c"}}`+"\n")
	require.NoError(t, tl.poll())

	var ids []string
	for _, lr := range records(sink) {
		id, _ := lr.Attributes().Get(auditrecord.AttrEventID)
		ids = append(ids, id.Str())
	}
	assert.Equal(t, []string{"old-1", "old-2", "new-1"}, ids, "the old file is finished by its handle, the new one read from 0")
	assert.Len(t, tl.files, 1, "the rotated file's state is pruned")
}

func TestTranscriptTruncation(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u1","message":{"content":"a long first prompt"}}`+"\n"+
		`{"type":"user","sessionId":"s1","uuid":"u2","message":{"content":"a long second prompt"}}`+"\n")
	require.NoError(t, tl.poll())
	require.NoError(t, os.Truncate(path, 0))
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u3","message":{"content":"c"}}`+"\n")
	require.NoError(t, tl.poll())

	recs := records(sink)
	require.Len(t, recs, 4)
	assert.Equal(t, unmappedEventType, recs[2].EventName())
	a := attrs(recs[2])
	assert.Equal(t, "truncated", a["agent_audit.unmapped"])
	assert.Equal(t, "transcript.truncated", a["agent_audit.source.event"])
	assert.Contains(t, a["agent_audit.unmapped_detail"], "read again from its beginning")
	assert.Equal(t, "c", recs[3].Body().Str())
	assert.Equal(t, int64(0), recs[3].Attributes().AsRaw()[attrTranscriptOffset])
}

func TestTranscriptMalformedLines(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.MaxLineSize = 1024
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830.jsonl")
	huge := `{"type":"user","sessionId":"s","message":{"content":"` + strings.Repeat("x", 5000) + `"}}`
	lines := []string{
		"\x00\x01\xff\xfe binary garbage \x89PNG",
		`{"type":"user","sessionId":"s","message":`,
		`[1,2,3]`,
		`{"sessionId":"s","message":{"content":"no type"}}`,
		`{"type":42}`,
		`{"type":"user","sessionId":"s","message":"not an object"}`,
		`{"type":"assistant","sessionId":"s","message":{"content":[{"type":"text","text":"hi"}]}}`,
		`{"type":"user","sessionId":"s","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":"yes"}]}}`,
		`{"type":"assistant","sessionId":"s","message":{"model":"m","content":[{"type":"tool_use","id":"t2","input":{}}]}}`,
		`{"type":"brand-new-type","sessionId":"s"}`,
		`{"type":"user","sessionId":"s","message":{"content":"\ud800"}}`,
		huge,
		"",
		`{"type":"user","sessionId":"s","uuid":"after","message":{"content":"still tailing"}}`,
	}
	appendFile(t, path, strings.Join(lines, "\n")+"\n")
	require.NoError(t, tl.poll())

	recs := records(sink)
	type want struct{ source, reason, detail string }
	wants := []want{
		{"transcript.line", "invalid_utf8", "not valid UTF-8"},
		{"transcript.line", "invalid_json", "malformed JSON"},
		{"transcript.line", "invalid_json", "must be one JSON object, got an array"},
		{"transcript.line", "missing_attribute", `no "type"`},
		{"transcript.line", "wrong_type", `"type" must be a string, got a number`},
		{"user", "wrong_type", `"message" must be an object, got a string`},
		{"assistant", "missing_attribute", "message.model"},
		{"user.tool_result", "wrong_type", "is_error must be a boolean, got a string"},
		{"assistant.tool_use", "missing_attribute", "needs a name"},
		{"brand-new-type", "unknown_event", ""},
		{"transcript.line", "invalid_json", "unpaired UTF-16 surrogate"},
		{"transcript.line", "line_too_long", "longer than max_line_size (1024 bytes)"},
	}
	require.Len(t, recs, len(wants)+1, "one record per non-blank line")
	for i, w := range wants {
		a := attrs(recs[i])
		assert.Equal(t, unmappedEventType, recs[i].EventName(), i)
		assert.Equal(t, w.source, a["agent_audit.source.event"], i)
		assert.Equal(t, w.reason, a["agent_audit.unmapped"], i)
		if w.detail != "" {
			assert.Contains(t, a["agent_audit.unmapped_detail"], w.detail, i)
		}
		assert.NotEmpty(t, a["session.id"], i)
	}
	// The garbage line is kept, valid UTF-8, bytes that are not replaced.
	assert.Equal(t, "\x00\x01\uFFFD binary garbage \uFFFDPNG", recs[0].Body().Str())
	// Before any line names the session, the file name does.
	assert.Equal(t, "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830", attrs(recs[0])["session.id"])
	// The huge line: its beginning, bounded by max_line_size.
	assert.Equal(t, huge[:1024], recs[11].Body().Str())
	last := recs[len(recs)-1]
	assert.Equal(t, "agent_audit.prompt", last.EventName())
	assert.Equal(t, "still tailing", last.Body().Str())
}

// failingSink refuses the first n batches, then hands on to the sink.
type failingSink struct {
	consumertest.LogsSink
	mu      sync.Mutex
	refuse  int
	refused int
}

func (f *failingSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	f.mu.Lock()
	if f.refused < f.refuse {
		f.refused++
		f.mu.Unlock()
		return errors.New("pipeline full")
	}
	f.mu.Unlock()
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

func TestTranscriptRefusedBatchIsOfferedAgain(t *testing.T) {
	e := newTailEnv(t)
	sink := &failingSink{refuse: 2}
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u1","message":{"content":"a"}}`+"\n")
	require.Error(t, tl.poll())
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u2","message":{"content":"b"}}`+"\n")
	require.Error(t, tl.poll())
	require.NoError(t, tl.poll())
	var ids []string
	for _, lr := range records(&sink.LogsSink) {
		id, _ := lr.Attributes().Get(auditrecord.AttrEventID)
		ids = append(ids, id.Str())
	}
	assert.Equal(t, []string{"u1", "u2"}, ids, "nothing advanced while refused; each line once when taken")
}

func TestTranscriptRestartNeitherLosesNorRepeats(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.MaxBatchLines = 3
	claude := e.path("5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830.jsonl")
	codex := e.path("rollout-2025-10-29T00-59-38-019a2d7a-41c4-78b1-b7cc-a45d62a89cd5.jsonl")
	cl, cx := fixture(t, "claude-code.jsonl"), fixture(t, "codex.jsonl")

	seen := map[string]int{}
	count := func(sink *consumertest.LogsSink) {
		for _, lr := range records(sink) {
			seen[lineKey(lr)+"/"+lr.EventName()]++
		}
	}
	// Run 1: the first half of each file, the middle line partial.
	sink1 := new(consumertest.LogsSink)
	tl := e.newTailer(sink1)
	appendFile(t, claude, strings.Join(cl[:4], "")+cl[4][:30])
	appendFile(t, codex, strings.Join(cx[:5], ""))
	require.NoError(t, tl.poll())
	stopTailer(t, tl)
	count(sink1)

	// While stopped, the agents write on.
	appendFile(t, claude, cl[4][30:]+cl[5])
	appendFile(t, codex, strings.Join(cx[5:8], ""))

	// Run 2: a new tailer over the same storage; a refusal first.
	sink2 := &failingSink{refuse: 1}
	tl = e.newTailer(sink2)
	require.Error(t, tl.poll())
	require.NoError(t, tl.poll())
	appendFile(t, claude, strings.Join(cl[6:], ""))
	appendFile(t, codex, strings.Join(cx[8:], ""))
	require.NoError(t, tl.poll())
	stopTailer(t, tl)
	count(&sink2.LogsSink)

	// Run 3: nothing new, nothing repeated.
	sink3 := new(consumertest.LogsSink)
	tl = e.newTailer(sink3)
	require.NoError(t, tl.poll())
	stopTailer(t, tl)
	assert.Empty(t, records(sink3))

	// Compare with one uninterrupted read of the whole files.
	whole := newTailEnv(t)
	appendFile(t, whole.path(filepath.Base(claude)), strings.Join(cl, ""))
	appendFile(t, whole.path(filepath.Base(codex)), strings.Join(cx, ""))
	ref := new(consumertest.LogsSink)
	tl = whole.newTailer(ref)
	require.NoError(t, tl.poll())
	stopTailer(t, tl)
	want := map[string]int{}
	for _, lr := range records(ref) {
		want[lineKey(lr)+"/"+lr.EventName()]++
	}
	assert.Equal(t, want, seen, "every line's records exactly once across restarts")
	assert.Len(t, want, 19)

	// Codex's session is named only on its first line: after the restart
	// it comes from the saved state.
	for _, lr := range records(&sink2.LogsSink) {
		if strings.HasPrefix(lineKey(lr), "rollout-") {
			v, _ := lr.Attributes().Get("session.id")
			assert.Equal(t, "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5", v.Str())
		}
	}
}

func TestTranscriptDeletedFileIsPruned(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","message":{"content":"a"}}`+"\n")
	require.NoError(t, tl.poll())
	require.Len(t, tl.files, 1)
	var key string
	for k := range tl.files {
		key = k
	}
	v, err := tl.client.Get(context.Background(), stateKeyPrefix+key)
	require.NoError(t, err)
	require.NotNil(t, v)

	require.NoError(t, os.Remove(path))
	require.NoError(t, tl.poll())
	assert.Empty(t, tl.files)
	v, err = tl.client.Get(context.Background(), stateKeyPrefix+key)
	require.NoError(t, err)
	assert.Nil(t, v, "the deleted file's offset is forgotten")
	idx, err := tl.client.Get(context.Background(), stateIndexKey)
	require.NoError(t, err)
	assert.Equal(t, "[]", string(idx))
}

func TestTranscriptStartAtEnd(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.StartAt = StartAtEnd
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"before","message":{"content":"a"}}`+"\n"+`{"type":"us`)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	require.NoError(t, tl.poll())
	assert.Empty(t, records(sink))
	appendFile(t, path, `er","sessionId":"s1","uuid":"partial","message":{"content":"b"}}`+"\n")
	later := e.path("s2.jsonl")
	appendFile(t, later, `{"type":"user","sessionId":"s2","uuid":"new-file","message":{"content":"c"}}`+"\n")
	require.NoError(t, tl.poll())
	var ids []string
	for _, lr := range records(sink) {
		id, _ := lr.Attributes().Get(auditrecord.AttrEventID)
		ids = append(ids, id.Str())
	}
	assert.Equal(t, []string{"partial", "new-file"}, ids,
		"start_at end skips the complete lines found at start, not the partial one, nor files that appear later")
}

func TestTranscriptExcludeAndFormat(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.Exclude = []string{filepath.Join(e.dir, "skip-*")}
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	// Not named rollout-*: auto detects Codex by its first line.
	appendFile(t, e.path("session.jsonl"), fixture(t, "codex.jsonl")[0])
	appendFile(t, e.path("skip-me.jsonl"), `{"type":"user","sessionId":"s1","message":{"content":"a"}}`+"\n")
	require.NoError(t, tl.poll())
	recs := records(sink)
	require.Len(t, recs, 1)
	assert.Equal(t, "agent_audit.session.start", recs[0].EventName())
	assert.Equal(t, "codex", attrs(recs[0])["gen_ai.agent.name"])
}

func TestTranscriptsConfigValidate(t *testing.T) {
	id := testStorageID
	for _, tc := range []struct {
		name    string
		mutate  func(*TranscriptsConfig)
		wantErr string
	}{
		{"default is off and valid", func(*TranscriptsConfig) {}, ""},
		{"include without storage", func(c *TranscriptsConfig) { c.Include = []string{"/tmp/*.jsonl"} }, "storage is required when include is set"},
		{"include with storage", func(c *TranscriptsConfig) { c.Include = []string{"~/.claude/projects/*/*.jsonl"}; c.Storage = &id }, ""},
		{"bad pattern", func(c *TranscriptsConfig) { c.Include = []string{"/tmp/[.jsonl"}; c.Storage = &id }, `include: pattern "/tmp/[.jsonl": syntax error in pattern`},
		{"empty pattern", func(c *TranscriptsConfig) { c.Exclude = []string{" "} }, "exclude: empty pattern"},
		{"format", func(c *TranscriptsConfig) { c.Format = "cursor" }, `format must be one of auto, claude_code, codex, got "cursor"`},
		{"start_at", func(c *TranscriptsConfig) { c.StartAt = "middle" }, `start_at must be beginning or end, got "middle"`},
		{"poll_interval", func(c *TranscriptsConfig) { c.PollInterval = time.Millisecond }, "poll_interval must be at least 10ms, got 1ms"},
		{"max_line_size", func(c *TranscriptsConfig) { c.MaxLineSize = 10 }, "max_line_size must be between 1024 and 67108864 bytes, got 10"},
		{"max_batch_lines", func(c *TranscriptsConfig) { c.MaxBatchLines = 0 }, "max_batch_lines must be between 1 and 100000, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultTranscriptsConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestTranscriptsConfigUnmarshal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cm := confmap.NewFromStringMap(map[string]any{
		"transcripts": map[string]any{
			"include":       []any{"~/.claude/projects/*/*.jsonl", "~/.codex/sessions/*/*/*/rollout-*.jsonl"},
			"exclude":       []any{"*/subagents/*"},
			"storage":       "file_storage/transcripts",
			"poll_interval": "250ms",
			"start_at":      "end",
			"max_line_size": 1 << 20,
		},
	})
	require.NoError(t, cm.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	tc := cfg.Transcripts
	assert.Equal(t, []string{"~/.claude/projects/*/*.jsonl", "~/.codex/sessions/*/*/*/rollout-*.jsonl"}, tc.Include)
	assert.Equal(t, testStorageID, *tc.Storage)
	assert.Equal(t, 250*time.Millisecond, tc.PollInterval)
	assert.Equal(t, StartAtEnd, tc.StartAt)
	assert.Equal(t, 1<<20, tc.MaxLineSize)
	assert.Equal(t, TranscriptFormatAuto, tc.Format)
	assert.Equal(t, defaultMaxBatchLines, tc.MaxBatchLines)

	bad := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"transcripts": map[string]any{"include": []any{"/x/*.jsonl"}}}).Unmarshal(bad))
	require.ErrorContains(t, confmap.Validate(bad), "transcripts: storage is required")
}

// TestTranscriptReceiverLifecycle runs the tailer through the receiver's
// Start and Shutdown with a real file_storage extension.
func TestTranscriptReceiverLifecycle(t *testing.T) {
	dir := t.TempDir()
	ext := startFileStorage(t, t.TempDir())
	host := testHost{testStorageID: ext}
	path := filepath.Join(dir, "s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u1","message":{"content":"a"}}`+"\n")

	run := func(sink consumer.Logs, during func()) {
		cfg := createDefaultConfig().(*Config)
		cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
		cfg.Transcripts.Include = []string{filepath.Join(dir, "*.jsonl")}
		id := testStorageID
		cfg.Transcripts.Storage = &id
		cfg.Transcripts.PollInterval = 10 * time.Millisecond
		require.NoError(t, cfg.Validate())
		set := receivertest.NewNopSettings(metadata.Type)
		// The storage client is the receiver's by its id: a restart keeps it.
		set.ID = component.MustNewID("agentaudit")
		r, err := newReceiver(cfg, set, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), host))
		during()
		require.NoError(t, r.Shutdown(context.Background()))
	}
	waitRecords := func(sink *consumertest.LogsSink, n int) {
		deadline := time.Now().Add(10 * time.Second)
		for sink.LogRecordCount() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		require.Equal(t, n, sink.LogRecordCount())
	}
	sink1 := new(consumertest.LogsSink)
	run(sink1, func() { waitRecords(sink1, 1) })

	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u2","message":{"content":"b"}}`+"\n")
	sink2 := new(consumertest.LogsSink)
	run(sink2, func() { waitRecords(sink2, 1) })
	id, _ := records(sink2)[0].Attributes().Get(auditrecord.AttrEventID)
	assert.Equal(t, "u2", id.Str())

	// A storage id that names no extension fails the start clearly.
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Transcripts.Include = []string{filepath.Join(dir, "*.jsonl")}
	missing := component.MustNewIDWithName("file_storage", "missing")
	cfg.Transcripts.Storage = &missing
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), new(consumertest.LogsSink))
	require.NoError(t, err)
	require.ErrorContains(t, r.Start(context.Background(), host), `storage extension "file_storage/missing" is not configured`)
	require.NoError(t, r.Shutdown(context.Background()))
}

func TestReadLinesBounds(t *testing.T) {
	data := []byte("a\n" + strings.Repeat("b", 100) + "\nc\r\npartial")
	lines, end := readLines(bytes.NewReader(data), 0, 10, 100)
	require.Len(t, lines, 3)
	assert.Equal(t, "a", string(lines[0].data))
	assert.Equal(t, strings.Repeat("b", 10), string(lines[1].data))
	assert.Equal(t, int64(100), lines[1].length)
	assert.Equal(t, "c", string(lines[2].data), "CRLF endings lose their CR")
	assert.Equal(t, int64(len(data)-len("partial")), end)

	lines, end = readLines(bytes.NewReader(data), 0, 10, 2)
	require.Len(t, lines, 2, "at most max_batch_lines")
	assert.Equal(t, int64(2+101), end)
}

func TestTranscriptIdleFileIsClosedAndReopened(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("old.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u1","message":{"content":"a"}}`+"\n")
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(path, old, old))
	require.NoError(t, tl.poll())
	require.Len(t, tl.files, 1)
	for _, f := range tl.files {
		assert.Nil(t, f.fh, "a file untouched for an hour holds no descriptor after its read")
	}
	require.NoError(t, tl.poll())
	require.Len(t, records(sink), 1)

	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u2","message":{"content":"b"}}`+"\n")
	require.NoError(t, tl.poll())
	recs := records(sink)
	require.Len(t, recs, 2)
	id, _ := recs[1].Attributes().Get(auditrecord.AttrEventID)
	assert.Equal(t, "u2", id.Str())
	for _, f := range tl.files {
		assert.NotNil(t, f.fh, "a growing file keeps its handle, for a rename out of the patterns")
	}
}

func TestTranscriptStartAtEndSurvivesRestart(t *testing.T) {
	e := newTailEnv(t)
	e.cfg.StartAt = StartAtEnd
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"before","message":{"content":"a"}}`+"\n")
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	require.NoError(t, tl.poll())
	stopTailer(t, tl)
	tl = e.newTailer(sink)
	defer stopTailer(t, tl)
	require.NoError(t, tl.poll())
	assert.Empty(t, records(sink), "the skipped lines stay skipped after a restart")
}

// flakyClient fails its first n batches, as a full disk would.
type flakyClient struct {
	storage.Client
	fail int
}

func (c *flakyClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if c.fail > 0 {
		c.fail--
		return errors.New("no space left on device")
	}
	return c.Client.Batch(ctx, ops...)
}

func TestTranscriptOffsetWriteFailureNeitherBlocksNorRepeats(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	flaky := &flakyClient{Client: tl.client, fail: 2}
	tl.client = flaky
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u1","message":{"content":"a"}}`+"\n")
	require.NoError(t, tl.poll(), "the pipeline has the records: a failed offset write is no refusal")
	require.NoError(t, tl.poll())
	require.Len(t, records(sink), 1, "the offset is kept in memory: no repeat while the process runs")
	require.Zero(t, flaky.fail)
	stopTailer(t, tl) // the offset is written by then

	tl = e.newTailer(sink)
	defer stopTailer(t, tl)
	require.NoError(t, tl.poll())
	require.Len(t, records(sink), 1, "nor after a restart once the write went through")
}

func TestTranscriptRewrittenInPlace(t *testing.T) {
	e := newTailEnv(t)
	sink := new(consumertest.LogsSink)
	tl := e.newTailer(sink)
	defer stopTailer(t, tl)
	path := e.path("s1.jsonl")
	appendFile(t, path, `{"type":"user","sessionId":"s1","uuid":"u1","message":{"content":"first"}}`+"\n")
	require.NoError(t, tl.poll())
	// Same inode, new content from byte 0, longer than before: no
	// truncation to see, only the fingerprint tells.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte(`{"type":"user","sessionId":"s2","uuid":"v1","message":{"content":"other"}}`+"\n"+
		`{"type":"user","sessionId":"s2","uuid":"v2","message":{"content":"more"}}`+"\n"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, tl.poll())
	recs := records(sink)
	require.Len(t, recs, 4)
	a := attrs(recs[1])
	assert.Equal(t, "rewritten", a["agent_audit.unmapped"])
	assert.Equal(t, "transcript.rewritten", a["agent_audit.source.event"])
	for i, want := range []string{"v1", "v2"} {
		b := attrs(recs[2+i])
		assert.Equal(t, want, b["agent_audit.event.id"])
		assert.Equal(t, "s2", b["session.id"])
	}
}
