package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The generator of testdata/corpus. Everything is derived from seeded
// generators, so the output is byte-for-byte reproducible; every token is
// random (checksums computed here, independently of the package) and fake.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/corpus/*.jsonl from the generator")

// TestCorpusUpToDate regenerates the corpus in memory and compares it with the
// committed files; with -update-corpus it writes them instead.
func TestCorpusUpToDate(t *testing.T) {
	sec, ben := genCorpus()
	files := []struct {
		name string
		data []byte
	}{
		{"secrets.jsonl", encodeJSONL(t, sec)},
		{"benign.jsonl", encodeJSONL(t, ben)},
	}
	for _, f := range files {
		path := filepath.Join(corpusDir, f.name)
		if *updateCorpus {
			if err := os.MkdirAll(corpusDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(f.data))
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (generate it: go test ./pkg/secrets -run TestCorpusUpToDate -update-corpus)", err)
		}
		if !bytes.Equal(got, f.data) {
			gl, wl := bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")), bytes.Split(bytes.TrimSuffix(f.data, []byte("\n")), []byte("\n"))
			line := 0
			for line < len(gl) && line < len(wl) && bytes.Equal(gl[line], wl[line]) {
				line++
			}
			show := func(ls [][]byte) string {
				if line < len(ls) {
					return string(ls[line][:min(len(ls[line]), 300)])
				}
				return "(end of file)"
			}
			t.Errorf("%s differs from the generator at line %d (%d lines committed, %d generated):\n  committed %s\n  generated %s\n"+
				"regenerate: go test ./pkg/secrets -run TestCorpusUpToDate -update-corpus", path, line+1, len(gl), len(wl), show(gl), show(wl))
		}
	}
}

func encodeJSONL[T any](t *testing.T, rows []T) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// jq returns s as a JSON string literal (no HTML escaping); jin the same
// without the quotes: how s appears inside a JSON string.
func jq(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func jin(s string) string { q := jq(s); return q[1 : len(q)-1] }

// jsonIndent re-indents a compact JSON document, as tools print it.
func jsonIndent(s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		panic(fmt.Sprintf("bad JSON %v: %s", err, s))
	}
	return b.String()
}

func sec(typ, v string) corpusSecret { return corpusSecret{Type: typ, Value: v} }

// corpusGen accumulates samples; ids are <type of the first secret>-<n>.
type corpusGen struct {
	g       *gen
	samples []corpusSample
	benign  []benignSample
	count   map[string]int
}

func (c *corpusGen) add(payload, text string, secrets ...corpusSecret) {
	if len(secrets) == 0 {
		panic("sample without secrets: " + text)
	}
	for _, s := range secrets {
		if TypeClass(s.Type) == "" {
			panic("unknown type " + s.Type)
		}
		if s.Value == "" || !strings.Contains(text, s.Value) {
			panic(fmt.Sprintf("%s value %q not in text %q", s.Type, s.Value, text))
		}
	}
	if strings.Contains(text, "{") && (strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[")) && payload != "code" {
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			panic(fmt.Sprintf("payload %s is not valid JSON (%v): %s", payload, err, text))
		}
	}
	id := secrets[0].Type
	c.count[id]++
	c.samples = append(c.samples, corpusSample{ID: fmt.Sprintf("%s-%d", id, c.count[id]), Payload: payload, Text: text, Secrets: secrets})
}

func (c *corpusGen) addBenign(payload, kind, text string) {
	c.count["benign-"+kind]++
	c.benign = append(c.benign, benignSample{ID: fmt.Sprintf("benign-%s-%d", kind, c.count["benign-"+kind]), Payload: payload, Kind: kind, Text: text})
}

// seeded returns a generator seeded from a name, so that adding a type does
// not change the tokens of the others.
func seeded(name string) *gen {
	h := fnv.New64a()
	h.Write([]byte(name))
	return newGen(h.Sum64())
}

func genCorpus() ([]corpusSample, []benignSample) {
	c := &corpusGen{count: map[string]int{}}
	genFormatSamples(c)
	genContextSamples(c)
	genPIISamples(c)
	genBenignSamples(c)
	return c.samples, c.benign
}

// ---------------------------------------------------------------------------
// Tokens of the known formats.

func uuidOf(g *gen) string {
	h := func(n int) string { return g.s(chHex, n) }
	return h(8) + "-" + h(4) + "-4" + h(3) + "-" + g.s("89ab", 1) + h(3) + "-" + h(12)
}

func ghToken(g *gen, prefix string) string {
	body := g.mixed(chAlnum, 30)
	return prefix + body + b62crc(body)
}

func pemBlock(g *gen, label string, lines int, headers string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + label + "-----\n")
	b.WriteString(headers)
	for i := 0; i < lines; i++ {
		b.WriteString(g.s(chB64, 64) + "\n")
	}
	b.WriteString(g.s(chB64, 20+g.r.IntN(40)) + "=\n")
	b.WriteString("-----END " + label + "-----")
	return b.String()
}

func ageKey(g *gen) string {
	data := make([]byte, 52)
	for i := range data {
		data[i] = byte(g.r.IntN(32))
	}
	const cs = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	var b strings.Builder
	for _, v := range data {
		b.WriteByte(cs[v])
	}
	return strings.ToUpper("age-secret-key-1" + b.String() + bech32Checksum("age-secret-key-", data))
}

func puttyKey(g *gen, comment string) (file, private string) {
	file = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: " + comment + "\nPublic-Lines: 2\n" +
		"AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(chB64, 39) + "\n" + g.s(chB64, 20) + "\n"
	private = "Private-Lines: 1\n" + g.s(chB64, 44) + "\nPrivate-MAC: " + g.s(chHex, 64)
	return file + private + "\n", private
}

// fmtToken returns a fresh token of a format type (for the webhook types, the
// whole URL).
func fmtToken(typ string, g *gen) string {
	a := func(n int) string { return g.mixed(chAlnum, n) }
	h := func(n int) string { return g.s(chHex, n) }
	w := func(n int) string { return g.mixed(chB64URL, n) }
	d := func(n int) string { return g.s("123456789", 1) + g.s(chDigits, n-1) }
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	pick := func(xs ...string) string { return xs[g.r.IntN(len(xs))] }
	switch typ {
	case tGHClassic:
		return ghToken(g, "ghp_")
	case tGHOAuth:
		return ghToken(g, "gho_")
	case tGHU2S:
		return ghToken(g, "ghu_")
	case tGHS2S:
		return ghToken(g, "ghs_")
	case tGHRefresh:
		return ghToken(g, "ghr_")
	case tGHFine:
		return "github_pat_11" + g.s(chUpperDig, 20) + "_" + a(59)
	case tGLPAT:
		if g.r.IntN(2) == 0 {
			return "glpat-" + w(20)
		}
		return "glpat-" + w(27) + ".01.0" + g.s(chLowerDig, 8)
	case tGLDeploy:
		return "gldt-" + w(20)
	case tGLRunner:
		return "glrt-t1_" + w(27) + ".0w." + g.s(chLowerDig, 9)
	case tGLRunReg:
		return "GR1348941" + w(20)
	case tGLTrigger:
		return "glptt-" + h(40)
	case tGLJob:
		return "glcbt-" + h(2) + "_" + w(20)
	case tGLOAuth:
		return "gloas-" + w(64)
	case tGLFeed:
		return "glft-" + w(20)
	case tGLMail:
		return "glimt-" + w(25)
	case tGLAgent:
		return "glagent-" + w(50)
	case tGLSCIM:
		return "glsoat-" + w(20)
	case tGLFeatFlag:
		return "glffct-" + w(20)
	case tAWSKeyID:
		return pick("AKIA", "AKIA", "ASIA") + g.s(chB32AWS, 16)
	case tAWSSession:
		return pick("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdz") + g.s(chB64, 300+g.r.IntN(300)) + pick("", "=", "==")
	case tAWSBedrock:
		return "ABSKQmVkcm9ja0FQSUtleS" + g.s(chB64, 110) + "="
	case tGCPAPIKey:
		return "AIza" + w(35)
	case tGCPOAuthSec:
		return "GOCSPX-" + w(28)
	case tGCPAccess:
		return "ya29." + w(150+g.r.IntN(60))
	case tGCPRefresh:
		return "1//0" + w(100)
	case tAzureADSecret:
		return a(3) + g.s(chDigits, 1) + "Q~" + g.mixed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.", 34)
	case tAzureDevOps:
		return a(76) + "AZDO" + a(4)
	case tSlackBot:
		return "xoxb-" + d(12) + "-" + d(13) + "-" + a(24)
	case tSlackUser:
		return "xoxp-" + d(12) + "-" + d(12) + "-" + d(13) + "-" + h(32)
	case tSlackApp:
		return "xapp-1-A" + g.s(chUpperDig, 10) + "-" + d(13) + "-" + h(64)
	case tSlackConfig:
		return "xoxe.xoxp-1-" + a(163)
	case tSlackRefresh:
		return "xoxe-1-" + a(146)
	case tSlackLegacy:
		return pick("xoxa-2-", "xoxs-", "xoxr-") + d(12) + "-" + a(32)
	case tSlackWebhook:
		return "https://hooks.slack.com/services/T" + g.s(chUpperDig, 10) + "/B" + g.s(chUpperDig, 10) + "/" + a(24)
	case tDiscordHook:
		return "https://discord.com/api/webhooks/" + d(18) + "/" + w(68)
	case tTeamsHook:
		return "https://" + pick("contoso", "acmecorp", "fabrikam") + ".webhook.office.com/webhookb2/" + uuidOf(g) + "@" + uuidOf(g) +
			"/IncomingWebhook/" + h(32) + "/" + uuidOf(g)
	case tStripeLive:
		return "sk_live_" + a(99)
	case tStripeTest:
		return "sk_test_" + a(99)
	case tStripeRK:
		return pick("rk_live_", "rk_test_") + a(99)
	case tStripeWebhook:
		return "whsec_" + a(32)
	case tTwilioKey:
		return "SK" + h(32)
	case tSendGrid:
		return "SG." + w(22) + "." + w(43)
	case tShopifyAT:
		return "shpat_" + h(32)
	case tShopifyCA:
		return "shpca_" + h(32)
	case tShopifyPA:
		return "shppa_" + h(32)
	case tShopifySS:
		return "shpss_" + h(32)
	case tAtlassian:
		return "ATATT3xFfGF0" + w(170) + "=" + strings.ToUpper(h(8))
	case tBitbucket:
		return "ATBB" + a(32)
	case tLinearAPI:
		return "lin_api_" + a(40)
	case tLinearOAuth:
		return "lin_oauth_" + h(64)
	case tPostman:
		return "PMAK-" + h(24) + "-" + h(34)
	case tFigma:
		return "figd_" + w(40)
	case tNotion:
		return "ntn_" + a(46)
	case tNotionLegacy:
		return "secret_" + a(43)
	case tAirtable:
		return "pat" + a(14) + "." + h(64)
	case tMailchimp:
		return h(32) + "-us" + pick("6", "12", "19", "21")
	case tSentryOrg:
		return "sntrys_" + base64.RawStdEncoding.EncodeToString([]byte(`{"iat":1716200000.0,"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"acme"}`)) + "_" + a(43)
	case tSentryUser:
		return "sntryu_" + h(64)
	case tContentful:
		return "CFPAT-" + w(43)
	case tTypeform:
		return "tfp_" + w(44) + "_" + w(14)
	case tSquareAT:
		return "sq0atp-" + w(22)
	case tSquareSec:
		return "sq0csp-" + w(43)
	case tBraintree:
		return "access_token$production$" + g.s(chLowerDig, 16) + "$" + h(32)
	case tFacebook:
		return "EAA" + pick("CEdEose0cBA", "GZA", "Bw") + a(160)
	case tTwitterBearer:
		return strings.Repeat("A", 22) + "MLheAAAAAAAA" + a(24) + "%3D" + a(50)
	case tMapbox:
		return "sk.eyJ" + w(80) + "." + w(22)
	case tDropbox:
		return "sl." + w(140)
	case tShippo:
		return pick("shippo_live_", "shippo_test_") + h(40)
	case tDuffel:
		return pick("duffel_live_", "duffel_test_") + w(43)
	case tEasyPost:
		return pick("EZAK", "EZTK") + a(54)
	case tFlutterwave:
		return pick("FLWSECK-", "FLWSECK_TEST-") + h(32) + "-X"
	case tPlaid:
		return "access-" + pick("sandbox", "development", "production") + "-" + uuidOf(g)
	case tSalesforce:
		return "00D" + a(15) + "!" + a(100)
	case tAdobe:
		return "p8e-" + w(32)
	case tOnePassSA:
		return "ops_" + b64(`{"signInAddress":"my.1password.com","userAuth":{"method":"SRPg-4096","alg":"PBES2g-HS256","iterations":650000}`) + a(120)
	case tOnePassSK:
		return "A3-" + g.s(chUpperDig, 6) + "-" + g.s(chUpperDig, 6) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5) + "-" + g.s(chUpperDig, 5)
	case tMaxmind:
		return a(6) + "_" + a(29) + "_mmk"
	case tOpenAIProject:
		return "sk-proj-" + w(74) + "T3BlbkFJ" + w(74)
	case tOpenAISvc:
		return "sk-svcacct-" + w(74) + "T3BlbkFJ" + w(74)
	case tOpenAIAdmin:
		return "sk-admin-" + w(74) + "T3BlbkFJ" + w(74)
	case tOpenAILegacy:
		return "sk-" + a(20) + "T3BlbkFJ" + a(20)
	case tAnthropicAPI:
		return "sk-ant-api03-" + w(93) + "AA"
	case tAnthropicAdm:
		return "sk-ant-admin01-" + w(93) + "AA"
	case tAnthropicOAT:
		return "sk-ant-oat01-" + w(93) + "AA"
	case tAnthropicORT:
		return "sk-ant-ort01-" + w(93) + "AA"
	case tHF:
		return "hf_" + g.s(chLetters, 34)
	case tHFOrg:
		return "api_org_" + g.s(chLetters, 34)
	case tGroq:
		return "gsk_" + a(52)
	case tReplicate:
		return "r8_" + a(37)
	case tPerplexity:
		return "pplx-" + a(48)
	case tXAI:
		return "xai-" + a(80)
	case tLangSmith:
		return pick("lsv2_pt_", "lsv2_sk_") + h(32) + "_" + h(10)
	case tOpenRouter:
		return "sk-or-v1-" + h(64)
	case tTavily:
		return pick("tvly-", "tvly-dev-", "tvly-prod-") + a(32)
	case tFirecrawl:
		return "fc-" + h(32)
	case tPinecone:
		return "pcsk_" + a(5) + "_" + a(60)
	case tElevenLabs:
		return "sk_" + h(48)
	case tNPM:
		return ghToken(g, "npm_")
	case tPyPI:
		return pick("pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw") + w(150)
	case tDockerPAT:
		return "dckr_pat_" + w(27)
	case tDockerOAT:
		return "dckr_oat_" + w(32)
	case tRubyGems:
		return "rubygems_" + h(48)
	case tNuGet:
		return "oy2" + g.s(chLowerDig, 43)
	case tClojars:
		return "CLOJARS_" + g.s(chLowerDig, 60)
	case tJFrogKey:
		return "AKCp" + a(69)
	case tJFrogRef:
		return "cmVmdGtuOjAxOj" + g.s(chAlnum, 50)
	case tVaultSvc:
		return "hvs." + w(90)
	case tVaultBatch:
		return "hvb." + w(120)
	case tVaultRecovery:
		return "hvr." + w(30)
	case tTFCloud:
		return a(14) + ".atlasv1." + w(67)
	case tDOPAT:
		return "dop_v1_" + h(64)
	case tDOOAuth:
		return "doo_v1_" + h(64)
	case tDORefresh:
		return "dor_v1_" + h(64)
	case tDatabricks:
		return "dapi" + h(32) + pick("", "-2", "-3")
	case tGrafanaCloud:
		return "glc_" + g.s(chB64, 120) + "=="
	case tGrafanaSA:
		return "glsa_" + a(32) + "_" + h(8)
	case tGrafanaKey:
		return "eyJrIjoi" + g.s(chB64, 60) + "="
	case tNRUser:
		return "NRAK-" + g.s(chUpperDig, 27)
	case tNRAdmin:
		return "NRAA-" + g.s(chUpperDig, 27)
	case tNRInsert:
		return "NRII-" + w(32)
	case tNRQuery:
		return "NRIQ-" + w(32)
	case tNRBrowser:
		return "NRJS-" + h(19)
	case tNRLicense:
		return h(36) + "NRAL"
	case tTelegram:
		return d(10) + ":AA" + w(33)
	case tHeroku:
		return "HRKU-AA" + w(58)
	case tPulumi:
		return "pul-" + h(40)
	case tDoppler:
		return pick("dp.pt.", "dp.st.prd.", "dp.sa.", "dp.ct.") + a(43)
	case tFlyio:
		return "fo1_" + w(43)
	case tPlanetScale:
		return pick("pscale_tkn_", "pscale_pw_", "pscale_oauth_") + w(43)
	case tSupabase:
		return "sbp_" + h(40)
	case tSupabaseSec:
		return "sb_secret_" + w(31)
	case tNeon:
		return "napi_" + g.s(chLowerDig, 64)
	case tCloudflareCA:
		return "v1.0-" + h(24) + "-" + h(146)
	case tAlibaba:
		return "LTAI" + a(20)
	case tDynatrace:
		return "dt0c01." + g.s(chUpperDig, 24) + "." + g.s(chUpperDig, 64)
	case tTailscale:
		return pick("tskey-auth-", "tskey-api-", "tskey-client-") + "k" + a(10) + "CNTRL-" + a(33)
	case tPrefect:
		return "pnu_" + a(36)
	case tReadme:
		return "rdme_" + g.s(chLowerDig, 70)
	case tFrameio:
		return "fio-u-" + w(64)
	case tOctopus:
		return "API-" + g.s(chUpperDig, 26)
	case tSourcegraph:
		return pick("sgp_"+h(16)+"_", "sgp_local_", "sgp_") + h(40)
	case tResend:
		return "re_" + a(8) + "_" + a(24)
	case tBuildkite:
		return "bkua_" + h(40)
	case tCircleCI:
		return "CCIPAT_" + a(22) + "_" + h(40)
	case tInfracost:
		return "ico-" + a(32)
	case tDjango:
		return "django-insecure-" + g.s("abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)", 50)
	case tAge:
		return ageKey(g)
	case tJWT:
		header := pick(`{"alg":"HS256","typ":"JWT"}`, `{"alg":"RS256","kid":"`+h(16)+`","typ":"JWT"}`, `{"typ":"JWT","alg":"ES256"}`)
		payload := fmt.Sprintf(`{"sub":"%s","iss":"https://auth.example.com/","aud":"api","iat":%d,"exp":%d,"scope":"read write"}`,
			uuidOf(g), 1717000000+g.r.IntN(1000000), 1718000000+g.r.IntN(1000000))
		return b64(header) + "." + b64(payload) + "." + w(43)
	}
	panic("no token generator for " + typ)
}

