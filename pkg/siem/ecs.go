package siem

// ECS formatter: one Elastic Common Schema 9.4 JSON document per audit
// record. README.md in this directory holds the mapping table, the
// categorization of every event type and the namespace key scheme.

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// ECSVersion is the ECS version the documents follow (written as ecs.version).
const ECSVersion = "9.4.0"

// ECS constants of every document.
const (
	ecsAgentType = "otelcol-agentaudit"
	ecsModule    = "agent_audit"
	ecsDataset   = "agent_audit.events"
)

// ecsTopLevel lists the top-level names of ECS 9.4.0 (the first segment of
// every field name of testdata/ecs-9.4.0-fields.tsv but @timestamp; a test
// checks that the two agree). The namespace may not be one of them: its
// custom fields would mix with ECS fields of the same set.
var ecsTopLevel = []string{
	"agent", "client", "cloud", "container", "data_stream", "destination", "device", "dll", "dns",
	"ecs", "email", "entity", "error", "event", "faas", "file", "gen_ai", "group", "host", "http",
	"labels", "log", "message", "network", "observer", "orchestrator", "organization", "package",
	"process", "registry", "related", "rule", "server", "service", "source", "span", "tags",
	"threat", "tls", "trace", "transaction", "url", "user", "user_agent", "volume", "vulnerability",
}

// ECSConfig configures the ECS formatter.
type ECSConfig struct {
	// Namespace is the top-level field that holds every attribute without an ECS field (default "agent_audit").
	Namespace string `mapstructure:"namespace"`
	// Agent describes this collector for ECS agent.*: the program that
	// collected the event, not the AI agent (gen_ai.agent.*), and not
	// whatever sent the record (its resource's service.* attributes stay
	// under the namespace). The exporter fills it from its build and
	// instance; it is not configured.
	Agent ECSAgent `mapstructure:"-"`
}

// ECSAgent is what ECS agent.* says about this collector; empty fields are
// left out (agent.type is always otelcol-agentaudit).
type ECSAgent struct {
	Version string // agent.version: the collector's version
	ID      string // agent.id: the collector's service.instance.id
	Name    string // agent.name: e.g. the collector's host name
}

// DefaultECSConfig returns the default namespace, agent_audit.
func DefaultECSConfig() ECSConfig { return ECSConfig{Namespace: "agent_audit"} }

// Validate checks that the namespace is one ECS-style field name that is not
// an ECS top-level field set.
func (c *ECSConfig) Validate() error {
	ns := c.Namespace
	if ns == "" {
		return errors.New("namespace must not be empty")
	}
	for i := 0; i < len(ns); i++ {
		b := ns[i]
		if !(b >= 'a' && b <= 'z' || b == '_' || b >= '0' && b <= '9') {
			return fmt.Errorf("namespace %q: only lowercase letters, digits and '_' are allowed (one field name, no dots)", ns)
		}
	}
	if ns[0] < 'a' || ns[0] > 'z' {
		// Elasticsearch reserves names starting with '_' for metadata fields.
		return fmt.Errorf("namespace %q must start with a lowercase letter", ns)
	}
	if slices.Contains(ecsTopLevel, ns) {
		return fmt.Errorf("namespace %q is an ECS %s top-level field set; custom fields there would mix with ECS fields, choose another name", ns, ECSVersion)
	}
	return nil
}

// ECS formats audit records as ECS JSON documents. It is safe for concurrent
// use.
type ECS struct {
	ns    string
	agent ECSAgent
}

var _ Formatter = (*ECS)(nil)

// NewECS validates cfg and returns a formatter.
func NewECS(cfg ECSConfig) (*ECS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ECS{ns: cfg.Namespace, agent: cfg.Agent}, nil
}

// ---- attributes with an ECS field ----

// ecsKind is the value an attribute must hold to go to its ECS field. An
// attribute of another type keeps its own type under the namespace instead,
// so that no document fails to index on a type mismatch.
type ecsKind uint8

const (
	kKeyword  ecsKind = iota // a string
	kLong                    // an int
	kInteger                 // an int within int32 (ECS integer)
	kDouble                  // a finite double, or an int
	kStrings                 // an array of strings
	kOutcome                 // a string among the event.outcome allowed values
	kPort                    // an int from 0 to 65535
	kDuration                // an int of milliseconds, 0 to MaxInt64/1e6 (event.duration is in ns)
	kLower                   // a string without uppercase letters (ECS asks for lowercase)
)

type ecsSlot uint8

