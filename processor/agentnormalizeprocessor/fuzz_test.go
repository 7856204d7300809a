package agentnormalizeprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentaudit/otelcol-agentaudit/internal/testschema"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadata"
)

// FuzzAgentNormalize runs the processor on any OTLP/JSON batch (raw, when
// it parses) plus one record built from the other arguments: an event name
// (EventName, event.name, body), one attribute of each value type under a
// fuzzed key, and the instrumentation scope. Properties: it never panics;
// as many records come out as went in (nothing dropped, nothing added);
// a record already named agent_audit.* passes unchanged; every other record
// either passes unchanged (not an agent event), or becomes an event of the
// schema that is valid against it (its agent_audit.* extras only under the
// original prefix), or becomes agent_audit.source.unmapped with the reason
// in agent_audit.unmapped. drop picks keep_original: drop over prefix.
// Seeds: the three fixture batches of testdata, plus the records in
// testdata/fuzz/FuzzAgentNormalize.
func FuzzAgentNormalize(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, path := range fixtures {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, "", "user_prompt", "claude_code.user_prompt", "com.anthropic.claude_code.events", "prompt", "hi", int64(2), 0.5, true, false)
	}
	f.Add([]byte(nil), "codex.tool_result", "codex.tool_result", "", "codex_otel", "tool_name", "shell", int64(-1), 1e300, false, false)
	f.Add([]byte(nil), "agent_audit.tool.call", "", "", "", "gen_ai.tool.name", "", int64(0), 0.0, false, true)
	f.Add([]byte(nil), "", "api_request", "", "com.anthropic.claude_code", "session.id", "s", int64(9), -0.0, true, false)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"claude_code.api_error","attributes":[{"key":"session.id","value":{"intValue":"3"}}]}]}]}]}`),
		"codex.sse_event", "", "codex.", "", "event.timestamp", "not a time", int64(1), 2.0, false, false)

	procs := map[bool]processor.Logs{}
	sinks := map[bool]*consumertest.LogsSink{}
	for _, drop := range []bool{false, true} {
		cfg := createDefaultConfig().(*Config)
		if drop {
			cfg.KeepOriginal = KeepDrop
		}
		sinks[drop] = new(consumertest.LogsSink)
		p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sinks[drop])
		if err != nil {
			f.Fatal(err)
		}
		if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			f.Fatal(err)
		}
		procs[drop] = p
	}
	prefix := createDefaultConfig().(*Config).OriginalPrefix

	f.Fuzz(func(t *testing.T, raw []byte, eventName, eventAttr, body, scope, key, sval string, ival int64, dval float64, bval, drop bool) {
		in, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
		if err != nil {
			in = plog.NewLogs()
		}
		sl := in.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scope)
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(eventName)
		lr.Body().SetStr(body)
		a := lr.Attributes()
		a.PutStr("event.name", eventAttr)
		a.PutStr("session.id", sval)
		a.PutStr(key, sval)
		a.PutInt(key+".int", ival)
		a.PutDouble(key+".double", dval)
		a.PutBool(key+".bool", bval)
		a.PutEmptySlice(key + ".list").AppendEmpty().SetStr(sval)
		a.PutEmptyMap(key+".map").PutInt(sval, ival)

		// The observed time tells the records apart: the processor moves
		// normalized records to a scope of their own, and keeps the time.
		want := map[pcommon.Timestamp]string{}
		wantName := map[pcommon.Timestamp]string{}
		n := 0
		for _, rl := range in.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					n++
					lr.SetObservedTimestamp(pcommon.Timestamp(n))
					want[lr.ObservedTimestamp()] = recordJSON(t, lr)
					wantName[lr.ObservedTimestamp()] = lr.EventName()
				}
			}
		}

		sink := sinks[drop]
		sink.Reset()
		if err := procs[drop].ConsumeLogs(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if len(sink.AllLogs()) != 1 {
			t.Fatalf("%d batches passed on, want 1", len(sink.AllLogs()))
		}
		out := sink.AllLogs()[0]
		if got := out.LogRecordCount(); got != n {
			t.Fatalf("%d records in, %d out", n, got)
		}
		seen := map[pcommon.Timestamp]bool{}
		for _, rl := range out.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					id := lr.ObservedTimestamp()
					orig, ok := want[id]
					if !ok || seen[id] {
						t.Fatalf("record %d out was not in, or came out twice", id)
					}
					seen[id] = true
					if recordJSON(t, lr) == orig {
						continue // passed unchanged
					}
					if strings.HasPrefix(wantName[id], auditrecord.EventNamePrefix) {
						t.Fatalf("record %d named %s was changed:\nin  %s\nout %s", id, wantName[id], orig, recordJSON(t, lr))
					}
					if lr.EventName() == UnmappedEvent {
						if v, ok := lr.Attributes().Get(AttrUnmapped); !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
							t.Fatalf("record %d unmapped without %s: %s", id, AttrUnmapped, recordJSON(t, lr))
						}
						continue
					}
					checkNormalized(t, lr, prefix, drop)
				}
			}
		}
	})
}

// recordJSON is a record's whole content (scope and resource aside) as
// OTLP/JSON, to compare records.
func recordJSON(t *testing.T, lr plog.LogRecord) string {
	t.Helper()
	ld := plog.NewLogs()
	lr.CopyTo(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkNormalized checks a mapped record against the schema tables on
// their own (internal/testschema), not through validate (the code under
// test): the originals under the prefix are the only extras (none when
// they are dropped).
func checkNormalized(t *testing.T, lr plog.LogRecord, prefix string, drop bool) {
	t.Helper()
	extra := func(name string) bool { return !drop && strings.HasPrefix(name, prefix) }
	if err := testschema.Check(lr, extra); err != nil {
		t.Fatal(err)
	}
	if lr.ObservedTimestamp() == 0 {
		t.Fatalf("%s lost its observed time", lr.EventName())
	}
	if lr.SeverityNumber() == plog.SeverityNumberUnspecified || lr.SeverityText() == "" {
		t.Fatalf("%s without severity", lr.EventName())
	}
}
