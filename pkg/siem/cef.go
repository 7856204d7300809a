// Package siem formats audit records (OpenTelemetry log records, see
// docs/schema.md) for SIEMs: CEF (cef.go), ECS JSON (ecs.go) and LEEF 2.0
// (leef.go), each a Formatter. The CEF formatter writes one
// ArcSight Common Event Format line per record, written so that strict
// parsers (liblognorm's cef parser, ArcSight SmartConnectors) read back
// exactly the values the record held, and no value can forge another key,
// another header field or a second event.
//
// README.md in this directory documents the mapping from the audit schema to
// CEF keys, the length limits, the escaping rules and the severity rule.
package siem

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// CEF header field limits (ArcSight CEF Implementation Standard: Device
// Vendor 63, Device Product 63, Device Version 31, Signature ID 1023,
// Name 512), in UTF-8 bytes.
const (
	maxVendor    = 63
	maxProduct   = 63
	maxVersion   = 31
	maxSignature = 1023
	maxName      = 512
)

// keyKind is the CEF data type of an extension key.
type keyKind int

const (
	kindString keyKind = iota
	kindInt            // written only from an int attribute
)

// KeyLimits lists every extension key the formatter can write with its
// length limit in UTF-8 bytes of the unescaped value (the ArcSight extension
// dictionary gives lengths in characters; bytes are never more lenient).
// 0 means no limit (numbers and rt).
var KeyLimits = map[string]int{
	"rt":               0,
	"cat":              1023,
	"act":              63,
	"outcome":          63,
	"reason":           1023,
	"msg":              1023,
	"suser":            1023,
	"suid":             1023,
	"duser":            1023,
	"duid":             1023,
	"shost":            1023,
	"dhost":            1023,
	"dst":              0,
	"dpt":              0,
	"fname":            1023,
	"filePath":         1023,
	"fileHash":         255,
	"fsize":            0,
	"request":          1023,
	"requestMethod":    1023,
	"sproc":            1023,
	"spid":             0,
	"externalId":       40,
	"deviceExternalId": 255,
	"cs1":              4000, "cs2": 4000, "cs3": 4000, "cs4": 4000, "cs5": 4000, "cs6": 4000,
	"cs1Label": 1023, "cs2Label": 1023, "cs3Label": 1023, "cs4Label": 1023, "cs5Label": 1023, "cs6Label": 1023,
	"cn1": 0, "cn1Label": 1023,
}

var intKeys = map[string]bool{"dpt": true, "fsize": true, "spid": true, "cn1": true}

// labelOf names the label key of a custom key (cs1 -> cs1Label).
func labelOf(key string) string {
	if strings.HasPrefix(key, "cs") || strings.HasPrefix(key, "cn") {
		return key + "Label"
	}
	return ""
}

// DefaultLabels are the cs*Label / cn1Label texts of the default mapping.
var DefaultLabels = map[string]string{
	"cs1Label": "sessionId",
	"cs2Label": "agentName",
	"cs3Label": "toolName",
	"cs4Label": "auditStreamSeq",
	"cs5Label": "policyRule",
	"cs6Label": "decision",
	"cn1Label": "riskScore",
}

// Config configures the CEF formatter.
type Config struct {
	// Vendor, Product and Version fill the CEF header (Device Vendor,
	// Device Product, Device Version).
	Vendor  string `mapstructure:"vendor"`
	Product string `mapstructure:"product"`
	Version string `mapstructure:"version"`
	// Fields overrides the default mapping: CEF key -> attribute name (looked
	// up in the record's attributes, then its resource's). An empty attribute
	// name removes the key from the output. The key must be one of KeyLimits
	// other than rt and the *Label keys.
	Fields map[string]string `mapstructure:"fields"`
	// Labels overrides the label texts (keys cs1Label..cs6Label, cn1Label).
	Labels map[string]string `mapstructure:"labels"`
}

