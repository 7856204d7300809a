package secrets

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// keyKind is what a key name says about its value.
type keyKind uint8

const (
	keyNone      keyKind = iota
	keyWeak              // may name a secret (token, auth, x-amz-signature): the value must look random
	keyWeakKey           // <x>_key for an unknown x: the value must look random and not be a hash or UUID
	keyPassShort         // pass, pw, pwd alone or last (DB_PASS): a password unless the value is a bare word or number
	keySecret            // names a secret (secret, api_key, access_token, credentials, ...)
	keyPassword          // names a password
)

func (k keyKind) strong() bool { return k >= keySecret }

func (k keyKind) typ() string {
	switch k {
	case keyPassword, keyPassShort:
		return tPasswordAssignment
	case keySecret:
		return tSecretAssignment
	default:
		return tHighEntropyAssignment
	}
}

// Last words that turn a secret-sounding key into metadata about the secret:
// password_file, token_url, secret_name, api_key_id, token_type, ...
var keyQualifiers = wordSet(`url uri urls endpoint host hostname port type types method mode file filename
	filepath path paths dir directory name names id ids enabled enable disabled required provider scheme header
	headers length len size count expiry expires expiration expire exp ttl timeout lifetime at time timestamp
	date algorithm alg algo policy format version hint label field fields location ref reference arn region
	prefix suffix min max rotation rotated created updated used usage limit index idx kind source regex pattern
	strength changed env var variable stdin prompt command cmd manager backend plugin mount engine rule rules
	check validation valid verified present exists in out key_id keyid fingerprint encoding length schema spec
	description desc help note notes title placeholder status state flag flags option options store vault
	secretsmanager ssm param parameter level issuer audience scope scopes template generator`)

// First words that make a key a boolean or a count about a secret.
var keyBoolPrefixes = wordSet(`no use has is require requires ask prompt allow enable disable skip show hide
	with without should can must forgot min max num total validate verify check generate rotate`)

// Words that mean the key is about public material.
var keyPublic = wordSet(`public pub publishable`)

// x in x_key / xkey that makes the key name a secret.
var strongKeyQual = wordSet(`api access secret private signing sign encryption encrypt decryption decrypt master
	account shared storage auth hmac jwt webhook admin root subscription deploy license client app application
	crypto cipher aes session server security integration developer personal service`)

// x in x_key that names something else (database keys, cache keys, ...).
var keyDenyQual = wordSet(`sort partition primary foreign cache object idempotency dedup dedupe deduplication
	routing hot shortcut map row s3 lookup group hash composite unique index search cursor next page sequence
	shard bucket range cluster hotkey keyboard message event record entry item field attribute attr column
	table dict lock job task correlation request trace span idempotence natural surrogate candidate join
	public pub protobuf proto`)

// x in x_token that makes the key name a secret.
var strongTokenQual = wordSet(`auth access refresh session api bearer oauth oauth2 private personal id sas security
	bot deploy secret jwt identity admin registry webhook`)

// x in x_token that names something other than a credential.
var tokenDenyQual = wordSet(`page next continuation sync cancellation cancel resume pagination cursor max min num
	total input output prompt completion context stop end start eos bos pad unk special sep cls mask reasoning
	cached cache thinking response request reply count budget`)

// x in xpass (one word) that makes it a password: storepass, keypass, dbpass.
var passPrefixes = wordSet(`store key db root admin user my smtp ftp mail src dest srcstore deststore master sudo
	ldap bind vnc wifi proxy http app sys sa web redis mysql pg postgres mongo rabbit amqp require`)

// Extensions that make a dotted key a file name.
var sourceExts = wordSet(`go py js ts jsx tsx rb java kt rs c h cc cpp cs php sh bash zsh ps1 swift scala md txt json
	yaml yml toml ini cfg conf xml html csv log pem crt key pub env`)