const (
	slEventID ecsSlot = iota
	slOutcome
	slRiskScore
	slReason
	slDuration
	slSequence
	slDigest
	slUserID
	slUserName
	slHostID
	slHostName
	slAgentID
	slAgentName
	slAgentDesc
	slReqModel
	slReqMaxTokens
	slReqTemperature
	slReqTopP
	slReqTopK
	slReqFreqPenalty
	slReqPresPenalty
	slReqSeed
	slReqChoiceCount
	slSystem
	slOperation
	slOutputType
	slRespModel
	slRespID
	slUsageIn
	slUsageOut
	slToolName
	slToolCallID
	slToolType
	slPID
	slCommandLine
	slExecutable
	slProcName
	slWorkDir
	slExitCode
	slArgs
	slFilePath
	slFileSize
	slFileSHA256
	slURL
	slHTTPMethod
	slHTTPStatus
	slServerAddr
	slServerPort
	slNetProto
	slErrType
	slErrMessage
	slRule
	nSlots
)

type ecsSource struct {
	slot ecsSlot
	kind ecsKind
	// prio orders several attributes that feed one slot (lower wins).
	prio uint8
	// resOnly: only a resource attribute feeds the slot (agent.*, this
	// collector); a record attribute of that name stays under the namespace.
	resOnly bool
}

// ecsSources maps attribute names to the ECS field they feed (README.md,
// "Mapping"). A record attribute wins over a resource attribute.
var ecsSources = map[string]ecsSource{
	auditrecord.AttrEventID:            {slot: slEventID},
	auditrecord.AttrOutcome:            {slot: slOutcome, kind: kOutcome},
	"agent_audit.risk_score":           {slot: slRiskScore, kind: kLong},
	"agent_audit.reason":               {slot: slReason},
	"agent_audit.duration_ms":          {slot: slDuration, kind: kDuration},
	integrity.AttrSequenceNumber:       {slot: slSequence, kind: kLong},
	integrity.AttrRecordDigest:         {slot: slDigest},
	"user.id":                          {slot: slUserID},
	"user.name":                        {slot: slUserName},
	"host.id":                          {slot: slHostID},
	"host.name":                        {slot: slHostName},
	"gen_ai.agent.id":                  {slot: slAgentID},
	"gen_ai.agent.name":                {slot: slAgentName},
	"gen_ai.agent.description":         {slot: slAgentDesc},
	"gen_ai.request.model":             {slot: slReqModel},
	"gen_ai.request.max_tokens":        {slot: slReqMaxTokens, kind: kInteger},
	"gen_ai.request.temperature":       {slot: slReqTemperature, kind: kDouble},
	"gen_ai.request.top_p":             {slot: slReqTopP, kind: kDouble},
	"gen_ai.request.top_k":             {slot: slReqTopK, kind: kDouble},
	"gen_ai.request.frequency_penalty": {slot: slReqFreqPenalty, kind: kDouble},
	"gen_ai.request.presence_penalty":  {slot: slReqPresPenalty, kind: kDouble},
	"gen_ai.request.seed":              {slot: slReqSeed, kind: kInteger},
	"gen_ai.request.choice.count":      {slot: slReqChoiceCount, kind: kInteger},
	"gen_ai.provider.name":             {slot: slSystem},
	"gen_ai.system":                    {slot: slSystem, prio: 1},
	"gen_ai.operation.name":            {slot: slOperation},
	"gen_ai.output.type":               {slot: slOutputType},
	"gen_ai.response.model":            {slot: slRespModel},
	"gen_ai.response.id":               {slot: slRespID},
	"gen_ai.usage.input_tokens":        {slot: slUsageIn, kind: kInteger},
	"gen_ai.usage.output_tokens":       {slot: slUsageOut, kind: kInteger},
	"gen_ai.tool.name":                 {slot: slToolName},
	"gen_ai.tool.call.id":              {slot: slToolCallID},
	"gen_ai.tool.type":                 {slot: slToolType},
	"process.pid":                      {slot: slPID, kind: kLong},
	"process.command_line":             {slot: slCommandLine},
	"process.executable.path":          {slot: slExecutable},
	"process.executable.name":          {slot: slProcName},
	"process.working_directory":        {slot: slWorkDir},
	"process.exit.code":                {slot: slExitCode, kind: kLong},
	"process.args":                     {slot: slArgs, kind: kStrings},
	"file.path":                        {slot: slFilePath},
	"file.size":                        {slot: slFileSize, kind: kLong},
	"agent_audit.file.sha256":          {slot: slFileSHA256},
	"url.full":                         {slot: slURL},
	"http.request.method":              {slot: slHTTPMethod},
	"http.response.status_code":        {slot: slHTTPStatus, kind: kLong},
	"server.address":                   {slot: slServerAddr},
	"server.port":                      {slot: slServerPort, kind: kPort},
	"network.protocol.name":            {slot: slNetProto, kind: kLower},
	"error.type":                       {slot: slErrType},
	"exception.message":                {slot: slErrMessage},
	"agent_audit.policy.rule":          {slot: slRule},
}

