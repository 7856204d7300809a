package secrets

import (
	"slices"
	"strings"
)

// Rules that recognise a secret by what surrounds it.

func contextRules() []*rule {
	return append(cliRules(), []*rule{
		assignmentRule(),
		authHeaderRule(),
		bearerRule(),
		urlCredentialsRule(),
		opensslPassRule(),
		awsSecretRule(),
		awsPairRule(),
		azureKeyRule([]string{"accountkey", "account_key", "account-key", "storage_key"}, 86, "==", tAzureStorageKey),
		azureKeyRule([]string{"sharedaccesskey"}, 43, "=", tAzureSharedAccessKey),
		azureKeysListRule(),
		sasRule(),
		vaultLegacyRule(),
	}...)
}

// ---------------------------------------------------------------------------
// Key-value assignments.

// Anchors of the key-value rule: every secret-naming word contains one.
var assignmentAnchors = []string{"pass", "pw", "secret", "token", "key", "auth", "cred", "bearer", "signature"}

const (
	maxKeyLen   = 128
	maxUnquoted = 2048 // longest unquoted value; quoted ones may be 8 KiB
)

func assignmentRule() *rule {
	return &rule{
		name:    "assignment",
		anchors: assignmentAnchors,
		types:   []string{tPasswordAssignment, tSecretAssignment, tHighEntropyAssignment, tDBPassword},
		match:   matchAssignment,
	}
}