// Words after key/token that still name the secret itself.
var materialWords = wordSet(`pem der b64 base64 hex raw bytes data value material content contents string str text
	plain plaintext secret enc encoded`)

func wordSet(s string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(s) {
		m[w] = struct{}{}
	}
	return m
}

func in(set map[string]struct{}, w string) bool { _, ok := set[w]; return ok }

// keyWords splits a key into lower-case words at separators and camelCase
// boundaries: "X-Api-Key" -> x api key, "clientSecret" -> client secret,
// "AWS_SECRET_ACCESS_KEY" -> aws secret access key, "APIKey" -> api key.
// The lower-cased key goes to buf, the words' bounds in it to words.
func keyWords(key string, buf *[128]byte, words *[16][2]uint8) int {
	if len(key) > 96 {
		key = key[len(key)-96:]
	}
	n, m, ws := 0, 0, -1
	emit := func() {
		if ws >= 0 && m > ws {
			if n == len(words) { // keep the last words: they say what the key is
				copy(words[:], words[1:])
				n--
			}
			words[n] = [2]uint8{uint8(ws), uint8(m)}
			n++
		}
		ws = -1
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !isAlnum(c) {
			emit()
			continue
		}
		if ws >= 0 && isUpper(c) {
			p := key[i-1]
			// lower/digit -> Upper, or UPPER -> Upper+lower (APIKey -> API Key)
			if isLower(p) || isDigit(p) || (isUpper(p) && i+1 < len(key) && isLower(key[i+1])) {
				emit()
			}
		}
		if ws < 0 {
			ws = m
		}
		buf[m] = lower(c)
		m++
	}
	emit()
	return n
}

// classifyKey says whether a key name names a secret, and how strongly.
func classifyKey(key string) keyKind {
	var buf [128]byte
	var ranges [16][2]uint8
	n := keyWords(key, &buf, &ranges)
	if n == 0 {
		return keyNone
	}
	var words [16]string
	for i := 0; i < n; i++ {
		words[i] = bstr(buf[ranges[i][0]:ranges[i][1]])
	}
	w := words[:n]
	last := w[n-1]
	// secret_id (Vault AppRole) is a secret despite the "id".
	if n >= 2 && last == "id" && w[n-2] == "secret" {
		return keySecret
	}
	if in(keyQualifiers, last) {
		return keyNone
	}
	// a file name, not a key: secret.go, credentials.json, api_key.txt
	if dot := strings.LastIndexByte(key, '.'); dot > 0 && len(key)-dot-1 <= 8 {
		var ext [8]byte
		for i := dot + 1; i < len(key); i++ {
			ext[i-dot-1] = lower(key[i])
		}
		if in(sourceExts, string(ext[:len(key)-dot-1])) {
			return keyNone
		}
	}
	if n > 1 && in(keyBoolPrefixes, w[0]) {
		return keyNone
	}
	// names of entries in a secret store (Helm charts): existingSecret: db-creds,
	// adminPasswordKey: postgres-password; not SECRET_KEY or existing_password
	if n > 1 && ((w[0] == "existing" && w[1] == "secret") || ((last == "key" || last == "keys") && isPasswordWord(w[n-2]))) {
		return keyNone
	}
	best := keyNone
	up := func(k keyKind) {
		if k > best {
			best = k
		}
	}
	for i, x := range w {
		if in(keyPublic, x) {
			return keyNone
		}
		isLast := i == n-1
		// key and token count when they end the key or are followed by a word
		// for their material (private_key_pem); "key exchange", "token
		// bucket" and "key size" are about something else
		ends := isLast || in(materialWords, w[i+1])
		switch {
		case x == "passwd" && n == 1:
			up(keyPassShort) // also the name of the user database (nsswitch.conf "passwd: files")
		case isPasswordWord(x):
			up(keyPassword)
		case x == "pwd" || x == "pw" || x == "pass" || (strings.HasSuffix(x, "pass") && in(passPrefixes, x[:len(x)-4])):
			// a verb when it starts a longer key (passThrough, pass_count)
			if isLast && key != "PASS" { // Go test output: "--- PASS: TestX"
				up(keyPassShort)
			}
		case strings.Contains(x, "secret") && !strings.HasPrefix(x, "secretar"):
			up(keySecret)
		case x == "credential" || x == "credentials" || x == "creds" || x == "cred" || x == "bearer" || x == "apikey":
			up(keySecret)
		case x == "key" || x == "keys":
			if i == 0 || !ends {
				continue
			}
			q := w[i-1]
			switch {
			case in(strongKeyQual, q):
				up(keySecret)
			case in(keyDenyQual, q) || in(keyQualifiers, q):
			default:
				up(keyWeakKey)
			}
		case strings.HasSuffix(x, "key") && len(x) > 3:
			if ends && in(strongKeyQual, x[:len(x)-3]) {
				up(keySecret)
			}
		case x == "token":
			if !ends {
				continue
			}
			if i == 0 {
				up(keyWeak)
				continue
			}
			q := w[i-1]
			switch {
			case in(strongTokenQual, q):
				up(keySecret)
			case in(tokenDenyQual, q):
			default:
				up(keyWeak)
			}
		case strings.HasSuffix(x, "token") && len(x) > 5 && ends:
			q := x[:len(x)-5]
			switch {
			case in(strongTokenQual, q):
				up(keySecret)
			case in(tokenDenyQual, q):
			default:
				up(keyWeak)
			}
		case x == "auth" || x == "authorization":
			up(keyWeak)
		case x == "signature" && i > 0 && (w[i-1] == "amz" || w[i-1] == "goog"):
			// the signature of a presigned URL grants access until it expires;
			// other signatures (commits, checkpoints, TPM quotes) are evidence
			up(keyWeak)
		}
	}
	return best
}