// accepts reports whether v has the type (and range) kind requires.
func (k ecsKind) accepts(v pcommon.Value) bool {
	switch k {
	case kKeyword:
		return v.Type() == pcommon.ValueTypeStr
	case kLong:
		return v.Type() == pcommon.ValueTypeInt
	case kInteger:
		return v.Type() == pcommon.ValueTypeInt && v.Int() >= math.MinInt32 && v.Int() <= math.MaxInt32
	case kDouble:
		return v.Type() == pcommon.ValueTypeInt ||
			v.Type() == pcommon.ValueTypeDouble && !math.IsNaN(v.Double()) && !math.IsInf(v.Double(), 0)
	case kStrings:
		if v.Type() != pcommon.ValueTypeSlice {
			return false
		}
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if s.At(i).Type() != pcommon.ValueTypeStr {
				return false
			}
		}
		return true
	case kOutcome:
		if v.Type() != pcommon.ValueTypeStr {
			return false
		}
		s := v.Str()
		return s == "success" || s == "failure" || s == "unknown"
	case kPort:
		return v.Type() == pcommon.ValueTypeInt && v.Int() >= 0 && v.Int() <= 65535
	case kDuration:
		return v.Type() == pcommon.ValueTypeInt && v.Int() >= 0 && v.Int() <= math.MaxInt64/1_000_000
	case kLower:
		return v.Type() == pcommon.ValueTypeStr && strings.ToLower(v.Str()) == v.Str()
	}
	return false
}

// ---- categorization ----

type ecsCategorization struct {
	kind     string
	category string
	typ      string
}

// ecsCategories gives every event type of the schema and of the integrity
// components its ECS categorization. Every category/type pair is one that
// ECS 9.4 lists among the expected event types of the category.
var ecsCategories = map[string]ecsCategorization{
	"agent_audit.session.start":        {"event", "session", "start"},
	"agent_audit.session.end":          {"event", "session", "end"},
	"agent_audit.prompt":               {"event", "session", "info"},
	"agent_audit.model.request":        {"event", "api", "start"},
	"agent_audit.model.response":       {"event", "api", "end"},
	"agent_audit.tool.call":            {"event", "api", "start"},
	"agent_audit.tool.result":          {"event", "api", "end"},
	"agent_audit.file.read":            {"event", "file", "access"},
	"agent_audit.file.write":           {"event", "file", "change"},
	"agent_audit.file.delete":          {"event", "file", "deletion"},
	"agent_audit.command.exec":         {"event", "process", "start"},
	"agent_audit.network.request":      {"event", "network", "access"},
	"agent_audit.permission.request":   {"event", "api", "info"},
	"agent_audit.permission.decision":  {"event", "api", "info"},                 // type from agent_audit.decision
	"agent_audit.policy.violation":     {"alert", "intrusion_detection", "info"}, // type from agent_audit.decision
	"agent_audit.error":                {"event", "api", "info"},
	"agent_audit.agent.notification":   {"event", "session", "info"},
	"agent_audit.agent.stop":           {"event", "session", "info"},
	"agent_audit.agent.compact":        {"event", "session", "info"},
	"agent_audit.source.unmapped":      {"event", "api", "info"},
	integrity.EventCheckpoint:          {"event", "database", "info"},
	integrity.EventCheckpointTimestamp: {"event", "database", "info"},
	integrity.EventKeyAnnouncement:     {"event", "configuration", "creation"}, // change with agent_audit.key.previous
	integrity.EventEpochStart:          {"event", "database", "info"},
	integrity.EventVoid:                {"event", "database", "error"},
	integrity.EventUncleanStop:         {"event", "database", "error"}, // records may have been lost in flight
}

// Categorization of an event name the table does not hold: any other record
// of the integrity components, and any other event.
var (
	ecsCollectorOther = ecsCategorization{"event", "database", "info"}
	ecsUnknown        = ecsCategorization{"event", "api", "info"}
)

func categorize(res pcommon.Resource, lr plog.LogRecord) ecsCategorization {
	name := lr.EventName()
	c, ok := ecsCategories[name]
	if !ok {
		if integrity.IsReservedEventName(name) {
			return ecsCollectorOther
		}
		return ecsUnknown
	}
	switch name {
	case "agent_audit.permission.decision", "agent_audit.policy.violation":
		// api and intrusion_detection both expect allowed and denied.
		if v, ok := lookup(res, lr, "agent_audit.decision"); ok && v.Type() == pcommon.ValueTypeStr {
			switch v.Str() {
			case "allow":
				c.typ = "allowed"
			case "deny":
				c.typ = "denied"
			}
		}
	case integrity.EventKeyAnnouncement:
		if _, ok := lookup(res, lr, integrity.AttrKeyPrevious); ok {
			c.typ = "change"
		}
	}
	return c
}

