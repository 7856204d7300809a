package genaiconnector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector/internal/metadatatest"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// -update rewrites testdata/expected from the connector's output; review
// the diff before keeping it, the files are the documented mapping's proof.
var update = flag.Bool("update", false, "rewrite testdata/expected/*.json")

// fixtures are the OTLP/JSON ExportTraceServiceRequest files of testdata;
// tests/genai_test.go sends the same files through the built binary.
var fixtures = []string{"agent_trace", "error_spans", "legacy_events", "malformed_spans"}

func loadFixture(t testing.TB, name string) ptrace.Traces {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
	require.NoError(t, err)
	return td
}

func convertWith(t testing.TB, cfg *Config, td ptrace.Traces) (plog.Logs, stats) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	cv := converter{cfg: cfg, observed: time.Unix(0, 1773480000000000000)}
	return cv.convert(td), cv.stats
}

func defaultCfg() *Config { return createDefaultConfig().(*Config) }

// canonicalRecords lists every record in its archived canonical form
// without observed_time_unix_nano (the time of conversion), sorted: the
// form the expected files hold and the e2e test reads back from the archive.
func canonicalRecords(t testing.TB, ld plog.Logs) []string {
	t.Helper()
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				var m map[string]any
				require.NoError(t, json.Unmarshal(integrity.AppendCanonical(nil, rl, sl, lr), &m))
				delete(m, "observed_time_unix_nano")
				normalizeSchemaVersion(m)
				b, err := json.Marshal(m)
				require.NoError(t, err)
				out = append(out, string(b))
			}
		}
	}
	sort.Strings(out)
	return out
}

// normalizeSchemaVersion replaces the scope's schema version by a
// placeholder: the expected files state the mapping, and a schema version
// bump elsewhere does not change it.
func normalizeSchemaVersion(m map[string]any) {
	if sc, ok := m["scope"].(map[string]any); ok {
		if a, ok := sc["attributes"].(map[string]any); ok && a["agent_audit.schema.version"] == auditrecord.SchemaVersion {
			a["agent_audit.schema.version"] = "@SCHEMA_VERSION@"
		}
	}
}

func TestFixturesMatchExpectedRecords(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			ld, _ := convertWith(t, defaultCfg(), loadFixture(t, name))
			got := canonicalRecords(t, ld)
			path := filepath.Join("testdata", "expected", name+".json")
			if *update {
				var buf bytes.Buffer
				buf.WriteString("[\n")
				for i, r := range got {
					var ind bytes.Buffer
					require.NoError(t, json.Indent(&ind, []byte(r), " ", " "))
					buf.WriteString(" ")
					buf.Write(ind.Bytes())
					if i < len(got)-1 {
						buf.WriteByte(',')
					}
					buf.WriteByte('\n')
				}
				buf.WriteString("]\n")
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var want []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &want))
			var wantNorm []string
			for _, w := range want {
				var m map[string]any
				require.NoError(t, json.Unmarshal(w, &m))
				b, _ := json.Marshal(m)
				wantNorm = append(wantNorm, string(b))
			}
			sort.Strings(wantNorm)
			require.Equal(t, wantNorm, got)
		})
	}
}

// records indexes converted records by span id and event name.
func records(ld plog.Logs) map[string]plog.LogRecord {
	m := map[string]plog.LogRecord{}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				key := lr.SpanID().String() + " " + lr.EventName()
				if r, ok := lr.Attributes().Get(unmappedAttr); ok {
					key += " " + r.Str()
				}
				m[key] = lr
			}
		}
	}
	return m
}

func attr(t *testing.T, lr plog.LogRecord, name string) any {
	t.Helper()
	v, ok := lr.Attributes().Get(name)
	if !ok {
		return nil
	}
	return v.AsRaw()
}

