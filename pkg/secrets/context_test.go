package secrets

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// ctxCase: text and the exact findings expected, as "type=value".
type ctxCase struct {
	name string
	text string
	want []string
}

func checkCases(t *testing.T, d *Detector, cases []ctxCase) {
	t.Helper()
	for _, c := range cases {
		fs := d.Find(c.text, nil)
		if err := findingsOK(c.text, fs); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Type+"="+c.text[f.Start:f.End])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n  text %q\n  got  %q\n  want %q", c.name, c.text, got, c.want)
		}
	}
}

func TestContextAssignments(t *testing.T) {
	g := newGen(11)
	rnd := g.mixed(chAlnum, 32)
	hex := g.s(chHex, 40)
	sig64 := g.s(chHex, 64)
	cases := []ctxCase{
		// env files and shells
		{"env", "DB_PASSWORD=hunter2\nDEBUG=true", []string{"password_assignment=hunter2"}},
		{"env export", "export API_KEY=abc123def456", []string{"secret_assignment=abc123def456"}},
		{"env quoted", `MYSQL_ROOT_PASSWORD="correct horse battery"`, []string{"password_assignment=correct horse battery"}},
		{"env single quoted", "SECRET='s3cr3t'", []string{"secret_assignment=s3cr3t"}},
		{"dockerfile env", "ENV SMTP_PASS=mailpass99", []string{"password_assignment=mailpass99"}},
		{"powershell", `$env:CLIENT_SECRET = "cs-value-1"`, []string{"secret_assignment=cs-value-1"}},
		{"env weak token random", "SERVICE_TOKEN=" + rnd, []string{"high_entropy_assignment=" + rnd}},
		{"env weak token hex", "GITHUB_TOKEN=" + hex, []string{"high_entropy_assignment=" + hex}},
		{"env weak token low entropy", "SERVICE_TOKEN=disabled-for-now", nil},
		{"env access token", "ACCESS_TOKEN=abc", []string{"secret_assignment=abc"}},
		{"aws secret", "AWS_SECRET_ACCESS_KEY=" + "AbCdEfGhIj" + strings.Repeat("Kl0/", 7) + "mn", []string{"aws_secret_access_key=AbCdEfGhIj" + strings.Repeat("Kl0/", 7) + "mn"}},
		// JSON
		{"json", `{"username": "bob", "password": "hunter2"}`, []string{"password_assignment=hunter2"}},
		{"json api_key", `{"api_key":"k-12345"}`, []string{"secret_assignment=k-12345"}},
		{"json camel", `{"clientSecret": "xyz-987"}`, []string{"secret_assignment=xyz-987"}},
		{"json escaped quote", `{"password": "pa\"ss"}`, []string{`password_assignment=pa\"ss`}},
		{"json in json", `{"input": "{\"password\": \"inner-pw\"}"}`, []string{"password_assignment=inner-pw"}},
		{"json number", `{"pin_password": 123456}`, []string{"password_assignment=123456"}},
		{"json null", `{"password": null, "token": ""}`, nil},
		{"json object", `{"password": {"type": "string"}}`, nil},
		{"json schema string", `{"password": "string"}`, nil},
		{"env in json string", `{"content":"HOME=/h\nSTRIPE_KEY=` + "x" + rnd + `\nDB_PASSWORD=pw-in-json\n"}`,
			[]string{"high_entropy_assignment=x" + rnd, "password_assignment=pw-in-json"}},
		{"yaml in json string", `{"content":"db:\n  password: yaml-in-json\n  host: x\n"}`, []string{"password_assignment=yaml-in-json"}},
		{"json args array", `["mytool", "--password", "arr-pass-1"]`, []string{"password_assignment=arr-pass-1"}},
		// YAML
		{"yaml", "db:\n  host: db.internal\n  password: hunter2  # prod\n", []string{"password_assignment=hunter2"}},
		{"yaml quoted", "client_secret: 'abc def'", []string{"secret_assignment=abc def"}},
		{"yaml template", "password: \"{{ .Values.pw }}\"\ntoken: ${TOKEN}\napi_key: <your-api-key>\nsecret: ***", nil},
		{"yaml vault", "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256", nil},
		{"yaml ref", "secretKeyRef:\n  name: db\n  key: password", nil},
		// INI / TOML / properties / XML
		{"ini", "[db]\npassword = ini-pass-1\n", []string{"password_assignment=ini-pass-1"}},
		{"toml", `api_token = "tok-abc-123"`, []string{"secret_assignment=tok-abc-123"}},
		{"properties", "spring.datasource.password=springpw", []string{"password_assignment=springpw"}},
		{"xml", "<password>xmlpass</password>", []string{"password_assignment=xmlpass"}},
		// HTTP headers and query strings
		{"header", "X-Api-Key: hdr-key-123", []string{"secret_assignment=hdr-key-123"}},
		{"header private token", "PRIVATE-TOKEN: glx-notaformat-1", []string{"secret_assignment=glx-notaformat-1"}},
		{"query", "GET /v1/data?api_key=q1w2e3r4&page=2", []string{"secret_assignment=q1w2e3r4"}},
		{"query weak", "GET /v1/items?token=abc&page=2", nil},
		{"presigned", "https://b.s3.amazonaws.com/k?X-Amz-Signature=" + sig64 + "&X-Amz-Date=20240101T000000Z",
			[]string{"high_entropy_assignment=" + sig64}},
		// command lines
		{"flag eq", "deploy --password=flagpw1 --verbose", []string{"password_assignment=flagpw1"}},
		{"flag space", "deploy --api-token tkn-1234 --verbose", []string{"secret_assignment=tkn-1234"}},
		{"flag next flag", "login --password --stdin", nil},
		{"flag file", "login --password-file /run/secrets/pw", nil},
		{"keytool", "keytool -list -keystore ks.jks -storepass kspass1", []string{"password_assignment=kspass1"}},
		{"kubectl literal", "kubectl create secret generic db --from-literal=password=k8spw", []string{"password_assignment=k8spw"}},
		{"db ado", "Server=tcp:db.example.com;Database=app;User Id=sa;Password=AdoPw1;", []string{"db_connection_password=AdoPw1"}},
		{"db jdbc", "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=JdbcPw1;", []string{"db_connection_password=JdbcPw1"}},
		{"db jdbc query", "jdbc:mysql://db:3306/app?user=root&password=JdbcPw2", []string{"db_connection_password=JdbcPw2"}},
		// code: literals are reported, expressions are not
		{"code literal", `password = "codepw1"`, []string{"password_assignment=codepw1"}},
		{"code call", "password = getpass.getpass()", nil},
		{"code ref", "password = args.password", nil},
		{"code env", `password = os.environ["DB_PASSWORD"]`, nil},
		{"code type hint", "def login(user: str, password: str) -> bool:", nil},
		{"code compare", `if token == "":`, nil},
		// not secrets
		{"qualified keys", "password_length=12 token_type=bearer secret_name=db-creds api_key_id=k1 token_url=https://x/y", nil},
		{"llm tokens", `{"max_tokens": 4096, "input_tokens": 12, "output_tokens": 800, "total_tokens": 812}`, nil},
		{"prose", "Enter your password: ", nil},
		{"prose value", "Password: The password of the database account.\nAPI key: see the settings page", nil},
		{"prose word", "error: password: the one you typed", nil},
		{"passphrase", "passphrase: correct horse battery staple", []string{"password_assignment=correct horse battery staple"}},
		{"prose 2", "the token expired and the secret rotated", nil},
		{"pwd path", "PWD=/home/agent/project", nil},
		{"key path", `{"private_key": "/etc/ssl/private/server.key"}`, nil},
		{"public key", `{"public_key": "` + strings.Repeat("AAAA", 10) + `"}`, nil},
		{"ssh public", "ssh_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIabc user@host", nil},
		{"booleans", "password_required: true\nuse_token: false\nsecret: false", nil},
		{"cache key", `{"cache_key": "` + strings.Repeat("0f", 32) + `"}`, nil},
		{"idempotency", `{"idempotency_key": "123e4567-e89b-12d3-a456-426614174000"}`, nil},
		{"masked", "password=******** token=[REDACTED:github_pat_classic]", nil},
		{"param expansion", "private_key: ${env:SIGNING_KEY:-/etc/agent/checkpoint.key}\nX=${API_TOKEN:-dev-token-1}", nil},
		{"key files", "private_key: var/keys/local.key\n{\"PrivateKey\": \"k.pem\", \"client_secret_file\": \"creds.json\"}", nil},
		{"go assignment", "\tcfg.File.PrivateKey = path\n\tcfg.Token = token\n", nil},
		{"ini with digits", "password = hunter2", []string{"password_assignment=hunter2"}},
		{"go struct", "CertifySignature: certifySignature, Signature: sig,", nil},
		{"go test output", "--- PASS: TestVetDirs/cgo (0.04s)\n    --- PASS: FuzzFind/seed#4 (0.00s)\nPASS\n", nil},
		{"pass verb", "passThrough: true\npassConcreteToItfCallAdj: -30,\nbypass: yes", nil},
		{"constants", "PPPIOCSPASS = 0x40107447\nBPF_FILDROP_PASS = 0x0\nSCM_CREDS = 0x3\nIP_IPSEC_LOCAL_CRED = 0x19", nil},
		{"struct fields", "\t\tpwd:  oldDir,\n\t\textendedMasterSecret: true,\n\t\tPrivateKey: testRSAPrivateKey,\n", nil},
		{"format verb", `t.Logf("shared secret: %x", ss) and log.Printf("token=%s", tok) and "password={}"`, nil},
		{"key exchange", `"ServerKeyExchange-TLS": "first pass", "key_size": 2048, "token_bucket": "x1"`, nil},
		{"code identifiers", "config.PrivateKey = testEd25519PrivateKey\ndecapsulationKeySize1024 = k1024*encodingSize12\nself.password = pw1\n", nil},
		{"object literal", "\t{hexKey: hexPKCS8TestPKCS1Key, errorContains: \"x\"},\n\tcreds := Creds{Password: password, Token: tok}\n", nil},
		{"log line commas", "login failed: user: bob, password: hunter2, host: db1", []string{"password_assignment=hunter2"}},
		{"yaml flow", "auth: {password: Hunter2x}", []string{"password_assignment=Hunter2x"}},
		{"file name key", "// See runtime/secret.go:secret_dec and api_key.txt:12", nil},
		{"prose colon", `t.Errorf("unexpected exported secret: got %x want %x", got, value)`, nil},
		{"xml placeholder", "key_file: <CLIENT_KEY>\n  # Configure the client certificate.\n  cert_file: <CLIENT_CERT>", nil},
		{"arn", `"arn:aws:secretsmanager:us-east-1:123456789012:secret:SecretName-6RandomCharacters"`, nil},
		{"yaml tag", "api-key: !!str 1234", []string{"secret_assignment=1234"}},
		{"url redacted", "https://REDACTED:REDACTED@www.example.com/", nil},
		{"proto tags", "`protobuf:\"bytes,9,rep,name=metadata\" protobuf_key:\"bytes,1,opt,name=key\" protobuf_val:\"bytes,2,opt,name=value\"`", nil},
		{"npm deps", `"parse-passwd": "^1.0.0", "secret-handshake": "~2.3.1", "keytar": ">=7.9.0"`, nil},
		{"proto enum", "  FLOW_PASSWORD = 2;\n  FLOW_TOKEN = 3;", nil},
		{"label values", "objectPassword := \"objectPassword\"\n{\"apiKey\": \"apiKey\"}", nil},
		{"gha secrets", "    secrets: inherit", nil},
		{"nsswitch", "passwd:         compat\ngroup: files", nil},
		{"properties spaced", "spring.datasource.password = props-pw-1", []string{"password_assignment=props-pw-1"}},
		{"short pass keys", "DB_PASS=mailpass\nSMTP_PASS=Mail2024!\npass: hunter2\npwd: s3cret!", []string{
			"password_assignment=mailpass", "password_assignment=Mail2024!", "password_assignment=hunter2", "password_assignment=s3cret!"}},
		{"material words", `{"private_key_pem": "abc", "api_token_value": "xyz1"}`, []string{"secret_assignment=abc", "secret_assignment=xyz1"}},
		{"bearer word", "Authorization: Bearer token", nil},
	}
	checkCases(t, det(t), cases)
}

