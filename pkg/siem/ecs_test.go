package siem

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// ---- the ECS 9.4.0 field list (testdata, derived by internal/ecsfields) ----

type ecsFieldDef struct {
	typ      string
	array    bool
	allowed  []string
	expected map[string][]string // event.category value -> expected event.type values
}

func loadECSFields(t testing.TB) map[string]ecsFieldDef {
	t.Helper()
	f, err := os.Open("testdata/ecs-9.4.0-fields.tsv")
	require.NoError(t, err)
	defer f.Close()
	fields := map[string]ecsFieldDef{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(t, cols, 4, "line %q", line)
		d := ecsFieldDef{typ: cols[1], array: cols[2] == "array", expected: map[string][]string{}}
		if cols[3] != "-" {
			for _, v := range strings.Split(cols[3], ",") {
				name, types, ok := strings.Cut(v, ":")
				d.allowed = append(d.allowed, name)
				if ok {
					d.expected[name] = strings.Split(types, "|")
				}
			}
		}
		fields[cols[0]] = d
	}
	require.NoError(t, sc.Err())
	require.Greater(t, len(fields), 2000, "field list looks truncated")
	return fields
}

// ---- strict JSON reading ----

// decodeStrict reads exactly one JSON object from data, refusing duplicate
// keys in any object and anything after the object. Numbers stay
// json.Number so that integers and fractions can be told apart.
func decodeStrict(data []byte) (map[string]any, error) {
	if !json.Valid(data) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the object: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object: %T", v)
	}
	return m, nil
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		_, err := dec.Token()
		return m, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// ---- document checks against the field list ----

var ecsKeywordTypes = []string{"keyword", "constant_keyword", "wildcard", "text", "match_only_text"}

func checkECSValue(d ecsFieldDef, v any) error {
	switch {
	case slices.Contains(ecsKeywordTypes, d.typ):
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s wants a string, got %T", d.typ, v)
		}
	case slices.Contains([]string{"long", "integer", "short", "byte", "unsigned_long"}, d.typ):
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(n.String(), ".eE") {
			return fmt.Errorf("%s wants an integer, got %v", d.typ, v)
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("%s: %v", d.typ, err)
		}
		if d.typ == "integer" && (i < -1<<31 || i > 1<<31-1) {
			return fmt.Errorf("integer out of int32 range: %d", i)
		}
	case slices.Contains([]string{"float", "double", "scaled_float", "half_float"}, d.typ):
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s wants a number, got %T", d.typ, v)
		}
	case d.typ == "date":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("date wants a string, got %T", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return err
		}
	case d.typ == "ip":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("ip wants a string, got %T", v)
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return err
		}
	case d.typ == "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("boolean wants a bool, got %T", v)
		}
	case slices.Contains([]string{"object", "flattened", "nested"}, d.typ):
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("%s wants an object, got %T", d.typ, v)
		}
	default:
		return fmt.Errorf("type %s is not written by this formatter", d.typ)
	}
	return nil
}

// checkECSDoc checks a decoded document: top-level keys are ECS field sets
// or the namespace; every leaf outside the namespace is an ECS field with a
// compatible type; arrays only where ECS normalizes to an array; the
// categorization values are allowed and each type is expected for each
// category.
func checkECSDoc(fields map[string]ecsFieldDef, doc map[string]any, ns string) error {
	for k := range doc {
		if k != "@timestamp" && k != ns && !slices.Contains(ecsTopLevel, k) {
			return fmt.Errorf("top-level key %q", k)
		}
	}
	if doc["ecs"].(map[string]any)["version"] != ECSVersion {
		return errors.New("ecs.version missing")
	}
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		for k, v := range m {
			p := prefix + k
			if prefix == "" && k == ns {
				if _, ok := v.(map[string]any); !ok {
					return fmt.Errorf("namespace %q is not an object", ns)
				}
				continue
			}
			d, isField := fields[p]
			if sub, ok := v.(map[string]any); ok && (!isField || d.typ == "object") {
				if err := walk(p+".", sub); err != nil {
					return err
				}
				continue
			}
			if !isField {
				return fmt.Errorf("%s is not an ECS %s field", p, ECSVersion)
			}
			if arr, ok := v.([]any); ok {
				if !d.array {
					return fmt.Errorf("%s: an array where ECS does not normalize to one", p)
				}
				for _, e := range arr {
					if err := checkECSValue(d, e); err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
				}
				continue
			}
			if err := checkECSValue(d, v); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if len(d.allowed) > 0 && !slices.Contains(d.allowed, v.(string)) {
				return fmt.Errorf("%s: %q is not an allowed value", p, v)
			}
		}
		return nil
	}
	if err := walk("", doc); err != nil {
		return err
	}
	ev, _ := doc["event"].(map[string]any)
	if ev == nil || ev["kind"] == nil {
		return errors.New("event.kind missing")
	}
	cats, _ := ev["category"].([]any)
	types, _ := ev["type"].([]any)
	if len(cats) == 0 || len(types) == 0 {
		return errors.New("event.category or event.type missing")
	}
	for _, c := range cats {
		if !slices.Contains(fields["event.category"].allowed, c.(string)) {
			return fmt.Errorf("event.category %q not allowed", c)
		}
		for _, ty := range types {
			if !slices.Contains(fields["event.type"].allowed, ty.(string)) {
				return fmt.Errorf("event.type %q not allowed", ty)
			}
			if !slices.Contains(fields["event.category"].expected[c.(string)], ty.(string)) {
				return fmt.Errorf("event.type %q is not expected for event.category %q", ty, c)
			}
		}
	}
	return nil
}

