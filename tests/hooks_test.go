package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// The hook events of the issue, each with a fixture in
// receiver/agentauditreceiver/testdata/claudecode-hooks and its expected
// record in testdata/claudecode-records.json there.
var claudeCodeEvents = []string{
	"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse",
	"PostToolUseFailure", "Notification", "Stop", "SubagentStop", "PreCompact", "SessionEnd",
}

var toolEvents = map[string]bool{"PreToolUse": true, "PermissionRequest": true, "PostToolUse": true, "PostToolUseFailure": true}

const (
	hookTestdata = "../receiver/agentauditreceiver/testdata"
	// docHookURL is the endpoint docs/agents.md tells users to set.
	docHookURL     = "http://127.0.0.1:4320/v1/hooks/claude-code"
	fixtureSession = "0c7a9f3e-5b21-4d8e-9a64-2f1e8b3c7d90"
)

func (c *collector) hookURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/v1/hooks/claude-code", c.p.Port)
}

// agentsBlock returns the fenced block that follows the marker
// "<!-- agents-test: NAME -->" in docs/agents.md: the tests run exactly
// what the page tells users to paste.
func agentsBlock(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/agents.md")
	require.NoError(t, err)
	re := regexp.MustCompile("(?s)<!-- agents-test: " + regexp.QuoteMeta(name) + " -->\\n```[a-z]*\\n(.*?)\\n```")
	m := re.FindSubmatch(doc)
	require.NotNil(t, m, "docs/agents.md has no block %s", name)
	return string(m[1])
}

// hookSettings is the part of a Claude Code settings.json the tests read.
type hookSettings struct {
	Hooks map[string][]struct {
		Matcher *string `json:"matcher"`
		Hooks   []struct {
			Type           string            `json:"type"`
			URL            string            `json:"url"`
			Command        string            `json:"command"`
			Headers        map[string]string `json:"headers"`
			AllowedEnvVars []string          `json:"allowedEnvVars"`
			Timeout        int               `json:"timeout"`
		} `json:"hooks"`
	} `json:"hooks"`
}

func fixture(t *testing.T, event string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hookTestdata, "claudecode-hooks", event+".json"))
	require.NoError(t, err)
	return b
}

// runHookCommand runs a documented command hook as Claude Code does: sh -c,
// the payload on stdin. The context bounds a hung command; it is a guard,
// not a timing assertion.
func runHookCommand(t *testing.T, command string, stdin []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "the command hook did not end")
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	require.NoError(t, err)
	return 0, out.String()
}

type expectedHookRecord struct {
	EventName    string                     `json:"event_name"`
	SeverityText string                     `json:"severity_text"`
	Attributes   map[string]json.RawMessage `json:"attributes"`
	Body         json.RawMessage            `json:"body"`
}

// hookRecords returns the archived agent records by session and source event.
func hookRecords(t *testing.T, dir string) map[string]plog.LogRecord {
	t.Helper()
	out := map[string]plog.LogRecord{}
	for _, l := range readArchive(t, dir) {
		sl := l.Logs.ResourceLogs().At(0).ScopeLogs().At(0)
		lr := sl.LogRecords().At(0)
		if integrity.IsReservedEventName(lr.EventName()) {
			continue
		}
		if stream, _ := lr.Attributes().Get(integrity.AttrStreamID); stream.Str() == integrity.CollectorStream {
			continue // the chain processor's own records
		}
		v, _ := sl.Scope().Attributes().Get(auditrecord.AttrSchemaVersion)
		require.Equal(t, auditrecord.SchemaVersion, v.Str())
		session, _ := lr.Attributes().Get("session.id")
		event, _ := lr.Attributes().Get("agent_audit.source.event")
		key := session.Str() + "/" + event.Str()
		_, dup := out[key]
		require.False(t, dup, "%s archived twice", key)
		out[key] = lr
	}
	return out
}

