// Package loadgen generates realistic audit event load for the collector:
// mixed event types of the native schema (docs/schema.md) with a size mix
// and a few secrets of real formats, encoded as native NDJSON
// (POST /v1/events) or OTLP/HTTP protobuf (POST /v1/logs), and a bounded
// runner that posts them with concurrent clients, retries on 429/503 and
// records each request's latency. Everything is deterministic by seed, so
// two runs send the same bytes.
package loadgen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Event is one generated native event.
type Event struct {
	// Name is the event type (event_name).
	Name string
	// ID is its agent_audit.event.id, unique within one generator.
	ID string
	// JSON is the event as one line of native JSON, without the newline.
	JSON []byte
	// Secrets are the secret values placed in the event, for scrubbers'
	// checks; empty for most events.
	Secrets []string
}

// Options shape a generator's stream.
type Options struct {
	// Sessions is the number of concurrent agent sessions the events are
	// spread over (each session is a stream of the chain processor).
	// Default 50.
	Sessions int
	// SecretEvery puts secrets into about one event in SecretEvery (0: the
	// default, 50; negative: never).
	SecretEvery int
	// Prefix starts every event id (default "lg").
	Prefix string
	// Start is the time of the first event (default 2026-12-01T09:00:00Z);
	// each next event is 1 to 200 ms later.
	Start time.Time
}

// Generator makes events. It is not safe for concurrent use.
type Generator struct {
	rng   *rand.Rand
	opts  Options
	n     int
	now   time.Time
	calls []pendingCall // per session: the last tool call without a result
}

type pendingCall struct{ id, tool string }

// NewGenerator returns a generator whose stream depends only on seed and
// opts.
func NewGenerator(seed uint64, opts Options) *Generator {
	if opts.Sessions <= 0 {
		opts.Sessions = 50
	}
	if opts.SecretEvery == 0 {
		opts.SecretEvery = 50
	}
	if opts.Prefix == "" {
		opts.Prefix = "lg"
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	}
	return &Generator{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		opts:  opts,
		now:   opts.Start,
		calls: make([]pendingCall, opts.Sessions),
	}
}

// The event mix, in parts per 1000: tool calls and their results dominate
// an agent's trail, as in a coding session; results carry the large
// outputs.
var mix = []struct {
	name   string
	weight int
}{
	{"agent_audit.tool.call", 230},
	{"agent_audit.tool.result", 230},
	{"agent_audit.model.request", 90},
	{"agent_audit.model.response", 90},
	{"agent_audit.prompt", 60},
	{"agent_audit.file.read", 90},
	{"agent_audit.file.write", 50},
	{"agent_audit.command.exec", 60},
	{"agent_audit.network.request", 40},
	{"agent_audit.permission.request", 25},
	{"agent_audit.permission.decision", 25},
}

