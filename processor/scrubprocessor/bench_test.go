package scrubprocessor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"

	"github.com/agentaudit/otelcol-agentaudit/pkg/secrets"
)

// BenchmarkScrub compares the scrub processor with contrib's
// redactionprocessor v0.162.0 configured for the same formats
// (testdata/redaction.yaml), in one run, on the same batches:
//
//   - 1KB-clean: agent tool-call records of 1 KiB (body, attributes and a
//     map of tool arguments with an env map), no secret;
//   - 1KB-secrets: the same records with five secrets each from the
//     labelled corpus of pkg/secrets (three known-format tokens in an env
//     variable, a curl Authorization header and an export line; a password
//     in a postgres URL; an e-mail address);
//   - 64KB: tool-result records whose body is 64 KiB of command output (build
//     and test logs, JSON log lines, a directory listing) with four secrets.
//
// One op is ConsumeLogs of one batch (100 records of 1 KiB, 4 of 64 KiB).
// The processors mutate their input, so each op gets its own copy of the
// batch: a pool of copies is made with the timer stopped and refilled when
// used up (every 64, resp. 8, ops). ns/record and MB/s (of record payload:
// keys, string values and body) are of the timed ConsumeLogs calls only.
// leaked/record counts the embedded secret values still present in a record
// after one pass (checked before timing).
func BenchmarkScrub(b *testing.B) {
	cases := benchCases(b)
	procs := []struct {
		name string
		p    processor.Logs
	}{
		{"scrub", newScrubLogs(b, consumertest.NewNop())},
		{"redaction", newRedactionLogs(b, consumertest.NewNop())},
	}
	for _, pc := range procs {
		b.Run(pc.name, func(b *testing.B) {
			for _, bc := range cases {
				b.Run(bc.name, func(b *testing.B) { runBenchCase(b, pc.p, bc) })
			}
		})
	}
}

type benchCase struct {
	name    string
	batch   plog.Logs // read-only template
	records int
	bytes   int64    // payload bytes of the batch
	values  []string // secret values embedded in the batch
	pool    int      // copies made at a time
}

func runBenchCase(b *testing.B, p processor.Logs, bc benchCase) {
	ctx := context.Background()
	// The check pass: what is left of the embedded secrets.
	check := plog.NewLogs()
	bc.batch.CopyTo(check)
	require.NoError(b, p.ConsumeLogs(ctx, check))
	out := logsText(check)
	leaked := 0
	for _, v := range bc.values {
		if strings.Contains(out, v) {
			leaked++
		}
	}

	pool := make([]plog.Logs, bc.pool)
	for i := range pool {
		pool[i] = plog.NewLogs()
	}
	next := len(pool)
	b.SetBytes(bc.bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if next == len(pool) {
			b.StopTimer()
			for _, ld := range pool {
				bc.batch.CopyTo(ld)
			}
			next = 0
			b.StartTimer()
		}
		if err := p.ConsumeLogs(ctx, pool[next]); err != nil {
			b.Fatal(err)
		}
		next++
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.records), "ns/record")
	b.ReportMetric(float64(leaked)/float64(bc.records), "leaked/record")
}

// logsText: every string in ld (keys, values, bodies), for the leak check.
func logsText(ld plog.Logs) string {
	var sb strings.Builder
	var walk func(v pcommon.Value)
	walk = func(v pcommon.Value) {
		switch v.Type() {
		case pcommon.ValueTypeMap:
			for k, e := range v.Map().All() {
				sb.WriteString(k)
				sb.WriteByte('\n')
				walk(e)
			}
		case pcommon.ValueTypeSlice:
			for _, e := range v.Slice().All() {
				walk(e)
			}
		default:
			sb.WriteString(v.AsString())
			sb.WriteByte('\n')
		}
	}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				walk(lr.Body())
				for k, v := range lr.Attributes().All() {
					sb.WriteString(k)
					sb.WriteByte('\n')
					walk(v)
				}
			}
		}
	}
	return sb.String()
}

// payloadSize: bytes of keys, string values (numbers count 8) and body.
func payloadSize(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		n := 0
		for k, e := range v.Map().All() {
			n += len(k) + payloadSize(e)
		}
		return n
	case pcommon.ValueTypeSlice:
		n := 0
		for _, e := range v.Slice().All() {
			n += payloadSize(e)
		}
		return n
	case pcommon.ValueTypeStr:
		return len(v.Str())
	case pcommon.ValueTypeEmpty:
		return 0
	}
	return 8
}