func matchAssignment(s *scan, p, e int) {
	t := s.text
	ks := p
	for ks > 0 && csKey[t[ks-1]] {
		ks--
		if p-ks > maxKeyLen {
			return
		}
	}
	ke := e
	for ke < len(t) && csKey[t[ke]] {
		ke++
		if ke-e > maxKeyLen {
			return
		}
	}
	// \n, \t, \r escapes (a .env file inside a JSON string): the key starts after them
	if ks > 0 && t[ks-1] == '\\' && ks < p && (t[ks] == 'n' || t[ks] == 't' || t[ks] == 'r') {
		ks++
	}
	if ks == s.keyStart && ke == s.keyEnd {
		return // another anchor of a key already examined
	}
	if hasPrefixAt(t, ks-3, "://") {
		return // URL userinfo (https://x-access-token:TOKEN@host): the URL rule reports the password
	}
	s.keyStart, s.keyEnd = ks, ke
	for ke > ks && (t[ke-1] == '.' || t[ke-1] == '-') {
		ke--
	}
	dashes := 0
	for ks+dashes < ke && t[ks+dashes] == '-' {
		dashes++
	}
	if dashes > 2 || ke <= ks+dashes {
		return
	}
	kind := s.d.keyKind(t[ks+dashes : ke])
	if kind == keyNone {
		return
	}
	if namedValue(s, ks, ke, kind) {
		return
	}
	i := ke
	// ${VAR:-default}, ${VAR:=x}, ${env:VAR}: a reference, not an assignment
	if ks >= 2 && (t[ks-1] == '{' || t[ks-1] == ':') {
		if b := strings.LastIndex(t[max(0, ks-16):ks], "${"); b >= 0 {
			return
		}
	}

	// XML element: <password>value</password>
	if ks > 0 && t[ks-1] == '<' && i < len(t) && t[i] == '>' {
		ve := strings.IndexByte(t[i+1:min(len(t), i+1+4096)], '<')
		if ve > 0 && hasPrefixAt(t, i+1+ve, "</"+t[ks:ke]+">") {
			addAssignment(s, ks, i+1, i+1+ve, kind, true, '=', false)
		}
		return
	}
	// part of an ARN or URN (arn:aws:secretsmanager:...:secret:name)
	if ks > 0 && t[ks-1] == ':' {
		j := ks - 1
		for j > 0 && ks-j < 128 && !isWS(t[j-1]) && !isQuote(t[j-1]) {
			j--
		}
		if containsFold(t[j:ks], "arn:") || containsFold(t[j:ks], "urn:") {
			return
		}
	}

	// A quoted key is closed by the same quote (possibly escaped: \" in JSON in JSON).
	keyQuote, inString := byte(0), byte(0)
	if ks > 0 && isQuote(t[ks-1]) {
		keyQuote = t[ks-1]
		j := i
		for j < len(t) && t[j] == '\\' {
			j++
		}
		switch {
		case j < len(t) && t[j] == keyQuote:
			i = j + 1
			// a subscript: app.config["SECRET_KEY"] = "...", os.environ['DB_PASSWORD'] = '...'
			if ks >= 2 && t[ks-2] == '[' && i < len(t) && t[i] == ']' {
				i++
			}
		case j == i && i+1 < len(t) && ((t[i] == '=' && t[i+1] != '=') || (t[i] == ':' && t[i+1] == ' ')):
			// a quoted string holding an assignment or a header: echo
			// "DB_PASSWORD=x" >> .env, docker run -e "KEY=x", curl -H
			// "X-Api-Key: x"; the value ends at the closing quote like any
			// unquoted value
			keyQuote, inString = 0, t[ks-1]
		default:
			return
		}
	}
	isFlag := dashes > 0 && (ks == 0 || isWS(t[ks-1]) || isQuote(t[ks-1]) || t[ks-1] == '[' || t[ks-1] == ',' || t[ks-1] == '(')
	spaceBefore := false
	for i < len(t) && isSpace(t[i]) {
		i++
		spaceBefore = true
	}
	if i >= len(t) {
		return
	}
	sep := byte(0)
	switch t[i] {
	case '=':
		sep = '='
		i++
		if i < len(t) && (t[i] == '>' || t[i] == '=') {
			i++
		}
	case ':':
		if i+1 < len(t) && (t[i+1] == '/' || t[i+1] == ':') {
			return // a URL scheme or a C++ scope, not an assignment
		}
		sep = ':'
		i++
		if i < len(t) && t[i] == '=' {
			i++
		}
	default:
		if !isFlag || !isFlagName(t[ks+dashes:ke]) {
			return
		}
		sep = ' '
		if keyQuote != 0 {
			// JSON array of arguments: "--password", "value"
			for i < len(t) && (t[i] == ',' || isSpace(t[i])) {
				i++
			}
		} else if !spaceBefore {
			return
		}
	}
	spaceAfter := false
	for i < len(t) && isSpace(t[i]) {
		i++
		spaceAfter = true
	}
	if i >= len(t) {
		return
	}
	if sep == ' ' && t[i] == '-' {
		return // the next flag: the value is prompted for
	}
	if inString != 0 && (t[i] == inString || t[i] == '\\') {
		return // "PWD="+dir, "Password: ", x: the string ends, the value is code
	}

	// The value (after a YAML tag: !!str 1234).
	if i+1 < len(t) && t[i] == '!' && t[i+1] == '!' {
		j := i + 2
		for j < len(t) && isLetter(t[j]) {
			j++
		}
		if j < len(t) && t[j] == ' ' {
			i = j + 1
		}
	}
	if vs, ve, ok := quotedValue(t, i); ok {
		addAssignment(s, ks, vs, ve, kind, true, sep, false)
		return
	}
	atLineStart := keyAtLineStart(t, ks)
	objLiteral := false
	var ve int
	switch {
	case sep == ':' && atLineStart:
		// YAML, HTTP header, INI-with-colon: the rest of the line, minus a comment.
		ve = lineEnd(t, i, maxUnquoted+1)
		if c := strings.Index(t[i:ve], " #"); c >= 0 {
			ve = i + c
		}
		// inside a JSON string the line ends at an escaped line break or the closing quote
		for k := i; k < ve; k++ {
			if t[k] == '"' || (t[k] == '\\' && k+1 < ve && (t[k+1] == 'n' || t[k+1] == 'r')) {
				ve = k
				break
			}
		}
		for ve > i && isSpace(t[ve-1]) {
			ve--
		}
		// a trailing comma: an object literal (Go, JS, JSON-ish), not YAML
		if ve > i && (t[ve-1] == ',' || t[ve-1] == ';') {
			ve--
			objLiteral = true
		}
	case atLineStart && sep == '=':
		ve = i
		for ve < len(t) && ve-i <= maxUnquoted && !isWS(t[ve]) && t[ve] != '\\' && t[ve] != '"' {
			ve++
		}
		if ve > i+1 && (t[ve-1] == ';' || t[ve-1] == ',') && (ve == len(t) || isWS(t[ve])) {
			ve-- // a statement terminator (FLOW_PASSWORD = 2;)
		}
	default:
		ve = i
		for ve < len(t) && !isWS(t[ve]) && !isValueDelim(t[ve]) {
			ve++
		}
		if ve-i > maxUnquoted {
			// every later key inside this run would get a value ending at ve too
			s.skip = ve - maxUnquoted
			return
		}
	}
	if ve-i > maxUnquoted {
		return
	}
	// Code, not configuration: x = y with spaces around = in the middle of a
	// line, or at the start of one when y is a bare word without digits (a
	// variable: cfg.PrivateKey = path). INI values with digits still count.
	v := t[i:ve]
	key := t[ks+dashes : ke]
	if sep == ':' && ve < len(t) && (t[ve] == ',' || t[ve] == '}') {
		objLiteral = true
	}
	// An object literal in code (Go, JS): numbers are constants, and an
	// identifier is a variable when the key is camelCase/PascalCase (a field
	// name) or the value repeats the key ({password: password}).
	if objLiteral && keyQuote == 0 && (isNumericLiteral(v) || strings.EqualFold(v, key) ||
		(isIdent(v) && strings.ContainsAny(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && !strings.ContainsAny(key, "_-"))) {
		return
	}
	// "secret: got %x want %x": in the middle of a line, a bare word followed
	// by more words is prose
	if sep == ':' && !atLineStart && isBareWord(v) && ve+1 < len(t) && t[ve] == ' ' && !isWS(t[ve+1]) {
		return
	}
	code := sep == '=' && (spaceBefore || spaceAfter) && (!atLineStart || isBareWord(v) || isNumericLiteral(v) ||
		isMemberAccess(t[ks:ke]))
	if code && isIdent(v) {
		return // x = y in code: y is a variable
	}
	if kind == keyPassShort && sep == '=' && atLineStart && !spaceBefore && !spaceAfter {
		kind = keyPassword // DB_PASS=word in an env file is a password, word or not
	}
	addAssignment(s, ks, i, ve, kind, false, sep, code)
}

// namedValue: the key is the name of an entry of an environment list, its
// value in the same object's value field: {"name": "DB_PASSWORD", "value":
// "x"} (Kubernetes, ECS task definitions), "- name: DB_PASSWORD\n  value: x"
// (YAML). It reports the value and returns true when it found that shape.
func namedValue(s *scan, ks, ke int, kind keyKind) bool {
	t := s.text
	j := ks
	q := byte(0)
	if j > 0 && isQuote(t[j-1]) {
		q = t[j-1]
		j--
	}
	for j > 0 && (isSpace(t[j-1]) || t[j-1] == '\\') {
		j--
	}
	if j == 0 || t[j-1] != ':' {
		return false
	}
	j--
	for j > 0 && (isQuote(t[j-1]) || t[j-1] == '\\') && ks-j < 16 {
		j--
	}
	if j < 4 || !hasPrefixFold(t, j-4, "name") || (j > 4 && csWord[t[j-5]]) {
		return false
	}
	i := ke
	if q != 0 {
		for i < len(t) && t[i] == '\\' {
			i++
		}
		if i >= len(t) || t[i] != q {
			return false
		}
		i++
	}
	// only separators between the name and the value field
	k := i
	for k < len(t) && k-i < 64 && (isWS(t[k]) || t[k] == ',' || t[k] == '\\' || isQuote(t[k])) {
		k++
	}
	if !hasPrefixFold(t, k, "value") {
		return false
	}
	v := k + len("value")
	for v < len(t) && (isQuote(t[v]) || t[v] == '\\') && v-k < 8 {
		v++
	}
	for v < len(t) && isSpace(t[v]) {
		v++
	}
	if v >= len(t) || t[v] != ':' {
		return false
	}
	v++
	for v < len(t) && isSpace(t[v]) {
		v++
	}
	if vs, ve, ok := quotedValue(t, v); ok {
		addAssignment(s, ks, vs, ve, kind, true, ':', false)
		return true
	}
	ve := v
	for ve < len(t) && ve-v <= maxUnquoted && !isWS(t[ve]) && t[ve] != ',' && t[ve] != '}' {
		ve++
	}
	addAssignment(s, ks, v, ve, kind, false, ':', false)
	return true
}

// isMemberAccess: a key that is a field of an object in code
// (cfg.File.PrivateKey, this.apiKey, self.password), not a properties key
// (spring.datasource.password).
func isMemberAccess(key string) bool {
	dot := strings.LastIndexByte(key, '.')
	if dot < 0 {
		return false
	}
	return strings.HasPrefix(key, "self.") || strings.HasPrefix(key, "this.") ||
		strings.ContainsAny(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// isFlagName: a conventional command line option name (lower case).
func isFlagName(s string) bool {
	if len(s) < 2 || !isLower(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLower(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func addAssignment(s *scan, ks, vs, ve int, kind keyKind, quoted bool, sep byte, code bool) {
	if ve <= vs {
		return
	}
	v := s.text[vs:ve]
	// the key's own name as its value is a label: password := "password",
	// "apiKey": "apiKey"
	ke := ks
	for ke < len(s.text) && csKey[s.text[ke]] {
		ke++
	}
	if strings.EqualFold(strings.TrimLeft(s.text[ks:ke], "-"), v) {
		return
	}
	k := kind
	if code && k.strong() {
		k = keyWeak
	}
	if !valueLooksSecret(v, k, quoted) {
		return
	}
	typ := k.typ()
	if kind == keyPassword && sep == '=' && inConnectionString(s.text, ks) {
		typ = tDBPassword
	}
	s.add(vs, ve, typ)
}

// inConnectionString: a Password= inside a JDBC URL or an ADO.NET / ODBC
// connection string (Server=...;Password=...).
func inConnectionString(t string, ks int) bool {
	ls := lineStart(t, ks, 512)
	before := t[ls:ks]
	if ks > 0 && t[ks-1] == ';' {
		return true
	}
	for _, k := range []string{"jdbc:", "server=", "data source=", "host=", "database=", "initial catalog=", "driver="} {
		// a keyword of its own: Server=, ;Database=, "host=; not --docker-server=
		for i := 0; i+len(k) <= len(before); i++ {
			if hasPrefixFold(before, i, k) && (i == 0 || !csKey[before[i-1]]) {
				return true
			}
		}
	}
	return false
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

func isValueDelim(c byte) bool {
	switch c {
	case '"', '\'', '`', ',', ';', '&', '<', '>', ')', ']', '}', '|', '\\':
		return true
	}
	return false
}

// quotedValue parses a quoted string at t[i:], possibly with escaped quotes
// (\" for a string inside a JSON string): it returns the content's bounds.
// An unterminated string runs to the end of the line.
func quotedValue(t string, i int) (int, int, bool) {
	level := 0
	j := i
	for j < len(t) && t[j] == '\\' && level < 8 {
		j++
		level++
	}
	if j >= len(t) || !isQuote(t[j]) {
		return 0, 0, false
	}
	q := t[j]
	vs := j + 1
	limit := min(len(t), vs+8192)
	for k := vs; k < limit; k++ {
		c := t[k]
		if c == '\n' || c == '\r' {
			return vs, k, true
		}
		if c != q {
			continue
		}
		bs := 0
		for m := k - 1; m >= vs && t[m] == '\\'; m-- {
			bs++
		}
		if (level == 0 && bs%2 == 0) || (level > 0 && bs == level) {
			return vs, k - bs, true
		}
	}
	return vs, limit, true
}

// keyAtLineStart: the key is the first thing on its line, possibly after
// indentation and a shell / Dockerfile / YAML-list prefix.
func keyAtLineStart(t string, ks int) bool {
	ls := lineStart(t, ks, 65)
	// an escaped line break (\n in a JSON string) starts a line too
	if i := strings.LastIndex(t[max(ls, ks-64):ks], `\n`); i >= 0 {
		ls = max(ls, ks-64) + i + 2
	}
	if ks-ls > 64 {
		return false
	}
	pre := strings.TrimSpace(t[ls:ks])
	for _, w := range lineStartPrefixes {
		if strings.EqualFold(pre, w) { // no allocation, unlike ToLower
			return true
		}
	}
	return false
}

var lineStartPrefixes = []string{"", "export", "set", "env", "arg", "-", "declare -x", "typeset -x", "local", "readonly", "setenv", "$env:", "setx"}

// ---------------------------------------------------------------------------
// Authorization headers.

var csCred = mkset("A-Za-z0-9._~+/=:-")

func authHeaderRule() *rule {
	return &rule{
		name:    "authorization_header",
		anchors: []string{"authorization"},
		types:   []string{tAuthBearer, tAuthBasic, tAuthOther},
		match: func(s *scan, p, e int) {
			t := s.text
			// also after an escaped line break: "GET / HTTP/1.1\r\nAuthorization: ..." in a JSON string or a log
			if !(leftOK(t, p, csAlnum) || (p >= 2 && t[p-2] == '\\' && (t[p-1] == 'n' || t[p-1] == 'r' || t[p-1] == 't'))) ||
				(e < len(t) && isAlnum(t[e])) {
				return
			}
			i := e
			for i < len(t) && (t[i] == '\\' || isQuote(t[i])) && i-e < 8 {
				i++
			}
			for i < len(t) && isSpace(t[i]) {
				i++
			}
			if i >= len(t) {
				return
			}
			if t[i] != ':' && t[i] != '=' {
				// a header name and a quoted value: proxy_set_header Authorization "Basic ..."
				if isSpace(t[e]) && isQuote(t[i]) && (hasPrefixFold(t, i+1, "basic ") || hasPrefixFold(t, i+1, "bearer ") ||
					hasPrefixFold(t, i+1, "token ")) {
					authValue(s, i+1)
				}
				return
			}
			i++
			for i < len(t) && (isSpace(t[i]) || t[i] == '\\' || isQuote(t[i])) && i-e < 32 {
				i++
			}
			authValue(s, i)
		},
	}
}

// authValue reads "<scheme> <credential>" or a bare credential at t[i:] and
// reports the credential. A bare credential must look random.
func authValue(s *scan, i int) {
	t := s.text
	if hasPrefixFold(t, i, "aws4-") || hasPrefixFold(t, i, "digest ") || hasPrefixFold(t, i, "hmac ") {
		return // parameters: Signature= and Credential= are handled by the key-value rule
	}
	ws := runEnd(t, i, csAlnum, 24)
	hasScheme := ws > i && ws < len(t) && t[ws] == ' '
	typ := tAuthOther
	vs := i
	if hasScheme {
		switch w := t[i:ws]; {
		case strings.EqualFold(w, "bearer"):
			typ = tAuthBearer
		case strings.EqualFold(w, "basic"):
			typ = tAuthBasic
		}
		vs = ws
		for vs < len(t) && t[vs] == ' ' {
			vs++
		}
	}
	ve := runEnd(t, vs, csCred, 8192)
	v := t[vs:ve]
	if v == "" || isPlaceholder(v) || isStopword(v) {
		return
	}
	if !hasScheme && (!highEntropy(v) || isCodeLike(v)) {
		return // a bare value must look random, and not be code (req.Authorization = ctx.Auth)
	}
	if len(v) < 8 {
		return // "Bearer token", "Basic auth": words, not credentials
	}
	s.add(vs, ve, typ)
}

// bearerRule: "Bearer <token>" anywhere (log lines, error messages).
func bearerRule() *rule {
	return &rule{
		name:    "bearer",
		anchors: []string{"bearer "},
		types:   []string{tAuthBearer},
		match: func(s *scan, p, e int) {
			t := s.text
			if !leftOK(t, p, csKey) {
				return
			}
			ve := runEnd(t, e, csCred, 8192)
			v := t[e:ve]
			if len(v) < 16 || isPlaceholder(v) || !rightOK(t, ve, csAlnum) {
				return
			}
			if !highEntropy(v) && strings.Count(v, ".") != 2 {
				return
			}
			s.add(e, ve, tAuthBearer)
		},
	}
}

// ---------------------------------------------------------------------------
// Credentials in URLs.

var dbSchemes = wordSet(`postgres postgresql mysql mariadb mongodb mongodb+srv redis rediss amqp amqps mssql
	sqlserver oracle clickhouse cockroachdb couchdb cassandra neo4j neo4j+s neo4j+ssc bolt memcached db2 snowflake
	influxdb timescaledb yugabytedb tidb vertica presto trino hive jdbc odbc postgis rabbitmq nats kafka`)

var csScheme = mkset("A-Za-z0-9+.-")

func urlCredentialsRule() *rule {
	return &rule{
		name:    "url_credentials",
		anchors: []string{"://"},
		types:   []string{tURLPassword, tDBPassword, tURLToken},
		match: func(s *scan, p, e int) {
			t := s.text
			ss := p
			for ss > 0 && csScheme[t[ss-1]] && p-ss < 32 {
				ss--
			}
			if ss == p || !isLetter(t[ss]) {
				return
			}
			var sb [32]byte
			for k := ss; k < p; k++ {
				sb[k-ss] = lower(t[k])
			}
			scheme := sb[:p-ss]
			ae := e
			limit := min(len(t), e+1024)
			for ae < limit {
				c := t[ae]
				if c == '/' || c == '?' || c == '#' || isWS(c) || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == '\\' {
					break
				}
				ae++
			}
			at := strings.LastIndexByte(t[e:ae], '@')
			if at < 0 {
				return
			}
			at += e
			ui := t[e:at]
			if colon := strings.IndexByte(ui, ':'); colon >= 0 {
				pw := ui[colon+1:]
				if pw == "" || isPlaceholder(pw) || isStopword(pw) {
					return
				}
				typ := tURLPassword
				if _, ok := dbSchemes[string(scheme)]; ok {
					typ = tDBPassword
				} else if k := slices.Index(scheme, '+'); k > 0 {
					// SQLAlchemy dialect+driver: postgresql+psycopg2://, mysql+pymysql://
					if _, ok := dbSchemes[string(scheme[:k])]; ok {
						typ = tDBPassword
					}
				}
				s.add(e+colon+1, at, typ)
				return
			}
			if highEntropy(ui) && !isPlaceholder(ui) {
				s.add(e, at, tURLToken)
			}
		},
	}
}

// ---------------------------------------------------------------------------
// Command lines.

type cliFlag struct {
	flag     string
	attached bool // -pVALUE
	separate bool // -p VALUE
	part     byte // report only what follows the first occurrence of this byte (user:PASS)
}

type cliSpec struct {
	anchors []string
	names   []string
	sub     string // required subcommand before the flag ("login")
	flags   []cliFlag
	sqlusr  bool // first positional argument is user/password@db (sqlplus)
}

var cliSpecs = []cliSpec{
	{anchors: []string{"mysql", "mariadb"}, names: []string{"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow", "mysqlcheck", "mysqlpump", "mysqlslap",
		"mysqlbinlog", "mysqlsh", "mariadb", "mariadb-dump", "mariadb-admin", "mariadb-import", "mariadb-check", "mariadb-show"},
		// -p with a space prompts and the next word is the database: only -pSECRET.
		flags: []cliFlag{{flag: "-p", attached: true}}},
	{anchors: []string{"sshpass"}, names: []string{"sshpass"}, flags: []cliFlag{{flag: "-p", attached: true, separate: true}}},
	{anchors: []string{"mongo"}, names: []string{"mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat", "mongotop", "mongofiles"},
		flags: []cliFlag{{flag: "-p", attached: true, separate: true}}},
	{anchors: []string{"redis-cli"}, names: []string{"redis-cli"}, flags: []cliFlag{{flag: "-a", separate: true}}},
	{anchors: []string{"sqlcmd", "bcp", "osql", "isql"}, names: []string{"sqlcmd", "bcp", "osql", "isql"}, flags: []cliFlag{{flag: "-P", attached: true, separate: true}}},
	{anchors: []string{"ldap"}, names: []string{"ldapsearch", "ldapmodify", "ldapadd", "ldapdelete", "ldapwhoami", "ldappasswd", "ldapcompare", "ldapmodrdn", "ldapexop"},
		flags: []cliFlag{{flag: "-w", separate: true}}},
	{anchors: []string{"docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "finch"},
		names: []string{"docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "finch"}, sub: "login",
		flags: []cliFlag{{flag: "-p", attached: true, separate: true}}},
	{anchors: []string{"curl"}, names: []string{"curl"}, flags: []cliFlag{
		{flag: "-u", attached: true, separate: true, part: ':'}, {flag: "--user", separate: true, part: ':'},
		{flag: "--user=", attached: true, part: ':'}, {flag: "-U", separate: true, part: ':'},
		{flag: "--proxy-user", separate: true, part: ':'}, {flag: "--proxy-user=", attached: true, part: ':'}}},
	{anchors: []string{"smbclient", "rpcclient", "smbmap", "smbget"}, names: []string{"smbclient", "rpcclient", "smbmap", "smbget"}, flags: []cliFlag{
		{flag: "-U", attached: true, separate: true, part: '%'}, {flag: "--user", separate: true, part: '%'},
		{flag: "--user=", attached: true, part: '%'}}},
	{anchors: []string{"sqlplus", "sqlldr", "expdp", "impdp"}, names: []string{"sqlplus", "sqlldr", "expdp", "impdp"}, sqlusr: true},
	// ssh-keygen -N new_passphrase / -P old_passphrase ('' is none)
	{anchors: []string{"ssh-keygen"}, names: []string{"ssh-keygen"}, flags: []cliFlag{{flag: "-N", separate: true}, {flag: "-P", separate: true}}},
	// az login --service-principal -u <app id> -p <secret>
	{anchors: []string{"az login"}, names: []string{"az login"}, flags: []cliFlag{{flag: "-p", separate: true}, {flag: "--password", separate: true}}},
}

var csCmdToken = mkset("A-Za-z0-9_.+-")

// cliRules: one rule per command family, anchored on its names.
func cliRules() []*rule {
	var rules []*rule
	for i := range cliSpecs {
		spec := &cliSpecs[i]
		rules = append(rules, &rule{
			name:    "cli_" + spec.names[0],
			anchors: spec.anchors,
			types:   []string{tCLIPassword},
			match: func(s *scan, p, e int) {
				t := s.text
				cs := p
				for cs > 0 && csCmdToken[t[cs-1]] && p-cs < 16 {
					cs--
				}
				ce := runEnd(t, e, csCmdToken, 16)
				if !slices.Contains(spec.names, t[cs:ce]) {
					return
				}
				// the command must be a word: after a separator, a path or a quote
				if cs > 0 {
					c := t[cs-1]
					if !(isWS(c) || c == '/' || c == '\\' || isQuote(c) || c == '[' || c == ',' || c == ';' || c == '|' || c == '&' || c == '(' || c == '=' || c == '`' || c == '$') {
						return
					}
				}
				// a later occurrence of the same command inside these
				// arguments sees a subset of them: scan each segment once
				s.skip = scanCLI(s, spec, ce)
			},
		})
	}
	return rules
}

// cliTokens iterates the arguments after a command, to the end of the
// command (line break, ;, |, &&, closing bracket of a JSON array).
type cliTokens struct {
	t     string
	i     int
	limit int
}

// next returns the next argument's content bounds (quotes excluded).
func (c *cliTokens) next() (int, int, bool) {
	t := c.t
	for c.i < c.limit {
		ch := t[c.i]
		if ch == '\n' || ch == '\r' || ch == ';' || ch == '|' || ch == '&' || ch == ']' {
			return 0, 0, false
		}
		if isWS(ch) || ch == ',' || ch == '\\' {
			c.i++
			continue
		}
		break
	}
	if c.i >= c.limit {
		return 0, 0, false
	}
	if isQuote(t[c.i]) {
		q := t[c.i]
		vs := c.i + 1
		k := vs
		for k < c.limit && t[k] != q && t[k] != '\n' {
			k++
		}
		ve := k
		for ve > vs && t[ve-1] == '\\' {
			ve--
		}
		c.i = k + 1
		return vs, ve, true
	}
	vs := c.i
	for c.i < c.limit && !isWS(t[c.i]) && !isQuote(t[c.i]) && t[c.i] != ';' && t[c.i] != '|' && t[c.i] != ',' && t[c.i] != ']' {
		c.i++
	}
	if c.i == vs {
		c.i++ // always make progress
	}
	return vs, c.i, true
}

// scanCLI reports the passwords among a command's arguments and returns the
// offset where the command ends.
func scanCLI(s *scan, spec *cliSpec, from int) int {
	t := s.text
	toks := cliTokens{t: t, i: from, limit: min(len(t), from+2048)}
	subSeen := spec.sub == ""
	positional := 0
	for {
		a, b, ok := toks.next()
		if !ok {
			return toks.i
		}
		tok := t[a:b]
		if !subSeen {
			if tok == spec.sub {
				subSeen = true
			}
			continue
		}
		if spec.sqlusr && !strings.HasPrefix(tok, "-") {
			positional++
			if positional == 1 && !strings.HasPrefix(tok, "/") && !strings.HasPrefix(tok, "@") {
				if sl := strings.IndexByte(tok, '/'); sl > 0 {
					end := len(tok)
					if at := strings.IndexByte(tok[sl:], '@'); at >= 0 {
						end = sl + at
					}
					if end > sl+1 && !isPlaceholder(tok[sl+1:end]) {
						s.add(a+sl+1, a+end, tCLIPassword)
					}
				}
			}
			continue
		}
		for _, f := range spec.flags {
			switch {
			case f.separate && tok == f.flag:
				va, vb, ok := toks.next()
				if !ok {
					return toks.i
				}
				if strings.HasPrefix(t[va:vb], "-") && va < vb && t[va-1] != '"' && t[va-1] != '\'' {
					continue
				}
				addCLIValue(s, va, vb, f.part)
			case f.attached && len(tok) > len(f.flag) && strings.HasPrefix(tok, f.flag) &&
				!(len(f.flag) == 2 && strings.HasPrefix(tok, "--")):
				addCLIValue(s, a+len(f.flag), b, f.part)
			}
		}
	}
}

func addCLIValue(s *scan, a, b int, part byte) {
	if part != 0 {
		i := strings.IndexByte(s.text[a:b], part)
		if i < 0 {
			return
		}
		a += i + 1
	}
	if a >= b {
		return
	}
	v := s.text[a:b]
	if isPlaceholder(v) {
		return
	}
	s.add(a, b, tCLIPassword)
}

// opensslPassRule: openssl -passin pass:SECRET (and -passout, -pass, -password).
func opensslPassRule() *rule {
	return &rule{
		name:    "openssl_pass",
		anchors: []string{"pass:"},
		types:   []string{tCLIPassword},
		match: func(s *scan, p, e int) {
			t := s.text
			if !hasPrefixAt(t, p, "pass:") || p == 0 {
				return
			}
			j := p - 1
			if isQuote(t[j]) {
				j--
			}
			if j < 0 || !isSpace(t[j]) {
				return
			}
			for j >= 0 && isSpace(t[j]) {
				j--
			}
			fs := j
			for fs >= 0 && csCmdToken[t[fs]] {
				fs--
			}
			flag := t[fs+1 : j+1]
			switch flag {
			case "-passin", "-passout", "-pass", "-password", "-kpass", "-passphrase":
			default:
				return
			}
			ve := e
			for ve < len(t) && !isWS(t[ve]) && !isQuote(t[ve]) {
				ve++
			}
			if ve > e && !isPlaceholder(t[e:ve]) {
				s.add(e, ve, tCLIPassword)
			}
		},
	}
}

// ---------------------------------------------------------------------------
// Provider context.

// awsSecretCandidate finds a 40-character base64 run (mixed case, as AWS
// secret keys are) in t[from:to].
func awsSecretCandidate(t string, from, to int) (int, int) {
	to = min(to, len(t))
	for i := from; i+40 <= to; i++ {
		if t[i] == '[' && markerEnd(t, i) > 0 {
			return -1, -1 // the first candidate, masked by an earlier scrub
		}
		if !csB64[t[i]] || (i > 0 && csB64[t[i-1]]) {
			continue
		}
		end := runEnd(t, i, csB64, 41)
		if end-i != 40 || (end < len(t) && csB64Pad[t[end]]) {
			i = end
			continue
		}
		var lo, up, other bool
		for k := i; k < end; k++ {
			c := t[k]
			lo = lo || isLower(c)
			up = up || isUpper(c)
			other = other || isDigit(c) || c == '+' || c == '/'
		}
		if lo && up && other {
			return i, end
		}
		i = end
	}
	return -1, -1
}

func awsSecretRule() *rule {
	return &rule{
		name: "aws_secret_access_key",
		anchors: []string{"aws_secret", "aws-secret", "awssecret", "secret_access_key", "secretaccesskey",
			"secret-access-key", "aws_secret_key"},
		types: []string{tAWSSecretKey},
		match: func(s *scan, p, e int) {
			t := s.text
			le := lineEnd(t, e, 160)
			if a, b := awsSecretCandidate(t, e, le); a >= 0 {
				s.add(a, b, tAWSSecretKey)
			}
		},
	}
}

// awsPairRule: a secret key within 200 bytes after an access key id (CSV
// credential files, aws configure transcripts, JSON).
func awsPairRule() *rule {
	return &rule{
		name:    "aws_key_pair",
		anchors: []string{"AKIA", "ASIA"},
		types:   []string{tAWSSecretKey},
		match: func(s *scan, p, e int) {
			t := s.text
			if !(hasPrefixAt(t, p, "AKIA") || hasPrefixAt(t, p, "ASIA")) || !leftOK(t, p, csAlnum) {
				return
			}
			end := runEnd(t, e, csAWSBase32, 17)
			if end-e != 16 || !rightOK(t, end, csAlnum) {
				return
			}
			if a, b := awsSecretCandidate(t, end, end+200); a >= 0 {
				s.add(a, b, tAWSSecretKey)
			}
		},
	}
}

// azureKeyRule: <Name>=<n base64><pad> in Azure connection strings, JSON and
// env files (AccountKey=, AZURE_STORAGE_KEY=), or a flag and its argument
// (az storage ... --account-key <key>).
func azureKeyRule(names []string, n int, pad, typ string) *rule {
	return &rule{
		name:    typ,
		anchors: names,
		types:   []string{typ},
		match: func(s *scan, p, e int) {
			t := s.text
			if !leftOK(t, p, csAlnum) {
				return
			}
			flag := p >= 2 && t[p-1] == '-' && t[p-2] == '-'
			i := e
			for i < len(t) && (t[i] == '"' || t[i] == '\'' || t[i] == '\\' || isSpace(t[i])) && i-e < 8 {
				i++
			}
			if i >= len(t) {
				return
			}
			switch {
			case t[i] == '=' || t[i] == ':':
				i++
				for i < len(t) && (t[i] == '"' || t[i] == '\'' || t[i] == '\\' || isSpace(t[i])) && i-e < 16 {
					i++
				}
			case flag && i > e && isSpace(t[e]):
				// --account-key <key>: i is at the value
			default:
				return
			}
			end := runEnd(t, i, csB64, n+1)
			if end-i != n || !hasPrefixAt(t, end, pad) || !rightOK(t, end+len(pad), csB64Pad) {
				return
			}
			s.add(i, end+len(pad), typ)
		},
	}
}

// azureKeysListRule: the output of az storage account keys list
// ([{"keyName": "key1", "permissions": "FULL", "value": "<88 base64>"}]).
func azureKeysListRule() *rule {
	return &rule{
		name:    "azure_keys_list",
		anchors: []string{"keyname"},
		types:   []string{tAzureStorageKey},
		match: func(s *scan, p, e int) {
			t := s.text
			if !leftOK(t, p, csAlnum) || !rightOK(t, e, csAlnum) {
				return
			}
			k := strings.Index(t[e:min(len(t), e+256)], "value")
			if k < 0 {
				return
			}
			vs := e + k + len("value")
			i := vs
			for i < len(t) && i-vs < 12 && (isQuote(t[i]) || t[i] == '\\' || isSpace(t[i]) || t[i] == ':') {
				i++
			}
			end := runEnd(t, i, csB64, 87)
			if end-i != 86 || !hasPrefixAt(t, end, "==") || !rightOK(t, end+2, csB64Pad) {
				return
			}
			s.add(i, end+2, tAzureStorageKey)
		},
	}
}

var csSASValue = mkset("A-Za-z0-9%+/=")

func sasRule() *rule {
	return &rule{
		name:    "azure_sas",
		anchors: []string{"sig="},
		types:   []string{tAzureSAS},
		match: func(s *scan, p, e int) {
			t := s.text
			if !hasPrefixAt(t, p, "sig=") || (p > 0 && t[p-1] != '?' && t[p-1] != '&' && t[p-1] != ';' && t[p-1] != ' ') {
				return
			}
			ve := runEnd(t, e, csSASValue, 256)
			if ve-e < 20 {
				return
			}
			// The URL (or connection string) around it must carry SAS parameters.
			ts := p
			for ts > 0 && p-ts < 2048 && !isWS(t[ts-1]) && !isQuote(t[ts-1]) {
				ts--
			}
			te := ve
			for te < len(t) && te-ve < 2048 && !isWS(t[te]) && !isQuote(t[te]) {
				te++
			}
			tok := t[ts:te]
			if !strings.Contains(tok, "sv=") && !strings.Contains(tok, "skn=") && !strings.Contains(tok, "SharedAccessSignature") &&
				!strings.Contains(t[max(0, ts-32):ts], "SharedAccessSignature") {
				s.skip = te // the same token has no SAS parameters for later sig= either
				return
			}
			s.add(e, ve, tAzureSAS)
		},
	}
}

func vaultLegacyRule() *rule {
	return &rule{
		name:    "vault_legacy_token",
		anchors: []string{"vault"},
		types:   []string{tVaultLegacy},
		match: func(s *scan, p, e int) {
			t := s.text
			le := lineEnd(t, e, 256)
			for i := e; i+26 <= le; i++ {
				if (t[i] != 's' && t[i] != 'b') || t[i+1] != '.' || !leftOK(t, i, csKey) {
					continue
				}
				end := runEnd(t, i+2, csAlnum, 25)
				if end-(i+2) == 24 && rightOK(t, end, csKey) {
					s.add(i, end, tVaultLegacy)
					return
				}
			}
		},
	}
}