// getPath returns the value at a dotted path of nested objects.
func getPath(doc map[string]any, path ...string) (any, bool) {
	var cur any = doc
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func dotted(p string) []string { return strings.Split(p, ".") }

// ---- records ----

func newECS(t testing.TB) *ECS {
	t.Helper()
	e, err := NewECS(DefaultECSConfig())
	require.NoError(t, err)
	return e
}

func formatECS(t testing.TB, e *ECS, res pcommon.Resource, lr plog.LogRecord) (map[string]any, []byte) {
	t.Helper()
	out := e.Append(nil, res, lr)
	doc, err := decodeStrict(out)
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "\n")
	return doc, out
}

// textBody lists the event types whose body is text (docs/schema.md).
var textBody = map[string]bool{
	"agent_audit.prompt": true, "agent_audit.model.request": true,
	"agent_audit.model.response": true, "agent_audit.tool.result": true,
}

// putSpec sets one schema attribute to a value of its type built from v.
func putSpec(a pcommon.Map, spec auditrecord.AttributeSpec, v string) {
	switch spec.Type {
	case auditrecord.TypeString:
		if len(spec.Enum) > 0 {
			a.PutStr(spec.Name, spec.Enum[len(spec.Enum)-1])
		} else {
			a.PutStr(spec.Name, v)
		}
	case auditrecord.TypeInt:
		n := int64(len(v)%100 + 1)
		if spec.Max > spec.Min {
			n = min(max(n, spec.Min), spec.Max)
		}
		a.PutInt(spec.Name, n)
	case auditrecord.TypeDouble:
		a.PutDouble(spec.Name, 0.7)
	case auditrecord.TypeBool:
		a.PutBool(spec.Name, true)
	case auditrecord.TypeStringArray:
		s := a.PutEmptySlice(spec.Name)
		s.AppendEmpty().SetStr(v)
		s.AppendEmpty().SetStr("stop")
	default:
		m := a.PutEmptyMap(spec.Name)
		m.PutStr("text", v)
		m.PutInt("n", 42)
		inner := m.PutEmptyMap("nested")
		inner.PutEmptySlice("list").AppendEmpty().SetDouble(1.5)
		inner.PutStr("line", "a\nb")
	}
}

// fullRecord is an event of the given type with every schema attribute
// (common and its own) set from v, the chain processor's integrity
// attributes, a trace context and a resource.
func fullRecord(name, v string) (pcommon.Resource, plog.LogRecord) {
	res := pcommon.NewResource()
	res.Attributes().PutStr("service.instance.id", "collector-1")
	res.Attributes().PutStr("service.version", "1.2.3")
	res.Attributes().PutStr("host.name", "collector-host")
	res.Attributes().PutStr("cloud.region", v)
	lr := plog.NewLogRecord()
	lr.SetEventName(name)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second)))
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("INFO")
	lr.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
	lr.SetSpanID(pcommon.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7})
	a := lr.Attributes()
	for _, spec := range auditrecord.CommonAttributes {
		putSpec(a, spec, v)
	}
	for _, et := range auditrecord.EventTypes {
		if et.Name != name {
			continue
		}
		for _, spec := range et.Attributes {
			putSpec(a, spec, v)
		}
	}
	a.PutStr(integrity.AttrLogID, "host-1/1773478800000000000")
	a.PutInt(integrity.AttrLogIndex, 1041)
	a.PutStr(integrity.AttrStreamID, "5b1d8a7e")
	a.PutInt(integrity.AttrSequenceNumber, 12)
	a.PutStr(integrity.AttrPrevHash, strings.Repeat("0", 64))
	a.PutStr(integrity.AttrRecordDigest, strings.Repeat("ab", 32))
	a.PutStr("custom.attribute", v)
	if textBody[name] {
		lr.Body().SetStr(v)
	} else {
		b := lr.Body().SetEmptyMap()
		b.PutStr("text", v)
		b.PutEmptySlice("list").AppendEmpty().SetInt(1)
	}
	return res, lr
}

// collectorRecord is a record of the integrity components with the
// attributes pkg/integrity names for it.
func collectorRecord(name, v string) (pcommon.Resource, plog.LogRecord) {
	res := pcommon.NewResource()
	lr := plog.NewLogRecord()
	lr.SetEventName(name)
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0))
	a := lr.Attributes()
	a.PutStr(integrity.AttrStreamID, integrity.CollectorStream)
	a.PutInt(integrity.AttrSequenceNumber, 3)
	switch name {
	case integrity.EventCheckpoint:
		lr.Body().SetStr("host-1/1773478800000000000\n1042\nq83...=\n\n— host-1 abc=\n")
		a.PutInt(integrity.AttrCheckpointSize, 1042)
		a.PutStr(integrity.AttrCheckpointRoot, v)
	case integrity.EventCheckpointTimestamp:
		a.PutStr(integrity.AttrTimestampToken, "MIIB"+v)
		a.PutStr(integrity.AttrTimestampNonce, "12345678901234567890")
		a.PutStr(integrity.AttrTimestampImprint, strings.Repeat("cd", 32))
		a.PutStr(integrity.AttrTimestampTime, "2026-03-14T09:14:07Z")
	case integrity.EventKeyAnnouncement:
		a.PutStr(integrity.AttrKeyName, "host-1")
		a.PutStr(integrity.AttrKeyVerifierKey, "host-1+abcd+AQ"+v)
		a.PutStr(integrity.AttrKeyAlgorithm, "ed25519")
		a.PutStr(integrity.AttrKeyPublicKey, v)
		a.PutStr(integrity.AttrKeyPrevious, "host-0+1234")
	case integrity.EventEpochStart:
		a.PutStr(integrity.AttrEpochReason, v)
		a.PutStr(integrity.AttrPrevLogID, "host-1/1")
		a.PutInt(integrity.AttrPrevSize, 77)
	case integrity.EventVoid:
		l := a.PutEmptySlice(integrity.AttrVoidedRecords)
		m := l.AppendEmpty().SetEmptyMap()
		m.PutInt("index", 5)
		m.PutStr("stream", "s")
		m.PutInt("seq", 2)
		m.PutStr("link", v)
		a.PutInt(integrity.AttrVoidedCount, 1)
		a.PutStr(integrity.AttrVoidedError, v)
	}
	return res, lr
}

