package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/agentaudit/otelcol-agentaudit/internal/loadgen"
	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
)

// BenchmarkPipelines (issue 9, `make bench`): the built binaries under the
// project's own load generator (internal/loadgen: mixed audit event types,
// mostly small, some multi-KB tool outputs, a secret of a real format in
// about one event in 50), three pipelines in one run, the collector pinned
// to one core (taskset -c $BENCH_COLLECTOR_CPU, default 0; `make bench`
// runs the test process, the load generator, on the other):
//
//	plain:     OTLP in, the exporter's batching, local archive; no processor
//	           but memory_limiter (the stock collector's baseline).
//	audit:     scrub, chain, sign, local archive, and the SIEM copy as CEF
//	           lines in a file behind a forward connector (distributions/local).
//	redaction: the audit pipeline with contrib's redactionprocessor v0.162.0
//	           (processor/scrubprocessor/testdata/redaction.yaml, the same
//	           formats) instead of scrub, in the benchmark distribution
//	           (builder-config-bench.yaml, built here when missing).
//
// The audit pipelines run over the native API and over OTLP. Each run sends
// pipeEvents events (the redaction pipeline stops taking new requests after
// pipeRedactionTime, as it is two orders of magnitude slower) and waits
// until the exporters have sent every acknowledged event. Reported:
// sustained events/s (acknowledged events over the time until all are
// archived), collector CPU seconds per 1,000 events, peak RSS and the
// receiver's p50/p99 request latency. With BENCH_WRITE_DOCS=1 the table
// replaces the marked section of docs/benchmarks.md.
func BenchmarkPipelines(b *testing.B) {
	benchBin := benchDistribution(b)
	var rows []pipelineRow
	for _, pc := range pipelineCases {
		b.Run(pc.pipeline+"-"+string(pc.format), func(b *testing.B) {
			var r pipelineRow
			for range b.N {
				r = pipelineOnce(b, pc, benchBin)
			}
			rows = append(rows, r)
		})
	}
	if os.Getenv("BENCH_WRITE_DOCS") != "1" {
		return
	}
	if len(rows) != len(pipelineCases) {
		b.Logf("docs/benchmarks.md not rewritten: %d of %d cases ran (-bench filter)", len(rows), len(pipelineCases))
		return
	}
	writePipelineDocs(b, rows)
}

const (
	pipeEvents        = 30_000
	pipeBatch         = 100
	pipeClients       = 4
	pipeRedactionTime = 30 * time.Second
	pipeSeed          = 9
)

type pipelineCase struct {
	pipeline string
	format   loadgen.Format
	what     string
}

var pipelineCases = []pipelineCase{
	{"plain", loadgen.OTLP, "(a) plain collector: OTLP in, batch, local archive"},
	{"audit", loadgen.Native, "(b) audit pipeline: scrub, chain, sign, archive, SIEM CEF file"},
	{"audit", loadgen.OTLP, "(b) audit pipeline"},
	{"redaction", loadgen.Native, "(c) as (b), redactionprocessor instead of scrub"},
	{"redaction", loadgen.OTLP, "(c) as (b), redactionprocessor instead of scrub"},
}

type pipelineRow struct {
	pipelineCase
	events        int
	eventsPerSec  float64
	cpuPer1000    float64
	peakRSSMiB    float64
	p50, p99      time.Duration
	retries       int
	leaked, total int // secrets placed / found unmasked in the archive
}

// benchDistribution is the benchmark distribution's binary:
// $AGENTAUDIT_BENCH_BIN, or built here from builder-config-bench.yaml.
func benchDistribution(b *testing.B) string {
	if bin := os.Getenv("AGENTAUDIT_BENCH_BIN"); bin != "" {
		return bin
	}
	root, err := filepath.Abs("..")
	require.NoError(b, err)
	require.NoError(b, os.MkdirAll(filepath.Join(root, "_build", "bench"), 0o755))
	cmd := exec.Command("go", "tool", "builder", "--config", "builder-config-bench.yaml")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "%s", out)
	return filepath.Join(root, "_build", "bench", "otelcol-agentaudit-bench")
}

// redactionYAML is the redaction processor's configuration of the scrub
// processor's comparison, indented for Extra["redaction"]. `$` is doubled:
// the collector's config resolver reads `$$` as a literal `$` (the
// expressions use it as an anchor).
func redactionYAML(b testing.TB) string {
	raw, err := os.ReadFile(filepath.Join("..", "processor", "scrubprocessor", "testdata", "redaction.yaml"))
	require.NoError(b, err)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		lines = append(lines, "    "+strings.ReplaceAll(l, "$", "$$"))
	}
	return strings.Join(lines, "\n")
}

