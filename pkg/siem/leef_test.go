package siem

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// ---- a strict LEEF 2.0 parser, written from IBM's "LEEF event components" ----

type parsedLEEF struct {
	header [6]string // "LEEF:2.0", vendor, product, version, event ID, delimiter field
	delim  rune
	keys   []string // attribute keys in order
	attrs  map[string]string
}

// parseLEEF parses one LEEF 2.0 event strictly: valid UTF-8, no line break
// or NUL anywhere, exactly six '|'-terminated header fields (LEEF has no
// header escape, so a header field holds no '|'; this parser also refuses '\'
// and control characters there), a delimiter field that is one character or
// x/0x with 1-4 hex digits, then attributes split at every delimiter, each
// key=value split at the first '=', keys alphanumeric starting with a letter,
// no duplicate key, no empty attribute.
func parseLEEF(ev string) (*parsedLEEF, error) {
	if !utf8.ValidString(ev) {
		return nil, errors.New("invalid UTF-8")
	}
	if i := strings.IndexAny(ev, "\r\n\x00\u0085\u2028\u2029"); i >= 0 {
		return nil, fmt.Errorf("line break or NUL at %d", i)
	}
	parts := strings.SplitN(ev, "|", 7)
	if len(parts) != 7 {
		return nil, fmt.Errorf("%d header fields, want 6", len(parts)-1)
	}
	p := &parsedLEEF{attrs: map[string]string{}}
	copy(p.header[:], parts[:6])
	if p.header[0] != "LEEF:2.0" {
		return nil, fmt.Errorf("version %q", p.header[0])
	}
	for i, h := range p.header[1:5] {
		if h == "" || strings.ContainsRune(h, '\\') || strings.IndexFunc(h, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("header field %d: %q", i+1, h)
		}
	}
	d := p.header[5]
	switch {
	case len(d) > 1 && (strings.HasPrefix(d, "x") || strings.HasPrefix(d, "0x")):
		hex := d[strings.IndexByte(d, 'x')+1:]
		n, err := strconv.ParseUint(hex, 16, 32)
		if err != nil || len(hex) > 4 {
			return nil, fmt.Errorf("delimiter %q", d)
		}
		p.delim = rune(n)
	case utf8.RuneCountInString(d) == 1:
		p.delim, _ = utf8.DecodeRuneInString(d)
	default:
		return nil, fmt.Errorf("delimiter %q", d)
	}
	if parts[6] == "" {
		return p, nil
	}
	for _, a := range strings.Split(parts[6], string(p.delim)) {
		eq := strings.IndexByte(a, '=')
		if eq < 0 {
			return nil, fmt.Errorf("attribute %q without =", a)
		}
		k := a[:eq]
		if k == "" || strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 || k[0] >= '0' && k[0] <= '9' {
			return nil, fmt.Errorf("bad key %q", k)
		}
		if _, dup := p.attrs[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		p.attrs[k] = a[eq+1:]
		p.keys = append(p.keys, k)
	}
	return p, nil
}

// ---- the model of what the formatter writes, independent of leef.go ----

// leefModel: runs of invalid UTF-8 and every C0 control, DEL, NEL, LS, PS
// and the delimiter become U+FFFD (in a header field also | and \), then
// whole characters are dropped from the end until it fits limit bytes.
func leefModel(v string, delim rune, header bool, limit int) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(v, "\uFFFD") {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == delim ||
			header && (r == '|' || r == '\\') {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	s := b.String()
	for len(s) > limit {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

func leefVal(v string, delim rune) string { return leefModel(v, delim, false, 1023) }

const (
	leefT0      = "Mar 14 2026 09:14:07.418 GMT"
	leefT0Fmt   = "MMM dd yyyy HH:mm:ss.SSS z"
	leefVendor  = "AgentAudit"
	leefProduct = "otelcol-agentaudit"
)

func newLEEF(t testing.TB, delim string) *LEEF {
	cfg := DefaultLEEFConfig()
	cfg.Delimiter = delim
	l, err := NewLEEF(cfg)
	require.NoError(t, err)
	return l
}

func delimField(d rune) string {
	if d == '\t' {
		return "x09"
	}
	return string(d)
}

// expectedLEEF is the model of the attributes of a record made by
// trickyRecord(v) (cef_test.go), with delimiter d.
func expectedLEEF(v string, d rune) map[string]string {
	m := map[string]string{"devTime": leefT0, "devTimeFormat": leefT0Fmt, "sev": expSev(v), "cat": "agent_audit.tool.call"}
	str := map[string]string{}
	for _, k := range []string{"eventId", "collectorId", "usrName", "userId", "identHostName", "agentName", "toolName",
		"outcome", "action", "reason", "resource", "filePath", "fileHash", "url", "requestMethod", "command",
		"approver", "policy", "decision", "streamSeq", "sessionId", "msg"} {
		str[k] = v
	}
	if _, err := netip.ParseAddr(v); err == nil {
		str["dst"] = v
	} else {
		str["dstHost"] = v
	}
	if b := path.Base(strings.ReplaceAll(v, `\`, "/")); b != "/" && b != "." {
		str["fileName"] = b
	}
	if v == "" {
		str["action"] = "tool.call"
	}
	for k, raw := range str {
		if e := leefVal(raw, d); e != "" {
			m[k] = e
		}
	}
	return m
}

// ---- tests ----

func TestLEEFToolCall(t *testing.T) {
	res, lr := toolCall()
	got := newLEEF(t, "").Format(res, lr)
	want := "LEEF:2.0|AgentAudit|otelcol-agentaudit|" + auditrecord.SchemaVersion + "|agent_audit.tool.call|x09|" +
		"devTime=Mar 14 2026 09:14:07.418 GMT\tdevTimeFormat=MMM dd yyyy HH:mm:ss.SSS z\tsev=3" +
		"\tcat=agent_audit.tool.call\taction=tool.call\tusrName=alice@example.com\tuserId=alice@example.com" +
		"\teventId=0b8e2c1d-6f3a-4d5e-9b7c-2a1f8e4d6c30\tcollectorId=collector-1" +
		"\tsessionId=5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830\tagentName=claude-code\ttoolName=Bash" +
		"\tstreamSeq=5b1d8a7e-3c2f-4e9a-b6d0-91f4c2a7e830/12\triskScore=10"
	assert.Equal(t, want, got)

	// devTime read back with the documented pattern (Go layout of
	// "MMM dd yyyy HH:mm:ss.SSS z") is the record's time to the millisecond.
	p, err := parseLEEF(got)
	require.NoError(t, err)
	assert.Equal(t, "MMM dd yyyy HH:mm:ss.SSS z", p.attrs["devTimeFormat"])
	ts, err := time.Parse("Jan 02 2006 15:04:05.000 MST", p.attrs["devTime"])
	require.NoError(t, err)
	assert.True(t, ts.Equal(t0), "%v != %v", ts, t0)

	// Without Timestamp, ObservedTimestamp; without both, no devTime.
	lr.SetTimestamp(0)
	p, err = parseLEEF(newLEEF(t, "").Format(res, lr))
	require.NoError(t, err)
	assert.Equal(t, "Mar 14 2026 09:14:07.532 GMT", p.attrs["devTime"])
	lr.SetObservedTimestamp(0)
	p, err = parseLEEF(newLEEF(t, "").Format(res, lr))
	require.NoError(t, err)
	assert.NotContains(t, p.keys, "devTime")
	assert.NotContains(t, p.keys, "devTimeFormat")
	assert.Equal(t, "sev", p.keys[0])
}

func TestLEEFMappingPerEventType(t *testing.T) {
	l := newLEEF(t, "")
	res := pcommon.NewResource()
	res.Attributes().PutStr("host.id", "h-1")
	note := "otelcol-agentaudit/collector-1/1\n42\nq83vEjRWeJA=\n\n— collector-1 AAAA\n"
	cases := []struct {
		event string
		attrs map[string]any
		body  string
		id    string            // header event ID
		sev   string            //
		want  map[string]string // beyond sev, cat, action, sessionId, collectorId, identHostName
	}{
		{"agent_audit.session.start", map[string]any{"gen_ai.agent.name": "claude-code", "user.id": "alice", "host.name": "dev1", "agent_audit.permission_mode": "plan"},
			"", "agent_audit.session.start", "2", map[string]string{"agentName": "claude-code", "usrName": "alice", "userId": "alice", "identHostName": "dev1"}},
		{"agent_audit.session.end", map[string]any{"gen_ai.agent.id": "agent-7", "agent_audit.session.end_reason": "completed"},
			"", "agent_audit.session.end", "2", map[string]string{"agentName": "agent-7"}},
		{"agent_audit.prompt", map[string]any{"agent_audit.prompt.length": int64(13)}, "fix the tests",
			"agent_audit.prompt", "2", map[string]string{"msg": "fix the tests"}},
		{"agent_audit.model.request", map[string]any{"gen_ai.request.model": "claude-opus-4"}, "hmac:ab12",
			"agent_audit.model.request", "2", map[string]string{"msg": "hmac:ab12"}},
		{"agent_audit.model.response", map[string]any{"gen_ai.request.model": "claude-opus-4", "agent_audit.duration_ms": int64(900)}, "",
			"agent_audit.model.response", "2", nil},
		{"agent_audit.tool.call", map[string]any{"gen_ai.tool.name": "Bash", "agent_audit.risk_score": int64(41)}, "",
			"agent_audit.tool.call", "5", map[string]string{"toolName": "Bash", "riskScore": "41"}},
		{"agent_audit.tool.result", map[string]any{"gen_ai.tool.name": "Bash", "agent_audit.outcome": "failure", "error.type": "exit_1"}, "",
			"agent_audit.tool.result", "5", map[string]string{"toolName": "Bash", "outcome": "failure", "reason": "exit_1"}},
		{"agent_audit.file.read", map[string]any{"file.path": `C:\Users\a\notes.txt`, "file.size": int64(7)}, "",
			"agent_audit.file.read", "3", map[string]string{"resource": `C:\Users\a\notes.txt`, "filePath": `C:\Users\a\notes.txt`, "fileName": "notes.txt", "fileSize": "7"}},
		{"agent_audit.file.write", map[string]any{"file.path": "/home/a/p/main.go", "file.size": int64(120), "agent_audit.file.sha256": "ab12"}, "",
			"agent_audit.file.write", "4", map[string]string{"resource": "/home/a/p/main.go", "filePath": "/home/a/p/main.go", "fileName": "main.go", "fileHash": "ab12", "fileSize": "120"}},
		{"agent_audit.file.delete", map[string]any{"file.path": "/tmp/x"}, "",
			"agent_audit.file.delete", "5", map[string]string{"resource": "/tmp/x", "filePath": "/tmp/x", "fileName": "x"}},
		{"agent_audit.command.exec", map[string]any{"process.command_line": "rm -rf build | tee log", "process.pid": int64(7), "agent_audit.outcome": "success"}, "",
			"agent_audit.command.exec", "4", map[string]string{"command": "rm -rf build | tee log", "processId": "7", "outcome": "success"}},
		{"agent_audit.network.request", map[string]any{"url.full": "https://x.example/a?b=c&d==", "http.request.method": "GET", "server.address": "x.example", "server.port": int64(443)}, "",
			"agent_audit.network.request", "3", map[string]string{"url": "https://x.example/a?b=c&d==", "requestMethod": "GET", "dstHost": "x.example", "dstPort": "443"}},
		{"agent_audit.network.request", map[string]any{"url.full": "http://[2001:db8::1]:8080/", "server.address": "2001:db8::1", "server.port": "8080"}, "",
			"agent_audit.network.request", "3", map[string]string{"url": "http://[2001:db8::1]:8080/", "dst": "2001:db8::1"}},
		{"agent_audit.permission.request", map[string]any{"gen_ai.tool.name": "Bash", "agent_audit.action": "Bash(rm -rf build)"}, "",
			"agent_audit.permission.request", "3", map[string]string{"toolName": "Bash", "action": "Bash(rm -rf build)"}},
		{"agent_audit.permission.decision", map[string]any{"agent_audit.action": "Bash(x)", "agent_audit.decision": "deny", "agent_audit.approver.id": "bob", "agent_audit.decision.source": "user"}, "",
			"agent_audit.permission.decision", "6", map[string]string{"action": "Bash(x)", "decision": "deny", "approver": "bob"}},
		{"agent_audit.policy.violation", map[string]any{"agent_audit.policy.rule": "no-creds", "agent_audit.action": "Read(/x)", "agent_audit.decision": "deny", "agent_audit.risk_score": int64(90), "agent_audit.reason": "nope"}, "",
			"agent_audit.policy.violation", "9", map[string]string{"action": "Read(/x)", "policy": "no-creds", "decision": "deny", "riskScore": "90", "reason": "nope"}},
		{"agent_audit.error", map[string]any{"error.type": "overloaded_error", "exception.message": "API Error: 529"}, "ignored body",
			"agent_audit.error", "5", map[string]string{"msg": "API Error: 529", "reason": "overloaded_error"}},
		// Records the integrity components write themselves.
		{"agent_audit.checkpoint", map[string]any{"audit.log.id": "o/1", "agent_audit.checkpoint.size": int64(42), "audit.stream.id": "@collector", "audit.sequence.number": int64(3)}, note,
			"agent_audit.checkpoint", "3", map[string]string{"msg": leefVal(note, '\t'), "streamSeq": "@collector/3"}},
		{"agent_audit.checkpoint.timestamp", map[string]any{"agent_audit.timestamp.token": "MIIB", "agent_audit.timestamp.time": "2026-03-14T09:14:07Z"}, "",
			"agent_audit.checkpoint.timestamp", "3", nil},
		{"agent_audit.key.announcement", map[string]any{"agent_audit.key.name": "collector-1", "agent_audit.key.algorithm": "ed25519"}, "",
			"agent_audit.key.announcement", "3", nil},
		{"agent_audit.chain.epoch_start", map[string]any{"agent_audit.chain.reason": "no state", "audit.stream.id": "@collector", "audit.sequence.number": int64(1)}, "",
			"agent_audit.chain.epoch_start", "3", map[string]string{"streamSeq": "@collector/1"}},
		{"agent_audit.chain.void", map[string]any{"agent_audit.chain.voided_count": int64(2), "agent_audit.chain.voided_error": "503\nretry", "audit.stream.id": "@collector"}, "",
			"agent_audit.chain.void", "3", map[string]string{"streamSeq": "@collector"}},
		{"something.else", nil, "", "something.else", "3", nil},
		{"", nil, "", "unknown", "3", map[string]string{"cat": "", "action": ""}},
		{"a|b\\c\td", nil, "", "a\uFFFDb\uFFFDc\uFFFDd", "3", map[string]string{"action": leefVal("a|b\\c\td", '\t'), "cat": leefVal("a|b\\c\td", '\t')}},
	}
	for _, c := range cases {
		t.Run(c.event, func(t *testing.T) {
			lr := plog.NewLogRecord()
			lr.SetEventName(c.event)
			require.NoError(t, lr.Attributes().FromRaw(c.attrs))
			lr.Attributes().PutStr("session.id", "s")
			if c.body != "" {
				lr.Body().SetStr(c.body)
			}
			ev := l.Format(res, lr)
			p, err := parseLEEF(ev)
			require.NoError(t, err, ev)
			assert.Equal(t, [6]string{"LEEF:2.0", leefVendor, leefProduct, auditrecord.SchemaVersion, c.id, "x09"}, p.header)
			want := map[string]string{"sev": c.sev, "cat": c.event, "action": strings.TrimPrefix(c.event, "agent_audit."),
				"sessionId": "s", "collectorId": "h-1", "identHostName": "h-1"}
			for k, v := range c.want {
				want[k] = v
			}
			for k, v := range want {
				if v == "" {
					delete(want, k)
				}
			}
			assert.Equal(t, want, p.attrs, ev)
			assert.Equal(t, "sev", p.keys[0], "sev first when there is no time")
		})
	}
}

// leefTricky are the values of the escaping table: the CEF ones plus
// LEEF-specific forgeries.
func leefTricky() []string {
	return append(append([]string{}, trickyValues...),
		"a\tusrName=mallory\tsev=10",
		"a^usrName=mallory^sev=10",
		"a~b~~c",
		"x|LEEF:2.0|Evil|Forge|1|e|x09|sev=10",
		"\nLEEF:2.0|Evil|Forge|1|e|^|sev=10^usrName=mallory",
		`\|\`,
		"key=value=more==",
		"=usrName=mallory",
		"\xff\xfe\xfd run, \xc3 cut, \xed\xa0\x80 surrogate",
		"\uFFFD already replaced",
		"c1 \u0080\u009f kept, nel \u0085 not",
		strings.Repeat("\t", 2000),                // replacement grows it past the limit
		strings.Repeat("é", 511)+"\t"+"tail",      // U+FFFD straddles byte 1023
		strings.Repeat("a", 1022)+"😀",             // a 4-byte character across the limit
		strings.Repeat("x^~\t|=\\\r\n\x00", 1500), // every special character, long
	)
}

func TestLEEFEscapingTable(t *testing.T) {
	for _, d := range []rune{'\t', '^', '~'} {
		l := newLEEF(t, string(d))
		for i, v := range leefTricky() {
			res, lr := trickyRecord(v)
			ev := l.Format(res, lr)
			t.Run(fmt.Sprintf("%s/%d", delimField(d), i), func(t *testing.T) {
				p, err := parseLEEF(ev)
				require.NoError(t, err, "event %q", ev)
				assert.Equal(t, [6]string{"LEEF:2.0", leefVendor, leefProduct, auditrecord.SchemaVersion, "agent_audit.tool.call", delimField(d)}, p.header)
				assert.Equal(t, d, p.delim)
				assert.Equal(t, expectedLEEF(v, d), p.attrs, "event %q", ev)
				for k, val := range p.attrs {
					assert.LessOrEqual(t, len(val), 1023, k)
				}
			})
		}
	}
	// Exact replacements.
	assert.Equal(t, "a\uFFFDb\uFFFDc=d|e\\f", string(appendLEEFText(nil, "a\tb\nc=d|e\\f", 100, '\t', false)))
	assert.Equal(t, "a\uFFFDb\uFFFDc~d", string(appendLEEFText(nil, "a^b\tc~d", 100, '^', false)), "tab is replaced with any delimiter")
	assert.Equal(t, "a\uFFFDb\uFFFDc", string(appendLEEFText(nil, "a|b\\c", 100, 0, true)))
	assert.Equal(t, "x\uFFFDy", string(appendLEEFText(nil, "x\xff\xfe\xfdy", 100, '\t', false)))
	assert.Equal(t, "ab", string(appendLEEFText(nil, "ab😀", 5, '\t', false)))
	assert.Equal(t, "ab", string(appendLEEFText(nil, "ab\t", 4, '\t', false)), "U+FFFD needs 3 bytes")
}

func TestLEEFDelimiterForms(t *testing.T) {
	for _, c := range []struct {
		in, header string
		delim      rune
	}{
		{"", "x09", '\t'}, {"\t", "x09", '\t'}, {"x09", "x09", '\t'}, {"0x09", "x09", '\t'}, {"x9", "x09", '\t'},
		{"0x0009", "x09", '\t'}, {"^", "^", '^'}, {"x5E", "^", '^'}, {"0x5e", "^", '^'}, {"~", "~", '~'},
		{";", ";", ';'}, {"#", "#", '#'},
	} {
		l := newLEEF(t, c.in)
		res, lr := toolCall()
		p, err := parseLEEF(l.Format(res, lr))
		require.NoError(t, err, "delimiter %q", c.in)
		assert.Equal(t, c.header, p.header[5], "delimiter %q", c.in)
		assert.Equal(t, c.delim, p.delim, "delimiter %q", c.in)
		assert.Equal(t, leefT0, p.attrs["devTime"], "delimiter %q", c.in)
		assert.Equal(t, "Bash", p.attrs["toolName"], "delimiter %q", c.in)
	}
}

func TestLEEFConfigValidation(t *testing.T) {
	def := DefaultLEEFConfig()
	require.NoError(t, def.Validate())
	assert.Equal(t, LEEFConfig{Vendor: "AgentAudit", Product: "otelcol-agentaudit", Version: auditrecord.SchemaVersion, Delimiter: "\t"}, def)
	with := func(f func(*LEEFConfig)) LEEFConfig {
		c := DefaultLEEFConfig()
		f(&c)
		return c
	}
	for _, c := range []struct {
		cfg  LEEFConfig
		want string
	}{
		{with(func(c *LEEFConfig) { c.Vendor = " " }), "vendor must not be empty"},
		{with(func(c *LEEFConfig) { c.Product = "p\tq" }), "product must be valid UTF-8 without control characters"},
		{with(func(c *LEEFConfig) { c.Version = "1\xff" }), "version must be valid UTF-8"},
		{with(func(c *LEEFConfig) { c.Vendor = "Ex|ample" }), "vendor must not contain | or \\"},
		{with(func(c *LEEFConfig) { c.Product = `Pro\duct` }), "product must not contain | or \\"},
		{with(func(c *LEEFConfig) { c.Version = strings.Repeat("1", 32) }), "version must be at most 31 bytes"},
		{with(func(c *LEEFConfig) { c.Delimiter = "=" }), `delimiter "=" is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "|" }), `delimiter "|" is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = `\` }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "\n" }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = " " }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = ":" }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "a" }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "x" }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "x0A" }), `delimiter "x0A" is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "x3D" }), `delimiter "x3D" is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "xA6" }), `is not allowed`},
		{with(func(c *LEEFConfig) { c.Delimiter = "x" + "12345" }), "1 to 4 hex digits"},
		{with(func(c *LEEFConfig) { c.Delimiter = "0xzz" }), "1 to 4 hex digits"},
		{with(func(c *LEEFConfig) { c.Delimiter = "^^" }), "exactly one character"},
		{with(func(c *LEEFConfig) { c.Delimiter = "¦" }), "is not allowed"},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"usr name": "x"} }), `fields: key "usr name" must be ASCII letters and digits`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"a=b": "x"} }), `fields: key "a=b" must be`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"a\tb": "x"} }), `must be ASCII letters and digits`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"1abc": "x"} }), `must be ASCII letters and digits`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"": "x"} }), `must be ASCII letters and digits`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"devTime": "x"} }), `key "devTime" is written by the formatter`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"sev": ""} }), `key "sev" is written by the formatter`},
		{with(func(c *LEEFConfig) { c.Fields = map[string]string{"usrname": ""} }), `key "usrname" is not in the default mapping`},
	} {
		err := c.cfg.Validate()
		require.Error(t, err, "%+v", c.cfg)
		assert.Contains(t, err.Error(), c.want)
		_, err = NewLEEF(c.cfg)
		assert.Error(t, err)
	}
	// Several problems are all reported.
	err := (&LEEFConfig{Delimiter: "="}).Validate()
	require.Error(t, err)
	for _, s := range []string{"vendor", "product", "version", "delimiter"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestLEEFOverrides(t *testing.T) {
	cfg := DefaultLEEFConfig()
	cfg.Vendor, cfg.Product, cfg.Version, cfg.Delimiter = "Ex ample", "Pröduct", "2", "^"
	cfg.Fields = map[string]string{
		"usrName":        "custom.user",
		"agentName":      "",
		"decision":       "agent_audit.permission_mode",
		"processId":      "custom.pid", // int key: int attributes only
		"permissionMode": "agent_audit.permission_mode",
		"mcpServer":      "agent_audit.mcp.server",
		"toolCallId":     "gen_ai.tool.call.id",
	}
	l, err := NewLEEF(cfg)
	require.NoError(t, err)
	res, lr := toolCall()
	lr.Attributes().PutStr("custom.user", "carol")
	lr.Attributes().PutStr("agent_audit.permission_mode", "plan^x")
	lr.Attributes().PutStr("custom.pid", "12")
	ev := l.Format(res, lr)
	assert.True(t, strings.HasPrefix(ev, "LEEF:2.0|Ex ample|Pröduct|2|agent_audit.tool.call|^|devTime="), ev)
	p, err := parseLEEF(ev)
	require.NoError(t, err, ev)
	assert.Equal(t, "carol", p.attrs["usrName"])
	assert.NotContains(t, p.keys, "agentName")
	assert.NotContains(t, p.keys, "processId", "int keys take only int attributes")
	assert.Equal(t, "plan\uFFFDx", p.attrs["decision"])
	assert.Equal(t, "plan\uFFFDx", p.attrs["permissionMode"])
	assert.NotContains(t, p.keys, "mcpServer", "absent attribute, no key")
	assert.Equal(t, "toolu_01D7FLrfh4GYq7yT1ULFeyMV", p.attrs["toolCallId"])
	// Custom keys follow the default ones, sorted.
	assert.Equal(t, []string{"permissionMode", "toolCallId"}, p.keys[len(p.keys)-2:])
	lr.Attributes().PutInt("custom.pid", 12)
	p, err = parseLEEF(l.Format(res, lr))
	require.NoError(t, err)
	assert.Equal(t, "12", p.attrs["processId"])
}

func TestLEEFSeverityRange(t *testing.T) {
	l := newLEEF(t, "")
	for score, want := range map[int64]string{0: "3", 41: "5", 100: "10", 1000: "10", -7: "3"} {
		lr := plog.NewLogRecord()
		lr.SetEventName("agent_audit.tool.call")
		lr.Attributes().PutInt("agent_audit.risk_score", score)
		p, err := parseLEEF(l.Format(pcommon.NewResource(), lr))
		require.NoError(t, err)
		assert.Equal(t, want, p.attrs["sev"], "score %d", score)
	}
}

func TestLEEFAppendReusesBuffer(t *testing.T) {
	l := newLEEF(t, "")
	res, lr := toolCall()
	buf := []byte("prefix:")
	buf = l.Append(buf, res, lr)
	assert.Equal(t, "prefix:"+l.Format(res, lr), string(buf))
	var f Formatter = l
	assert.Equal(t, l.Format(res, lr), string(f.Append(nil, res, lr)))
}

var leefFuzzDelims = []rune{'\t', '^', '~'}

func FuzzLEEF(f *testing.F) {
	for i, v := range leefTricky()[:len(leefTricky())-4] {
		f.Add(v, v, v, "agent_audit.tool.call", uint8(i))
	}
	f.Add("body", "a=b", "Ba|sh", "agent_audit.checkpoint", uint8(1))
	f.Add("x\ty", "failure", "", "", uint8(2))
	formatters := make([]*LEEF, len(leefFuzzDelims))
	for i, d := range leefFuzzDelims {
		formatters[i] = newLEEF(f, string(d))
	}
	f.Fuzz(func(t *testing.T, body, attr, tool, event string, sel uint8) {
		d := leefFuzzDelims[int(sel)%len(leefFuzzDelims)]
		res, lr := trickyRecord(attr)
		lr.SetEventName(event)
		lr.Attributes().PutStr("gen_ai.tool.name", tool)
		lr.Body().SetStr(body)
		ev := formatters[int(sel)%len(formatters)].Format(res, lr)
		if !strings.HasPrefix(ev, "LEEF:2.0|") {
			t.Fatalf("no LEEF:2.0| prefix: %q", ev)
		}
		if strings.ContainsAny(ev, "\r\n\x00\u0085\u2028\u2029") || !utf8.ValidString(ev) {
			t.Fatalf("line break, NUL or invalid UTF-8 in %q", ev)
		}
		p, err := parseLEEF(ev)
		if err != nil {
			t.Fatalf("%v: %q", err, ev)
		}
		id := event
		if id == "" {
			id = "unknown"
		}
		wantH := [6]string{"LEEF:2.0", leefVendor, leefProduct, auditrecord.SchemaVersion, leefModel(id, 0, true, 255), delimField(d)}
		if p.header != wantH || p.delim != d {
			t.Fatalf("header %q, want %q", p.header, wantH)
		}
		exp := expectedLEEF(attr, d)
		delete(exp, "toolName")
		delete(exp, "msg")
		delete(exp, "cat")
		if e := leefVal(tool, d); e != "" {
			exp["toolName"] = e
		}
		if e := leefVal(body, d); e != "" {
			exp["msg"] = e
		}
		if event != "" {
			exp["cat"] = leefVal(event, d)
		}
		if attr == "" {
			delete(exp, "action")
			if a := strings.TrimPrefix(event, "agent_audit."); a != "" {
				exp["action"] = leefVal(a, d)
			}
		}
		exp["sev"] = strconv.Itoa(min(max(Severity(res, lr), 1), 10))
		if len(exp) != len(p.attrs) {
			t.Fatalf("keys %v, want %v (event %q)", sortedKeysAny(p.attrs), sortedKeysAny(exp), ev)
		}
		for k, v := range exp {
			if p.attrs[k] != v {
				t.Fatalf("key %s = %q, want %q (event %q)", k, p.attrs[k], v, ev)
			}
		}
	})
}

// BenchmarkLEEF formats the record of BenchmarkCEF (a typical
// agent_audit.tool.call); events/s per core is reported as "events/s".
func BenchmarkLEEF(b *testing.B) {
	l := newLEEF(b, "")
	res, lr := toolCall()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = l.Append(buf[:0], res, lr)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(int64(len(buf)))
}
