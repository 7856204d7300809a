package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
)

// The real agents, installed from npm by scripts/test-agents.sh (make deps)
// at the versions pinned there. They run without an account and without a
// network: what they send to the collector before giving up (hooks and
// OpenTelemetry events of a prompt that never reaches a model) is what these
// tests check, with the settings docs/agents.md gives.
const (
	claudeCodeVersion = "2.1.332"
	codexVersion      = "0.171.0"
)

// agentBinary is the path of an installed agent; a missing one fails the
// test with what to run.
func agentBinary(t *testing.T, name, version string) string {
	t.Helper()
	cache := os.Getenv("AGENTAUDIT_TEST_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			require.NoError(t, err)
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "otelcol-agentaudit-test")
	}
	bin := filepath.Join(cache, "agents", name+"-"+version, "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s %s is not installed (%v): run scripts/test-agents.sh (make deps does)", name, version, err)
	}
	return bin
}

// agentRecord is one archived record: its event type and attributes.
type agentRecord struct {
	event string
	attrs map[string]any
}

// agentRecords returns the archive's records of the given AI agent
// (gen_ai.agent.name).
func agentRecords(t *testing.T, dir, agent string) []agentRecord {
	t.Helper()
	var out []agentRecord
	for _, l := range readArchive(t, dir) {
		lr := l.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		attrs := lr.Attributes().AsRaw()
		if attrs["gen_ai.agent.name"] == agent {
			out = append(out, agentRecord{event: lr.EventName(), attrs: attrs})
		}
	}
	return out
}

// waitAgentRecords polls the archive until ok holds for the agent's
// records, or the deadline.
func waitAgentRecords(t *testing.T, dir, agent string, ok func([]agentRecord) bool) []agentRecord {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs := agentRecords(t, dir, agent)
		if ok(recs) || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func countEvents(recs []agentRecord, event, sourceEvent string) int {
	n := 0
	for _, r := range recs {
		if r.event == event && (sourceEvent == "" || r.attrs["agent_audit.source.event"] == sourceEvent) {
			n++
		}
	}
	return n
}

// agentCommand runs an agent in its own process group, killed whole when
// ctx ends: the npm launchers start the agent as a child, which would
// otherwise outlive them and keep the output pipe open.
func agentCommand(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// agentEnv is the test's environment for an agent: HOME in a temporary
// directory, no credentials, no auto-update.
func agentEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "CODEX_HOME", strings.HasPrefix(k, "ANTHROPIC_"), strings.HasPrefix(k, "OPENAI_"),
			strings.HasPrefix(k, "OTEL_"), strings.HasPrefix(k, "CLAUDE_"):
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home, "DISABLE_AUTOUPDATER=1"), extra...)
}

// Claude Code, configured with the HTTP hooks and the OpenTelemetry
// variables of docs/agents.md (ports moved to the test collector's), runs
// one prompt without an account: its UserPromptSubmit and SessionEnd hooks
// and its own user_prompt and api_error events reach the archive as audit
// records of one session, and the events the mapping does not know are
// recorded as unmapped, not dropped.
func TestRealClaudeCodeHooksAndTelemetry(t *testing.T) {
	bin := agentBinary(t, "claude", claudeCodeVersion)
	httpPort := testport.Free(t)
	c := newCollector(t, normalizeConfig, map[string]string{"http_port": strconv.Itoa(httpPort), "grpc_port": strconv.Itoa(testport.Free(t))})

	// settings.json = the documented hooks plus the documented env.
	settings := agentsBlock(t, "claude-code-http-settings")
	settings = strings.ReplaceAll(settings, "127.0.0.1:4320", "127.0.0.1:"+strconv.Itoa(c.p.Port))
	otel := strings.ReplaceAll(agentsBlock(t, "claude-code-otel"), "127.0.0.1:4318", "127.0.0.1:"+strconv.Itoa(httpPort))
	i := strings.LastIndex(settings, "}")
	j := strings.Index(otel, "{")
	k := strings.LastIndex(otel, "}")
	require.True(t, i > 0 && j >= 0 && k > j)
	merged := settings[:i] + "," + otel[j+1:k] + "}"
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".claude"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".claude", "settings.json"), []byte(merged), 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := agentCommand(ctx, bin, "-p", "say hi")
	cmd.Dir = home
	cmd.Env = agentEnv(home)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	require.True(t, err == nil || errors.As(err, &exitErr), "claude ran: %v\n%s", err, out)
	require.NoError(t, ctx.Err(), "claude stopped by itself")

	recs := waitAgentRecords(t, c.archiveDir(), "claude-code", func(r []agentRecord) bool {
		return countEvents(r, "agent_audit.session.end", "SessionEnd") > 0 && countEvents(r, "agent_audit.error", "") > 0 &&
			countEvents(r, "agent_audit.prompt", "") >= 2
	})
	require.NotEmpty(t, recs, "claude output:\n%s\ncollector log:\n%s", out, c.logs())
	assert.Equal(t, 1, countEvents(recs, "agent_audit.prompt", "UserPromptSubmit"), "the UserPromptSubmit hook")
	assert.Equal(t, 1, countEvents(recs, "agent_audit.session.end", "SessionEnd"), "the SessionEnd hook")
	assert.GreaterOrEqual(t, countEvents(recs, "agent_audit.prompt", ""), 2, "the hook and the user_prompt event")
	assert.GreaterOrEqual(t, countEvents(recs, "agent_audit.error", ""), 1, "the api_error event of a prompt without an account")
	sessions := map[any]bool{}
	unmapped := 0
	for _, r := range recs {
		sessions[r.attrs["session.id"]] = true
		if r.event == "agent_audit.source.unmapped" {
			unmapped++
			assert.Equal(t, "unknown_event", r.attrs["agent_audit.unmapped"])
			assert.True(t, strings.HasPrefix(r.attrs["agent_audit.source.event"].(string), "claude_code."), "%v", r.attrs)
		}
	}
	assert.Len(t, sessions, 1, "hooks and OpenTelemetry name the same session")
	for _, r := range recs {
		if r.attrs["agent_audit.source.event"] == "UserPromptSubmit" {
			assert.Equal(t, home, r.attrs["process.working_directory"])
		}
	}
	assert.True(t, c.healthy())
	t.Logf("e2e: real Claude Code %s: %d records (%d unmapped) of one session", claudeCodeVersion, len(recs), unmapped)
}

