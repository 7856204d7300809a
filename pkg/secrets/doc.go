// Package secrets finds credentials and personal data in text, for the scrub
// processor and every other component that must keep secrets out of the
// audit trail. It only detects: what to do with a finding (mask, HMAC
// pseudonym, drop) is the caller's business.
//
//	d, err := secrets.New(secrets.Options{})        // every class on
//	fs := d.Find(text, nil)                         // sorted, non-overlapping byte ranges
//	if d.IsSecretKey(attrName) { fs = d.FindValue(attrName, value, fs[:0]) }
//
// A Finding is a byte range text[Start:End] on UTF-8 rune boundaries and a
// stable type id (README.md lists all of them). Each type belongs to a Class:
// ClassSecret or one of the PII classes email, payment_card, iban, us_ssn,
// phone. Findings never overlap: overlapping candidates are merged into one
// finding covering their union, typed by the most specific candidate (known
// format > context > key name > PII > entropy), so a redaction never leaves
// part of a secret behind.
//
// # How it finds
//
// Every rule declares literal anchors: token prefixes ("ghp_", "AKIA",
// "sk-ant-api03-"), key words ("pass", "secret", "token", "key", "auth"),
// "authorization", "://", "@", command names ("mysql", "curl"), distinctive
// inner literals ("Q~", "AZDO", ".atlasv1."). All anchors of all enabled
// rules are compiled into one Aho-Corasick automaton over ASCII-case-folded
// bytes (a full DFA with byte classes). Find runs it once over the text; at
// the root state a trigram bitset skips every position where no anchor can
// start. Only the rules whose anchors occur run, each on a bounded window
// around its anchor: hand-written prefix/charset/length checks for most
// formats, anchored regular expressions for structured ones, checksums where
// the format has one (GitHub and npm CRC32/base62, age bech32, JWT header
// decoding). Numbers (cards, IBANs, SSNs, phones) have no literal anchor: a
// separate pass looks only at digits, '+' and '(' (8 bytes at a time), and
// examines each digit run once. Text without candidates costs the DFA-free
// trigram skip plus the digit skip; see the benchmarks in README.md.
//
// # Decisions
//
// Defaults: the zero Options reports every class, PII included; the
// processor's configuration decides what it turns off. Phone detection is
// conservative (international numbers need the '+'; national ones only the
// NANP shapes "(NXX) NXX-XXXX", "NXX-NXX-XXXX", "NXX.NXX.XXXX").
//
// URLs: only the password of scheme://user:password@host is reported (the
// user and host are evidence). Userinfo without a password is reported only
// when it looks random (https://TOKEN@host), as url_token.
//
// Command lines: mysql-family -pSECRET only when attached (mysql -p db
// prompts, and db is the database); -p VALUE for sshpass, mongo tools and
// docker/podman/helm ... login and az login (never for ssh, docker run,
// where -p is a port); -P for sqlcmd/bcp; -a for redis-cli; -w for ldap
// tools; -N/-P for ssh-keygen; the password half of curl -u user:pass and
// smbclient -U user%pass; openssl pass:X; sqlplus user/pass@db. Any --flag
// or -flag whose name names a secret takes the next argument (unless it
// starts with '-').
//
// Key names (IsSecretKey): keys are split into words at separators and
// camelCase. Password words (password, passwd, passphrase) and secret words
// (secret, credential(s), creds, bearer, api/access/private/signing/... key,
// auth/access/refresh/session/... token) make any literal value a secret.
// pass, pw, pwd count only as the last word, and their value must not be a
// bare word or a number (pwd: cwd) except in KEY=value env lines. Weaker
// words (token, auth, authorization, <other>_key, x-amz-signature) need a
// value that looks random. key and token count only at the end of the key
// (key_exchange, token_bucket are not secrets). Keys ending in a qualifier
// (password_file, token_url, secret_name, api_key_id, token_type, ...),
// starting with a boolean prefix (has_password, use_token, max_...), naming
// public material, LLM token counts (*_tokens), file names (secret.go) and
// signatures other than presigned URLs' do not name a secret.
//
// Values (FindValue and key-value rules): not reported when empty, a
// placeholder or reference (***, xxxx, <redacted>, <your-token>,
// [REDACTED:...] and other [UPPER:...] markers, ${VAR}, $VAR, %VAR%, {{ }},
// $(...), printf verbs, YAML aliases and block indicators, !vault, ENC[...],
// arn:, op://), a boolean/null/type name (true, null, none, string, ...), a
// version range, a public key, a file path or key file name, a URL without
// credentials, or the key's own name (a label). Code is not configuration:
// unquoted calls, indexing, dotted identifiers, x = y where y is an
// identifier or a number, object-literal fields with identifier values, and
// prose after a colon are not reported. Real but weak values such as
// "changeme" or "password" ARE reported: a default credential in use is
// still a credential.
//
// Random-looking (the entropy rule for values of unknown format under weak
// keys, bare Authorization values, Bearer in prose, URL userinfo tokens):
// at least 16 bytes, no whitespace, ',', ';' or '\', at least two of lower
// case, upper case and digits, a digit unless at least 32 bytes, Shannon
// entropy at least 3.0 bits per byte, not a timestamp or version; for
// <other>_key also not a hex hash of a standard length nor a UUID.
//
// Never reported on their own: hex hashes, git SHAs, UUIDs, trace and span
// ids, file paths, URLs without credentials, version strings, timestamps, IP
// addresses, Twilio account SIDs (AC + 32 hex: an account identifier; its
// auth token is caught by context). Allowlists: Options.AllowValues
// (exact), Options.AllowPatterns (RE2, anchored at both ends),
// Options.AllowKeys (key names, case-insensitive).
package secrets