func recordSize(lr plog.LogRecord) int {
	n := payloadSize(lr.Body())
	for k, v := range lr.Attributes().All() {
		n += len(k) + payloadSize(v)
	}
	return n
}

// benchSecrets are values from the labelled corpus, sorted and distinct:
// tokens (known formats, no white space or quotes, at most 80 bytes),
// passwords usable in URL userinfo, and e-mail addresses.
type benchSecrets struct {
	tokens, passwords, emails []string
}

var (
	tokenChars    = regexp.MustCompile(`^[A-Za-z0-9._~+/=-]{16,80}$`)
	passwordChars = regexp.MustCompile(`^[A-Za-z0-9!_.~-]{8,40}$`)
	emailChars    = regexp.MustCompile(`^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$`)
)

func loadBenchSecrets(tb testing.TB) benchSecrets {
	kinds := map[string]secrets.Kind{}
	for _, ti := range secrets.Types() {
		kinds[ti.ID] = ti.Kind
	}
	sets := [3]map[string]bool{{}, {}, {}}
	samples, _ := loadCorpus(tb)
	for _, s := range samples {
		for _, sec := range s.Secrets {
			v := sec.Value
			switch {
			case kinds[sec.Type] == secrets.KindFormat && tokenChars.MatchString(v):
				sets[0][v] = true
			case (sec.Type == "password_assignment" || sec.Type == "url_password" || sec.Type == "db_connection_password") &&
				passwordChars.MatchString(v):
				sets[1][v] = true
			case sec.Type == "pii_email" && emailChars.MatchString(v):
				sets[2][v] = true
			}
		}
	}
	var out [3][]string
	for i, set := range sets {
		for v := range set {
			out[i] = append(out[i], v)
		}
		sort.Strings(out[i])
		require.NotEmpty(tb, out[i], "corpus values of kind %d", i)
	}
	return benchSecrets{tokens: out[0], passwords: out[1], emails: out[2]}
}

func benchCases(tb testing.TB) []benchCase {
	sec := loadBenchSecrets(tb)
	clean, _ := toolCallBatch(100, nil)
	withSecrets, values := toolCallBatch(100, &sec)
	big, bigValues := toolResultBatch(4, 64<<10, &sec)
	return []benchCase{
		{name: "1KB-clean", batch: clean, records: 100, bytes: batchBytes(clean), pool: 64},
		{name: "1KB-secrets", batch: withSecrets, records: 100, bytes: batchBytes(withSecrets), values: values, pool: 64},
		{name: "64KB", batch: big, records: 4, bytes: batchBytes(big), values: bigValues, pool: 8},
	}
}

func batchBytes(ld plog.Logs) int64 {
	var n int64
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				n += int64(recordSize(lr))
			}
		}
	}
	return n
}

func newBatch() (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr("service.name", "claude-code")
	ra.PutStr("service.version", "2.0.14")
	ra.PutStr("host.name", "dev-laptop-042")
	ra.PutStr("os.type", "linux")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("agentaudit.hook")
	sl.Scope().SetVersion("0.4.0")
	return ld, sl.LogRecords()
}