func isPasswordWord(x string) bool {
	return strings.Contains(x, "password") || strings.Contains(x, "passwd") || strings.Contains(x, "passphrase") ||
		strings.Contains(x, "passcode")
}

// bstr views b as a string without copying; the result must not outlive b
// (it is only used within classifyKey, while buf is live and unchanged), so
// classifying a key allocates nothing.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// IsSecretKey reports whether a key name (map key, attribute name, env var,
// header, flag) names a secret or may name one, so that its value should go
// through FindValue. Keys listed in Options.AllowKeys never do.
func (d *Detector) IsSecretKey(key string) bool {
	return d.keyKind(key) != keyNone
}

func (d *Detector) keyKind(key string) keyKind {
	if d.allowKeys != nil {
		if _, ok := d.allowKeys[strings.ToLower(key)]; ok {
			return keyNone
		}
	}
	k := classifyKey(key)
	if k != keyNone && d.disabledType[typeIndex[k.typ()]] {
		return keyNone
	}
	return k
}

// FindValue appends the findings of a structured value whose key is known:
// the findings of Find(value), and, when the key names a secret and the value
// looks like a credential (see doc.go), one finding covering the whole value
// (surrounding whitespace excluded). Offsets are relative to value.
func (d *Detector) FindValue(key, value string, dst []Finding) []Finding {
	n := len(dst)
	if isAuthHeaderName(key) {
		// {"Authorization": "Basic ..."}: the value is read as the header
		// line it came from, so every scheme is found, not only Bearer.
		dst = d.Find(authHeaderPrefix+value, dst)
		k := n
		for _, f := range dst[n:] {
			if f.End > len(authHeaderPrefix) {
				f.Start = max(f.Start-len(authHeaderPrefix), 0)
				f.End -= len(authHeaderPrefix)
				dst[k] = f
				k++
			}
		}
		dst = dst[:k]
	} else {
		dst = d.Find(value, dst)
	}
	kind := d.keyKind(key)
	if kind == keyNone {
		return d.findValuePII(key, value, dst, n)
	}
	a, b := 0, len(value)
	for a < b && isWS(value[a]) {
		a++
	}
	for b > a && isWS(value[b-1]) {
		b--
	}
	if a == b {
		return dst
	}
	found := dst[n:]
	if len(found) == 1 && found[0].Start <= a && found[0].End >= b {
		return dst
	}
	if hasMarker(value) {
		// Scrubbed already, under this same key: what the key names was
		// masked then (or was not a secret), and "[REDACTED:x]://" must not
		// turn into a secret of its own on a second pass.
		return dst
	}
	if !valueLooksSecret(value[a:b], kind, true) {
		return dst
	}
	typ := kind.typ()
	if d.allowed(value[a:b]) {
		return dst
	}
	for _, f := range found {
		a = min(a, f.Start)
		b = max(b, f.End)
	}
	return append(dst[:n], Finding{a, b, typ})
}

