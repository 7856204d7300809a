package tests

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcorpus"
	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// The scrub canary: events full of fake secrets (canaries) go through the
// built collector with the scrub processor (distributions/local's pipeline:
// memory_limiter, scrub, chain, sign, worm) and a debug exporter, over the
// native API and OTLP/HTTP. No canary may come out anywhere: not in the
// archive, not in the debug exporter's output, not in the collector's log,
// not in the persistent queue or the chain state. The scan covers every
// file the collector writes under its directory, so an exporter that writes
// files (the SIEM exporters, a later issue) is covered as soon as a test
// config adds it under that directory. A control run without the scrub
// processor shows that the scan finds every canary when nothing hides it.

// scrubConfig makes e-mail addresses pseudonyms instead of masks, so that
// the HMAC path of the processor runs too; every other class is masked.
const scrubConfig = "    type_actions:\n      pii_email: hmac"

// loadSecretCorpus reads the labelled corpus of pkg/secrets
// (testdata/corpus/README.md there): realistic agent payloads and every
// secret in each, with its type.
func loadSecretCorpus(t *testing.T) []testcorpus.Sample {
	t.Helper()
	samples, _, err := testcorpus.Load()
	require.NoError(t, err, "the labelled corpus of pkg/secrets")
	return samples
}

// canary is one secret that must not come out of the scrubbing collector.
type canary struct {
	id    string   // where it comes from (corpus sample id)
	typ   string   // its labelled type
	forms []string // the labelled value, and the value it has once decoded from the JSON text it was labelled in
}

type canaries struct {
	list  []canary
	index map[string]int // value -> position in list
}

