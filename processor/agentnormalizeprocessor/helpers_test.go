package agentnormalizeprocessor

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadatatest"
)

// update rewrites testdata/expected from the processor's output. Review the
// diff by hand before committing it: the files are the specification the
// e2e test holds the built binary to.
var update = flag.Bool("update", false, "rewrite testdata/expected")

func loadFixture(t testing.TB, name string) plog.Logs {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	require.NoError(t, err)
	return ld
}

// run passes ld through a processor with cfg and returns what came out.
func run(t testing.TB, cfg *Config, ld plog.Logs) (plog.Logs, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	set := metadatatest.NewSettings(tel)
	set.ID = processortest.NewNopSettings(metadata.Type).ID
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllLogs(), 1)
	return sink.AllLogs()[0], tel
}

func defaultConfig() *Config { return createDefaultConfig().(*Config) }

// canonicalLines is every record of ld in the archive's canonical form
// (the bytes the chain hashes), sorted.
func canonicalLines(ld plog.Logs) []string {
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, string(integrity.AppendCanonical(nil, rl, sl, lr)))
			}
		}
	}
	sort.Strings(out)
	return out
}

func expectedLines(t testing.TB, fixture string, got []string) []string {
	t.Helper()
	path := filepath.Join("testdata", "expected", strings.TrimSuffix(fixture, ".json")+".ndjson")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

// records lists the records of ld by event name (EventName, else the body).
func records(ld plog.Logs) map[string][]plog.LogRecord {
	m := map[string][]plog.LogRecord{}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				name := lr.EventName()
				if name == "" {
					if v, ok := lr.Attributes().Get("event.name"); ok {
						name = v.AsString()
					}
				}
				m[name] = append(m[name], lr)
			}
		}
	}
	return m
}