func TestContextHeadersURLsCLI(t *testing.T) {
	g := newGen(12)
	tok := g.mixed(chB64URL, 40)
	basic := "dXNlcjpwYXNzd29yZA=="
	sig64 := g.s(chHex, 64)
	cases := []ctxCase{
		{"bearer header", "Authorization: Bearer " + tok, []string{"http_auth_bearer=" + tok}},
		{"bearer lower", "authorization: bearer " + tok + "\r\n", []string{"http_auth_bearer=" + tok}},
		{"basic header", "Authorization: Basic " + basic, []string{"http_auth_basic=" + basic}},
		{"token scheme", "Authorization: token abcdef0123456789", []string{"http_auth_token=abcdef0123456789"}},
		{"curl header", "curl -sS -H 'Authorization: Bearer " + tok + "' https://api.example.com/v1", []string{"http_auth_bearer=" + tok}},
		{"curl header dq", `curl -H "Authorization: Basic ` + basic + `" https://x`, []string{"http_auth_basic=" + basic}},
		{"json header", `{"headers": {"Authorization": "Bearer ` + tok + `"}}`, []string{"http_auth_bearer=" + tok}},
		{"escaped json header", `{"cmd": "{\"Authorization\": \"Bearer ` + tok + `\"}"}`, []string{"http_auth_bearer=" + tok}},
		{"raw authorization", "Authorization: " + tok, []string{"http_auth_token=" + tok}},
		{"placeholder bearer", "Authorization: Bearer $TOKEN", nil},
		{"placeholder bearer 2", "-H 'Authorization: Bearer ${API_TOKEN}'", nil},
		{"bearer in log", "request failed with bearer " + tok + " (401)", []string{"http_auth_bearer=" + tok}},
		{"bearer prose", "the bearer of this message", nil},
		{"aws4", "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=" + sig64,
			[]string{"secret_assignment=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"}},
		{"authorization code", "authorization_code grant", nil},
		{"cookie", "Cookie: session_token=abc123xyz789; theme=dark; sid=42", []string{"secret_assignment=abc123xyz789"}},
		{"proxy authorization", "Proxy-Authorization: Basic " + basic, []string{"http_auth_basic=" + basic}},
		{"authorization field", "i.Authorization = socks5.AuthContext(*req.AuthContext)", nil},

		{"url password", "git clone https://user:url-pass-1@git.example.com/repo.git", []string{"url_password=url-pass-1"}},
		{"url token user", "https://" + tok + "@github.com/org/repo", []string{"url_token=" + tok}},
		{"url plain user", "ssh://git@github.com/org/repo.git", nil},
		{"postgres", "postgres://admin:pg-pass-1@db:5432/app?sslmode=require", []string{"db_connection_password=pg-pass-1"}},
		{"mongo srv", "mongodb+srv://app:mongo-pass-1@cluster0.abcde.mongodb.net/db", []string{"db_connection_password=mongo-pass-1"}},
		{"redis empty user", "redis://:redis-pass-1@cache:6379/0", []string{"db_connection_password=redis-pass-1"}},
		{"mysql at in pass", "mysql://root:p@ss@db/app", []string{"db_connection_password=p@ss"}},
		{"jdbc url", "jdbc:postgresql://u:jdbc-pw@h/db", []string{"db_connection_password=jdbc-pw"}},
		{"amqp", "amqp://guest:amqp-pw-1@rabbit:5672/", []string{"db_connection_password=amqp-pw-1"}},
		{"url placeholder", "postgres://user:${DB_PASSWORD}@db/app", nil},
		{"url no creds", "https://example.com/path?q=1#x", nil},

		{"mysql -p", "mysql -h db -u root -pMyPw123 app", []string{"cli_password=MyPw123"}},
		{"mysql -p space", "mysql -u root -p app", nil},
		{"mysqldump", "/usr/bin/mysqldump -uroot -pDumpPw1 --all-databases > x.sql", []string{"cli_password=DumpPw1"}},
		{"ssh -p port", "ssh -p 2222 user@10.0.0.1", nil},
		{"docker -p port", "docker run -p 8080:80 nginx", nil},
		{"docker login", "docker login -u bot -p DockerPw1 registry.example.com", []string{"cli_password=DockerPw1"}},
		{"sshpass", "sshpass -p 'SshPw 1' ssh admin@host", []string{"cli_password=SshPw 1"}},
		{"redis-cli", "redis-cli -h cache -a RedisPw1 ping", []string{"cli_password=RedisPw1"}},
		{"sqlcmd", "sqlcmd -S db -U sa -P SqlPw1 -Q 'select 1'", []string{"cli_password=SqlPw1"}},
		{"ldapsearch", "ldapsearch -x -D cn=admin -w LdapPw1 -b dc=x", []string{"cli_password=LdapPw1"}},
		{"mongo", "mongosh --host db -u app -p MongoPw1", []string{"cli_password=MongoPw1"}},
		{"curl -u", "curl -u alice:CurlPw1 https://api.example.com", []string{"cli_password=CurlPw1"}},
		{"curl -u user only", "curl -u alice https://api.example.com", nil},
		{"smbclient", "smbclient //srv/share -U alice%SmbPw1", []string{"cli_password=SmbPw1"}},
		{"openssl", "openssl pkcs12 -in a.p12 -passin pass:OsslPw1 -nodes", []string{"cli_password=OsslPw1"}},
		{"openssl env", "openssl pkcs12 -in a.p12 -passin env:P12PW", nil},
		{"sqlplus", "sqlplus scott/tiger1@orcl", []string{"cli_password=tiger1"}},
		{"json argv", `{"argv": ["mysql", "-uroot", "-pArgvPw1", "app"]}`, []string{"cli_password=ArgvPw1"}},
		{"mysql env", "MYSQL_PWD=EnvPw1 mysql -u root", []string{"password_assignment=EnvPw1"}},
	}
	checkCases(t, det(t), cases)
}