const authHeaderPrefix = "Authorization: "

// hasMarker: does v hold a marker the scrub processor writes (markerEnd)?
func hasMarker(v string) bool {
	for i := strings.IndexByte(v, '['); i >= 0; {
		if markerEnd(v, i) > 0 {
			return true
		}
		k := strings.IndexByte(v[i+1:], '[')
		if k < 0 {
			return false
		}
		i += 1 + k
	}
	return false
}

// isAuthHeaderName: Authorization, Proxy-Authorization (any case), also as
// the last part of a semantic-convention name (http.request.header.authorization).
func isAuthHeaderName(key string) bool {
	const name = "authorization"
	if len(key) < len(name) || !strings.EqualFold(key[len(key)-len(name):], name) {
		return false
	}
	rest := key[:len(key)-len(name)]
	return rest == "" || strings.EqualFold(rest, "proxy-") || strings.HasSuffix(rest, ".")
}

// findValuePII: a value under a key naming a US SSN may be 9 digits without
// dashes.
func (d *Detector) findValuePII(key, value string, dst []Finding, n int) []Finding {
	if !d.ssn || len(dst) > n {
		return dst
	}
	var buf [128]byte
	var r [16][2]uint8
	k := keyWords(key, &buf, &r)
	word := func(i int) string { return string(buf[r[i][0]:r[i][1]]) }
	named := false
	for i := 0; i < k; i++ {
		if word(i) == "ssn" || (word(i) == "security" && i > 0 && word(i-1) == "social") {
			named = true
		}
	}
	if !named {
		return dst
	}
	v := strings.TrimSpace(value)
	if len(v) != 9 || runEnd(v, 0, csDigits, 9) != 9 || !ssnValid(v[0:3], v[3:5], v[5:9]) {
		return dst
	}
	a := strings.Index(value, v)
	if d.allowed(v) {
		return dst
	}
	return append(dst, Finding{a, a + 9, tSSN})
}

// valueLooksSecret decides whether a value assigned to a key of the given
// kind is reported. quoted values are literals; unquoted ones may be code.
func valueLooksSecret(v string, kind keyKind, quoted bool) bool {
	if len(v) == 0 || len(v) > 8192 {
		return false
	}
	if isPlaceholder(v) || isStopword(v) || isPublicKeyValue(v) || isVersionSpec(v) {
		return false
	}
	if !quoted && (isCodeLike(v) || looksLikeProse(v)) {
		return false
	}
	if isPathLike(v) || isPlainURL(v) {
		return false
	}
	switch kind {
	case keyPassword, keySecret:
		return true
	case keyPassShort:
		return !isBareWord(v) && !isNumericLiteral(v)
	case keyWeakKey:
		return highEntropy(v) && !isHashLike(v)
	case keyWeak:
		return highEntropy(v)
	}
	return false
}