// ecsValueKeys are the namespace keys of schema attributes whose name is
// also the prefix of another schema attribute (agent_audit.decision and
// agent_audit.decision.source). Their value is always written at
// key.value, in every document, so that the key is an object in all of
// them: Elasticsearch refuses a document where a field mapped as an object
// holds a value.
var ecsValueKeys = func() map[string]bool {
	var names []string
	for _, a := range auditrecord.CommonAttributes {
		names = append(names, a.Name)
	}
	for _, et := range auditrecord.EventTypes {
		for _, a := range et.Attributes {
			names = append(names, a.Name)
		}
	}
	m := map[string]bool{}
	for _, n := range names {
		for _, o := range names {
			if strings.HasPrefix(o, n+".") {
				m[strings.TrimPrefix(n, auditrecord.EventNamePrefix)] = true
			}
		}
	}
	return m
}()

// ---- per-record scratch ----

type ecsSlotVal struct {
	v    pcommon.Value
	set  bool
	prio uint8
	res  bool
	idx  int
}

type ecsEntry struct {
	key    string // path below the namespace, segments joined by '.'
	name   string // attribute name as the record holds it, for conflicts
	source string // "record", "attribute" or "resource"
	v      pcommon.Value
	num    int64
	isNum  bool
}

type ecsScratch struct {
	slots   [nSlots]ecsSlotVal
	recUsed []bool
	resUsed []bool
	entries []ecsEntry
	kept    []ecsEntry
	lost    []ecsEntry
	paths   map[string]bool // true: a leaf; false: an object
	segs    []string
	open    []string
	related [4][]string
	keyBuf  []byte
	mapKeys []string
}

var ecsPool = sync.Pool{New: func() any { return &ecsScratch{paths: map[string]bool{}} }}

func (s *ecsScratch) reset() {
	s.slots = [nSlots]ecsSlotVal{}
	s.recUsed = s.recUsed[:0]
	s.resUsed = s.resUsed[:0]
	s.entries = s.entries[:0]
	s.kept = s.kept[:0]
	s.lost = s.lost[:0]
	clear(s.paths)
	s.open = s.open[:0]
	for i := range s.related {
		s.related[i] = s.related[i][:0]
	}
}

func (s *ecsScratch) fill(attrs pcommon.Map, res bool) {
	used := s.recUsed
	if res {
		used = s.resUsed
	}
	used = slices.Grow(used[:0], attrs.Len())[:attrs.Len()]
	clear(used)
	i := 0
	for k, v := range attrs.All() {
		src, ok := ecsSources[k]
		// A resource attribute feeds any slot the record left empty; a
		// resource-only slot (agent.*) takes no record attribute.
		if ok && (res || !src.resOnly) && src.kind.accepts(v) {
			sl := &s.slots[src.slot]
			// Record attributes are filled first; the resource only fills
			// what the record left empty. Among several attributes of one
			// slot the lowest prio wins; a duplicate key keeps the first.
			if !sl.set || (sl.res == res && src.prio < sl.prio) {
				if sl.set && sl.res == res {
					used[sl.idx] = false
				}
				*sl = ecsSlotVal{v: v, set: true, prio: src.prio, res: res, idx: i}
				used[i] = true
			}
		}
		i++
	}
	if res {
		s.resUsed = used
	} else {
		s.recUsed = used
	}
}

func (s *ecsScratch) get(sl ecsSlot) (pcommon.Value, bool) {
	return s.slots[sl].v, s.slots[sl].set
}

func (s *ecsScratch) str(sl ecsSlot) (string, bool) {
	if !s.slots[sl].set {
		return "", false
	}
	return s.slots[sl].v.Str(), true
}

// ---- JSON writing ----

// ecsWriter writes nested objects from a sequence of paths. Members that
// share an object must come one after the other (the ECS part is written in
// a fixed order, the namespace part sorted), so that each object is opened
// once and every key is unique.
type ecsWriter struct {
	b     []byte
	open  []string
	empty bool
}

func (w *ecsWriter) key(path ...string) {
	parent := path[:len(path)-1]
	n := 0
	for n < len(w.open) && n < len(parent) && w.open[n] == parent[n] {
		n++
	}
	for len(w.open) > n {
		w.b = append(w.b, '}')
		w.open = w.open[:len(w.open)-1]
		w.empty = false
	}
	for _, k := range parent[n:] {
		if !w.empty {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, k)
		w.b = append(w.b, ':', '{')
		w.open = append(w.open, k)
		w.empty = true
	}
	if !w.empty {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, path[len(path)-1])
	w.b = append(w.b, ':')
	w.empty = false
}

func (w *ecsWriter) str(v string, path ...string) {
	w.key(path...)
	w.b = appendJSONString(w.b, v)
}

func (w *ecsWriter) int(v int64, path ...string) {
	w.key(path...)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *ecsWriter) strs(vs []string, path ...string) {
	w.key(path...)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, v)
	}
	w.b = append(w.b, ']')
}

