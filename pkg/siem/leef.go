package siem

// The LEEF 2.0 formatter (IBM QRadar Log Event Extended Format). README.md,
// section "LEEF", lists the rules taken from IBM's documentation, the
// mapping and the replacement rules that keep every value inside its
// attribute.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// LEEF limits, in UTF-8 bytes of the written text. IBM documents no length
// limits for LEEF; these follow the CEF header limits so that one vendor,
// product and version configuration fits both formats, and keep one value
// far below QRadar's default syslog payload size.
const (
	leefMaxVendor  = 63
	leefMaxProduct = 63
	leefMaxVersion = 31
	leefMaxEventID = 255
	leefMaxValue   = 1023
	leefMaxKey     = 255
)

// LEEFDevTimeFormat is the devTimeFormat written with every devTime: one of
// the patterns IBM's "Custom event date format" page suggests (Java
// SimpleDateFormat), with milliseconds and an explicit zone so that QRadar
// needs no time zone setting of the log source.
const LEEFDevTimeFormat = "MMM dd yyyy HH:mm:ss.SSS z"

// leefGoTime is LEEFDevTimeFormat in Go's layout; the zone is always GMT.
const leefGoTime = "Jan 02 2006 15:04:05.000"

// leefReservedKeys are written by the formatter itself and cannot be
// remapped: devTimeFormat must describe devTime, and sev must stay the
// documented severity rule.
var leefReservedKeys = map[string]bool{"devTime": true, "devTimeFormat": true, "sev": true}

// leefIntKeys are written only from int attributes, also when remapped.
var leefIntKeys = map[string]bool{"dstPort": true, "fileSize": true, "processId": true, "riskScore": true}

// leefDefaultMapping is the documented default mapping (README.md, section
// LEEF), in output order after devTime, devTimeFormat and sev. It carries the
// same facts as the CEF default mapping.
var leefDefaultMapping = []struct {
	key string
	src source
}{
	{"cat", func(_ pcommon.Resource, lr plog.LogRecord) (string, bool) {
		return lr.EventName(), lr.EventName() != ""
	}},
	{"action", eventAction},
	{"outcome", strAttr(auditrecord.AttrOutcome)},
	{"usrName", strAttr("user.name", "user.id")},
	{"userId", strAttr("user.id")},
	{"approver", strAttr("agent_audit.approver.id")},
	{"identHostName", strAttr("host.name", "host.id")},
	{"dstHost", serverAddr(false)},
	{"dst", serverAddr(true)},
	{"dstPort", intAttr("server.port")},
	{"url", strAttr("url.full")},
	{"requestMethod", strAttr("http.request.method")},
	{"resource", strAttr("file.path")},
	{"filePath", strAttr("file.path")},
	{"fileName", fileName},
	{"fileHash", strAttr("agent_audit.file.sha256")},
	{"fileSize", intAttr("file.size")},
	{"command", strAttr("process.command_line", "process.executable.path")},
	{"processId", intAttr("process.pid")},
	{"reason", strAttr("agent_audit.reason", "error.type")},
	{"msg", first(strAttr("exception.message"), bodySource)},
	{"eventId", strAttr(auditrecord.AttrEventID)},
	{"collectorId", resAttr("service.instance.id", "host.id")},
	{"sessionId", strAttr(auditrecord.AttrSessionID)},
	{"agentName", strAttr("gen_ai.agent.name", "gen_ai.agent.id")},
	{"toolName", strAttr("gen_ai.tool.name")},
	{"streamSeq", streamSeq},
	{"policy", strAttr("agent_audit.policy.rule")},
	{"decision", strAttr("agent_audit.decision")},
	{"riskScore", intAttr("agent_audit.risk_score")},
}

// LEEFConfig configures the LEEF formatter.
type LEEFConfig struct {
	// Vendor, Product and Version fill the LEEF header.
	Vendor  string `mapstructure:"vendor"`
	Product string `mapstructure:"product"`
	Version string `mapstructure:"version"`
	// Delimiter separates the attributes: one character, given as itself
	// ("^"), or in the hex form of the LEEF header ("x5E", "0x5e", "x09").
	// Empty means tab. Allowed: tab, or one printable ASCII punctuation
	// character other than = | \ " ' : . _ (see LEEFConfig.Validate). A tab
	// is written in the header as "x09", any other character as itself.
	Delimiter string `mapstructure:"delimiter"`
	// Fields overrides the default mapping: LEEF key -> attribute name
	// (looked up in the record's attributes, then its resource's). An
	// empty attribute name removes a default key. A key outside the default
	// mapping adds a custom key. Keys are ASCII letters and digits, starting
	// with a letter; devTime, devTimeFormat and sev cannot be remapped.
	Fields map[string]string `mapstructure:"fields"`
}