// pipelineExtra is the harness's Extra of a case's collector.
func pipelineExtra(t testing.TB, pc pipelineCase, benchBin string, otlpPort int) map[string]string {
	extra := map[string]string{"otlp_port": fmt.Sprint(otlpPort), "queue_size": "5000"}
	siem := siemYAML("format: cef", "file:", "  path: @DIR@/siem/events.cef", "sending_queue:", "  storage: file_storage/queue")
	switch pc.pipeline {
	case "plain":
		extra["plain"] = "1"
	case "audit":
		extra["scrub"] = "1"
		extra["siem"] = siem
	case "redaction":
		extra["redaction"] = redactionYAML(t)
		extra["siem"] = siem
		extra["binary"] = benchBin
	}
	return extra
}

func pipelineOnce(b *testing.B, pc pipelineCase, benchBin string) pipelineRow {
	b.StopTimer()
	cpu := os.Getenv("BENCH_COLLECTOR_CPU")
	if cpu == "" {
		cpu = "0"
	}
	otlpPort := testport.Free(b)
	extra := pipelineExtra(b, pc, benchBin, otlpPort)
	extra["taskset"] = cpu
	c := newCollector(b, localConfig, extra)
	defer c.stop()

	// Every request body is prepared before the clock starts.
	g := loadgen.NewGenerator(pipeSeed, loadgen.Options{Prefix: pc.pipeline + "-" + string(pc.format)})
	var reqs []loadgen.Request
	var secretsPlaced [][]string // by request
	for len(reqs)*pipeBatch < pipeEvents {
		evs := make([]loadgen.Event, pipeBatch)
		var placed []string
		for i := range evs {
			evs[i] = g.Next()
			placed = append(placed, evs[i].Secrets...)
		}
		secretsPlaced = append(secretsPlaced, placed)
		body, err := loadgen.Encode(pc.format, evs)
		require.NoError(b, err)
		reqs = append(reqs, loadgen.Request{Body: body, Events: len(evs)})
	}
	url := c.url()
	if pc.format == loadgen.OTLP {
		url = fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlpPort)
	}
	rc := loadgen.RunConfig{URL: url, ContentType: pc.format.ContentType(), Clients: pipeClients}
	if pc.pipeline == "redaction" {
		rc.Duration = pipeRedactionTime
	}

	cpu0 := c.cpuTime()
	begin := time.Now()
	b.StartTimer()
	res := loadgen.Run(context.Background(), rc, reqs)
	require.Zero(b, res.Failed, "requests refused for good: %v\n%s", res.Status, c.logs())
	// Wait on the exporters' own counter (reading the archive would take
	// CPU from the collector). With the SIEM copy it sums both exporters,
	// and both must have sent every event.
	sentWanted := float64(res.Events)
	if extra["siem"] != "" {
		sentWanted *= 2
	}
	for deadline := time.Now().Add(5 * time.Minute); c.metric("otelcol_exporter_sent_log_records") < sentWanted; {
		if time.Now().After(deadline) {
			b.Fatalf("archive did not catch up:\n%s", c.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	archived := time.Since(begin)
	b.StopTimer()
	cpuUsed := c.cpuTime() - cpu0

	// Requests are handed out in order and each was retried until
	// acknowledged (Failed is 0), so the acknowledged events are the first
	// res.Events of the stream: all must be in the archive.
	want := map[string]bool{}
	for i := 1; i <= res.Events; i++ {
		want[fmt.Sprintf("%s-%s-%08d", pc.pipeline, pc.format, i)] = true
	}
	waitArchived(b, c.archiveDir(), want, time.Minute)
	row := pipelineRow{pipelineCase: pc, events: res.Events, retries: res.Retries,
		eventsPerSec: float64(res.Events) / archived.Seconds(),
		cpuPer1000:   cpuUsed.Seconds() / float64(res.Events) * 1000,
		peakRSSMiB:   float64(c.peakRSS()) / (1 << 20),
		p50:          res.Latency.P50, p99: res.Latency.P99}
	if pc.pipeline != "plain" {
		// The secrets of the acknowledged events, and how many of them the
		// archive still holds in clear.
		var archivedText bytes.Buffer
		for _, l := range readArchive(b, c.archiveDir()) {
			archivedText.Write(l.Line)
		}
		for _, placed := range secretsPlaced[:res.Requests] {
			for _, s := range placed {
				row.total++
				if bytes.Contains(archivedText.Bytes(), []byte(s)) {
					row.leaked++
				}
			}
		}
		if pc.pipeline == "audit" {
			require.Zero(b, row.leaked, "the scrub processor left secrets in the archive")
		}
	}
	b.ReportMetric(row.eventsPerSec, "events/s")
	b.ReportMetric(row.cpuPer1000, "cpu-s/1000ev")
	b.ReportMetric(row.peakRSSMiB, "peak-RSS-MiB")
	b.ReportMetric(float64(row.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(row.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(res.Events), "events")
	b.ReportMetric(float64(res.Retries), "retries")
	if row.total > 0 {
		b.ReportMetric(float64(row.leaked), "secrets-left")
	}
	return row
}

const (
	pipelinesBegin = "<!-- pipelines:begin -->"
	pipelinesEnd   = "<!-- pipelines:end -->"
)

// writePipelineDocs replaces the marked section of docs/benchmarks.md with
// this run's table and the machine it ran on.
func writePipelineDocs(b *testing.B, rows []pipelineRow) {
	path := filepath.Join("..", "docs", "benchmarks.md")
	doc, err := os.ReadFile(path)
	require.NoError(b, err)

	var t strings.Builder
	fmt.Fprintf(&t, "%s\n\n", machineLine())
	t.WriteString("| pipeline | in | events | events/s (one core) | share of the core used | CPU s per 1,000 events | events per CPU second | peak RSS | p50 / p99 request latency | retries | secrets left in the archive |\n")
	t.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	byKey := map[string]pipelineRow{}
	for _, r := range rows {
		leaks := "-"
		if r.pipeline != "plain" {
			leaks = fmt.Sprintf("%d of %d", r.leaked, r.total)
		}
		fmt.Fprintf(&t, "| %s | %s | %s | %s | %.0f %% | %.3f | %s | %.0f MiB | %.1f / %.1f ms | %d | %s |\n",
			r.what, r.format, thousands(float64(r.events)), thousands(r.eventsPerSec), r.eventsPerSec*r.cpuPer1000/10, r.cpuPer1000, thousands(1000/r.cpuPer1000), r.peakRSSMiB,
			float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, r.retries, leaks)
		byKey[r.pipeline+"-"+string(r.format)] = r
	}
	a, bn, bo, cn := byKey["plain-otlp"], byKey["audit-native"], byKey["audit-otlp"], byKey["redaction-native"]
	co := byKey["redaction-otlp"]
	fmt.Fprintf(&t, "\nGoals: (b) keeps at least half of (a)'s events/s per core: over OTLP %.0f %% of (a)'s events/s (%s) and %.0f %% of its events per CPU second, "+
		"over the native API %.0f %% (%s) and %.0f %%. "+
		"(b) faster than (c): %.1fx over the native API (%s), %.1fx over OTLP (%s).\n",
		100*bo.eventsPerSec/a.eventsPerSec, metOrNot(bo.eventsPerSec >= a.eventsPerSec/2), 100*a.cpuPer1000/bo.cpuPer1000,
		100*bn.eventsPerSec/a.eventsPerSec, metOrNot(bn.eventsPerSec >= a.eventsPerSec/2), 100*a.cpuPer1000/bn.cpuPer1000,
		bn.eventsPerSec/cn.eventsPerSec, metOrNot(bn.eventsPerSec > cn.eventsPerSec),
		bo.eventsPerSec/co.eventsPerSec, metOrNot(bo.eventsPerSec > co.eventsPerSec))
	out, err := replaceSection(string(doc), t.String())
	require.NoError(b, err, "docs/benchmarks.md")
	require.NoError(b, os.WriteFile(path, []byte(out), 0o644))
}

// replaceSection puts section between the pipelines markers of doc, in
// place of what was there, and leaves the rest of doc as it was.
func replaceSection(doc, section string) (string, error) {
	i := strings.Index(doc, pipelinesBegin)
	j := strings.Index(doc, pipelinesEnd)
	if i < 0 || j < i || strings.Count(doc, pipelinesBegin) != 1 || strings.Count(doc, pipelinesEnd) != 1 {
		return "", fmt.Errorf("need one %s ... %s section", pipelinesBegin, pipelinesEnd)
	}
	return doc[:i+len(pipelinesBegin)] + "\n" + section + doc[j:], nil
}

// thousands writes a whole number with thousands separators, as the
// docs' other tables do.
func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// machineLine names the machine, the toolchain, the date and how busy the
// machine was when the run started (BENCH_NOTE adds a remark).
func machineLine() string {
	// The machine's cores, not runtime.NumCPU: this process runs under
	// taskset with one.
	model, cores := "unknown CPU", 0
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			k, v, ok := strings.Cut(l, ":")
			switch k = strings.TrimSpace(k); {
			case ok && k == "model name" && model == "unknown CPU":
				model = strings.TrimSpace(v)
			case ok && k == "processor":
				cores++
			}
		}
	}
	load := ""
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			load = fmt.Sprintf(", load average %s %s %s at the end", f[0], f[1], f[2])
		}
	}
	line := fmt.Sprintf("Machine: %d cores `%s`, %s, %s%s; collector pinned to CPU %s (taskset), load generator on the other core.",
		cores, model, runtime.Version(), time.Now().UTC().Format("2006-01-02"), load, orDefault(os.Getenv("BENCH_COLLECTOR_CPU"), "0"))
	if note := os.Getenv("BENCH_NOTE"); note != "" {
		line += " " + note
	}
	return line
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// TestBenchManifestIsMainPlusRedaction: the benchmark distribution is the
// shipped one plus contrib's redaction processor, so (b) and (c) differ
// only in the scrubber.
func TestBenchManifestIsMainPlusRedaction(t *testing.T) {
	read := func(name string) map[string]any {
		raw, err := os.ReadFile(filepath.Join("..", name))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &m))
		return m
	}
	main, bench := read("builder-config.yaml"), read("builder-config-bench.yaml")
	procs := bench["processors"].([]any)
	last := procs[len(procs)-1].(map[string]any)
	require.Equal(t, "github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor v0.162.0", last["gomod"])
	bench["processors"] = procs[:len(procs)-1]
	require.Equal(t, "./_build/bench", bench["dist"].(map[string]any)["output_path"])
	require.Equal(t, []any{"github.com/agentaudit/otelcol-agentaudit => ../../"}, bench["replaces"])
	for _, k := range []string{"dist", "replaces"} {
		delete(main, k)
		delete(bench, k)
	}
	require.Equal(t, main, bench)
}