var collectorEvents = []string{
	integrity.EventCheckpoint, integrity.EventCheckpointTimestamp, integrity.EventKeyAnnouncement,
	integrity.EventEpochStart, integrity.EventVoid,
}

var ecsTrickyValues = []string{
	"plain",
	"",
	"line1\nline2\r\nline3",
	`quote " backslash \ and "}, "event": {"kind": "forged"`,
	"invalid \xff\xfe utf-8 \xc3",
	"nul \x00 esc \x1b del \x7f",
	"line separators \u2028 \u2029 \u0085",
	"non-ASCII: Grüße, 日本語, 😀",
	strings.Repeat("huge ", 50_000),
}

// TestECSFieldListTopLevel: ecsTopLevel is exactly the set of top-level
// names of the committed field list.
func TestECSFieldListTopLevel(t *testing.T) {
	fields := loadECSFields(t)
	var top []string
	for name := range fields {
		first, _, _ := strings.Cut(name, ".")
		if first != "@timestamp" && !slices.Contains(top, first) {
			top = append(top, first)
		}
	}
	sort.Strings(top)
	assert.Equal(t, top, ecsTopLevel)
}

// TestECSEveryEventType formats every event type of the schema, with all
// its attributes set to tricky values, every record of the integrity
// components and unknown event names, and checks each document against the
// ECS field list.
func TestECSEveryEventType(t *testing.T) {
	fields := loadECSFields(t)
	e := newECS(t)
	for _, v := range ecsTrickyValues {
		label := v
		if len(label) > 20 {
			label = label[:20]
		}
		for _, et := range auditrecord.EventTypes {
			res, lr := fullRecord(et.Name, v)
			doc, _ := formatECS(t, e, res, lr)
			require.NoError(t, checkECSDoc(fields, doc, "agent_audit"), "%s %q", et.Name, label)
			assertNothingDropped(t, doc, res, lr, "agent_audit")
		}
		for _, name := range collectorEvents {
			res, lr := collectorRecord(name, v)
			doc, _ := formatECS(t, e, res, lr)
			require.NoError(t, checkECSDoc(fields, doc, "agent_audit"), "%s %q", name, label)
			assertNothingDropped(t, doc, res, lr, "agent_audit")
		}
		for _, name := range []string{"", "agent_audit.future.event", "custom", v} {
			res, lr := fullRecord(name, v)
			doc, _ := formatECS(t, e, res, lr)
			require.NoError(t, checkECSDoc(fields, doc, "agent_audit"), "%q %q", name, label)
			assertNothingDropped(t, doc, res, lr, "agent_audit")
		}
	}
}

// modelJSONString is what a JSON reader gets back for a string the
// formatter wrote: each byte of invalid UTF-8 becomes U+FFFD.
func modelJSONString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// stringLeaves collects every string value (not keys) of a decoded document.
func stringLeaves(v any, out map[string]int) {
	switch x := v.(type) {
	case string:
		out[x]++
	case []any:
		for _, e := range x {
			stringLeaves(e, out)
		}
	case map[string]any:
		for _, e := range x {
			stringLeaves(e, out)
		}
	}
}

// assertNothingDropped checks that every string value the record holds
// (attributes of the record and resource, nested ones, a text body) is in
// the document.
func assertNothingDropped(t *testing.T, doc map[string]any, res pcommon.Resource, lr plog.LogRecord, ns string) {
	t.Helper()
	have := map[string]int{}
	stringLeaves(doc, have)
	var want func(v pcommon.Value)
	want = func(v pcommon.Value) {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			if have[modelJSONString(v.Str())] == 0 {
				t.Errorf("%s: value %.40q is not in the document", lr.EventName(), v.Str())
			}
		case pcommon.ValueTypeMap:
			for _, e := range v.Map().All() {
				want(e)
			}
		case pcommon.ValueTypeSlice:
			for i := 0; i < v.Slice().Len(); i++ {
				want(v.Slice().At(i))
			}
		}
	}
	for _, v := range lr.Attributes().All() {
		want(v)
	}
	for _, v := range res.Attributes().All() {
		want(v)
	}
	want(lr.Body())
	if _, ok := doc[ns]; !ok && lr.Attributes().Len() > 0 {
		t.Errorf("no namespace object")
	}
}

