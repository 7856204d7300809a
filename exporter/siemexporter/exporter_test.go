package siemexporter

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/exporter/siemexporter/internal/metadatatest"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

func loadConfig(t *testing.T, id string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sub, err := cm.Sub(id)
	require.NoError(t, err)
	if err := sub.Unmarshal(cfg); err != nil {
		return cfg, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(t, "siem")
	require.NoError(t, err)
	assert.Equal(t, formatCEF, cfg.Format)
	require.NotNil(t, cfg.File)
	assert.Equal(t, FileConfig{Path: "/var/log/agentaudit/events.cef", MaxSize: 100 << 20, Fsync: true}, *cfg.File,
		"a file section gets the defaults for what it leaves out")
	assert.True(t, cfg.QueueConfig.HasValue(), "the queue is on by default")
	assert.Zero(t, cfg.RetryConfig.MaxElapsedTime, "retries never give up by default")
	assert.Equal(t, 30*time.Second, cfg.TimeoutConfig.Timeout)

	cfg, err = loadConfig(t, "siem/custom")
	require.NoError(t, err)
	assert.Equal(t, FileConfig{Path: "/var/log/agentaudit/events.cef", MaxSize: 1 << 20, MaxBackups: 3}, *cfg.File)
	assert.Equal(t, "Example", cfg.CEF.Vendor)
	assert.Equal(t, map[string]string{"cs1Label": "session"}, cfg.CEF.Labels)

	cfg, err = loadConfig(t, "siem/ecs_elasticsearch")
	require.NoError(t, err)
	assert.Equal(t, formatECS, cfg.Format)
	assert.Equal(t, "audit_trail", cfg.ECS.Namespace)
	assert.Equal(t, "https://es.example:9200", cfg.Elasticsearch.Endpoint)
	assert.Equal(t, "logs-agent_audit-default", cfg.Elasticsearch.DataStream, "the data stream's default survives unmarshalling")

	cfg, err = loadConfig(t, "siem/leef_syslog")
	require.NoError(t, err)
	assert.Equal(t, "^", cfg.LEEF.Delimiter)
	assert.Equal(t, "AgentAudit", cfg.LEEF.Vendor, "what the leef section leaves out keeps its default")
	require.NotNil(t, cfg.Syslog)
	assert.Equal(t, "qradar.example:6514", cfg.Syslog.Endpoint)
	assert.Equal(t, "tcp", cfg.Syslog.Network)
	assert.Equal(t, 13, cfg.Syslog.Facility)
	require.True(t, cfg.Syslog.TLS.HasValue())
	assert.Equal(t, "/etc/ssl/qradar-ca.pem", cfg.Syslog.TLS.Get().CAFile)

	cfg, err = loadConfig(t, "siem/splunk_hec")
	require.NoError(t, err)
	assert.True(t, cfg.SplunkHEC.UseAck, "acknowledgement is on by default")
	assert.Equal(t, formatCEF, cfg.Format)

	for id, want := range map[string]string{
		"siem/cef_elasticsearch": "elasticsearch takes JSON documents: set format: ecs",
		"siem/bad_on_queue_full": `on_queue_full must be drop or refuse, not "block"`,
		"siem/two_transports":    "exactly one transport",
		"siem/no_transport":      "exactly one transport",
		"siem/bad_format":        `format must be cef, ecs or leef, not "xml"`,
		"siem/empty_path":        "file: path must be set",
	} {
		_, err := loadConfig(t, id)
		require.Error(t, err, id)
		assert.Contains(t, err.Error(), want, id)
	}
}

// auditLogs builds n tool.call records of one session; chained ones carry
// a log id and leaf index as the chain processor writes them.
func auditLogs(n int, chained bool, message string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "build-7")
	sl := rl.ScopeLogs().AppendEmpty()
	for i := 0; i < n; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("agent_audit.tool.call")
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 12, 6, 1, 2, 3, i, time.UTC)))
		lr.Attributes().PutStr("session.id", "s-1")
		lr.Attributes().PutStr("gen_ai.tool.name", "Bash")
		lr.Body().SetStr(message)
		if chained {
			lr.Attributes().PutStr(integrity.AttrLogID, "log-a")
			lr.Attributes().PutInt(integrity.AttrLogIndex, int64(i))
		}
	}
	return ld
}

