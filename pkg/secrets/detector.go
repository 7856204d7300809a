package secrets

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Finding is one secret or piece of PII in a text: the byte range
// text[Start:End] and its type id (see Types). Ranges lie on UTF-8 rune
// boundaries.
type Finding struct {
	Start, End int
	Type       string
}

// Class returns the class of the finding's type.
func (f Finding) Class() Class { return TypeClass(f.Type) }

// Options configure a Detector. The zero value reports every type of every
// class, with no allowlist.
type Options struct {
	// DisabledClasses are not reported. Any class may be listed, including
	// ClassSecret (for a PII-only detector). Default: none, every class on.
	DisabledClasses []Class
	// DisabledTypes are type ids that are not reported.
	DisabledTypes []string
	// AllowValues are exact strings never reported: a finding whose text
	// equals one of them is dropped.
	AllowValues []string
	// AllowPatterns are RE2 regular expressions; a finding whose whole text
	// matches one (the pattern is anchored at both ends) is dropped.
	AllowPatterns []string
	// AllowKeys are key names (compared case-insensitively) never treated as
	// naming a secret, by IsSecretKey, FindValue and the key-value rules of Find.
	AllowKeys []string
}

// Detector finds secrets and PII in text. It is safe for concurrent use.
type Detector struct {
	rules    []*rule
	ac       *ac
	patRules [][]int // AC pattern -> rule indexes

	disabledType []bool // by type index
	pii          bool   // any PII class enabled (the digit pass)
	email, card  bool
	iban, ssn    bool
	phone        bool

	allowValues map[string]struct{}
	allowRE     []*regexp.Regexp
	allowKeys   map[string]struct{}

	pool sync.Pool
}

// New builds a Detector.
func New(opts Options) (*Detector, error) {
	d := &Detector{disabledType: make([]bool, len(typeDefs))}
	known := map[Class]bool{}
	for _, c := range Classes() {
		known[c] = true
	}
	disabledClass := map[Class]bool{}
	for _, c := range opts.DisabledClasses {
		if !known[c] {
			return nil, fmt.Errorf("secrets: unknown class %q", c)
		}
		disabledClass[c] = true
	}
	for i, t := range typeDefs {
		if disabledClass[t.Class] {
			d.disabledType[i] = true
		}
	}
	for _, id := range opts.DisabledTypes {
		i, ok := typeIndex[id]
		if !ok {
			return nil, fmt.Errorf("secrets: unknown type %q", id)
		}
		d.disabledType[i] = true
	}
	on := func(id string) bool { return !d.disabledType[typeIndex[id]] }
	d.email, d.card, d.iban, d.ssn, d.phone = on(tEmail), on(tCard), on(tIBAN), on(tSSN), on(tPhone)
	d.pii = d.card || d.iban || d.ssn || d.phone

	if len(opts.AllowValues) > 0 {
		d.allowValues = make(map[string]struct{}, len(opts.AllowValues))
		for _, v := range opts.AllowValues {
			d.allowValues[v] = struct{}{}
		}
	}
	for _, p := range opts.AllowPatterns {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return nil, fmt.Errorf("secrets: allow pattern %q: %w", p, err)
		}
		d.allowRE = append(d.allowRE, re)
	}
	if len(opts.AllowKeys) > 0 {
		d.allowKeys = make(map[string]struct{}, len(opts.AllowKeys))
		for _, k := range opts.AllowKeys {
			d.allowKeys[strings.ToLower(k)] = struct{}{}
		}
	}

	// Rules: only those that can report an enabled type.
	var patterns []string
	patIndex := map[string]int{}
	for _, r := range allRules() {
		enabled := false
		for _, t := range r.types {
			if !d.disabledType[typeIndex[t]] {
				enabled = true
			}
		}
		if !enabled {
			continue
		}
		ri := len(d.rules)
		d.rules = append(d.rules, r)
		for _, a := range r.anchors {
			a = strings.ToLower(a)
			pi, ok := patIndex[a]
			if !ok {
				pi = len(patterns)
				patIndex[a] = pi
				patterns = append(patterns, a)
				d.patRules = append(d.patRules, nil)
			}
			d.patRules[pi] = append(d.patRules[pi], ri)
		}
	}
	d.ac = buildAC(patterns)
	d.pool.New = func() any { return &scan{} }
	return d, nil
}

// cand is a candidate finding before overlap resolution.
type cand struct {
	start, end int
	typ        int // type index
}