// Next returns the next event.
func (g *Generator) Next() Event {
	g.n++
	g.now = g.now.Add(time.Duration(1+g.rng.IntN(200)) * time.Millisecond)
	w := g.rng.IntN(1000)
	name := mix[len(mix)-1].name
	for _, m := range mix {
		if w < m.weight {
			name = m.name
			break
		}
		w -= m.weight
	}
	sess := g.rng.IntN(g.opts.Sessions)
	e := Event{Name: name, ID: fmt.Sprintf("%s-%08d", g.opts.Prefix, g.n)}
	var secret string
	if g.opts.SecretEvery > 0 && g.rng.IntN(g.opts.SecretEvery) == 0 {
		secret = g.secretLine()
		e.Secrets = append(e.Secrets, secretValue(secret))
	}
	attrs := map[string]any{
		"session.id":           fmt.Sprintf("%08x-5c1e-4d2a-9b7f-%012x", sess, sess*7919),
		"agent_audit.event.id": e.ID,
		"gen_ai.agent.name":    agents[sess%len(agents)],
	}
	var body any
	switch name {
	case "agent_audit.prompt":
		text := g.pick(prompts)
		if g.rng.IntN(10) == 0 {
			text += "\n\nHere is the log:\n" + g.output(1+g.rng.IntN(3))
		}
		if secret != "" {
			text += "\nuse this: " + secret
		}
		attrs["agent_audit.prompt.length"] = len([]rune(text))
		body = text
	case "agent_audit.model.request":
		attrs["gen_ai.request.model"] = g.pick(models)
		attrs["gen_ai.provider.name"] = "anthropic"
		attrs["gen_ai.operation.name"] = "chat"
		attrs["gen_ai.request.max_tokens"] = 8192
		attrs["gen_ai.request.temperature"] = 1.0
		attrs["server.address"] = "api.anthropic.com"
	case "agent_audit.model.response":
		m := g.pick(models)
		attrs["gen_ai.request.model"] = m
		attrs["gen_ai.response.model"] = m
		attrs["gen_ai.response.id"] = fmt.Sprintf("msg_%016x", g.rng.Uint64())
		attrs["gen_ai.provider.name"] = "anthropic"
		attrs["gen_ai.usage.input_tokens"] = 200 + g.rng.IntN(60000)
		attrs["gen_ai.usage.output_tokens"] = 10 + g.rng.IntN(4000)
		attrs["gen_ai.response.finish_reasons"] = []string{g.pick([]string{"end_turn", "tool_use", "max_tokens"})}
		attrs["agent_audit.duration_ms"] = 300 + g.rng.IntN(20000)
	case "agent_audit.tool.call", "agent_audit.permission.request":
		tool, args := g.toolArgs(secret)
		id := fmt.Sprintf("toolu_%016x", g.rng.Uint64())
		attrs["gen_ai.tool.name"] = tool
		attrs["gen_ai.tool.call.id"] = id
		if name == "agent_audit.tool.call" {
			attrs["gen_ai.tool.type"] = "function"
			attrs["gen_ai.tool.call.arguments"] = args
			g.calls[sess] = pendingCall{id, tool}
		} else {
			attrs["agent_audit.action"] = fmt.Sprintf("%s(%s)", tool, firstArg(args))
		}
	case "agent_audit.tool.result":
		c := g.calls[sess]
		if c.id == "" {
			c = pendingCall{fmt.Sprintf("toolu_%016x", g.rng.Uint64()), "Bash"}
		}
		attrs["gen_ai.tool.name"] = c.tool
		attrs["gen_ai.tool.call.id"] = c.id
		attrs["agent_audit.duration_ms"] = g.rng.IntN(30000)
		out := g.output(g.outputLines())
		if secret != "" {
			out += secret + "\n"
		}
		if g.rng.IntN(8) == 0 {
			attrs["agent_audit.outcome"] = "failure"
			attrs["error.type"] = "exit_status"
		} else {
			attrs["agent_audit.outcome"] = "success"
		}
		attrs["gen_ai.tool.call.result"] = out
	case "agent_audit.file.read", "agent_audit.file.write":
		attrs["file.path"] = "/home/dev/project/" + g.pick(files)
		attrs["file.size"] = 200 + g.rng.IntN(40000)
		attrs["agent_audit.file.sha256"] = fmt.Sprintf("%016x%016x%016x%016x", g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64())
		attrs["gen_ai.tool.call.id"] = fmt.Sprintf("toolu_%016x", g.rng.Uint64())
		if name == "agent_audit.file.write" && secret != "" {
			body = "# written by the agent\n" + secret + "\n"
		}
	case "agent_audit.command.exec":
		cmd := g.pick(commands)
		if secret != "" {
			cmd = "env " + secret + " " + cmd
		}
		attrs["process.command_line"] = cmd
		attrs["process.executable.path"] = "/usr/bin/" + strings.Fields(g.pick(commands))[0]
		attrs["process.pid"] = 1000 + g.rng.IntN(60000)
		attrs["process.exit.code"] = g.rng.IntN(2)
		attrs["process.working_directory"] = "/home/dev/project"
	case "agent_audit.network.request":
		host := g.pick(hosts)
		attrs["url.full"] = "https://" + host + "/" + g.pick([]string{"v1/packages", "simple/requests/", "repos/acme/api/pulls?state=open", "download/v2.4.1.tar.gz"})
		attrs["http.request.method"] = g.pick([]string{"GET", "GET", "GET", "POST"})
		attrs["http.response.status_code"] = []int{200, 200, 200, 304, 404}[g.rng.IntN(5)]
		attrs["server.address"] = host
		attrs["server.port"] = 443
		attrs["network.protocol.name"] = "http"
		if secret != "" {
			body = map[string]any{"request_headers": map[string]any{"Authorization": "Bearer " + secretValue(secret)}}
		}
	case "agent_audit.permission.decision":
		c := g.calls[sess]
		tool := c.tool
		if tool == "" {
			tool = "Bash"
		}
		attrs["agent_audit.action"] = tool + "(*)"
		attrs["agent_audit.decision"] = g.pick([]string{"allow", "allow", "allow", "deny", "ask"})
		attrs["agent_audit.decision.source"] = g.pick([]string{"user", "policy", "config"})
		attrs["gen_ai.tool.name"] = tool
		if g.rng.IntN(2) == 0 {
			attrs["agent_audit.approver.id"] = "dev@example.com"
		}
	}
	if secret != "" && body == nil && !placedInAttrs(name) {
		// Event types without a free text field carry the secret in their body,
		// as an agent's note would.
		body = "note: " + secret
	}
	ev := map[string]any{
		"event_name": name,
		"time":       g.now.Format(time.RFC3339Nano),
		"attributes": attrs,
	}
	if body != nil {
		ev["body"] = body
	}
	if g.rng.IntN(3) == 0 {
		ev["trace_id"] = fmt.Sprintf("%016x%016x", g.rng.Uint64()|1, g.rng.Uint64())
		ev["span_id"] = fmt.Sprintf("%016x", g.rng.Uint64()|1)
	}
	// encoding/json sorts map keys, so the bytes depend only on the seed.
	raw, err := json.Marshal(ev)
	if err != nil {
		panic(err) // only maps, strings and numbers: cannot fail
	}
	e.JSON = raw
	return e
}