// Codex, configured with the [otel] block of docs/agents.md, starts one
// exec without an account or network: its conversation start, prompt and
// API request events reach the archive as audit records of one session.
func TestRealCodexTelemetry(t *testing.T) {
	bin := agentBinary(t, "codex", codexVersion)
	httpPort := testport.Free(t)
	c := newCollector(t, normalizeConfig, map[string]string{"http_port": strconv.Itoa(httpPort), "grpc_port": strconv.Itoa(testport.Free(t))})

	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	require.NoError(t, os.MkdirAll(codexHome, 0o700))
	config := strings.ReplaceAll(agentsBlock(t, "codex-otel"), "127.0.0.1:4318", "127.0.0.1:"+strconv.Itoa(httpPort))
	require.NoError(t, os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config+"\n"), 0o600))

	// Without a network Codex retries for ever: it is stopped once its
	// events are in the archive (or after the deadline).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := agentCommand(ctx, bin, "exec", "--skip-git-repo-check", "say hi")
	cmd.Dir = home
	cmd.Env = agentEnv(home, "CODEX_HOME="+codexHome)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	recs := waitAgentRecords(t, c.archiveDir(), "codex", func(r []agentRecord) bool {
		return countEvents(r, "agent_audit.session.start", "") > 0 && countEvents(r, "agent_audit.prompt", "") > 0 &&
			countEvents(r, "agent_audit.model.request", "") > 0
	})
	cancel()
	_ = cmd.Wait()
	require.NotEmpty(t, recs, "codex output:\n%s\ncollector log:\n%s", out.String(), c.logs())
	assert.Equal(t, 1, countEvents(recs, "agent_audit.session.start", ""), "codex.conversation_starts")
	assert.GreaterOrEqual(t, countEvents(recs, "agent_audit.prompt", ""), 1, "codex.user_prompt")
	assert.GreaterOrEqual(t, countEvents(recs, "agent_audit.model.request", ""), 1, "codex.api_request")
	sessions := map[any]bool{}
	for _, r := range recs {
		if r.event != "agent_audit.source.unmapped" {
			sessions[r.attrs["session.id"]] = true
		}
	}
	assert.Len(t, sessions, 1, "every mapped record names the conversation")
	assert.True(t, c.healthy())
	t.Logf("e2e: real Codex %s: %d records", codexVersion, len(recs))
}

// The versions above are the ones scripts/test-agents.sh installs.
func TestRealAgentPinsMatchTheInstallScript(t *testing.T) {
	script, err := os.ReadFile("../scripts/test-agents.sh")
	require.NoError(t, err)
	assert.Contains(t, string(script), "\nCLAUDE_CODE_VERSION="+claudeCodeVersion+"\n")
	assert.Contains(t, string(script), "\nCODEX_VERSION="+codexVersion+"\n")
}
