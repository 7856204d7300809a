package scrubprocessor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/pkg/secrets"
	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor/internal/metadata"
)

// pseudonymBytes: how much of the HMAC a pseudonym shows. 128 bits keep
// distinct secrets apart; the full digest is for content, where an auditor
// may want to recompute it.
const pseudonymBytes = 16

// contentMarker starts every content digest; a value that already is one is
// left alone, so scrubbing twice (agent, then gateway) changes nothing.
const contentMarker = "[HMAC:content:"

type scrubber struct {
	cfg    *Config
	det    *secrets.Detector
	logger *zap.Logger
	tb     *metadata.TelemetryBuilder

	key   []byte
	keyID string
	hmacs sync.Pool // hash.Hash keyed with key

	actions       map[string]Action // every finding type -> its action
	metricOpts    map[string]metric.AddOption
	contentEvents map[string]bool
	contentAttrs  map[string]bool
	keepRaw       map[string]bool
	allowKeys     map[string]bool // lower case
	scratch       sync.Pool       // *pass
}

func newScrubber(cfg *Config, set processor.Settings) (*scrubber, error) {
	det, err := secrets.New(cfg.detectorOptions())
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	s := &scrubber{
		cfg: cfg, det: det, logger: set.Logger, tb: tb,
		keyID:         cfg.HMAC.KeyID,
		actions:       map[string]Action{},
		metricOpts:    map[string]metric.AddOption{},
		contentEvents: setOf(cfg.Content.BodyOfEvents, false),
		contentAttrs:  setOf(cfg.Content.Attributes, false),
		keepRaw:       setOf(cfg.Content.KeepRawEvents, false),
		allowKeys:     setOf(cfg.Allow.Keys, true),
	}
	if s.keyID == "" {
		s.keyID = defaultKeyID
	}
	if cfg.Content.Action != ContentHMAC {
		s.contentEvents, s.contentAttrs = nil, nil
	}
	for _, t := range secrets.Types() {
		a := cfg.actionFor(t.ID)
		s.actions[t.ID] = a
		s.metricOpts[t.ID] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("finding_type", t.ID), attribute.String("action", string(a))))
	}
	if cfg.needsKey() || cfg.HMAC.KeyFile != "" || cfg.HMAC.KeyEnv != "" {
		if s.key, err = loadKey(cfg.HMAC); err != nil {
			tb.Shutdown()
			return nil, err
		}
		key := s.key
		s.hmacs.New = func() any { return hmac.New(sha256.New, key) }
	}
	s.scratch.New = func() any { return &pass{counts: map[string]int{}} }
	return s, nil
}

func setOf(names []string, fold bool) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		if fold {
			n = strings.ToLower(n)
		}
		m[n] = true
	}
	return m
}

// pass is the scratch state of one record (and, while walking a resource or
// scope, of that level).
type pass struct {
	findings []secrets.Finding
	buf      []byte
	counts   map[string]int // finding type -> count, for the report
	found    int            // findings so far in this batch; differences count a value's
	worst    Action         // strongest action met in the current value
	bytes    int64
	// totals for metrics over the whole batch
	batchCounts map[string]int
}

func (p *pass) resetRecord() {
	clear(p.counts)
	p.worst = ""
}

