package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"gopkg.in/yaml.v3"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// transcriptsConfig is a host collector that tails agent transcripts: the
// agentaudit receiver with Extra["transcripts"] (documentedTranscripts)
// under it, the file_storage
// extension those settings name (fsync on), chain, sign, and the worm
// exporter without a queue, so that a record is archived when the
// receiver's ConsumeLogs returns and the offset commit follows it.
const transcriptsConfig = `
extensions:
{{template "audit_extensions" .}}
  file_storage/transcripts:
    directory: {{.Dir}}/transcripts-state
    create_directory: true
    fsync: true
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
{{index .Extra "transcripts"}}
processors:
{{template "chain_sign" .}}
exporters:
{{template "worm_local" .}}
service:
  extensions: [health_check, file_storage/transcripts, file_storage/queue, signer]
  pipelines:
    logs/audit:
      receivers: [agentaudit]
      processors: [chain, sign]
      exporters: [worm]
  telemetry:
{{template "metrics" .}}
`

// documentedTranscripts reads the receivers fragments of docs/agents.md
// named by the agents-test blocks, and returns one transcripts section with
// the include patterns of all of them (their other settings must agree),
// as YAML lines to put under the template's agentaudit receiver.
func documentedTranscripts(t *testing.T, names ...string) string {
	t.Helper()
	var merged map[string]any
	var include []any
	for _, name := range names {
		var doc struct {
			Receivers struct {
				Agentaudit struct {
					Transcripts map[string]any `yaml:"transcripts"`
				} `yaml:"agentaudit"`
			} `yaml:"receivers"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(agentsBlock(t, name)), &doc), name)
		tr := doc.Receivers.Agentaudit.Transcripts
		require.NotEmpty(t, tr, "%s: receivers.agentaudit.transcripts", name)
		inc, _ := tr["include"].([]any)
		require.NotEmpty(t, inc, "%s: include", name)
		include = append(include, inc...)
		delete(tr, "include")
		if merged == nil {
			merged = tr
		} else {
			require.Equal(t, merged, tr, "%s: the settings besides include are the same for every agent", name)
		}
	}
	merged["include"] = include
	out, err := yaml.Marshal(map[string]any{"transcripts": merged})
	require.NoError(t, err)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

func transcriptFixture(t *testing.T, name string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(hookTestdata, "transcripts", name))
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	return lines[:len(lines)-1]
}

func appendTo(t *testing.T, path string, data ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(strings.Join(data, ""))
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// transcriptRecords returns the archived records of transcript lines by
// "<file name>@<offset>/<event name>/<n>", n counting the records of one
// line of one event type; a key archived twice fails the test.
func transcriptRecords(t *testing.T, dir string) map[string]plog.LogRecord {
	t.Helper()
	out := map[string]plog.LogRecord{}
	for _, l := range readArchive(t, dir) {
		lr := l.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		if integrity.IsReservedEventName(lr.EventName()) {
			continue
		}
		path, ok := lr.Attributes().Get("agent_audit.transcript.path")
		if !ok {
			continue
		}
		off, _ := lr.Attributes().Get("agent_audit.transcript.offset")
		base := fmt.Sprintf("%s@%d/%s", filepath.Base(path.Str()), off.Int(), lr.EventName())
		key := base + "/0"
		for n := 1; out[key] != (plog.LogRecord{}); n++ {
			key = fmt.Sprintf("%s/%d", base, n)
		}
		out[key] = lr
	}
	return out
}

func waitTranscriptRecords(t *testing.T, c *collector, n int) map[string]plog.LogRecord {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := transcriptRecords(t, c.archiveDir())
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d transcript records archived after 60 s:\n%s", len(got), n, c.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withoutIntegrity is a record's attributes without the chain's.
func withoutIntegrity(lr plog.LogRecord) map[string]any {
	out := lr.Attributes().AsRaw()
	for k := range out {
		if strings.HasPrefix(k, "audit.") {
			delete(out, k)
		}
	}
	return out
}

// Claude Code and Codex write their transcripts while the collector runs,
// is stopped (SIGTERM) and started again, with the settings of
// docs/agents.md: every line's records are archived exactly once, field
// by field as the mapping says, a garbage line is recorded as unmapped, and
// the archive verifies.
func TestTranscriptsEndToEnd(t *testing.T) {
	home := t.TempDir()
	// The documented settings name ~/.claude and ~/.codex: the collector's
	// home is the test's.
	t.Setenv("HOME", home)
	const claudeSession = "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830"
	const codexSession = "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5"
	claudeFile := filepath.Join(home, ".claude", "projects", "-home-alice-project", claudeSession+".jsonl")
	codexFile := filepath.Join(home, ".codex", "sessions", "2025", "10", "29", "rollout-2025-10-29T00-59-38-"+codexSession+".jsonl")
	cl := transcriptFixture(t, "claude-code.jsonl")
	cx := transcriptFixture(t, "codex.jsonl")
	garbage := "\x00\x9f\x92\x96 not a transcript line \xff\n"

	// Before the collector starts: the first lines of each session.
	appendTo(t, claudeFile, cl[:3]...)
	appendTo(t, codexFile, cx[:4]...)

	extra := map[string]string{"transcripts": documentedTranscripts(t, "claude-code-transcripts", "codex-transcripts"), "sign_interval": "300ms"}
	c := newCollector(t, transcriptsConfig, extra)

	// While it runs: more lines, one of them garbage, one written in two
	// parts.
	waitTranscriptRecords(t, c, 3+4)
	appendTo(t, claudeFile, cl[3], garbage, cl[4][:40])
	appendTo(t, codexFile, cx[4:7]...)
	appendTo(t, claudeFile, cl[4][40:])
	waitTranscriptRecords(t, c, 3+4+3+3)

	// A third session writes on, line after line, while the collector is
	// stopped (SIGTERM) and started again.
	busyFile := filepath.Join(home, ".claude", "projects", "-home-alice-other", "busy.jsonl")
	const busyLines = 300
	require.NoError(t, os.MkdirAll(filepath.Dir(busyFile), 0o755))
	written := make(chan error, 1)
	go func() {
		for i := range busyLines {
			f, err := os.OpenFile(busyFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err == nil {
				_, err = fmt.Fprintf(f, `{"type":"user","sessionId":"busy","uuid":"busy-%d","message":{"role":"user","content":"prompt %d"}}`+"\n", i, i)
				f.Close()
			}
			if err != nil {
				written <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		written <- nil
	}()

	// Stopped: the agents go on writing.
	c.stop()
	appendTo(t, claudeFile, cl[5])
	appendTo(t, codexFile, cx[7:9]...)
	c.start()
	appendTo(t, claudeFile, cl[6:]...)
	appendTo(t, codexFile, cx[9:]...)
	require.NoError(t, <-written)
	// A huge tool output that fits max_line_size (4 MiB) is mapped; one
	// that does not is recorded as unmapped with its beginning.
	appendTo(t, busyFile,
		`{"type":"user","sessionId":"busy","uuid":"big","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"`+strings.Repeat("y", 1<<20)+`"}]}}`+"\n",
		`{"type":"user","sessionId":"busy","uuid":"huge","message":{"content":[{"type":"tool_result","tool_use_id":"t2","content":"`+strings.Repeat("z", 5<<20)+`"}]}}`+"\n",
		`{"type":"user","sessionId":"busy","uuid":"after-huge","message":{"content":"still here"}}`+"\n")
	total := len(cl) + 1 + len(cx) + busyLines + 3
	got := waitTranscriptRecords(t, c, total)
	require.True(t, c.healthy(), "the collector is healthy after the garbage and the huge line")
	c.stop()

	got = transcriptRecords(t, c.archiveDir())
	require.Len(t, got, total, "every line's records exactly once")
	busyIDs := map[string]int{}
	for _, lr := range got {
		if s, _ := lr.Attributes().Get("session.id"); s.Str() == "busy" {
			id, _ := lr.Attributes().Get("agent_audit.event.id")
			busyIDs[id.Str()]++
		}
	}
	for i := range busyLines {
		require.Equal(t, 1, busyIDs[fmt.Sprintf("busy-%d", i)], "busy-%d across the restart", i)
	}
	require.Equal(t, 1, busyIDs["big"])
	require.Equal(t, 1, busyIDs["after-huge"])
	for _, lr := range got {
		a := withoutIntegrity(lr)
		if a["agent_audit.unmapped"] == "line_too_long" {
			assert.Equal(t, "busy", a["session.id"], "the session of the file's earlier lines")
			assert.Contains(t, a["agent_audit.unmapped_detail"], "longer than max_line_size (4194304 bytes)")
			assert.Len(t, lr.Body().Str(), 64<<10)
		}
		if a["agent_audit.event.id"] == "big" {
			assert.Len(t, a["gen_ai.tool.call.result"], 1<<20)
		}
	}
	claudeName, codexName := filepath.Base(claudeFile), filepath.Base(codexFile)
	offsets := func(lines []string, extraAt int, extraLen int) []int64 {
		out := make([]int64, len(lines))
		var off int64
		for i, l := range lines {
			if i == extraAt {
				off += int64(extraLen)
			}
			out[i] = off
			off += int64(len(l))
		}
		return out
	}
	clOff := offsets(cl, 4, len(garbage)) // the garbage line is before line 4
	cxOff := offsets(cx, -1, 0)
	for i, event := range []string{"agent_audit.source.unmapped", "agent_audit.prompt", "agent_audit.model.response",
		"agent_audit.tool.call", "agent_audit.tool.result", "agent_audit.tool.call", "agent_audit.tool.result", "agent_audit.source.unmapped"} {
		require.Contains(t, got, fmt.Sprintf("%s@%d/%s/0", claudeName, clOff[i], event), "claude line %d", i)
	}
	for i, event := range []string{"agent_audit.session.start", "agent_audit.source.unmapped", "agent_audit.prompt", "agent_audit.source.unmapped",
		"agent_audit.source.unmapped", "agent_audit.tool.call", "agent_audit.tool.result", "agent_audit.tool.call", "agent_audit.tool.result",
		"agent_audit.source.unmapped", "agent_audit.model.response"} {
		require.Contains(t, got, fmt.Sprintf("%s@%d/%s/0", codexName, cxOff[i], event), "codex line %d", i)
	}

	// Field by field, one record of each mapping.
	common := func(session, agent, path, source string, off int64, more map[string]any) map[string]any {
		m := map[string]any{"session.id": session, "gen_ai.agent.name": agent, "agent_audit.source.event": source,
			"agent_audit.transcript.path": path, "agent_audit.transcript.offset": off}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	claudeLine := func(i int, source string, more map[string]any) map[string]any {
		m := common(claudeSession, "claude-code", claudeFile, source, clOff[i], map[string]any{
			"agent_audit.event.id": fmt.Sprintf("a1f0c9e2-%04d-4e5f-8a9b-0c1d2e3f4a50", i), "process.working_directory": "/home/alice/project",
			"claude_code.version": "2.1.17", "claude_code.gitBranch": "main", "claude_code.userType": "external",
			"claude_code.isSidechain": false,
		})
		if i > 1 {
			m["claude_code.parentUuid"] = fmt.Sprintf("a1f0c9e2-%04d-4e5f-8a9b-0c1d2e3f4a50", i-1)
		}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	prompt := got[fmt.Sprintf("%s@%d/agent_audit.prompt/0", claudeName, clOff[1])]
	assert.Equal(t, claudeLine(1, "user", map[string]any{"agent_audit.prompt.length": int64(77), "agent_audit.permission_mode": "default"}), withoutIntegrity(prompt))
	assert.Equal(t, "The parser tests fail on empty input. Fix it and run go test ./pkg/parser/...", prompt.Body().Str())
	assert.Equal(t, "2026-03-14T09:12:41.007Z", prompt.Timestamp().AsTime().UTC().Format("2006-01-02T15:04:05.000Z"))
	assert.Equal(t, "INFO", prompt.SeverityText())
	stream, _ := prompt.Attributes().Get(integrity.AttrStreamID)
	assert.Equal(t, claudeSession, stream.Str(), "the session is the chain's stream")

	call := got[fmt.Sprintf("%s@%d/agent_audit.tool.call/0", claudeName, clOff[3])]
	assert.Equal(t, claudeLine(3, "assistant.tool_use", map[string]any{
		"gen_ai.tool.name": "Bash", "gen_ai.tool.call.id": "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
		"gen_ai.tool.call.arguments": map[string]any{"command": "go test ./pkg/parser/...", "description": "Run the parser tests"},
		"claude_code.requestId":      "req_011CQ9nZ7v8Wb2Xc3Yd4Ze5F",
	}), withoutIntegrity(call))

	// Written in two parts around the garbage, and read as one line.
	result := got[fmt.Sprintf("%s@%d/agent_audit.tool.result/0", claudeName, clOff[4])]
	assert.Equal(t, claudeLine(4, "user.tool_result", map[string]any{
		"gen_ai.tool.name": "Bash", "gen_ai.tool.call.id": "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
		"agent_audit.outcome": "failure", "error.type": "tool_error",
		"gen_ai.tool.call.result": "--- FAIL: TestParseEmpty (0.00s)\nFAIL\tgithub.com/alice/project/pkg/parser\t0.412s",
	}), withoutIntegrity(result))

	// Read after the restart: the tool name comes from the call read before it.
	mcpResult := got[fmt.Sprintf("%s@%d/agent_audit.tool.result/0", claudeName, clOff[6])]
	assert.Equal(t, "mcp__github__create_issue", withoutIntegrity(mcpResult)["gen_ai.tool.name"])
	assert.Equal(t, "success", withoutIntegrity(mcpResult)["agent_audit.outcome"])

	bad := got[fmt.Sprintf("%s@%d/agent_audit.source.unmapped/0", claudeName, clOff[4]-int64(len(garbage)))]
	assert.Equal(t, common(claudeSession, "claude-code", claudeFile, "transcript.line", clOff[4]-int64(len(garbage)), map[string]any{
		"agent_audit.unmapped": "invalid_utf8", "agent_audit.unmapped_detail": "body is not valid UTF-8 (first bad byte at offset 1)",
	}), withoutIntegrity(bad))
	assert.Equal(t, "\x00\uFFFD not a transcript line \uFFFD", bad.Body().Str())

	codexLine := func(i int, source string, more map[string]any) map[string]any {
		return common(codexSession, "codex", codexFile, source, cxOff[i], more)
	}
	start := got[fmt.Sprintf("%s@0/agent_audit.session.start/0", codexName)]
	assert.Equal(t, codexLine(0, "session_meta", map[string]any{
		"process.working_directory": "/home/alice/project", "gen_ai.provider.name": "openai",
		"codex.timestamp": "2025-10-29T00:59:38.308Z", "codex.originator": "codex_cli_rs", "codex.cli_version": "0.46.0",
		"codex.source": "cli",
		"codex.git":    map[string]any{"commit_hash": "3f9c2b1", "branch": "main", "repository_url": "git@github.com:alice/project.git"},
	}), withoutIntegrity(start))
	// Lines 7 and 8 were written while the collector was stopped: the
	// session and the tool name come from the state saved before.
	codexCall := got[fmt.Sprintf("%s@%d/agent_audit.tool.call/0", codexName, cxOff[7])]
	assert.Equal(t, codexLine(7, "response_item.function_call", map[string]any{
		"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Wr5tY7uI9oP1aS3dF5gH7jK2",
		"gen_ai.tool.call.arguments": map[string]any{"command": []any{"bash", "-lc", "go test ./..."}},
	}), withoutIntegrity(codexCall))
	codexResult := got[fmt.Sprintf("%s@%d/agent_audit.tool.result/0", codexName, cxOff[8])]
	assert.Equal(t, codexLine(8, "response_item.function_call_output", map[string]any{
		"gen_ai.tool.name": "shell", "gen_ai.tool.call.id": "call_Wr5tY7uI9oP1aS3dF5gH7jK2",
		"agent_audit.outcome": "failure", "error.type": "nonzero_exit",
		"gen_ai.tool.call.result": "Exit code: 1\nWall time: 2.3 seconds\nOutput:\n--- FAIL: TestParseEmpty\n",
	}), withoutIntegrity(codexResult))
	response := got[fmt.Sprintf("%s@%d/agent_audit.model.response/0", codexName, cxOff[10])]
	assert.Equal(t, codexLine(10, "response_item.message", map[string]any{
		"gen_ai.request.model": "gpt-5-codex", "gen_ai.provider.name": "openai",
	}), withoutIntegrity(response))
	assert.Equal(t, "TestParseEmpty fails; the parser does not handle empty input.", response.Body().Str())
	v, _ := response.Attributes().Get("session.id")
	assert.Equal(t, codexSession, v.Str())

	for _, lr := range got {
		assert.Equal(t, auditrecord.EventNamePrefix, lr.EventName()[:len(auditrecord.EventNamePrefix)])
	}
	r, code := verifyReport(t, c.archiveDir(), c.trustFile())
	require.Equal(t, 0, code, "%v", r.allProblems())
}
