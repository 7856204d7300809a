package secrets

import "strings"

// ---------------------------------------------------------------------------
// E-mail addresses (anchor "@").

var (
	csEmailLocal  = mkset("A-Za-z0-9._%+-")
	csEmailDomain = mkset("A-Za-z0-9.-")
)

func emailRule() *rule {
	return &rule{
		name:    "email",
		anchors: []string{"@"},
		types:   []string{tEmail},
		match: func(s *scan, p, e int) {
			if a, b := matchEmail(s.text, p); a >= 0 {
				s.add(a, b, tEmail)
			}
		},
	}
}

func matchEmail(t string, at int) (int, int) {
	ls := at
	for ls > 0 && csEmailLocal[t[ls-1]] && at-ls <= 64 {
		ls--
	}
	if ls == at || at-ls > 64 || t[ls] == '.' || t[at-1] == '.' || strings.Contains(t[ls:at], "..") {
		return -1, -1
	}
	if ls > 0 {
		switch t[ls-1] {
		case ':':
			// URL userinfo (https://user:pass@host) unless mailto:
			if !hasPrefixFold(t, ls-7, "mailto:") {
				return -1, -1
			}
		case '/', '@', '\\':
			return -1, -1 // URL userinfo, path, or part of a longer @-chain
		}
	}
	if t[ls:at] == "git" {
		return -1, -1 // git@host: an SSH remote, not a person
	}
	de := runEnd(t, at+1, csEmailDomain, 254)
	for de > at+1 && (t[de-1] == '.' || t[de-1] == '-') {
		de--
	}
	dom := t[at+1 : de]
	dot := strings.LastIndexByte(dom, '.')
	if dot <= 0 {
		return -1, -1
	}
	tld := dom[dot+1:]
	if len(tld) < 2 || len(tld) > 24 || runEnd(tld, 0, csLetters, 25) != len(tld) {
		return -1, -1
	}
	for rest := dom; rest != ""; {
		label, r, _ := strings.Cut(rest, ".")
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return -1, -1
		}
		rest = r
	}
	if de < len(t) {
		c := t[de]
		if c == '@' || c == '/' || (c == ':' && de+1 < len(t) && !isWS(t[de+1])) || isAlnum(c) {
			return -1, -1 // scp / git remote (user@host:path), user@host/path, or not the end
		}
	}
	if sshTarget(t, ls) {
		return -1, -1
	}
	return ls, de
}