// toolCallBatch: n agent_audit.tool.call records of 1 KiB of payload. With
// sec, each carries five secrets (returned, for the leak check).
func toolCallBatch(n int, sec *benchSecrets) (plog.Logs, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	ld, lrs := newBatch()
	var values []string
	for i := range n {
		lr := lrs.AppendEmpty()
		commonAttrs(r, lr, i)
		lr.SetEventName("agent_audit.tool.call")
		a := lr.Attributes()
		a.PutStr("gen_ai.operation.name", "execute_tool")
		a.PutStr("gen_ai.tool.name", "Bash")
		a.PutStr("gen_ai.tool.call.id", "toolu_01"+randStr(r, alnum, 22))
		a.PutInt("gen_ai.usage.input_tokens", int64(1000+r.IntN(90000)))

		envKey, envVal := "GITHUB_REPOSITORY", "acme/payments-service"
		header := `-H "Accept: application/vnd.github+json"`
		export := "export OPENAI_BASE_URL=https://api.openai.com/v1"
		dbURL := "postgres://app@db.internal:5432/payments?sslmode=require"
		author := "Alice Johnson (payments team)"
		if sec != nil {
			t1 := sec.tokens[(3*i)%len(sec.tokens)]
			t2 := sec.tokens[(3*i+1)%len(sec.tokens)]
			t3 := sec.tokens[(3*i+2)%len(sec.tokens)]
			pw := sec.passwords[i%len(sec.passwords)]
			em := sec.emails[i%len(sec.emails)]
			envKey, envVal = "DEPLOY_TOKEN", t1
			header = `-H "Authorization: Bearer ` + t2 + `"`
			export = "export SERVICE_KEY=" + t3
			dbURL = "postgres://app:" + pw + "@db.internal:5432/payments?sslmode=require"
			author = em
			values = append(values, t1, t2, t3, pw, em)
		}
		args := a.PutEmptyMap("gen_ai.tool.call.arguments")
		args.PutStr("command", "curl -sS "+header+" https://api.github.com/repos/acme/pay/pulls?state=open")
		args.PutStr("description", "List open pull requests")
		args.PutInt("timeout", 120000)
		args.PutStr("cwd", "/home/dev/src/payments-service")
		env := args.PutEmptyMap("env")
		env.PutStr("PATH", "/usr/local/bin:/usr/bin:/bin")
		env.PutStr("HOME", "/home/dev")
		env.PutStr("LANG", "en_US.UTF-8")
		env.PutStr(envKey, envVal)

		body := fmt.Sprintf("Before editing ledger/posting.go. %s; db %s; reviewer %s.\n", export, dbURL, author)
		if fixed := recordSize(lr) + len(body); fixed > 1024 {
			panic(fmt.Sprintf("record %d: %d bytes without output (attributes %d)", i, fixed, recordSize(lr)))
		}
		body = padTo(r, body, 1024-recordSize(lr))
		lr.Body().SetStr(body)
	}
	ld.MarkReadOnly()
	return ld, values
}

// toolResultBatch: n agent_audit.tool.result records whose body is size
// bytes of command output with four secrets spread over it.
func toolResultBatch(n, size int, sec *benchSecrets) (plog.Logs, []string) {
	r := rand.New(rand.NewPCG(3, 4))
	ld, lrs := newBatch()
	var values []string
	for i := range n {
		lr := lrs.AppendEmpty()
		commonAttrs(r, lr, i)
		lr.SetEventName("agent_audit.tool.result")
		a := lr.Attributes()
		a.PutStr("gen_ai.tool.name", "Bash")
		a.PutStr("gen_ai.tool.call.id", "toolu_01"+randStr(r, alnum, 22))
		a.PutInt("process.exit_code", 0)
		a.PutInt("agent_audit.tool.duration_ms", int64(r.IntN(60000)))

		t1 := sec.tokens[(7*i)%len(sec.tokens)]
		t2 := sec.tokens[(7*i+3)%len(sec.tokens)]
		pw := sec.passwords[(i+5)%len(sec.passwords)]
		em := sec.emails[(i+3)%len(sec.emails)]
		values = append(values, t1, t2, pw, em)
		inserts := []string{
			"GITHUB_TOKEN=" + t1 + "\n",
			"> Authorization: Bearer " + t2 + "\n",
			"DATABASE_URL=postgres://app:" + pw + "@db.internal:5432/payments\n",
			"Signed-off-by: " + em + "\n",
		}
		budget := size - recordSize(lr)
		var b strings.Builder
		for k, ins := range inserts {
			for b.Len() < budget*(k+1)/(len(inserts)+1) {
				b.WriteString(outputLine(r))
			}
			b.WriteString(ins)
		}
		lr.Body().SetStr(padTo(r, b.String(), budget))
	}
	ld.MarkReadOnly()
	return ld, values
}

func commonAttrs(r *rand.Rand, lr plog.LogRecord, i int) {
	lr.SetTimestamp(pcommon.Timestamp(1763892121_000000000 + int64(i)*1_000_000))
	lr.SetObservedTimestamp(lr.Timestamp())
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	for j := range tid {
		tid[j] = byte(r.Uint32())
	}
	for j := range sid {
		sid[j] = byte(r.Uint32())
	}
	lr.SetTraceID(tid)
	lr.SetSpanID(sid)
	a := lr.Attributes()
	a.PutStr("session.id", sessionID(r))
	a.PutStr("gen_ai.agent.name", "claude-code")
	a.PutStr("gen_ai.request.model", "claude-sonnet-4-5")
}

// padTo appends command output to s up to n bytes (cut at n).
func padTo(r *rand.Rand, s string, n int) string {
	var b strings.Builder
	b.WriteString(s)
	for b.Len() < n {
		b.WriteString(outputLine(r))
	}
	return b.String()[:max(n, len(s))]
}

const (
	alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	hexd  = "0123456789abcdef"
)