func waitHookRecords(t *testing.T, dir string, want []string) map[string]plog.LogRecord {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := hookRecords(t, dir)
		missing := []string{}
		for _, k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("not archived after 60 s: %v", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func assertArchivedHookRecord(t *testing.T, event string, want expectedHookRecord, lr plog.LogRecord) {
	t.Helper()
	assert.Equal(t, want.EventName, lr.EventName(), event)
	assert.Equal(t, want.SeverityText, lr.SeverityText(), event)
	got := lr.Attributes().AsRaw()
	for name, w := range want.Attributes {
		v, ok := got[name]
		if !assert.True(t, ok, "%s: attribute %s missing", event, name) {
			continue
		}
		g, err := json.Marshal(v)
		require.NoError(t, err)
		assert.JSONEq(t, string(w), string(g), "%s: attribute %s", event, name)
	}
	for name := range got {
		if _, ok := want.Attributes[name]; !ok && !strings.HasPrefix(name, "audit.") {
			t.Errorf("%s: attribute %s is not in the expectation", event, name)
		}
	}
	if want.Body == nil {
		assert.Equal(t, pcommon.ValueTypeEmpty, lr.Body().Type(), "%s: no body expected", event)
	} else {
		g, err := json.Marshal(lr.Body().AsRaw())
		require.NoError(t, err)
		assert.JSONEq(t, string(want.Body), string(g), "%s: body", event)
	}
}

func TestClaudeCodeHooksEndToEnd(t *testing.T) {
	c := newCollector(t, localConfig, nil)
	ctx := context.Background()

	// The documented settings hook every event of the issue to the endpoint.
	var settings hookSettings
	require.NoError(t, json.Unmarshal([]byte(agentsBlock(t, "claude-code-http-settings")), &settings))
	var cmdSettings hookSettings
	require.NoError(t, json.Unmarshal([]byte(agentsBlock(t, "claude-code-command-settings")), &cmdSettings))
	oneLiner := agentsBlock(t, "claude-code-command")
	require.Contains(t, oneLiner, docHookURL)
	for _, event := range claudeCodeEvents {
		for name, s := range map[string]hookSettings{"http": settings, "command": cmdSettings} {
			entries := s.Hooks[event]
			require.Len(t, entries, 1, "%s settings: %s", name, event)
			require.Len(t, entries[0].Hooks, 1, "%s settings: %s", name, event)
			h := entries[0].Hooks[0]
			assert.Equal(t, name, h.Type, event)
			assert.Positive(t, h.Timeout, "%s: a timeout bounds what the hook can cost the agent", event)
			if name == "http" {
				assert.Equal(t, docHookURL, h.URL, event)
			} else {
				assert.Equal(t, oneLiner, h.Command, event)
			}
			if toolEvents[event] {
				require.NotNil(t, entries[0].Matcher, event)
				assert.Equal(t, "*", *entries[0].Matcher, event)
			}
		}
	}
	var permCmd hookSettings
	require.NoError(t, json.Unmarshal([]byte(agentsBlock(t, "claude-code-permission-command")), &permCmd))
	assert.Equal(t, oneLiner, permCmd.Hooks["PermissionRequest"][0].Hooks[0].Command)

	// Every fixture, posted as an HTTP hook posts it: the exact bytes, as
	// JSON, to the documented URL (pointed at this collector's port).
	url := strings.Replace(settings.Hooks["PreToolUse"][0].Hooks[0].URL, docHookURL, c.hookURL(), 1)
	for _, event := range claudeCodeEvents {
		res, err := post(ctx, url, "application/json", fixture(t, event), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", event, res.Body)
		assert.Empty(t, res.Body, "%s: a 2xx with an empty body is Claude Code's no-decision answer", event)
	}

	// The command hook of docs/agents.md, as Claude Code runs it.
	cmdPayload := bytes.ReplaceAll(fixture(t, "PreToolUse"), []byte(fixtureSession), []byte("command-hook-session"))
	code, out := runHookCommand(t, strings.Replace(oneLiner, docHookURL, c.hookURL(), 1), cmdPayload)
	assert.Equal(t, 0, code, out)
	assert.Empty(t, out, "the command hook prints nothing, so Claude Code reads no decision")

	// Malformed payloads get the documented answers; none is archived.
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"not JSON", `session_id=s&hook_event_name=Stop`, 400, `"reason":"malformed JSON at byte 1: invalid character 's' looking for beginning of value"`},
		{"array", `[{"session_id":"bad","hook_event_name":"Stop"}]`, 400, `"reason":"a hook payload must be one JSON object, got an array"`},
		{"missing hook_event_name", `{"session_id":"bad"}`, 400, `{"field":"hook_event_name","reason":"required field is missing"}`},
		{"missing session_id", `{"hook_event_name":"Stop"}`, 400, `{"field":"session_id","reason":"required field is missing"}`},
		{"wrong types", `{"session_id":"bad","hook_event_name":"PreToolUse","tool_name":7,"stop_hook_active":"yes"}`, 400, `{"field":"tool_name","reason":"must be a string, got a number"}`},
		{"huge tool output", `{"session_id":"bad","hook_event_name":"PostToolUse","tool_name":"Bash","tool_response":"` + strings.Repeat("x", 5<<20) + `"}`, 413, `"error":"body larger than max_request_body_size (4194304 bytes)"`},
	} {
		res, err := post(ctx, c.hookURL(), "application/json", []byte(tc.body), nil)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		assert.Contains(t, res.Body, tc.want, tc.name)
	}
	// An unknown event is recorded with its payload, not dropped.
	unknown := `{"session_id":"unknown-event-session","hook_event_name":"TeammateIdle","teammate_name":"researcher"}`
	res, err := post(ctx, c.hookURL(), "application/json", []byte(unknown), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
	assert.True(t, c.healthy(), "the collector stays healthy after malformed payloads")

	var want map[string]json.RawMessage
	raw, err := os.ReadFile(filepath.Join(hookTestdata, "claudecode-records.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &want))
	keys := []string{"command-hook-session/PreToolUse", "unknown-event-session/TeammateIdle"}
	for _, e := range claudeCodeEvents {
		keys = append(keys, fixtureSession+"/"+e)
	}
	records := waitHookRecords(t, c.archiveDir(), keys)
	assert.Len(t, records, len(keys), "only the recorded payloads are in the archive")
	for _, event := range claudeCodeEvents {
		var w expectedHookRecord
		require.NoError(t, json.Unmarshal(want[event], &w), event)
		assertArchivedHookRecord(t, event, w, records[fixtureSession+"/"+event])
	}
	lr := records["unknown-event-session/TeammateIdle"]
	assert.Equal(t, "agent_audit.source.unmapped", lr.EventName())
	reason, _ := lr.Attributes().Get("agent_audit.unmapped")
	assert.Equal(t, "unknown_event", reason.AsString(), "the reason code of docs/schema.md, Unmapped events: the convention")
	body, err := json.Marshal(lr.Body().AsRaw())
	require.NoError(t, err)
	assert.JSONEq(t, unknown, string(body))

	// Intent and outcome of one tool call share gen_ai.tool.call.id.
	callID := func(event string) string {
		v, ok := records[fixtureSession+"/"+event].Attributes().Get("gen_ai.tool.call.id")
		require.True(t, ok, event)
		return v.Str()
	}
	assert.Equal(t, callID("PreToolUse"), callID("PostToolUse"))
	cmdRecord := records["command-hook-session/PreToolUse"]
	assert.Equal(t, "agent_audit.tool.call", cmdRecord.EventName())
	id, _ := cmdRecord.Attributes().Get("gen_ai.tool.call.id")
	assert.Equal(t, callID("PreToolUse"), id.Str())

	// Fail open: with the collector stopped, the command hook still exits 0.
	c.stop()
	code, out = runHookCommand(t, strings.Replace(oneLiner, docHookURL, c.hookURL(), 1), fixture(t, "Stop"))
	assert.Equal(t, 0, code, out)
	assert.Empty(t, out)
}

// A collector that accepts connections but never answers must not hold the
// command hook beyond its curl timeout, and the hook still exits 0.
func TestClaudeCodeCommandHookFailsOpenOnAHungCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn) // read nothing, answer nothing
		}
	}()
	oneLiner := agentsBlock(t, "claude-code-command")
	hung := fmt.Sprintf("http://%s/v1/hooks/claude-code", ln.Addr())
	code, out := runHookCommand(t, strings.Replace(oneLiner, docHookURL, hung, 1), fixture(t, "PreToolUse"))
	assert.Equal(t, 0, code, out)
	assert.Empty(t, out)
	ln.Close()
	<-done
	for _, conn := range held {
		conn.Close()
	}
}