// processLogs scrubs every record in place and removes dropped ones.
func (s *scrubber) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	p := s.scratch.Get().(*pass)
	defer s.scratch.Put(p)
	if p.batchCounts == nil {
		p.batchCounts = map[string]int{}
	}
	clear(p.batchCounts)
	p.bytes = 0
	var scrubbed, dropped, attrsDropped, digested, chainedAltered int64

	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		var inherited map[string]int // resource and scope findings, reported on each record
		if s.cfg.ResourceAttributes {
			p.resetRecord()
			n := s.scrubMap(p, rl.Resource().Attributes(), true, &attrsDropped)
			if p.worst == ActionDropRecord {
				dropped += int64(countRecords(rl))
				s.logDrop("resource", p.counts)
				return true
			}
			if n > 0 {
				inherited = cloneCounts(p.counts)
			}
		}
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			scopeCounts := inherited
			if s.cfg.ScopeAttributes {
				p.resetRecord()
				n := s.scrubMap(p, sl.Scope().Attributes(), true, &attrsDropped)
				if p.worst == ActionDropRecord {
					dropped += int64(sl.LogRecords().Len())
					s.logDrop("scope", p.counts)
					return true
				}
				if n > 0 {
					scopeCounts = mergeCounts(cloneCounts(inherited), p.counts)
				}
			}
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				if integrity.IsReservedEventName(lr.EventName()) {
					return false // checkpoints, key announcements: signatures, not secrets
				}
				// A record an upstream collector chained was scrubbed there
				// and is committed: an honest agent's record holds nothing
				// to find, and its content stays as the agent left it. One
				// that still holds a secret (an agent configured more
				// loosely, or a forged chain attribute) is scrubbed all the
				// same: a secret must not reach the archive, and the broken
				// link then shows in verification where it happened.
				_, chained := lr.Attributes().Get(integrity.AttrLogID)
				p.resetRecord()
				if !chained {
					digested += s.digestContent(p, lr)
				}
				n := s.scrubBody(p, lr, &attrsDropped)
				if p.worst != ActionDropRecord {
					n += s.scrubMap(p, lr.Attributes(), true, &attrsDropped)
				}
				if p.worst == ActionDropRecord {
					dropped++
					s.logDrop(lr.EventName(), p.counts)
					return true
				}
				if n > 0 || len(scopeCounts) > 0 {
					mergeCounts(p.counts, scopeCounts)
					// A chained record changes as well when only its resource
					// or scope held a finding: both are part of its canonical
					// form, and so is the report.
					if chained {
						chainedAltered++
						s.logger.Warn("Scrubbed a record that an upstream collector had already chained; its chain link will not verify",
							zap.String("event_name", lr.EventName()), zap.Strings("finding_types", sortedTypes(p.counts)))
					}
					s.report(lr.Attributes(), p.counts)
					scrubbed++
				}
				return false
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})

	for typ, n := range p.batchCounts {
		s.tb.ProcessorScrubFindings.Add(ctx, int64(n), s.metricOpts[typ])
	}
	if scrubbed > 0 {
		s.tb.ProcessorScrubRecordsScrubbed.Add(ctx, scrubbed)
	}
	if dropped > 0 {
		s.tb.ProcessorScrubRecordsDropped.Add(ctx, dropped)
	}
	if attrsDropped > 0 {
		s.tb.ProcessorScrubAttributesDropped.Add(ctx, attrsDropped)
	}
	if digested > 0 {
		s.tb.ProcessorScrubContentDigested.Add(ctx, digested)
	}
	if chainedAltered > 0 {
		s.tb.ProcessorScrubChainedRecordsAltered.Add(ctx, chainedAltered)
	}
	s.tb.ProcessorScrubBytesScanned.Add(ctx, p.bytes)
	if ld.ResourceLogs().Len() == 0 {
		return ld, processorhelper.ErrSkipProcessingData
	}
	return ld, nil
}

func countRecords(rl plog.ResourceLogs) int {
	n := 0
	for _, sl := range rl.ScopeLogs().All() {
		n += sl.LogRecords().Len()
	}
	return n
}