// sshTarget: user@host after ssh, scp, sftp, rsync, mosh on the same line.
func sshTarget(t string, ls int) bool {
	from := lineStart(t, ls, 160)
	before := t[from:ls]
	for _, c := range []string{"ssh ", "scp ", "sftp ", "rsync ", "mosh ", "ssh-copy-id ", "telnet "} {
		if i := strings.Index(before, c); i >= 0 && (i == 0 || !isAlnum(before[i-1])) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Numbers: payment cards, US SSNs, phone numbers, IBANs. One pass over the
// text stops only at digits, '+' and '('.

var numTrigger = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['+'], t['('] = true, true
	return
}()

// load64 reads 8 bytes of s at i, little endian (the compiler merges the
// loads into one).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// mayTrigger reports whether any of 8 packed bytes may be a digit, '+' or '('
// (SWAR; false positives only cost a byte-wise look).
func mayTrigger(x uint64) bool {
	const lo, hi, m7 = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	// bytes c with '/' < c < ':' (Bit Twiddling Hacks, hasbetween)
	d := (lo*(127+':') - (x & m7)) &^ x & ((x & m7) + lo*(127-'/')) & hi
	p := x ^ (lo * '+')
	p = (p - lo) &^ p & hi
	q := x ^ (lo * '(')
	q = (q - lo) &^ q & hi
	return d|p|q != 0
}

// group is a run of digits inside a numeric span.
type group struct{ a, b int }

func (d *Detector) scanDigits(s *scan) {
	t := s.text
	n := len(t)
	var groups [12]group
	for i := 0; i < n; i++ {
		for i+8 <= n && !mayTrigger(load64(t, i)) {
			i += 8
		}
		for i < n && !numTrigger[t[i]] {
			i++
		}
		if i >= n {
			return
		}
		c := t[i]
		switch {
		case c == '+':
			if d.phone {
				if end := matchIntlPhone(t, i); end > 0 {
					s.add(i, end, tPhone)
					i = end - 1
				}
			}
			continue
		case c == '(':
			if d.phone {
				if end := matchNANPParen(t, i); end > 0 {
					s.add(i, end, tPhone)
					i = end - 1
				}
			}
			continue
		}
		if i > 0 && isDigit(t[i-1]) {
			continue
		}
		// IBAN: two upper-case letters, then the check digits.
		if d.iban && i >= 2 && isUpper(t[i-2]) && isUpper(t[i-1]) {
			if end := matchIBAN(t, i-2); end > 0 {
				s.add(i-2, end, tIBAN)
				i = end - 1
				continue
			}
		}
		// A numeric span: digit groups joined by single ' ', '-' or '.'.
		ng := 0
		j := i
		for {
			g := runEnd(t, j, csDigits, -1)
			if ng < len(groups) {
				groups[ng] = group{j, g}
			}
			ng++
			j = g
			if j+1 < n && (t[j] == ' ' || t[j] == '-' || t[j] == '.') && isDigit(t[j+1]) {
				j++
				continue
			}
			break
		}
		end := j
		if ng <= len(groups) && spanBoundaryOK(t, i, end) {
			d.numericSpan(s, groups[:ng])
		}
		i = end - 1
	}
}

// spanBoundaryOK: the span is not glued to a word, a longer number, or a
// dotted/dashed identifier (v1.2.3, ID-2024-..., 10.0.0.1/24).
func spanBoundaryOK(t string, a, b int) bool {
	if a > 0 {
		c := t[a-1]
		if csWord[c] {
			return false
		}
		if (c == '.' || c == '-' || c == '/' || c == ':') && a > 1 && isAlnum(t[a-2]) {
			return false
		}
	}
	if b < len(t) {
		c := t[b]
		if csWord[c] {
			return false
		}
		if (c == '.' || c == '-' || c == '/' || c == ':') && b+1 < len(t) && isDigit(t[b+1]) {
			return false
		}
		// 1.234,56 is a number, so is a digit run in a compact list of long
		// numbers (4340000000000001,9007199254740994); a digit run among
		// short fields is a CSV value (2024-06-01,2221990086416626,49.99),
		// and a span grouped by spaces or dashes ends at a comma
		// (6011-4837-7217-5156,129.90)
		if c == ',' && b+1 < len(t) && isDigit(t[b+1]) && (strings.IndexByte(t[a:b], '.') >= 0 ||
			runEnd(t, a, csDigits, -1) == b && runEnd(t, b+1, csDigits, -1)-(b+1) >= longListNumber) {
			return false
		}
	}
	if a > 1 && t[a-1] == ',' && isDigit(t[a-2]) && runEnd(t, a, csDigits, -1) == b {
		k := a - 1
		for k > 0 && isDigit(t[k-1]) {
			k--
		}
		if a-1-k >= longListNumber {
			return false // the last of a compact list of long numbers
		}
	}
	return true
}

// longListNumber: digits from which a comma-separated neighbour makes a
// digit run part of a list of numbers rather than a CSV field.
const longListNumber = 10

func (d *Detector) numericSpan(s *scan, gs []group) {
	t := s.text
	sep := func(k int) byte { return t[gs[k].a-1] } // separator before group k (k > 0)
	lens := func(k int) int { return gs[k].b - gs[k].a }
	whole := func(shape ...int) bool {
		if len(gs) != len(shape) {
			return false
		}
		for k, l := range shape {
			if lens(k) != l {
				return false
			}
		}
		return true
	}
	sameSep := func(from, to int, allowed string) bool {
		var c byte
		for k := from + 1; k < to; k++ {
			x := sep(k)
			if !strings.ContainsRune(allowed, rune(x)) || (c != 0 && x != c) {
				return false
			}
			c = x
		}
		return true
	}
	if d.ssn && whole(3, 2, 4) && sameSep(0, 3, "-") {
		if ssnValid(t[gs[0].a:gs[0].b], t[gs[1].a:gs[1].b], t[gs[2].a:gs[2].b]) {
			s.add(gs[0].a, gs[2].b, tSSN)
			return
		}
	}
	if d.phone && sameSep(0, len(gs), "-.") && (whole(3, 3, 4) || (whole(1, 3, 3, 4) && t[gs[0].a] == '1')) {
		k := len(gs) - 3
		if t[gs[k].a] >= '2' && t[gs[k+1].a] >= '2' {
			s.add(gs[0].a, gs[len(gs)-1].b, tPhone)
			return
		}
	}
	if d.card {
		d.cards(s, gs)
	}
}

// Card groupings: one run of 13-19 digits, or groups of these lengths joined
// by the same separator (space or dash).
var cardShapes = [][]int{{4, 4, 4, 4}, {4, 4, 4, 4, 3}, {4, 6, 5}, {4, 6, 4}, {4, 4, 4, 1}, {4, 4, 4, 4, 2}, {4, 4, 5}, {4, 4, 4, 4, 4}}

func (d *Detector) cards(s *scan, gs []group) {
	t := s.text
	var digits [19]byte
	for k := 0; k < len(gs); k++ {
		if l := gs[k].b - gs[k].a; l >= 13 && l <= 19 {
			// ungrouped: 15 or 16 digits only (13 and 19 digit cards are rare,
			// big integers are not), and not a negative number
			minus := gs[k].a > 0 && t[gs[k].a-1] == '-'
			if (l == 15 || l == 16) && !minus && (k == 0 || t[gs[k].a-1] == ' ') && (k == len(gs)-1 || t[gs[k].b] == ' ') {
				n := copy(digits[:], t[gs[k].a:gs[k].b])
				if cardValid(digits[:n]) {
					s.add(gs[k].a, gs[k].b, tCard)
				}
			}
			continue
		}
	shapes:
		for _, shape := range cardShapes {
			if k+len(shape) > len(gs) {
				continue
			}
			var sepc byte
			n := 0
			for m, l := range shape {
				g := gs[k+m]
				if g.b-g.a != l {
					continue shapes
				}
				if m > 0 {
					c := t[g.a-1]
					if (c != ' ' && c != '-') || (sepc != 0 && c != sepc) {
						continue shapes
					}
					sepc = c
				}
				n += copy(digits[n:], t[g.a:g.b])
			}
			// the window must not be part of a longer run of the same separator
			last := gs[k+len(shape)-1]
			if k+len(shape) < len(gs) && t[last.b] == sepc {
				continue
			}
			if k > 0 && t[gs[k].a-1] == sepc {
				continue
			}
			if cardValid(digits[:n]) {
				s.add(gs[k].a, last.b, tCard)
				return
			}
		}
	}
}

// cardValid: Luhn, and a length allowed for the issuer of the IIN prefix.
func cardValid(d []byte) bool {
	n := len(d)
	if n < 13 || n > 19 || !luhn(d) {
		return false
	}
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p3 := p2*10 + int(d[2]-'0')
	p4 := p3*10 + int(d[3]-'0')
	p6 := p4*100 + int(d[4]-'0')*10 + int(d[5]-'0')
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65, p6 >= 622126 && p6 <= 622925: // Discover
		return n >= 16
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14
	case p2 == 62: // UnionPay
		return n >= 16
	case p4 >= 2200 && p4 <= 2204: // Mir
		return n >= 16
	case p2 == 50, p2 >= 56 && p2 <= 58, p4 == 6304, p4 == 6759, p3 == 676: // Maestro
		return n >= 13
	case p2 == 60: // RuPay
		return n == 16
	}
	return false
}