// scan is the per-call scratch state, pooled.
type scan struct {
	d     *Detector
	text  string
	cands []cand
	// done[rule] is the end of that rule's last candidate: later anchor hits
	// inside it are not re-examined.
	done []int
	// keyStart/keyEnd: the last key the assignment rule examined.
	keyStart, keyEnd int
	// skip: set by a rule that knows none of its later anchor hits before
	// this offset can match (keeps pathological inputs linear).
	skip int
	// brackets: the text has a '[', so it may hold scrubber markers.
	brackets bool
}

func (s *scan) add(start, end int, typ string) {
	if start < 0 || end > len(s.text) || start >= end {
		return
	}
	ti := typeIndex[typ]
	if s.d.disabledType[ti] {
		return
	}
	s.cands = append(s.cands, cand{start, end, ti})
}

// Find appends to dst the findings in text, sorted by Start, not
// overlapping, and returns the extended slice.
func (d *Detector) Find(text string, dst []Finding) []Finding {
	if len(text) == 0 {
		return dst
	}
	s := d.pool.Get().(*scan)
	s.reset(d, text)
	d.scanAnchors(s)
	if d.pii {
		d.scanDigits(s)
	}
	dst = d.resolve(s, dst)
	s.text = ""
	d.pool.Put(s)
	return dst
}

func (s *scan) reset(d *Detector, text string) {
	s.d = d
	s.text = text
	s.cands = s.cands[:0]
	if cap(s.done) < len(d.rules) {
		s.done = make([]int, len(d.rules))
	}
	s.done = s.done[:len(d.rules)]
	clear(s.done)
	s.keyStart, s.keyEnd = -1, -1
	s.brackets = strings.IndexByte(text, '[') >= 0
}

// scanAnchors runs the automaton once over text and calls the rules of every
// anchor that occurs.
func (d *Detector) scanAnchors(s *scan) {
	a := d.ac
	delta, tri, nc := a.delta, a.tri, a.nclass
	class, c1, c2 := &a.class, &a.c1, &a.c2
	text := s.text
	n := len(text)
	var st uint32
	for i := 0; i < n; i++ {
		if st == 0 {
			// At the root: skip positions where no anchor starts.
			for i+2 < n {
				k := c1[text[i]] + c2[text[i+1]] + uint32(class[text[i+2]])
				if tri[k>>6]&(1<<(k&63)) != 0 {
					break
				}
				i++
			}
		}
		st = delta[st+uint32(class[text[i]])]
		if st&acHit != 0 {
			st &^= acHit
			d.hit(s, int(st/nc), i+1)
		}
	}
}

func (d *Detector) hit(s *scan, state, end int) {
	for _, pi := range d.ac.out[state] {
		start := end - d.ac.plen[pi]
		if s.brackets && insideMarker(s.text, start, end) {
			continue // "secret_access_key" in [REDACTED:aws_secret_access_key] is not a key word
		}
		for _, ri := range d.patRules[pi] {
			if start < s.done[ri] {
				continue
			}
			n := len(s.cands)
			s.skip = 0
			d.rules[ri].match(s, start, end)
			if len(s.cands) > n {
				s.done[ri] = s.cands[len(s.cands)-1].end
			}
			if s.skip > s.done[ri] {
				s.done[ri] = s.skip
			}
		}
	}
}