func TestContextProviders(t *testing.T) {
	g := newGen(13)
	awsSecret := g.mixed(chB64, 40)
	for !strings.ContainsAny(awsSecret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		awsSecret = g.mixed(chB64, 40)
	}
	keyID := "AKIA" + g.s(chB32AWS, 16)
	accountKey := g.s(chB64, 86) + "=="
	sak := g.s(chB64, 43) + "="
	sig := g.s(chAlnum, 40) + "%3D"
	vault := g.s(chAlnum, 24)
	cases := []ctxCase{
		{"aws csv", "Access key ID,Secret access key\n" + keyID + "," + awsSecret + "\n",
			[]string{"aws_access_key_id=" + keyID, "aws_secret_access_key=" + awsSecret}},
		{"aws configure", "aws configure set aws_secret_access_key " + awsSecret, []string{"aws_secret_access_key=" + awsSecret}},
		{"aws json", `{"AccessKeyId": "` + keyID + `", "SecretAccessKey": "` + awsSecret + `"}`,
			[]string{"aws_access_key_id=" + keyID, "aws_secret_access_key=" + awsSecret}},
		{"aws sha nearby", keyID + " commit " + strings.Repeat("3f2a", 10), []string{"aws_access_key_id=" + keyID}},
		{"azure storage", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + accountKey + ";EndpointSuffix=core.windows.net",
			[]string{"azure_storage_account_key=" + accountKey}},
		{"azure sb", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + sak,
			[]string{"azure_shared_access_key=" + sak}},
		{"azure sas", "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig=" + sig,
			[]string{"azure_sas_token=" + sig}},
		{"sig without sas", "https://example.com/x?sig=" + sig, nil},
		{"vault legacy", "export VAULT_TOKEN=s." + vault, []string{"vault_legacy_token=s." + vault}},
		{"vault header", "X-Vault-Token: s." + vault, []string{"vault_legacy_token=s." + vault}},
		{"legacy without vault", "value s." + vault, nil},
		{"format beats key", "GITHUB_TOKEN=" + func() string { b := g.s(chAlnum, 30); return "ghp_" + b + b62crc(b) }(), nil},
	}
	// the last case: expected is the github type over the same span
	last := &cases[len(cases)-1]
	v := last.text[len("GITHUB_TOKEN="):]
	last.want = []string{"github_pat_classic=" + v}
	checkCases(t, det(t), cases)
}