// Entropy rule for values of unknown format under keys that only may name a
// secret: at least minEntropyLen bytes, no whitespace, at least two of
// lower/upper/digit, Shannon entropy at least minEntropyBits per byte.
const (
	minEntropyLen  = 16
	minEntropyBits = 3.0
)

func highEntropy(v string) bool {
	if len(v) < minEntropyLen || len(v) > 4096 {
		return false
	}
	var lo, up, dg bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case isWS(c):
			return false
		case isLower(c):
			lo = true
		case isUpper(c):
			up = true
		case isDigit(c):
			dg = true
		}
	}
	classes := 0
	for _, b := range []bool{lo, up, dg} {
		if b {
			classes++
		}
	}
	if classes < 2 || (!dg && len(v) < 32) {
		return false // camelCaseIdentifiers have no digit; short random strings almost always do
	}
	if isTimestampOrVersion(v) || strings.ContainsAny(v, ",;\\") {
		return false // lists, struct tags and registry paths, not tokens
	}
	return shannon(v) >= minEntropyBits
}

// isHashLike: hex of a hash length (md5, sha1, sha224, sha256, sha384,
// sha512) or a UUID.
func isHashLike(v string) bool {
	switch len(v) {
	case 32, 40, 56, 64, 96, 128:
		return runEnd(v, 0, csHex, len(v)) == len(v)
	case 36:
		return isUUID(v)
	}
	return false
}

func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if v[i] != '-' {
				return false
			}
		default:
			if !csHex[v[i]] {
				return false
			}
		}
	}
	return true
}

// isVersionSpec: a dependency version or range (^1.0.0, ~2.3, >=1.2.3, 1.2.x).
func isVersionSpec(v string) bool {
	w := strings.TrimLeft(v, "^~>=<v ")
	if w == "" || len(v) > 32 || !isDigit(w[0]) || len(w) == len(v) && !strings.Contains(w, ".") {
		return false
	}
	dots := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '.':
			dots++
		case isDigit(c) || c == 'x' || c == '*' || c == '-' || c == '+' || isLower(c):
		default:
			return false
		}
	}
	return dots >= 1 && len(w) != len(v) || dots >= 2
}

// isTimestampOrVersion: 2024-01-02T03:04:05Z-like values and v1.2.3-like ones.
func isTimestampOrVersion(v string) bool {
	if len(v) >= 10 && isDigit(v[0]) && isDigit(v[3]) && v[4] == '-' && v[7] == '-' {
		return true
	}
	w := strings.TrimPrefix(v, "v")
	dots := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '.' {
			dots++
		} else if !isDigit(c) && c != '-' && c != '+' && !isLower(c) {
			return false
		}
	}
	return dots >= 2 && len(w) > 0 && isDigit(w[0])
}

var stopwords = wordSet(`none null nil undefined true false yes no on off empty n/a na tbd todo required optional
	string str int integer bool boolean number object any bytes text hidden masked redacted filtered omitted
	removed set unset missing invalid incorrect expired provided ok error failed wrong changed read write
	[] {} "" '' - -- ? ... inherit
	the a an and or of to for in on at by from with is are was be been not no this that these your my our its
	if when then must should will can may use used see`)

// looksLikeProse: an unquoted value of three or more words, one of them an
// English function word ("Password: the password of the account"). A
// passphrase in a config file is quoted or has no such word.
func looksLikeProse(v string) bool {
	if strings.Count(v, " ") < 2 {
		return false
	}
	for rest := v; rest != ""; {
		w, r, _ := strings.Cut(rest, " ")
		rest = r
		w = strings.Trim(w, ".,;:!?()")
		if len(w) > 0 && len(w) <= 5 && isStopword(w) {
			return true
		}
	}
	return false
}

func isStopword(v string) bool {
	if len(v) > 12 {
		return false
	}
	var buf [12]byte
	for i := 0; i < len(v); i++ {
		buf[i] = lower(v[i])
	}
	return in(stopwords, string(buf[:len(v)]))
}