func cloneCounts(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func mergeCounts(dst, src map[string]int) map[string]int {
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// logDrop says that records were dropped and why (types only, never values):
// a dropped record leaves no trace in the trail, so the log and the
// records_dropped metric are where it shows.
func (s *scrubber) logDrop(where string, counts map[string]int) {
	s.logger.Warn("Dropped records holding a secret whose action is drop_record",
		zap.String("where", where), zap.Strings("finding_types", sortedTypes(counts)))
}

func sortedTypes(counts map[string]int) []string {
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// report writes the per-record finding counts, adding to a report an
// upstream scrubber (an agent before this gateway) already wrote.
func (s *scrubber) report(attrs pcommon.Map, counts map[string]int) {
	// Only a report is added to; anything else a client sent under this
	// name (scanned above like any attribute) is replaced, so the report
	// holds finding types and counts and nothing else.
	v, ok := attrs.Get(s.cfg.ReportAttribute)
	var m pcommon.Map
	if ok && isReport(v) {
		m = v.Map()
	} else {
		m = attrs.PutEmptyMap(s.cfg.ReportAttribute)
	}
	for _, t := range sortedTypes(counts) {
		n := int64(counts[t])
		if old, ok := m.Get(t); ok && old.Type() == pcommon.ValueTypeInt {
			n += old.Int()
		}
		m.PutInt(t, n)
	}
}

// digestContent replaces Tier 2 content by its keyed digest and returns how
// many values it replaced.
func (s *scrubber) digestContent(p *pass, lr plog.LogRecord) int64 {
	if s.contentEvents == nil || s.keepRaw[lr.EventName()] {
		return 0
	}
	var n int64
	if s.contentEvents[lr.EventName()] && s.digestValue(p, lr.Body()) {
		n++
	}
	if len(s.contentAttrs) > 0 {
		for k, v := range lr.Attributes().All() {
			if s.contentAttrs[k] && s.digestValue(p, v) {
				n++
			}
		}
	}
	return n
}

// digestValue turns v into [HMAC:content:<key id>:<hex HMAC-SHA256>] over
// its UTF-8 text (a string) or its canonical form (anything else; see
// integrity.AppendCanonical). Empty values and existing digests stay.
func (s *scrubber) digestValue(p *pass, v pcommon.Value) bool {
	var data []byte
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return false
	case pcommon.ValueTypeStr:
		str := v.Str()
		if str == "" || s.isOwnDigest(str) {
			return false
		}
		p.buf = append(p.buf[:0], str...)
	default:
		p.buf = integrity.AppendCanonicalValue(p.buf[:0], v)
	}
	data = p.buf
	h := s.hmacs.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.hmacs.Put(h)
	v.SetStr(contentMarker + s.keyID + ":" + hex.EncodeToString(sum[:]) + "]")
	return true
}

// scrubBody scans the body. A string body is text; a map body is walked
// like attributes. drop_attribute on a body finding empties the body.
func (s *scrubber) scrubBody(p *pass, lr plog.LogRecord, attrsDropped *int64) int {
	body := lr.Body()
	if body.Type() == pcommon.ValueTypeStr && s.isOwnDigest(body.Str()) {
		return 0
	}
	total := p.found
	if s.scrubValue(p, "", body) == ActionDropAttribute {
		pcommon.NewValueEmpty().CopyTo(body)
		*attrsDropped++
	}
	return p.found - total
}

// isContentDigest: is str exactly a digest this processor writes? Only then
// is it left alone: a value that merely starts like one is scanned (and
// digested) like any other.
func isContentDigest(str string) bool {
	rest, ok := strings.CutPrefix(str, contentMarker)
	if !ok || len(rest) < 2+2*sha256.Size || rest[len(rest)-1] != ']' {
		return false
	}
	id, digest, ok := strings.Cut(rest[:len(rest)-1], ":")
	if !ok || !keyIDPattern.MatchString(id) || len(digest) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(digest); i++ {
		if c := digest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isOwnDigest: is str exactly a digest under this processor's key id? Only
// such a value is left alone. The key id is the one free text of a digest:
// [HMAC:content:<any 32 characters>:...] could carry a secret (an AWS key id,
// a Stripe key) past the scan, so a digest under another key id is content
// like any other (digested again) and is scanned.
func (s *scrubber) isOwnDigest(str string) bool {
	return strings.HasPrefix(str, contentMarker+s.keyID+":") && isContentDigest(str)
}

// scrubMap scans every entry of m (top: m is a record, resource or scope
// attribute map, where drop_attribute removes the entry) and returns the
// number of findings.
func (s *scrubber) scrubMap(p *pass, m pcommon.Map, top bool, attrsDropped *int64) int {
	total := p.found
	var drop []string
	var renames []string
	for k, v := range m.All() {
		// The integrity attributes are scanned too: any client can set
		// them, and the chain processor passes a record that carries
		// audit.log.id on as it is. An honest value (hex, ints, a log id)
		// holds nothing to find.
		if top && k == s.cfg.ReportAttribute && isReport(v) {
			continue
		}
		if len(s.allowKeys) > 0 && s.allowKeys[strings.ToLower(k)] {
			continue
		}
		// A key can itself be a secret ({"ghp_...": true}): the key is then
		// replaced, the only case where a key changes.
		worst := Action("")
		keyIsText := s.scanValue(p, "", k)
		if keyIsText {
			worst = s.worstOf(p.findings)
			renames = append(renames, k)
		}
		if v.Type() == pcommon.ValueTypeStr && s.isOwnDigest(v.Str()) {
			// digested content: no text left to scan (its key was scanned)
		} else if a := s.scrubValue(p, valueKey(m, k, keyIsText), v); a.severity() > worst.severity() {
			worst = a
		}
		if worst.severity() > p.worst.severity() {
			p.worst = worst
		}
		if top && worst == ActionDropAttribute {
			drop = append(drop, k)
		}
		if p.worst == ActionDropRecord {
			return p.found - total
		}
	}
	if len(drop) > 0 {
		dropSet := setOf(drop, false)
		m.RemoveIf(func(k string, _ pcommon.Value) bool { return dropSet[k] })
		*attrsDropped += int64(len(drop))
	}
	s.renameKeys(p, m, renames)
	return p.found - total
}

// valueKey is the key the value of m's entry k is scanned under: k, except
// for the value field of a name/value pair, which is scanned under the name
// it pairs with: {"name": "DB_PASSWORD", "value": "x"} in Kubernetes and
// ECS environment lists (the detector reads the same shape in text).
//
// A key that holds a finding, or a marker of one, is text rather than a
// name ({"PASS=x": ...}), and its value is scanned without key context:
// otherwise the marker's own words (password_assignment) would name the
// value a secret on a second pass, and scrubbing would not be idempotent.
func valueKey(m pcommon.Map, k string, keyIsText bool) string {
	if keyIsText || hasMarker(k) {
		return ""
	}
	if !strings.EqualFold(k, "value") {
		return k
	}
	for nk, nv := range m.All() {
		if strings.EqualFold(nk, "name") && nv.Type() == pcommon.ValueTypeStr && nv.Str() != "" {
			if hasMarker(nv.Str()) {
				return ""
			}
			return nv.Str()
		}
	}
	return k
}

func hasMarker(s string) bool {
	return strings.Contains(s, "[REDACTED:") || strings.Contains(s, "[HMAC:")
}

// isReport: is v a finding report (finding type id -> count), as this
// processor or an upstream one writes it? Only then is the report attribute
// left alone: anything else under its name (a string, a map with other
// keys or values, which any OTLP client can send) is scanned like any other
// attribute, and replaced by the report when it held a finding.
// A count is a non-negative int below maxReportCount: a longer number could
// be a card number or an SSN, and a report is not scanned.
func isReport(v pcommon.Value) bool {
	if v.Type() != pcommon.ValueTypeMap {
		return false
	}
	for k, n := range v.Map().All() {
		if n.Type() != pcommon.ValueTypeInt || n.Int() < 0 || n.Int() >= maxReportCount || secrets.TypeClass(k) == "" {
			return false
		}
	}
	return true
}

// maxReportCount bounds a count in a report: 8 digits at most, shorter than
// any number the detector reports (a 9-digit SSN, a card of 13 or more).
const maxReportCount = 100_000_000

// scrubValue scans v (recursively) under the map key key, applies mask and
// hmac in place and returns the strongest action met inside v (drop
// actions are left to the caller: the top-level attribute or the record).
func (s *scrubber) scrubValue(p *pass, key string, v pcommon.Value) Action {
	var worst Action
	// note records a in worst and in p.worst at once: the returns below
	// that cut a walk short (drop_record) must not lose it.
	note := func(a Action) {
		if a.severity() > worst.severity() {
			worst = a
		}
		if a.severity() > p.worst.severity() {
			p.worst = a
		}
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		str := v.Str()
		if s.scanValue(p, key, str) {
			note(s.worstOf(p.findings))
			if worst.severity() < ActionDropAttribute.severity() {
				v.SetStr(s.replace(p, str))
			}
		}
	case pcommon.ValueTypeInt, pcommon.ValueTypeDouble:
		// Card numbers and phone numbers arrive as JSON numbers too (as
		// doubles from JSON parsers). A hit turns the value into its masked
		// string: the only type change.
		var str string
		if v.Type() == pcommon.ValueTypeInt {
			str = strconv.FormatInt(v.Int(), 10)
		} else if f := v.Double(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			str = strconv.FormatFloat(f, 'f', -1, 64)
		}
		if s.scanValue(p, key, str) {
			note(s.worstOf(p.findings))
			if worst.severity() < ActionDropAttribute.severity() {
				v.SetStr(s.replace(p, str))
			}
		}
	case pcommon.ValueTypeBytes:
		// Valid UTF-8 is text: a hit makes it the masked string. Other
		// bytes (a binary dump with text in it) are scanned all the same
		// and stay bytes.
		b := v.Bytes().AsRaw()
		str := string(b)
		if s.scanValue(p, key, str) {
			note(s.worstOf(p.findings))
			if worst.severity() < ActionDropAttribute.severity() {
				if utf8.Valid(b) {
					v.SetStr(s.replace(p, str))
				} else {
					v.SetEmptyBytes().FromRaw([]byte(s.replace(p, str)))
				}
			}
		}
	case pcommon.ValueTypeMap:
		m := v.Map()
		var renames []string
		for k, e := range m.All() {
			if len(s.allowKeys) > 0 && s.allowKeys[strings.ToLower(k)] {
				continue
			}
			keyIsText := s.scanValue(p, "", k)
			if keyIsText {
				note(s.worstOf(p.findings))
				renames = append(renames, k)
			}
			note(s.scrubValue(p, valueKey(m, k, keyIsText), e))
			if worst == ActionDropRecord {
				return worst
			}
		}
		if worst.severity() < ActionDropAttribute.severity() {
			s.renameKeys(p, m, renames)
		}
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			note(s.scrubValue(p, key, e))
			if worst == ActionDropRecord {
				return worst
			}
		}
	}
	return worst
}

// scanValue finds secrets in str, a value under key (key names a secret:
// the whole value is one), counts them and leaves them in p.findings.
func (s *scrubber) scanValue(p *pass, key, str string) bool {
	if str == "" {
		return false
	}
	p.bytes += int64(len(str))
	if key == "" {
		p.findings = s.det.Find(str, p.findings[:0])
	} else {
		p.findings = s.det.FindValue(key, str, p.findings[:0])
	}
	for _, f := range p.findings {
		p.counts[f.Type]++
		p.found++
		p.batchCounts[f.Type]++
	}
	return len(p.findings) > 0
}

// renameKeys replaces the secret in each of keys (keys of m that hold one).
// The findings are found again: p.findings belongs to the last value. A new
// key never replaces an entry: two keys that mask alike ({"AKIA...1": x,
// "AKIA...2": y}) become [REDACTED:aws_access_key_id] and
// [REDACTED:aws_access_key_id]#2.
func (s *scrubber) renameKeys(p *pass, m pcommon.Map, keys []string) {
	for _, k := range keys {
		v, ok := m.Get(k)
		if !ok {
			continue // dropped
		}
		p.findings = s.det.Find(k, p.findings[:0])
		moved := pcommon.NewValueEmpty()
		v.CopyTo(moved)
		m.Remove(k)
		nk := s.replace(p, k)
		if _, taken := m.Get(nk); taken {
			for i := 2; ; i++ {
				if _, taken = m.Get(nk + "#" + strconv.Itoa(i)); !taken {
					nk += "#" + strconv.Itoa(i)
					break
				}
			}
		}
		moved.CopyTo(m.PutEmpty(nk))
	}
}

func (s *scrubber) worstOf(fs []secrets.Finding) Action {
	var worst Action
	for _, f := range fs {
		if a := s.actions[f.Type]; a.severity() > worst.severity() {
			worst = a
		}
	}
	return worst
}

// replace rewrites str with every finding in p.findings masked or
// pseudonymised by its action.
func (s *scrubber) replace(p *pass, str string) string {
	var b strings.Builder
	b.Grow(len(str) + 16*len(p.findings))
	last := 0
	for _, f := range p.findings {
		b.WriteString(str[last:f.Start])
		if s.actions[f.Type] == ActionHMAC {
			b.WriteString(s.pseudonym(f.Type, str[f.Start:f.End]))
		} else {
			b.WriteString("[REDACTED:")
			b.WriteString(f.Type)
			b.WriteByte(']')
		}
		last = f.End
	}
	b.WriteString(str[last:])
	return b.String()
}

// pseudonym: [HMAC:<type>:<key id>:<first 16 bytes of HMAC-SHA256(key,
// secret), hex>]. The same secret under the same key always gives the same
// pseudonym, so analysts can correlate without seeing it.
func (s *scrubber) pseudonym(typ, secret string) string {
	h := s.hmacs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(secret))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.hmacs.Put(h)
	return "[HMAC:" + typ + ":" + s.keyID + ":" + hex.EncodeToString(sum[:pseudonymBytes]) + "]"
}