func TestIsSecretKey(t *testing.T) {
	d := det(t)
	yes := []string{"password", "PASSWORD", "db_password", "DB_PASS", "MYSQL_ROOT_PASSWORD", "passwd", "pwd", "passphrase",
		"secret", "client_secret", "clientSecret", "AWS_SECRET_ACCESS_KEY", "api_key", "apiKey", "APIKey", "x-api-key",
		"X-API-KEY", "apikey", "access_token", "accessToken", "refresh_token", "auth_token", "_authToken", "token", "auth",
		"Authorization", "private_key", "privateKey", "credentials", "creds", "signing_key", "encryption_key", "storepass",
		"--password", "session_token", "x-amz-security-token", "webhook_secret", "secret_id", "GITHUB_TOKEN", "OPENAI_KEY",
		"stripe_key", "X-Amz-Signature", "bearer_token", "app.secret", "spring.datasource.password", "Ocp-Apim-Subscription-Key"}
	no := []string{"", "user", "username", "key", "keys", "sort_key", "cache_key", "primary_key", "idempotency_key",
		"password_file", "passwordFile", "token_url", "token_type", "secret_name", "secretName", "secretRef", "api_key_id",
		"max_tokens", "input_tokens", "total_tokens", "tokenizer", "author", "public_key", "publicKey", "bypass", "compass",
		"passenger", "passport", "keyboard", "monkey", "has_password", "use_token", "password_min_length", "token_expires_at",
		"next_page_token", "page_token", "secretary", "key_id", "trace_id", "session.id", "user.id", "gen_ai.usage.input_tokens",
		"password_required", "auth_type", "auth_url", "token_endpoint", "keyId", "client_id", "signature", "sig",
		"CertifySignature", "X-Hub-Signature-256"}
	for _, k := range yes {
		if !d.IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range no {
		if d.IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true, want false", k)
		}
	}
	d2 := mustNew(t, Options{AllowKeys: []string{"Session_Token"}})
	if d2.IsSecretKey("session_token") {
		t.Error("allowlisted key still secret")
	}
}