// isPlaceholder: masked values, template and environment references,
// redaction markers, YAML block indicators and aliases, encrypted values.
func isPlaceholder(v string) bool {
	same := true
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			same = false
			break
		}
	}
	if same || isFormatVerb(v) {
		return true
	}
	if strings.Contains(v, "***") || strings.Contains(v, "•••") {
		return true
	}
	masked := true
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case 'x', 'X', '*', '.', '-', '_', ' ', '#':
		default:
			masked = false
		}
	}
	if masked {
		return true
	}
	for _, p := range []string{"${", "$(", "{{", "<%", "%(", "#{", "@{", "!vault", "ENC[", "arn:", "vault:", "op://", "secret://", "ref+"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	switch v {
	case "|", ">", "|-", ">-", "|+", ">+":
		return true
	}
	if (v[0] == '$' || v[0] == '*' || v[0] == '&') && len(v) > 1 && isIdent(v[1:]) {
		return true // $VAR, YAML *alias, &anchor
	}
	if len(v) > 5 && hasPrefixFold(v, 0, "$env:") && isIdent(v[5:]) {
		return true // PowerShell $env:VAR
	}
	// an elided example: sk-..., ghp_..., xoxb-… (a token prefix and an ellipsis)
	if p, ok := strings.CutSuffix(v, "..."); ok || strings.HasSuffix(v, "…") {
		if !ok {
			p = strings.TrimSuffix(v, "…")
		}
		if len(p) <= 16 && (p == "" || p[len(p)-1] == '-' || p[len(p)-1] == '_') {
			return true
		}
	}
	if v[0] == '%' && len(v) > 2 && v[len(v)-1] == '%' && isIdent(v[1:len(v)-1]) {
		return true
	}
	if v[0] == '<' && v[len(v)-1] == '>' && !strings.ContainsAny(v[1:len(v)-1], "<>") {
		return true
	}
	if v[0] == '[' && v[len(v)-1] == ']' && len(v) > 2 && isUpper(v[1]) {
		i := 1
		for i < len(v)-1 && (isUpper(v[i]) || v[i] == '_') {
			i++
		}
		if i == len(v)-1 || v[i] == ':' {
			return true // [REDACTED], [REDACTED:type], [HMAC:key:digest]
		}
	}
	return hasPrefixFold(v, 0, "your") || hasPrefixFold(v, 0, "<your") || strings.EqualFold(v, "(redacted)") ||
		strings.EqualFold(v, "<redacted>")
}

// isBareWord: an identifier without digits (a variable name, a word).
func isBareWord(v string) bool { return isIdent(v) && !strings.ContainsAny(v, "0123456789") }

// isNumericLiteral: 42, -40, 0x1a, 0o17, 1.5, 1e9.
func isNumericLiteral(v string) bool {
	v = strings.TrimLeft(v, "+-")
	if v == "" || !isDigit(v[0]) {
		return false
	}
	if len(v) > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X' || v[1] == 'o' || v[1] == 'b') {
		return runEnd(v, 2, csHex, -1) == len(v) && len(v) > 2
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isDigit(c) && c != '.' && c != '_' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

// isFormatVerb: %s, %x, %v, %+v, %-10s, {}, {0}, {name}: a format string's
// placeholder.
func isFormatVerb(v string) bool {
	if len(v) >= 2 && len(v) <= 8 && v[0] == '%' {
		i := 1
		for i < len(v)-1 && strings.IndexByte("+-# 0123456789.*", v[i]) >= 0 {
			i++
		}
		return i == len(v)-1 && isLetter(v[i])
	}
	if len(v) >= 2 && v[0] == '{' && v[len(v)-1] == '}' {
		return len(v) == 2 || isIdent(v[1:len(v)-1]) || runEnd(v, 1, csDigits, -1) == len(v)-1
	}
	return false
}

func isIdent(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !csWord[s[i]] {
			return false
		}
	}
	return true
}