func randStr(r *rand.Rand, chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return string(b)
}

func sessionID(r *rand.Rand) string {
	return randStr(r, hexd, 8) + "-" + randStr(r, hexd, 4) + "-4" + randStr(r, hexd, 3) + "-a" + randStr(r, hexd, 3) + "-" + randStr(r, hexd, 12)
}

// outputLine: one line of what tools print: build and test logs, JSON logs
// with ids and hashes, directory listings, git output. Near misses (hex ids,
// SHAs, numbers, paths, URLs), no secret.
func outputLine(r *rand.Rand) string {
	pkgs := []string{"internal/ledger", "internal/api", "cmd/server", "internal/store/postgres", "pkg/money"}
	switch r.IntN(6) {
	case 0:
		return fmt.Sprintf("2026-11-23T10:%02d:%02d.%03dZ INFO  build  compiled github.com/acme/payments-service/%s in %d.%03ds (%d files)\n",
			r.IntN(60), r.IntN(60), r.IntN(1000), pkgs[r.IntN(len(pkgs))], r.IntN(5), r.IntN(1000), 10+r.IntN(300))
	case 1:
		return fmt.Sprintf(`{"level":"debug","ts":1763892%03d.%03d,"msg":"request","method":"GET","path":"/v1/charges/ch_%s","status":200,"duration_ms":%d,"trace_id":"%s","span_id":"%s"}`+"\n",
			r.IntN(1000), r.IntN(1000), randStr(r, alnum, 24), r.IntN(500), randStr(r, hexd, 32), randStr(r, hexd, 16))
	case 2:
		return fmt.Sprintf("--- PASS: TestPosting/refund_partial_%d (0.%02ds)\nok  \tgithub.com/acme/payments-service/%s\t%d.%03ds\tcoverage: %d.%d%% of statements\n",
			r.IntN(100), r.IntN(100), pkgs[r.IntN(len(pkgs))], r.IntN(9), r.IntN(1000), 40+r.IntN(60), r.IntN(10))
	case 3:
		return fmt.Sprintf("-rw-r--r--  1 dev dev %6d Nov 23 10:%02d %s.go\n", r.IntN(200000), r.IntN(60), []string{"posting", "refund", "ledger_test", "money", "handler"}[r.IntN(5)])
	case 4:
		return fmt.Sprintf("%s %s: %s\n", randStr(r, hexd, 12), []string{"fix", "feat", "chore", "test"}[r.IntN(4)],
			[]string{"round refunds to the minor unit", "retry idempotent charges", "bump otel to v1.47.0", "add ledger invariants"}[r.IntN(4)])
	default:
		return fmt.Sprintf("  downloading https://proxy.golang.org/github.com/acme/lib%d/@v/v1.%d.%d.zip (%d kB, sha256 %s)\n",
			r.IntN(50), r.IntN(20), r.IntN(20), r.IntN(5000), randStr(r, hexd, 64))
	}
}

// TestBenchRecords checks the benchmark's input: records have the stated
// sizes, the scrub processor hides every embedded secret and finds nothing
// in the clean records; the redaction processor's figures are logged.
func TestBenchRecords(t *testing.T) {
	cases := benchCases(t)
	for _, bc := range cases {
		lr := bc.batch.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		t.Logf("%s: %d records, %d payload bytes per record (first: %d)", bc.name, bc.records, bc.bytes/int64(bc.records), recordSize(lr))
	}
	require.Equal(t, 1024, int(cases[0].bytes/100))
	require.Equal(t, 64<<10, int(cases[2].bytes/4))
	for _, pc := range []struct {
		name string
		newP func(testing.TB, consumer.Logs) processor.Logs
	}{{"scrub", newScrubLogs}, {"redaction", newRedactionLogs}} {
		p := pc.newP(t, consumertest.NewNop())
		for _, bc := range cases {
			ld := plog.NewLogs()
			bc.batch.CopyTo(ld)
			require.NoError(t, p.ConsumeLogs(context.Background(), ld))
			out := logsText(ld)
			leaked := 0
			for _, v := range bc.values {
				if strings.Contains(out, v) {
					leaked++
				}
			}
			changed := out != logsText(bc.batch)
			t.Logf("%s %s: %d of %d embedded secrets left; output changed: %v", pc.name, bc.name, leaked, len(bc.values), changed)
			if pc.name == "scrub" {
				require.Zero(t, leaked, bc.name)
				if bc.values == nil {
					require.False(t, changed, "scrub altered the clean batch")
				}
			}
		}
	}
}