// TestReplaceSection: the docs writer replaces only the marked section
// (twice in a row gives the same document), and refuses a document whose
// markers are missing, reversed or doubled.
func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nbefore\n" + pipelinesBegin + "\nold table\n" + pipelinesEnd + "\n\nafter\n"
	out, err := replaceSection(doc, "new table\n")
	require.NoError(t, err)
	require.Equal(t, "# Benchmarks\n\nbefore\n"+pipelinesBegin+"\nnew table\n"+pipelinesEnd+"\n\nafter\n", out)
	again, err := replaceSection(out, "new table\n")
	require.NoError(t, err)
	require.Equal(t, out, again)
	for _, bad := range []string{
		"no markers",
		pipelinesEnd + "\n" + pipelinesBegin,
		pipelinesBegin + "\n" + pipelinesEnd + "\n" + pipelinesBegin + "\n" + pipelinesEnd,
	} {
		_, err := replaceSection(bad, "x\n")
		require.Error(t, err, bad)
	}
	// The shipped document has its section once.
	raw, err := os.ReadFile(filepath.Join("..", "docs", "benchmarks.md"))
	require.NoError(t, err)
	_, err = replaceSection(string(raw), "x\n")
	require.NoError(t, err)
}

// TestPipelineCasesConfig: the configs the benchmark runs are the ones the
// table names: (a) has no processor but memory_limiter and only the
// archive, (b) scrub, chain and sign with the SIEM copy, (c) the same with
// the redaction processor configured exactly as
// processor/scrubprocessor/testdata/redaction.yaml in place of scrub, on
// the benchmark binary.
func TestPipelineCasesConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "processor", "scrubprocessor", "testdata", "redaction.yaml"))
	require.NoError(t, err)
	var wantRedaction any
	require.NoError(t, yaml.Unmarshal(raw, &wantRedaction))
	want := map[string]struct{ processors, exporters []any }{
		"plain":     {[]any{"memory_limiter"}, []any{"worm"}},
		"audit":     {[]any{"memory_limiter", "scrub", "chain", "sign"}, []any{"worm", "forward/siem"}},
		"redaction": {[]any{"memory_limiter", "redaction", "chain", "sign"}, []any{"worm", "forward/siem"}},
	}
	for _, pc := range pipelineCases {
		t.Run(pc.pipeline+"-"+string(pc.format), func(t *testing.T) {
			dir := t.TempDir()
			c := &collector{t: t, config: filepath.Join(dir, "config.yaml"), p: params{Dir: dir, Port: 1, HealthPort: 2, MetricsPort: 3}}
			extra := pipelineExtra(t, pc, "/bench/bin", 4)
			c.reconfigure(localConfig, extra)
			rendered, err := os.ReadFile(c.config)
			require.NoError(t, err)
			// The config resolver reads $$ as $.
			var cfg map[string]any
			require.NoError(t, yaml.Unmarshal(bytes.ReplaceAll(rendered, []byte("$$"), []byte("$")), &cfg))
			p := cfg["service"].(map[string]any)["pipelines"].(map[string]any)["logs/audit"].(map[string]any)
			assert.Equal(t, want[pc.pipeline].processors, p["processors"])
			assert.Equal(t, want[pc.pipeline].exporters, p["exporters"])
			assert.Contains(t, p["receivers"], "otlp")
			if pc.pipeline == "redaction" {
				assert.Equal(t, wantRedaction, cfg["processors"].(map[string]any)["redaction"])
				assert.Equal(t, "/bench/bin", extra["binary"])
			} else {
				assert.Empty(t, extra["binary"], "the collector under test")
			}
		})
	}
}