// TestECSToolCall pins the whole document of a typical tool call.
func TestECSToolCall(t *testing.T) {
	res, lr := toolCall()
	out := newECS(t).Append(nil, res, lr)
	want := `{
	"@timestamp": "2026-03-14T09:14:07.418000000Z",
	"ecs": {"version": "9.4.0"},
	"event": {
		"kind": "event", "category": ["api"], "type": ["start"],
		"action": "tool.call", "code": "agent_audit.tool.call",
		"id": "0b8e2c1d-6f3a-4d5e-9b7c-2a1f8e4d6c30",
		"created": "2026-03-14T09:14:07.532000000Z",
		"sequence": 12, "severity": 3, "risk_score": 10,
		"module": "agent_audit", "dataset": "agent_audit.events", "provider": "claude-code"
	},
	"agent": {"type": "otelcol-agentaudit"},
	"gen_ai": {"agent": {"name": "claude-code"}, "tool": {"call": {"id": "toolu_01D7FLrfh4GYq7yT1ULFeyMV"}, "name": "Bash"}},
	"user": {"id": "alice@example.com"},
	"related": {"user": ["alice@example.com"]},
	"agent_audit": {
		"audit": {"stream": {"id": "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830"}},
		"gen_ai": {"tool": {"call": {"arguments": {"command": "go test ./pkg/parser/..."}}}},
		"session": {"id": "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830"},
		"resource": {"service": {"instance": {"id": "collector-1"}}}
	}
}`
	assert.JSONEq(t, want, string(out))
	assert.False(t, bytes.ContainsAny(out, "\n\r"))
}

// ecsMapped is the mapping table of README.md: attribute -> ECS field, for
// attributes of the right type.
var ecsMapped = map[string]string{
	"agent_audit.event.id":       "event.id",
	"agent_audit.outcome":        "event.outcome",
	"agent_audit.risk_score":     "event.risk_score",
	"agent_audit.reason":         "event.reason",
	"audit.sequence.number":      "event.sequence",
	"audit.record.digest":        "event.hash",
	"user.id":                    "user.id",
	"user.name":                  "user.name",
	"host.id":                    "host.id",
	"host.name":                  "host.name",
	"gen_ai.agent.id":            "gen_ai.agent.id",
	"gen_ai.agent.name":          "gen_ai.agent.name",
	"gen_ai.request.model":       "gen_ai.request.model",
	"gen_ai.request.max_tokens":  "gen_ai.request.max_tokens",
	"gen_ai.request.temperature": "gen_ai.request.temperature",
	"gen_ai.provider.name":       "gen_ai.system",
	"gen_ai.operation.name":      "gen_ai.operation.name",
	"gen_ai.response.model":      "gen_ai.response.model",
	"gen_ai.response.id":         "gen_ai.response.id",
	"gen_ai.usage.input_tokens":  "gen_ai.usage.input_tokens",
	"gen_ai.usage.output_tokens": "gen_ai.usage.output_tokens",
	"gen_ai.tool.name":           "gen_ai.tool.name",
	"gen_ai.tool.call.id":        "gen_ai.tool.call.id",
	"gen_ai.tool.type":           "gen_ai.tool.type",
	"process.pid":                "process.pid",
	"process.command_line":       "process.command_line",
	"process.executable.path":    "process.executable",
	"process.working_directory":  "process.working_directory",
	"process.exit.code":          "process.exit_code",
	"file.path":                  "file.path",
	"file.size":                  "file.size",
	"agent_audit.file.sha256":    "file.hash.sha256",
	"url.full":                   "url.full",
	"http.request.method":        "http.request.method",
	"http.response.status_code":  "http.response.status_code",
	"server.address":             "destination.address",
	"server.port":                "destination.port",
	"network.protocol.name":      "network.protocol",
	"error.type":                 "error.type",
	"exception.message":          "error.message",
	"agent_audit.policy.rule":    "rule.name",
}