func (w *ecsWriter) slotStr(s *ecsScratch, sl ecsSlot, path ...string) {
	if v, ok := s.str(sl); ok {
		w.str(v, path...)
	}
}

func (w *ecsWriter) slotNum(s *ecsScratch, sl ecsSlot, path ...string) {
	if v, ok := s.get(sl); ok {
		w.key(path...)
		w.b = appendNumber(w.b, v)
	}
}

func appendNumber(b []byte, v pcommon.Value) []byte {
	if v.Type() == pcommon.ValueTypeInt {
		return strconv.AppendInt(b, v.Int(), 10)
	}
	return appendDouble(b, v.Double())
}

// appendDouble writes a finite double so that it reads back as a fractional
// number (1 is written 1.0), keeping the int/double distinction of the
// record; NaN and infinities, which JSON cannot hold, become the strings
// "NaN", "+Inf" and "-Inf".
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Inf"`...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	for _, c := range b[start:] {
		if c == '.' || c == 'e' {
			return b
		}
	}
	return append(b, '.', '0')
}

const ecsTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func appendTime(b []byte, ts pcommon.Timestamp) []byte {
	b = append(b, '"')
	// Split in uint64: int64(ts) would wrap a time after 2262 to before 1970.
	b = time.Unix(int64(ts/1e9), int64(ts%1e9)).UTC().AppendFormat(b, ecsTimeLayout)
	return append(b, '"')
}

var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < 0x7f; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string: invalid UTF-8 becomes U+FFFD,
// control characters (C0, DEL and C1) are escaped, so no raw CR, LF or NEL is
// ever written, and so are U+2028 and U+2029, which some readers take as line
// ends.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r <= 0x9f { // C1 controls (NEL, U+0085, ends a line for some readers)
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendValue writes an attribute value with its JSON type: maps as objects
// (keys made valid UTF-8 and unique), slices as arrays, bytes as base64 text
// (as OTLP/JSON writes them), an empty value as null.
func (s *ecsScratch) appendValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendJSONString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendDouble(b, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeBytes:
		return appendJSONString(b, v.AsString())
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		b = append(b, '[')
		for i := 0; i < sl.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendValue(b, sl.At(i))
		}
		return append(b, ']')
	case pcommon.ValueTypeMap:
		return s.appendMap(b, v.Map())
	}
	return append(b, "null"...)
}

// appendMap writes a map as an object. Keys are compared after invalid UTF-8
// is replaced, as they are written; a key met again (a map decoded from
// protobuf may hold one twice, and two invalid keys may read the same) gets
// the first free suffix _2, _3, ... so that no member is lost.
func (s *ecsScratch) appendMap(b []byte, m pcommon.Map) []byte {
	b = append(b, '{')
	mark := len(s.mapKeys)
	i := 0
	for k, v := range m.All() {
		k = validUTF8(k)
		if slices.Contains(s.mapKeys[mark:], k) {
			for n := 2; ; n++ {
				c := k + "_" + strconv.Itoa(n)
				if !slices.Contains(s.mapKeys[mark:], c) && !mapHas(m, c) {
					k = c
					break
				}
			}
		}
		s.mapKeys = append(s.mapKeys, k)
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = s.appendValue(b, v)
		i++
	}
	s.mapKeys = s.mapKeys[:mark]
	return append(b, '}')
}

// mapHas reports whether m holds key k as written (valid UTF-8).
func mapHas(m pcommon.Map, k string) bool {
	for mk := range m.All() {
		if validUTF8(mk) == k {
			return true
		}
	}
	return false
}

// ---- the document ----