// add records value (of type typ, from sample id) as a canary, with its
// JSON-decoded form when the value was labelled inside JSON text
// ("-----BEGIN ...\\n..." becomes a real multi-line block once parsed).
func (cs *canaries) add(id, typ, value string) {
	if cs.index == nil {
		cs.index = map[string]int{}
	}
	if _, ok := cs.index[value]; ok {
		return
	}
	c := canary{id: id, typ: typ, forms: []string{value}}
	var dec string
	if strings.Contains(value, `\`) && json.Unmarshal([]byte(`"`+value+`"`), &dec) == nil && dec != value {
		c.forms = append(c.forms, dec)
	}
	cs.index[value] = len(cs.list)
	cs.list = append(cs.list, c)
}

func jsonEscaped(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// basicNeedles are the ways a canary shows when it is stored as is: raw,
// JSON-escaped (archive lines, OTLP/JSON), base64 (bytes values).
func (c canary) basicNeedles() []string {
	var out []string
	for _, f := range c.forms {
		out = append(out, f)
		if e := jsonEscaped(f); e != f {
			out = append(out, e)
		}
		if e := cefEscaped(f); e != f {
			out = append(out, e)
		}
		out = append(out, base64.StdEncoding.EncodeToString([]byte(f)))
	}
	return out
}

// cefEscaped is f as a CEF extension value holds it (the SIEM file).
func cefEscaped(f string) string {
	return strings.NewReplacer(`\`, `\\`, "=", `\=`, "\n", `\n`, "\r", `\r`).Replace(f)
}

var (
	keyBlockHeader = regexp.MustCompile(`^(-----|Proc-Type:|DEK-Info:|Comment:|Version:)`)
	lineBreak      = regexp.MustCompile(`\\n|\r?\n`)
)

// allNeedles add what would show a partial leak: every line of a
// multi-line secret (a key block whose BEGIN line was masked but not its
// body) and the middle of every long one (a mask that stopped short).
func (c canary) allNeedles() []string {
	out := c.basicNeedles()
	for _, f := range c.forms {
		for _, line := range lineBreak.Split(f, -1) {
			line = strings.TrimSpace(line)
			if len(line) >= 20 && line != f && !keyBlockHeader.MatchString(line) {
				out = append(out, line)
			}
		}
		if len(f) >= 24 {
			mid := f[len(f)/2-6 : len(f)/2+6]
			if !strings.ContainsAny(mid, " \t\r\n\\") {
				out = append(out, mid)
			}
		}
	}
	return out
}

// leak is one canary found in one file.
type leak struct {
	canary canary
	file   string
	needle string
	around string
}

func (l leak) String() string {
	return fmt.Sprintf("%s (%s) in %s: %q in ...%q...", l.canary.typ, l.canary.id, l.file, l.needle, l.around)
}

// scanTree reads every file under root raw and returns every canary one of
// whose needles it holds (needles: basicNeedles or allNeedles).
func scanTree(t *testing.T, root string, cs []canary, needles func(canary) []string) []leak {
	t.Helper()
	var out []leak
	var files []string
	all := make([][]string, len(cs))
	for i, c := range cs {
		all[i] = needles(c)
	}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files = append(files, fmt.Sprintf("%s (%d bytes)", rel, len(data)))
		// Object keys hold stream ids (archive.EscapeName: %XX escapes).
		name, err := url.PathUnescape(rel)
		if err != nil {
			name = rel
		}
		for i, c := range cs {
			for _, n := range all[i] {
				if strings.Contains(rel, n) || strings.Contains(name, n) {
					out = append(out, leak{canary: c, file: rel, needle: n, around: "(in the file name)"})
					break
				}
			}
		}
		for ci, c := range cs {
			for _, n := range all[ci] {
				if i := bytes.Index(data, []byte(n)); i >= 0 {
					lo, hi := max(0, i-40), min(len(data), i+len(n)+40)
					out = append(out, leak{canary: c, file: rel, needle: n, around: string(data[lo:hi])})
					break
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	t.Logf("scanned %d files under %s: %s", len(files), root, strings.Join(files, ", "))
	return out
}

// canaryRun is the set of events of the test, and what it knows about them.
type canaryRun struct {
	native   []map[string]any
	otlp     plog.Logs
	canaries canaries
	// texts whose digest or pseudonym the test recomputes
	prompt, toolResult, email, sessionEmail string
	ids                                     map[string]bool
}

const (
	canarySession = "sess-canary-7f3a"
	canaryTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
	canarySpan    = "00f067aa0ba902b7"
	otlpTrace     = "0af7651916cd43dd8448eb211c80319c"
	fileSHA256    = "ac0a1beff30f11f370abc4641736bfd81718d7a04d07bc7d3dbd1a639f985059"
)

// buildCanaryRun builds the events. Two kinds of canaries:
//   - hand-made events (ids hand-*) put corpus values of chosen types in
//     known places (tool arguments with nested env map and header array,
//     a mysql command line, URLs with credentials, a .env file write, a
//     private key, a prompt, OTLP resource/scope/record attributes, nested
//     kvlist and array values, a bytes value): the test checks their
//     non-secret evidence and report attributes exactly;
//   - corpus events (ids corpus-*): every sample of the corpus, its whole
//     text placed by payload kind (command lines as commands or
//     Bash arguments, JSON tool inputs parsed into nested arguments, JSON
//     tool results as OTLP map bodies or digested results, JSON configs
//     parsed into a nested attribute, other files as file content, log
//     lines as OTLP bodies, prose as reasons or prompts).
func buildCanaryRun(t *testing.T) *canaryRun {
	t.Helper()
	corpus := loadSecretCorpus(t)
	r := &canaryRun{ids: map[string]bool{}}
	cs := &r.canaries
	used := map[string]bool{} // values used by hand-made events

	// value returns a labelled value of typ that ok accepts, one that no
	// hand-made event uses yet if there is one, and records it as a canary.
	value := func(typ string, ok func(string) bool) string {
		t.Helper()
		for _, reuse := range []bool{false, true} {
			for _, s := range corpus {
				for _, sec := range s.Secrets {
					if sec.Type == typ && (reuse || !used[sec.Value]) && (ok == nil || ok(sec.Value)) {
						used[sec.Value] = true
						cs.add(s.ID, typ, sec.Value)
						return sec.Value
					}
				}
			}
		}
		t.Fatalf("the corpus has no usable %s value", typ)
		return ""
	}
	re := func(expr string) func(string) bool { return regexp.MustCompile(expr).MatchString }
	alnum := re(`^[A-Za-z0-9]{10,}$`)
	word := re(`^[A-Za-z0-9-]{10,}$`)

	event := func(id, name string, attrs map[string]any, body any) map[string]any {
		if _, ok := attrs["session.id"]; !ok {
			attrs["session.id"] = canarySession
		}
		attrs["agent_audit.event.id"] = id
		e := map[string]any{"event_name": name, "time": "2026-11-23T10:00:00.000000001Z", "attributes": attrs}
		if body != nil {
			e["body"] = body
		}
		r.native = append(r.native, e)
		r.ids[id] = true
		return e
	}

	// Hand-made native events.
	r.email = value("pii_email", re(`^[a-z.]+@[a-z.-]+$`))
	event("hand-session", "agent_audit.session.start", map[string]any{
		"user.id": r.email, "user.name": "alice", "host.name": "dev-laptop-17",
		"gen_ai.agent.name": "claude-code", "process.working_directory": "/home/alice/project",
	}, nil)

	r.prompt = fmt.Sprintf("Deploy the billing service. Use the key %s for the model calls, charge the test card %s and put my SSN %s on the form.",
		value("anthropic_api_key", nil), value("pii_payment_card", re(`^\d{16}$`)), value("pii_us_ssn", nil))
	event("hand-prompt", "agent_audit.prompt", map[string]any{"agent_audit.prompt.length": len(r.prompt)}, r.prompt)

	cardNumber, err := strconv.ParseInt(value("pii_payment_card", re(`^\d{16}$`)), 10, 64)
	require.NoError(t, err)
	ghKey := value("github_pat_classic", nil)
	call := event("hand-tool-call", "agent_audit.tool.call", map[string]any{
		"gen_ai.tool.name": "Bash", "gen_ai.tool.call.id": "toolu_01CanaryBash", "gen_ai.tool.type": "function",
		"gen_ai.tool.call.arguments": map[string]any{
			"command": fmt.Sprintf("curl -sS -H 'Authorization: Bearer %s' https://api.example.com/v1/orders?limit=5", value("jwt", nil)),
			"env": map[string]any{
				"AWS_ACCESS_KEY_ID":     value("aws_access_key_id", re(`^AKIA`)),
				"AWS_SECRET_ACCESS_KEY": value("aws_secret_access_key", nil),
				"GITHUB_TOKEN":          value("github_pat_classic", nil),
				"PATH":                  "/usr/local/bin:/usr/bin",
			},
			"headers": []any{
				"Authorization: Basic " + value("http_auth_basic", nil),
				"Accept: application/json",
				"X-Request-Id: req-4711",
			},
			"timeout":  120000,
			"cards":    []any{cardNumber},
			ghKey:      true, // a secret as a map key
			"workdir":  "/home/alice/project",
			"cleanups": []any{map[string]any{"path": "/tmp/build", "recursive": true}},
		},
	}, nil)
	call["trace_id"], call["span_id"] = canaryTrace, canarySpan

	r.toolResult = fmt.Sprintf("$ cat .env\nOPENAI_API_KEY=%s\nDB_PASSWORD=%s\nLOG_LEVEL=info\n",
		value("openai_project_key", nil), value("password_assignment", re(`^[A-Za-z0-9!%^+_-]{10,}$`)))
	event("hand-tool-result", "agent_audit.tool.result", map[string]any{
		"gen_ai.tool.name": "Bash", "gen_ai.tool.call.id": "toolu_01CanaryBash", "agent_audit.outcome": "success",
		"gen_ai.tool.call.result": r.toolResult, "agent_audit.duration_ms": 812,
	}, nil)

	event("hand-mysql", "agent_audit.command.exec", map[string]any{
		"process.command_line":      fmt.Sprintf("mysql -h db.internal -u app -p%s orders -e 'select count(*) from invoices'", value("cli_password", alnum)),
		"process.executable.path":   "/usr/bin/mysql",
		"process.pid":               48377,
		"process.exit.code":         0,
		"process.working_directory": "/home/alice/project",
	}, nil)

	event("hand-git-url", "agent_audit.network.request", map[string]any{
		"url.full":            fmt.Sprintf("https://deploy:%s@git.example.com/acme/platform.git", value("url_password", word)),
		"http.request.method": "GET", "server.address": "git.example.com", "server.port": 443,
		"http.request.header.authorization": []any{"Bearer " + value("openai_project_key", nil)},
	}, nil)

	// HTTP headers as a tool's JSON input has them: the scheme and the
	// credential in a map value under the header's name.
	event("hand-http-headers", "agent_audit.tool.call", map[string]any{
		"gen_ai.tool.name": "http_request",
		"gen_ai.tool.call.arguments": map[string]any{
			"method": "GET", "url": "https://registry.example.com/v2/_catalog",
			"headers": map[string]any{
				"Authorization":       "Basic " + value("http_auth_basic", nil),
				"Proxy-Authorization": "Bearer " + value("http_auth_bearer", nil),
				"Accept":              "application/json",
			},
		},
	}, nil)

	event("hand-postgres", "agent_audit.network.request", map[string]any{
		"url.full":       fmt.Sprintf("postgres://app:%s@db.internal:5432/orders?sslmode=require", value("db_connection_password", alnum)),
		"server.address": "db.internal", "server.port": 5432, "network.protocol.name": "postgresql",
	}, nil)

	env := fmt.Sprintf("# production\nSTRIPE_SECRET_KEY=%s\nSLACK_BOT_TOKEN=%s\nDB_PASSWORD=%s\nPAYOUT_IBAN=%s\nSUPPORT_PHONE=%s\nAPP_ENV=production\n",
		value("stripe_secret_key", nil), value("slack_bot_token", nil),
		value("password_assignment", re(`^[A-Za-z0-9!%^+_-]{10,}$`)), value("pii_iban", re(`^[A-Z]{2}\d\d[A-Z0-9]+$`)),
		value("pii_phone", re(`^\+`)))
	event("hand-env-write", "agent_audit.file.write", map[string]any{
		"file.path": "/home/alice/project/.env", "file.size": len(env), "agent_audit.file.sha256": fileSHA256,
		"gen_ai.tool.call.id": "toolu_01CanaryWrite", "agent_audit.outcome": "success", "file.content": env,
	}, nil)

	event("hand-key-write", "agent_audit.file.write", map[string]any{
		"file.path": "/home/alice/.ssh/deploy_key", "file.size": 1679,
		"file.content": value("pem_private_key", func(v string) bool { return strings.Contains(v, "\n") && !strings.Contains(v, `\`) }),
	}, nil)

	// An environment list as Kubernetes and ECS have it: the secret's name
	// is in a sibling field.
	event("hand-k8s-env", "agent_audit.file.write", map[string]any{
		"file.path": "/home/alice/project/deploy/api.json",
		"file.content": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": "api", "image": "acme/api:2.4.1",
			"env": []any{
				map[string]any{"name": "LOG_LEVEL", "value": "info"},
				map[string]any{"name": "DATABASE_PASSWORD", "value": value("password_assignment", alnum)},
			},
		}}}},
	}, nil)

	// A card number in a CSV export, after a date.
	event("hand-csv", "agent_audit.file.write", map[string]any{
		"file.path":    "/home/alice/project/exports/payments.csv",
		"file.content": fmt.Sprintf("date,card,amount,currency\n2024-06-01,%s,49.99,EUR\n", value("pii_payment_card", re(`^\d{16}$`))),
	}, nil)

	event("hand-policy", "agent_audit.policy.violation", map[string]any{
		"agent_audit.policy.rule": "no-secrets-on-command-lines",
		"agent_audit.action":      "Bash(export OPENAI_API_KEY=" + value("openai_project_key", nil) + ")",
		"agent_audit.decision":    "deny", "agent_audit.risk_score": 80,
		value("github_oauth_token", nil): "seen in the transcript", // a secret as a top-level attribute name
	}, nil)

	// A stream key holding personal data: session.id is the chain's stream
	// and part of the archive's object keys (file names), which the scan
	// checks too.
	r.sessionEmail = value("pii_email", re(`^[a-z.]+@[a-z.-]+$`))
	event("hand-email-session", "agent_audit.session.end", map[string]any{
		"session.id": r.sessionEmail, "agent_audit.session.end_reason": "user_exit",
	}, nil)

	event("hand-model-request", "agent_audit.model.request", map[string]any{
		"gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.provider.name": "anthropic", "server.address": "api.anthropic.com",
	}, []any{map[string]any{"role": "user", "content": "my GitLab token is " + value("gitlab_pat", nil)}})

	// Hand-made OTLP records: a secret in resource, scope and record
	// attributes, nested kvlist and array values, a bytes value, the body.
	r.otlp = plog.NewLogs()
	rl := r.otlp.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "agent-gateway")
	rl.Resource().Attributes().PutStr("host.name", "gw-1")
	rl.Resource().Attributes().PutStr("deploy.token", value("gitlab_pat", nil))
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("agent-sdk")
	sl.Scope().Attributes().PutStr("alerts.webhook", "https://hooks.slack.com/"+value("slack_webhook_url", nil))
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("agent_audit.tool.call")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 11, 23, 10, 0, 1, 0, time.UTC)))
	lr.SetTraceID(traceID(t, otlpTrace))
	lr.Body().SetStr("login failed for user bob: password=" + value("password_assignment", re(`^[A-Za-z0-9!%^+_-]{10,}$`)))
	attrs := lr.Attributes()
	attrs.PutStr("session.id", canarySession+"-otlp")
	attrs.PutStr("agent_audit.event.id", "hand-otlp")
	attrs.PutStr("gen_ai.tool.name", "WebFetch")
	require.NoError(t, attrs.PutEmptyMap("http.request.headers").FromRaw(map[string]any{
		"authorization":   "Bearer " + value("http_auth_bearer", nil),
		"x-forwarded-for": "10.0.0.1",
	}))
	require.NoError(t, attrs.PutEmptySlice("process.args").FromRaw([]any{"npm", "publish", "--token", value("npm_token", nil), "--verbose"}))
	attrs.PutEmptyBytes("payload").FromRaw([]byte(value("sendgrid_api_key", nil)))
	otlpCard, err := strconv.ParseInt(value("pii_payment_card", re(`^\d{16}$`)), 10, 64)
	require.NoError(t, err)
	attrs.PutInt("payment.card", otlpCard) // a card number as an int attribute
	r.ids["hand-otlp"] = true

	// A resource without findings holds the other OTLP records (a finding
	// in a resource is reported on each of its records).
	clean := r.otlp.ResourceLogs().AppendEmpty()
	clean.Resource().Attributes().PutStr("service.name", "agent-gateway")
	cleanScope := clean.ScopeLogs().AppendEmpty()
	deep := cleanScope.LogRecords().AppendEmpty()
	deep.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 11, 23, 10, 0, 1, 500, time.UTC)))
	deep.Attributes().PutStr("session.id", canarySession+"-otlp")
	deep.Attributes().PutStr("agent_audit.event.id", "hand-otlp-deep")
	require.NoError(t, deep.Body().SetEmptySlice().FromRaw([]any{
		"stdout",
		map[string]any{"level1": map[string]any{"level2": []any{map[string]any{"level3": []any{
			"DATABRICKS_TOKEN=" + value("databricks_token", nil),
			[]byte(value("digitalocean_pat", nil)), // bytes, as the base64 of OTLP/JSON
		}}}}},
		int64(0),
	}))
	r.ids["hand-otlp-deep"] = true

	// The report attribute is left alone by the processor when it is a
	// report; any OTLP client can send it holding text instead.
	reportStr := cleanScope.LogRecords().AppendEmpty()
	reportStr.Attributes().PutStr("session.id", canarySession+"-otlp")
	reportStr.Attributes().PutStr("agent_audit.event.id", "hand-otlp-report-string")
	reportStr.Attributes().PutStr("agent_audit.scrub.findings", "token="+value("slack_app_token", nil))
	reportMap := cleanScope.LogRecords().AppendEmpty()
	reportMap.Attributes().PutStr("session.id", canarySession+"-otlp")
	reportMap.Attributes().PutStr("agent_audit.event.id", "hand-otlp-report-map")
	reportMap.Attributes().PutEmptyMap("agent_audit.scrub.findings").PutStr("note", value("groq_api_key", nil))
	r.ids["hand-otlp-report-string"], r.ids["hand-otlp-report-map"] = true, true

	// Corpus events: every sample, placed by payload kind.
	perKind := map[string]int{}
	for i := range corpus {
		best := &corpus[i]
		perKind[best.Payload]++
		for _, sec := range best.Secrets {
			cs.add(best.ID, sec.Type, sec.Value)
		}
		id := "corpus-" + best.ID
		var obj map[string]any
		if strings.HasPrefix(best.Text, "{") && json.Valid([]byte(best.Text)) {
			obj = parseJSON(t, best.Text)
		}
		_, toolInput := obj["input"]
		switch kind := best.Payload; {
		case obj != nil && toolInput && kind != "json_tool_result":
			name, _ := obj["tool"].(string)
			if name == "" {
				name = "mcp__corpus"
			}
			event(id, "agent_audit.tool.call", map[string]any{"gen_ai.tool.name": name, "gen_ai.tool.call.arguments": obj["input"]}, nil)
		case kind == "shell" || kind == "powershell" || kind == "url" || kind == "git_remote" || strings.HasSuffix(kind, "_cli"):
			if perKind[kind]%2 == 1 {
				event(id, "agent_audit.command.exec", map[string]any{"process.command_line": best.Text}, nil)
			} else {
				event(id, "agent_audit.tool.call", map[string]any{"gen_ai.tool.name": "Bash",
					"gen_ai.tool.call.arguments": map[string]any{"command": best.Text, "description": "run it"}}, nil)
			}
		case kind == "json_tool_result" && perKind[kind]%2 == 1:
			event(id, "agent_audit.tool.result", map[string]any{"gen_ai.tool.name": "Bash", "agent_audit.outcome": "success",
				"gen_ai.tool.call.result": best.Text}, nil)
		case kind == "json_tool_result" || kind == "log_line" || kind == "ci_log":
			rec := cleanScope.LogRecords().AppendEmpty()
			rec.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 11, 23, 10, 0, 2+i, 0, time.UTC)))
			rec.Attributes().PutStr("session.id", canarySession+"-otlp")
			rec.Attributes().PutStr("agent_audit.event.id", id)
			if obj != nil {
				require.NoError(t, rec.Body().SetEmptyMap().FromRaw(otlpRaw(obj).(map[string]any)))
			} else {
				rec.Body().SetStr(best.Text)
			}
			r.ids[id] = true
		case obj != nil: // JSON configuration (MCP servers, service accounts, ...)
			event(id, "agent_audit.file.write", map[string]any{"file.path": "/home/alice/project/" + kind + ".json",
				"file.content": obj}, nil)
		case kind == "http_headers":
			event(id, "agent_audit.network.request", map[string]any{"url.full": "https://api.acme.io/", "http.request.raw": best.Text}, nil)
		case kind == "prose" && perKind[kind]%2 == 1:
			event(id, "agent_audit.prompt", map[string]any{}, best.Text)
		case kind == "prose":
			event(id, "agent_audit.policy.violation", map[string]any{"agent_audit.policy.rule": "no-credentials-in-chat",
				"agent_audit.reason": best.Text}, nil)
		default: // config files, manifests, env dumps, Dockerfiles, code, CSV
			event(id, "agent_audit.file.write", map[string]any{"file.path": "/home/alice/project/" + kind + ".txt",
				"file.content": best.Text}, nil)
		}
	}
	t.Logf("%d canaries (%d native events, %d OTLP records); corpus payload kinds %v",
		len(cs.list), len(r.native), r.otlp.LogRecordCount(), perKind)
	return r
}

// requiredTypes must be among the canaries: the kinds of secret an agent
// handles most (the list).
var requiredTypes = []string{
	"github_pat_classic", "aws_access_key_id", "aws_secret_access_key", "slack_bot_token", "slack_webhook_url",
	"stripe_secret_key", "openai_project_key", "anthropic_api_key", "jwt", "pem_private_key", "url_password",
	"db_connection_password", "http_auth_bearer", "http_auth_basic", "cli_password", "password_assignment",
	"secret_assignment", "pii_email", "pii_payment_card", "pii_iban", "pii_us_ssn", "pii_phone",
}

func parseJSON(t *testing.T, text string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	require.NoError(t, dec.Decode(&obj), text)
	return obj
}

// otlpRaw turns json.Numbers into int64 or float64 for pcommon.
func otlpRaw(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = otlpRaw(e)
		}
	case []any:
		for i, e := range x {
			x[i] = otlpRaw(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func traceID(t *testing.T, h string) pcommon.TraceID {
	var id pcommon.TraceID
	b, err := hex.DecodeString(h)
	require.NoError(t, err)
	copy(id[:], b)
	return id
}

// send posts the native events and the OTLP records.
func (r *canaryRun) send(t *testing.T, c *collector, otlpPort int) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(r.native))
	res, err := post(context.Background(), c.url(), "application/json", body.Bytes(), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)

	otlp, err := (&plog.JSONMarshaler{}).MarshalLogs(r.otlp)
	require.NoError(t, err)
	res, err = post(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlpPort), "application/json", otlp, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
}

func (r *canaryRun) start(t *testing.T, scrub bool) (*collector, int) {
	t.Helper()
	otlpPort := testport.Free(t)
	extra := map[string]string{"otlp_port": strconv.Itoa(otlpPort), "sign_interval": "300ms", "debug_file": "stderr"}
	if scrub {
		extra["scrub"], extra["scrub_config"] = "1", scrubConfig
	}
	// The SIEM copy is one more output the canaries must not reach: ECS
	// documents, which carry every attribute and the body whole.
	extra["siem"] = siemYAML("format: ecs", "file:", "  path: @DIR@/siem/events.ecs.json")
	c := newCollector(t, localConfig, extra)
	r.send(t, c, otlpPort)
	waitArchived(t, c.archiveDir(), r.ids, time.Minute)
	return c, otlpPort
}

// archivedRecord is one event record of the archive.
type archivedRecord struct {
	resource pcommon.Map
	lr       plog.LogRecord
}

func archivedEvents(t *testing.T, dir string) map[string]archivedRecord {
	t.Helper()
	out := map[string]archivedRecord{}
	for _, l := range readArchive(t, dir) {
		rl := l.Logs.ResourceLogs().At(0)
		lr := rl.ScopeLogs().At(0).LogRecords().At(0)
		if integrity.IsReservedEventName(lr.EventName()) {
			continue
		}
		id, ok := lr.Attributes().Get("agent_audit.event.id")
		if !ok {
			if stream, _ := lr.Attributes().Get(integrity.AttrStreamID); stream.Str() == integrity.CollectorStream {
				continue // the chain processor's own records
			}
			t.Fatalf("archived record without event id: %s", l.Line)
		}
		_, dup := out[id.Str()]
		require.False(t, dup, "event %s archived twice", id.Str())
		out[id.Str()] = archivedRecord{resource: rl.Resource().Attributes(), lr: lr}
	}
	return out
}

func attrStr(t *testing.T, m pcommon.Map, path ...string) string {
	t.Helper()
	v, ok := m.Get(path[0])
	require.True(t, ok, "attribute %v missing", path)
	for _, p := range path[1:] {
		require.Equal(t, pcommon.ValueTypeMap, v.Type(), "%v", path)
		v, ok = v.Map().Get(p)
		require.True(t, ok, "attribute %v missing", path)
	}
	return v.AsString()
}

// findings reads a record's report attribute.
func findings(lr plog.LogRecord) map[string]int64 {
	v, ok := lr.Attributes().Get("agent_audit.scrub.findings")
	if !ok {
		return nil
	}
	out := map[string]int64{}
	for k, n := range v.Map().All() {
		out[k] = n.Int()
	}
	return out
}

func hmacHex(key []byte, text string, n int) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil)[:n])
}

func TestScrubCanary(t *testing.T) {
	run := buildCanaryRun(t)
	require.GreaterOrEqual(t, len(run.canaries.list), 30)
	types := map[string]bool{}
	for _, c := range run.canaries.list {
		types[c.typ] = true
	}
	for _, typ := range requiredTypes {
		require.True(t, types[typ], "no canary of type %s", typ)
	}
	t.Logf("%d distinct canary secrets of %d types", len(run.canaries.list), len(types))

	t.Run("scrubbed", func(t *testing.T) {
		c, _ := run.start(t, true)
		events := archivedEvents(t, c.archiveDir())
		require.Len(t, events, len(run.ids), "every event is archived once, none dropped")

		// The processor's counters, before the process ends. (No resource
		// with a finding has more than one record: resource findings are
		// reported on each of its records but counted once.)
		var reported, scrubbed, digests int64
		for _, e := range events {
			if f := findings(e.lr); f != nil {
				scrubbed++
				for _, n := range f {
					reported += n
				}
			}
			if strings.HasPrefix(e.lr.Body().AsString(), "[HMAC:content:") {
				digests++
			}
			for _, v := range e.lr.Attributes().All() {
				if strings.HasPrefix(v.AsString(), "[HMAC:content:") {
					digests++
				}
			}
		}
		metric := c.metric("otelcol_processor_scrub_findings")
		assert.Positive(t, metric)
		assert.Equal(t, float64(reported), metric, "otelcol_processor_scrub_findings counts what the records report")
		assert.Equal(t, float64(scrubbed), c.metric("otelcol_processor_scrub_records_scrubbed"))
		assert.Equal(t, float64(digests), c.metric("otelcol_processor_scrub_content_digested"))
		assert.Zero(t, c.metric("otelcol_processor_scrub_records_dropped"))

		r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
		require.Equal(t, 0, code, "%v", r.allProblems())
		c.stop()
		r, code = verifyReport(t, c.archiveDir(), c.trustFile())
		assert.Equal(t, 0, code, "auditctl verify after a graceful stop: %v", r.allProblems())
		assert.True(t, r.Verified)

		// No canary anywhere the collector wrote: archive, queue and chain
		// state, its log and the debug exporter's output (in the log).
		leaks := scanTree(t, c.p.Dir, run.canaries.list, canary.allNeedles)
		for _, l := range leaks {
			t.Errorf("LEAK %s", l)
		}
		logs := c.logs()
		require.Contains(t, logs, "agent_audit.tool.call", "the debug exporter wrote the records to the log")
		require.Contains(t, logs, "[REDACTED:", "the debug exporter saw the scrubbed records")

		// The evidence around the secrets is intact.
		key, err := os.ReadFile(filepath.Join(c.p.Dir, "scrub-hmac.key"))
		require.NoError(t, err)
		key = bytes.TrimSpace(key)
		emailSession := "[HMAC:pii_email:k1:" + hmacHex(key, run.sessionEmail, 16) + "]"
		for id, e := range events {
			sess := attrStr(t, e.lr.Attributes(), "session.id")
			if id == "hand-email-session" {
				assert.Equal(t, emailSession, sess, "a session id that is an e-mail address becomes its pseudonym")
				continue
			}
			assert.True(t, sess == canarySession || sess == canarySession+"-otlp", "%s: session.id %q", id, sess)
		}

		ev := events["hand-session"].lr.Attributes()
		assert.Equal(t, "[HMAC:pii_email:k1:"+hmacHex(key, run.email, 16)+"]", attrStr(t, ev, "user.id"), "e-mail pseudonym")
		assert.Equal(t, "alice", attrStr(t, ev, "user.name"))
		assert.Equal(t, "/home/alice/project", attrStr(t, ev, "process.working_directory"))
		assert.Equal(t, map[string]int64{"pii_email": 1}, findings(events["hand-session"].lr))

		prompt := events["hand-prompt"].lr
		assert.Equal(t, "[HMAC:content:k1:"+hmacHex(key, run.prompt, 32)+"]", prompt.Body().Str(), "prompt digest")
		assert.Nil(t, findings(prompt), "content is digested, not scanned")
		result := events["hand-tool-result"].lr.Attributes()
		assert.Equal(t, "[HMAC:content:k1:"+hmacHex(key, run.toolResult, 32)+"]", attrStr(t, result, "gen_ai.tool.call.result"))
		assert.Equal(t, "Bash", attrStr(t, result, "gen_ai.tool.name"))
		assert.Equal(t, "success", attrStr(t, result, "agent_audit.outcome"))

		call := events["hand-tool-call"].lr
		ca := call.Attributes()
		assert.Equal(t, canaryTrace, call.TraceID().String())
		assert.Equal(t, canarySpan, call.SpanID().String())
		assert.Equal(t, "Bash", attrStr(t, ca, "gen_ai.tool.name"))
		assert.Equal(t, "toolu_01CanaryBash", attrStr(t, ca, "gen_ai.tool.call.id"))
		assert.Equal(t, "curl -sS -H 'Authorization: Bearer [REDACTED:jwt]' https://api.example.com/v1/orders?limit=5",
			attrStr(t, ca, "gen_ai.tool.call.arguments", "command"))
		assert.Equal(t, "/usr/local/bin:/usr/bin", attrStr(t, ca, "gen_ai.tool.call.arguments", "env", "PATH"))
		assert.Equal(t, "/home/alice/project", attrStr(t, ca, "gen_ai.tool.call.arguments", "workdir"))
		assert.Equal(t, "120000", attrStr(t, ca, "gen_ai.tool.call.arguments", "timeout"))
		args, _ := ca.Get("gen_ai.tool.call.arguments")
		headers, _ := args.Map().Get("headers")
		assert.Equal(t, []any{"Authorization: Basic [REDACTED:http_auth_basic]", "Accept: application/json", "X-Request-Id: req-4711"},
			headers.Slice().AsRaw())
		cards, _ := args.Map().Get("cards")
		assert.Equal(t, []any{"[REDACTED:pii_payment_card]"}, cards.Slice().AsRaw())
		_, keyKept := args.Map().Get("[REDACTED:github_pat_classic]")
		assert.True(t, keyKept, "a secret map key is masked, its value kept: %v", args.Map().AsRaw())
		callFindings := findings(call)
		var callTotal int64
		for _, n := range callFindings {
			callTotal += n
		}
		assert.Equal(t, int64(7), callTotal, "seven secrets in the tool call: %v", callFindings)
		for typ, n := range map[string]int64{"jwt": 1, "http_auth_basic": 1, "github_pat_classic": 2, "aws_access_key_id": 1, "pii_payment_card": 1} {
			assert.Equal(t, n, callFindings[typ], "tool call findings of %s: %v", typ, callFindings)
		}

		mysql := events["hand-mysql"].lr.Attributes()
		assert.Equal(t, "mysql -h db.internal -u app -p[REDACTED:cli_password] orders -e 'select count(*) from invoices'",
			attrStr(t, mysql, "process.command_line"))
		assert.Equal(t, "/usr/bin/mysql", attrStr(t, mysql, "process.executable.path"))
		assert.Equal(t, map[string]int64{"cli_password": 1}, findings(events["hand-mysql"].lr))

		git := events["hand-git-url"].lr.Attributes()
		assert.Equal(t, "https://deploy:[REDACTED:url_password]@git.example.com/acme/platform.git", attrStr(t, git, "url.full"))
		assert.Equal(t, "git.example.com", attrStr(t, git, "server.address"))
		assert.Equal(t, map[string]int64{"url_password": 1, "openai_project_key": 1}, findings(events["hand-git-url"].lr))

		hh := events["hand-http-headers"].lr.Attributes()
		assert.Equal(t, "https://registry.example.com/v2/_catalog", attrStr(t, hh, "gen_ai.tool.call.arguments", "url"))
		assert.Equal(t, "application/json", attrStr(t, hh, "gen_ai.tool.call.arguments", "headers", "Accept"))
		assert.Equal(t, "Basic [REDACTED:http_auth_basic]", attrStr(t, hh, "gen_ai.tool.call.arguments", "headers", "Authorization"))
		assert.Equal(t, "Bearer [REDACTED:http_auth_bearer]", attrStr(t, hh, "gen_ai.tool.call.arguments", "headers", "Proxy-Authorization"))
		assert.Equal(t, map[string]int64{"http_auth_basic": 1, "http_auth_bearer": 1}, findings(events["hand-http-headers"].lr))

		k8s, _ := events["hand-k8s-env"].lr.Attributes().Get("file.content")
		containers, _ := k8s.Map().AsRaw()["spec"].(map[string]any)["containers"].([]any)
		require.Len(t, containers, 1)
		assert.Equal(t, map[string]any{"name": "api", "image": "acme/api:2.4.1", "env": []any{
			map[string]any{"name": "LOG_LEVEL", "value": "info"},
			map[string]any{"name": "DATABASE_PASSWORD", "value": "[REDACTED:password_assignment]"},
		}}, containers[0])
		assert.Equal(t, map[string]int64{"password_assignment": 1}, findings(events["hand-k8s-env"].lr))

		csv := events["hand-csv"].lr.Attributes()
		assert.Equal(t, "/home/alice/project/exports/payments.csv", attrStr(t, csv, "file.path"))
		assert.Equal(t, "date,card,amount,currency\n2024-06-01,[REDACTED:pii_payment_card],49.99,EUR\n", attrStr(t, csv, "file.content"))

		pg := events["hand-postgres"].lr.Attributes()
		assert.Equal(t, "postgres://app:[REDACTED:db_connection_password]@db.internal:5432/orders?sslmode=require", attrStr(t, pg, "url.full"))
		assert.Equal(t, map[string]int64{"db_connection_password": 1}, findings(events["hand-postgres"].lr))

		envw := events["hand-env-write"].lr.Attributes()
		assert.Equal(t, "/home/alice/project/.env", attrStr(t, envw, "file.path"))
		assert.Equal(t, fileSHA256, attrStr(t, envw, "agent_audit.file.sha256"))
		assert.Equal(t, "toolu_01CanaryWrite", attrStr(t, envw, "gen_ai.tool.call.id"))
		content := attrStr(t, envw, "file.content")
		assert.Contains(t, content, "# production\nSTRIPE_SECRET_KEY=[REDACTED:stripe_secret_key]\nSLACK_BOT_TOKEN=[REDACTED:slack_bot_token]\n")
		assert.Contains(t, content, "\nAPP_ENV=production\n")
		assert.Equal(t, map[string]int64{"stripe_secret_key": 1, "slack_bot_token": 1, "password_assignment": 1, "pii_iban": 1, "pii_phone": 1},
			findings(events["hand-env-write"].lr))

		keyw := events["hand-key-write"].lr.Attributes()
		assert.Equal(t, "/home/alice/.ssh/deploy_key", attrStr(t, keyw, "file.path"))
		assert.Equal(t, "[REDACTED:pem_private_key]", strings.TrimSpace(attrStr(t, keyw, "file.content")))
		assert.Equal(t, map[string]int64{"pem_private_key": 1}, findings(events["hand-key-write"].lr))

		pol := events["hand-policy"].lr.Attributes()
		assert.Equal(t, "Bash(export OPENAI_API_KEY=[REDACTED:openai_project_key])", attrStr(t, pol, "agent_audit.action"))
		assert.Equal(t, "no-secrets-on-command-lines", attrStr(t, pol, "agent_audit.policy.rule"))
		assert.Equal(t, "seen in the transcript", attrStr(t, pol, "[REDACTED:github_oauth_token]"), "the attribute keeps its value under a masked name")
		assert.Equal(t, map[string]int64{"openai_project_key": 1, "github_oauth_token": 1}, findings(events["hand-policy"].lr))

		otlp := events["hand-otlp"]
		assert.Equal(t, otlpTrace, otlp.lr.TraceID().String())
		assert.Equal(t, "agent-gateway", attrStr(t, otlp.resource, "service.name"))
		assert.Equal(t, "gw-1", attrStr(t, otlp.resource, "host.name"))
		assert.Equal(t, "[REDACTED:gitlab_pat]", attrStr(t, otlp.resource, "deploy.token"))
		assert.Equal(t, "WebFetch", attrStr(t, otlp.lr.Attributes(), "gen_ai.tool.name"))
		assert.Equal(t, "10.0.0.1", attrStr(t, otlp.lr.Attributes(), "http.request.headers", "x-forwarded-for"))
		assert.Equal(t, "Bearer [REDACTED:http_auth_bearer]", attrStr(t, otlp.lr.Attributes(), "http.request.headers", "authorization"))
		pargs, _ := otlp.lr.Attributes().Get("process.args")
		assert.Equal(t, []any{"npm", "publish", "--token", "[REDACTED:npm_token]", "--verbose"}, pargs.Slice().AsRaw())
		assert.True(t, strings.HasPrefix(otlp.lr.Body().Str(), "login failed for user bob: password=[REDACTED:"), otlp.lr.Body().Str())
		assert.Equal(t, "[REDACTED:pii_payment_card]", attrStr(t, otlp.lr.Attributes(), "payment.card"))
		assert.Equal(t, map[string]int64{"gitlab_pat": 1, "slack_webhook_url": 1, "password_assignment": 1, "http_auth_bearer": 1,
			"npm_token": 1, "sendgrid_api_key": 1, "pii_payment_card": 1}, findings(otlp.lr), "resource and scope findings are reported on the record")
		deep := events["hand-otlp-deep"].lr
		assert.Equal(t, []any{"stdout", map[string]any{"level1": map[string]any{"level2": []any{map[string]any{"level3": []any{
			"DATABRICKS_TOKEN=[REDACTED:databricks_token]", "[REDACTED:digitalocean_pat]"}}}}}, int64(0)},
			deep.Body().Slice().AsRaw())
		assert.Equal(t, map[string]int64{"databricks_token": 1, "digitalocean_pat": 1}, findings(deep))
		assert.Equal(t, map[string]int64{"slack_app_token": 1}, findings(events["hand-otlp-report-string"].lr),
			"text under the report attribute is scanned, then replaced by the report")
		reportMap, _ := events["hand-otlp-report-map"].lr.Attributes().Get("agent_audit.scrub.findings")
		assert.Equal(t, map[string]any{"groq_api_key": int64(1)}, reportMap.Map().AsRaw(),
			"a map that is not a report is scanned, then replaced by the report")

		// Every record that held a canary outside content reports findings.
		for id, e := range events {
			if strings.HasPrefix(id, "corpus-") && findings(e.lr) == nil {
				body := e.lr.Body().AsString()
				digested := strings.HasPrefix(body, "[HMAC:content:")
				if v, ok := e.lr.Attributes().Get("gen_ai.tool.call.result"); ok {
					digested = strings.HasPrefix(v.Str(), "[HMAC:content:")
				}
				assert.True(t, digested, "%s: no findings reported and nothing digested", id)
			}
		}
	})

	t.Run("control", func(t *testing.T) {
		// The same events through the same pipeline without the scrub
		// processor: the scan must find every canary, or it proves nothing.
		c, _ := run.start(t, false)
		c.stop()
		var missing []string
		inArchive := map[string]bool{}
		inName := false
		for _, l := range scanTree(t, c.archiveDir(), run.canaries.list, canary.basicNeedles) {
			inArchive[l.canary.forms[0]] = true
			inName = inName || l.canary.forms[0] == run.sessionEmail && l.around == "(in the file name)"
		}
		assert.True(t, inName, "the scan finds the e-mail session id in the archive's object keys")
		inDebug := 0
		logs := c.logs()
		for _, cn := range run.canaries.list {
			if !inArchive[cn.forms[0]] {
				missing = append(missing, cn.typ+" ("+cn.id+")")
			}
			for _, n := range cn.basicNeedles() {
				if strings.Contains(logs, n) {
					inDebug++
					break
				}
			}
		}
		sort.Strings(missing)
		assert.Empty(t, missing, "canaries the scan does not find in an unscrubbed archive")
		inSIEM := map[string]bool{}
		for _, l := range scanTree(t, filepath.Join(c.p.Dir, "siem"), run.canaries.list, canary.basicNeedles) {
			inSIEM[l.canary.forms[0]] = true
		}
		t.Logf("control: %d of %d canaries in the unscrubbed SIEM copy", len(inSIEM), len(run.canaries.list))
		assert.Equal(t, len(run.canaries.list), len(inSIEM), "the scan finds every canary in an unscrubbed SIEM copy")
		t.Logf("control: %d of %d canaries in the unscrubbed archive, %d in the debug exporter's output",
			len(run.canaries.list)-len(missing), len(run.canaries.list), inDebug)
		assert.Equal(t, len(run.canaries.list), inDebug, "the debug exporter's output holds every canary without scrub")
	})
}