// resolve drops allowlisted candidates, merges overlapping ones (the merged
// finding covers their union and takes the type of the highest priority
// candidate: a redaction never leaves part of a secret behind) and appends
// the result to dst.
func (d *Detector) resolve(s *scan, dst []Finding) []Finding {
	c := s.cands
	if len(c) == 0 {
		return dst
	}
	// Allowlist, on the candidate's own text.
	if d.allowValues != nil || d.allowRE != nil {
		k := 0
		for _, x := range c {
			if !d.allowed(s.text[x.start:x.end]) {
				c[k] = x
				k++
			}
		}
		c = c[:k]
		if len(c) == 0 {
			return dst
		}
	}
	// A candidate that touches a marker a scrubber wrote ([REDACTED:type],
	// [HMAC:type:key:digest]) is judged on text the scrubber made: the marker
	// read as a value (mysql -p[REDACTED:cli_password] stops at ']'), a
	// value made random-looking by a marker inside it, or text glued to the
	// finding the marker replaced, which its rule refused when the finding
	// was still there. The first scrub decided on the original text;
	// scrubbing its output again must change nothing.
	k := 0
	for _, x := range c {
		if s.brackets && touchesMarker(s.text, x.start, x.end) {
			continue
		}
		c[k] = x
		k++
	}
	c = c[:k]
	if len(c) == 0 {
		return dst
	}
	for i := range c {
		c[i].start, c[i].end = snapToRunes(s.text, c[i].start, c[i].end)
	}
	slices.SortFunc(c, func(a, b cand) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	cur := c[0]
	curLen := cur.end - cur.start
	for _, x := range c[1:] {
		if x.start < cur.end {
			px, pc := typeDefs[x.typ].prio, typeDefs[cur.typ].prio
			if px > pc || (px == pc && x.end-x.start > curLen) {
				cur.typ = x.typ
				curLen = x.end - x.start
			}
			if x.end > cur.end {
				cur.end = x.end
			}
			continue
		}
		dst = append(dst, Finding{cur.start, cur.end, typeDefs[cur.typ].ID})
		cur = x
		curLen = x.end - x.start
	}
	dst = append(dst, Finding{cur.start, cur.end, typeDefs[cur.typ].ID})
	return dst
}

// touchesMarker: does [a, b) start inside a marker, hold one, or sit right
// before or after one?
func touchesMarker(t string, a, b int) bool {
	if insideMarker(t, a, b) || followsMarker(t, a) {
		return true
	}
	for i := a; i <= b && i < len(t); i++ {
		if t[i] == '[' && markerEnd(t, i) > 0 {
			return true
		}
	}
	return false
}

// insideMarker: does [a, b) start within a marker? Such a candidate is the
// marker read as (part of) a value, e.g. the "password" of
// https://[REDACTED:url_token],@ runs from inside the marker to the ','.
// A secret after a marker is a candidate of its own, starting after it.
func insideMarker(t string, a, _ int) bool {
	for i := min(a, len(t)-1); i >= 0 && a-i < 256; i-- {
		switch t[i] {
		case '[':
			return markerEnd(t, i) > a
		case ']', ' ', '\t', '\n', '\r':
			if i < a {
				return false
			}
		}
	}
	return false
}

// followsMarker: does a candidate at a start right where a marker ends? The
// marker replaced a finding, and text glued to a finding was glued to it in
// the original too, where the candidate's rule saw a word character and
// refused it ("0@0.AA%@0.AA": the second address is glued to the first).
// The same holds for a candidate that ends right where a marker starts.
func followsMarker(t string, a int) bool {
	if a == 0 || t[a-1] != ']' {
		return false
	}
	for i := a - 2; i >= 0 && a-i < 256; i-- {
		if t[i] == '[' {
			return markerEnd(t, i) == a
		}
	}
	return false
}

// markerEnd returns the end of the marker starting at t[i], exactly as the
// scrub processor writes them, or 0: [REDACTED:<type>] and
// [HMAC:<type or content>:<key id>:<32 or 64 hex>]. Only these exact shapes
// count, so a secret cannot hide inside something that merely looks like a
// marker ([X:ghp_...] is scanned like any text).
func markerEnd(t string, i int) int {
	rest := t[i:]
	run := func(j int, ok func(byte) bool) int {
		for j < len(rest) && j < 256 && ok(rest[j]) {
			j++
		}
		return j
	}
	typeChar := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' }
	known := func(id string) bool { _, ok := typeIndex[id]; return ok }
	switch {
	case strings.HasPrefix(rest, "[REDACTED:"):
		j := len("[REDACTED:")
		e := run(j, typeChar)
		if e < len(rest) && rest[e] == ']' && known(rest[j:e]) {
			return i + e + 1
		}
	case strings.HasPrefix(rest, "[HMAC:"):
		j := len("[HMAC:")
		e := run(j, typeChar)
		if e >= len(rest) || rest[e] != ':' || !(rest[j:e] == "content" || known(rest[j:e])) {
			return 0
		}
		j = e + 1
		e = run(j, func(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' })
		if e == j || e-j > 32 || e >= len(rest) || rest[e] != ':' {
			return 0
		}
		j = e + 1
		e = run(j, func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' })
		if (e-j == 32 || e-j == 64) && e < len(rest) && rest[e] == ']' {
			return i + e + 1
		}
	}
	return 0
}

func (d *Detector) allowed(v string) bool {
	if _, ok := d.allowValues[v]; ok {
		return true
	}
	for _, re := range d.allowRE {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// rule is one detector: the literal anchors that trigger it and the function
// that examines the text around an anchor occurrence at [start, end).
type rule struct {
	name    string
	anchors []string
	types   []string // the types it can report (rules with none enabled are skipped)
	match   func(s *scan, start, end int)
}

var (
	rulesOnce sync.Once
	rulesAll  []*rule
)

func allRules() []*rule {
	rulesOnce.Do(func() {
		rulesAll = append(rulesAll, tokenRules()...)
		rulesAll = append(rulesAll, contextRules()...)
		rulesAll = append(rulesAll, emailRule())
	})
	return rulesAll
}