// Append appends the ECS document of one record to dst: one JSON object,
// without a line terminator.
func (e *ECS) Append(dst []byte, res pcommon.Resource, lr plog.LogRecord) []byte {
	s := ecsPool.Get().(*ecsScratch)
	s.reset()
	s.fill(lr.Attributes(), false)
	s.fill(res.Attributes(), true)

	w := ecsWriter{b: append(dst, '{'), open: s.open, empty: true}

	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	if ts != 0 {
		w.key("@timestamp")
		w.b = appendTime(w.b, ts)
	}
	w.str(ECSVersion, "ecs", "version")

	// message: the error message of an error, else a text body.
	bodyUsed := false
	if v, ok := s.str(slErrMessage); ok {
		w.str(v, "message")
	} else if lr.Body().Type() == pcommon.ValueTypeStr {
		w.str(lr.Body().Str(), "message")
		bodyUsed = true
	}

	name := lr.EventName()
	cat := categorize(res, lr)
	w.str(cat.kind, "event", "kind")
	w.strs([]string{cat.category}, "event", "category")
	w.strs([]string{cat.typ}, "event", "type")
	if a := strings.TrimPrefix(name, auditrecord.EventNamePrefix); a != "" {
		w.str(a, "event", "action")
	}
	if name != "" {
		w.str(name, "event", "code")
	}
	if v, ok := s.str(slOutcome); ok {
		w.str(v, "event", "outcome")
	} else if name == "agent_audit.error" {
		w.str("failure", "event", "outcome")
	}
	w.slotStr(s, slEventID, "event", "id")
	if ots := lr.ObservedTimestamp(); ots != 0 {
		w.key("event", "created")
		w.b = appendTime(w.b, ots)
	}
	w.slotNum(s, slSequence, "event", "sequence")
	w.int(int64(Severity(res, lr)), "event", "severity")
	w.slotNum(s, slRiskScore, "event", "risk_score")
	w.str(ecsModule, "event", "module")
	w.str(ecsDataset, "event", "dataset")
	provider := ecsAgentType
	if !integrity.IsReservedEventName(name) {
		if v, ok := s.str(slAgentName); ok && v != "" {
			provider = v
		} else if v, ok := s.str(slAgentID); ok && v != "" {
			provider = v
		}
	}
	w.str(provider, "event", "provider")
	if v, ok := s.get(slDuration); ok {
		w.int(v.Int()*1e6, "event", "duration")
	}
	w.slotStr(s, slReason, "event", "reason")
	w.slotStr(s, slDigest, "event", "hash")

	if t := lr.SeverityText(); t != "" {
		w.str(t, "log", "level")
	}

	w.str(ecsAgentType, "agent", "type")
	if e.agent.Version != "" {
		w.str(e.agent.Version, "agent", "version")
	}
	if e.agent.ID != "" {
		w.str(e.agent.ID, "agent", "id")
	}
	if e.agent.Name != "" {
		w.str(e.agent.Name, "agent", "name")
	}

	w.slotStr(s, slAgentID, "gen_ai", "agent", "id")
	w.slotStr(s, slAgentName, "gen_ai", "agent", "name")
	w.slotStr(s, slAgentDesc, "gen_ai", "agent", "description")
	w.slotStr(s, slOperation, "gen_ai", "operation", "name")
	w.slotStr(s, slOutputType, "gen_ai", "output", "type")
	w.slotNum(s, slReqChoiceCount, "gen_ai", "request", "choice", "count")
	w.slotNum(s, slReqFreqPenalty, "gen_ai", "request", "frequency_penalty")
	w.slotNum(s, slReqMaxTokens, "gen_ai", "request", "max_tokens")
	w.slotStr(s, slReqModel, "gen_ai", "request", "model")
	w.slotNum(s, slReqPresPenalty, "gen_ai", "request", "presence_penalty")
	w.slotNum(s, slReqSeed, "gen_ai", "request", "seed")
	w.slotNum(s, slReqTemperature, "gen_ai", "request", "temperature")
	w.slotNum(s, slReqTopK, "gen_ai", "request", "top_k")
	w.slotNum(s, slReqTopP, "gen_ai", "request", "top_p")
	w.slotStr(s, slRespID, "gen_ai", "response", "id")
	w.slotStr(s, slRespModel, "gen_ai", "response", "model")
	w.slotStr(s, slSystem, "gen_ai", "system")
	w.slotStr(s, slToolCallID, "gen_ai", "tool", "call", "id")
	w.slotStr(s, slToolName, "gen_ai", "tool", "name")
	w.slotStr(s, slToolType, "gen_ai", "tool", "type")
	w.slotNum(s, slUsageIn, "gen_ai", "usage", "input_tokens")
	w.slotNum(s, slUsageOut, "gen_ai", "usage", "output_tokens")

	const (
		relUser = iota
		relHosts
		relIP
		relHash
	)
	addRel := func(i int, v string) {
		if v != "" && !slices.Contains(s.related[i], v) {
			s.related[i] = append(s.related[i], v)
		}
	}

	w.slotStr(s, slUserID, "user", "id")
	w.slotStr(s, slUserName, "user", "name")
	if v, ok := s.str(slUserName); ok {
		addRel(relUser, v)
	}
	if v, ok := s.str(slUserID); ok {
		addRel(relUser, v)
	}
	if v, ok := lookup(res, lr, "agent_audit.approver.id"); ok && v.Type() == pcommon.ValueTypeStr {
		addRel(relUser, v.Str())
	}

	w.slotStr(s, slHostID, "host", "id")
	w.slotStr(s, slHostName, "host", "name")
	if v, ok := s.str(slHostName); ok {
		addRel(relHosts, v)
	}

	if v, ok := s.get(slArgs); ok {
		args := v.Slice()
		w.key("process", "args")
		w.b = s.appendValue(w.b, v)
		w.int(int64(args.Len()), "process", "args_count")
	}
	w.slotStr(s, slCommandLine, "process", "command_line")
	w.slotStr(s, slExecutable, "process", "executable")
	w.slotNum(s, slExitCode, "process", "exit_code")
	if v, ok := s.str(slProcName); ok {
		w.str(v, "process", "name")
	} else if v, ok := s.str(slExecutable); ok {
		if _, base := splitPath(v); base != "" {
			w.str(base, "process", "name")
		}
	}
	w.slotNum(s, slPID, "process", "pid")
	w.slotStr(s, slWorkDir, "process", "working_directory")

	if p, ok := s.str(slFilePath); ok {
		dir, base := splitPath(p)
		if dir != "" {
			w.str(dir, "file", "directory")
		}
		if i := strings.LastIndexByte(base, '.'); i > 0 && i < len(base)-1 {
			w.str(base[i+1:], "file", "extension")
		}
	}
	if v, ok := s.str(slFileSHA256); ok {
		w.str(v, "file", "hash", "sha256")
		addRel(relHash, v)
	}
	if p, ok := s.str(slFilePath); ok {
		if _, base := splitPath(p); base != "" {
			w.str(base, "file", "name")
		}
		w.str(p, "file", "path")
	}
	w.slotNum(s, slFileSize, "file", "size")

	if u, ok := s.str(slURL); ok {
		var pu *url.URL
		if p, err := url.Parse(u); err == nil && p.Scheme != "" {
			pu = p
		}
		if pu != nil && pu.Hostname() != "" {
			h := pu.Hostname()
			if strings.IndexByte(h, ':') >= 0 {
				// ECS keeps the brackets of an IPv6 literal (RFC 2732).
				w.key("url", "domain")
				start := len(w.b)
				w.b = appendJSONString(w.b, h)
				w.b = slices.Insert(w.b, start+1, '[')
				w.b[len(w.b)-1] = ']'
				w.b = append(w.b, '"')
			} else {
				w.str(h, "url", "domain")
			}
			if ecsIP(h) {
				addRel(relIP, h)
			} else {
				addRel(relHosts, h)
			}
		}
		if pu != nil && pu.Fragment != "" {
			w.str(pu.Fragment, "url", "fragment")
		}
		w.str(u, "url", "full")
		w.str(u, "url", "original")
		if pu != nil {
			if p := pu.EscapedPath(); p != "" {
				w.str(p, "url", "path")
			}
			if pt := pu.Port(); pt != "" {
				if n, err := strconv.ParseUint(pt, 10, 16); err == nil {
					w.int(int64(n), "url", "port")
				}
			}
			if pu.RawQuery != "" {
				w.str(pu.RawQuery, "url", "query")
			}
			w.str(pu.Scheme, "url", "scheme")
		}
	}

	// server.* and destination.* both: ECS asks for source/destination on
	// network events, and server.* keeps the semantic-convention names.
	for _, set := range [...]string{"server", "destination"} {
		if v, ok := s.str(slServerAddr); ok {
			w.str(v, set, "address")
			if ecsIP(v) {
				w.str(v, set, "ip")
				addRel(relIP, v)
			} else if v != "" {
				w.str(v, set, "domain")
				addRel(relHosts, v)
			}
		}
		w.slotNum(s, slServerPort, set, "port")
	}

	w.slotStr(s, slHTTPMethod, "http", "request", "method")
	w.slotNum(s, slHTTPStatus, "http", "response", "status_code")
	// ECS wants the protocol in lowercase; a value with uppercase letters
	// keeps its case under the namespace instead (kLower).
	w.slotStr(s, slNetProto, "network", "protocol")
	w.slotStr(s, slErrMessage, "error", "message")
	w.slotStr(s, slErrType, "error", "type")
	w.slotStr(s, slRule, "rule", "name")

	if tid := lr.TraceID(); !tid.IsEmpty() {
		w.key("trace", "id")
		w.b = appendHexString(w.b, tid[:])
	}
	if sid := lr.SpanID(); !sid.IsEmpty() {
		w.key("span", "id")
		w.b = appendHexString(w.b, sid[:])
	}

	for i, k := range [...]string{"user", "hosts", "ip", "hash"} {
		if len(s.related[i]) > 0 {
			w.strs(s.related[i], "related", k)
		}
	}

	e.appendNamespace(&w, s, res, lr, bodyUsed)

	for range w.open {
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, '}')
	s.open = w.open[:0]
	dst = w.b
	s.reset()
	ecsPool.Put(s)
	return dst
}

