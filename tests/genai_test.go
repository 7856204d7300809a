package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// genaiConfig: an application's traces arrive on the stock otlp receiver
// (HTTP and gRPC), the genai connector turns them into audit records, and
// the audit logs pipeline chains, signs and archives them, as a gateway
// would. Extra["http_port"] and ["grpc_port"] are the receiver's ports. The
// worm exporter has no queue, so a graceful stop archives the final
// checkpoint and auditctl can seal every record.
const genaiConfig = `
extensions:
{{template "audit_extensions" .}}
receivers:
{{template "otlp_receiver" .}}
connectors:
  genai:
processors:
{{template "memory_limiter" .}}
{{template "chain_sign" .}}
exporters:
{{template "worm_local" .}}
service:
  extensions: [health_check, file_storage/queue, signer]
  pipelines:
    traces/genai:
      receivers: [otlp]
      exporters: [genai]
    logs/audit:
      receivers: [genai]
      processors: [memory_limiter, chain, sign]
      exporters: [worm]
  telemetry:
{{template "metrics" .}}
`

const (
	genaiTestdata = "../connector/genaiconnector/testdata"
	genaiScope    = "github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector"
)

// genaiFixtures are the connector's testdata requests; testdata/expected
// holds the records each must become, in canonical form.
var genaiFixtures = []string{"agent_trace", "error_spans", "legacy_events", "malformed_spans"}

// Each fixture goes over each OTLP transport to the built binary; the
// archived records must be the expected ones, field by field, chained and
// signed so that auditctl verifies the archive.
func TestGenAISpansBecomeAuditRecords(t *testing.T) {
	var want []string
	for _, name := range genaiFixtures {
		raw, err := os.ReadFile(filepath.Join(genaiTestdata, "expected", name+".json"))
		require.NoError(t, err)
		var recs []map[string]any
		require.NoError(t, json.Unmarshal(raw, &recs))
		for _, r := range recs {
			b, err := json.Marshal(r)
			require.NoError(t, err)
			want = append(want, string(b))
		}
	}
	sort.Strings(want)

	for _, transport := range []string{"http-json", "http-protobuf", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			httpPort, grpcPort := testport.Free(t), testport.Free(t)
			c := newCollector(t, genaiConfig, map[string]string{
				"http_port": fmt.Sprint(httpPort), "grpc_port": fmt.Sprint(grpcPort)})
			url := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", httpPort)

			// Payloads the receiver cannot decode are refused with a reason
			// and do not stop the collector.
			res, err := post(context.Background(), url, "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz`), nil)
			require.NoError(t, err)
			assert.Equal(t, http.StatusBadRequest, res.Status, res.Body)
			res, err = post(context.Background(), url, "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, nil)
			require.NoError(t, err)
			assert.Equal(t, http.StatusBadRequest, res.Status, res.Body)
			require.True(t, c.healthy())

			for _, name := range genaiFixtures {
				sendTraces(t, transport, url, grpcPort, name)
			}

			got := waitGenAIRecords(t, c.archiveDir(), len(want), 60*time.Second)
			require.Equal(t, want, got)
			assert.True(t, c.healthy(), "the collector stays up after malformed spans")
			assert.Equal(t, float64(1), c.metric("otelcol_connector_genai_spans_skipped"), "the HTTP span is counted, not recorded")
			assert.Equal(t, float64(9), c.metric("otelcol_connector_genai_records_unmapped"))

			c.stop()
			report, code := verifyReport(t, c.archiveDir(), c.trustFile())
			require.Equal(t, 0, code, "%v", report.allProblems())
			require.True(t, report.Verified)
		})
	}
}

func sendTraces(t *testing.T, transport, url string, grpcPort int, name string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(genaiTestdata, name+".json"))
	require.NoError(t, err)
	switch transport {
	case "http-json":
		// The file as it is: the OTLP/JSON an SDK would send.
		res, err := post(context.Background(), url, "application/json", raw, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, res.Body)
	case "http-protobuf":
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalJSON(raw))
		pb, err := req.MarshalProto()
		require.NoError(t, err)
		res, err := post(context.Background(), url, "application/x-protobuf", pb, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, res.Body)
	case "grpc":
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
		require.NoError(t, err)
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		require.NoError(t, err)
	}
}

// waitGenAIRecords polls the archive until it holds n records of the genai
// connector, and returns them in the expected files' form: canonical,
// without the conversion time, schema version as a placeholder, sorted.
func waitGenAIRecords(t *testing.T, dir string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got []string
		for _, l := range readArchive(t, dir) {
			rl := l.Logs.ResourceLogs().At(0)
			sl := rl.ScopeLogs().At(0)
			if sl.Scope().Name() != genaiScope {
				continue
			}
			var m map[string]any
			require.NoError(t, json.Unmarshal(integrity.AppendCanonical(nil, rl, sl, sl.LogRecords().At(0)), &m))
			delete(m, "observed_time_unix_nano")
			if a, ok := m["scope"].(map[string]any)["attributes"].(map[string]any); ok && a["agent_audit.schema.version"] == auditrecord.SchemaVersion {
				a["agent_audit.schema.version"] = "@SCHEMA_VERSION@"
			}
			b, err := json.Marshal(m)
			require.NoError(t, err)
			got = append(got, string(b))
		}
		if len(got) >= n || time.Now().After(deadline) {
			sort.Strings(got)
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}