func TestToolSpanBecomesCallAndResult(t *testing.T) {
	ld, st := convertWith(t, defaultCfg(), loadFixture(t, "agent_trace"))
	recs := records(ld)
	require.Len(t, recs, 8, "four spans, two records each")
	call := recs["00f067aa0ba902b7 agent_audit.tool.call"]
	res := recs["00f067aa0ba902b7 agent_audit.tool.result"]
	require.NotEqual(t, plog.LogRecord{}, call)
	assert.Equal(t, "conv_5j66UpCpwteGg4YSxUnt7lPY", attr(t, call, "session.id"))
	assert.Equal(t, "get_weather", attr(t, call, "gen_ai.tool.name"))
	assert.Equal(t, `{"location":"Paris"}`, attr(t, call, "gen_ai.tool.call.arguments"))
	assert.Nil(t, attr(t, call, "gen_ai.tool.call.result"), "the result belongs on the result record")
	assert.Equal(t, "5b8efff798038103d269b633813fc60c", call.TraceID().String())
	assert.Equal(t, pcommon.Timestamp(1773479524877000000), call.Timestamp(), "span start")
	assert.Equal(t, pcommon.Timestamp(1773479525123000000), res.Timestamp(), "span end")
	assert.Equal(t, "success", attr(t, res, "agent_audit.outcome"))
	assert.Equal(t, int64(246), attr(t, res, "agent_audit.duration_ms"))
	assert.Equal(t, "rainy, 57°F", attr(t, res, "gen_ai.tool.call.result"))
	assert.Equal(t, "Get the current weather in a given location", attr(t, res, "agent_audit.source.gen_ai.tool.description"),
		"an attribute the mapping does not use is kept under the prefix, on the end record")
	assert.Equal(t, plog.SeverityNumberInfo, res.SeverityNumber())
	assert.Equal(t, map[string]int64{"invoke_agent": 1, "chat": 2, "execute_tool": 1}, st.converted)
	assert.Empty(t, st.unmapped)
}

func TestInferenceSpanCarriesUsageAndContentEvents(t *testing.T) {
	ld, _ := convertWith(t, defaultCfg(), loadFixture(t, "agent_trace"))
	recs := records(ld)
	req := recs["a3ce929d0e0e4736 agent_audit.model.request"]
	resp := recs["a3ce929d0e0e4736 agent_audit.model.response"]
	assert.Equal(t, "gpt-4o", attr(t, req, "gen_ai.request.model"))
	assert.Equal(t, 0.5, attr(t, req, "gen_ai.request.temperature"))
	assert.Equal(t, int64(443), attr(t, req, "server.port"))
	assert.NotNil(t, attr(t, req, "gen_ai.input.messages"), "from the operation.details event")
	assert.Nil(t, attr(t, req, "gen_ai.output.messages"))
	assert.Equal(t, []any{"tool_calls"}, attr(t, resp, "gen_ai.response.finish_reasons"))
	assert.Equal(t, int64(46), attr(t, resp, "gen_ai.usage.input_tokens"))
	assert.Equal(t, int64(17), attr(t, resp, "gen_ai.usage.output_tokens"))
	assert.Equal(t, int64(1456), attr(t, resp, "agent_audit.duration_ms"))
	assert.NotNil(t, attr(t, resp, "gen_ai.output.messages"))
	assert.Equal(t, 1.0, attr(t, resp, "agent_audit.source.gen_ai.request.top_p"))

	start := recs["eee19b7ec3c1b174 agent_audit.session.start"]
	end := recs["eee19b7ec3c1b174 agent_audit.session.end"]
	assert.Equal(t, "Weather Assistant", attr(t, start, "gen_ai.agent.name"))
	assert.Equal(t, "asst_5j66UpCpwteGg4YSxUnt7lPY", attr(t, start, "gen_ai.agent.id"))
	assert.Equal(t, "completed", attr(t, end, "agent_audit.session.end_reason"))
	assert.Nil(t, attr(t, end, "agent_audit.duration_ms"), "the schema has no duration on session.end")
}

func TestFailedSpansRecordOutcomeAndError(t *testing.T) {
	ld, st := convertWith(t, defaultCfg(), loadFixture(t, "error_spans"))
	recs := records(ld)
	res := recs["53995c3f42cd8ad8 agent_audit.tool.result"]
	assert.Equal(t, "failure", attr(t, res, "agent_audit.outcome"))
	assert.Equal(t, "PermissionError", attr(t, res, "error.type"))
	assert.Equal(t, "[Errno 13] Permission denied: '/etc/shadow'", attr(t, res, "exception.message"))
	assert.Equal(t, "[Errno 13] Permission denied: '/etc/shadow'", attr(t, res, "agent_audit.reason"), "the span status message")
	assert.Equal(t, map[string]any{"path": "/etc/shadow"}, attr(t, recs["53995c3f42cd8ad8 agent_audit.tool.call"], "gen_ai.tool.call.arguments"))

	resp := recs["7a085853722dc6d2 agent_audit.model.response"]
	assert.Equal(t, "failure", attr(t, resp, "agent_audit.outcome"))
	assert.Equal(t, "overloaded_error", attr(t, resp, "error.type"), "the span's error.type wins over the exception type")
	assert.Equal(t, 1.0, attr(t, recs["7a085853722dc6d2 agent_audit.model.request"], "gen_ai.request.temperature"),
		"an integer where the schema declares a double becomes a double")

	end := recs["b9c7c989f97918e1 agent_audit.session.end"]
	assert.Equal(t, "error", attr(t, end, "agent_audit.session.end_reason"))
	assert.Equal(t, "failure", attr(t, end, "agent_audit.outcome"))
	assert.Equal(t, "alice@example.com", attr(t, end, "user.id"))
	assert.Empty(t, st.unmapped)
}