// placedInAttrs: event types whose generator code puts a secret into an
// attribute or the body itself.
func placedInAttrs(name string) bool {
	switch name {
	case "agent_audit.prompt", "agent_audit.tool.call",
		"agent_audit.tool.result", "agent_audit.command.exec", "agent_audit.network.request":
		return true
	}
	return false
}

// outputLines draws a tool output's size: mostly a few lines, some
// screens of build or test output (multi-KB), rarely a long listing.
func (g *Generator) outputLines() int {
	switch r := g.rng.IntN(100); {
	case r < 70:
		return 1 + g.rng.IntN(6) // up to ~0.5 KB
	case r < 95:
		return 10 + g.rng.IntN(40) // 1-4 KB
	default:
		return 80 + g.rng.IntN(120) // 7-16 KB
	}
}

// output is n lines of command output.
func (g *Generator) output(n int) string {
	var b strings.Builder
	for i := range n {
		l := g.pick(outputLines)
		b.WriteString(strings.NewReplacer(
			"{n}", fmt.Sprint(i+1),
			"{ms}", fmt.Sprint(g.rng.IntN(900)),
			"{hex}", fmt.Sprintf("%012x", g.rng.Uint64()>>16),
		).Replace(l))
		b.WriteByte('\n')
	}
	return b.String()
}

func (g *Generator) toolArgs(secret string) (string, map[string]any) {
	switch g.rng.IntN(5) {
	case 0, 1:
		cmd := g.pick(commands)
		if secret != "" {
			cmd = "export " + secret + " && " + cmd
		}
		return "Bash", map[string]any{"command": cmd, "description": "run " + strings.Fields(cmd)[0], "timeout": 120000}
	case 2:
		args := map[string]any{"file_path": "/home/dev/project/" + g.pick(files)}
		if secret != "" {
			args["content"] = secret
		}
		return "Read", args
	case 3:
		args := map[string]any{
			"file_path":  "/home/dev/project/" + g.pick(files),
			"old_string": "return nil, err",
			"new_string": "return nil, fmt.Errorf(\"parse %s: %w\", name, err)",
		}
		if secret != "" {
			args["new_string"] = secret
		}
		return "Edit", args
	default:
		args := map[string]any{"pattern": g.pick([]string{"Dial", "func Decode", "http.Client", "os.Getenv"}), "path": "/home/dev/project"}
		if secret != "" {
			args["glob"] = secret
		}
		return "Grep", args
	}
}