func TestFindValue(t *testing.T) {
	d := det(t)
	g := newGen(14)
	ghb := g.s(chAlnum, 30)
	gh := "ghp_" + ghb + b62crc(ghb)
	rnd := g.mixed(chAlnum, 24)
	cases := []struct {
		key, value string
		want       []string
	}{
		{"password", "hunter2", []string{"password_assignment=hunter2"}},
		{"password", "  padded pw  ", []string{"password_assignment=padded pw"}},
		{"db.password", "changeme", []string{"password_assignment=changeme"}},
		{"api_key", "k1", []string{"secret_assignment=k1"}},
		{"api_key", "x", nil},
		{"token", rnd, []string{"high_entropy_assignment=" + rnd}},
		{"token", "short", nil},
		{"token", gh, []string{"github_pat_classic=" + gh}},
		{"notes", "my token is " + gh, []string{"github_pat_classic=" + gh}},
		{"password", "", nil},
		{"password", "***", nil},
		{"password", "<redacted>", nil},
		{"password", "[REDACTED:password_assignment]", nil},
		{"password", "${DB_PASSWORD}", nil},
		{"password", "$DB_PASSWORD", nil},
		{"password", "{{ secret }}", nil},
		{"password", "null", nil},
		{"password", "true", nil},
		{"secret", "[HMAC:k1:3f2a9c]", nil},
		{"private_key", "/etc/keys/id_rsa", nil},
		{"authorization", "Bearer " + rnd, []string{"http_auth_bearer=" + rnd}},
		{"Authorization", "Basic cXVhcnR6LXN2YzpzdGFwbGUtbWFwbGUtd2lsbG93LTM4", []string{"http_auth_basic=cXVhcnR6LXN2YzpzdGFwbGUtbWFwbGUtd2lsbG93LTM4"}},
		{"Proxy-Authorization", "SSWS " + rnd, []string{"http_auth_token=" + rnd}},
		{"authorization", "Token " + gh, []string{"github_pat_classic=" + gh}},
		{"authorization", "Basic auth", nil},
		{"http.request.header.authorization", "Basic dXNlcjpUcjB1YjRkb3IuM3h5eg==", []string{"http_auth_basic=dXNlcjpUcjB1YjRkb3IuM3h5eg=="}},
		{"user", "bob", nil},
		{"ssn", "078051121", []string{"pii_us_ssn=078051121"}},
		{"ssn", "000051121", nil},
		{"email", "alice@example.com", []string{"pii_email=alice@example.com"}},
	}
	for _, c := range cases {
		fs := d.FindValue(c.key, c.value, nil)
		if err := findingsOK(c.value, fs); err != nil {
			t.Errorf("FindValue(%q, %q): %v", c.key, c.value, err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Type+"="+c.value[f.Start:f.End])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("FindValue(%q, %q) = %q, want %q", c.key, c.value, got, c.want)
		}
	}
	// dst is appended to, not overwritten
	pre := []Finding{{0, 1, "jwt"}}
	out := d.FindValue("password", "pw-1", pre)
	if len(out) != 2 || out[0] != pre[0] {
		t.Errorf("FindValue did not append: %v", out)
	}
}

