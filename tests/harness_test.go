// Package tests runs the built otelcol-agentaudit binary with YAML configs,
// as an operator would, and uses it over HTTP as an agent would.
package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
)

// binary is the collector under test: $AGENTAUDIT_BIN (set by make e2e), or
// built here once with the project's pinned ocb. auditctl is
// $AUDITCTL_BIN, or built here.
var binary, auditctl string

func TestMain(m *testing.M) {
	root, _ := filepath.Abs("..")
	build := func(args ...string) {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: cannot build:", args, err)
			os.Exit(1)
		}
	}
	binary = os.Getenv("AGENTAUDIT_BIN")
	if binary == "" {
		build("tool", "builder", "--config", "builder-config.yaml")
		binary = filepath.Join(root, "_build", "otelcol-agentaudit")
	}
	auditctl = os.Getenv("AUDITCTL_BIN")
	if auditctl == "" {
		auditctl = filepath.Join(root, "_build", "auditctl")
		build("build", "-o", auditctl, "./cmd/auditctl")
	}
	for _, b := range []string{binary, auditctl} {
		if _, err := os.Stat(b); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: binary missing:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// writeKey makes the checkpoint signing key the test configs use
// (Dir/keys/e2e.key) and the trust file auditors would get
// (Dir/keys/trust.txt), with auditctl keygen as an operator would.
func writeKey(t testing.TB, dir, algorithm string) {
	t.Helper()
	out, code := runAuditctl(t, "keygen", "--out", filepath.Join(dir, "keys"), "--name", "e2e", "--algorithm", algorithm)
	require.Equal(t, 0, code, out)
}

// runAuditctl runs auditctl and returns its stdout and exit status. An
// archive argument that is a registered s3:// URL (useS3Archive) gets the
// server's flags and credentials.
func runAuditctl(t testing.TB, args ...string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var env []string
	if len(args) > 0 {
		if a, ok := s3Archives.Load(args[len(args)-1]); ok {
			s3a := a.(*s3Archive)
			args = append(append(args[:len(args)-1:len(args)-1], s3a.flags...), args[len(args)-1])
			env = s3a.env
		}
	}
	cmd := exec.Command(auditctl, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	if stderr.Len() > 0 {
		t.Logf("auditctl %s: %s", args[0], strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), code
}

// verifyReport runs auditctl verify --json on an archive, with the trust
// file given ("": none).
func verifyReport(t testing.TB, archiveDir, trust string, extra ...string) (verifyResult, int) {
	t.Helper()
	args := []string{"verify", "--json"}
	if trust != "" { // without one, auditctl trusts the keys the archive announces
		args = append(args, "--trust", trust)
	}
	args = append(args, extra...)
	out, code := runAuditctl(t, append(args, archiveDir)...)
	var r verifyResult
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return r, code
}

// verifyResult is the part of auditctl's JSON report the tests read.
type verifyResult struct {
	Verified bool     `json:"verified"`
	Problems []string `json:"problems"`
	Keys     []struct {
		Name        string `json:"name"`
		Hash        string `json:"hash"`
		VerifierKey string `json:"verifier_key"`
		Trusted     string `json:"trusted"`
		Previous    string `json:"previous"`
		TPM         *struct {
			AttestationKey string `json:"attestation_key"`
			AKPinned       bool   `json:"attestation_key_pinned"`
			EndorsementKey string `json:"endorsement_key"`
		} `json:"tpm"`
	} `json:"keys"`
	Logs []struct {
		LogID         string   `json:"log_id"`
		Size          uint64   `json:"size"`
		SealedSize    uint64   `json:"sealed_size"`
		Integrity     string   `json:"integrity"`
		Completeness  string   `json:"completeness"`
		Problems      []string `json:"problems"`
		Missing       []string `json:"missing"`
		Duplicates    int      `json:"identical_duplicates"`
		MissingLeaves uint64   `json:"missing_leaves"`
		Voided        int      `json:"voided"`
		LostInFlight  uint64   `json:"lost_in_flight"`
		// RFC 3161 tokens.
		TimestampsVerified  int    `json:"timestamps_verified"`
		TimestampsUnchecked int    `json:"timestamps_unchecked"`
		TimestampedSize     uint64 `json:"timestamped_size"`
		Streams             []struct {
			Stream       string   `json:"stream"`
			Records      int      `json:"records"`
			Voided       int      `json:"voided"`
			LostInFlight uint64   `json:"lost_in_flight"`
			MissingSeqs  uint64   `json:"missing_seqs"`
			Unsealed     int      `json:"unsealed"`
			Integrity    string   `json:"integrity"`
			Completeness string   `json:"completeness"`
			Problems     []string `json:"problems"`
			Gaps         []string `json:"gaps"`
		} `json:"streams"`
	} `json:"logs"`
}

// allProblems lists every finding of a report in one slice.
func (r verifyResult) allProblems() []string {
	out := append([]string{}, r.Problems...)
	for _, l := range r.Logs {
		out = append(out, l.Problems...)
		out = append(out, l.Missing...)
		for _, s := range l.Streams {
			out = append(out, s.Problems...)
			for _, g := range s.Gaps {
				out = append(out, "stream "+s.Stream+" gap "+g)
			}
			if s.Unsealed > 0 {
				out = append(out, fmt.Sprintf("stream %s: %d unsealed", s.Stream, s.Unsealed))
			}
		}
	}
	return out
}

// params fill a config template.
type params struct {
	Dir         string // state directory: queue and archive below it
	Port        int    // agentaudit receiver
	HealthPort  int
	MetricsPort int
	Extra       map[string]string
}

// collector is one running collector process.
type collector struct {
	t       testing.TB
	config  string
	p       params
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	// archiveURL is the s3:// archive of an S3-backed collector.
	archiveURL string
}

// newCollector writes the config rendered from tmpl and starts the binary.
func newCollector(t testing.TB, tmpl string, extra map[string]string) *collector {
	t.Helper()
	dir := t.TempDir()
	p := params{Dir: dir, Port: testport.Free(t), HealthPort: testport.Free(t), MetricsPort: testport.Free(t), Extra: extra}
	alg := "ed25519"
	if a, ok := extra["key_algorithm"]; ok {
		alg = a
	}
	writeKey(t, dir, alg)
	c := &collector{t: t, config: filepath.Join(dir, "config.yaml"), p: p, logPath: filepath.Join(dir, "collector.log")}
	c.reconfigure(tmpl, extra)
	c.start()
	t.Cleanup(c.stop)
	return c
}

// reconfigure renders the config again with other Extra settings, for the
// next start.
func (c *collector) reconfigure(tmpl string, extra map[string]string) {
	c.t.Helper()
	c.p.Extra = extra
	var buf bytes.Buffer
	require.NoError(c.t, template.Must(template.Must(template.New("cfg").Parse(configParts)).Parse(tmpl)).Execute(&buf, c.p))
	cfg := bytes.ReplaceAll(buf.Bytes(), []byte("@DIR@"), []byte(c.p.Dir))
	require.NoError(c.t, os.WriteFile(c.config, cfg, 0o644))
}

func (c *collector) url() string { return fmt.Sprintf("http://127.0.0.1:%d/v1/events", c.p.Port) }

// archiveDir is where the collector archives: its local directory, or the
// s3:// URL a test set in archiveURL (useS3Archive registers it).
func (c *collector) archiveDir() string {
	if c.archiveURL != "" {
		return c.archiveURL
	}
	return filepath.Join(c.p.Dir, "archive")
}

func (c *collector) trustFile() string { return filepath.Join(c.p.Dir, "keys", "trust.txt") }

func (c *collector) start() {
	c.t.Helper()
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(c.t, err)
	bin := binary
	if b := c.p.Extra["binary"]; b != "" { // another distribution (the benchmark's)
		bin = b
	}
	c.cmd = exec.Command(bin, "--config", c.config)
	if cpus := c.p.Extra["taskset"]; cpus != "" {
		// taskset execs the collector in its own process, so the pid (and
		// peakRSS, cpuTime) stay the collector's.
		c.cmd = exec.Command("taskset", "-c", cpus, bin, "--config", c.config)
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	require.NoError(c.t, c.cmd.Start())
	c.done = make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	c.waitHealthy(60 * time.Second)
}

// startFails starts a collector that must not come up, and returns its log
// once it has exited.
func startFails(t testing.TB, tmpl string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	c := &collector{t: t, config: filepath.Join(dir, "config.yaml"), logPath: filepath.Join(dir, "collector.log"),
		p: params{Dir: dir, Port: testport.Free(t), HealthPort: testport.Free(t), MetricsPort: testport.Free(t), Extra: extra}}
	writeKey(t, dir, "ed25519")
	c.reconfigure(tmpl, extra)
	logf, err := os.Create(c.logPath)
	require.NoError(t, err)
	defer logf.Close()
	cmd := exec.Command(binary, "--config", c.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		require.Error(t, err, "the collector must exit with an error:\n%s", c.logs())
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the collector did not exit within 90 s:\n%s", c.logs())
	}
	return c.logs()
}

// waitHealthy polls the health_check extension until the pipeline is up.
func (c *collector) waitHealthy(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			c.t.Fatalf("collector exited during start-up:\n%s", c.logs())
		default:
		}
		if c.healthy() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("collector not healthy after %s:\n%s", timeout, c.logs())
}

func (c *collector) healthy() bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", c.p.HealthPort))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill ends the collector with SIGKILL: no shutdown, no flush.
func (c *collector) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *collector) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.kill()
	}
}