// TestECSMappingPerEventType checks, for every event type with the
// schema's example-like values, its categorization and where each
// attribute went: its ECS field, or the namespace under its key.
func TestECSMappingPerEventType(t *testing.T) {
	cfg := DefaultECSConfig()
	cfg.Agent = ECSAgent{Version: "0.1.0", ID: "inst-1", Name: "gw-1"}
	e, err := NewECS(cfg)
	require.NoError(t, err)
	wantCat := map[string][3]string{
		"agent_audit.session.start":       {"event", "session", "start"},
		"agent_audit.session.end":         {"event", "session", "end"},
		"agent_audit.prompt":              {"event", "session", "info"},
		"agent_audit.model.request":       {"event", "api", "start"},
		"agent_audit.model.response":      {"event", "api", "end"},
		"agent_audit.tool.call":           {"event", "api", "start"},
		"agent_audit.tool.result":         {"event", "api", "end"},
		"agent_audit.file.read":           {"event", "file", "access"},
		"agent_audit.file.write":          {"event", "file", "change"},
		"agent_audit.file.delete":         {"event", "file", "deletion"},
		"agent_audit.command.exec":        {"event", "process", "start"},
		"agent_audit.network.request":     {"event", "network", "access"},
		"agent_audit.permission.request":  {"event", "api", "info"},
		"agent_audit.permission.decision": {"event", "api", "info"}, // decision "ask" (last enum value)
		"agent_audit.policy.violation":    {"alert", "intrusion_detection", "info"},
		"agent_audit.error":               {"event", "api", "info"},
		"agent_audit.agent.notification":  {"event", "session", "info"},
		"agent_audit.agent.stop":          {"event", "session", "info"},
		"agent_audit.agent.compact":       {"event", "session", "info"},
		"agent_audit.source.unmapped":     {"event", "api", "info"},
	}
	require.Len(t, wantCat, len(auditrecord.EventTypes))
	for _, et := range auditrecord.EventTypes {
		res, lr := fullRecord(et.Name, "value-"+et.Name)
		doc, out := formatECS(t, e, res, lr)
		w := wantCat[et.Name]
		ev := doc["event"].(map[string]any)
		assert.Equal(t, w[0], ev["kind"], et.Name)
		assert.Equal(t, []any{w[1]}, ev["category"], et.Name)
		assert.Equal(t, []any{w[2]}, ev["type"], et.Name)
		assert.Equal(t, strings.TrimPrefix(et.Name, "agent_audit."), ev["action"])
		assert.Equal(t, et.Name, ev["code"])
		assert.Equal(t, "2026-03-14T09:14:07.418000000Z", doc["@timestamp"])
		assert.Equal(t, "2026-03-14T09:14:08.418000000Z", ev["created"])
		got, _ := getPath(doc, "trace", "id")
		assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", got)
		got, _ = getPath(doc, "span", "id")
		assert.Equal(t, "00f067aa0ba902b7", got)
		// agent.* is this collector, as configured; the sender's
		// service.* stays under the namespace.
		assert.Equal(t, map[string]any{"type": "otelcol-agentaudit", "version": "0.1.0", "id": "inst-1", "name": "gw-1"}, doc["agent"])
		got, _ = getPath(doc, "agent_audit", "resource", "service", "version")
		assert.Equal(t, "1.2.3", got)
		got, _ = getPath(doc, "log", "level")
		assert.Equal(t, "INFO", got)
		for k, v := range lr.Attributes().All() {
			path, mapped := ecsMapped[k]
			if !mapped {
				path = "agent_audit." + strings.TrimPrefix(k, "agent_audit.")
			}
			if k == "agent_audit.decision" {
				path += ".value" // agent_audit.decision.source is a schema name too
			}
			if k == "agent_audit.duration_ms" {
				got, _ := getPath(doc, "event", "duration")
				assert.Equal(t, json.Number(fmt.Sprint(v.Int()*1e6)), got, et.Name)
				continue
			}
			got, ok := getPath(doc, dotted(path)...)
			if !assert.True(t, ok, "%s: %s not at %s in %s", et.Name, k, path, out) {
				continue
			}
			switch v.Type() {
			case pcommon.ValueTypeStr:
				assert.Equal(t, v.Str(), got, "%s %s", et.Name, k)
			case pcommon.ValueTypeInt:
				assert.Equal(t, json.Number(fmt.Sprint(v.Int())), got, "%s %s", et.Name, k)
			}
		}
		// resource host.name is left under the namespace when the record
		// has its own host.name.
		got, _ = getPath(doc, "agent_audit", "resource", "host", "name")
		assert.Equal(t, "collector-host", got, et.Name)
		if textBody[et.Name] {
			assert.Equal(t, "value-"+et.Name, doc["message"])
		} else if et.Name != "agent_audit.error" {
			got, _ = getPath(doc, "agent_audit", "body", "text")
			assert.Equal(t, "value-"+et.Name, got)
		}
	}
}