// appendNamespace writes, under the namespace, everything of the record that
// no ECS field holds: record fields, then record attributes, then resource
// attributes (below "resource"), in that precedence. A key is the attribute
// name without the "agent_audit." prefix; its dots make nested objects.
func (e *ECS) appendNamespace(w *ecsWriter, s *ecsScratch, res pcommon.Resource, lr plog.LogRecord, bodyUsed bool) {
	if !bodyUsed && lr.Body().Type() != pcommon.ValueTypeEmpty {
		s.entries = append(s.entries, ecsEntry{key: "body", name: "body", source: "record", v: lr.Body()})
	}
	if n := lr.SeverityNumber(); n != 0 {
		s.entries = append(s.entries, ecsEntry{key: "severity_number", name: "severity_number", source: "record", num: int64(n), isNum: true})
	}
	if f := lr.Flags(); f != 0 {
		s.entries = append(s.entries, ecsEntry{key: "flags", name: "flags", source: "record", num: int64(f), isNum: true})
	}
	if n := lr.DroppedAttributesCount(); n != 0 {
		s.entries = append(s.entries, ecsEntry{key: "dropped_attributes_count", name: "dropped_attributes_count", source: "record", num: int64(n), isNum: true})
	}
	i := 0
	for k, v := range lr.Attributes().All() {
		if !s.recUsed[i] {
			key := validUTF8(strings.TrimPrefix(k, auditrecord.EventNamePrefix))
			if ecsValueKeys[key] {
				key += ".value"
			}
			s.entries = append(s.entries, ecsEntry{key: key, name: k, source: "attribute", v: v})
		}
		i++
	}
	i = 0
	for k, v := range res.Attributes().All() {
		if !s.resUsed[i] {
			key := "resource." + validUTF8(k)
			s.entries = append(s.entries, ecsEntry{key: key, name: k, source: "resource", v: v})
		}
		i++
	}
	if len(s.entries) == 0 {
		return
	}

	// Keep an entry unless its key has an empty segment (no valid field
	// name) or collides with a kept one: the same key, or one key a prefix
	// of the other (a value where an object is). Earlier entries win.
	for _, en := range s.entries {
		if s.claim(en.key) {
			s.kept = append(s.kept, en)
		} else {
			s.lost = append(s.lost, en)
		}
	}
	slices.SortFunc(s.kept, func(a, b ecsEntry) int { return strings.Compare(a.key, b.key) })
	// Strings that share a prefix are contiguous once sorted, so each
	// object opens once.
	for _, en := range s.kept {
		s.segs = append(s.segs[:0], e.ns)
		for rest := en.key; ; {
			seg, after, more := strings.Cut(rest, ".")
			s.segs = append(s.segs, seg)
			if !more {
				break
			}
			rest = after
		}
		w.key(s.segs...)
		w.b = s.appendEntry(w.b, en)
	}
	if len(s.lost) == 0 {
		return
	}
	// Entries that could not be placed are listed with their names as
	// values, under the first of _conflicts, _conflicts_2, ... that no kept
	// key starts with.
	ck := "_conflicts"
	for n := 2; s.taken(ck); n++ {
		ck = "_conflicts_" + strconv.Itoa(n)
	}
	w.key(e.ns, ck)
	w.b = append(w.b, '[')
	for j, en := range s.lost {
		if j > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `{"name":`...)
		w.b = appendJSONString(w.b, en.name)
		w.b = append(w.b, `,"source":`...)
		w.b = appendJSONString(w.b, en.source)
		w.b = append(w.b, `,"value":`...)
		w.b = s.appendEntry(w.b, en)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ']')
}