// ---------------------------------------------------------------------------
// Payload templates for the known formats.

// fmtSpec: how a format is used. env is the variable it is usually kept in,
// host the API it authenticates to, hdr how it is sent: "" (Authorization:
// Bearer), "token" (Authorization: token), "raw" (Authorization: <token>),
// "scheme:<Name>" (Authorization: <Name> <token>) or a header name.
type fmtSpec struct {
	typ, env, host, hdr string
	noHdr               bool   // not sent in a request header (signing secrets, client secrets, license keys)
	shq                 bool   // single-quoted in shells and env files (shell metacharacters)
	qkey                string // query parameter, for APIs that take the credential in the URL
	extra               []fmtTpl
	onlyExtra           bool
	want                func(tok string) string // the part that is reported (default: the whole token)
}

type fmtTpl struct {
	payload string
	text    func(s *fmtSpec, tok string) string
	hdr     bool // needs a header form
	query   bool // needs qkey
}

func (s *fmtSpec) slug() string {
	w, _, _ := strings.Cut(strings.ToLower(s.env), "_")
	return w
}

func (s *fmtSpec) lkey() string { return strings.ToLower(s.env) }

func (s *fmtSpec) q() string {
	if s.shq {
		return "'"
	}
	return ""
}

// header returns the header name and value carrying tok.
func (s *fmtSpec) header(tok string) (string, string) {
	switch {
	case s.hdr == "":
		return "Authorization", "Bearer " + tok
	case s.hdr == "token":
		return "Authorization", "token " + tok
	case s.hdr == "raw":
		return "Authorization", tok
	case strings.HasPrefix(s.hdr, "scheme:"):
		return "Authorization", s.hdr[len("scheme:"):] + " " + tok
	}
	return s.hdr, tok
}

var genericTpls = []fmtTpl{
	{payload: "shell", text: func(s *fmtSpec, tok string) string {
		return "$ export " + s.env + "=" + s.q() + tok + s.q() + "\n$ make deploy ENVIRONMENT=staging\n"
	}},
	{payload: "env", text: func(s *fmtSpec, tok string) string {
		lines := []string{"COLORTERM=truecolor", "HOME=/home/agent", "HOSTNAME=devbox-7f9c", "LANG=C.UTF-8",
			"PATH=/home/agent/.local/bin:/usr/local/bin:/usr/bin:/bin", "PWD=/home/agent/workspace", "SHELL=/bin/bash",
			"TERM=xterm-256color", "USER=agent", s.env + "=" + tok}
		sort.Strings(lines)
		return "$ env | sort\n" + strings.Join(lines, "\n") + "\n"
	}},
	{payload: "json_tool_input", text: func(s *fmtSpec, tok string) string {
		return `{"tool":"Write","input":{"file_path":"/srv/app/.env","content":` +
			jq("NODE_ENV=production\nPORT=8080\n"+s.env+"="+s.q()+tok+s.q()+"\nLOG_LEVEL=info\n") + `}}`
	}},
	{payload: "json_tool_input", hdr: true, text: func(s *fmtSpec, tok string) string {
		n, v := s.header(tok)
		return `{"tool":"Bash","input":{"command":` + jq("curl -sS -H '"+n+": "+v+"' -H 'Accept: application/json' https://"+s.host+"/v1/me") +
			`,"description":"Check which account the credential belongs to"}}`
	}},
	{payload: "http_headers", hdr: true, text: func(s *fmtSpec, tok string) string {
		n, v := s.header(tok)
		return "GET /v1/account HTTP/1.1\r\nHost: " + s.host + "\r\nUser-Agent: agent-http/0.4\r\nAccept: */*\r\n" +
			n + ": " + v + "\r\nConnection: close\r\n\r\n"
	}},
	{payload: "config_yaml", text: func(s *fmtSpec, tok string) string {
		return "# " + s.slug() + ".yaml\n" + s.slug() + ":\n  base_url: https://" + s.host + "\n  " + s.lkey() + ": " + tok +
			"\n  timeout: 30s\n  retries: 3\n"
	}},
	{payload: "config_toml", text: func(s *fmtSpec, tok string) string {
		return "[" + s.slug() + "]\nendpoint = \"https://" + s.host + "\"\n" + s.lkey() + " = \"" + tok + "\"\nmax_retries = 5\n"
	}},
	{payload: "mcp_config", text: func(s *fmtSpec, tok string) string {
		return jsonIndent(`{"mcpServers":{` + jq(s.slug()) + `:{"command":"npx","args":["-y",` + jq(s.slug()+"-mcp-server") +
			`],"env":{` + jq(s.env) + `:` + jq(tok) + `}}}}`)
	}},
	{payload: "docker_cli", text: func(s *fmtSpec, tok string) string {
		return "docker run -d --name " + s.slug() + "-sync -e " + s.env + "=" + s.q() + tok + s.q() +
			" -e LOG_LEVEL=debug ghcr.io/acme/" + s.slug() + "-sync:2.3.1"
	}},
	{payload: "kubectl_cli", text: func(s *fmtSpec, tok string) string {
		return "kubectl -n prod create secret generic " + s.slug() + "-credentials --from-literal=" + s.lkey() + "=" + s.q() + tok + s.q() +
			" --dry-run=client -o yaml | kubectl apply -f -"
	}},
	{payload: "code", text: func(s *fmtSpec, tok string) string {
		return "import os\n\nos.environ.setdefault(\"" + s.env + "\", \"" + tok + "\")\nclient = make_client(timeout=30)\n"
	}},
	{payload: "log_line", text: func(s *fmtSpec, tok string) string {
		return "2024-06-11T09:42:17.381Z ERROR [" + s.slug() + "-client] request to https://" + s.host +
			"/v2/sync failed: 401 Unauthorized (credential " + tok + " rejected)\n"
	}},
	{payload: "prose", text: func(s *fmtSpec, tok string) string {
		return "I found the credential in the old deploy notes: " + tok +
			"\nI'll move it to the secret manager and remove it from the repository history."
	}},
	{payload: "ci_log", text: func(s *fmtSpec, tok string) string {
		return "Run echo \"" + s.env + "=" + tok + "\" >> \"$GITHUB_ENV\"\n  echo \"" + s.env + "=" + tok +
			"\" >> \"$GITHUB_ENV\"\n  shell: /usr/bin/bash -e {0}\n"
	}},
	{payload: "powershell", text: func(s *fmtSpec, tok string) string {
		return "PS C:\\Users\\agent\\repo> $env:" + s.env + " = \"" + tok + "\"\nPS C:\\Users\\agent\\repo> npm run deploy"
	}},
	{payload: "dockerfile", text: func(s *fmtSpec, tok string) string {
		return "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nENV " + s.env + "=" + s.q() + tok + s.q() +
			"\nRUN pip install --no-cache-dir -r requirements.txt\nCMD [\"python\", \"main.py\"]\n"
	}},
	{payload: "config_hcl", text: func(s *fmtSpec, tok string) string {
		return "variable \"" + s.lkey() + "\" {\n  type      = string\n  sensitive = true\n  default   = \"" + tok + "\"\n}\n"
	}},
	{payload: "json_tool_input", hdr: true, text: func(s *fmtSpec, tok string) string {
		n, v := s.header(tok)
		return `{"tool":"http_request","input":{"method":"GET","url":` + jq("https://"+s.host+"/v1/projects?limit=20") +
			`,"headers":{` + jq(n) + `:` + jq(v) + `,"Accept":"application/json"}}}`
	}},
	{payload: "json_tool_result", text: func(s *fmtSpec, tok string) string {
		return `{"type":"tool_result","tool_use_id":"toolu_01","content":` + jq("$ cat .env.local\n"+s.env+"="+s.q()+tok+s.q()+"\nFEATURE_FLAGS=beta\n") + `}`
	}},
	{payload: "url", query: true, text: func(s *fmtSpec, tok string) string {
		return `{"tool":"WebFetch","input":{"url":` + jq("https://"+s.host+"/v1/items?"+s.qkey+"="+tok+"&limit=20") + `,"prompt":"List the items"}}`
	}},
	{payload: "shell", text: func(s *fmtSpec, tok string) string {
		return "gh secret set " + s.env + " --repo acme/platform --body \"" + tok + "\""
	}},
	{payload: "json_tool_input", text: func(s *fmtSpec, tok string) string {
		return `{"tool":"Edit","input":{"file_path":"config/settings.json","old_string":` + jq(`"`+s.lkey()+`": ""`) +
			`,"new_string":` + jq(`"`+s.lkey()+`": "`+tok+`"`) + `}}`
	}},
	{payload: "k8s_manifest", text: func(s *fmtSpec, tok string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + s.slug() + "-credentials\n  namespace: prod\ntype: Opaque\nstringData:\n  " +
			s.env + ": \"" + tok + "\"\n"
	}},
	{payload: "docker_compose", text: func(s *fmtSpec, tok string) string {
		return "services:\n  worker:\n    image: ghcr.io/acme/worker:1.8.0\n    environment:\n      - " + s.env + "=" + tok +
			"\n      - LOG_LEVEL=info\n    restart: unless-stopped\n"
	}},
}