func TestECSDerivedFields(t *testing.T) {
	e := newECS(t)
	res := pcommon.NewResource()
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.network.request")
	a := lr.Attributes()
	a.PutStr("url.full", "https://user:pw@api.example.com:8443/v1/x?q=1#frag")
	a.PutStr("server.address", "2001:db8::1")
	a.PutInt("server.port", 8443)
	a.PutStr("file.path", `C:\Users\alice\report.tar.gz`)
	a.PutStr("process.executable.path", "/usr/bin/go")
	a.PutInt("agent_audit.duration_ms", 1500)
	a.PutStr("agent_audit.approver.id", "bob")
	a.PutStr("user.name", "alice")
	args := a.PutEmptySlice("process.args")
	args.AppendEmpty().SetStr("go")
	args.AppendEmpty().SetStr("test")
	doc, out := formatECS(t, e, res, lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	for path, want := range map[string]any{
		"url.scheme":              "https",
		"url.domain":              "api.example.com",
		"url.port":                json.Number("8443"),
		"url.path":                "/v1/x",
		"url.query":               "q=1",
		"url.fragment":            "frag",
		"url.original":            "https://user:pw@api.example.com:8443/v1/x?q=1#frag",
		"destination.ip":          "2001:db8::1",
		"server.ip":               "2001:db8::1",
		"destination.port":        json.Number("8443"),
		"file.name":               "report.tar.gz",
		"file.directory":          `C:\Users\alice`,
		"file.extension":          "gz",
		"process.name":            "go",
		"process.args":            []any{"go", "test"},
		"process.args_count":      json.Number("2"),
		"event.duration":          json.Number("1500000000"),
		"related.user":            []any{"alice", "bob"},
		"related.ip":              []any{"2001:db8::1"},
		"related.hosts":           []any{"api.example.com"},
		"agent_audit.approver.id": "bob",
	} {
		got, ok := getPath(doc, dotted(path)...)
		assert.True(t, ok, path)
		assert.Equal(t, want, got, path)
	}
	_, ok := getPath(doc, "url", "password")
	assert.False(t, ok, "credentials are not copied out of url.full")
}

// TestECSTypeMismatch: an attribute with a value its ECS field cannot hold
// stays under the namespace with its own type.
func TestECSTypeMismatch(t *testing.T) {
	e := newECS(t)
	res := pcommon.NewResource()
	res.Attributes().PutInt("service.version", 7) // agent.version is a keyword
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.model.response")
	a := lr.Attributes()
	a.PutStr("process.pid", "123")
	a.PutInt("gen_ai.usage.input_tokens", 1<<40) // ECS integer is 32-bit
	a.PutInt("server.port", 70000)
	a.PutInt("agent_audit.duration_ms", -5)
	a.PutStr("agent_audit.outcome", "ok")
	a.PutStr("network.protocol.name", "HTTP")
	a.PutDouble("gen_ai.request.temperature", 1)
	a.PutDouble("agent_audit.risk_score", 3.5)
	a.PutStr("gen_ai.system", "openai")
	a.PutStr("gen_ai.provider.name", "anthropic")
	a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr("stop")
	doc, out := formatECS(t, e, res, lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	for path, want := range map[string]any{
		"agent_audit.process.pid":               "123",
		"agent_audit.gen_ai.usage.input_tokens": json.Number("1099511627776"),
		"agent_audit.server.port":               json.Number("70000"),
		"agent_audit.duration_ms":               json.Number("-5"),
		"agent_audit.outcome":                   "ok",
		"agent_audit.network.protocol.name":     "HTTP",
		"agent_audit.risk_score":                json.Number("3.5"),
		"agent_audit.resource.service.version":  json.Number("7"),
		"gen_ai.request.temperature":            json.Number("1.0"),
		"gen_ai.system":                         "anthropic",
		"agent_audit.gen_ai.system":             "openai",
		// ECS 9.4 types finish_reasons as nested (objects); strings there
		// would fail to index.
		"agent_audit.gen_ai.response.finish_reasons": []any{"stop"},
	} {
		got, ok := getPath(doc, dotted(path)...)
		assert.True(t, ok, "%s in %s", path, out)
		assert.Equal(t, want, got, path)
	}
	for _, p := range []string{"process.pid", "gen_ai.usage.input_tokens", "destination.port", "event.duration", "event.outcome", "network.protocol", "event.risk_score", "agent.version"} {
		_, ok := getPath(doc, dotted(p)...)
		assert.False(t, ok, p)
	}
}

// TestECSCollisions: keys stay unique when attribute names collide with
// each other under the namespace; earlier entries win (record fields, then
// record attributes in order, then resource attributes) and the others are
// listed under _conflicts.
func TestECSCollisions(t *testing.T) {
	e := newECS(t)
	res := pcommon.NewResource()
	res.Attributes().PutStr("x", "resource x")
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.file.read")
	lr.Body().SetEmptyMap().PutStr("k", "body value")
	a := lr.Attributes()
	a.PutStr("file.path", "/etc/passwd") // ECS file.path
	a.PutStr("file", "custom file")      // namespace file: no clash with ECS file.*
	a.PutStr("agent_audit.file", "prefixed file")
	a.PutStr("x", "plain x")
	a.PutStr("x.y", "x.y value")
	a.PutStr("agent_audit.body", "attribute body")
	a.PutStr("a..b", "empty segment")
	a.PutStr(".lead", "leading dot")
	a.PutStr("agent_audit.", "only prefix")
	a.PutStr("_conflicts", "taken")
	a.PutStr("resource", "resource attr")
	a.PutStr("event.kind", "forged kind")
	m := a.PutEmptyMap("m")
	m.PutStr("\xff", "first invalid")
	m.PutStr("\xfe", "second invalid")
	m.PutStr("\ufffd_2", "literal")
	doc, out := formatECS(t, e, res, lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	ns := doc["agent_audit"].(map[string]any)
	assert.Equal(t, "custom file", ns["file"])
	assert.Equal(t, "plain x", ns["x"])
	assert.Equal(t, map[string]any{"k": "body value"}, ns["body"])
	assert.Equal(t, "taken", ns["_conflicts"])
	assert.Equal(t, "resource attr", ns["resource"])
	assert.Equal(t, "forged kind", ns["event"].(map[string]any)["kind"])
	assert.Equal(t, "event", doc["event"].(map[string]any)["kind"])
	assert.Equal(t, map[string]any{"\ufffd": "first invalid", "\ufffd_3": "second invalid", "\ufffd_2": "literal"}, ns["m"])
	got, _ := getPath(doc, "file", "path")
	assert.Equal(t, "/etc/passwd", got)
	conflicts := ns["_conflicts_2"].([]any)
	var names []string
	for _, c := range conflicts {
		cm := c.(map[string]any)
		names = append(names, cm["source"].(string)+":"+cm["name"].(string)+"="+cm["value"].(string))
	}
	assert.Equal(t, []string{
		"attribute:agent_audit.file=prefixed file",
		"attribute:x.y=x.y value",
		"attribute:agent_audit.body=attribute body",
		"attribute:a..b=empty segment",
		"attribute:.lead=leading dot",
		"attribute:agent_audit.=only prefix",
		"resource:x=resource x",
	}, names)
}

// TestECSDuplicateKeys: a map decoded from OTLP may hold a key twice; the
// document still has unique keys and both values.
func TestECSDuplicateKeys(t *testing.T) {
	otlp := `{"resourceLogs":[{"resource":{},"scopeLogs":[{"logRecords":[{"eventName":"agent_audit.tool.call",` +
		`"attributes":[{"key":"gen_ai.tool.name","value":{"stringValue":"Bash"}},{"key":"gen_ai.tool.name","value":{"stringValue":"Edit"}},` +
		`{"key":"args","value":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"1"}},{"key":"a","value":{"intValue":"2"}}]}}}]}]}]}]}`
	logs, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(otlp))
	require.NoError(t, err)
	rl := logs.ResourceLogs().At(0)
	lr := rl.ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, 3, lr.Attributes().Len(), "the decoder keeps the duplicate")
	doc, out := formatECS(t, newECS(t), rl.Resource(), lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "agent_audit"), "%s", out)
	got, _ := getPath(doc, "gen_ai", "tool", "name")
	assert.Equal(t, "Bash", got)
	got, _ = getPath(doc, "agent_audit", "gen_ai", "tool", "name")
	assert.Equal(t, "Edit", got)
	got, _ = getPath(doc, "agent_audit", "args")
	assert.Equal(t, map[string]any{"a": json.Number("1"), "a_2": json.Number("2")}, got)
}