func TestLegacyEventsGoToBodies(t *testing.T) {
	ld, _ := convertWith(t, defaultCfg(), loadFixture(t, "legacy_events"))
	recs := records(ld)
	req := recs["f2a1c0d9b8e7f6a5 agent_audit.model.request"]
	resp := recs["f2a1c0d9b8e7f6a5 agent_audit.model.response"]
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", attr(t, req, "session.id"), "no conversation id: the trace id")
	assert.Equal(t, "anthropic", attr(t, req, "gen_ai.provider.name"), "from gen_ai.system")
	assert.Nil(t, attr(t, resp, "agent_audit.source.gen_ai.system"), "used as the provider, so not kept twice")
	body := req.Body().Slice()
	require.Equal(t, 2, body.Len())
	assert.Equal(t, "gen_ai.system.message", body.At(0).Map().AsRaw()["name"])
	assert.Equal(t, "gen_ai.user.message", body.At(1).Map().AsRaw()["name"])
	require.Equal(t, 1, resp.Body().Slice().Len())
	assert.Equal(t, "gen_ai.choice", resp.Body().Slice().At(0).Map().AsRaw()["name"])
}

func TestMalformedSpansBecomeUnmappedRecords(t *testing.T) {
	ld, st := convertWith(t, defaultCfg(), loadFixture(t, "malformed_spans"))
	recs := records(ld)
	want := map[string]string{
		"1000000000000001": reasonUnknownOperation,
		"1000000000000002": reasonUnsupportedOperation,
		"1000000000000003": reasonMissingAttribute,
		"1000000000000004": reasonWrongType,
		"1000000000000005": reasonMissingOperation,
		"1000000000000007": reasonUnknownSpanEvent,
		"1000000000000008": reasonInvalidSpan,
		"1000000000000009": reasonInvalidValue,
		"100000000000000a": reasonWrongType,
	}
	for id, reason := range want {
		lr, ok := recs[id+" "+unmappedEvent+" "+reason]
		require.True(t, ok, "span %s: no unmapped record with reason %s", id, reason)
		assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber(), "the schema's severity of %s", unmappedEvent)
		assert.Empty(t, missingRequired(lr), "an unmapped record is a valid %s", unmappedEvent)
		assert.Equal(t, "conv_malformed_0001", attr(t, lr, "session.id"))
		assert.NotEmpty(t, attr(t, lr, unmappedDetail))
	}
	// The chat span with an unknown event is still mapped.
	assert.Contains(t, recs, "1000000000000007 agent_audit.model.request")
	assert.Contains(t, recs, "1000000000000007 agent_audit.model.response")
	ev := recs["1000000000000007 "+unmappedEvent+" "+reasonUnknownSpanEvent]
	assert.Equal(t, "guardrail.check", attr(t, ev, sourceEventAttr))
	assert.Equal(t, "chat gpt-4o-mini", attr(t, ev, "agent_audit.span.name"))
	assert.Equal(t, map[string]any{"guardrail.name": "pii", "guardrail.verdict": "pass"}, ev.Body().Map().AsRaw()["attributes"])
	// The unmapped record keeps the whole span, whatever keep_original says.
	lr := recs["1000000000000004 "+unmappedEvent+" "+reasonWrongType]
	assert.Equal(t, "chat gpt-4o", attr(t, lr, sourceEventAttr))
	assert.Equal(t, "97", lr.Body().Map().AsRaw()["attributes"].(map[string]any)["gen_ai.usage.input_tokens"])
	assert.Equal(t, "gen_ai.usage.input_tokens must be an integer, got a string", attr(t, lr, unmappedDetail))
	assert.Equal(t, int64(1), st.skipped, "the HTTP span is not an audit event")
	assert.Len(t, recs, 11)
}

func TestKeepOriginalDrop(t *testing.T) {
	cfg := defaultCfg()
	cfg.KeepOriginal = KeepDrop
	ld, _ := convertWith(t, cfg, loadFixture(t, "agent_trace"))
	for _, lr := range records(ld) {
		for k := range lr.Attributes().All() {
			assert.NotContains(t, k, "agent_audit.source.", "keep_original: drop keeps only schema attributes")
		}
	}
	ld, _ = convertWith(t, cfg, loadFixture(t, "malformed_spans"))
	lr := records(ld)["1000000000000004 "+unmappedEvent+" "+reasonWrongType]
	assert.Equal(t, "97", lr.Body().Map().AsRaw()["attributes"].(map[string]any)["gen_ai.usage.input_tokens"], "unmapped records keep originals")
}

