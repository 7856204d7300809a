package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
)

// normalizeConfig: the otlp receiver (HTTP on Extra["http_port"], gRPC on
// Extra["grpc_port"]) feeding agentnormalize, then chain and sign as in
// distributions/local, into a local WORM archive without a queue (each
// batch is archived before the receiver answers).
const normalizeConfig = `
extensions:
{{template "audit_extensions" .}}
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
{{template "otlp_receiver" .}}
processors:
{{template "memory_limiter" .}}
  agentnormalize:
{{template "chain_sign" .}}
exporters:
{{template "worm_local" .}}
service:
  extensions: [health_check, file_storage/queue, signer]
  pipelines:
    logs/audit:
      receivers: [agentaudit, otlp]
      processors: [memory_limiter, agentnormalize, chain, sign]
      exporters: [worm]
  telemetry:
{{template "metrics" .}}
`

const normalizeTestdata = "../processor/agentnormalizeprocessor/testdata"

// agentFixtures are the OTLP/JSON requests that reproduce each agent's
// documented events; malformed.json comes first so that the valid ones
// after it show the pipeline still flows.
var agentFixtures = []string{"malformed.json", "claude_code.json", "codex.json"}

// fixtureServices tells the fixtures' records from the collector's own
// (checkpoints, key announcements) in the archive.
var fixtureServices = map[string]bool{"claude-code": true, "codex_cli_rs": true, "mixed-agents": true}

type otlpSender func(t *testing.T, ld plog.Logs)

func TestAgentTelemetryIsNormalizedEndToEnd(t *testing.T) {
	var want []string
	for _, f := range agentFixtures {
		raw, err := os.ReadFile(filepath.Join(normalizeTestdata, "expected", strings.TrimSuffix(f, ".json")+".ndjson"))
		require.NoError(t, err)
		want = append(want, strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")...)
	}
	sort.Strings(want)

	transports := map[string]func(c *collector) otlpSender{
		"http-json":     func(c *collector) otlpSender { return httpSender(c, "application/json") },
		"http-protobuf": func(c *collector) otlpSender { return httpSender(c, "application/x-protobuf") },
		"grpc":          grpcSender,
	}
	for name, newSender := range transports {
		t.Run(name, func(t *testing.T) {
			c := newCollector(t, normalizeConfig, map[string]string{
				"http_port": strconv.Itoa(testport.Free(t)), "grpc_port": strconv.Itoa(testport.Free(t)),
			})
			send := newSender(c)
			for _, f := range agentFixtures {
				raw, err := os.ReadFile(filepath.Join(normalizeTestdata, f))
				require.NoError(t, err)
				ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
				require.NoError(t, err)
				send(t, ld)
			}
			got := waitFixtureRecords(t, c.archiveDir(), len(want), 30*time.Second)
			assert.Equal(t, want, got, "archived records differ from the expected audit records")
			assert.True(t, c.healthy(), "the collector stays healthy after malformed payloads:\n%s", c.logs())
			assert.NotContains(t, c.logs(), "panic")
		})
	}
}

// waitFixtureRecords polls the archive until n records of the fixtures are
// there, and returns their canonical forms (the bytes the chain hashed),
// sorted.
func waitFixtureRecords(t *testing.T, dir string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got []string
		for _, l := range readArchive(t, dir) {
			res := l.Logs.ResourceLogs().At(0).Resource().Attributes()
			svc, _ := res.Get("service.name")
			if !fixtureServices[svc.AsString()] {
				continue
			}
			var line struct {
				Record json.RawMessage `json:"record"`
			}
			require.NoError(t, json.Unmarshal(l.Line, &line))
			got = append(got, string(line.Record))
		}
		if len(got) >= n || time.Now().After(deadline) {
			sort.Strings(got)
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func httpSender(c *collector, contentType string) otlpSender {
	url := fmt.Sprintf("http://127.0.0.1:%s/v1/logs", c.p.Extra["http_port"])
	return func(t *testing.T, ld plog.Logs) {
		t.Helper()
		req := plogotlp.NewExportRequestFromLogs(ld)
		var body []byte
		var err error
		if contentType == "application/json" {
			body, err = req.MarshalJSON()
		} else {
			body, err = req.MarshalProto()
		}
		require.NoError(t, err)
		res, err := post(context.Background(), url, contentType, body, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, res.Body)
	}
}

func grpcSender(c *collector) otlpSender {
	return func(t *testing.T, ld plog.Logs) {
		t.Helper()
		conn, err := grpc.NewClient("127.0.0.1:"+c.p.Extra["grpc_port"], grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
		require.NoError(t, err)
	}
}
