package genaiconnector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentaudit/otelcol-agentaudit/internal/testschema"
)

type spanIDs struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// FuzzGenAISpans converts any OTLP/JSON traces batch (raw, when it parses)
// plus one span built from the other arguments: name, operation, one
// attribute of each value type under a fuzzed key, status, times, trace
// and span ids, and one span event. Properties: it never panics; every
// GenAI span (a gen_ai.* attribute or span event) yields at least one
// record carrying its trace and span ids; a record carries the ids of a
// span of the batch; every record is of a schema event type and valid
// against the schema (originals only under the configured prefix, the
// span's name only under agent_audit.span.); an unmapped record says why
// in agent_audit.unmapped. drop picks keep_original: drop, emit
// emit_non_genai. Seeds: the four fixture batches of testdata, plus the
// spans in testdata/fuzz/FuzzGenAISpans.
func FuzzGenAISpans(f *testing.F) {
	for _, name := range fixtures {
		raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, "chat gpt-4o", "chat", "gen_ai.request.model", "gpt-4o", int64(100), 0.7, false,
			uint8(ptrace.StatusCodeOk), "", uint64(1_000), uint64(2_000_000), []byte("0123456789abcdef"), []byte("01234567"), "gen_ai.choice", "gen_ai.output.messages", false, false)
	}
	f.Add([]byte(nil), "execute_tool bash", "execute_tool", "gen_ai.tool.name", "", int64(-1), -1.5, true,
		uint8(ptrace.StatusCodeError), "boom", uint64(5), uint64(4), []byte{}, []byte{}, "exception", "exception.message", true, true)
	f.Add([]byte(nil), "", "invoke_agent", "error.type", "timeout", int64(0), 0.0, false,
		uint8(7), "\xff", uint64(0), uint64(0), []byte("x"), []byte("y"), "", "gen_ai.prompt", false, true)
	f.Add([]byte(nil), "plain span", "", "http.method", "GET", int64(1), 1.0, true,
		uint8(0), "", uint64(1), uint64(1<<63), []byte("trace-id-trace-i"), []byte("span-id-"), "db.query", "db.statement", true, false)

	f.Fuzz(func(t *testing.T, raw []byte, name, op, key, sval string, ival int64, dval float64, bval bool,
		status uint8, statusMsg string, start, end uint64, traceID, spanID []byte, event, eventKey string, drop, emit bool) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
		if err != nil {
			td = ptrace.NewTraces()
		}
		span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		span.SetName(name)
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		copy(tid[:], traceID)
		copy(sid[:], spanID)
		span.SetTraceID(tid)
		span.SetSpanID(sid)
		span.SetStartTimestamp(pcommon.Timestamp(start))
		span.SetEndTimestamp(pcommon.Timestamp(end))
		span.Status().SetCode(ptrace.StatusCode(status % 3))
		span.Status().SetMessage(statusMsg)
		a := span.Attributes()
		if op != "" {
			a.PutStr("gen_ai.operation.name", op)
		}
		a.PutStr(key, sval)
		a.PutInt(key+".int", ival)
		a.PutDouble(key+".double", dval)
		a.PutBool(key+".bool", bval)
		a.PutEmptySlice(key + ".list").AppendEmpty().SetStr(sval)
		if event != "" || eventKey != "" {
			ev := span.Events().AppendEmpty()
			ev.SetName(event)
			ev.SetTimestamp(pcommon.Timestamp(start / 2))
			ev.Attributes().PutStr(eventKey, sval)
			ev.Attributes().PutInt(eventKey+".int", ival)
		}

		cfg := createDefaultConfig().(*Config)
		cfg.EmitNonGenAI = emit
		if drop {
			cfg.KeepOriginal = KeepDrop
		}
		cv := converter{cfg: cfg, observed: time.Unix(1_700_000_000, 0)}
		ld := cv.convert(td)

		spans := map[spanIDs]bool{}
		var genai []spanIDs
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					ids := spanIDs{s.TraceID(), s.SpanID()}
					spans[ids] = true
					if fuzzIsGenAI(s) {
						genai = append(genai, ids)
					}
				}
			}
		}
		got := map[spanIDs]int{}
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					ids := spanIDs{lr.TraceID(), lr.SpanID()}
					if !spans[ids] {
						t.Fatalf("%s carries trace %s span %s, of no span of the batch", lr.EventName(), ids.trace, ids.span)
					}
					got[ids]++
					checkGenAIRecord(t, lr, cfg)
				}
			}
		}
		for _, ids := range genai {
			if got[ids] == 0 {
				t.Fatalf("GenAI span (trace %s span %s) gave no record", ids.trace, ids.span)
			}
		}
	})
}

// fuzzIsGenAI is the README's definition of a GenAI span, written again
// here so that the property does not lean on the code under test.
func fuzzIsGenAI(s ptrace.Span) bool {
	for k := range s.Attributes().All() {
		if strings.HasPrefix(k, "gen_ai.") {
			return true
		}
	}
	for _, ev := range s.Events().All() {
		if strings.HasPrefix(ev.Name(), "gen_ai.") {
			return true
		}
	}
	return false
}

// checkGenAIRecord checks a record against the schema tables on their own
// (internal/testschema): the kept originals and an unmapped record's span
// name are the connector's extras; an unmapped record carries its reason.
func checkGenAIRecord(t *testing.T, lr plog.LogRecord, cfg *Config) {
	t.Helper()
	unmapped := lr.EventName() == unmappedEvent
	extra := func(name string) bool {
		kept := cfg.KeepOriginal == KeepPrefix && strings.HasPrefix(name, cfg.OriginalPrefix)
		return kept || unmapped && name == spanAttrPrefix+"name"
	}
	if err := testschema.Check(lr, extra); err != nil {
		t.Fatalf("%v: %v", err, lr.Attributes().AsRaw())
	}
	if unmapped {
		if v, ok := lr.Attributes().Get(unmappedAttr); !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
			t.Fatalf("unmapped record without %s: %v", unmappedAttr, lr.Attributes().AsRaw())
		}
	}
	if lr.SeverityNumber() == plog.SeverityNumberUnspecified {
		t.Fatalf("%s without severity", lr.EventName())
	}
}