func TestECSTimestamps(t *testing.T) {
	e := newECS(t)
	res := pcommon.NewResource()
	lr := plog.NewLogRecord()
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))))
	doc, _ := formatECS(t, e, res, lr)
	assert.Equal(t, "2026-01-02T02:04:05.000000006Z", doc["@timestamp"])
	got, _ := getPath(doc, "event", "created")
	assert.Equal(t, "2026-01-02T02:04:05.000000006Z", got)
	// An unknown (here empty) event name still yields a categorized event.
	ev := doc["event"].(map[string]any)
	assert.Equal(t, []any{"api"}, ev["category"])
	assert.Equal(t, []any{"info"}, ev["type"])
	assert.NotContains(t, ev, "action")

	lr = plog.NewLogRecord()
	doc, _ = formatECS(t, e, res, lr)
	assert.NotContains(t, doc, "@timestamp", "no time at all: no invented one")
	assert.NotContains(t, doc["event"], "created")
}

func TestECSCategorizationVariants(t *testing.T) {
	fields := loadECSFields(t)
	e := newECS(t)
	for _, c := range []struct {
		name, attr, val, kind, cat, typ string
	}{
		{"agent_audit.permission.decision", "agent_audit.decision", "allow", "event", "api", "allowed"},
		{"agent_audit.permission.decision", "agent_audit.decision", "deny", "event", "api", "denied"},
		{"agent_audit.policy.violation", "agent_audit.decision", "deny", "alert", "intrusion_detection", "denied"},
		{"agent_audit.policy.violation", "agent_audit.decision", "allow", "alert", "intrusion_detection", "allowed"},
		{"agent_audit.policy.violation", "", "", "alert", "intrusion_detection", "info"},
		{integrity.EventKeyAnnouncement, "", "", "event", "configuration", "creation"},
		{integrity.EventKeyAnnouncement, integrity.AttrKeyPrevious, "old", "event", "configuration", "change"},
		{integrity.EventCheckpoint, "", "", "event", "database", "info"},
		{integrity.EventCheckpointTimestamp, "", "", "event", "database", "info"},
		{integrity.EventEpochStart, "", "", "event", "database", "info"},
		{integrity.EventVoid, "", "", "event", "database", "error"},
		{integrity.EventUncleanStop, "", "", "event", "database", "error"},
		{"agent_audit.chain.other", "", "", "event", "database", "info"},
		{"agent_audit.future", "", "", "event", "api", "info"},
	} {
		lr := plog.NewLogRecord()
		lr.SetEventName(c.name)
		lr.SetTimestamp(1)
		if c.attr != "" {
			lr.Attributes().PutStr(c.attr, c.val)
		}
		doc, out := formatECS(t, e, pcommon.NewResource(), lr)
		require.NoError(t, checkECSDoc(fields, doc, "agent_audit"), "%s", out)
		ev := doc["event"].(map[string]any)
		assert.Equal(t, c.kind, ev["kind"], c.name)
		assert.Equal(t, []any{c.cat}, ev["category"], c.name)
		assert.Equal(t, []any{c.typ}, ev["type"], "%s %s", c.name, c.val)
		wantProvider := "otelcol-agentaudit"
		assert.Equal(t, wantProvider, ev["provider"])
	}
	// Every categorization of the table and both fallbacks use pairs ECS
	// expects.
	all := []ecsCategorization{ecsCollectorOther, ecsUnknown}
	for _, c := range ecsCategories {
		all = append(all, c)
	}
	for _, c := range all {
		assert.Contains(t, fields["event.kind"].allowed, c.kind)
		assert.Contains(t, fields["event.category"].expected[c.category], c.typ, c.category)
		for _, ty := range []string{"allowed", "denied"} {
			if c.category == "api" || c.category == "intrusion_detection" {
				assert.Contains(t, fields["event.category"].expected[c.category], ty)
			}
		}
	}
	assert.Contains(t, fields["event.category"].expected["configuration"], "change")
	// agent_audit.error without an outcome is a failure.
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.error")
	lr.Attributes().PutStr("exception.message", "API Error: 529 Overloaded")
	lr.Body().SetStr("body text")
	doc, _ := formatECS(t, e, pcommon.NewResource(), lr)
	got, _ := getPath(doc, "event", "outcome")
	assert.Equal(t, "failure", got)
	assert.Equal(t, "API Error: 529 Overloaded", doc["message"])
	got, _ = getPath(doc, "agent_audit", "body")
	assert.Equal(t, "body text", got)
}

func TestECSConfigValidate(t *testing.T) {
	for _, c := range []struct {
		ns   string
		want string
	}{
		{"agent_audit", ""},
		{"audit2", ""},
		{"x", ""},
		{"", "must not be empty"},
		{"Agent", "only lowercase"},
		{"a.b", "only lowercase"},
		{"a-b", "only lowercase"},
		{"ä", "only lowercase"},
		{"_private", "must start with a lowercase letter"},
		{"9lives", "must start with a lowercase letter"},
		{"event", "ECS 9.4.0 top-level field set"},
		{"agent", "top-level field set"},
		{"user", "top-level field set"},
		{"gen_ai", "top-level field set"},
		{"labels", "top-level field set"},
		{"message", "top-level field set"},
	} {
		cfg := ECSConfig{Namespace: c.ns}
		err := cfg.Validate()
		_, nerr := NewECS(cfg)
		if c.want == "" {
			assert.NoError(t, err, c.ns)
			assert.NoError(t, nerr, c.ns)
		} else if assert.Error(t, err, c.ns) {
			assert.Contains(t, err.Error(), c.want, c.ns)
			assert.Error(t, nerr, c.ns)
		}
	}
	d := DefaultECSConfig()
	assert.Equal(t, "agent_audit", d.Namespace)
	assert.Equal(t, map[string]bool{"decision": true}, ecsValueKeys)
}