func TestEmitNonGenAI(t *testing.T) {
	cfg := defaultCfg()
	cfg.EmitNonGenAI = true
	ld, st := convertWith(t, cfg, loadFixture(t, "malformed_spans"))
	lr, ok := records(ld)["1000000000000006 "+unmappedEvent+" "+reasonNotGenAI]
	require.True(t, ok)
	assert.Equal(t, "GET /healthz", attr(t, lr, sourceEventAttr))
	assert.Equal(t, "9f1e3d5c7b9a0f2e4d6c8b0a1f3e5d7c", attr(t, lr, "session.id"), "no conversation id: the trace id")
	assert.Zero(t, st.skipped)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{KeepOriginal: KeepPrefix, OriginalPrefix: "agent_audit.source."}, ""},
		{Config{KeepOriginal: KeepDrop, OriginalPrefix: "agent_audit.otel."}, ""},
		{Config{KeepOriginal: "rename", OriginalPrefix: "agent_audit.source."}, "keep_original"},
		{Config{KeepOriginal: KeepPrefix, OriginalPrefix: "source."}, "original_prefix"},
		{Config{KeepOriginal: KeepPrefix, OriginalPrefix: "agent_audit.source"}, "original_prefix"},
		{Config{KeepOriginal: KeepPrefix, OriginalPrefix: "agent_audit."}, "below agent_audit."},
		{Config{KeepOriginal: KeepPrefix, OriginalPrefix: "agent_audit.span."}, "connector's own"},
	} {
		err := tc.cfg.Validate()
		if tc.err == "" {
			assert.NoError(t, err)
		} else {
			assert.ErrorContains(t, err, tc.err)
		}
	}
}

func TestConnectorPassesRecordsAndPushback(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tel)
	sink := new(consumertest.LogsSink)
	c, err := NewFactory().CreateTracesToLogs(context.Background(), set, defaultCfg(), sink)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, c.Shutdown(context.Background())) })

	require.NoError(t, c.ConsumeTraces(context.Background(), loadFixture(t, "malformed_spans")))
	require.Equal(t, 11, sink.LogRecordCount())
	ignore := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	metadatatest.AssertEqualConnectorGenaiSpansSkipped(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, ignore...)
	metadatatest.AssertEqualConnectorGenaiRecordsEmitted(t, tel, []metricdata.DataPoint[int64]{{Value: 11}}, ignore...)
	metadatatest.AssertEqualConnectorGenaiSpansConverted(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("operation", "chat"))},
	}, ignore...)
	unmapped := []metricdata.DataPoint[int64]{}
	for _, r := range []string{reasonUnknownOperation, reasonUnsupportedOperation, reasonMissingAttribute, reasonMissingOperation,
		reasonUnknownSpanEvent, reasonInvalidSpan, reasonInvalidValue} {
		unmapped = append(unmapped, metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", r))})
	}
	unmapped = append(unmapped, metricdata.DataPoint[int64]{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", reasonWrongType))})
	metadatatest.AssertEqualConnectorGenaiRecordsUnmapped(t, tel, unmapped, ignore...)

	// Only the HTTP span: nothing to hand on, nothing sent.
	td := ptrace.NewTraces()
	loadFixture(t, "malformed_spans").ResourceSpans().At(0).CopyTo(td.ResourceSpans().AppendEmpty())
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.RemoveIf(func(s ptrace.Span) bool { return s.Name() != "GET /healthz" })
	sink.Reset()
	require.NoError(t, c.ConsumeTraces(context.Background(), td))
	assert.Zero(t, len(sink.AllLogs()))

	// A refusing logs pipeline is reported back to the receiver.
	refuse := consumertest.NewErr(errors.New("queue full"))
	c2, err := NewFactory().CreateTracesToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), defaultCfg(), refuse)
	require.NoError(t, err)
	assert.ErrorContains(t, c2.ConsumeTraces(context.Background(), loadFixture(t, "agent_trace")), "queue full")
}

// The converter reads span data only; a panic or a write to the input
// would break the traces pipeline's other consumers.
func TestConvertDoesNotMutateInput(t *testing.T) {
	for _, name := range fixtures {
		td := loadFixture(t, name)
		before, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		require.NoError(t, err)
		convertWith(t, defaultCfg(), td)
		after, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		require.NoError(t, err)
		assert.JSONEq(t, string(before), string(after), name)
	}
}