func newFileExporter(t *testing.T, tt *componenttest.Telemetry, path string) (func(plog.Logs) error, func()) {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.File = &FileConfig{Path: path, Fsync: true}
	require.NoError(t, cfg.Validate())
	e, err := newSIEMExporter(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	return func(ld plog.Logs) error { return e.pushLogs(context.Background(), ld) },
		func() { require.NoError(t, e.shutdown(context.Background())) }
}

func TestExporterWritesOneCEFLinePerRecord(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	path := filepath.Join(t.TempDir(), "events.cef")
	push, stop := newFileExporter(t, tt, path)
	// The message holds everything that could break a line-oriented file.
	require.NoError(t, push(auditLogs(5, true, "line one\nline two\r\n|pipe|=eq\\ \u2028 CEF:0|forged|")))
	stop()

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 5)
	for _, l := range lines {
		assert.True(t, strings.HasPrefix(l, "CEF:0|AgentAudit|otelcol-agentaudit|"), l)
		assert.Contains(t, l, `msg=line one\nline two\r\n|pipe|\=eq\\ `)
		assert.Equal(t, 1, strings.Count(l, "CEF:0|AgentAudit"), "the forged header stays inside msg")
	}
	metadatatest.AssertEqualExporterSiemEventsSent(t, tt, []metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterSiemBytesSent(t, tt, []metricdata.DataPoint[int64]{{Value: int64(len(b) - 5)}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestRecordIDsAreStableAndDistinct(t *testing.T) {
	ids := func(ld plog.Logs) []string {
		var out []string
		var canon []byte
		rl := ld.ResourceLogs().At(0)
		sl := rl.ScopeLogs().At(0)
		for i := 0; i < sl.LogRecords().Len(); i++ {
			var id string
			id, canon = recordID(canon, rl, sl, sl.LogRecords().At(i))
			require.Len(t, id, 40)
			out = append(out, id)
		}
		return out
	}
	for _, chained := range []bool{true, false} {
		a, b := ids(auditLogs(50, chained, "m")), ids(auditLogs(50, chained, "m"))
		assert.Equal(t, a, b, "the same records get the same ids (chained=%v)", chained)
		seen := map[string]bool{}
		for _, id := range a {
			assert.False(t, seen[id], "ids are distinct (chained=%v)", chained)
			seen[id] = true
		}
	}
	// A chained record's id is its leaf: the body does not change it, and
	// an unchained record's id is its content.
	assert.Equal(t, ids(auditLogs(1, true, "a")), ids(auditLogs(1, true, "b")))
	assert.NotEqual(t, ids(auditLogs(1, false, "a")), ids(auditLogs(1, false, "b")))
}

// failingTransport fails every send.
type failingTransport struct{ err error }

func (f failingTransport) start(context.Context, component.Host) error { return nil }
func (f failingTransport) send(context.Context, []event) error         { return f.err }
func (f failingTransport) shutdown(context.Context) error              { return nil }

func TestExporterCountsSendErrorsAndReturnsThem(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.File = &FileConfig{Path: filepath.Join(t.TempDir(), "x")}
	e, err := newSIEMExporter(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, err)
	boom := errors.New("connection refused")
	e.transport = failingTransport{err: boom}
	require.ErrorIs(t, e.pushLogs(context.Background(), auditLogs(3, false, "m")), boom)
	metadatatest.AssertEqualExporterSiemSendErrors(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	e.rejected(context.Background(), 2, "document_parsing_exception")
	metadatatest.AssertEqualExporterSiemEventsRejected(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// blockingTransport holds every send until release is closed.
type blockingTransport struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingTransport) start(context.Context, component.Host) error { return nil }
func (b *blockingTransport) send(ctx context.Context, _ []event) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (b *blockingTransport) shutdown(context.Context) error { return nil }

// A SIEM that does not answer fills the sending queue; with the default
// on_queue_full (drop) further records are counted and the pipeline gets
// success, with refuse it gets the queue's error.
func TestFullQueueDropsOrRefuses(t *testing.T) {
	for _, mode := range []string{onQueueFullDrop, onQueueFullRefuse} {
		t.Run(mode, func(t *testing.T) {
			tt := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			cfg.File = &FileConfig{Path: filepath.Join(t.TempDir(), "x")}
			cfg.OnQueueFull = mode
			q := cfg.QueueConfig.Get()
			q.QueueSize = 2 // the request in flight still counts
			q.NumConsumers = 1
			q.Batch = configoptional.None[exporterhelper.BatchConfig]()
			require.NoError(t, cfg.Validate())
			set := metadatatest.NewSettings(tt)
			e, err := newSIEMExporter(cfg, set)
			require.NoError(t, err)
			bt := &blockingTransport{started: make(chan struct{}, 1), release: make(chan struct{})}
			e.transport = bt
			exp, err := wrapExporter(context.Background(), set, cfg, e)
			require.NoError(t, err)
			require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
			ctx := context.Background()
			require.NoError(t, exp.ConsumeLogs(ctx, auditLogs(1, false, "in flight")))
			<-bt.started // the consumer holds the first request
			require.NoError(t, exp.ConsumeLogs(ctx, auditLogs(1, false, "queued")))
			err = exp.ConsumeLogs(ctx, auditLogs(3, false, "over"))
			if mode == onQueueFullDrop {
				require.NoError(t, err)
				metadatatest.AssertEqualExporterSiemEventsDropped(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			} else {
				require.ErrorIs(t, err, exporterhelper.ErrQueueIsFull)
			}
			close(bt.release)
			require.NoError(t, exp.Shutdown(ctx))
			metadatatest.AssertEqualExporterSiemEventsSent(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
		})
	}
}

// ECS agent.* names this collector (its build version and instance), not
// the AI agent and not the record's sender.
func TestECSAgentIsThisCollector(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tt)
	set.BuildInfo.Version = "0.1.0-test"
	set.Resource = pcommon.NewResource()
	set.Resource.Attributes().PutStr("service.instance.id", "inst-42")
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Format = formatECS
	path := filepath.Join(t.TempDir(), "events.json")
	cfg.File = &FileConfig{Path: path}
	e, err := newSIEMExporter(cfg, set)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	ld := auditLogs(1, false, "m")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.version", "sender-9")
	require.NoError(t, e.pushLogs(context.Background(), ld))
	require.NoError(t, e.shutdown(context.Background()))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc struct {
		Agent map[string]string `json:"agent"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	host, _ := os.Hostname()
	assert.Equal(t, map[string]string{"type": "otelcol-agentaudit", "version": "0.1.0-test", "id": "inst-42", "name": host}, doc.Agent)
}