func TestECSCustomNamespace(t *testing.T) {
	e, err := NewECS(ECSConfig{Namespace: "audit_extra"})
	require.NoError(t, err)
	res, lr := fullRecord("agent_audit.tool.call", "v")
	doc, _ := formatECS(t, e, res, lr)
	require.NoError(t, checkECSDoc(loadECSFields(t), doc, "audit_extra"))
	got, _ := getPath(doc, "audit_extra", "session", "id")
	assert.Equal(t, "v", got)
	assert.NotContains(t, doc, "agent_audit")
}

// TestECSAppendReuse: Append appends to dst and leaves what dst held.
func TestECSAppendReuse(t *testing.T) {
	e := newECS(t)
	res, lr := toolCall()
	one := e.Append(nil, res, lr)
	buf := e.Append([]byte("prefix"), res, lr)
	assert.Equal(t, "prefix"+string(one), string(buf))
	assert.Equal(t, string(one), string(e.Append(buf[:0], res, lr)))
}

func FuzzECS(f *testing.F) {
	f.Add("custom.attr", "value", "body", "k")
	f.Add("file.path", "/a\n\"b\"", "\xff", "file")
	f.Add("x.y", "\u2028", "{\"event\":1}", "x")
	fields := loadECSFields(f)
	e := newECS(f)
	f.Fuzz(func(t *testing.T, name, value, body, key string) {
		res, lr := fullRecord("agent_audit.tool.call", value)
		lr.Attributes().PutStr(name, value)
		lr.Attributes().PutEmptyMap(key).PutStr(name, value)
		res.Attributes().PutStr(key, value)
		lr.Body().SetStr(body)
		out := e.Append(nil, res, lr)
		if bytes.IndexByte(out, '\n') >= 0 || bytes.IndexByte(out, '\r') >= 0 {
			t.Fatalf("line break in %q", out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("invalid UTF-8 in %q", out)
		}
		doc, err := decodeStrict(out)
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if err := checkECSDoc(fields, doc, "agent_audit"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		have := map[string]int{}
		stringLeaves(doc, have)
		for _, s := range []string{value, body} {
			if have[modelJSONString(s)] == 0 {
				t.Fatalf("%q does not round-trip: %s", s, out)
			}
		}
		// With a plain name that no other attribute of the record or its
		// resource nests under or over (those collide and go to
		// _conflicts), the attribute is where the key scheme puts it.
		if _, mapped := ecsSources[name]; !mapped && name != key && plainName(name) && plainName(key) &&
			!nestsWithAnother(name, lr.Attributes(), res.Attributes()) {
			got, ok := getPath(doc, dotted("agent_audit."+strings.TrimPrefix(name, "agent_audit."))...)
			if ok && got != modelJSONString(value) {
				t.Fatalf("%s = %v, want %q", name, got, value)
			}
		}
	})
}

// nestsWithAnother reports whether an attribute other than name, in any of
// maps, would sit under name or name under it in the namespace.
func nestsWithAnother(name string, maps ...pcommon.Map) bool {
	n := strings.TrimPrefix(name, "agent_audit.")
	for _, m := range maps {
		for k := range m.All() {
			o := strings.TrimPrefix(k, "agent_audit.")
			if o != n && (strings.HasPrefix(o, n+".") || strings.HasPrefix(n, o+".")) {
				return true
			}
		}
	}
	return false
}

// plainName: lowercase letters and single dots, like schema names.
func plainName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '.') {
			return false
		}
	}
	return true
}

// ecsToolCall is a typical tool call of about 1 KB of ECS JSON.
func ecsToolCall() (pcommon.Resource, plog.LogRecord) {
	res, lr := toolCall()
	res.Attributes().PutStr("service.version", "1.0.0")
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("INFO")
	lr.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
	lr.SetSpanID(pcommon.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7})
	a := lr.Attributes()
	a.PutStr("user.name", "alice")
	a.PutStr("host.name", "dev-laptop-17")
	a.PutStr("gen_ai.tool.type", "function")
	a.PutStr("agent_audit.mcp.server", "filesystem")
	a.Remove("gen_ai.tool.call.arguments")
	args := a.PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutStr("command", "go test ./pkg/parser/...")
	args.PutInt("timeout", 120000)
	a.PutStr("audit.log.id", "host-1.example.com/1773478800000000000")
	a.PutInt("audit.log.index", 1041)
	a.PutStr("audit.sequence.prev_hash", "6da0633528deaa0144e7b058315f0b753ec0b945163a72bf96a0d18180f9de0d")
	a.PutStr("audit.record.digest", "47cfc81f3af2a9f52347a1cf6578ed3c54660bfe236007b83bcd0b896de7a065")
	return res, lr
}

// BenchmarkECS formats a typical agent_audit.tool.call record; records/s per
// core is reported as "events/s".
func BenchmarkECS(b *testing.B) {
	e := newECS(b)
	res, lr := ecsToolCall()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = e.Append(buf[:0], res, lr)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(int64(len(buf)))
}