func firstArg(args map[string]any) string {
	for _, k := range []string{"command", "file_path", "pattern"} {
		if v, ok := args[k].(string); ok {
			return v
		}
	}
	return "*"
}

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// secretLine is an assignment of a secret of a real format, as agents meet
// them in environments, configs and commands. The values are random in
// the format's alphabet: they are found by pattern, not by a list.
func (g *Generator) secretLine() string {
	const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const b62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const b64url = b62 + "-_"
	switch g.rng.IntN(5) {
	case 0:
		return "AWS_ACCESS_KEY_ID=AKIA" + g.randFrom(b32, 16)
	case 1:
		return "ANTHROPIC_API_KEY=sk-ant-api03-" + g.randFrom(b64url, 93) + "AA"
	case 2:
		return "STRIPE_KEY=sk_live_" + g.randFrom(b62, 24)
	case 3:
		return "SLACK_BOT_TOKEN=xoxb-" + g.randFrom("0123456789", 12) + "-" + g.randFrom("0123456789", 13) + "-" + g.randFrom(b62, 24)
	default:
		return "DATABASE_URL=postgres://app:" + g.randFrom(b62, 20) + "@db.internal:5432/app"
	}
}

// secretValue is the part of a secretLine that must be hidden.
func secretValue(line string) string {
	v := line[strings.IndexByte(line, '=')+1:]
	if rest, ok := strings.CutPrefix(v, "postgres://app:"); ok {
		return rest[:strings.IndexByte(rest, '@')]
	}
	return v
}

func (g *Generator) randFrom(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

var (
	agents = []string{"claude-code", "codex", "claude-code", "gemini-cli"}
	models = []string{"claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"}
	files  = []string{"pkg/parser/parser.go", "pkg/parser/parser_test.go", "cmd/api/main.go", "internal/store/db.go",
		"README.md", "go.mod", "deploy/values.yaml", ".github/workflows/ci.yml", "web/src/App.tsx", "Makefile"}
	commands = []string{
		"go test ./pkg/parser/...", "git status --short", "git diff --stat HEAD~1", "ls -la /home/dev/project",
		"npm run build", "make lint", "rg -n 'func Decode' --type go", "docker compose ps",
		"kubectl get pods -n staging", "curl -sS https://api.github.com/repos/acme/api/pulls",
		"python3 -m pytest -q tests/", "go build -o bin/api ./cmd/api",
	}
	hosts   = []string{"proxy.golang.org", "registry.npmjs.org", "pypi.org", "api.github.com", "objects.githubusercontent.com"}
	prompts = []string{
		"The parser tests fail on empty input. Fix it and run go test ./pkg/parser/...",
		"Add a --json flag to the CLI that prints the report as JSON.",
		"Why does the CI job time out on the integration tests? Look at the last run.",
		"Refactor internal/store so that every query takes a context.",
		"Bump the Helm chart to 2.4.1 and update the changelog.",
		"Write a migration that adds an index on orders(customer_id, created_at).",
	}
	outputLines = []string{
		"=== RUN   TestParse/case_{n}",
		"--- PASS: TestParse/case_{n} (0.0{ms}s)",
		"ok  	github.com/acme/api/pkg/parser	0.{ms}s",
		"{\"level\":\"info\",\"ts\":\"2026-12-01T09:00:0{n}Z\",\"msg\":\"request served\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e{hex}\",\"status\":200,\"latency_ms\":{ms}}",
		"-rw-r--r--  1 dev dev  {ms}{n} Dec  1 09:00 file_{n}.go",
		"M  pkg/parser/parser.go",
		"commit {hex}{hex}",
		"npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.",
		"  src/App.tsx:{n}:{ms}  warning  'props' is defined but never used  no-unused-vars",
		"Step {n}/12 : RUN go build -o /bin/api ./cmd/api",
		"pod/api-7d9f8b6c5-{hex}   1/1     Running   0          {n}h",
		"tests/test_orders.py::test_total[{n}] PASSED                      [{ms}%]",
	}
)