// DefaultLEEFConfig returns the default vendor, product and version, the
// tab delimiter and no overrides.
func DefaultLEEFConfig() LEEFConfig {
	return LEEFConfig{Vendor: "AgentAudit", Product: "otelcol-agentaudit", Version: auditrecord.SchemaVersion, Delimiter: "\t"}
}

// parseLEEFDelimiter reads the configured delimiter: one character or the
// LEEF header hex form ("x" or "0x" and 1 to 4 hex digits, IBM "LEEF event
// components"). It returns the byte and the text of the header field.
func parseLEEFDelimiter(s string) (byte, string, error) {
	var c rune
	switch {
	case s == "":
		c = '\t'
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "x"):
		if len(s) == 1 {
			c = 'x' // a lone "x" is the letter, refused below
			break
		}
		hex := s[strings.IndexByte(s, 'x')+1:]
		n, err := strconv.ParseUint(hex, 16, 16)
		if err != nil || len(hex) > 4 {
			return 0, "", fmt.Errorf("delimiter %q: the hex form is x or 0x followed by 1 to 4 hex digits", s)
		}
		c = rune(n)
	default:
		r, size := utf8.DecodeRuneInString(s)
		if size != len(s) || r == utf8.RuneError {
			return 0, "", fmt.Errorf("delimiter %q must be exactly one character or its hex form (x09, 0x5E)", s)
		}
		c = r
	}
	if !leefDelimiterAllowed(c) {
		return 0, "", fmt.Errorf("delimiter %q is not allowed: use tab (x09) or one printable ASCII punctuation character other than = | \\ \" ' : . _", s)
	}
	if c == '\t' {
		return '\t', "x09", nil
	}
	return byte(c), string(c), nil
}

// leefDelimiterAllowed: tab, or ASCII punctuation that cannot break the
// event. Letters and digits would cut keys and numbers; = separates key and
// value; | and \ are header syntax (\ also an escape to some readers); " and
// ' start quoted values in some readers; space, : and . occur in devTime and
// devTimeFormat, which would then lose their meaning; _ occurs in every event
// name, so cat, the static key of the QID map, would be altered in every
// event.
func leefDelimiterAllowed(c rune) bool {
	if c == '\t' {
		return true
	}
	if c <= 0x20 || c >= 0x7f || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return false
	}
	return !strings.ContainsRune(`=|\"':._`, c)
}