// ssnValid: never-issued areas (000, 666, 900-999), group 00, serial 0000,
// and two numbers famous for being misused in advertising.
func ssnValid(area, grp, serial string) bool {
	if area == "000" || area == "666" || area[0] == '9' || grp == "00" || serial == "0000" {
		return false
	}
	if (area == "078" && grp == "05" && serial == "1120") || (area == "219" && grp == "09" && serial == "9999") {
		return false
	}
	return true
}

// matchIntlPhone: +CC followed by digits with single separators (space, dash,
// dot, parentheses around an area code), 8 to 15 digits in all.
func matchIntlPhone(t string, p int) int {
	if p > 0 {
		c := t[p-1]
		if isAlnum(c) || c == '+' || c == ')' || c == '_' || c == '/' {
			return -1
		}
	}
	if p+1 >= len(t) || t[p+1] < '1' || t[p+1] > '9' {
		return -1
	}
	digits := 0
	i := p + 1
	lastDigit := -1
	paren := false
	seps, dots, longest := 0, 0, 0
	for i < len(t) && i-p < 32 {
		c := t[i]
		switch {
		case isDigit(c):
			j := runEnd(t, i, csDigits, 16)
			digits += j - i
			if j-i > longest && lastDigit >= 0 {
				longest = j - i // groups after the first
			}
			lastDigit = j
			i = j
			continue
		case (c == ' ' || c == '-' || c == '.') && i+1 < len(t) && (isDigit(t[i+1]) || t[i+1] == '('):
			seps++
			if c == '.' {
				dots++
			}
			i++
			continue
		case c == '(' && !paren && i+1 < len(t) && isDigit(t[i+1]):
			paren = true
			i++
			continue
		case c == ')' && paren:
			paren = false
			i++
			if i < len(t) && (t[i] == ' ' || t[i] == '-') && i+1 < len(t) && isDigit(t[i+1]) {
				i++
			}
			continue
		}
		break
	}
	// E.164 numbers have at most 15 digits; real ones at least 10 with the
	// country code. Grouped numbers have groups of at most 8 digits (4 with
	// dots): +123.456789000 is a number, not a phone.
	if lastDigit < 0 || paren || digits < 10 || digits > 15 || (seps > 0 && longest > 8) || (dots > 0 && longest > 4) {
		return -1
	}
	if lastDigit < len(t) {
		c := t[lastDigit]
		if isAlnum(c) || c == '_' || ((c == '.' || c == '-' || c == '/' || c == ':') && lastDigit+1 < len(t) && isDigit(t[lastDigit+1])) {
			return -1
		}
	}
	// +2024-01-02 is a date, not a number
	if lastDigit-p == 11 && t[p+5] == '-' && t[p+8] == '-' {
		return -1
	}
	return lastDigit
}