func (s *ecsScratch) taken(k string) bool {
	_, ok := s.paths[k]
	return ok
}

// claim records key as a kept leaf and reports true, or reports false when
// it cannot be placed.
func (s *ecsScratch) claim(key string) bool {
	// Check first, then record: a refused key leaves no trace.
	for rest, off := key, 0; ; {
		i := strings.IndexByte(rest, '.')
		if i == 0 || rest == "" {
			return false // empty segment
		}
		if i < 0 {
			if _, ok := s.paths[key]; ok {
				return false
			}
			break
		}
		if leaf := s.paths[key[:off+i]]; leaf {
			return false
		}
		off += i + 1
		rest = rest[i+1:]
	}
	for off := 0; ; {
		i := strings.IndexByte(key[off:], '.')
		if i < 0 {
			break
		}
		s.paths[key[:off+i]] = false
		off += i + 1
	}
	s.paths[key] = true
	return true
}

func (s *ecsScratch) appendEntry(b []byte, en ecsEntry) []byte {
	if en.isNum {
		return strconv.AppendInt(b, en.num, 10)
	}
	return s.appendValue(b, en.v)
}

// splitPath splits a file path at its last '/' or '\' (agents run on Windows
// too). dir is "" when the path has no separator; a root stays a root.
func splitPath(p string) (dir, base string) {
	i := strings.LastIndexAny(p, `/\`)
	if i < 0 {
		return "", p
	}
	dir = p[:i]
	if i == 0 {
		dir = p[:1]
	}
	return dir, p[i+1:]
}

// validUTF8 replaces each byte of invalid UTF-8 by U+FFFD, as
// appendJSONString does, so that a key is compared as it is written.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// ecsIP reports whether s is an address an ECS ip field accepts (no IPv6
// zone).
func ecsIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

func appendHexString(b []byte, id []byte) []byte {
	b = append(b, '"')
	for _, c := range id {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}
