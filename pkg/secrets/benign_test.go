package secrets

import (
	"strings"
	"testing"
)

// benignTexts are what the audit trail needs intact: none may be reported.
func benignTexts() []string {
	g := newGen(31)
	h := func(n int) string { return g.s(chHex, n) }
	uuid := h(8) + "-" + h(4) + "-4" + h(3) + "-a" + h(3) + "-" + h(12)
	return []string{
		// hashes and ids
		"md5 " + h(32) + " sha1 " + h(40) + " sha256 " + h(64) + " sha512 " + h(128),
		"sha256:" + h(64),
		"sha512-" + g.s(chB64, 86) + "==",
		"commit " + h(40) + " (HEAD -> main), abbrev " + h(7) + ", merge " + h(12),
		"git diff " + h(7) + ".." + h(7) + " -- src/secrets/token.go",
		"uuid " + uuid + " upper " + strings.ToUpper(uuid),
		"traceparent: 00-" + h(32) + "-" + h(16) + "-01",
		`{"trace_id":"` + h(32) + `","span_id":"` + h(16) + `","parent_span_id":"` + h(16) + `"}`,
		`{"session.id":"` + uuid + `","user.id":"u-1842","host.id":"` + h(32) + `","process.pid":4242}`,
		`{"gen_ai.usage.input_tokens":1234,"gen_ai.usage.output_tokens":567,"max_tokens":4096,"total_tokens":1801}`,
		"docker pull ghcr.io/org/img@sha256:" + h(64),
		"github.com/cloudflare/ahocorasick v0.0.0-20240916140611-054963ec9396 h1:" + g.s(chB64, 43) + "=",
		"integrity sha512-" + g.s(chB64, 86) + "==",
		"etag: \"" + h(32) + "\"",
		"request id " + g.s(chUpperDig, 26) + " and ulid 01HV" + g.s("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 22),
		// file paths
		"read /home/agent/.ssh/id_ed25519.pub and /etc/ssl/private/server.key",
		`open C:\Users\agent\AppData\Roaming\gcloud\credentials.db`,
		"wrote ./config/credentials.yaml and ../secrets/token.txt",
		`{"file.path": "/var/lib/agent/passwords.kdbx", "file.name": "api_keys.md"}`,
		// URLs without credentials
		"GET https://api.github.com/repos/org/repo/pulls?state=open&per_page=100",
		"https://accounts.google.com/o/oauth2/v2/auth?client_id=123.apps.googleusercontent.com&response_type=code&scope=email",
		"ssh://git@github.com/org/repo.git and git@gitlab.com:group/project.git",
		"https://example.com/reset-password?user=42",
		// versions and timestamps
		"otelcol v0.162.0 (core v1.68.0), go1.26.8 linux/amd64, node v20.11.1, 1.2.3-rc.1+build.5",
		"2024-01-02T03:04:05.123456789Z 2024-01-02 03:04:05 +0000 Mon Jan  2 15:04:05 MST 2006",
		"ts=1712345678 ms=1712345678901 ns=1712345678901234567",
		"ip 10.0.0.1 192.168.1.254/24 2001:db8::1 fe80::1%eth0 port 5432",
		// prose and code about secrets
		"Please reset your password via the settings page; the API key rotation completed.",
		"The token expired. Secret rotation is scheduled. Use a credential helper.",
		"password: required\nsecret: false\napi_key: null\ntoken: ''\n",
		"if err := checkPassword(user, password); err != nil { return err }",
		"def login(username: str, password: str) -> Token:\n    token = issue_token(username)\n    return token",
		"const apiKey = process.env.OPENAI_API_KEY;\nconst secret = config.get('secret');",
		`password = os.environ.get("DB_PASSWORD")`,
		"export API_KEY=$API_KEY\nexport DB_PASSWORD=${DB_PASSWORD:?}\nTOKEN=\"$(cat /run/secrets/token)\"",
		`{"password": "***", "api_key": "[REDACTED:secret_assignment]", "token": "<redacted>"}`,
		`{"type": "object", "properties": {"password": {"type": "string"}, "api_key": {"type": "string"}}}`,
		"secretKeyRef:\n  name: db-creds\n  key: password\n",
		"mysql -u root -p mydb\nssh -p 2222 deploy@10.0.0.5\ndocker run -p 8080:80 -e PORT=80 nginx",
		"Authorization: Bearer $TOKEN\nAuthorization: Bearer <token>\n",
		"base64 SGVsbG8sIHdvcmxkIQ== and hex 48656c6c6f",
		"the bearer of bad news; keyboard monkey passenger passport bypass compass",
		"tokens: 1234 tokens/s, tokenizer=cl100k_base, key=value, sort_key=created_at",
		"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor",
		"PUBLIC KEY -----BEGIN PUBLIC KEY-----\n" + g.s(chB64, 64) + "\n-----END PUBLIC KEY-----",
		"-----BEGIN CERTIFICATE-----\n" + g.s(chB64, 64) + "\n-----END CERTIFICATE-----",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(chB64, 43) + " agent@laptop",
		"price 1234.56 EUR, qty 13, order 2024-000123, invoice INV-1234567890123",
		"phone extension 4567, room 101, zip 94105-1234",
		"AKIAIOSFODNN7 and ASIA short and sk_live_short and ghp_short",
	}
}

func TestBenign(t *testing.T) {
	d := det(t)
	for _, text := range benignTexts() {
		if fs := d.Find(text, nil); len(fs) != 0 {
			t.Errorf("benign text reported:\n  %q%s", text, show(text, fs))
		}
	}
}
