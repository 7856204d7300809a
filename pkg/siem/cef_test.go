package siem

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcef"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// ---- a strict CEF parser implementing the same rules, for the tests ----

type parsedCEF struct {
	header [7]string // version ("CEF:0"), vendor, product, version, signature, name, severity
	keys   []string  // extension keys in order
	ext    map[string]string
}

// parseCEF parses one CEF line strictly: header escapes only \\ and \|,
// extension escapes only \\, \=, \n, \r, keys alphanumeric, no duplicate key,
// no raw CR or LF anywhere.
func parseCEF(line string) (*parsedCEF, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("raw CR or LF in the line")
	}
	p := &parsedCEF{ext: map[string]string{}}
	i, field := 0, 0
	var cur strings.Builder
	for field < 7 {
		if i >= len(line) {
			return nil, fmt.Errorf("header ends after %d fields", field)
		}
		switch c := line[i]; c {
		case '\\':
			if i+1 >= len(line) || (line[i+1] != '\\' && line[i+1] != '|') {
				return nil, fmt.Errorf("bad header escape at %d", i)
			}
			cur.WriteByte(line[i+1])
			i += 2
		case '|':
			p.header[field] = cur.String()
			cur.Reset()
			field++
			i++
		default:
			cur.WriteByte(c)
			i++
		}
	}
	if p.header[0] != "CEF:0" {
		return nil, fmt.Errorf("bad version %q", p.header[0])
	}
	if s, err := strconv.Atoi(p.header[6]); err != nil || s < 0 || s > 10 || strconv.Itoa(s) != p.header[6] {
		return nil, fmt.Errorf("bad severity %q", p.header[6])
	}
	ext := line[i:]
	if ext == "" {
		return p, nil
	}
	// Positions of unescaped '='; every one separates a key from its value.
	var eqs []int
	for j := 0; j < len(ext); j++ {
		switch ext[j] {
		case '\\':
			if j+1 >= len(ext) || !strings.ContainsRune(`\=nr`, rune(ext[j+1])) {
				return nil, fmt.Errorf("bad extension escape at %d", j)
			}
			j++
		case '=':
			eqs = append(eqs, j)
		}
	}
	if len(eqs) == 0 || ext[0] != ' ' {
		return nil, fmt.Errorf("extension %q: no key or no leading space", ext)
	}
	keyStart := make([]int, len(eqs))
	for n, eq := range eqs {
		sp := strings.LastIndexByte(ext[:eq], ' ')
		if sp < 0 {
			return nil, errors.New("key without a preceding space")
		}
		key := ext[sp+1 : eq]
		if key == "" || strings.IndexFunc(key, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return nil, fmt.Errorf("bad key %q", key)
		}
		if n == 0 && sp != 0 {
			return nil, fmt.Errorf("text before the first key: %q", ext[:sp])
		}
		keyStart[n] = sp + 1
	}
	for n, eq := range eqs {
		key := ext[keyStart[n]:eq]
		end := len(ext)
		if n+1 < len(eqs) {
			end = keyStart[n+1] - 1
		}
		if end < eq+1 {
			return nil, fmt.Errorf("key %q: no room for a value", key)
		}
		raw := ext[eq+1 : end]
		if _, dup := p.ext[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		p.ext[key] = strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r").Replace(raw)
		p.keys = append(p.keys, key)
	}
	return p, nil
}

// ---- the model of what the formatter writes, independent of cef.go ----