func TestOptions(t *testing.T) {
	g := newGen(15)
	b := g.s(chAlnum, 30)
	gh := "ghp_" + b + b62crc(b)
	text := fmt.Sprintf("token %s mail bob@example.com card 4111 1111 1111 1111 password=allowed-pw", gh)

	all := det(t).Find(text, nil)
	if len(all) != 4 {
		t.Fatalf("default: %s", show(text, all))
	}
	d := mustNew(t, Options{DisabledClasses: []Class{ClassEmail, ClassPaymentCard}})
	if fs := d.Find(text, nil); len(fs) != 2 {
		t.Errorf("PII off: %s", show(text, fs))
	}
	d = mustNew(t, Options{DisabledClasses: []Class{ClassSecret}})
	if fs := d.Find(text, nil); len(fs) != 2 || fs[0].Type != "pii_email" {
		t.Errorf("secrets off: %s", show(text, fs))
	}
	d = mustNew(t, Options{AllowValues: []string{gh}, AllowPatterns: []string{`allowed-.*`}})
	if fs := d.Find(text, nil); len(fs) != 2 {
		t.Errorf("allowlist: %s", show(text, fs))
	}
	// patterns are anchored: a partial match does not allow
	d = mustNew(t, Options{AllowPatterns: []string{`allowed`}})
	if fs := d.Find(text, nil); len(fs) != 4 {
		t.Errorf("anchored allow pattern: %s", show(text, fs))
	}
	d = mustNew(t, Options{DisabledTypes: []string{"github_pat_classic"}})
	if fs := d.Find(text, nil); len(fs) != 3 {
		t.Errorf("type off: %s", show(text, fs))
	}
	for _, o := range []Options{
		{DisabledClasses: []Class{"nope"}},
		{DisabledTypes: []string{"nope"}},
		{AllowPatterns: []string{"("}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// Markers the scrub processor writes are not findings again (scrubbing is
// idempotent), but only their exact shapes: a secret inside something that
// merely looks like a marker is still found.
func TestMarkers(t *testing.T) {
	d := det(t)
	g := newGen(77)
	ghb := g.s(chAlnum, 30)
	gh := "ghp_" + ghb + b62crc(ghb)
	for _, text := range []string{
		"mysql -h db -u root -p[REDACTED:cli_password] app",
		"git clone https://[REDACTED:url_token]@github.com/acme/infra.git",
		"curl -u deploy:[HMAC:cli_password:k1:0123456789abcdef0123456789abcdef] https://x.example",
		"PGPASSWORD=[REDACTED:password_assignment] psql",
		"body [HMAC:content:2026-11:" + strings.Repeat("ab", 32) + "]",
	} {
		if fs := d.Find(text, nil); len(fs) != 0 {
			t.Errorf("Find(%q) = %v, want nothing", text, fs)
		}
	}
	for _, text := range []string{
		"[X:" + gh + "]",
		"[REDACTED:" + gh + "]",
		"[HMAC:content:k1:" + gh + "]",
	} {
		fs := d.Find(text, nil)
		if len(fs) != 1 || text[fs[0].Start:fs[0].End] != gh {
			t.Errorf("Find(%q) = %v, want the token", text, fs)
		}
	}
}

// A value under a secret-naming key that already holds a marker was scrubbed
// under that key: the rest of it is not a new secret (idempotence).
func TestFindValueAfterScrubbing(t *testing.T) {
	d := det(t)
	for _, v := range []string{"[REDACTED:gitlab_cicd_job_token]://", "[REDACTED:stripe_restricted_key].keY "} {
		if fs := d.FindValue("0PASS", v, nil); len(fs) != 0 {
			t.Errorf("FindValue(0PASS, %q) = %v, want nothing", v, fs)
		}
	}
	if fs := d.FindValue("DB_PASSWORD", "hunter2x", nil); len(fs) != 1 {
		t.Errorf("a plain password is still found: %v", fs)
	}
}
