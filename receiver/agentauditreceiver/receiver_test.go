package agentauditreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/receiver/agentauditreceiver/internal/metadatatest"
)

const validEvent = `{"event_name":"agent_audit.file.write","attributes":{"session.id":"s-1","file.path":"/etc/hosts"}}`

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	for _, tc := range []struct {
		id      string
		wantErr string
		check   func(t *testing.T, cfg *Config)
	}{
		{id: "agentaudit", check: func(t *testing.T, cfg *Config) {
			assert.Equal(t, "localhost:4320", cfg.ServerConfig.NetAddr.Endpoint)
			assert.Equal(t, int64(4<<20), cfg.ServerConfig.MaxRequestBodySize)
			assert.Equal(t, 10_000, cfg.MaxEventsPerRequest)
			assert.Equal(t, 256, cfg.MaxKeysPerObject)
			assert.Equal(t, time.Second, cfg.RetryAfter)
		}},
		{id: "agentaudit/custom", check: func(t *testing.T, cfg *Config) {
			assert.Equal(t, "0.0.0.0:9999", cfg.ServerConfig.NetAddr.Endpoint)
			assert.Equal(t, int64(1024), cfg.ServerConfig.MaxRequestBodySize)
			assert.Equal(t, 5, cfg.MaxEventsPerRequest)
			assert.Equal(t, 4, cfg.MaxNestingDepth)
			assert.Equal(t, 64, cfg.MaxKeysPerObject)
			assert.Equal(t, 3*time.Second, cfg.RetryAfter)
		}},
		{id: "agentaudit/bad", wantErr: "max_events_per_request must be positive, got 0"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			var id component.ID
			require.NoError(t, id.UnmarshalText([]byte(tc.id)))
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, cfg.(*Config))
		})
	}
}

// startReceiver runs the receiver on a free port in front of next.
func startReceiver(t *testing.T, next consumer.Logs, mutate func(*Config)) (string, *componenttest.Telemetry) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	if mutate != nil {
		mutate(cfg)
	}
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := newReceiver(cfg, set, next)
	require.NoError(t, err)
	// Listen ourselves to learn the port, then hand the address over.
	ln, err := cfg.ServerConfig.ToListener(context.Background())
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg.ServerConfig.NetAddr.Endpoint = addr
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return "http://" + addr + EventsPath, tel
}

func post(t *testing.T, url, contentType, body string) (*http.Response, response) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r response
	require.NoError(t, json.Unmarshal(raw, &r), "body %q", raw)
	return resp, r
}

func TestAcceptsEventsAndHandsThemOn(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url, tel := startReceiver(t, sink, nil)

	resp, r := post(t, url, "application/json", validEvent)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, r.Accepted)

	resp, r = post(t, url, "application/x-ndjson; charset=utf-8", validEvent+"\n"+validEvent+"\n")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, r.Accepted)
	assert.Equal(t, 3, sink.LogRecordCount())

	lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, "agent_audit.file.write", lr.EventName())

	got, err := tel.GetMetric("otelcol_receiver_accepted_log_records")
	require.NoError(t, err)
	sum := got.Data.(metricdata.Sum[int64])
	assert.Equal(t, int64(3), sum.DataPoints[0].Value)
}

func TestRefusesBadRequestsWithoutHandingAnythingOn(t *testing.T) {
	sink := new(consumertest.LogsSink)
	url, _ := startReceiver(t, sink, func(c *Config) {
		c.ServerConfig.MaxRequestBodySize = 2048
		c.MaxEventsPerRequest = 3
	})
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		code        int
		errContains string
	}{
		{"one bad event refuses the whole request", "application/x-ndjson", validEvent + "\n" + `{"event_name":"agent_audit.file.write","attributes":{"session.id":"s"}}`, 400, "no event of it was accepted"},
		{"malformed", "application/json", `{"event_name":`, 400, "no event of it was accepted"},
		{"empty", "application/json", "", 400, "no event of it was accepted"},
		{"text/plain", "text/plain", validEvent, 415, `Content-Type "text/plain" is not supported`},
		{"latin1", "application/json; charset=iso-8859-1", validEvent, 415, `charset "iso-8859-1" is not supported`},
		{"no content type", "", validEvent, 415, "is not understood"},
		{"body over limit", "application/json", `{"body":"` + strings.Repeat("x", 4096) + `"}`, 413, "max_request_body_size (2048 bytes)"},
		{"too many events", "application/x-ndjson", strings.Repeat(validEvent+"\n", 4), 413, "too many events in one request (limit 3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, r := post(t, url, tc.contentType, tc.body)
			assert.Equal(t, tc.code, resp.StatusCode)
			assert.Contains(t, r.Error, tc.errContains)
			assert.Zero(t, r.Accepted)
		})
	}
	assert.Zero(t, sink.LogRecordCount(), "nothing of a refused request may reach the pipeline")

	resp, r := post(t, url, "application/x-ndjson", validEvent+"\n"+`{"event_name":"agent_audit.file.write","attributes":{"session.id":"s"}}`)
	require.Equal(t, 400, resp.StatusCode)
	require.Len(t, r.Problems, 1)
	assert.Equal(t, 1, *r.Problems[0].Index)
	assert.Equal(t, "attributes.file.path", r.Problems[0].Field)
	assert.Equal(t, "required attribute is missing", r.Problems[0].Reason)
}

func TestMethodNotAllowed(t *testing.T) {
	url, _ := startReceiver(t, consumertest.NewNop(), nil)
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "POST", resp.Header.Get("Allow"))
}

func TestPipelineRefusalAsksClientToRetry(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		code       int
		retryAfter string
	}{
		{"queue full", exporterhelper.ErrQueueIsFull, http.StatusTooManyRequests, "2"},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "slow down"), http.StatusTooManyRequests, "2"},
		{"memory limiter", errors.New("data refused due to high memory usage"), http.StatusServiceUnavailable, "2"},
		{"permanent", consumererror.NewPermanent(errors.New("broken")), http.StatusInternalServerError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := consumer.NewLogs(func(context.Context, plog.Logs) error { return tc.err })
			require.NoError(t, err)
			url, _ := startReceiver(t, next, func(c *Config) { c.RetryAfter = 2 * time.Second })
			resp, r := post(t, url, "application/json", validEvent)
			assert.Equal(t, tc.code, resp.StatusCode)
			assert.Equal(t, tc.retryAfter, resp.Header.Get("Retry-After"))
			assert.Zero(t, r.Accepted)
			assert.Contains(t, r.Error, "pipeline refused the events")
		})
	}
}

func TestInvalidEventsMetric(t *testing.T) {
	url, tel := startReceiver(t, consumertest.NewNop(), nil)
	bad := `{"event_name":"agent_audit.nope","attributes":{"session.id":"s"}}`
	resp, _ := post(t, url, "application/x-ndjson", bad+"\n"+validEvent+"\n"+bad)
	require.Equal(t, 400, resp.StatusCode)
	metadatatest.AssertEqualReceiverAgentauditEventsInvalid(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualReceiverAgentauditRequestsRefused(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "invalid"))}},
		metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}