// fmtSpecs: every known format type, how it is configured and sent.
func fmtSpecs() []*fmtSpec {
	return []*fmtSpec{
		{typ: tGHClassic, env: "GITHUB_TOKEN", host: "api.github.com", hdr: "token", extra: []fmtTpl{gitRemoteTpl("x-access-token", "github.com")}},
		{typ: tGHOAuth, env: "GH_TOKEN", host: "api.github.com"},
		{typ: tGHU2S, env: "GITHUB_USER_TOKEN", host: "api.github.com"},
		{typ: tGHS2S, env: "GITHUB_TOKEN", host: "api.github.com", hdr: "token", extra: []fmtTpl{gitRemoteTpl("x-access-token", "github.com")}},
		{typ: tGHRefresh, env: "GITHUB_REFRESH_TOKEN", host: "github.com", noHdr: true},
		{typ: tGHFine, env: "GITHUB_PAT", host: "api.github.com", extra: []fmtTpl{gitRemoteTpl("oauth2", "github.com")}},

		{typ: tGLPAT, env: "GITLAB_TOKEN", host: "gitlab.com", hdr: "PRIVATE-TOKEN", extra: []fmtTpl{gitRemoteTpl("oauth2", "gitlab.com")}},
		{typ: tGLDeploy, env: "GITLAB_DEPLOY_TOKEN", host: "gitlab.example.com", noHdr: true, extra: []fmtTpl{gitRemoteTpl("gitlab+deploy-token-42", "gitlab.example.com")}},
		{typ: tGLRunner, env: "RUNNER_TOKEN", host: "gitlab.com", noHdr: true},
		{typ: tGLRunReg, env: "REGISTRATION_TOKEN", host: "gitlab.example.com", noHdr: true},
		{typ: tGLTrigger, env: "TRIGGER_TOKEN", host: "gitlab.com", noHdr: true},
		{typ: tGLJob, env: "CI_JOB_TOKEN", host: "gitlab.com", hdr: "JOB-TOKEN"},
		{typ: tGLOAuth, env: "GITLAB_OAUTH_SECRET", host: "gitlab.com", noHdr: true},
		{typ: tGLFeed, env: "GITLAB_FEED_TOKEN", host: "gitlab.com", noHdr: true, qkey: "feed_token"},
		{typ: tGLMail, env: "GITLAB_INCOMING_EMAIL_TOKEN", host: "gitlab.example.com", noHdr: true},
		{typ: tGLAgent, env: "GITLAB_AGENT_TOKEN", host: "kas.gitlab.com", noHdr: true},
		{typ: tGLSCIM, env: "GITLAB_SCIM_TOKEN", host: "gitlab.com"},
		{typ: tGLFeatFlag, env: "UNLEASH_INSTANCE_TOKEN", host: "gitlab.com", noHdr: true},

		{typ: tAWSKeyID, env: "AWS_ACCESS_KEY_ID", host: "sts.amazonaws.com", noHdr: true},
		{typ: tAWSSession, env: "AWS_SESSION_TOKEN", host: "s3.amazonaws.com", hdr: "X-Amz-Security-Token"},
		{typ: tAWSBedrock, env: "AWS_BEARER_TOKEN_BEDROCK", host: "bedrock-runtime.us-east-1.amazonaws.com"},

		{typ: tGCPAPIKey, env: "GEMINI_API_KEY", host: "generativelanguage.googleapis.com", hdr: "x-goog-api-key", qkey: "key"},
		{typ: tGCPOAuthSec, env: "GOOGLE_CLIENT_SECRET", host: "oauth2.googleapis.com", noHdr: true},
		{typ: tGCPAccess, env: "GOOGLE_OAUTH_ACCESS_TOKEN", host: "www.googleapis.com", qkey: "access_token"},
		{typ: tGCPRefresh, env: "GOOGLE_REFRESH_TOKEN", host: "oauth2.googleapis.com", noHdr: true},
		{typ: tAzureADSecret, env: "AZURE_CLIENT_SECRET", host: "login.microsoftonline.com", noHdr: true},
		{typ: tAzureDevOps, env: "AZURE_DEVOPS_EXT_PAT", host: "dev.azure.com", extra: []fmtTpl{gitRemoteTpl("build", "dev.azure.com")}},

		{typ: tSlackBot, env: "SLACK_BOT_TOKEN", host: "slack.com"},
		{typ: tSlackUser, env: "SLACK_USER_TOKEN", host: "slack.com"},
		{typ: tSlackApp, env: "SLACK_APP_TOKEN", host: "slack.com"},
		{typ: tSlackConfig, env: "SLACK_CONFIG_TOKEN", host: "slack.com"},
		{typ: tSlackRefresh, env: "SLACK_CONFIG_REFRESH_TOKEN", host: "slack.com", noHdr: true},
		{typ: tSlackLegacy, env: "SLACK_LEGACY_TOKEN", host: "slack.com", qkey: "token"},
		{typ: tSlackWebhook, env: "SLACK_WEBHOOK_URL", onlyExtra: true, extra: webhookTpls, want: func(u string) string {
			return u[strings.Index(u, "hooks.slack.com/")+len("hooks.slack.com/"):]
		}},
		{typ: tDiscordHook, env: "DISCORD_WEBHOOK_URL", onlyExtra: true, extra: webhookTpls, want: func(u string) string {
			return u[strings.LastIndexByte(u, '/')+1:]
		}},
		{typ: tTeamsHook, env: "TEAMS_WEBHOOK_URL", onlyExtra: true, extra: webhookTpls, want: func(u string) string {
			return u[strings.Index(u, "webhookb2/"):]
		}},

		{typ: tStripeLive, env: "STRIPE_SECRET_KEY", host: "api.stripe.com", extra: []fmtTpl{curlUserTpl("api.stripe.com/v1/charges")}},
		{typ: tStripeTest, env: "STRIPE_SECRET_KEY", host: "api.stripe.com"},
		{typ: tStripeRK, env: "STRIPE_RESTRICTED_KEY", host: "api.stripe.com"},
		{typ: tStripeWebhook, env: "STRIPE_WEBHOOK_SECRET", host: "api.stripe.com", noHdr: true},
		{typ: tTwilioKey, env: "TWILIO_API_KEY", host: "api.twilio.com", noHdr: true},
		{typ: tSendGrid, env: "SENDGRID_API_KEY", host: "api.sendgrid.com"},
		{typ: tShopifyAT, env: "SHOPIFY_ACCESS_TOKEN", host: "acme.myshopify.com", hdr: "X-Shopify-Access-Token"},
		{typ: tShopifyCA, env: "SHOPIFY_CUSTOM_APP_TOKEN", host: "acme.myshopify.com", hdr: "X-Shopify-Access-Token"},
		{typ: tShopifyPA, env: "SHOPIFY_PRIVATE_APP_PASSWORD", host: "acme.myshopify.com", hdr: "X-Shopify-Access-Token"},
		{typ: tShopifySS, env: "SHOPIFY_API_SECRET", host: "acme.myshopify.com", noHdr: true},
		{typ: tAtlassian, env: "JIRA_API_TOKEN", host: "acme.atlassian.net", noHdr: true},
		{typ: tBitbucket, env: "BITBUCKET_APP_PASSWORD", host: "api.bitbucket.org", noHdr: true, extra: []fmtTpl{gitRemoteTpl("ci-bot", "bitbucket.org")}},
		{typ: tLinearAPI, env: "LINEAR_API_KEY", host: "api.linear.app", hdr: "raw"},
		{typ: tLinearOAuth, env: "LINEAR_OAUTH_TOKEN", host: "api.linear.app"},
		{typ: tPostman, env: "POSTMAN_API_KEY", host: "api.getpostman.com", hdr: "X-Api-Key"},
		{typ: tFigma, env: "FIGMA_TOKEN", host: "api.figma.com", hdr: "X-Figma-Token"},
		{typ: tNotion, env: "NOTION_TOKEN", host: "api.notion.com"},
		{typ: tNotionLegacy, env: "NOTION_API_KEY", host: "api.notion.com"},
		{typ: tAirtable, env: "AIRTABLE_TOKEN", host: "api.airtable.com"},
		{typ: tMailchimp, env: "MAILCHIMP_API_KEY", host: "us6.api.mailchimp.com", extra: []fmtTpl{curlUserTpl("us6.api.mailchimp.com/3.0/lists")}},
		{typ: tSentryOrg, env: "SENTRY_AUTH_TOKEN", host: "sentry.io"},
		{typ: tSentryUser, env: "SENTRY_AUTH_TOKEN", host: "sentry.io"},
		{typ: tContentful, env: "CONTENTFUL_MANAGEMENT_TOKEN", host: "api.contentful.com"},
		{typ: tTypeform, env: "TYPEFORM_TOKEN", host: "api.typeform.com"},
		{typ: tSquareAT, env: "SQUARE_ACCESS_TOKEN", host: "connect.squareup.com"},
		{typ: tSquareSec, env: "SQUARE_APPLICATION_SECRET", host: "connect.squareup.com", noHdr: true},
		{typ: tBraintree, env: "BRAINTREE_ACCESS_TOKEN", host: "payments.braintree-api.com", noHdr: true, shq: true},
		{typ: tFacebook, env: "FACEBOOK_ACCESS_TOKEN", host: "graph.facebook.com", qkey: "access_token"},
		{typ: tTwitterBearer, env: "TWITTER_BEARER_TOKEN", host: "api.twitter.com"},
		{typ: tMapbox, env: "MAPBOX_SECRET_TOKEN", host: "api.mapbox.com", qkey: "access_token", noHdr: true},
		{typ: tDropbox, env: "DROPBOX_ACCESS_TOKEN", host: "api.dropboxapi.com"},
		{typ: tShippo, env: "SHIPPO_API_KEY", host: "api.goshippo.com", hdr: "scheme:ShippoToken"},
		{typ: tDuffel, env: "DUFFEL_ACCESS_TOKEN", host: "api.duffel.com"},
		{typ: tEasyPost, env: "EASYPOST_API_KEY", host: "api.easypost.com", extra: []fmtTpl{curlUserTpl("api.easypost.com/v2/shipments")}},
		{typ: tFlutterwave, env: "FLW_SECRET_KEY", host: "api.flutterwave.com"},
		{typ: tPlaid, env: "PLAID_ACCESS_TOKEN", host: "production.plaid.com", noHdr: true},
		{typ: tSalesforce, env: "SF_ACCESS_TOKEN", host: "acme.my.salesforce.com", shq: true},
		{typ: tAdobe, env: "ADOBE_CLIENT_SECRET", host: "ims-na1.adobelogin.com", noHdr: true},
		{typ: tOnePassSA, env: "OP_SERVICE_ACCOUNT_TOKEN", host: "my.1password.com", noHdr: true},
		{typ: tOnePassSK, env: "OP_SECRET_KEY", host: "my.1password.com", noHdr: true},
		{typ: tMaxmind, env: "MAXMIND_LICENSE_KEY", host: "download.maxmind.com", noHdr: true, qkey: "license_key"},

		{typ: tOpenAIProject, env: "OPENAI_API_KEY", host: "api.openai.com"},
		{typ: tOpenAISvc, env: "OPENAI_API_KEY", host: "api.openai.com"},
		{typ: tOpenAIAdmin, env: "OPENAI_ADMIN_KEY", host: "api.openai.com"},
		{typ: tOpenAILegacy, env: "OPENAI_API_KEY", host: "api.openai.com"},
		{typ: tAnthropicAPI, env: "ANTHROPIC_API_KEY", host: "api.anthropic.com", hdr: "x-api-key"},
		{typ: tAnthropicAdm, env: "ANTHROPIC_ADMIN_KEY", host: "api.anthropic.com", hdr: "x-api-key"},
		{typ: tAnthropicOAT, env: "CLAUDE_CODE_OAUTH_TOKEN", host: "api.anthropic.com"},
		{typ: tAnthropicORT, env: "ANTHROPIC_REFRESH_TOKEN", host: "console.anthropic.com", noHdr: true},
		{typ: tHF, env: "HF_TOKEN", host: "huggingface.co"},
		{typ: tHFOrg, env: "HF_ORG_TOKEN", host: "huggingface.co"},
		{typ: tGroq, env: "GROQ_API_KEY", host: "api.groq.com"},
		{typ: tReplicate, env: "REPLICATE_API_TOKEN", host: "api.replicate.com"},
		{typ: tPerplexity, env: "PERPLEXITY_API_KEY", host: "api.perplexity.ai"},
		{typ: tXAI, env: "XAI_API_KEY", host: "api.x.ai"},
		{typ: tLangSmith, env: "LANGSMITH_API_KEY", host: "api.smith.langchain.com", hdr: "x-api-key"},
		{typ: tOpenRouter, env: "OPENROUTER_API_KEY", host: "openrouter.ai"},
		{typ: tTavily, env: "TAVILY_API_KEY", host: "api.tavily.com"},
		{typ: tFirecrawl, env: "FIRECRAWL_API_KEY", host: "api.firecrawl.dev"},
		{typ: tPinecone, env: "PINECONE_API_KEY", host: "api.pinecone.io", hdr: "Api-Key"},
		{typ: tElevenLabs, env: "ELEVENLABS_API_KEY", host: "api.elevenlabs.io", hdr: "xi-api-key"},

		{typ: tNPM, env: "NPM_TOKEN", host: "registry.npmjs.org", extra: []fmtTpl{{payload: "config_ini", text: func(s *fmtSpec, tok string) string {
			return "$ cat ~/.npmrc\n@acme:registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=" + tok + "\nfund=false\n"
		}}}},
		{typ: tPyPI, env: "TWINE_PASSWORD", host: "upload.pypi.org", noHdr: true, extra: []fmtTpl{{payload: "config_ini", text: func(s *fmtSpec, tok string) string {
			return "# ~/.pypirc\n[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = " + tok + "\n"
		}}}},
		{typ: tDockerPAT, env: "DOCKERHUB_TOKEN", host: "hub.docker.com", extra: []fmtTpl{dockerLoginTpl}},
		{typ: tDockerOAT, env: "DOCKER_ORG_TOKEN", host: "hub.docker.com", extra: []fmtTpl{dockerLoginTpl}},
		{typ: tRubyGems, env: "GEM_HOST_API_KEY", host: "rubygems.org", hdr: "raw", extra: []fmtTpl{{payload: "config_yaml", text: func(s *fmtSpec, tok string) string {
			return "$ cat ~/.gem/credentials\n---\n:rubygems_api_key: " + tok + "\n"
		}}}},
		{typ: tNuGet, env: "NUGET_API_KEY", host: "api.nuget.org", hdr: "X-NuGet-ApiKey", extra: []fmtTpl{{payload: "shell", text: func(s *fmtSpec, tok string) string {
			return "dotnet nuget push bin/Release/Acme.Client.2.4.0.nupkg --api-key " + tok + " --source https://api.nuget.org/v3/index.json"
		}}}},
		{typ: tClojars, env: "CLOJARS_DEPLOY_TOKEN", host: "clojars.org", noHdr: true},
		{typ: tJFrogKey, env: "ARTIFACTORY_API_KEY", host: "acme.jfrog.io", hdr: "X-JFrog-Art-Api"},
		{typ: tJFrogRef, env: "JFROG_ACCESS_TOKEN", host: "acme.jfrog.io"},

		{typ: tVaultSvc, env: "VAULT_TOKEN", host: "vault.internal:8200", hdr: "X-Vault-Token"},
		{typ: tVaultBatch, env: "VAULT_TOKEN", host: "vault.internal:8200", hdr: "X-Vault-Token"},
		{typ: tVaultRecovery, env: "VAULT_RECOVERY_TOKEN", host: "vault.internal:8200", noHdr: true},
		{typ: tTFCloud, env: "TF_TOKEN_app_terraform_io", host: "app.terraform.io", extra: []fmtTpl{{payload: "config_hcl", text: func(s *fmtSpec, tok string) string {
			return "# ~/.terraformrc\ncredentials \"app.terraform.io\" {\n  token = \"" + tok + "\"\n}\n"
		}}}},
		{typ: tDOPAT, env: "DIGITALOCEAN_TOKEN", host: "api.digitalocean.com"},
		{typ: tDOOAuth, env: "DIGITALOCEAN_OAUTH_TOKEN", host: "api.digitalocean.com"},
		{typ: tDORefresh, env: "DIGITALOCEAN_REFRESH_TOKEN", host: "cloud.digitalocean.com", noHdr: true},
		{typ: tDatabricks, env: "DATABRICKS_TOKEN", host: "adb-1234567890123456.7.azuredatabricks.net"},
		{typ: tGrafanaCloud, env: "GRAFANA_CLOUD_TOKEN", host: "grafana.com"},
		{typ: tGrafanaSA, env: "GRAFANA_SERVICE_ACCOUNT_TOKEN", host: "grafana.acme.internal"},
		{typ: tGrafanaKey, env: "GRAFANA_API_KEY", host: "grafana.acme.internal"},
		{typ: tNRUser, env: "NEW_RELIC_API_KEY", host: "api.newrelic.com", hdr: "Api-Key"},
		{typ: tNRAdmin, env: "NEW_RELIC_ADMIN_API_KEY", host: "api.newrelic.com", hdr: "X-Api-Key"},
		{typ: tNRInsert, env: "NEW_RELIC_INSERT_KEY", host: "insights-collector.newrelic.com", hdr: "X-Insert-Key"},
		{typ: tNRQuery, env: "NEW_RELIC_QUERY_KEY", host: "insights-api.newrelic.com", hdr: "X-Query-Key"},
		{typ: tNRBrowser, env: "NEW_RELIC_BROWSER_KEY", host: "bam.nr-data.net", noHdr: true},
		{typ: tNRLicense, env: "NEW_RELIC_LICENSE_KEY", host: "log-api.newrelic.com", hdr: "X-License-Key"},
		{typ: tTelegram, env: "TELEGRAM_BOT_TOKEN", host: "api.telegram.org", noHdr: true, extra: []fmtTpl{{payload: "shell", text: func(s *fmtSpec, tok string) string {
			return "curl -s -X POST https://api.telegram.org/bot" + tok + "/sendMessage -d chat_id=-1001234567890 -d text='deploy finished'"
		}}, {payload: "url", text: func(s *fmtSpec, tok string) string {
			return `{"tool":"WebFetch","input":{"url":` + jq("https://api.telegram.org/bot"+tok+"/getUpdates?offset=-1") + `,"prompt":"Show the last message"}}`
		}}}},
		{typ: tHeroku, env: "HEROKU_API_KEY", host: "api.heroku.com", extra: []fmtTpl{{payload: "config_ini", text: func(s *fmtSpec, tok string) string {
			return "$ cat ~/.netrc\nmachine api.heroku.com\n  login deploy-bot\n  password " + tok + "\nmachine git.heroku.com\n  login deploy-bot\n  password " + tok + "\n"
		}}}},
		{typ: tPulumi, env: "PULUMI_ACCESS_TOKEN", host: "api.pulumi.com", hdr: "token"},
		{typ: tDoppler, env: "DOPPLER_TOKEN", host: "api.doppler.com"},
		{typ: tFlyio, env: "FLY_API_TOKEN", host: "api.machines.dev"},
		{typ: tPlanetScale, env: "PLANETSCALE_SERVICE_TOKEN", host: "api.planetscale.com"},
		{typ: tSupabase, env: "SUPABASE_ACCESS_TOKEN", host: "api.supabase.com"},
		{typ: tSupabaseSec, env: "SUPABASE_SECRET_KEY", host: "abcdefghijklmnop.supabase.co", hdr: "apikey"},
		{typ: tNeon, env: "NEON_API_KEY", host: "console.neon.tech"},
		{typ: tCloudflareCA, env: "CF_ORIGIN_CA_KEY", host: "api.cloudflare.com", hdr: "X-Auth-User-Service-Key"},
		{typ: tAlibaba, env: "ALIBABA_CLOUD_ACCESS_KEY_ID", host: "ecs.aliyuncs.com", noHdr: true},
		{typ: tDynatrace, env: "DT_API_TOKEN", host: "abc12345.live.dynatrace.com", hdr: "scheme:Api-Token"},
		{typ: tTailscale, env: "TS_AUTHKEY", host: "api.tailscale.com"},
		{typ: tPrefect, env: "PREFECT_API_KEY", host: "api.prefect.cloud"},
		{typ: tReadme, env: "README_API_KEY", host: "dash.readme.com"},
		{typ: tFrameio, env: "FRAMEIO_TOKEN", host: "api.frame.io"},
		{typ: tOctopus, env: "OCTOPUS_API_KEY", host: "octopus.acme.internal", hdr: "X-Octopus-ApiKey"},
		{typ: tSourcegraph, env: "SRC_ACCESS_TOKEN", host: "sourcegraph.com", hdr: "token"},
		{typ: tResend, env: "RESEND_API_KEY", host: "api.resend.com"},
		{typ: tBuildkite, env: "BUILDKITE_API_TOKEN", host: "api.buildkite.com"},
		{typ: tCircleCI, env: "CIRCLECI_TOKEN", host: "circleci.com", hdr: "Circle-Token"},
		{typ: tInfracost, env: "INFRACOST_API_KEY", host: "pricing.api.infracost.io", hdr: "X-Api-Key"},
		{typ: tDjango, env: "DJANGO_SECRET_KEY", onlyExtra: true, extra: djangoTpls},
		{typ: tAge, env: "SOPS_AGE_KEY", noHdr: true, extra: []fmtTpl{{payload: "shell", text: func(s *fmtSpec, tok string) string {
			g := seeded(tok)
			pub := "age1" + g.s("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)
			return "$ age-keygen -o ~/.config/sops/age/keys.txt\nPublic key: " + pub + "\n$ cat ~/.config/sops/age/keys.txt\n# created: 2024-06-11T09:42:17+02:00\n# public key: " +
				pub + "\n" + tok + "\n"
		}}}},
		{typ: tJWT, env: "API_JWT", host: "api.example.com", extra: []fmtTpl{{payload: "http_headers", text: func(s *fmtSpec, tok string) string {
			return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: session=" + tok + "; Path=/; HttpOnly; Secure; SameSite=Lax\r\n\r\n{\"ok\":true}"
		}}, {payload: "json_tool_result", text: func(s *fmtSpec, tok string) string {
			return `{"type":"tool_result","content":` + jq(jsonIndent(`{"access_token":`+jq(tok)+`,"token_type":"Bearer","expires_in":3600}`)) + `}`
		}}}},
	}
}

func gitRemoteTpl(user, host string) fmtTpl {
	return fmtTpl{payload: "git_remote", text: func(s *fmtSpec, tok string) string {
		return "git remote set-url origin https://" + user + ":" + tok + "@" + host + "/acme/platform.git && git push origin HEAD"
	}}
}

func curlUserTpl(url string) fmtTpl {
	return fmtTpl{payload: "shell", text: func(s *fmtSpec, tok string) string {
		return "curl -sS -u anystring:" + tok + " https://" + url + " | jq '.data | length'"
	}}
}

var dockerLoginTpl = fmtTpl{payload: "shell", text: func(s *fmtSpec, tok string) string {
	return "echo " + tok + " | docker login -u acmebuild --password-stdin\nLogin Succeeded"
}}

var webhookTpls = []fmtTpl{
	{payload: "shell", text: func(s *fmtSpec, u string) string {
		return "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"Deploy of api v2.4.1 finished\"}' " + u
	}},
	{payload: "env", text: func(s *fmtSpec, u string) string {
		return "# .env.production\nAPP_ENV=production\n" + s.env + "=" + u + "\nALERT_CHANNEL=ops\n"
	}},
	{payload: "config_yaml", text: func(s *fmtSpec, u string) string {
		return "receivers:\n  - name: ops\n    webhook_configs:\n      - url: " + u + "\n        send_resolved: true\n"
	}},
	{payload: "code", text: func(s *fmtSpec, u string) string {
		return "import requests\n\nWEBHOOK = \"" + u + "\"\nrequests.post(WEBHOOK, json={\"text\": \"nightly build failed\"}, timeout=10)\n"
	}},
	{payload: "json_tool_input", text: func(s *fmtSpec, u string) string {
		return `{"tool":"http_request","input":{"method":"POST","url":` + jq(u) + `,"body":{"text":"Job 4812 completed"}}}`
	}},
	{payload: "log_line", text: func(s *fmtSpec, u string) string {
		return "2024-06-11 09:42:17,381 WARNING notifier: POST " + u + " returned 429, retrying in 2s"
	}},
}

var djangoTpls = []fmtTpl{
	{payload: "code", text: func(s *fmtSpec, tok string) string {
		return "# settings.py\nfrom pathlib import Path\n\nBASE_DIR = Path(__file__).resolve().parent.parent\nSECRET_KEY = '" + tok + "'\nDEBUG = True\nALLOWED_HOSTS = []\n"
	}},
	{payload: "env", text: func(s *fmtSpec, tok string) string {
		return "DJANGO_SETTINGS_MODULE=mysite.settings\nDJANGO_SECRET_KEY='" + tok + "'\nDJANGO_DEBUG=0\n"
	}},
	{payload: "json_tool_input", text: func(s *fmtSpec, tok string) string {
		return `{"tool":"Write","input":{"file_path":"mysite/settings.py","content":` + jq("SECRET_KEY = \""+tok+"\"\nDEBUG = False\n") + `}}`
	}},
	{payload: "json_tool_result", text: func(s *fmtSpec, tok string) string {
		return `{"type":"tool_result","content":` + jq("$ grep -rn SECRET_KEY mysite/\nmysite/settings.py:23:SECRET_KEY = '"+tok+"'\n") + `}`
	}},
	{payload: "docker_compose", text: func(s *fmtSpec, tok string) string {
		return "services:\n  web:\n    build: .\n    environment:\n      DJANGO_SECRET_KEY: \"" + tok + "\"\n      DJANGO_ALLOWED_HOSTS: localhost\n"
	}},
}

func genFormatSamples(c *corpusGen) {
	specs := fmtSpecs()
	seen := map[string]bool{tPEM: true, tOpenSSH: true, tPGP: true, tPuTTY: true}
	for _, s := range specs {
		seen[s.typ] = true
	}
	for _, ti := range Types() {
		if ti.Kind == KindFormat && !seen[ti.ID] {
			panic("no corpus spec for format " + ti.ID)
		}
	}
	for idx, s := range specs {
		g := seeded(s.typ)
		var tpls []fmtTpl
		tpls = append(tpls, s.extra...)
		if !s.onlyExtra {
			var generic []fmtTpl
			for _, t := range genericTpls {
				if (t.hdr && s.noHdr) || (t.query && s.qkey == "") {
					continue
				}
				generic = append(generic, t)
			}
			start := (idx * 5) % len(generic)
			for k := 0; len(tpls) < 5; k++ {
				tpls = append(tpls, generic[(start+k)%len(generic)])
			}
			if s.qkey != "" && !hasQuery(tpls) {
				for _, t := range generic {
					if t.query {
						tpls = append(tpls, t)
					}
				}
			}
		}
		for _, t := range tpls {
			tok := fmtToken(s.typ, g)
			want := tok
			if s.want != nil {
				want = s.want(tok)
			}
			c.add(t.payload, t.text(s, tok), sec(s.typ, want))
		}
	}
	genKeyBlockSamples(c)
}

func hasQuery(ts []fmtTpl) bool {
	for _, t := range ts {
		if t.query {
			return true
		}
	}
	return false
}

// genKeyBlockSamples: PEM, OpenSSH, PGP and PuTTY private keys in files,
// heredocs, JSON strings (\n escapes), YAML block scalars and tool results.
func genKeyBlockSamples(c *corpusGen) {
	g := seeded("private keys")
	type blk struct {
		typ, label string
	}
	pems := []blk{{tPEM, "RSA PRIVATE KEY"}, {tPEM, "RSA PRIVATE KEY"}, {tPEM, "EC PRIVATE KEY"}, {tPEM, "PRIVATE KEY"},
		{tPEM, "DSA PRIVATE KEY"}, {tPEM, "PRIVATE KEY"}, {tPEM, "ENCRYPTED PRIVATE KEY"},
		{tOpenSSH, "OPENSSH PRIVATE KEY"}, {tOpenSSH, "OPENSSH PRIVATE KEY"}, {tOpenSSH, "OPENSSH PRIVATE KEY"},
		{tOpenSSH, "OPENSSH PRIVATE KEY"}, {tOpenSSH, "OPENSSH PRIVATE KEY"}, {tOpenSSH, "OPENSSH PRIVATE KEY"},
		{tPGP, "PGP PRIVATE KEY BLOCK"}, {tPGP, "PGP PRIVATE KEY BLOCK"}, {tPGP, "PGP PRIVATE KEY BLOCK"},
		{tPGP, "PGP PRIVATE KEY BLOCK"}, {tPGP, "PGP PRIVATE KEY BLOCK"}, {tPGP, "PGP PRIVATE KEY BLOCK"}}
	for i, b := range pems {
		headers := ""
		switch {
		case b.typ == tPGP:
			headers = "Comment: release signing key\n\n"
		case i == 1:
			headers = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC," + strings.ToUpper(g.s(chHex, 32)) + "\n\n"
		}
		key := pemBlock(g, b.label, 6+g.r.IntN(6), headers)
		file := map[string]string{tPEM: "certs/server.key", tOpenSSH: "/home/agent/.ssh/id_ed25519", tPGP: "release-signing.asc"}[b.typ]
		switch i % 6 {
		case 0: // a file written by a tool: JSON string with \n escapes
			c.add("json_tool_input", `{"tool":"Write","input":{"file_path":`+jq(file)+`,"content":`+jq(key+"\n")+`}}`, sec(b.typ, jin(key)))
		case 1: // heredoc in a shell
			c.add("shell", "cat > "+file+" <<'EOF'\n"+key+"\nEOF\nchmod 600 "+file+"\n", sec(b.typ, key))
		case 2: // tool result of cat
			c.add("json_tool_result", `{"type":"tool_result","tool_use_id":"toolu_01","content":`+jq("$ cat "+file+"\n"+key+"\n")+`}`, sec(b.typ, jin(key)))
		case 3: // YAML block scalar
			ind := strings.ReplaceAll(key, "\n", "\n    ")
			name := map[string]string{tPEM: "tls.key", tOpenSSH: "ssh-privatekey", tPGP: "signing.asc"}[b.typ]
			c.add("k8s_manifest", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: deploy-keys\ntype: Opaque\nstringData:\n  "+name+": |\n    "+ind+"\n", sec(b.typ, ind))
		case 4: // a dotenv value with \n escapes (Vercel, Heroku style)
			esc := strings.ReplaceAll(key, "\n", `\n`)
			envName := map[string]string{tPEM: "JWT_PRIVATE_KEY", tOpenSSH: "DEPLOY_SSH_KEY", tPGP: "GPG_PRIVATE_KEY"}[b.typ]
			c.add("env", "NODE_ENV=production\n"+envName+"=\""+esc+"\"\nPORT=3000\n", sec(b.typ, esc))
		case 5: // a service account JSON / CI variable in JSON
			if b.typ == tPEM {
				email := "ci-deployer@acme-prod-4821.iam.gserviceaccount.com"
				doc := jsonIndent(`{"type":"service_account","project_id":"acme-prod-4821","private_key_id":` + jq(g.s(chHex, 40)) +
					`,"private_key":` + jq(key+"\n") + `,"client_email":` + jq(email) + `,"client_id":"104857392018475629384",` +
					`"auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token"}`)
				c.add("json_config", doc, sec(b.typ, jin(key+"\n")), sec(tEmail, email))
			} else {
				c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("gh secret set DEPLOY_KEY --body \""+key+"\"")+`}}`, sec(b.typ, jin(key)))
			}
		}
	}
	// PuTTY private keys: the private lines and the MAC are reported.
	for i := 0; i < 5; i++ {
		file, priv := puttyKey(g, fmt.Sprintf("deploy-key-%d", 2020+i))
		switch i {
		case 0:
			c.add("json_tool_input", `{"tool":"Write","input":{"file_path":"C:\\Users\\agent\\keys\\deploy.ppk","content":`+jq(file)+`}}`, sec(tPuTTY, jin(priv)))
		case 1:
			c.add("shell", "$ cat ~/keys/deploy.ppk\n"+file, sec(tPuTTY, priv))
		case 2:
			c.add("shell", "cat > deploy.ppk <<'EOF'\n"+file+"EOF\nputtygen deploy.ppk -O private-openssh -o id_ed25519\n", sec(tPuTTY, priv))
		case 3:
			c.add("json_tool_result", `{"type":"tool_result","content":`+jq("PS C:\\Users\\agent> Get-Content .\\keys\\jump.ppk\n"+file)+`}`, sec(tPuTTY, jin(priv)))
		case 4:
			ind := "  " + strings.ReplaceAll(strings.TrimSuffix(file, "\n"), "\n", "\n  ")
			p := ind[strings.Index(ind, "Private-Lines:"):]
			c.add("config_yaml", "winscp_session:\n  host: sftp.acme.example\n  key_file_contents: |\n"+ind+"\n", sec(tPuTTY, p))
		}
	}
}

// ---------------------------------------------------------------------------
// Secrets recognised by context.

var pwWords = []string{"correct", "horse", "battery", "staple", "orbit", "maple", "granite", "velvet", "copper", "lantern",
	"meadow", "harbor", "falcon", "pepper", "quartz", "willow"}

// password returns a human or generated password without quotes, spaces,
// '@', '#', '&', '/', ':' or a leading '-' (they would change the syntax of
// the payloads it is put in).
func password(g *gen) string {
	word := func() string { return pwWords[g.r.IntN(len(pwWords))] }
	switch g.r.IntN(4) {
	case 0:
		return g.mixed(chAlnum, 14+g.r.IntN(8))
	case 1:
		w := word()
		return strings.ToUpper(w[:1]) + w[1:] + fmt.Sprint(2019+g.r.IntN(6)) + g.s("!%+", 1)
	case 2:
		return word() + "-" + word() + "-" + word() + "-" + g.s(chDigits, 2)
	}
	return g.mixed(chAlnum, 4) + g.s("!%^_+-.", 1) + g.mixed(chAlnum, 6) + g.s("!%^_+-.", 1) + g.mixed(chAlnum, 5)
}

func sasSig(g *gen) string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	r := strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D")
	return r.Replace(base64.StdEncoding.EncodeToString(b))
}

func genContextSamples(c *corpusGen) {
	g := seeded("context")
	pw := func() string { return password(g) }
	rnd := func(n int) string { return g.mixed(chAlnum, n) }
	akia := func() string { return "AKIA" + g.s(chB32AWS, 16) }
	awsSK := func() string { return g.mixed(chB64, 40) }

	// password_assignment
	p := []string{pw(), pw(), pw(), pw(), pw(), pw(), pw(), pw(), pw(), pw(), pw(), pw(), pw()}
	c.add("env", "$ cat .env\nAPP_ENV=production\nDB_HOST=db.internal\nDB_USER=app\nDB_PASSWORD="+p[0]+"\nREDIS_URL=redis://cache:6379/0\n",
		sec(tPasswordAssignment, p[0]))
	c.add("docker_compose", "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD: "+p[1]+
		"\n      POSTGRES_DB: app\n    ports:\n      - \"5432:5432\"\n", sec(tPasswordAssignment, p[1]))
	c.add("json_tool_input", `{"tool":"http_request","input":{"method":"POST","url":"https://app.example.com/api/login","body":{"username":"admin","password":`+jq(p[2])+`}}}`,
		sec(tPasswordAssignment, p[2]))
	c.add("config_ini", "# ~/.my.cnf\n[client]\nuser = backup\npassword = "+p[3]+"\nhost = db-replica.internal\n", sec(tPasswordAssignment, p[3]))
	c.add("config_xml", "<settings>\n  <servers>\n    <server>\n      <id>nexus-releases</id>\n      <username>deploy</username>\n      <password>"+p[4]+
		"</password>\n    </server>\n  </servers>\n</settings>\n", sec(tPasswordAssignment, p[4]))
	c.add("shell", "az vm create -g rg-prod -n jumpbox --image Ubuntu2204 --admin-username azureuser --admin-password '"+p[5]+"' --size Standard_B2s",
		sec(tPasswordAssignment, p[5]))
	c.add("config_properties", "spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.username=app\nspring.datasource.password="+p[6]+"\n",
		sec(tPasswordAssignment, p[6]))
	c.add("kubectl_cli", "kubectl create secret generic db-creds --from-literal=username=app --from-literal=password='"+p[7]+"'", sec(tPasswordAssignment, p[7]))
	c.add("json_config", jsonIndent(`{"database":{"host":"db.internal","port":5432,"user":"app","password":`+jq(p[8])+`,"pool":10}}`), sec(tPasswordAssignment, p[8]))
	c.add("config_ini", "[db]\ndb1.internal ansible_user=deploy ansible_password="+p[9]+" ansible_become_pass="+p[10]+"\n",
		sec(tPasswordAssignment, p[9]), sec(tPasswordAssignment, p[10]))
	c.add("shell", "echo \"SMTP_PASSWORD="+p[11]+"\" >> .env && docker compose up -d mailer", sec(tPasswordAssignment, p[11]))
	c.add("shell", "PGPASSWORD="+p[12]+" psql -h db.internal -U app -d app -c 'select count(*) from users'", sec(tPasswordAssignment, p[12]))
	p = []string{g.mixed(chAlnum, 5) + "*" + g.mixed(chAlnum, 7), pw(), pw(), pw(), pw()}
	c.add("env", "# .env.local\nREDIS_HOST=localhost\nREDIS_PASSWORD="+p[0]+"\n", sec(tPasswordAssignment, p[0]))
	c.add("k8s_manifest", "    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:2.4.1\n          env:\n            - name: DB_HOST\n              value: db.internal\n"+
		"            - name: DB_PASSWORD\n              value: \""+p[1]+"\"\n", sec(tPasswordAssignment, p[1]))
	c.add("json_config", jsonIndent(`{"family":"api","containerDefinitions":[{"name":"api","image":"acme/api:2.4.1","environment":[{"name":"NODE_ENV","value":"production"},`+
		`{"name":"DATABASE_PASSWORD","value":`+jq(p[2])+`}]}]}`), sec(tPasswordAssignment, p[2]))
	c.add("kubectl_cli", "kubectl create secret docker-registry regcred --docker-server=registry.acme.io --docker-username=ci-bot --docker-password="+p[3]+" --docker-email=ci-bot@acme.io",
		sec(tPasswordAssignment, p[3]), sec(tEmail, "ci-bot@acme.io"))
	c.add("shell", "terraform apply -var 'db_password="+p[4]+"' -auto-approve", sec(tPasswordAssignment, p[4]))
	p = []string{pw(), pw()}
	c.add("json_tool_input", `{"tool":"http_request","input":{"method":"POST","url":"https://app.acme.io/api/account/password","body":{"existing_password":`+jq(p[0])+`,"new_password":`+jq(p[1])+`}}}`,
		sec(tPasswordAssignment, p[0]), sec(tPasswordAssignment, p[1]))

	// several secrets of different kinds in one payload
	ghp, stripe, oai := ghToken(g, "ghp_"), fmtToken(tStripeLive, g), fmtToken(tOpenAIProject, g)
	dbpw, mail := pw(), "billing@acme-corp.io"
	c.add("env", "$ printenv | sort\nDATABASE_URL=postgres://app:"+dbpw+"@db.internal:5432/app\nGITHUB_TOKEN="+ghp+"\nHOME=/home/agent\nMAIL_FROM="+mail+
		"\nOPENAI_API_KEY="+oai+"\nPATH=/usr/local/bin:/usr/bin:/bin\nSTRIPE_SECRET_KEY="+stripe+"\nTZ=Europe/Berlin\n",
		sec(tDBPassword, dbpw), sec(tGHClassic, ghp), sec(tEmail, mail), sec(tOpenAIProject, oai), sec(tStripeLive, stripe))
	slack, ant, rpw := fmtToken(tSlackBot, g), fmtToken(tAnthropicAPI, g), pw()
	c.add("docker_compose", "services:\n  bot:\n    image: ghcr.io/acme/bot:1.2.0\n    environment:\n      SLACK_BOT_TOKEN: "+slack+"\n      ANTHROPIC_API_KEY: "+ant+
		"\n      REDIS_URL: redis://:"+rpw+"@redis:6379/0\n  redis:\n    image: redis:7\n    command: [\"redis-server\", \"--requirepass\", \""+rpw+"\"]\n",
		sec(tSlackBot, slack), sec(tAnthropicAPI, ant), sec(tDBPassword, rpw), sec(tPasswordAssignment, rpw))
	tok, akid, asec := g.mixed(chB64URL, 40), akia(), awsSK()
	c.add("json_tool_result", `{"type":"tool_result","tool_use_id":"toolu_01","content":`+jq("$ cat deploy/.env\nAWS_ACCESS_KEY_ID="+akid+"\nAWS_SECRET_ACCESS_KEY="+asec+
		"\nDEPLOY_HOOK_TOKEN="+tok+"\nREGION=eu-central-1\n")+`}`,
		sec(tAWSKeyID, akid), sec(tAWSSecretKey, asec), sec(tHighEntropyAssignment, tok))

	// secret_assignment
	s := []string{rnd(32), rnd(40), g.s(chHex, 32), rnd(36), rnd(48), rnd(32), rnd(40), g.s(chHex, 128), rnd(50), rnd(44), rnd(40), g.s(chHex, 32)}
	c.add("shell", "curl -X POST https://auth.acme.io/oauth2/token -d grant_type=client_credentials -d client_id=svc-reporting -d client_secret="+s[0],
		sec(tSecretAssignment, s[0]))
	c.add("json_config", jsonIndent(`{"web":{"client_id":"48213-reporting.apps.acme.io","client_secret":`+jq(s[1])+`,"redirect_uris":["http://localhost:8080/callback"]}}`),
		sec(tSecretAssignment, s[1]))
	c.add("config_yaml", "datadog:\n  api_key: "+s[2]+"\n  site: datadoghq.eu\n  logs_enabled: true\n", sec(tSecretAssignment, s[2]))
	c.add("http_headers", "POST /v2/ingest HTTP/1.1\r\nHost: metrics.acme.io\r\nX-Api-Key: "+s[3]+"\r\nContent-Type: application/json\r\nContent-Length: 512\r\n\r\n",
		sec(tSecretAssignment, s[3]))
	c.add("config_toml", "[auth]\nissuer = \"https://auth.acme.io\"\nsecret_key = \""+s[4]+"\"\nsession_ttl = \"12h\"\n", sec(tSecretAssignment, s[4]))
	c.add("url", `{"tool":"WebFetch","input":{"url":`+jq("https://maps.acme.io/api/geocode?address=Main+St+1&api_key="+s[5]+"&format=json")+`,"prompt":"Get the coordinates"}}`,
		sec(tSecretAssignment, s[5]))
	c.add("shell", "./bin/ingest --api-key "+s[6]+" --batch-size 500 --source s3://acme-raw/events/", sec(tSecretAssignment, s[6]))
	c.add("env", "RAILS_ENV=production\nSECRET_KEY_BASE="+s[7]+"\nRAILS_LOG_TO_STDOUT=1\n", sec(tSecretAssignment, s[7]))
	c.add("code", "from flask import Flask\n\napp = Flask(__name__)\napp.config[\"SECRET_KEY\"] = \""+s[8]+"\"\n", sec(tSecretAssignment, s[8]))
	c.add("json_config", jsonIndent(`{"Jwt":{"Issuer":"acme","Audience":"api","SigningKey":`+jq(s[9])+`},"Logging":{"LogLevel":{"Default":"Information"}}}`),
		sec(tSecretAssignment, s[9]))
	c.add("code", "const config = {\n  apiKey: \""+s[10]+"\",\n  projectId: \"acme-prod\",\n};\n", sec(tSecretAssignment, s[10]))
	c.add("http_headers", "GET /echo/resource HTTP/1.1\r\nHost: acme.azure-api.net\r\nOcp-Apim-Subscription-Key: "+s[11]+"\r\n\r\n", sec(tSecretAssignment, s[11]))
	s = []string{rnd(32), g.mixed(chB64URL, 20), rnd(40)}
	c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("curl -s -H \"X-Api-Key: "+s[0]+"\" https://api.acme.io/v1/usage | jq .total")+`}}`, sec(tSecretAssignment, s[0]))
	c.add("shell", "curl --header 'PRIVATE-TOKEN: "+s[1]+"' 'https://code.acme.io/api/v4/projects?membership=true'", sec(tSecretAssignment, s[1]))
	c.add("json_config", jsonIndent(`{"containerDefinitions":[{"name":"worker","environment":[{"name":"STRIPE_API_KEY","value":`+jq(s[2])+`}]}]}`), sec(tSecretAssignment, s[2]))

	// high_entropy_assignment
	h := []string{g.mixed(chB64URL, 40), g.s(chHex, 64), "", g.mixed(chAlnum, 48), g.mixed(chAlnum, 32), g.mixed(chAlnum, 32), g.s(chHex, 256), g.mixed(chB64URL, 40)}
	h[2] = base64.StdEncoding.EncodeToString([]byte("ci-bot:" + pw()))
	c.add("env", "SERVICE_TOKEN="+h[0]+"\nSERVICE_URL=https://internal.acme.io\n", sec(tHighEntropyAssignment, h[0]))
	key := akia()
	cred := key + "%2F20240611%2Feu-west-1%2Fs3%2Faws4_request"
	c.add("url", "curl -o app.tar.gz 'https://acme-artifacts.s3.eu-west-1.amazonaws.com/builds/app-2.4.1.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="+cred+
		"&X-Amz-Date=20240611T094217Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="+h[1]+"'",
		sec(tHighEntropyAssignment, h[1]), sec(tAWSKeyID, cred))
	c.add("json_config", jsonIndent(`{"auths":{"registry.acme.io":{"auth":`+jq(h[2])+`}},"credsStore":"desktop"}`), sec(tHighEntropyAssignment, h[2]))
	c.add("config_yaml", "tunnel:\n  name: acme-prod\n  token: "+h[3]+"\n  protocol: quic\n", sec(tHighEntropyAssignment, h[3]))
	c.add("url", "POST https://hooks.acme.io/ingest?token="+h[4]+"&source=ci HTTP/1.1", sec(tHighEntropyAssignment, h[4]))
	c.add("env", "HONEYCOMB_KEY="+h[5]+"\nOTEL_SERVICE_NAME=checkout\n", sec(tHighEntropyAssignment, h[5]))
	gcred := "exporter%40acme-prod.iam.gserviceaccount.com%2F20240611%2Fauto%2Fstorage%2Fgoog4_request"
	c.add("url", `{"tool":"WebFetch","input":{"url":`+jq("https://storage.googleapis.com/acme-exports/report.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential="+gcred+
		"&X-Goog-Date=20240611T094217Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature="+h[6])+`,"prompt":"Summarise the report"}}`,
		sec(tHighEntropyAssignment, h[6]), sec(tSecretAssignment, gcred))
	c.add("json_tool_result", `{"type":"tool_result","content":`+jq(jsonIndent(`{"token":`+jq(h[7])+`,"expires_at":"2024-06-11T10:42:17Z","user":"ci-bot"}`))+`}`,
		sec(tHighEntropyAssignment, h[7]))

	// http_auth_bearer
	b := []string{g.mixed(chB64URL, 40), g.mixed(chB64URL, 48), g.mixed(chAlnum, 40), g.mixed(chB64URL, 64), g.mixed(chB64URL, 43), g.mixed(chAlnum, 32), g.mixed(chB64URL, 40)}
	c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("curl -sS -H 'Authorization: Bearer "+b[0]+"' https://api.acme.io/v1/me | jq .")+`}}`, sec(tAuthBearer, b[0]))
	c.add("http_headers", "GET /v1/orders?status=open HTTP/1.1\r\nHost: api.acme.io\r\nAuthorization: Bearer "+b[1]+"\r\nAccept: application/json\r\n\r\n", sec(tAuthBearer, b[1]))
	c.add("json_tool_input", `{"tool":"http_request","input":{"method":"DELETE","url":"https://api.acme.io/v1/sessions/42","headers":{"Authorization":`+jq("Bearer "+b[2])+`}}}`,
		sec(tAuthBearer, b[2]))
	c.add("code", "import requests\n\nresp = requests.get(\"https://api.acme.io/v1/reports\", headers={\"Authorization\": \"Bearer "+b[3]+"\"}, timeout=30)\n",
		sec(tAuthBearer, b[3]))
	c.add("code", "const res = await fetch(\"https://api.acme.io/v1/me\", {\n  headers: { Authorization: \"Bearer "+b[4]+"\" },\n});\n", sec(tAuthBearer, b[4]))
	c.add("log_line", "2024-06-11 09:42:17 WARN auth middleware: rejected bearer "+b[5]+" for /v1/admin (token expired)", sec(tAuthBearer, b[5]))
	c.add("shell", "grpcurl -H 'authorization: Bearer "+b[6]+"' api.acme.io:443 acme.users.v1.Users/GetUser", sec(tAuthBearer, b[6]))
	b = []string{g.mixed(chB64URL, 40)}
	c.add("json_tool_result", `{"type":"tool_result","content":`+jq("> GET /v1/projects HTTP/1.1\r\n> Host: api.acme.io\r\n> Authorization: Bearer "+b[0]+"\r\n> Accept: */*\r\n")+`}`,
		sec(tAuthBearer, b[0]))

	// http_auth_basic
	basic := func() string {
		return base64.StdEncoding.EncodeToString([]byte(pwWords[g.r.IntN(len(pwWords))] + "-svc:" + pw()))
	}
	ba := []string{basic(), basic(), basic(), basic(), basic(), basic()}
	c.add("http_headers", "GET /api/v1/projects HTTP/1.1\r\nHost: jenkins.acme.io\r\nAuthorization: Basic "+ba[0]+"\r\nAccept: */*\r\n\r\n", sec(tAuthBasic, ba[0]))
	c.add("shell", "curl -H \"Authorization: Basic "+ba[1]+"\" https://nexus.acme.io/service/rest/v1/repositories", sec(tAuthBasic, ba[1]))
	c.add("json_tool_input", `{"tool":"http_request","input":{"method":"GET","url":"https://registry.acme.io/v2/_catalog","headers":{"Authorization":`+jq("Basic "+ba[2])+`}}}`,
		sec(tAuthBasic, ba[2]))
	c.add("http_headers", "CONNECT api.acme.io:443 HTTP/1.1\r\nHost: api.acme.io:443\r\nProxy-Authorization: Basic "+ba[3]+"\r\n\r\n", sec(tAuthBasic, ba[3]))
	c.add("config_nginx", "location /upstream/ {\n    proxy_pass https://backend.acme.io/;\n    proxy_set_header Authorization \"Basic "+ba[4]+"\";\n}\n", sec(tAuthBasic, ba[4]))
	c.add("shell", "git config --local http.https://github.com/.extraheader \"AUTHORIZATION: basic "+ba[5]+"\"", sec(tAuthBasic, ba[5]))

	// http_auth_token (other schemes, raw)
	at := []string{g.s(chHex, 40), base64.StdEncoding.EncodeToString([]byte(g.mixed(chAlnum, 20) + ":" + g.mixed(chB64URL, 22))), "00" + g.mixed(chB64URL, 40), g.mixed(chB64URL, 40), uuidOf(g), g.s(chHex, 40)}
	c.add("http_headers", "GET /api/v2/tasks/ HTTP/1.1\r\nHost: tasks.acme.io\r\nAuthorization: Token "+at[0]+"\r\n\r\n", sec(tAuthOther, at[0]))
	c.add("shell", "curl -H \"Authorization: ApiKey "+at[1]+"\" https://es.acme.io:9200/_cluster/health", sec(tAuthOther, at[1]))
	c.add("json_tool_input", `{"tool":"http_request","input":{"method":"GET","url":"https://acme.okta.com/api/v1/users?limit=25","headers":{"Authorization":`+jq("SSWS "+at[2])+`}}}`,
		sec(tAuthOther, at[2]))
	c.add("http_headers", "POST /graphql HTTP/1.1\r\nHost: api.acme.io\r\nAuthorization: "+at[3]+"\r\nContent-Type: application/json\r\n\r\n{\"query\":\"{ viewer { login } }\"}", sec(tAuthOther, at[3]))
	c.add("shell", "curl -X POST https://api.opsgenie.com/v2/alerts -H 'Content-Type: application/json' -H 'Authorization: GenieKey "+at[4]+"' -d '{\"message\":\"disk full\"}'",
		sec(tAuthOther, at[4]))
	c.add("log_line", "DEBUG http.client send: b'GET /api/v4/projects HTTP/1.1\\r\\nHost: code.acme.io\\r\\nAuthorization: token "+at[5]+"\\r\\n'", sec(tAuthOther, at[5]))

	// url_password
	u := []string{pw(), pw(), pw(), pw(), pw(), pw()}
	c.add("git_remote", "git clone https://deploy:"+u[0]+"@git.acme.io/platform/api.git && cd api", sec(tURLPassword, u[0]))
	c.add("shell", "pip install --index-url https://ci:"+u[1]+"@nexus.acme.io/repository/pypi/simple acme-client==2.4.1", sec(tURLPassword, u[1]))
	c.add("env", "HTTPS_PROXY=http://proxyuser:"+u[2]+"@proxy.acme.io:3128\nNO_PROXY=localhost,127.0.0.1,.internal\n", sec(tURLPassword, u[2]))
	c.add("log_line", "2024-06-11 02:00:03 backup: uploading dump to ftp://backup:"+u[3]+"@files.acme.io/dumps/2024-06-11.sql.gz", sec(tURLPassword, u[3]))
	c.add("config_ini", "[remote \"origin\"]\n\turl = https://ci-bot:"+u[4]+"@gitea.acme.io/acme/infra.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n", sec(tURLPassword, u[4]))
	c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("wget -q https://admin:"+u[5]+"@intranet.acme.io/reports/q2.pdf -O q2.pdf")+`}}`, sec(tURLPassword, u[5]))

	// url_token
	ut := []string{rnd(40), rnd(40), rnd(36), rnd(40), rnd(32)}
	c.add("git_remote", "git clone https://"+ut[0]+"@github.com/acme/infra.git", sec(tURLToken, ut[0]))
	c.add("git_remote", "git remote add upstream https://"+ut[1]+"@gitlab.acme.io/platform/api.git", sec(tURLToken, ut[1]))
	c.add("json_config", jsonIndent(`{"name":"web","dependencies":{"acme-ui":`+jq("git+https://"+ut[2]+"@github.com/acme/ui.git#v3.1.0")+`,"react":"^18.3.1"}}`), sec(tURLToken, ut[2]))
	c.add("shell", "pip install git+https://"+ut[3]+"@github.com/acme/private-lib.git@v1.2.0", sec(tURLToken, ut[3]))
	c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("go env -w GOPRIVATE=github.com/acme && git config --global url.\"https://"+ut[4]+"@github.com/\".insteadOf \"https://github.com/\"")+`}}`,
		sec(tURLToken, ut[4]))

	// cli_password
	cp := []string{rnd(14), rnd(16), pw(), rnd(20), rnd(16), pw(), rnd(18), rnd(16), pw(), rnd(12), pw(), rnd(12)}
	c.add("shell", "mysql -h db.internal -u root -p"+cp[0]+" app -e 'show tables'", sec(tCLIPassword, cp[0]))
	c.add("shell", "mysqldump -uroot -p"+cp[1]+" --single-transaction app | gzip > app.sql.gz", sec(tCLIPassword, cp[1]))
	c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("sshpass -p '"+cp[2]+"' ssh -o StrictHostKeyChecking=no admin@10.0.4.12 'sudo systemctl restart api'")+`}}`,
		sec(tCLIPassword, cp[2]))
	c.add("shell", "redis-cli -h cache.internal -p 6379 -a "+cp[3]+" --no-auth-warning INFO memory", sec(tCLIPassword, cp[3]))
	c.add("shell", "sqlcmd -S tcp:sql.acme.io,1433 -U sa -P "+cp[4]+" -d app -Q \"SELECT TOP 5 * FROM dbo.Orders\"", sec(tCLIPassword, cp[4]))
	c.add("shell", "ldapsearch -x -H ldaps://ldap.acme.io -D 'cn=admin,dc=acme,dc=io' -w '"+cp[5]+"' -b 'ou=people,dc=acme,dc=io' '(uid=jdoe)'", sec(tCLIPassword, cp[5]))
	c.add("shell", "mongosh \"mongodb://db.internal:27017/app\" -u app -p "+cp[6]+" --authenticationDatabase admin --eval 'db.stats()'", sec(tCLIPassword, cp[6]))
	c.add("shell", "docker login -u acmebuild -p "+cp[7]+" registry.acme.io", sec(tCLIPassword, cp[7]))
	c.add("json_tool_input", `{"tool":"Bash","input":{"command":`+jq("curl -u admin:"+cp[8]+" -X POST https://jenkins.acme.io/job/deploy/build")+`}}`, sec(tCLIPassword, cp[8]))
	c.add("shell", "smbclient //fs01.acme.local/finance -U 'ACME\\svc-backup%"+cp[9]+"' -c 'ls'", sec(tCLIPassword, cp[9]))
	c.add("shell", "openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 -passout pass:"+cp[10], sec(tCLIPassword, cp[10]))
	c.add("shell", "sqlplus system/"+cp[11]+"@//oracle.acme.io:1521/ORCLPDB1 @migrate.sql", sec(tCLIPassword, cp[11]))
	cp = []string{pw(), g.mixed(chAlnum, 34), rnd(16), rnd(14)}
	c.add("ci_log", "Run mysql -h 127.0.0.1 -uroot -p"+cp[2]+" -e 'CREATE DATABASE IF NOT EXISTS app_test'\n  shell: /usr/bin/bash -e {0}\n", sec(tCLIPassword, cp[2]))
	c.add("dockerfile", "FROM mariadb:11\nCOPY schema.sql /docker-entrypoint-initdb.d/\nHEALTHCHECK CMD mariadb-admin ping -uroot -p"+cp[3]+" || exit 1\n", sec(tCLIPassword, cp[3]))
	c.add("shell", "ssh-keygen -t ed25519 -C deploy@ci -N '"+cp[0]+"' -f ./deploy_key", sec(tCLIPassword, cp[0]))
	c.add("shell", "az login --service-principal -u 0c8e4a1e-5b7d-4f3e-9a61-2b8c7d9e0f14 -p "+cp[1]+" --tenant acme.onmicrosoft.com", sec(tCLIPassword, cp[1]))

	// db_connection_password
	dp := []string{pw(), pw(), rnd(24), pw(), pw(), pw(), pw(), rnd(20)}
	c.add("env", "DATABASE_URL=postgres://app:"+dp[0]+"@db.internal:5432/app?sslmode=require\nREDIS_URL=redis://cache:6379/0\n", sec(tDBPassword, dp[0]))
	c.add("json_config", jsonIndent(`{"mongo":{"uri":`+jq("mongodb+srv://reporting:"+dp[1]+"@cluster0.ab1cd.mongodb.net/analytics?retryWrites=true&w=majority")+`}}`),
		sec(tDBPassword, dp[1]))
	c.add("config_yaml", "cache:\n  url: redis://:"+dp[2]+"@redis-master.cache.svc.cluster.local:6379/0\n  ttl: 300\n", sec(tDBPassword, dp[2]))
	c.add("config_properties", "db.url=jdbc:sqlserver://sql.acme.io:1433;databaseName=app;user=app;password="+dp[3]+";encrypt=true\n", sec(tDBPassword, dp[3]))
	c.add("json_config", jsonIndent(`{"ConnectionStrings":{"Default":`+jq("Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=app;User ID=appuser;Password="+dp[4]+";Encrypt=True;")+`}}`),
		sec(tDBPassword, dp[4]))
	c.add("docker_cli", "docker run -d -e DATABASE_URL=mysql://wp:"+dp[5]+"@mysql:3306/wordpress -p 8080:80 wordpress:6.5", sec(tDBPassword, dp[5]))
	c.add("code", "import pika\n\nparams = pika.URLParameters(\"amqp://orders:"+dp[6]+"@rabbitmq.internal:5672/%2F\")\nconn = pika.BlockingConnection(params)\n",
		sec(tDBPassword, dp[6]))
	c.add("code", "from sqlalchemy import create_engine\n\nengine = create_engine(\"postgresql+psycopg2://etl:"+dp[7]+"@warehouse.internal:5432/analytics\")\n",
		sec(tDBPassword, dp[7]))

	// vault_legacy_token
	vt := func(p string) string { return p + "." + g.mixed(chAlnum, 24) }
	v := []string{vt("s"), vt("s"), vt("s"), vt("b"), vt("s")}
	c.add("shell", "export VAULT_ADDR=https://vault.acme.io:8200\nexport VAULT_TOKEN="+v[0]+"\nvault kv get secret/app/prod", sec(tVaultLegacy, v[0]))
	c.add("shell", "curl -s -H \"X-Vault-Token: "+v[1]+"\" https://vault.acme.io:8200/v1/secret/data/app | jq .data.data", sec(tVaultLegacy, v[1]))
	c.add("shell", "vault login "+v[2]+"\nSuccess! You are now authenticated.", sec(tVaultLegacy, v[2]))
	c.add("shell", "VAULT_ADDR=https://vault.internal:8200 VAULT_TOKEN="+v[3]+" vault token lookup", sec(tVaultLegacy, v[3]))
	c.add("json_config", `{"vault":{"address":"https://vault.acme.io:8200","token":`+jq(v[4])+`,"namespace":"ops"}}`, sec(tVaultLegacy, v[4]))
	v = []string{vt("s"), vt("s")}
	c.add("http_headers", "GET /v1/secret/data/app/prod HTTP/1.1\r\nHost: vault.acme.io:8200\r\nX-Vault-Token: "+v[0]+"\r\nAccept: */*\r\n\r\n", sec(tVaultLegacy, v[0]))
	c.add("env", "# .env\nVAULT_ADDR=https://vault.acme.io:8200\nVAULT_TOKEN="+v[1]+"\nVAULT_NAMESPACE=ops\n", sec(tVaultLegacy, v[1]))

	// aws_secret_access_key (with the key ids and session tokens next to them)
	k1, k2, s1, s2 := akia(), akia(), awsSK(), awsSK()
	c.add("config_ini", "$ cat ~/.aws/credentials\n[default]\naws_access_key_id = "+k1+"\naws_secret_access_key = "+s1+"\n\n[ci]\naws_access_key_id = "+k2+
		"\naws_secret_access_key = "+s2+"\nregion = eu-west-1\n", sec(tAWSSecretKey, s1), sec(tAWSSecretKey, s2), sec(tAWSKeyID, k1), sec(tAWSKeyID, k2))
	k1, s1 = akia(), awsSK()
	c.add("shell", "export AWS_ACCESS_KEY_ID="+k1+"\nexport AWS_SECRET_ACCESS_KEY="+s1+"\nexport AWS_DEFAULT_REGION=us-east-1\naws s3 ls", sec(tAWSSecretKey, s1), sec(tAWSKeyID, k1))
	asia, s1, st := "ASIA"+g.s(chB32AWS, 16), awsSK(), fmtToken(tAWSSession, g)
	c.add("json_tool_result", `{"type":"tool_result","content":`+jq("$ aws sts assume-role --role-arn arn:aws:iam::123456789012:role/deploy --role-session-name ci\n"+
		jsonIndent(`{"Credentials":{"AccessKeyId":`+jq(asia)+`,"SecretAccessKey":`+jq(s1)+`,"SessionToken":`+jq(st)+`,"Expiration":"2024-06-11T10:42:17+00:00"}}`))+`}`,
		sec(tAWSSecretKey, s1), sec(tAWSKeyID, asia), sec(tAWSSession, st))
	k1, s1 = akia(), awsSK()
	c.add("csv", "User name,Password,Access key ID,Secret access key,Console login link\nci-deployer,,"+k1+","+s1+",https://123456789012.signin.aws.amazon.com/console\n",
		sec(tAWSSecretKey, s1), sec(tAWSKeyID, k1))
	s1 = awsSK()
	c.add("shell", "aws configure set aws_secret_access_key "+s1+" --profile ci", sec(tAWSSecretKey, s1))
	k1, s1 = akia(), awsSK()
	c.add("code", "import boto3\n\ns3 = boto3.client(\n    \"s3\",\n    aws_access_key_id=\""+k1+"\",\n    aws_secret_access_key=\""+s1+"\",\n)\n",
		sec(tAWSSecretKey, s1), sec(tAWSKeyID, k1))
	k1, s1 = akia(), awsSK()
	c.add("config_hcl", "provider \"aws\" {\n  region     = \"eu-west-1\"\n  access_key = \""+k1+"\"\n  secret_key = \""+s1+"\"\n}\n", sec(tAWSSecretKey, s1), sec(tAWSKeyID, k1))
	k1, s1 = akia(), awsSK()
	c.add("docker_cli", "docker run --rm -e AWS_ACCESS_KEY_ID="+k1+" -e AWS_SECRET_ACCESS_KEY="+s1+" amazon/aws-cli s3 ls s3://acme-backups", sec(tAWSSecretKey, s1), sec(tAWSKeyID, k1))

	// Azure storage account keys
	ak := func() string { return g.s(chB64, 86) + "==" }
	a1 := []string{ak(), ak(), ak(), ak(), ak(), ak(), ak()}
	c.add("env", "AZURE_STORAGE_CONNECTION_STRING=\"DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey="+a1[0]+";EndpointSuffix=core.windows.net\"\n",
		sec(tAzureStorageKey, a1[0]))
	c.add("json_config", jsonIndent(`{"ConnectionStrings":{"Storage":`+jq("DefaultEndpointsProtocol=https;AccountName=acmedata;AccountKey="+a1[1]+";EndpointSuffix=core.windows.net")+`}}`),
		sec(tAzureStorageKey, a1[1]))
	c.add("shell", "az storage blob upload --account-name acmelogs --account-key "+a1[2]+" -c logs -f out.log -n 2024/06/11/out.log", sec(tAzureStorageKey, a1[2]))
	c.add("code", "from azure.storage.blob import BlobServiceClient\n\nsvc = BlobServiceClient.from_connection_string(\"DefaultEndpointsProtocol=https;AccountName=acmeml;AccountKey="+
		a1[3]+";EndpointSuffix=core.windows.net\")\n", sec(tAzureStorageKey, a1[3]))
	c.add("env", "COSMOS_CONNECTION=AccountEndpoint=https://acme-cosmos.documents.azure.com:443/;AccountKey="+a1[4]+";\n", sec(tAzureStorageKey, a1[4]))
	c.add("env", "AZURE_STORAGE_ACCOUNT=acmelogs\nAZURE_STORAGE_KEY="+a1[5]+"\n", sec(tAzureStorageKey, a1[5]))
	c.add("json_tool_result", `{"type":"tool_result","content":`+jq("$ az storage account keys list -n acmelogs\n"+
		jsonIndent(`[{"creationTime":"2024-01-09T10:12:44.000000+00:00","keyName":"key1","permissions":"FULL","value":`+jq(a1[6])+`}]`))+`}`, sec(tAzureStorageKey, a1[6]))

	// Azure Service Bus / Event Hubs / IoT shared access keys
	sk := func() string { return g.s(chB64, 43) + "=" }
	a2 := []string{sk(), sk(), sk(), sk(), sk()}
	c.add("env", "SERVICEBUS_CONNECTION_STRING=Endpoint=sb://acme-orders.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey="+a2[0]+"\n",
		sec(tAzureSharedAccessKey, a2[0]))
	c.add("json_config", jsonIndent(`{"IsEncrypted":false,"Values":{"AzureWebJobsStorage":"UseDevelopmentStorage=true","EventHubConnection":`+
		jq("Endpoint=sb://acme-telemetry.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey="+a2[1]+";EntityPath=events")+`}}`), sec(tAzureSharedAccessKey, a2[1]))
	c.add("code", "from azure.iot.device import IoTHubDeviceClient\n\nclient = IoTHubDeviceClient.create_from_connection_string(\"HostName=acme-hub.azure-devices.net;DeviceId=sensor-17;SharedAccessKey="+
		a2[2]+"\")\n", sec(tAzureSharedAccessKey, a2[2]))
	c.add("json_tool_result", `{"type":"tool_result","content":`+jq("$ az iot hub connection-string show -n acme-hub\n"+
		jsonIndent(`{"connectionString":`+jq("HostName=acme-hub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey="+a2[3])+`}`))+`}`, sec(tAzureSharedAccessKey, a2[3]))
	c.add("config_yaml", "bindings:\n  - name: orders\n    type: servicebus\n    connection: \"Endpoint=sb://acme-orders.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey="+a2[4]+"\"\n",
		sec(tAzureSharedAccessKey, a2[4]))

	// Azure SAS signatures
	sas := []string{sasSig(g), sasSig(g), sasSig(g), sasSig(g), sasSig(g), sasSig(g)}
	c.add("shell", "curl -X PUT -H 'x-ms-blob-type: BlockBlob' --data-binary @build.zip \"https://acmeartifacts.blob.core.windows.net/builds/build.zip?sv=2022-11-02&ss=b&srt=o&sp=rwc&se=2024-12-31T23:59:59Z&spr=https&sig="+sas[0]+"\"",
		sec(tAzureSAS, sas[0]))
	c.add("shell", "azcopy copy ./dist \"https://acmeweb.blob.core.windows.net/web?sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=2024-07-01T00:00:00Z&st=2024-06-11T00:00:00Z&spr=https&sig="+sas[1]+"\" --recursive",
		sec(tAzureSAS, sas[1]))
	c.add("json_tool_result", `{"type":"tool_result","content":`+jq(jsonIndent(`{"sasUrl":`+jq("https://acmedata.blob.core.windows.net/exports/q2.csv?sp=r&st=2024-06-11T09:00:00Z&se=2024-06-11T17:00:00Z&spr=https&sv=2022-11-02&sr=b&sig="+sas[2])+`}`))+`}`,
		sec(tAzureSAS, sas[2]))
	c.add("code", "from azure.storage.blob import BlobClient\n\nblob = BlobClient.from_blob_url(\"https://acmedata.blob.core.windows.net/raw/2024/06/11/events.json?sp=r&se=2024-06-11T17:00:00Z&sv=2022-11-02&sr=b&sig="+sas[3]+"\")\n",
		sec(tAzureSAS, sas[3]))
	c.add("log_line", "2024-06-11T09:42:17Z INFO uploader: PUT chunk 3/12 to https://acmelogs.blob.core.windows.net/ingest/part-0003?sv=2022-11-02&se=2024-06-12T00:00:00Z&sr=c&sp=w&sig="+sas[4]+" status=201",
		sec(tAzureSAS, sas[4]))
	c.add("env", "AZURE_BLOB_SAS_URL=https://acmeml.blob.core.windows.net/models?sv=2022-11-02&sr=c&sp=rl&se=2024-09-30T00:00:00Z&sig="+sas[5]+"\n", sec(tAzureSAS, sas[5]))
}