// The documented authenticated hooks send the token the receiver checks.
func TestClaudeCodeHooksWithAuthentication(t *testing.T) {
	c := newCollector(t, authConfig, nil)
	ctx := context.Background()
	const token = "s3cret-token" // authConfig's bearertokenauth token

	var hook struct {
		URL            string            `json:"url"`
		Headers        map[string]string `json:"headers"`
		AllowedEnvVars []string          `json:"allowedEnvVars"`
	}
	require.NoError(t, json.Unmarshal([]byte(agentsBlock(t, "claude-code-http-auth-hook")), &hook))
	require.Equal(t, []string{"AGENTAUDIT_TOKEN"}, hook.AllowedEnvVars)
	// Claude Code interpolates $VAR in header values for allowed variables.
	header := map[string]string{}
	for k, v := range hook.Headers {
		header[k] = strings.ReplaceAll(v, "$AGENTAUDIT_TOKEN", token)
	}
	url := strings.Replace(hook.URL, docHookURL, c.hookURL(), 1)
	payload := bytes.ReplaceAll(fixture(t, "SessionStart"), []byte(fixtureSession), []byte("auth-http"))
	res, err := post(ctx, url, "application/json", payload, header)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Status, res.Body)
	res, err = post(ctx, url, "application/json", payload, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, res.Status, "without the token")

	cmd := strings.Replace(agentsBlock(t, "claude-code-command-auth"), docHookURL, c.hookURL(), 1)
	payload = bytes.ReplaceAll(fixture(t, "SessionStart"), []byte(fixtureSession), []byte("auth-command"))
	t.Setenv("AGENTAUDIT_TOKEN", token)
	code, out := runHookCommand(t, cmd, payload)
	assert.Equal(t, 0, code, out)

	// authConfig writes synchronously: acknowledged means archived.
	got := hookRecords(t, c.archiveDir())
	assert.Contains(t, got, "auth-http/SessionStart")
	assert.Contains(t, got, "auth-command/SessionStart")
	assert.Len(t, got, 2)
}
