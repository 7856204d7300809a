package agentauditreceiver

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/internal/testschema"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// FuzzClaudeCodeHook checks the hook endpoint's translation on any body, as
// handleClaudeCodeHook runs it (translate, then auditrecord.Decode with the
// receiver's default limits): it never panics; a refusal always lists
// problems that say why; an accepted payload is exactly one record of a
// schema event type, valid against the schema and valid UTF-8 throughout;
// and an unknown hook_event_name becomes agent_audit.source.unmapped naming
// the hook in agent_audit.source.event. Seeds: every payload of
// testdata/claudecode-hooks plus the malformed ones in
// testdata/fuzz/FuzzClaudeCodeHook.
func FuzzClaudeCodeHook(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "claudecode-hooks", "*.json"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no hook fixtures: %v", err)
	}
	for _, path := range fixtures {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"session_id":"s","hook_event_name":"TeammateIdle","x":{"a":[1,null]}}`))
	f.Add([]byte(`{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"mcp__srv__t","tool_input":"\ud800"}`))
	f.Add([]byte(`{"session_id":"s","hook_event_name":"Stop","session_id":"t"}`))
	f.Add([]byte("{\"session_id\":\"s\",\"hook_event_name\":\"\xff\"}"))
	f.Add([]byte(`[]`))

	cfg := createDefaultConfig().(*Config)
	limits := auditrecord.Limits{
		MaxEvents: cfg.MaxEventsPerRequest,
		MaxDepth:  cfg.MaxNestingDepth,
		MaxKeys:   cfg.MaxKeysPerObject,
	}
	now := time.Unix(1_700_000_000, 0)

	f.Fuzz(func(t *testing.T, payload []byte) {
		tr, problems := translateClaudeCodeHook(payload)
		if len(problems) > 0 {
			if tr != nil {
				t.Fatalf("a refused payload has a translation: %s", tr.event)
			}
			checkProblems(t, problems)
			return
		}
		if tr == nil {
			t.Fatal("no problems and no translation")
		}
		logs, err := auditrecord.Decode(tr.event, auditrecord.FormatJSON, limits, now)
		if err != nil {
			var inv *auditrecord.InvalidRequestError
			if !errors.As(err, &inv) || len(inv.Problems) == 0 {
				t.Fatalf("refusal without problems: %v", err)
			}
			checkProblems(t, tr.payloadProblems(inv.Problems))
			return
		}
		if n := logs.LogRecordCount(); n != 1 {
			t.Fatalf("an accepted hook payload gave %d records, want 1", n)
		}
		lr := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		checkSchemaRecord(t, lr, nil)
		checkUTF8Record(t, lr)

		// Accepted: the payload is one JSON object without duplicate keys,
		// and hook_event_name a non-blank string.
		var fields map[string]any
		if err := json.Unmarshal(payload, &fields); err != nil {
			t.Fatalf("accepted payload is not a JSON object: %v", err)
		}
		hook, _ := fields["hook_event_name"].(string)
		if got := attrStr(lr, "agent_audit.source.event"); got != hook {
			t.Fatalf("agent_audit.source.event %q, want the hook name %q", got, hook)
		}
		if _, known := claudeCodeEvents[hook]; known {
			if lr.EventName() == unmappedEventType {
				t.Fatalf("known hook %q recorded as unmapped", hook)
			}
			return
		}
		if lr.EventName() != unmappedEventType {
			t.Fatalf("unknown hook %q became %s, want %s", hook, lr.EventName(), unmappedEventType)
		}
		if attrStr(lr, unmappedAttr) == "" {
			t.Fatalf("unknown hook %q without %s", hook, unmappedAttr)
		}
	})
}

func checkProblems(t *testing.T, problems []auditrecord.Problem) {
	t.Helper()
	if len(problems) == 0 {
		t.Fatal("refusal without problems")
	}
	for _, p := range problems {
		if strings.TrimSpace(p.Reason) == "" {
			t.Fatalf("problem without reason: %+v", p)
		}
		if !utf8.ValidString(p.Reason) || !utf8.ValidString(p.Field) {
			t.Fatalf("problem is not valid UTF-8: %+v", p)
		}
	}
}

func attrStr(lr plog.LogRecord, name string) string {
	if v, ok := lr.Attributes().Get(name); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// checkSchemaRecord checks a record against the schema tables on their own
// (internal/testschema), rather than trusting the code under test; extra
// allows the agent_audit.* attributes a component writes beside the
// schema's.
func checkSchemaRecord(t *testing.T, lr plog.LogRecord, extra func(string) bool) {
	t.Helper()
	if err := testschema.Check(lr, extra); err != nil {
		t.Fatal(err)
	}
}

// checkUTF8Record: the archive, the SIEM formats and the canonical form all
// assume text is UTF-8, so every string of a record must be.
func checkUTF8Record(t *testing.T, lr plog.LogRecord) {
	t.Helper()
	if !utf8.ValidString(lr.EventName()) {
		t.Fatalf("event name is not valid UTF-8: %q", lr.EventName())
	}
	for k, v := range lr.Attributes().All() {
		if !utf8.ValidString(k) {
			t.Fatalf("attribute name is not valid UTF-8: %q", k)
		}
		checkUTF8Value(t, k, v)
	}
	checkUTF8Value(t, "body", lr.Body())
}

func checkUTF8Value(t *testing.T, path string, v pcommon.Value) {
	t.Helper()
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if !utf8.ValidString(v.Str()) {
			t.Fatalf("%s is not valid UTF-8: %q", path, v.Str())
		}
	case pcommon.ValueTypeMap:
		for k, e := range v.Map().All() {
			if !utf8.ValidString(k) {
				t.Fatalf("%s: key is not valid UTF-8: %q", path, k)
			}
			checkUTF8Value(t, path+"."+k, e)
		}
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			checkUTF8Value(t, path+"[]", e)
		}
	}
}