// ---------------------------------------------------------------------------
// PII.

var firstNames = []string{"jane", "omar", "li", "ana", "kwame", "sofia", "ravi", "marta", "jonas", "aiko", "pedro", "emma"}
var lastNames = []string{"roe", "haddad", "wei", "lima", "mensah", "rossi", "iyer", "nowak", "berg", "sato", "alves", "dubois"}

func genPIISamples(c *corpusGen) {
	g := seeded("pii")
	name := func() (string, string) {
		return firstNames[g.r.IntN(len(firstNames))], lastNames[g.r.IntN(len(lastNames))]
	}
	title := func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

	// e-mail addresses
	f, l := name()
	e := f + "." + l + "@example.com"
	c.add("git_log", "commit "+g.s(chHex, 40)+"\nAuthor: "+title(f)+" "+title(l)+" <"+e+">\nDate:   Tue Jun 11 09:42:17 2024 +0200\n\n    fix: handle empty config files\n", sec(tEmail, e))
	e = "ops-team@acme-corp.io"
	c.add("json_tool_input", `{"tool":"send_email","input":{"to":`+jq(e)+`,"subject":"Deploy finished","body":"api v2.4.1 is live in eu-west-1."}}`, sec(tEmail, e))
	f, _ = name()
	e = f + ".bot+ci@example.org"
	c.add("shell", "git config --global user.email \""+e+"\" && git config --global user.name \"CI Bot\"", sec(tEmail, e))
	f, l = name()
	e = f + "." + l + "@mail.example.com"
	c.add("csv", "id,name,email,signup_date\n1042,"+title(f)+" "+title(l)+","+e+",2024-03-01\n", sec(tEmail, e))
	f, l = name()
	e = f + "_" + l[:1] + "@corp.example.net"
	c.add("log_line", "Jun 11 09:42:17 mx1 postfix/smtp[21873]: 4BXq2k0: to=<"+e+">, relay=mx.corp.example.net[203.0.113.25]:25, delay=0.42, status=sent (250 2.0.0 OK)",
		sec(tEmail, e))
	f, l = name()
	e = f + "@" + l + "-family.dev"
	c.add("config_yaml", "maintainers:\n  - name: "+title(f)+" "+title(l)+"\n    email: "+e+"\n    github: "+f+l+"\n", sec(tEmail, e))
	f, l = name()
	e = title(f) + "." + title(l) + "@Example.co.uk"
	c.add("http_headers", "From: "+title(f)+" "+title(l)+" <"+e+">\r\nTo: support@acme.io\r\nSubject: Invoice question\r\n", sec(tEmail, e), sec(tEmail, "support@acme.io"))

	// payment cards
	card := func(prefix string, n int) string { return luhnComplete(prefix + g.s(chDigits, n-len(prefix)-1)) }
	grp := func(s, sep string, sizes ...int) string {
		var parts []string
		for _, n := range sizes {
			parts = append(parts, s[:n])
			s = s[n:]
		}
		return strings.Join(parts, sep)
	}
	visa, mc, amex, disc, jcb, mc2 := card("4", 16), card("51", 16), card("37", 15), card("6011", 16), card("3530", 16), card("2221", 16)
	c.add("json_tool_input", `{"tool":"http_request","input":{"method":"POST","url":"https://pay.acme.io/v1/charges","body":{"amount":4999,"currency":"eur","card":{"number":`+
		jq(visa)+`,"exp_month":4,"exp_year":2027,"cvc":"123"}}}}`, sec(tCard, visa))
	c.add("shell", "curl https://pay.acme.io/v1/tokens -d \"card[number]="+mc+"\" -d \"card[exp_month]=12\" -d \"card[exp_year]=2026\"", sec(tCard, mc))
	c.add("prose", "Customer wrote: my card "+grp(amex, " ", 4, 6, 5)+" was charged twice for order 2024-000871, please refund one of them.", sec(tCard, grp(amex, " ", 4, 6, 5)))
	c.add("csv", "order_id,customer,card_number,amount\n871,"+title(lastNames[3])+","+grp(disc, "-", 4, 4, 4, 4)+",129.90\n", sec(tCard, grp(disc, "-", 4, 4, 4, 4)))
	c.add("config_yaml", "fixtures:\n  payment_method:\n    type: card\n    number: \""+grp(jcb, " ", 4, 4, 4, 4)+"\"\n    holder: Test User\n", sec(tCard, grp(jcb, " ", 4, 4, 4, 4)))
	c.add("log_line", "2024-06-11T09:42:17Z DEBUG checkout: tokenizing pan="+mc2+" brand=mastercard amount=19.99", sec(tCard, mc2))

	// IBANs
	de, gb, fr, nl, es := ibanFor("DE", g.s(chDigits, 18)), ibanFor("GB", "WEST"+g.s(chDigits, 14)), ibanFor("FR", g.s(chDigits, 10)+g.s(chUpperDig, 11)+g.s(chDigits, 2)),
		ibanFor("NL", "ABNA"+g.s(chDigits, 10)), ibanFor("ES", g.s(chDigits, 20))
	c.add("prose", "Please transfer the deposit to IBAN "+ibanGroups(de)+" (BIC DEUTDEFFXXX) by Friday.", sec(tIBAN, ibanGroups(de)))
	c.add("json_tool_input", `{"tool":"create_payout","input":{"beneficiary":"Acme Supplies Ltd","iban":`+jq(gb)+`,"amount":"1250.00","currency":"GBP"}}`, sec(tIBAN, gb))
	c.add("csv", "supplier;iban;bic\nFournitures SARL;"+ibanGroups(fr)+";BNPAFRPP\n", sec(tIBAN, ibanGroups(fr)))
	c.add("config_xml", "<CdtrAcct>\n  <Id>\n    <IBAN>"+nl+"</IBAN>\n  </Id>\n</CdtrAcct>\n", sec(tIBAN, nl))
	c.add("config_yaml", "billing:\n  account_holder: Acme Iberia SL\n  iban: "+es+"\n  currency: EUR\n", sec(tIBAN, es))

	// US SSNs
	ssn := func() string {
		area := 1 + g.r.IntN(665)
		if area == 666 {
			area = 667
		}
		return fmt.Sprintf("%03d-%02d-%04d", area, 1+g.r.IntN(99), 1+g.r.IntN(9999))
	}
	n := []string{ssn(), ssn(), ssn(), ssn(), ssn(), ssn()}
	c.add("json_tool_input", `{"tool":"fill_form","input":{"form":"w4","fields":{"first_name":"Jane","last_name":"Roe","ssn":`+jq(n[0])+`,"filing_status":"single"}}}`, sec(tSSN, n[0]))
	c.add("csv", "employee_id,name,ssn,start_date\nE-1042,Omar Haddad,"+n[1]+",2023-09-01\n", sec(tSSN, n[1]))
	c.add("code", "INSERT INTO applicants (id, full_name, ssn) VALUES (17, 'Ana Lima', '"+n[2]+"');", sec(tSSN, n[2]))
	c.add("prose", "The applicant's SSN is "+n[3]+"; the credit check came back clean.", sec(tSSN, n[3]))
	c.add("log_line", "2024-06-11 09:42:17 INFO kyc: verifying identity ssn="+n[4]+" dob=1988-02-14 result=match", sec(tSSN, n[4]))
	c.add("config_yaml", "test_applicant:\n  name: Kwame Mensah\n  ssn: \""+n[5]+"\"\n", sec(tSSN, n[5]))

	// phone numbers
	nanp := func() string { return fmt.Sprintf("%d%02d", 2+g.r.IntN(8), g.r.IntN(100)) }
	ph := []string{
		"+1 " + nanp() + " 555 0" + g.s(chDigits, 3),
		"+44 20 7946 0" + g.s(chDigits, 3),
		"(" + nanp() + ") 555-0" + g.s(chDigits, 3),
		nanp() + "-555-0" + g.s(chDigits, 3),
		"+49 30 " + g.s("123456789", 1) + g.s(chDigits, 6),
		"+1" + nanp() + "555" + "0" + g.s(chDigits, 3),
		"+33 6 " + g.s(chDigits, 2) + " " + g.s(chDigits, 2) + " " + g.s(chDigits, 2) + " " + g.s(chDigits, 2),
	}
	c.add("prose", "You can reach the on-call engineer at "+ph[0]+" until 18:00 CET.", sec(tPhone, ph[0]))
	c.add("config_yaml", "contacts:\n  - name: London office\n    phone: \""+ph[1]+"\"\n", sec(tPhone, ph[1]))
	c.add("csv", "name,phone,city\nSofia Rossi,"+ph[2]+",Chicago\n", sec(tPhone, ph[2]))
	c.add("json_tool_input", `{"tool":"create_contact","input":{"name":"Ravi Iyer","mobile":`+jq(ph[3])+`,"company":"Acme"}}`, sec(tPhone, ph[3]))
	c.add("log_line", "2024-06-11 09:42:17 INFO sms: sent verification code to "+ph[4]+" (provider=twilio)", sec(tPhone, ph[4]))
	c.add("shell", "curl -X POST https://api.twilio.com/2010-04-01/Accounts/$TWILIO_ACCOUNT_SID/Messages.json --data-urlencode \"To="+ph[5]+"\" --data-urlencode \"Body=Your build passed\" -u \"$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN\"",
		sec(tPhone, ph[5]))
	c.add("http_headers", "POST /v1/leads HTTP/1.1\r\nHost: crm.acme.io\r\nContent-Type: application/json\r\n\r\n{\"name\":\"Marta Nowak\",\"phone\":\""+ph[6]+"\"}",
		sec(tPhone, ph[6]))
}