func modelSanitize(v string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(v, "\uFFFD") {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func modelTruncate(v string, limit int) string {
	if limit == 0 {
		return v
	}
	for len(v) > limit {
		_, n := utf8.DecodeLastRuneInString(v)
		v = v[:len(v)-n]
	}
	return v
}

func modelValue(v string, limit int) string { return modelTruncate(modelSanitize(v), limit) }

func modelHeader(v string, limit int) string {
	return modelTruncate(strings.NewReplacer("\r", " ", "\n", " ").Replace(modelSanitize(v)), limit)
}

// ---- records ----

var t0 = time.Date(2026, 3, 14, 9, 14, 7, 418_000_000, time.UTC)

func toolCall() (pcommon.Resource, plog.LogRecord) {
	res := pcommon.NewResource()
	res.Attributes().PutStr("service.instance.id", "collector-1")
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.tool.call")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(114 * time.Millisecond)))
	a := lr.Attributes()
	a.PutStr("session.id", "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830")
	a.PutStr("agent_audit.event.id", "0b8e2c1d-6f3a-4d5e-9b7c-2a1f8e4d6c30")
	a.PutStr("user.id", "alice@example.com")
	a.PutStr("gen_ai.agent.name", "claude-code")
	a.PutStr("gen_ai.tool.name", "Bash")
	a.PutStr("gen_ai.tool.call.id", "toolu_01D7FLrfh4GYq7yT1ULFeyMV")
	args := a.PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutStr("command", "go test ./pkg/parser/...")
	a.PutInt("agent_audit.risk_score", 10)
	a.PutStr("audit.stream.id", "5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830")
	a.PutInt("audit.sequence.number", 12)
	return res, lr
}

func newDefault(t testing.TB) *CEF {
	f, err := NewCEF(DefaultConfig())
	require.NoError(t, err)
	return f
}

func TestCEFToolCall(t *testing.T) {
	res, lr := toolCall()
	got := newDefault(t).Format(res, lr)
	want := `CEF:0|AgentAudit|otelcol-agentaudit|` + auditrecord.SchemaVersion + `|agent_audit.tool.call|Tool call: Bash|3|` +
		` rt=1773479647418 cat=agent_audit.tool.call act=tool.call suser=alice@example.com suid=alice@example.com` +
		` externalId=0b8e2c1d-6f3a-4d5e-9b7c-2a1f8e4d6c30 deviceExternalId=collector-1` +
		` cs1=5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830 cs1Label=sessionId cs2=claude-code cs2Label=agentName` +
		` cs3=Bash cs3Label=toolName cs4=5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830/12 cs4Label=auditStreamSeq` +
		` cn1=10 cn1Label=riskScore`
	assert.Equal(t, want, got)
}

func TestCEFMappingPerEventType(t *testing.T) {
	f := newDefault(t)
	res := pcommon.NewResource()
	res.Attributes().PutStr("host.id", "h-1")
	cases := []struct {
		event string
		attrs map[string]any
		body  string
		sig   string
		name  string
		sev   string
		want  map[string]string
	}{
		{"agent_audit.file.write", map[string]any{"session.id": "s", "file.path": "/home/a/p/main.go", "file.size": int64(120), "agent_audit.file.sha256": "ab12"},
			"", "agent_audit.file.write", "File written", "4",
			map[string]string{"fname": "main.go", "filePath": "/home/a/p/main.go", "fileHash": "ab12", "fsize": "120", "act": "file.write", "deviceExternalId": "h-1"}},
		{"agent_audit.network.request", map[string]any{"session.id": "s", "url.full": "https://x.example/a?b=c", "http.request.method": "GET", "server.address": "x.example", "server.port": int64(443)},
			"", "agent_audit.network.request", "Network request: x.example", "3",
			map[string]string{"request": "https://x.example/a?b=c", "requestMethod": "GET", "dhost": "x.example", "dpt": "443"}},
		{"agent_audit.network.request", map[string]any{"session.id": "s", "url.full": "http://10.0.0.1/", "server.address": "10.0.0.1"},
			"", "agent_audit.network.request", "Network request: 10.0.0.1", "3",
			map[string]string{"request": "http://10.0.0.1/", "dst": "10.0.0.1"}},
		{"agent_audit.policy.violation", map[string]any{"session.id": "s", "agent_audit.policy.rule": "no-creds", "agent_audit.action": "Read(/x)", "agent_audit.decision": "deny", "agent_audit.risk_score": int64(90), "agent_audit.reason": "nope"},
			"", "agent_audit.policy.violation", "Policy violation: no-creds", "9",
			map[string]string{"act": "Read(/x)", "cs5": "no-creds", "cs5Label": "policyRule", "cs6": "deny", "cs6Label": "decision", "cn1": "90", "cn1Label": "riskScore", "reason": "nope"}},
		{"agent_audit.tool.result", map[string]any{"session.id": "s", "gen_ai.tool.name": "Bash", "agent_audit.outcome": "failure", "error.type": "exit_1"},
			"", "agent_audit.tool.result", "Tool result: Bash", "5",
			map[string]string{"outcome": "failure", "reason": "exit_1", "cs3": "Bash"}},
		{"agent_audit.error", map[string]any{"session.id": "s", "error.type": "overloaded_error", "exception.message": "API Error: 529"},
			"", "agent_audit.error", "Agent error: overloaded_error", "5",
			map[string]string{"msg": "API Error: 529", "reason": "overloaded_error"}},
		{"agent_audit.prompt", map[string]any{"session.id": "s"}, "fix the tests",
			"agent_audit.prompt", "Prompt submitted", "2", map[string]string{"msg": "fix the tests"}},
		{"agent_audit.command.exec", map[string]any{"session.id": "s", "process.command_line": "rm -rf build", "process.pid": int64(7), "agent_audit.outcome": "success"},
			"", "agent_audit.command.exec", "Command executed", "4", map[string]string{"sproc": "rm -rf build", "spid": "7", "outcome": "success"}},
		{"agent_audit.permission.decision", map[string]any{"session.id": "s", "agent_audit.action": "Bash(x)", "agent_audit.decision": "deny", "agent_audit.approver.id": "bob"},
			"", "agent_audit.permission.decision", "Permission decided: deny", "6", map[string]string{"duser": "bob", "cs6": "deny"}},
		{"something.else", map[string]any{"session.id": "s"}, "", "something.else", "something.else", "3", map[string]string{"cat": "something.else", "act": "something.else"}},
	}
	for _, c := range cases {
		t.Run(c.event, func(t *testing.T) {
			lr := plog.NewLogRecord()
			lr.SetEventName(c.event)
			require.NoError(t, lr.Attributes().FromRaw(c.attrs))
			if c.body != "" {
				lr.Body().SetStr(c.body)
			}
			line := f.Format(res, lr)
			p, err := parseCEF(line)
			require.NoError(t, err, line)
			assert.Equal(t, []string{"CEF:0", "AgentAudit", "otelcol-agentaudit", auditrecord.SchemaVersion, c.sig, c.name, c.sev}, p.header[:])
			for k, v := range c.want {
				assert.Equal(t, v, p.ext[k], "key %s in %s", k, line)
			}
			assert.Equal(t, "s", p.ext["cs1"])
			_, hasRt := p.ext["rt"]
			assert.False(t, hasRt, "no time, no rt")
		})
	}
}

func TestCEFOverrides(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Vendor, cfg.Product, cfg.Version = "Ex|ample", `Pro\duct`, "2"
	cfg.Fields = map[string]string{"suser": "custom.user", "cs2": "", "cs6": "agent_audit.permission_mode", "fsize": "process.pid"}
	cfg.Labels = map[string]string{"cs6Label": "permissionMode"}
	f, err := NewCEF(cfg)
	require.NoError(t, err)
	res, lr := toolCall()
	lr.Attributes().PutStr("custom.user", "carol")
	lr.Attributes().PutStr("agent_audit.permission_mode", "plan")
	lr.Attributes().PutStr("process.pid", "not-an-int")
	line := f.Format(res, lr)
	assert.True(t, strings.HasPrefix(line, `CEF:0|Ex\|ample|Pro\\duct|2|`), line)
	p, err := parseCEF(line)
	require.NoError(t, err)
	assert.Equal(t, "carol", p.ext["suser"])
	assert.NotContains(t, p.keys, "cs2")
	assert.NotContains(t, p.keys, "cs2Label")
	assert.NotContains(t, p.keys, "fsize", "int keys take only int attributes")
	assert.Equal(t, "plan", p.ext["cs6"])
	assert.Equal(t, "permissionMode", p.ext["cs6Label"])

	bad := []Config{
		{Vendor: "", Product: "p", Version: "1"},
		{Vendor: "v\n", Product: "p", Version: "1"},
		{Vendor: "v", Product: strings.Repeat("p", 64), Version: "1"},
		{Vendor: "v", Product: "p", Version: "1", Fields: map[string]string{"rt": "x"}},
		{Vendor: "v", Product: "p", Version: "1", Fields: map[string]string{"cs1Label": "x"}},
		{Vendor: "v", Product: "p", Version: "1", Fields: map[string]string{"bogus key": "x"}},
		{Vendor: "v", Product: "p", Version: "1", Labels: map[string]string{"cs1Label": ""}},
		{Vendor: "v", Product: "p", Version: "1", Labels: map[string]string{"msg": "x"}},
	}
	for i, c := range bad {
		_, err := NewCEF(c)
		assert.Error(t, err, "config %d", i)
	}
}

func TestSeverity(t *testing.T) {
	for _, c := range []struct {
		event string
		attrs map[string]any
		want  int
	}{
		{"agent_audit.session.start", nil, 2},
		{"agent_audit.tool.result", map[string]any{"agent_audit.outcome": "failure"}, 5},
		{"agent_audit.tool.result", map[string]any{"agent_audit.outcome": "success"}, 3},
		{"agent_audit.policy.violation", map[string]any{"agent_audit.risk_score": int64(100)}, 10},
		{"agent_audit.policy.violation", map[string]any{"agent_audit.risk_score": int64(0)}, 7},
		{"agent_audit.tool.call", map[string]any{"agent_audit.risk_score": int64(41)}, 5},
		{"agent_audit.tool.call", map[string]any{"agent_audit.risk_score": int64(1000)}, 10},
		{"agent_audit.tool.call", map[string]any{"agent_audit.risk_score": int64(-5)}, 3},
		{"agent_audit.tool.call", map[string]any{"agent_audit.risk_score": "99"}, 3},
		{"agent_audit.permission.decision", map[string]any{"agent_audit.decision": "deny"}, 6},
		{"nope", nil, 3},
	} {
		lr := plog.NewLogRecord()
		lr.SetEventName(c.event)
		require.NoError(t, lr.Attributes().FromRaw(c.attrs))
		assert.Equal(t, c.want, Severity(pcommon.NewResource(), lr), "%s %v", c.event, c.attrs)
	}
}

// trickyValues are the values of the escaping table.
var trickyValues = []string{
	"plain",
	"a|b|c||",
	`back\slash\`,
	`\\`,
	`ends with backslash \`,
	"a=b c=d",
	" suser=mallory act=forged",
	"=",
	"line1\nline2",
	"cr\rlf\r\n",
	"\n",
	"CEF:0|Evil|Forge|1|x|y|10| act=forged\nCEF:0|Evil|Second|1|x|y|10|",
	"tab\there",
	"nul\x00byte esc\x1b del\x7f",
	"nel\u0085ls\u2028ps\u2029",
	"invalid \xff\xfe utf8",
	"non-ASCII: héllo wörld 日本語 😀 ÿ",
	"  leading and trailing  ",
	"   ",
	"trailing space before next key ",
	`mixed \|=\n\r\\ all`,
	strings.Repeat("é", 3000) + "tail",       // 2-byte runes across every limit
	strings.Repeat("a", 62) + "😀" + "zzzzzz", // 4-byte rune across act's 63
	strings.Repeat("x|=\\\n", 2000),
}

// trickyRecord puts v into every mapped string attribute, the header
// attribute and the body.
func trickyRecord(v string) (pcommon.Resource, plog.LogRecord) {
	res := pcommon.NewResource()
	res.Attributes().PutStr("service.instance.id", v)
	lr := plog.NewLogRecord()
	lr.SetEventName("agent_audit.tool.call")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	a := lr.Attributes()
	for _, n := range []string{"session.id", "agent_audit.event.id", "user.name", "user.id", "host.name",
		"gen_ai.agent.name", "gen_ai.tool.name", "agent_audit.outcome", "agent_audit.action",
		"agent_audit.reason", "file.path", "agent_audit.file.sha256", "url.full", "http.request.method",
		"server.address", "process.command_line", "agent_audit.approver.id", "agent_audit.policy.rule",
		"agent_audit.decision", "audit.stream.id"} {
		a.PutStr(n, v)
	}
	lr.Body().SetStr(v)
	return res, lr
}

// expected is the model of the keys and values a record made by trickyRecord
// (or the fuzz record) yields.
func expectedExt(v string) map[string]string {
	m := map[string]string{"rt": "1773479647418", "cat": "agent_audit.tool.call"}
	str := map[string]string{"externalId": v, "deviceExternalId": v, "suser": v, "suid": v, "shost": v,
		"cs2": v, "cs3": v, "outcome": v, "act": v, "reason": v, "filePath": v, "fileHash": v, "request": v,
		"requestMethod": v, "sproc": v, "duser": v, "cs5": v, "cs6": v, "cs4": v, "cs1": v, "msg": v}
	if _, err := netip.ParseAddr(v); err == nil {
		str["dst"] = v
	} else {
		str["dhost"] = v
	}
	b := path.Base(strings.ReplaceAll(v, `\`, "/"))
	if b != "/" && b != "." {
		str["fname"] = b
	}
	labels := map[string]string{"cs1": "sessionId", "cs2": "agentName", "cs3": "toolName", "cs4": "auditStreamSeq", "cs5": "policyRule", "cs6": "decision"}
	if v == "" {
		str["act"] = "tool.call"
	}
	for k, raw := range str {
		if e := modelValue(raw, KeyLimits[k]); e != "" {
			m[k] = e
			if l, ok := labels[k]; ok {
				m[k+"Label"] = l
			}
		}
	}
	return m
}

// expSev is the severity of a tool.call whose outcome and decision are v.
func expSev(v string) string {
	switch v {
	case "failure":
		return "5"
	case "deny":
		return "6"
	}
	return "3"
}

func checkLine(t *testing.T, line, v string) {
	t.Helper()
	p, err := parseCEF(line)
	require.NoError(t, err, "line %q", line)
	name := "Tool call"
	if modelSanitize(v) != "" {
		name += ": " + v
	}
	assert.Equal(t, [7]string{"CEF:0", "AgentAudit", "otelcol-agentaudit", auditrecord.SchemaVersion, "agent_audit.tool.call", modelHeader(name, 512), expSev(v)}, p.header)
	assert.Equal(t, expectedExt(v), p.ext, "line %q", line)
}

func TestCEFEscapingTable(t *testing.T) {
	f := newDefault(t)
	for i, v := range trickyValues {
		res, lr := trickyRecord(v)
		line := f.Format(res, lr)
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkLine(t, line, v) })
	}
	// Exact escapes.
	assert.Equal(t, `a\\b\|c d=e`, string(appendHeader(nil, "a\\b|c\nd=e", 100)))
	assert.Equal(t, ` k=a\\b|c\=d\ne\rf`, string(appendExt(nil, "k", "a\\b|c=d\ne\rf")))
	assert.Equal(t, "ab", truncate("ab😀", 5))
	assert.Equal(t, "ab😀", truncate("ab😀", 6))
	assert.Equal(t, "a\uFFFDb\uFFFD", sanitize("a\x00b\xff"))
}

// TestCEFLognormalizer feeds every line of the escaping table through
// liblognorm's CEF parser and checks that header and extensions round-trip.
func TestCEFLognormalizer(t *testing.T) {
	f := newDefault(t)
	var lines []string
	for _, v := range trickyValues {
		lines = append(lines, f.Format(trickyRecord(v)))
	}
	// Also the typical record.
	lines = append(lines, f.Format(toolCall()))
	for n, doc := range testcef.Parse(t, lines) {
		require.NotNil(t, doc.CEF, "line %d not parsed by lognormalizer: %q", n, doc.Unparsed)
		c := doc.CEF
		var wantName string
		var wantExt map[string]string
		wantSev := "3"
		if n < len(trickyValues) {
			v := trickyValues[n]
			wantName = "Tool call"
			if modelSanitize(v) != "" {
				wantName += ": " + v
			}
			wantName = modelHeader(wantName, 512)
			wantExt = expectedExt(v)
			wantSev = expSev(v)
		} else {
			p, err := parseCEF(f.Format(toolCall()))
			require.NoError(t, err)
			wantName, wantExt = p.header[5], p.ext
		}
		assert.Equal(t, []string{"AgentAudit", "otelcol-agentaudit", auditrecord.SchemaVersion, "agent_audit.tool.call", wantName, wantSev},
			[]string{c.DeviceVendor, c.DeviceProduct, c.DeviceVersion, c.SignatureID, c.Name, c.Severity}, "line %d", n)
		assert.Equal(t, wantExt, c.Extensions, "line %d", n)
	}
}

func FuzzCEF(f *testing.F) {
	for _, v := range trickyValues[:len(trickyValues)-3] {
		f.Add(v, v, v)
	}
	f.Add("body", "a=b", "Ba|sh")
	cef, err := NewCEF(DefaultConfig())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body, attr, tool string) {
		res, lr := trickyRecord(attr)
		lr.Attributes().PutStr("gen_ai.tool.name", tool)
		lr.Body().SetStr(body)
		line := cef.Format(res, lr)
		if strings.ContainsAny(line, "\r\n\x00\u0085\u2028\u2029") {
			t.Fatalf("line break or NUL in %q", line)
		}
		p, err := parseCEF(line)
		if err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		name := "Tool call"
		if modelSanitize(tool) != "" {
			name += ": " + tool
		}
		want := [7]string{"CEF:0", "AgentAudit", "otelcol-agentaudit", auditrecord.SchemaVersion, "agent_audit.tool.call", modelHeader(name, 512), expSev(attr)}
		if p.header != want {
			t.Fatalf("header %q, want %q", p.header, want)
		}
		exp := expectedExt(attr)
		delete(exp, "cs3")
		delete(exp, "cs3Label")
		delete(exp, "msg")
		if e := modelValue(tool, 4000); e != "" {
			exp["cs3"], exp["cs3Label"] = e, "toolName"
		}
		if e := modelValue(body, 1023); e != "" {
			exp["msg"] = e
		}
		if len(exp) != len(p.ext) {
			t.Fatalf("keys %v, want %v", sortedKeysAny(p.ext), sortedKeysAny(exp))
		}
		for k, v := range exp {
			if p.ext[k] != v {
				t.Fatalf("key %s = %q, want %q (line %q)", k, p.ext[k], v, line)
			}
		}
	})
}

func sortedKeysAny(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// BenchmarkCEF formats a typical agent_audit.tool.call record; records/s per
// core is reported as "records/s".
func BenchmarkCEF(b *testing.B) {
	f := newDefault(b)
	res, lr := toolCall()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = f.Append(buf[:0], res, lr)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(int64(len(buf)))
}