// validLEEFKey: ASCII letters and digits, starting with a letter (IBM "Best
// practices Guidelines for LEEF events": alphanumeric keys, a single word).
// Such a key can hold no =, delimiter, space or control character.
func validLEEFKey(k string) bool {
	if k == "" || len(k) > leefMaxKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func leefHasDefault(k string) bool {
	for _, d := range leefDefaultMapping {
		if d.key == k {
			return true
		}
	}
	return false
}

// Validate checks the configuration.
func (c *LEEFConfig) Validate() error {
	var errs []error
	for _, h := range []struct {
		name, v string
		max     int
	}{{"vendor", c.Vendor, leefMaxVendor}, {"product", c.Product, leefMaxProduct}, {"version", c.Version, leefMaxVersion}} {
		switch {
		case strings.TrimSpace(h.v) == "":
			errs = append(errs, fmt.Errorf("%s must not be empty", h.name))
		case !utf8.ValidString(h.v) || strings.IndexFunc(h.v, isConfigControl) >= 0:
			errs = append(errs, fmt.Errorf("%s must be valid UTF-8 without control characters", h.name))
		case strings.ContainsAny(h.v, `|\`):
			// LEEF has no escape in the header: a | would start another
			// header field, and some readers take \ as an escape.
			errs = append(errs, fmt.Errorf("%s must not contain | or \\ (the LEEF header has no escape)", h.name))
		case len(h.v) > h.max:
			errs = append(errs, fmt.Errorf("%s must be at most %d bytes", h.name, h.max))
		}
	}
	if _, _, err := parseLEEFDelimiter(c.Delimiter); err != nil {
		errs = append(errs, err)
	}
	for _, k := range sortedKeys(c.Fields) {
		switch {
		case !validLEEFKey(k):
			errs = append(errs, fmt.Errorf("fields: key %q must be ASCII letters and digits, starting with a letter, at most %d bytes", k, leefMaxKey))
		case leefReservedKeys[k]:
			errs = append(errs, fmt.Errorf("fields: key %q is written by the formatter and cannot be remapped", k))
		case c.Fields[k] == "" && !leefHasDefault(k):
			errs = append(errs, fmt.Errorf("fields: key %q is not in the default mapping, so an empty attribute name removes nothing", k))
		}
	}
	return errors.Join(errs...)
}

type leefField struct {
	key string
	src source
}

// LEEF formats audit records as LEEF 2.0 events. It is safe for concurrent
// use.
type LEEF struct {
	header []byte // "LEEF:2.0|vendor|product|version|"
	delimH string // the delimiter header field
	delim  byte
	fields []leefField
}

var _ Formatter = (*LEEF)(nil)

// NewLEEF validates cfg and returns a formatter.
func NewLEEF(cfg LEEFConfig) (*LEEF, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, dh, _ := parseLEEFDelimiter(cfg.Delimiter)
	l := &LEEF{delim: d, delimH: dh}
	l.header = append(l.header, "LEEF:2.0|"...)
	// Validate refused |, \ and control characters, so the configured texts
	// are written as they are.
	l.header = append(l.header, cfg.Vendor...)
	l.header = append(l.header, '|')
	l.header = append(l.header, cfg.Product...)
	l.header = append(l.header, '|')
	l.header = append(l.header, cfg.Version...)
	l.header = append(l.header, '|')
	for _, m := range leefDefaultMapping {
		src := m.src
		if attr, ok := cfg.Fields[m.key]; ok {
			if attr == "" {
				continue
			}
			src = leefAttrSource(m.key, attr)
		}
		l.fields = append(l.fields, leefField{m.key, src})
	}
	for _, k := range sortedKeys(cfg.Fields) {
		if cfg.Fields[k] == "" || leefHasDefault(k) {
			continue
		}
		l.fields = append(l.fields, leefField{k, leefAttrSource(k, cfg.Fields[k])})
	}
	return l, nil
}

func leefAttrSource(key, attr string) source {
	if leefIntKeys[key] {
		return intAttr(attr)
	}
	return strAttr(attr)
}

// Format returns the LEEF event of one record, without a line terminator.
func (l *LEEF) Format(res pcommon.Resource, lr plog.LogRecord) string {
	return string(l.Append(nil, res, lr))
}

// Append appends the LEEF 2.0 event of one record to dst, without a line
// terminator, and returns the extended buffer.
func (l *LEEF) Append(dst []byte, res pcommon.Resource, lr plog.LogRecord) []byte {
	dst = append(dst, l.header...)
	ev := lr.EventName()
	if ev == "" {
		ev = "unknown"
	}
	dst = appendLEEFText(dst, ev, leefMaxEventID, 0, true)
	dst = append(dst, '|')
	dst = append(dst, l.delimH...)
	dst = append(dst, '|')

	if t := lr.Timestamp(); t != 0 || lr.ObservedTimestamp() != 0 {
		if t == 0 {
			t = lr.ObservedTimestamp()
		}
		dst = append(dst, "devTime="...)
		// Split in uint64: AsTime (int64 ns) would wrap a time after 2262
		// to before 1970.
		dst = time.Unix(int64(t/1e9), int64(t%1e9)).UTC().AppendFormat(dst, leefGoTime)
		dst = append(dst, " GMT"...)
		dst = append(dst, l.delim)
		dst = append(dst, "devTimeFormat="...)
		dst = append(dst, LEEFDevTimeFormat...)
		dst = append(dst, l.delim)
	}
	// LEEF sev is 1 (lowest) to 10; the shared rule can give 0.
	dst = append(dst, "sev="...)
	dst = strconv.AppendInt(dst, int64(min(max(Severity(res, lr), 1), 10)), 10)
	for i := range l.fields {
		f := &l.fields[i]
		v, ok := f.src(res, lr)
		if !ok || v == "" {
			continue
		}
		dst = append(dst, l.delim)
		dst = append(dst, f.key...)
		dst = append(dst, '=')
		dst = appendLEEFText(dst, v, leefMaxValue, l.delim, false)
	}
	return dst
}

// appendLEEFText appends v with every character that could end the event,
// start another attribute or header field, or break UTF-8 replaced by
// U+FFFD, cut to at most limit bytes (after replacement) on a character
// boundary. Replaced: invalid UTF-8, C0 controls (tab, LF, CR and NUL
// included), DEL, NEL, LS, PS, and the delimiter; in a header field also |
// and \. LEEF defines no escape sequences, so nothing is escaped: an escape
// would be shown verbatim by QRadar.
func appendLEEFText(dst []byte, v string, limit int, delim byte, header bool) []byte {
	start := len(dst)
	// Fast path: printable ASCII without a special character.
	i := 0
	for ; i < len(v) && i < limit; i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || c == delim || header && (c == '|' || c == '\\') {
			break
		}
	}
	dst = append(dst, v[:i]...)
	if i == len(v) || i == limit {
		return dst
	}
	invalid := false
	for i < len(v) {
		r, n := utf8.DecodeRuneInString(v[i:])
		i += n
		// A run of invalid bytes becomes one U+FFFD, as in CEF
		// (strings.ToValidUTF8), so both formats carry the same text.
		if r == utf8.RuneError && n == 1 {
			if invalid {
				continue
			}
			invalid = true
		} else {
			invalid = false
		}
		if r < 0x20 || isControl(r) || r == rune(delim) && delim != 0 || header && (r == '|' || r == '\\') {
			r = utf8.RuneError
		}
		if len(dst)-start+utf8.RuneLen(r) > limit {
			break
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}