// ---------------------------------------------------------------------------
// Benign near misses: nothing here may be reported.

func genBenignSamples(c *corpusGen) {
	g := seeded("benign")
	h := func(n int) string { return g.s(chHex, n) }
	b64 := func(n int) string { return g.s(chB64, n) }
	id := func() string { return uuidOf(g) }
	add := c.addBenign
	const crock = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

	// hashes and checksums
	add("shell", "hash", "$ md5sum dist/*.tar.gz\n"+h(32)+"  dist/app-2.4.1.tar.gz\n"+h(32)+"  dist/app-2.4.0.tar.gz\n")
	add("shell", "hash", "$ sha1sum release.zip\n"+h(40)+"  release.zip\n")
	add("shell", "hash", "$ sha256sum -c SHA256SUMS\n"+h(64)+"  otelcol-agentaudit_linux_amd64.tar.gz\notelcol-agentaudit_linux_amd64.tar.gz: OK\n")
	add("shell", "hash", "$ sha512sum backup.tar\n"+h(128)+"  backup.tar\n")
	add("json_tool_result", "hash", `{"type":"tool_result","content":`+jq(jsonIndent(`{"name":"app.bin","size":10485760,"md5":`+jq(h(32))+`,"sha256":`+jq(h(64))+`}`))+`}`)
	add("html", "hash", `<script src="https://cdn.jsdelivr.net/npm/alpinejs@3.14.1/dist/cdn.min.js" integrity="sha384-`+b64(64)+`" crossorigin="anonymous"></script>`)
	add("config_toml", "hash", "[[package]]\nname = \"serde\"\nversion = \"1.0.203\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \""+h(64)+"\"\n")
	add("config_ini", "hash", "requests==2.32.3 \\\n    --hash=sha256:"+h(64)+" \\\n    --hash=sha256:"+h(64)+"\n")
	add("http_headers", "hash", "HTTP/1.1 200 OK\r\nETag: \""+h(32)+"\"\r\nCache-Control: max-age=3600\r\nContent-Length: 18342\r\n\r\n")
	add("config_ini", "hash", "version https://git-lfs.github.com/spec/v1\noid sha256:"+h(64)+"\nsize 104857600\n")
	add("config_hcl", "hash", "provider \"registry.terraform.io/hashicorp/aws\" {\n  version     = \"5.54.1\"\n  constraints = \"~> 5.0\"\n  hashes = [\n    \"h1:"+b64(43)+"=\",\n    \"zh:"+h(64)+"\",\n  ]\n}\n")
	add("http_headers", "hash", "POST /webhooks/github HTTP/1.1\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: "+id()+"\r\nX-Hub-Signature-256: sha256="+h(64)+"\r\n\r\n")
	add("http_headers", "hash", "POST /slack/events HTTP/1.1\r\nX-Slack-Request-Timestamp: 1718099999\r\nX-Slack-Signature: v0="+h(64)+"\r\n\r\n")
	add("http_headers", "hash", "POST /stripe/webhook HTTP/1.1\r\nStripe-Signature: t=1718099999,v1="+h(64)+",v0="+h(64)+"\r\n\r\n")
	add("log_line", "hash", "2024-06-11T09:42:17Z INFO cache: hit key="+h(64)+" size=4096 ttl=300s")

	// UUIDs and other identifiers
	add("http_headers", "uuid", "HTTP/1.1 201 Created\r\nX-Request-Id: "+id()+"\r\nLocation: /v1/orders/"+id()+"\r\n\r\n")
	add("config_yaml", "uuid", "metadata:\n  name: api-7f9c8d6b5-x2k4p\n  namespace: prod\n  uid: "+id()+"\n  resourceVersion: \"48213377\"\n")
	add("json_tool_result", "uuid", `{"type":"tool_result","content":`+jq("$ az account show\n"+jsonIndent(`{"environmentName":"AzureCloud","id":`+jq(id())+`,"isDefault":true,"name":"Acme Production","state":"Enabled","tenantId":`+jq(id())+`}`))+`}`)
	add("env", "uuid", "AZURE_CLIENT_ID="+id()+"\nAZURE_TENANT_ID="+id()+"\nAZURE_SUBSCRIPTION_ID="+id()+"\n")
	add("json_tool_input", "uuid", `{"tool":"http_request","input":{"method":"POST","url":"https://pay.acme.io/v1/refunds","headers":{"Idempotency-Key":`+jq(id())+`},"body":{"charge":"ch_3PQ2Lk2eZvKYlo2C1"}}}`)
	add("json_config", "uuid", `{"session.id":`+jq(id())+`,"user.id":"u-1842","host.id":`+jq(h(32))+`,"process.pid":4242,"correlation_id":`+jq(strings.ToUpper(id()))+`}`)
	add("log_line", "uuid", "level=info msg=\"job finished\" job_id="+id()+" run_id="+id()+" duration=3.21s")
	add("shell", "uuid", "$ uuidgen\n"+strings.ToUpper(id())+"\n$ cat /proc/sys/kernel/random/boot_id\n"+id()+"\n")

	// git SHAs
	add("shell", "git_sha", "$ git log --oneline -5\n"+h(7)+" fix: handle empty config\n"+h(7)+" feat: add retry\n"+h(7)+" chore: bump deps\n"+h(7)+" docs: update README\n"+h(7)+" test: cover parser\n")
	add("shell", "git_sha", "$ git rev-parse HEAD\n"+h(40)+"\n$ git describe --tags\nv2.4.1-3-g"+h(7)+"\n")
	add("shell", "git_sha", "diff --git a/src/auth/token.go b/src/auth/token.go\nindex "+h(7)+".."+h(7)+" 100644\n--- a/src/auth/token.go\n+++ b/src/auth/token.go\n")
	add("url", "git_sha", "https://github.com/acme/platform/commit/"+h(40)+" and https://github.com/acme/platform/compare/"+h(12)+"..."+h(12))
	add("env", "git_sha", "GITHUB_SHA="+h(40)+"\nGITHUB_REF=refs/heads/main\nGITHUB_RUN_ID=9481726354\nGITHUB_RUN_ATTEMPT=1\n")
	add("shell", "git_sha", "$ git ls-remote origin\n"+h(40)+"\tHEAD\n"+h(40)+"\trefs/heads/main\n"+h(40)+"\trefs/tags/v2.4.1\n")
	add("json_tool_result", "git_sha", `{"type":"tool_result","content":`+jq(jsonIndent(`{"sha":`+jq(h(40))+`,"commit":{"message":"Merge pull request #812 from acme/fix-token-refresh","tree":{"sha":`+jq(h(40))+`}},"parents":[{"sha":`+jq(h(40))+`}]}`))+`}`)
	add("shell", "git_sha", "commit "+h(40)+"\nMerge: "+h(7)+" "+h(7)+"\nDate:   Tue Jun 11 09:42:17 2024 +0200\n\n    Merge branch 'fix/secret-rotation'\n")

	// trace and span ids
	add("http_headers", "trace_id", "GET /v1/items HTTP/1.1\r\ntraceparent: 00-"+h(32)+"-"+h(16)+"-01\r\ntracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\r\n\r\n")
	add("json_config", "trace_id", `{"trace_id":`+jq(h(32))+`,"span_id":`+jq(h(16))+`,"parent_span_id":`+jq(h(16))+`,"name":"tool.call","kind":"SPAN_KIND_INTERNAL"}`)
	add("http_headers", "trace_id", "X-B3-TraceId: "+h(32)+"\r\nX-B3-SpanId: "+h(16)+"\r\nX-B3-Sampled: 1\r\n")
	add("http_headers", "trace_id", "X-Amzn-Trace-Id: Root=1-"+h(8)+"-"+h(24)+";Parent="+h(16)+";Sampled=1\r\n")
	add("http_headers", "trace_id", "x-datadog-trace-id: 7"+g.s(chDigits, 18)+"\r\nx-datadog-parent-id: 3"+g.s(chDigits, 17)+"\r\nx-datadog-sampling-priority: 1\r\n")
	add("http_headers", "trace_id", "uber-trace-id: "+h(16)+":"+h(16)+":0:1\r\nX-Cloud-Trace-Context: "+h(32)+"/1"+g.s(chDigits, 18)+";o=1\r\n")
	add("log_line", "trace_id", "2024-06-11T09:42:17.381Z INFO [trace_id="+h(32)+" span_id="+h(16)+"] tool call completed in 412ms")

	// other ids
	add("log_line", "id", "created job 01"+g.s(crock, 24)+" (ulid) and event 2"+g.s(chAlnum, 26)+" (ksuid)")
	add("json_tool_result", "id", `{"type":"tool_result","content":`+jq(jsonIndent(`{"id":"cus_`+g.s(chAlnum, 14)+`","object":"customer","invoice_prefix":"`+g.s(chUpperDig, 8)+`","default_source":"card_`+g.s(chAlnum, 24)+`"}`))+`}`)
	add("json_config", "id", `{"id":"chatcmpl-`+g.s(chAlnum, 29)+`","object":"chat.completion","model":"gpt-4o-2024-08-06","system_fingerprint":"fp_`+h(10)+`"}`)
	add("json_config", "id", `{"id":"msg_01`+g.s(chAlnum, 22)+`","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_01`+g.s(chAlnum, 22)+`","name":"Bash"}]}`)
	add("shell", "id", "$ aws ec2 describe-instances --query 'Reservations[].Instances[].[InstanceId,VpcId]'\ni-0"+h(16)+"  vpc-0"+h(16)+"\ni-0"+h(16)+"  vpc-0"+h(16)+"\n")
	add("log_line", "id", "role arn:aws:iam::123456789012:role/deploy assumed by arn:aws:sts::123456789012:assumed-role/deploy/ci-9481726354")
	add("json_config", "id", `{"channel":"C0`+g.s(chUpperDig, 8)+`","user":"U0`+g.s(chUpperDig, 8)+`","ts":"1718099999.123456","team":"T0`+g.s(chUpperDig, 8)+`"}`)
	add("env", "id", "TWILIO_ACCOUNT_SID=AC"+h(32)+"\nTWILIO_FROM_NUMBER_SID=PN"+h(32)+"\n")
	add("log_line", "id", "discord: message 1"+g.s(chDigits, 17)+" in channel 1"+g.s(chDigits, 17)+" by user 4"+g.s(chDigits, 16)+" deleted")
	add("url", "id", "https://docs.google.com/spreadsheets/d/1"+g.s(chB64URL, 43)+"/edit#gid=0")
	add("json_config", "id", `{"requestId":"req_011C`+g.s(chAlnum, 20)+`","error":{"type":"overloaded_error","message":"Overloaded"}}`)

	// versions
	add("shell", "version", "otelcol v0.162.0 (core v1.68.0), go1.26.8 linux/amd64, node v20.11.1, python 3.12.4, 1.2.3-rc.1+build.5")
	add("json_config", "version", jsonIndent(`{"dependencies":{"react":"^18.3.1","next":"14.2.4","zod":"~3.23.8","parse-passwd":"^1.0.0","keytar":">=7.9.0 <8","@auth/core":"0.34.1"}}`))
	add("config_ini", "version", "# requirements.txt\nrequests==2.32.3\ncryptography>=42.0.8,<43\npython-jose[cryptography]==3.3.0\nkeyring~=25.2\n")
	add("config_ini", "version", "module github.com/acme/platform\n\ngo 1.26\n\nrequire (\n\tgithub.com/golang-jwt/jwt/v5 v5.2.1\n\tgolang.org/x/crypto v0.24.0\n\tgolang.org/x/oauth2 v0.21.0\n)\n")
	add("config_toml", "version", "[dependencies]\ntokio = { version = \"1.38\", features = [\"full\"] }\nsecrecy = \"0.8.0\"\nring = \"0.17.8\"\n")
	add("shell", "version", "$ docker images\nREPOSITORY            TAG           IMAGE ID       SIZE\nghcr.io/acme/api      2.4.1         "+h(12)+"   182MB\npostgres              16.3-alpine   "+h(12)+"   243MB\n")
	add("shell", "version", "$ uname -a\nLinux devbox 6.8.0-35-generic #35-Ubuntu SMP PREEMPT_DYNAMIC Mon May 20 15:51:52 UTC 2024 x86_64 GNU/Linux")
	add("http_headers", "version", "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.61 Safari/537.36\r\n")
	add("log_line", "version", "upgrading kubernetes 1.29.4 -> 1.30.2, containerd 1.7.18, helm chart ingress-nginx-4.10.1, windows build 10.0.22631.3737")
	add("config_yaml", "version", "apiVersion: v2\nname: api\nversion: 2.4.1\nappVersion: \"2.4.1\"\ndependencies:\n  - name: postgresql\n    version: 15.5.x\n    repository: oci://registry-1.docker.io/bitnamicharts\n")

	// timestamps and numbers
	add("log_line", "timestamp", "2024-01-02T03:04:05.123456789Z 2024-01-02 03:04:05 +0000 Mon Jan  2 15:04:05 MST 2006 Tue, 11 Jun 2024 09:42:17 GMT")
	add("log_line", "timestamp", "ts=1718099999 ms=1718099999123 ns=1718099999123456789 elapsed=0.000412s")
	add("log_line", "timestamp", "Jun 11 09:42:17 devbox sshd[21873]: Accepted publickey for agent from 10.0.4.12 port 52144 ssh2: ED25519 SHA256:"+b64(43))
	add("config_yaml", "timestamp", "schedule:\n  - cron: \"0 3 * * 1-5\"\nretention: 720h\nnot_after: 2025-06-11T00:00:00Z\n")
	add("json_config", "timestamp", `{"created":1718099999,"expires_at":"2024-06-11T10:42:17Z","updated_at":"2024-06-11T09:42:17.381+02:00"}`)
	add("csv", "number", "date,amount,currency,balance\n2024-06-01,1234.56,EUR,98765.43\n2024-06-02,-42.00,EUR,98723.43\n")
	add("prose", "number", "The invoice total is $1,234,567.89 (VAT 19%), payable within 30 days; reference 2024-000871, ext. 4567, room 101, zip 94105-1234.")

	// file paths
	add("shell", "path", "$ ls -la ~/.ssh\n-rw------- 1 agent agent  411 Jun 11 09:42 id_ed25519\n-rw-r--r-- 1 agent agent  102 Jun 11 09:42 id_ed25519.pub\n-rw-r--r-- 1 agent agent 1421 Jun 11 09:42 known_hosts\n")
	add("json_tool_input", "path", `{"tool":"Read","input":{"file_path":"/home/agent/.aws/credentials"}}`)
	add("json_tool_input", "path", `{"tool":"Read","input":{"file_path":"C:\\Users\\agent\\AppData\\Roaming\\gcloud\\credentials.db"}}`)
	add("shell", "path", "cp .env.example .env && chmod 600 .env config/master.key secrets/token.txt")
	add("config_yaml", "path", "database:\n  password_file: /run/secrets/db_password\n  ssl_key: /etc/ssl/private/db.key\n  token_file: /var/run/secrets/kubernetes.io/serviceaccount/token\n")
	add("env", "path", "GOOGLE_APPLICATION_CREDENTIALS=/home/agent/keys/sa.json\nKUBECONFIG=/home/agent/.kube/config\nSSH_AUTH_SOCK=/tmp/ssh-XXXXabcd/agent.1234\n")
	add("shell", "path", "$ find . -name '*.pem' -o -name '*.key' -o -name '.env*'\n./certs/ca.pem\n./certs/server.key\n./.env.example\n")
	add("config_ini", "path", "# .gitignore\n.env\n.env.*\n!.env.example\n*.pem\n*.key\nsecrets/\ncredentials.json\n")
	add("shell", "path", "ssh -i ~/.ssh/id_ed25519 -p 2222 deploy@10.0.4.12 'tail -n 50 /var/log/app/secret-rotation.log'")
	add("json_tool_input", "path", `{"tool":"Bash","input":{"command":"kubectl create secret generic db-creds --from-file=password=./secrets/db_password.txt --from-file=ca.crt"}}`)
	add("shell", "path", "gcloud auth activate-service-account --key-file=/home/agent/keys/deployer.json && gcloud config set project acme-prod-4821")

	// URLs without credentials
	add("url", "url", "https://accounts.google.com/o/oauth2/v2/auth?client_id=123456789012-abc.apps.googleusercontent.com&response_type=code&scope=openid%20email&redirect_uri=https%3A%2F%2Fapp.acme.io%2Fcallback&state="+g.s(chB64URL, 32)+"&code_challenge="+g.s(chB64URL, 43)+"&code_challenge_method=S256")
	add("url", "url", "GET https://api.github.com/repos/acme/platform/pulls?state=open&per_page=100&page=2")
	add("url", "url", "https://app.acme.io/reset-password?user=42 and https://app.acme.io/settings/tokens and https://app.acme.io/api-keys/new")
	add("shell", "url", "git clone git@github.com:acme/platform.git && git remote add upstream ssh://git@gitlab.acme.io:2222/platform/api.git")
	add("url", "url", "https://registry.npmjs.org/@acme%2fui/-/ui-3.1.0.tgz and https://www.npmjs.com/package/@auth/core and https://medium.com/@acme/rotating-secrets")
	add("url", "url", "https://login.microsoftonline.com/"+id()+"/oauth2/v2.0/token and https://oauth2.googleapis.com/token")
	add("url", "url", "https://www.youtube.com/watch?v="+g.s(chB64URL, 11)+"&t=42s")
	add("config_yaml", "url", "auth:\n  issuer: https://auth.acme.io/\n  jwks_uri: https://auth.acme.io/.well-known/jwks.json\n  token_url: https://auth.acme.io/oauth/token\n  authorize_url: https://auth.acme.io/authorize\n")
	add("url", "url", "https://acme.atlassian.net/browse/OPS-1842?focusedCommentId=48213&page=com.atlassian.jira.plugin.system.issuetabpanels")

	// prose about secrets
	for _, t := range []string{
		"Please reset your password via the settings page; the API key rotation completed without errors.",
		"Your password must be at least 12 characters long and contain a digit, an upper-case letter and a symbol.",
		"I looked through the repository and found no hard-coded credentials; the tokens are read from the environment.",
		"The secret is stored in Vault under secret/data/app/prod and injected at deploy time.",
		"Never commit your .env file. Use the password manager to share the staging password with the team.",
		"passwd(1) changes the password of a user account; the --password-stdin flag reads a password from standard input.",
		"Error 401: the access token has expired. Refresh it with the refresh token or log in again.",
		"Forgot password? Enter your email address and we'll send you a reset link.",
		"The bearer of this letter is authorized to collect the package; keyboard shortcuts are listed in the help menu.",
		"Authorization header missing or malformed; expected the Bearer scheme.",
		"Password strength: strong. Passphrase: 6 words. Two-factor authentication: enabled.",
		"I rotated the GitHub token and the Slack bot token; the old secrets are revoked and the new ones are in 1Password.",
		"token: the unit a language model reads; a secret: something you do not share; a key: what opens a lock.",
		"The passport number field is optional; the bypass valve and the compass are in the passenger cabin.",
	} {
		add("prose", "prose_password", t)
	}
	add("log_line", "prose_password", "2024-06-11 09:42:17 WARN auth: login failed for user admin (invalid password), attempt 3 of 5")
	add("log_line", "prose_password", "error: password authentication failed for user \"app\"\nFATAL: no pg_hba.conf entry for host \"10.0.4.12\", user \"app\", database \"app\", SSL off")
	add("json_tool_result", "prose_password", `{"type":"tool_result","content":"Enter passphrase for key '/home/agent/.ssh/id_ed25519': \nPermission denied (publickey).","is_error":true}`)

	// LLM token counts
	add("json_config", "llm_tokens", `{"usage":{"prompt_tokens":1532,"completion_tokens":402,"total_tokens":1934,"prompt_tokens_details":{"cached_tokens":1024}}}`)
	add("json_config", "llm_tokens", `{"usage":{"input_tokens":2048,"output_tokens":512,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048}}`)
	add("json_config", "llm_tokens", `{"gen_ai.usage.input_tokens":1234,"gen_ai.usage.output_tokens":567,"gen_ai.request.max_tokens":4096,"gen_ai.response.finish_reasons":["stop"]}`)
	add("prose", "llm_tokens", "Context window: 200,000 tokens; this conversation used 48,213 tokens (about 36,000 words) at 85 tokens/s.")
	add("code", "llm_tokens", "resp = client.messages.create(model=\"claude-sonnet-4\", max_tokens=4096, messages=msgs)\nprint(resp.usage.output_tokens)")
	add("shell", "llm_tokens", "$ python -c \"import tiktoken; print(tiktoken.get_encoding('cl100k_base').encode('hello world'))\"\n[15339, 1917]")
	add("json_config", "llm_tokens", `{"max_tokens":4096,"temperature":0.2,"stop":["\n\nHuman:"],"next_page_token":null,"stream":true}`)

	// placeholders and references
	for _, t := range []struct{ payload, text string }{
		{"shell", "export API_KEY=$API_KEY\nexport DB_PASSWORD=${DB_PASSWORD:?must be set}\nTOKEN=\"$(cat /run/secrets/token)\""},
		{"shell", "curl -H \"Authorization: Bearer $GITHUB_TOKEN\" -H \"X-Api-Key: ${API_KEY}\" https://api.acme.io/v1/me"},
		{"shell", "echo \"OPENAI_API_KEY=$OPENAI_API_KEY\" >> .env && echo \"DB_PASSWORD=${DB_PASSWORD}\" >> .env"},
		{"config_yaml", "env:\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n  GH_TOKEN: ${{ github.token }}\nwith:\n  password: ${{ secrets.REGISTRY_PASSWORD }}\n"},
		{"config_yaml", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-creds\n        key: password\n"},
		{"json_config", `{"environment":[{"name":"DB_PASSWORD","valueFrom":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"},{"name":"API_TOKEN","value":""}]}`},
		{"config_yaml", "password: \"{{ .Values.db.password }}\"\ntoken: ${TOKEN}\napi_key: <your-api-key>\nsecret: \"***\"\nclient_secret: <REPLACE_ME>\n"},
		{"env", "# .env.example\nSTRIPE_SECRET_KEY=\nOPENAI_API_KEY=\nDATABASE_URL=\nJWT_SECRET=\nSENTRY_DSN=\n"},
		{"json_config", `{"password":"********","api_key":"[REDACTED]","token":"<redacted>","secret":"[REDACTED:secret_assignment]","auth":"[HMAC:k1:3f2a9c]"}`},
		{"config_yaml", "db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  " + h(64) + "\n  " + h(64) + "\n"},
		{"config_yaml", "api_key: ENC[AES256_GCM,data:" + b64(32) + ",iv:" + b64(43) + "=,tag:" + b64(22) + "==,type:str]\nsops:\n  version: 3.8.1\n"},
		{"shell", "op read op://Engineering/Stripe/api_key\nexport GITHUB_TOKEN=$(gh auth token)\nexport VAULT_TOKEN=$(vault print token)"},
		{"prose", "Set OPENAI_API_KEY=sk-... (your key) and GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxx in the environment, or pass --api-key YOUR_API_KEY."},
		{"code", "password = os.environ.get(\"DB_PASSWORD\")\ntoken = os.environ[\"GITHUB_TOKEN\"]\napi_key = settings.API_KEY\n"},
		{"config_properties", "spring.datasource.password=${DB_PASSWORD}\nspring.mail.password=${MAIL_PASSWORD:}\napp.jwt.secret=${JWT_SECRET}\n"},
		{"powershell", "$env:API_KEY = $env:API_KEY_PROD\n$cred = Get-Credential -UserName admin -Message 'Enter password'"},
	} {
		add(t.payload, "placeholder", t.text)
	}

	// public keys and public identifiers
	add("shell", "public_key", "$ cat ~/.ssh/id_ed25519.pub\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"+b64(43)+" agent@devbox")
	add("config_ini", "public_key", "# ~/.ssh/authorized_keys\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ"+b64(300)+" deploy@ci\n")
	add("json_tool_input", "public_key", `{"tool":"Write","input":{"file_path":"keys/jwt.pub","content":`+jq("-----BEGIN PUBLIC KEY-----\n"+b64(64)+"\n"+b64(64)+"\n"+b64(24)+"==\n-----END PUBLIC KEY-----\n")+`}}`)
	add("shell", "public_key", "$ cat certs/ca.pem\n-----BEGIN CERTIFICATE-----\n"+b64(64)+"\n"+b64(64)+"\n"+b64(40)+"=\n-----END CERTIFICATE-----\n")
	add("shell", "public_key", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"+b64(64)+"\n"+b64(64)+"\n="+b64(4)+"\n-----END PGP PUBLIC KEY BLOCK-----")
	add("config_yaml", "public_key", "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: age1"+g.s("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)+"\n")
	add("code", "public_key", "const stripe = Stripe(\"pk_live_"+g.s(chAlnum, 99)+"\");\nmapboxgl.accessToken = \"pk.eyJ1IjoiYWNtZSIsImEiOiJ"+g.s(chB64URL, 40)+"\";")
	add("json_config", "public_key", `{"keys":[{"kty":"RSA","use":"sig","kid":`+jq(h(16))+`,"alg":"RS256","n":`+jq(g.s(chB64URL, 342))+`,"e":"AQAB"}]}`)
	add("config_ini", "public_key", "[Peer]\nPublicKey = "+b64(43)+"=\nEndpoint = vpn.acme.io:51820\nAllowedIPs = 10.8.0.0/24\nPersistentKeepalive = 25\n")
	add("json_config", "public_key", `{"publishableKey":"pk_test_`+g.s(chAlnum, 99)+`","public_key":`+jq(b64(43)+"=")+`,"client_id":"Iv1.`+h(16)+`"}`)

	// base64 that is not a secret
	add("html", "base64", `<img alt="logo" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQ`+b64(120)+`=" />`)
	add("shell", "base64", "$ echo SGVsbG8sIHdvcmxkIQ== | base64 -d\nHello, world!")
	add("json_config", "base64", `{"event":"push","payload":`+jq(base64.StdEncoding.EncodeToString([]byte(`{"ref":"refs/heads/main","repository":"acme/platform","pusher":"ci-bot"}`)))+`}`)
	add("http_headers", "base64", "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"+base64.StdEncoding.EncodeToString([]byte("<html><body><p>Your report is ready.</p></body></html>")))
	add("config_yaml", "base64", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\nbinaryData:\n  logo.png: iVBORw0KGgoAAAANSUhEUgAA"+b64(80)+"\n")

	// image digests, lock files, go.sum
	add("shell", "docker_digest", "docker pull ghcr.io/acme/api@sha256:"+h(64))
	add("shell", "docker_digest", "$ docker images --digests\nREPOSITORY        TAG     DIGEST                                                                    IMAGE ID\nghcr.io/acme/api  2.4.1   sha256:"+h(64)+"   "+h(12)+"\n")
	add("config_yaml", "docker_digest", "status:\n  containerStatuses:\n    - name: api\n      imageID: ghcr.io/acme/api@sha256:"+h(64)+"\n      containerID: containerd://"+h(64)+"\n")
	add("json_config", "docker_digest", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:`+h(64)+`","size":1234,"platform":{"architecture":"amd64","os":"linux"}}]}`)
	add("config_ini", "go_sum", "github.com/golang-jwt/jwt/v5 v5.2.1 h1:"+b64(43)+"=\ngithub.com/golang-jwt/jwt/v5 v5.2.1/go.mod h1:"+b64(43)+"=\n")
	add("config_ini", "go_sum", "golang.org/x/crypto v0.24.0 h1:"+b64(43)+"=\ngolang.org/x/oauth2 v0.0.0-20240611094217-"+h(12)+" h1:"+b64(43)+"=\n")
	add("json_config", "lockfile", jsonIndent(`{"packages":{"node_modules/jsonwebtoken":{"version":"9.0.2","resolved":"https://registry.npmjs.org/jsonwebtoken/-/jsonwebtoken-9.0.2.tgz","integrity":"sha512-`+b64(86)+`=="}}}`))
	add("config_yaml", "lockfile", "jsonwebtoken@^9.0.2:\n  version \"9.0.2\"\n  resolved \"https://registry.yarnpkg.com/jsonwebtoken/-/jsonwebtoken-9.0.2.tgz#"+h(40)+"\"\n  integrity sha512-"+b64(86)+"==\n")
	add("config_yaml", "lockfile", "packages:\n  /keytar@7.9.0:\n    resolution: {integrity: sha512-"+b64(86)+"==}\n    requiresBuild: true\n")
	add("config_toml", "lockfile", "[[package]]\nname = \"pyjwt\"\nversion = \"2.8.0\"\nfiles = [\n    {file = \"PyJWT-2.8.0-py3-none-any.whl\", hash = \"sha256:"+h(64)+"\"},\n]\n")

	// IP addresses and network
	add("shell", "ip_address", "$ ip -brief addr\nlo       UNKNOWN  127.0.0.1/8 ::1/128\neth0     UP       10.0.4.12/24 fe80::"+h(4)+":"+h(4)+":fe"+h(2)+":"+h(4)+"/64\n")
	add("log_line", "ip_address", "203.0.113.25 - - [11/Jun/2024:09:42:17 +0000] \"GET /v1/health HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.30\" 0.001")
	add("config_yaml", "ip_address", "allowlist:\n  - 10.0.0.0/8\n  - 192.168.1.254/32\n  - 2001:db8::/32\nport: 5432\n")
	add("shell", "ip_address", "$ arp -a\n? (10.0.4.1) at 02:42:ac:11:00:02 [ether] on eth0\n? (10.0.4.7) at 52:54:00:12:34:56 [ether] on eth0\n")
	add("log_line", "ip_address", "dial tcp 10.96.0.10:53: i/o timeout; retrying via [2001:db8::1]:53 and 1.1.1.1:853")

	// order numbers and other numbers
	add("prose", "order_number", "Order 112-7654321-1234567 shipped with UPS 1Z999AA10123456784; invoice INV-2024-000871, customer CUST-00042.")
	add("json_config", "order_number", `{"order_id":"ord_2024061100871","po_number":"PO-4500012345","isbn":"978-0-13-468599-1","sku":"SKU-88412-BLK-XL","amount_cents":129990}`)
	add("csv", "order_number", "order,quantity,unit_price\n10042,3,19.99\n10043,1,249.00\n10044,12,4.50\n")
	add("prose", "order_number", "Call extension 4567 or dial 555-1234 at the front desk; table 13, seat 101-B, flight LH 401 departs at 10:45.")

	// command lines without a password
	for _, t := range []string{
		"mysql -u root -p appdb",
		"ssh -p 2222 deploy@10.0.4.12 uptime",
		"docker run -d -p 8080:80 -e PORT=80 -e LOG_LEVEL=info nginx:1.27",
		"psql -h db.internal -U app -d app -c 'select 1'",
		"redis-cli -h cache.internal -p 6379 ping",
		"curl -u alice https://api.acme.io/v1/me",
		"openssl pkcs12 -in bundle.p12 -passin env:P12_PASSWORD -nodes -out bundle.pem",
		"ldapsearch -x -W -D 'cn=admin,dc=acme,dc=io' -b 'dc=acme,dc=io'",
		"kubectl port-forward svc/api 8080:80 -n prod",
		"docker login -u acmebuild --password-stdin registry.acme.io < /run/secrets/registry_token",
		"ssh-keygen -t ed25519 -N '' -f ./deploy_key -C deploy@ci",
		"az login --identity && az keyvault secret show --vault-name acme-kv --name db-password --query value -o tsv > /dev/null",
		"sshpass -e ssh -o StrictHostKeyChecking=no admin@10.0.4.12",
		"mongosh --host db.internal --username app --password --authenticationDatabase admin",
		"gh auth login --with-token < token.txt && gh auth status",
	} {
		add("shell", "cli_no_password", t)
	}

	// keys that describe a secret without holding one
	add("config_yaml", "metadata_key", "token_type: Bearer\nexpires_in: 3600\nsecret_name: prod/db\npassword_min_length: 12\napi_key_id: ak_1842\ntoken_endpoint: https://auth.acme.io/token\n")
	add("json_config", "metadata_key", `{"cache_key":`+jq(h(64))+`,"sort_key":"created_at","partition_key":"tenant_id","primary_key":"id","idempotency_key":`+jq(id())+`}`)
	add("json_config", "metadata_key", `{"passwordPolicy":{"minLength":12,"requireSymbols":true},"has_password":true,"use_token":false,"secretRef":{"name":"db-creds"},"key_size":2048}`)
	add("json_config", "metadata_key", `{"env":[{"name":"PASSWORD_RESET_ENABLED","value":"true"},{"name":"TOKEN_TTL","value":"3600"},{"name":"MAX_TOKENS","value":"4096"},{"name":"LOG_LEVEL","value":"info"}]}`)
	add("json_tool_result", "metadata_key", `{"type":"tool_result","content":`+jq(jsonIndent(`[{"keyName":"key1","permissions":"FULL","creationTime":"2024-01-09T10:12:44Z"},{"keyName":"key2","permissions":"FULL","creationTime":"2024-01-09T10:12:44Z"}]`))+`}`)
	add("config_yaml", "metadata_key", "keyVault:\n  name: acme-kv\n  secrets:\n    - db-password\n    - stripe-secret-key\n  tenantId: "+id()+"\n")
	add("json_config", "metadata_key", `{"access_token_expires_in":3600,"refresh_token_rotation":"enabled","token_type":"bearer","auth_type":"oauth2","secret_version":"7"}`)

	// code that handles secrets without containing one
	add("code", "code", "func (c *Client) SetToken(token string) {\n\tc.token = token\n\tc.header.Set(\"Authorization\", \"Bearer \"+token)\n}")
	add("code", "code", "def login(username: str, password: str) -> Token:\n    token = issue_token(username)\n    return token")
	add("code", "code", "const apiKey = process.env.OPENAI_API_KEY;\nconst secret = config.get('secret');\nif (!apiKey) throw new Error('OPENAI_API_KEY is not set');")
	add("code", "code", "interface Credentials {\n  username: string;\n  password: string;\n  apiKey?: string;\n}")
	add("code", "code", "CREATE TABLE users (\n  id BIGSERIAL PRIMARY KEY,\n  email TEXT NOT NULL,\n  password_hash TEXT NOT NULL,\n  api_key_prefix CHAR(8)\n);")
	add("code", "code", "type Config struct {\n\tPassword string `json:\"password,omitempty\" yaml:\"password\"`\n\tToken    string `json:\"token\"`\n}")
	add("code", "code", "let token = env::var(\"GITHUB_TOKEN\")?;\nlet client = Client::builder().bearer_auth(&token).build()?;")
	add("code", "code", "PASSWORD_RE = re.compile(r\"^(?=.*[A-Z])(?=.*\\d)(?=.*[^\\w\\s]).{12,}$\")")
	add("code", "code", "if token == \"\" {\n\treturn errors.New(\"token: missing\")\n}\nlog.Printf(\"token=%s secret=%v password=%q\", redact(token), nil, \"\")")
	add("code", "code", "headers[\"Authorization\"] = f\"Bearer {token}\"\nos.environ[\"API_KEY\"] = api_key\nconfig[\"password\"] = getpass.getpass()")
	add("code", "code", "cmd.Env = append(os.Environ(), \"PWD=\"+dir, \"HOME=\"+home)\nprompts := []string{\"Username: \", \"Password: \", \"Token: \"}\nfmt.Fprint(w, \"Password: \", strings.Repeat(\"*\", n))")
	add("json_config", "number", `{"ids":[`+luhnComplete("4"+g.s(chDigits, 14))+`,`+luhnComplete("5"+g.s("12345", 1)+g.s(chDigits, 13))+`,9007199254740993],"note":"int64 edge cases"}`)

	// HTTP without credentials
	add("http_headers", "http", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\"\r\nContent-Length: 0\r\n\r\n")
	add("http_headers", "http", "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: https://app.acme.io\r\nAccess-Control-Allow-Headers: Authorization, Content-Type, X-Api-Key\r\nAccess-Control-Max-Age: 600\r\n\r\n")
	add("http_headers", "http", "GET /v1/public/status HTTP/1.1\r\nHost: status.acme.io\r\nAccept: application/json\r\nCookie: theme=dark; lang=en\r\nCache-Control: no-cache\r\n\r\n")
	add("config_nginx", "http", "location /api/ {\n    proxy_pass http://backend:8080;\n    proxy_set_header Authorization $http_authorization;\n    proxy_set_header X-Real-IP $remote_addr;\n}\n")

	// configuration that references secrets
	add("config_yaml", "config", "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n      POSTGRES_USER: app\n    secrets:\n      - db_password\nsecrets:\n  db_password:\n    file: ./secrets/db_password.txt\n")
	add("config_hcl", "config", "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_db_instance\" \"main\" {\n  password = var.db_password\n}\n")
	add("config_yaml", "config", "postgresql:\n  auth:\n    existingSecret: db-creds\n    secretKeys:\n      adminPasswordKey: postgres-password\n      userPasswordKey: password\n")
	add("config_yaml", "config", "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    permissions:\n      id-token: write\n      contents: read\n    steps:\n      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          role-to-assume: arn:aws:iam::123456789012:role/deploy\n          aws-region: eu-west-1\n")
	add("env", "config", "$ env | sort\nHOME=/home/agent\nHOSTNAME=devbox-7f9c\nLANG=C.UTF-8\nPATH=/usr/local/bin:/usr/bin:/bin\nPWD=/home/agent/workspace\nSHELL=/bin/bash\nTERM=xterm-256color\nUSER=agent\n")
	add("config_ini", "config", "[client]\nuser = backup\nhost = db-replica.internal\n# password is read from ~/.mylogin.cnf\n")
}