func isPublicKeyValue(v string) bool {
	for _, p := range []string{"ssh-rsa ", "ssh-ed25519 ", "ssh-dss ", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-",
		"-----BEGIN PUBLIC KEY", "-----BEGIN RSA PUBLIC KEY", "-----BEGIN CERTIFICATE", "-----BEGIN PGP PUBLIC",
		// public by design: Mapbox public tokens, Stripe publishable keys
		"pk.eyJ", "pk_live_", "pk_test_"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// isCodeLike: an unquoted value that is an expression rather than a literal:
// a call, an index, a generic type, or a dotted identifier path
// (args.password, self.config.token, process.env.X, ev.CertifySignature).
func isCodeLike(v string) bool {
	// '*' only as a dereference (*ptr): passwords contain it (DB_PASSWORD=Xk9*mQ2v)
	if strings.ContainsAny(v, "()[]{}<>") || strings.HasPrefix(v, "*") {
		return true
	}
	dots := 0
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == '.' {
			seg := v[start:i]
			if seg == "" || !isIdent(seg) {
				return false
			}
			if i < len(v) {
				dots++
			}
			start = i + 1
		}
	}
	return dots > 0
}

// isPathLike: an absolute, home or relative file path, or a Windows path,
// whose segments do not look like base64 (a random secret may start with /).
func isPathLike(v string) bool {
	if isFileName(v) {
		return true
	}
	switch {
	case strings.HasPrefix(v, "/"), strings.HasPrefix(v, "./"), strings.HasPrefix(v, "../"),
		strings.HasPrefix(v, "~/"), strings.HasPrefix(v, "file:"):
	case len(v) > 2 && isLetter(v[0]) && v[1] == ':' && (v[2] == '\\' || v[2] == '/'):
	default:
		return false
	}
	if strings.ContainsAny(v, " \t+=") && !strings.HasPrefix(v, "file:") {
		return false
	}
	seg := 0
	var lo, up, dg bool
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == '/' || v[i] == '\\' {
			if seg >= 20 && lo && up && dg {
				return false
			}
			seg, lo, up, dg = 0, false, false, false
			continue
		}
		seg++
		c := v[i]
		lo = lo || isLower(c)
		up = up || isUpper(c)
		dg = dg || isDigit(c)
	}
	return utf8.ValidString(v)
}

func isLetter(c byte) bool { return isLower(c) || isUpper(c) }

var fileExts = wordSet(`key pem crt cer der p12 pfx jks keystore p8 pub gpg asc kdbx json yaml yml toml ini conf cfg
	env txt properties xml secret secrets token ppk`)

// isFileName: a relative path or file name with an extension of the files
// secrets live in (k.pem, var/keys/agentaudit-local.key, creds.json).
func isFileName(v string) bool {
	dot := strings.LastIndexByte(v, '.')
	if dot <= 0 || dot == len(v)-1 || len(v) > 256 {
		return false
	}
	ext := v[dot+1:]
	var buf [16]byte
	if len(ext) > len(buf) {
		return false
	}
	for i := 0; i < len(ext); i++ {
		buf[i] = lower(ext[i])
	}
	if !in(fileExts, string(buf[:len(ext)])) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && c != '/' && c != '\\' && c != '.' && c != '-' && c != '_' && c != '~' && c != ':' {
			return false
		}
	}
	return true
}

// isPlainURL: scheme://... without userinfo.
func isPlainURL(v string) bool {
	i := strings.Index(v, "://")
	if i <= 0 || i > 32 || !isIdent(strings.NewReplacer("+", "", "-", "", ".", "").Replace(v[:i])) {
		return false
	}
	rest := v[i+3:]
	end := strings.IndexAny(rest, "/?# ")
	if end < 0 {
		end = len(rest)
	}
	return !strings.Contains(rest[:end], "@")
}
