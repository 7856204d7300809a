package scrubprocessor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor/internal/metadata"
)

// Fake credentials of formats without a checksum; built from pieces so the
// source holds no complete token.
var (
	awsKeyID    = "AKIA" + "QYLPMN5HFIQR7XYZ"
	stripeKey   = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
	slackBot    = "xoxb-" + "263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1"
	openAIKey   = "sk-proj-" + "Qx8vR2mT7yL4nB6cK1pW9sD3fG5hJ0aZ-eU_iO8yT2rE4wQ6uI1oP3aS5dF7gH9jK2lZ4xC6vB8nM0qW2eR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4nM6qW8eR0tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM2qW4eR6tY8uI0oP2aS4dF6gH8jK0lZ2xC4vB6nM8T3BlbkFJ" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5Ef6Gh7Ij8Kl9Mn0Op1Qr2St3Uv4Wx5Yz6Ab7Cd8Ef9Gh0Ij1Kl2Mn3Op4Qr5St6"
	cardNumber  = "4111111111111111"
	emailAddr   = "jane.doe@corp-example.com"
	ssn         = "123-45-6789"
	dbPassword  = "Tr0ub4dor.3xyz"
	bearerToken = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)

// newScrub creates a scrub processor over a sink, with the test HMAC key and
// its own telemetry. mutate adjusts the default configuration.
func newScrub(t *testing.T, mutate func(*Config)) (processor.Logs, *consumertest.LogsSink, *componenttest.Telemetry) {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.HMAC.KeyFile = filepath.Join("testdata", "test_hmac.key")
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := &consumertest.LogsSink{}
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p, sink, tel
}

// testKey is the key in testdata/test_hmac.key, as the processor reads it.
func testKey(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "test_hmac.key"))
	require.NoError(t, err)
	return bytes.TrimSpace(data)
}

func hmacHex(key []byte, data string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil))
}

// oneRecord returns logs with one record of the event type, and the record.
func oneRecord(event string) (plog.Logs, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "build-07")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(event)
	lr.Attributes().PutStr("session.id", "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830")
	return ld, lr
}

// consume runs ld through p and returns what reached the sink (one batch).
func consume(t *testing.T, p processor.Logs, sink *consumertest.LogsSink, ld plog.Logs) plog.Logs {
	t.Helper()
	sink.Reset()
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.Len(t, sink.AllLogs(), 1)
	return sink.AllLogs()[0]
}

func firstRecord(ld plog.Logs) plog.LogRecord {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
}

// report returns the record's finding report as type -> count.
func report(t *testing.T, lr plog.LogRecord) map[string]int64 {
	t.Helper()
	v, ok := lr.Attributes().Get(defaultReportAttribute)
	if !ok {
		return nil
	}
	require.Equal(t, pcommon.ValueTypeMap, v.Type())
	out := map[string]int64{}
	for k, n := range v.Map().All() {
		out[k] = n.Int()
	}
	return out
}

// counter sums an int64 counter over its data points whose attributes
// include the given key=value pairs.
func counter(t *testing.T, tel *componenttest.Telemetry, name string, attrs ...string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum", name)
	var v int64
points:
	for _, dp := range sum.DataPoints {
		for i := 0; i+1 < len(attrs); i += 2 {
			got, ok := dp.Attributes.Value(attribute.Key(attrs[i]))
			if !ok || got.AsString() != attrs[i+1] {
				continue points
			}
		}
		v += dp.Value
	}
	return v
}

// allText is every string in the logs (keys, values, bodies, resources),
// for "does this secret appear anywhere" checks.
func allText(ld plog.Logs) string {
	var b strings.Builder
	var walk func(v pcommon.Value)
	walkMap := func(m pcommon.Map) {
		for k, v := range m.All() {
			b.WriteString(k + "\n")
			walk(v)
		}
	}
	walk = func(v pcommon.Value) {
		switch v.Type() {
		case pcommon.ValueTypeMap:
			walkMap(v.Map())
		case pcommon.ValueTypeSlice:
			for _, e := range v.Slice().All() {
				walk(e)
			}
		default:
			b.WriteString(v.AsString() + "\n")
		}
	}
	for _, rl := range ld.ResourceLogs().All() {
		walkMap(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			walkMap(sl.Scope().Attributes())
			for _, lr := range sl.LogRecords().All() {
				walkMap(lr.Attributes())
				walk(lr.Body())
			}
		}
	}
	return b.String()
}
