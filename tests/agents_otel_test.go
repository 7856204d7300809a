package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
)

// docEndpoint checks that an endpoint of docs/agents.md names the shipped
// OTLP/HTTP receiver (127.0.0.1:4318) and returns it moved to the test's
// port, path kept.
func docEndpoint(t *testing.T, raw string, port int) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4318", u.Host, "docs/agents.md points at the local collector's OTLP/HTTP receiver")
	u.Host = "127.0.0.1:" + strconv.Itoa(port)
	return u.String()
}

// expectedLines reads the normalizer's expected records of one fixture.
func expectedLines(t *testing.T, fixture string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(normalizeTestdata, "expected", fixture+".ndjson"))
	require.NoError(t, err)
	return len(strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n"))
}

// postOTLP sends an OTLP/JSON fixture file to url in the content type the
// documented protocol names.
func postOTLP(t *testing.T, fixture, url, contentType string, traces bool) {
	t.Helper()
	raw, err := os.ReadFile(fixture)
	require.NoError(t, err)
	body := raw
	if contentType == "application/x-protobuf" {
		if traces {
			req := ptraceotlp.NewExportRequest()
			require.NoError(t, req.UnmarshalJSON(raw))
			body, err = req.MarshalProto()
		} else {
			req := plogotlp.NewExportRequest()
			require.NoError(t, req.UnmarshalJSON(raw))
			body, err = req.MarshalProto()
		}
		require.NoError(t, err)
	}
	res, err := post(context.Background(), url, contentType, body, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
}

// The OpenTelemetry settings of docs/agents.md for Claude Code and Codex,
// read from the page: each agent's documented events, sent where and how
// the settings say, become the normalized audit records.
func TestAgentsDocOpenTelemetrySettingsForClaudeCodeAndCodex(t *testing.T) {
	var claude struct {
		Env map[string]string `json:"env"`
	}
	require.NoError(t, json.Unmarshal([]byte(agentsBlock(t, "claude-code-otel")), &claude))
	require.Equal(t, "1", claude.Env["CLAUDE_CODE_ENABLE_TELEMETRY"])
	require.Equal(t, "otlp", claude.Env["OTEL_LOGS_EXPORTER"])
	require.Equal(t, "http/protobuf", claude.Env["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"])

	codex := agentsBlock(t, "codex-otel")
	require.Contains(t, codex, "[otel]")
	m := regexp.MustCompile(`exporter = \{ otlp-http = \{ endpoint = "([^"]+)", protocol = "(binary|json)" \} \}`).FindStringSubmatch(codex)
	require.NotNil(t, m, "the codex block names an otlp-http exporter: %s", codex)
	codexType := map[string]string{"binary": "application/x-protobuf", "json": "application/json"}[m[2]]

	httpPort := testport.Free(t)
	c := newCollector(t, normalizeConfig, map[string]string{"http_port": strconv.Itoa(httpPort), "grpc_port": strconv.Itoa(testport.Free(t))})
	postOTLP(t, filepath.Join(normalizeTestdata, "claude_code.json"), docEndpoint(t, claude.Env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"], httpPort),
		"application/x-protobuf", false)
	postOTLP(t, filepath.Join(normalizeTestdata, "codex.json"), docEndpoint(t, m[1], httpPort), codexType, false)

	want := expectedLines(t, "claude_code") + expectedLines(t, "codex")
	got := waitFixtureRecords(t, c.archiveDir(), want, 30*time.Second)
	require.Len(t, got, want)
	var normalized int
	for _, r := range got {
		if strings.Contains(r, `"event_name":"agent_audit.`) && !strings.Contains(r, `"event_name":"agent_audit.source.unmapped"`) {
			normalized++
		}
	}
	assert.Positive(t, normalized, "the documented events are normalized into audit event types")
	t.Logf("e2e: agents doc: %d records from the Claude Code and Codex OpenTelemetry settings, %d normalized", len(got), normalized)
}

// The GenAI settings of docs/agents.md: an agent trace sent where and how
// they say becomes the connector's audit records.
func TestAgentsDocOpenTelemetrySettingsForGenAIApplications(t *testing.T) {
	env := map[string]string{}
	for _, line := range strings.Split(agentsBlock(t, "genai-otel"), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		require.True(t, ok, "line %q", line)
		env[k] = v
	}
	require.Equal(t, "otlp", env["OTEL_TRACES_EXPORTER"])
	require.Equal(t, "http/protobuf", env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"])

	httpPort := testport.Free(t)
	c := newCollector(t, genaiConfig, map[string]string{"http_port": fmt.Sprint(httpPort), "grpc_port": fmt.Sprint(testport.Free(t))})
	postOTLP(t, filepath.Join(genaiTestdata, "agent_trace.json"), docEndpoint(t, env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], httpPort),
		"application/x-protobuf", true)
	raw, err := os.ReadFile(filepath.Join(genaiTestdata, "expected", "agent_trace.json"))
	require.NoError(t, err)
	var want []json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &want))
	got := waitGenAIRecords(t, c.archiveDir(), len(want), 30*time.Second)
	require.Len(t, got, len(want), "every span of the agent trace becomes its audit records")
}