// DefaultConfig returns the default vendor, product and version and no
// overrides.
func DefaultConfig() Config {
	return Config{Vendor: "AgentAudit", Product: "otelcol-agentaudit", Version: auditrecord.SchemaVersion}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	for _, h := range []struct {
		name, v string
		max     int
	}{{"vendor", c.Vendor, maxVendor}, {"product", c.Product, maxProduct}, {"version", c.Version, maxVersion}} {
		switch {
		case strings.TrimSpace(h.v) == "":
			errs = append(errs, fmt.Errorf("%s must not be empty", h.name))
		case !utf8.ValidString(h.v) || strings.IndexFunc(h.v, isConfigControl) >= 0:
			errs = append(errs, fmt.Errorf("%s must be valid UTF-8 without control characters", h.name))
		case len(h.v) > h.max:
			errs = append(errs, fmt.Errorf("%s must be at most %d bytes", h.name, h.max))
		}
	}
	for _, k := range sortedKeys(c.Fields) {
		if _, ok := KeyLimits[k]; !ok || k == "rt" || strings.HasSuffix(k, "Label") {
			errs = append(errs, fmt.Errorf("fields: %q is not a CEF key this formatter can map (see KeyLimits; rt and labels cannot be remapped)", k))
		}
	}
	for _, k := range sortedKeys(c.Labels) {
		v := c.Labels[k]
		if _, ok := DefaultLabels[k]; !ok {
			errs = append(errs, fmt.Errorf("labels: %q is not a label key (cs1Label..cs6Label, cn1Label)", k))
		} else if v == "" || !utf8.ValidString(v) || strings.IndexFunc(v, isConfigControl) >= 0 || len(v) > KeyLimits[k] {
			errs = append(errs, fmt.Errorf("labels: %q must be non-empty valid UTF-8 without control characters, at most %d bytes", k, KeyLimits[k]))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// source produces the raw value of one extension key from a record; ok is
// false when the record has no value for it.
type source func(res pcommon.Resource, lr plog.LogRecord) (string, bool)

type field struct {
	key   string
	limit int
	src   source
	label string // text of key+"Label", written when the key is
}

// CEF formats audit records as CEF lines. It is safe for concurrent use.
type CEF struct {
	header []byte // "CEF:0|vendor|product|version|", escaped
	fields []field
}

// NewCEF validates cfg and returns a formatter.
func NewCEF(cfg Config) (*CEF, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &CEF{}
	f.header = append(f.header, "CEF:0|"...)
	f.header = appendHeader(f.header, cfg.Vendor, maxVendor)
	f.header = append(f.header, '|')
	f.header = appendHeader(f.header, cfg.Product, maxProduct)
	f.header = append(f.header, '|')
	f.header = appendHeader(f.header, cfg.Version, maxVersion)
	f.header = append(f.header, '|')
	for _, d := range defaultMapping {
		src := d.src
		if attr, ok := cfg.Fields[d.key]; ok {
			if attr == "" {
				continue
			}
			src = attrSource(d.key, attr)
		}
		f.fields = append(f.fields, f.newField(d.key, src, cfg))
	}
	// Overrides of keys that the default mapping does not write are appended.
	for _, k := range sortedKeys(cfg.Fields) {
		if cfg.Fields[k] == "" || hasDefault(k) {
			continue
		}
		f.fields = append(f.fields, f.newField(k, attrSource(k, cfg.Fields[k]), cfg))
	}
	return f, nil
}

func (f *CEF) newField(key string, src source, cfg Config) field {
	fd := field{key: key, limit: KeyLimits[key], src: src}
	if l := labelOf(key); l != "" {
		fd.label = DefaultLabels[l]
		if v, ok := cfg.Labels[l]; ok {
			fd.label = v
		}
		if fd.label == "" {
			fd.label = key
		}
	}
	return fd
}

func hasDefault(k string) bool {
	for _, d := range defaultMapping {
		if d.key == k {
			return true
		}
	}
	return false
}

// attrSource reads one attribute for an override; numeric keys take only an
// int attribute.
func attrSource(key, attr string) source {
	if intKeys[key] {
		return intAttr(attr)
	}
	return strAttr(attr)
}

func lookup(res pcommon.Resource, lr plog.LogRecord, name string) (pcommon.Value, bool) {
	if v, ok := lr.Attributes().Get(name); ok {
		return v, true
	}
	return res.Attributes().Get(name)
}

// strAttr reads an attribute as a string (non-string values in their
// OTLP/JSON-like text form, as pcommon.Value.AsString gives them).
func strAttr(names ...string) source {
	return func(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
		for _, n := range names {
			if v, ok := lookup(res, lr, n); ok {
				if s := v.AsString(); s != "" {
					return s, true
				}
			}
		}
		return "", false
	}
}

func intAttr(name string) source {
	return func(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
		if v, ok := lookup(res, lr, name); ok && v.Type() == pcommon.ValueTypeInt {
			return strconv.FormatInt(v.Int(), 10), true
		}
		return "", false
	}
}

func resAttr(names ...string) source {
	return func(res pcommon.Resource, _ plog.LogRecord) (string, bool) {
		for _, n := range names {
			if v, ok := res.Attributes().Get(n); ok {
				if s := v.AsString(); s != "" {
					return s, true
				}
			}
		}
		return "", false
	}
}

func first(srcs ...source) source {
	return func(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
		for _, s := range srcs {
			if v, ok := s(res, lr); ok {
				return v, true
			}
		}
		return "", false
	}
}

func bodySource(_ pcommon.Resource, lr plog.LogRecord) (string, bool) {
	if lr.Body().Type() == pcommon.ValueTypeEmpty {
		return "", false
	}
	s := lr.Body().AsString()
	return s, s != ""
}

func timeSource(_ pcommon.Resource, lr plog.LogRecord) (string, bool) {
	t := lr.Timestamp()
	if t == 0 {
		t = lr.ObservedTimestamp()
	}
	if t == 0 {
		return "", false
	}
	return strconv.FormatUint(uint64(t)/1e6, 10), true
}

// eventAction is agent_audit.action, or the event type without its prefix.
func eventAction(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
	if s, ok := strAttr("agent_audit.action")(res, lr); ok {
		return s, true
	}
	n := strings.TrimPrefix(lr.EventName(), auditrecord.EventNamePrefix)
	return n, n != ""
}

func fileName(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
	s, ok := strAttr("file.path")(res, lr)
	if !ok {
		return "", false
	}
	b := path.Base(strings.ReplaceAll(s, `\`, "/"))
	return b, b != "" && b != "/" && b != "."
}

// serverAddr writes server.address to dst when it is an IP address and to
// dhost otherwise.
func serverAddr(wantIP bool) source {
	return func(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
		s, ok := strAttr("server.address")(res, lr)
		if !ok {
			return "", false
		}
		_, err := netip.ParseAddr(s)
		if (err == nil) != wantIP {
			return "", false
		}
		return s, true
	}
}

func streamSeq(res pcommon.Resource, lr plog.LogRecord) (string, bool) {
	st, ok := strAttr(integrity.AttrStreamID)(res, lr)
	if !ok {
		return "", false
	}
	if seq, ok := intAttr(integrity.AttrSequenceNumber)(res, lr); ok {
		return st + "/" + seq, true
	}
	return st, true
}

// defaultMapping is the documented default mapping (README.md), in output
// order.
var defaultMapping = []struct {
	key string
	src source
}{
	{"rt", timeSource},
	{"cat", func(_ pcommon.Resource, lr plog.LogRecord) (string, bool) {
		return lr.EventName(), lr.EventName() != ""
	}},
	{"act", eventAction},
	{"outcome", strAttr(auditrecord.AttrOutcome)},
	{"suser", strAttr("user.name", "user.id")},
	{"suid", strAttr("user.id")},
	{"duser", strAttr("agent_audit.approver.id")},
	{"shost", strAttr("host.name", "host.id")},
	{"dhost", serverAddr(false)},
	{"dst", serverAddr(true)},
	{"dpt", intAttr("server.port")},
	{"request", strAttr("url.full")},
	{"requestMethod", strAttr("http.request.method")},
	{"fname", fileName},
	{"filePath", strAttr("file.path")},
	{"fileHash", strAttr("agent_audit.file.sha256")},
	{"fsize", intAttr("file.size")},
	{"sproc", strAttr("process.command_line", "process.executable.path")},
	{"spid", intAttr("process.pid")},
	{"reason", strAttr("agent_audit.reason", "error.type")},
	{"msg", first(strAttr("exception.message"), bodySource)},
	{"externalId", strAttr(auditrecord.AttrEventID)},
	{"deviceExternalId", resAttr("service.instance.id", "host.id")},
	{"cs1", strAttr(auditrecord.AttrSessionID)},
	{"cs2", strAttr("gen_ai.agent.name", "gen_ai.agent.id")},
	{"cs3", strAttr("gen_ai.tool.name")},
	{"cs4", streamSeq},
	{"cs5", strAttr("agent_audit.policy.rule")},
	{"cs6", strAttr("agent_audit.decision")},
	{"cn1", intAttr("agent_audit.risk_score")},
}

// eventInfo is the header of one event type: Name, the attribute whose value
// follows the name (": value"), and the base severity.
type eventInfo struct {
	name   string
	detail string
	sev    int
}

var eventInfos = map[string]eventInfo{
	"agent_audit.session.start":       {"Agent session started", "gen_ai.agent.name", 2},
	"agent_audit.session.end":         {"Agent session ended", "gen_ai.agent.name", 2},
	"agent_audit.prompt":              {"Prompt submitted", "", 2},
	"agent_audit.model.request":       {"Model request", "gen_ai.request.model", 2},
	"agent_audit.model.response":      {"Model response", "gen_ai.request.model", 2},
	"agent_audit.tool.call":           {"Tool call", "gen_ai.tool.name", 3},
	"agent_audit.tool.result":         {"Tool result", "gen_ai.tool.name", 3},
	"agent_audit.file.read":           {"File read", "", 3},
	"agent_audit.file.write":          {"File written", "", 4},
	"agent_audit.file.delete":         {"File deleted", "", 5},
	"agent_audit.command.exec":        {"Command executed", "", 4},
	"agent_audit.network.request":     {"Network request", "server.address", 3},
	"agent_audit.permission.request":  {"Permission requested", "gen_ai.tool.name", 3},
	"agent_audit.permission.decision": {"Permission decided", "agent_audit.decision", 3},
	"agent_audit.policy.violation":    {"Policy violation", "agent_audit.policy.rule", 7},
	"agent_audit.error":               {"Agent error", "error.type", 5},
	"agent_audit.agent.notification":  {"Agent notification", "agent_audit.notification.type", 2},
	"agent_audit.agent.stop":          {"Agent stopped", "agent_audit.agent.type", 2},
	"agent_audit.agent.compact":       {"Agent context compacted", "agent_audit.compact.trigger", 2},
	"agent_audit.source.unmapped":     {"Unmapped agent event", "agent_audit.source.event", 3},
}

// Severity returns the CEF severity (0-10) of a record: the base of its
// event type (3 for an unknown one), raised to at least 5 when
// agent_audit.outcome is "failure", to at least 6 when agent_audit.decision
// is "deny", and to at least ceil(agent_audit.risk_score/10) (the score
// clamped to 0-100) when the record has a risk score.
func Severity(res pcommon.Resource, lr plog.LogRecord) int {
	sev := 3
	if info, ok := eventInfos[lr.EventName()]; ok {
		sev = info.sev
	}
	if v, ok := lookup(res, lr, auditrecord.AttrOutcome); ok && v.Str() == "failure" {
		sev = max(sev, 5)
	}
	if v, ok := lookup(res, lr, "agent_audit.decision"); ok && v.Str() == "deny" {
		sev = max(sev, 6)
	}
	if v, ok := lookup(res, lr, "agent_audit.risk_score"); ok && v.Type() == pcommon.ValueTypeInt {
		r := min(max(v.Int(), 0), 100)
		sev = max(sev, int((r+9)/10))
	}
	return min(max(sev, 0), 10)
}

// Format returns the CEF line of one record, without a line terminator.
func (f *CEF) Format(res pcommon.Resource, lr plog.LogRecord) string {
	return string(f.Append(nil, res, lr))
}

// Append appends the CEF line of one record to dst, without a line
// terminator, and returns the extended buffer.
func (f *CEF) Append(dst []byte, res pcommon.Resource, lr plog.LogRecord) []byte {
	dst = append(dst, f.header...)
	ev := lr.EventName()
	sig := ev
	if sig == "" {
		sig = "unknown"
	}
	dst = appendHeader(dst, sig, maxSignature)
	dst = append(dst, '|')
	name := ev
	if info, ok := eventInfos[ev]; ok {
		name = info.name
		if info.detail != "" {
			if d, ok := strAttr(info.detail)(res, lr); ok {
				name += ": " + d
			}
		}
	}
	if name == "" {
		name = "unknown"
	}
	dst = appendHeader(dst, name, maxName)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(Severity(res, lr)), 10)
	dst = append(dst, '|')
	for i := range f.fields {
		fd := &f.fields[i]
		v, ok := fd.src(res, lr)
		if !ok {
			continue
		}
		v = truncate(sanitize(v), fd.limit)
		if v == "" {
			continue
		}
		// Every key, the first included, is preceded by one space: liblognorm
		// up to 2.0.6 drops the first character of a key that directly
		// follows the header's last '|' (rsyslog/liblognorm#363), and the CEF
		// standard lets spaces before a key separate it from the prior value.
		dst = appendExt(dst, fd.key, v)
		if fd.label != "" {
			dst = appendExt(dst, fd.key+"Label", truncate(sanitize(fd.label), KeyLimits[fd.key+"Label"]))
		}
	}
	return dst
}

func appendExt(dst []byte, key, v string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, key...)
	dst = append(dst, '=')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '=':
			dst = append(dst, '\\', '=')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendHeader appends a header field: sanitized, newlines and carriage
// returns replaced by spaces (a header cannot escape them), truncated, then
// '\' and '|' escaped.
func appendHeader(dst []byte, v string, limit int) []byte {
	v = truncate(headerText(v), limit)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '|':
			dst = append(dst, '\\', '|')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// headerText is the text a header field holds for v before escaping and
// truncation: sanitize, then CR and LF replaced by a space.
func headerText(v string) string {
	v = sanitize(v)
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return v
}

// isControl reports characters that are replaced by U+FFFD in every value:
// C0 controls other than tab, LF and CR, DEL, and the Unicode line breaks
// NEL, LS and PS (which some readers take as the end of a line). NUL would
// end the value in C parsers.
func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029
}

// isConfigControl reports characters not allowed in configured header and
// label texts: every character isControl reports, tab, CR and LF.
func isConfigControl(r rune) bool { return r < 0x20 || isControl(r) }

// sanitize replaces invalid UTF-8 and the characters isControl reports by
// U+FFFD.
func sanitize(v string) string {
	clean := utf8.ValidString(v)
	if clean {
		for _, r := range v {
			if isControl(r) {
				clean = false
				break
			}
		}
	}
	if clean {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for _, r := range strings.ToValidUTF8(v, "\uFFFD") {
		if isControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts v to at most limit bytes on a UTF-8 boundary (limit 0: no
// limit).
func truncate(v string, limit int) string {
	if limit <= 0 || len(v) <= limit {
		return v
	}
	i := limit
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return v[:i]
}