// matchNANPParen: (NXX) NXX-XXXX.
func matchNANPParen(t string, p int) int {
	if p > 0 && isAlnum(t[p-1]) {
		return -1
	}
	i := p + 1
	if runEnd(t, i, csDigits, 4) != i+3 || t[i] < '2' || i+3 >= len(t) || t[i+3] != ')' {
		return -1
	}
	i += 4
	if i < len(t) && t[i] == ' ' {
		i++
	}
	if runEnd(t, i, csDigits, 4) != i+3 || t[i] < '2' || i+3 >= len(t) || (t[i+3] != '-' && t[i+3] != '.') {
		return -1
	}
	i += 4
	if runEnd(t, i, csDigits, 5) != i+4 {
		return -1
	}
	i += 4
	if i < len(t) && (isAlnum(t[i]) || t[i] == '_') {
		return -1
	}
	return i
}

// IBAN lengths per country (ISO 13616 registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
	"PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
	"SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
	"YE": 30,
}

// matchIBAN at t[p:] (p is the country code): compact, or in groups of four
// separated by single spaces; the check digits must verify (mod 97 = 1).
func matchIBAN(t string, p int) int {
	if p > 0 && (isAlnum(t[p-1]) || t[p-1] == '_') {
		return -1
	}
	want, ok := ibanLengths[t[p:p+2]]
	if !ok || p+4 > len(t) || !isDigit(t[p+2]) || !isDigit(t[p+3]) {
		return -1
	}
	var buf [34]byte
	n := 0
	i := p
	spaced := false
	for i < len(t) && n < want {
		c := t[i]
		switch {
		case isDigit(c) || isUpper(c):
			buf[n] = c
			n++
			i++
		case c == ' ' && n%4 == 0 && n > 0 && i+1 < len(t) && (isDigit(t[i+1]) || isUpper(t[i+1])) && (spaced || n == 4):
			spaced = true
			i++
		default:
			return -1
		}
	}
	if n != want || (i < len(t) && (isAlnum(t[i]) || t[i] == '_')) {
		return -1
	}
	if buf[2] == '0' && buf[3] < '2' || buf[2] == '9' && buf[3] == '9' {
		return -1
	}
	// mod 97 of BBAN + country + check digits, letters as 10..35
	rem := 0
	add := func(c byte) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		}
	}
	for k := 4; k < n; k++ {
		add(buf[k])
	}
	for k := 0; k < 4; k++ {
		add(buf[k])
	}
	if rem != 1 {
		return -1
	}
	return i
}