func (c *collector) logs() string {
	b, _ := os.ReadFile(c.logPath)
	return string(b)
}

// peakRSS is the process's high-water mark of resident memory, in bytes.
func (c *collector) peakRSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return -1
}

// cpuTime is the user+system CPU time the process has used so far.
func (c *collector) cpuTime() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// Fields after the parenthesised command name; utime and stime are 14 and 15.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// postResult is what the collector answered.
type postResult struct {
	Status     int
	Body       string
	RetryAfter string
}

func post(ctx context.Context, url, contentType string, body []byte, header map[string]string) (postResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return postResult{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return postResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return postResult{Status: resp.StatusCode, Body: string(b), RetryAfter: resp.Header.Get("Retry-After")}, nil
}

// archivedLine is one record found in the archive.
type archivedLine struct {
	Key  string
	Line []byte
	Logs plog.Logs
}

// readArchive returns every record line of every segment of an archive:
// a directory (none yet: no lines) or an s3:// URL registered by
// useS3Archive.
func readArchive(t testing.TB, dir string) []archivedLine {
	t.Helper()
	var r archive.Reader
	if b, ok := s3Archives.Load(dir); ok {
		r = b.(*s3Archive).reader
	} else {
		dr, err := archive.OpenDir(dir)
		if os.IsNotExist(err) {
			return nil
		}
		require.NoError(t, err)
		r = dr
	}
	var out []archivedLine
	err := r.Walk(context.Background(), func(o archive.Object) error {
		if o.Corrupt != nil {
			return o.Corrupt
		}
		recs, err := archive.DecodeSegment(o.Data)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		lines := bytes.SplitAfter(o.Data, []byte{'\n'})
		for i, r := range recs {
			out = append(out, archivedLine{Key: o.Key, Line: lines[i], Logs: r})
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// eventIDs counts the archived records by agent_audit.event.id.
func eventIDs(t testing.TB, dir string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, l := range readArchive(t, dir) {
		lr := l.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
		if v, ok := lr.Attributes().Get("agent_audit.event.id"); ok {
			ids[v.Str()]++
		}
	}
	return ids
}

// waitArchived polls the archive until every id in want is there.
func waitArchived(t testing.TB, dir string, want map[string]bool, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := eventIDs(t, dir)
		missing := 0
		for id := range want {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events are not in the archive after %s", missing, len(want), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eventJSON is a valid native event with a unique id.
// checkpointObjects lists an archive's objects beside the logs' streams
// (checkpoints, time stamps, key announcements) whose names match pattern.
func checkpointObjects(t testing.TB, archiveDir, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(archiveDir, "*", "*", "checkpoints", pattern))
	require.NoError(t, err)
	return files
}

// sendBatches posts batches of perBatch events of three sessions, with ids
// "<prefix>-<batch>-<i>", each acknowledged with 200.
func sendBatches(t testing.TB, url, prefix string, batches, perBatch int) map[string]bool {
	t.Helper()
	sent := map[string]bool{}
	for batch := range batches {
		var body bytes.Buffer
		for i := range perBatch {
			id := fmt.Sprintf("%s-%d-%d", prefix, batch, i)
			sent[id] = true
			body.Write(eventJSON(id, fmt.Sprintf("sess-%d", i%3), 100))
			body.WriteByte('\n')
		}
		res, err := post(context.Background(), url, "application/x-ndjson", body.Bytes(), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, res.Body)
	}
	return sent
}

func eventJSON(id, session string, padding int) []byte {
	return fmt.Appendf(nil, `{"event_name":"agent_audit.tool.call","time":"2026-11-23T10:00:00.000000001Z",`+
		`"attributes":{"session.id":%q,"agent_audit.event.id":%q,"gen_ai.tool.name":"Bash",`+
		`"gen_ai.tool.call.arguments":{"command":"ls -la /home/alice/project"},"pad":%q}}`,
		session, id, strings.Repeat("x", padding))
}

// localConfig is distributions/local with ports and directories of the test
// (and, with Extra["otlp_port"], the otlp receiver in the same pipeline;
// with Extra["sync"], the worm exporter without a queue, so a graceful stop
// archives the final checkpoint before the process ends; with Extra["plain"],
// no chain and sign processors: the plain collector pipeline). Signing:
// Extra["key_name"] and ["key_file"] replace the e2e key;
// ["tpm_endpoint"] signs with the TPM provider instead; with
// ["previous_key_file"] and ["previous_key_name"] that key is the one being
// rotated out; ["tsa_url"] time-stamps checkpoints. With Extra["scrub"],
// the scrub processor sits between memory_limiter and chain, as in
// distributions/local (HMAC key Dir/scrub-hmac.key, made at start-up);
// ["scrub_config"] is more YAML for it, each line indented by 4 spaces
// (e.g. "    type_actions:\n      pii_email: hmac"). With
// Extra["debug_file"], a debug exporter (verbosity detailed) is in the
// pipeline too and writes to that file name under Dir, or to the
// collector's log (c.logs()) when the value is "stderr". With
// Extra["siem"], a siem exporter takes the pipeline's records through a
// forward/siem connector in a logs/siem pipeline of its own, as in
// distributions/local; the value is its YAML, each line indented by 4
// spaces (siemYAML builds it), where @DIR@ stands for Dir. With Extra["s3_endpoint"], the worm exporter archives to S3 (path-style,
// us-east-1) instead of Dir/archive: ["s3_bucket"], ["s3_prefix"],
// ["s3_access_key"], ["s3_secret_key"], Object Lock ["s3_mode"],
// ["s3_retention"] and ["s3_legal_hold"], ["s3_on_unreachable"] (fail or
// retry), and ["s3_ca_file"], the PEM CA to trust for an https endpoint
// (s3.tls.ca_file); s3Extra fills in endpoint, bucket, prefix and keys for
// a tests3 server. ["compression"] sets the exporter's compression either
// way. Extra["redaction"] puts contrib's redaction processor where scrub
// would be; the value is its YAML, each line indented by 4 spaces (only
// the benchmark distribution, builder-config-bench.yaml, has it). Not
// part of the config: Extra["binary"] starts that binary instead of the
// collector under test, and Extra["taskset"] starts it pinned to those
// CPUs (taskset -c).
const localConfig = `
extensions:
  health_check:
    endpoint: 127.0.0.1:{{.HealthPort}}
  file_storage/queue:
    directory: {{.Dir}}/queue
    create_directory: true
    fsync: true
  signer:
    key_name: {{or (index .Extra "key_name") "e2e"}}
{{- with index .Extra "tpm_endpoint"}}
    provider: tpm
    tpm:
      endpoint: {{.}}
{{- else}}
    file:
      private_key: {{or (index .Extra "key_file") (printf "%s/keys/e2e.key" .Dir)}}
{{- end}}
{{- with index .Extra "previous_key_file"}}
  signer/previous:
    key_name: {{index $.Extra "previous_key_name"}}
    file:
      private_key: {{.}}
{{- end}}
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
{{- with index .Extra "otlp_port"}}
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{{.}}
{{- end}}
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
{{- if index .Extra "scrub"}}
  scrub:
    hmac:
      key_file: {{.Dir}}/scrub-hmac.key
      create_key_file: true
{{- with index .Extra "scrub_config"}}
{{.}}
{{- end}}
{{- end}}
{{- with index .Extra "redaction"}}
  redaction:
{{.}}
{{- end}}
  chain:
    origin: e2e
    storage: file_storage/queue
  sign:
    signer: signer
    interval: {{or (index .Extra "sign_interval") "1s"}}
    max_records: 5000
{{- if index .Extra "previous_key_file"}}
    previous_signer: signer/previous
{{- end}}
{{- with index .Extra "tsa_url"}}
    timestamp:
      endpoint: {{.}}
      timeout: 5s
      max_backoff: 1s
{{- end}}
exporters:
  worm:
    origin: e2e
{{- with index .Extra "s3_endpoint"}}
    s3:
      endpoint: {{.}}
      path_style: true
      region: us-east-1
      bucket: {{index $.Extra "s3_bucket"}}
      prefix: {{or (index $.Extra "s3_prefix") "audit"}}
      access_key_id: {{index $.Extra "s3_access_key"}}
      secret_access_key: {{index $.Extra "s3_secret_key"}}
      object_lock:
        mode: {{or (index $.Extra "s3_mode") "COMPLIANCE"}}
        retention: {{or (index $.Extra "s3_retention") "1h"}}
        legal_hold: {{or (index $.Extra "s3_legal_hold") "false"}}
      on_unreachable_at_start: {{or (index $.Extra "s3_on_unreachable") "fail"}}
{{- with index $.Extra "s3_ca_file"}}
      tls:
        ca_file: {{.}}
{{- end}}
{{- else}}
    local:
      directory: {{.Dir}}/archive
{{- end}}
{{- with index .Extra "compression"}}
    compression: {{.}}
{{- end}}
{{- if not (index .Extra "sync")}}
    sending_queue:
      storage: file_storage/queue
      queue_size: {{or (index .Extra "queue_size") "2000"}}
      num_consumers: {{or (index .Extra "num_consumers") "2"}}
      batch:
        sizer: items
        flush_timeout: 200ms
        min_size: 2000
        max_size: 10000
{{- end}}
{{- with index .Extra "siem"}}
  siem:
{{.}}
{{- end}}
{{- with index .Extra "debug_file"}}
  debug:
    verbosity: detailed
    use_internal_logger: false
    output_paths: [{{if eq . "stderr"}}stderr{{else}}{{$.Dir}}/{{.}}{{end}}]
{{- end}}
{{- if index .Extra "siem"}}
connectors:
  forward/siem:
{{- end}}
service:
  extensions: [health_check, file_storage/queue, signer{{if index .Extra "previous_key_file"}}, signer/previous{{end}}]
  pipelines:
    logs/audit:
      receivers: [agentaudit{{if index .Extra "otlp_port"}}, otlp{{end}}]
      processors: [memory_limiter{{if index .Extra "scrub"}}, scrub{{end}}{{if index .Extra "redaction"}}, redaction{{end}}{{if not (index .Extra "plain")}}, chain, sign{{end}}]
      exporters: [worm{{if index .Extra "debug_file"}}, debug{{end}}{{if index .Extra "siem"}}, forward/siem{{end}}]
{{- if index .Extra "siem"}}
    logs/siem:
      receivers: [forward/siem]
      exporters: [siem]
{{- end}}
  telemetry:
{{template "metrics" .}}
`

// configParts are the pieces the e2e config templates share; a template
// includes one on a line of its own with {{template "name" .}}, at the
// indentation the part carries. audit_extensions: health_check, the
// file_storage/queue the chain state and queues use, and the e2e signer;
// memory_limiter; otlp_receiver: the otlp receiver on Extra["http_port"]
// and ["grpc_port"]; chain_sign: the chain and sign processors as in
// distributions/local (interval Extra["sign_interval"], default 1s);
// worm_local: the worm exporter into Dir/archive without a queue (each
// batch archived before the receiver answers, and a graceful stop archives
// the final checkpoint); metrics: the collector's own metrics on
// MetricsPort, under service.telemetry.
const configParts = `
{{- define "audit_extensions"}}  health_check:
    endpoint: 127.0.0.1:{{.HealthPort}}
  file_storage/queue:
    directory: {{.Dir}}/queue
    create_directory: true
    fsync: true
  signer:
    key_name: e2e
    file:
      private_key: {{.Dir}}/keys/e2e.key
{{- end}}
{{- define "memory_limiter"}}  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
{{- end}}
{{- define "otlp_receiver"}}  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{{index .Extra "http_port"}}
      grpc:
        endpoint: 127.0.0.1:{{index .Extra "grpc_port"}}
{{- end}}
{{- define "chain_sign"}}  chain:
    origin: e2e
    storage: file_storage/queue
  sign:
    signer: signer
    interval: {{or (index .Extra "sign_interval") "1s"}}
    max_records: 5000
{{- end}}
{{- define "worm_local"}}  worm:
    origin: e2e
    local:
      directory: {{.Dir}}/archive
{{- end}}
{{- define "metrics"}}    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {{.MetricsPort}}
{{- end}}
`

// metric reads one counter from the collector's Prometheus endpoint (summed
// over its labels).
func (c *collector) metric(name string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", c.p.MetricsPort))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// waitSealed polls auditctl verify until every record of the archive is
// covered by a checkpoint (the sign processor's interval, then the
// exporter's queue), and returns that report.
func waitSealed(t testing.TB, archiveDir, trust string, timeout time.Duration) (verifyResult, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, code := verifyReport(t, archiveDir, trust, "--allow-unsealed")
		sealed := len(r.Logs) > 0
		for _, l := range r.Logs {
			if l.SealedSize < l.Size {
				sealed = false
			}
		}
		if sealed || time.Now().After(deadline) {
			return r, code
		}
		time.Sleep(300 * time.Millisecond)
	}
}
