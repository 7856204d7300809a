package tests

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcert"
	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
)

// shippedConfig is the path of a config under distributions/.
func shippedConfig(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "distributions", name, "config.yaml"))
	return p
}

// portsOverlay is the second --config file of a shipped collector in the
// test: only listen addresses change (loopback, free ports; the shipped
// configs use fixed ports and the gateway 0.0.0.0), and the internal metrics
// go to a port of their own so the test can read them. Everything else, paths
// and peers included, comes from the shipped config and its environment
// variables.
const portsOverlay = `
extensions:
  health_check:
    endpoint: 127.0.0.1:{{.HealthPort}}
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
{{template "otlp_receiver" .}}
service:
  telemetry:
{{template "metrics" .}}
`

// shipped is a collector started from a shipped config: the harness's
// collector (metric, stop, kill, logs) with the command line and
// environment of a systemd unit or a pod.
type shipped struct {
	*collector
	args []string
	env  []string
}

// startShipped starts the built binary with a shipped config, the ports
// overlay and env (on top of the test's own environment, minus anything
// AGENTAUDIT_ or AWS_ it may hold) and waits until it is healthy.
func startShipped(t *testing.T, dist string, env map[string]string) *shipped {
	t.Helper()
	dir := t.TempDir()
	c := &collector{t: t, config: filepath.Join(dir, "ports.yaml"), logPath: filepath.Join(dir, "collector.log"),
		p: params{Dir: dir, Port: testport.Free(t), HealthPort: testport.Free(t), MetricsPort: testport.Free(t),
			Extra: map[string]string{"grpc_port": fmt.Sprint(testport.Free(t)), "http_port": fmt.Sprint(testport.Free(t))}}}
	c.reconfigure(portsOverlay, c.p.Extra)
	s := &shipped{collector: c, args: []string{"--config", shippedConfig(dist), "--config", c.config}}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTAUDIT_") && !strings.HasPrefix(kv, "AWS_") {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env, "AGENTAUDIT_DATA_DIR="+filepath.Join(dir, "data"))
	for k, v := range env {
		s.env = append(s.env, k+"="+v)
	}
	s.start()
	t.Cleanup(c.stop)
	return s
}

// start runs the process (again, on the same state after a kill).
func (s *shipped) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(s.t, err)
	s.cmd = exec.Command(binary, s.args...)
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	require.NoError(s.t, s.cmd.Start())
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.waitHealthy(60 * time.Second)
}

// archiveDir is the agent's local archive.
func (s *shipped) archiveDir() string { return filepath.Join(s.p.Dir, "data", "archive") }

// keygen makes a checkpoint key named name in dir with auditctl keygen and
// returns the key file; dir/trust.txt is its trust file.
func keygen(t *testing.T, dir, name string) string {
	t.Helper()
	out, code := runAuditctl(t, "keygen", "--out", dir, "--name", name)
	require.Equal(t, 0, code, out)
	return filepath.Join(dir, name+".key")
}

// roundRobin is the test's L7 load balancer in front of the gateways: a
// TLS reverse proxy that sends each HTTP/2 request (each gRPC Export call)
// to the next gateway in turn, as Envoy, nginx grpc_pass or a cloud L7 load
// balancer would. A gateway that fails a request is passed over for 2 s
// (passive health checking); the failed call gets 502, which gRPC reports
// as Unavailable and the agent's exporter retries, landing on the other
// gateway. Why a proxy: the otlp exporter's own balancing
// (balancer_name: round_robin) needs one name with several addresses, and
// the test's gateways share 127.0.0.1, differing only by port; the shipped
// agent config is then used unchanged, endpoint and CA from its
// environment variables.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Uint64
	served   []atomic.Int64
	failed   []atomic.Int64
	mu       sync.Mutex
	downTill []time.Time
	addr     string
}

func startRoundRobin(t *testing.T, certs testcert.Paths, roots *x509.CertPool, backends ...string) *roundRobin {
	t.Helper()
	rr := &roundRobin{served: make([]atomic.Int64, len(backends)), failed: make([]atomic.Int64, len(backends)),
		downTill: make([]time.Time, len(backends))}
	for _, b := range backends {
		rr.backends = append(rr.backends, &url.URL{Scheme: "https", Host: b})
	}
	index := func(u *url.URL) int {
		for i, b := range rr.backends {
			if b.Host == u.Host {
				return i
			}
		}
		panic("no backend " + u.Host)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(rr.backends[rr.pick()])
		},
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			rr.served[index(resp.Request.URL)].Add(1)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			i := index(r.URL)
			rr.failed[i].Add(1)
			rr.mu.Lock()
			rr.downTill[i] = time.Now().Add(2 * time.Second)
			rr.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	cert, err := tls.LoadX509KeyPair(certs.Cert, certs.Key)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rr.addr = ln.Addr().String()
	srv := &http.Server{Handler: proxy, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}},
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return rr
}

// up ends backend i's pause at once, as a load balancer's active health
// check does when the backend answers again.
func (rr *roundRobin) up(i int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.downTill[i] = time.Time{}
}

// pick returns the next backend in turn, skipping one marked down unless
// all are.
func (rr *roundRobin) pick() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	n := len(rr.backends)
	for range n {
		i := int(rr.next.Add(1) % uint64(n))
		if time.Now().After(rr.downTill[i]) {
			return i
		}
	}
	return int(rr.next.Add(1) % uint64(n))
}

// TestScaleOutTwoAgentsTwoGateways runs the deployment of docs/deploy.md
// with the shipped configs: two agents (distributions/agent) chain, sign and
// archive locally and forward over OTLP/gRPC through a round-robin load
// balancer to two gateways (distributions/gateway), which share no state and
// archive to one MinIO bucket with Object Lock. One gateway is killed in the
// middle and restarted on its state. Both gateways take a share, every
// event is in every archive, the gateways chain nothing themselves (the
// agents' chains pass through them), and auditctl verifies the bucket and
// each agent's local archive with nothing missing.
func TestScaleOutTwoAgentsTwoGateways(t *testing.T) {
	started := time.Now()
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "audit", true)
	bucket := useS3Archive(t, srv, "audit", "audit")

	shared := t.TempDir()
	certs := testcert.Paths{CA: filepath.Join(shared, "ca.pem"), Cert: filepath.Join(shared, "gateway.pem"), Key: filepath.Join(shared, "gateway.key")}
	ca := testcert.NewCA(t, "gateway CA")
	ca.WriteServer(t, certs)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	const token = "scale-out-test-token"
	// Every gateway gets the same scrub key, as the shipped gateway config
	// asks; it must exist before they start.
	scrubKey := filepath.Join(shared, "scrub-hmac.key")
	raw := make([]byte, 32)
	_, err := rand.Read(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(scrubKey, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600))

	// Each collector's key in a directory of its own; all trust files
	// together are what an auditor of the bucket is given.
	trust := map[string]string{}
	var all strings.Builder
	key := map[string]string{}
	for _, name := range []string{"gateway-1", "gateway-2", "agent-1", "agent-2"} {
		dir := filepath.Join(shared, "keys-"+name)
		key[name] = keygen(t, dir, name)
		trust[name] = filepath.Join(dir, "trust.txt")
		b, err := os.ReadFile(trust[name])
		require.NoError(t, err)
		all.Write(b)
	}
	allTrust := filepath.Join(shared, "trust-all.txt")
	require.NoError(t, os.WriteFile(allTrust, []byte(all.String()), 0o644))

	gatewayEnv := func(name string) map[string]string {
		return map[string]string{
			"AGENTAUDIT_ORIGIN": name, "AGENTAUDIT_SIGNING_KEY": key[name], "AGENTAUDIT_SIGNING_KEY_NAME": name,
			"AGENTAUDIT_SCRUB_KEY": scrubKey, "AGENTAUDIT_GATEWAY_TOKEN": token,
			"AGENTAUDIT_TLS_CERT": certs.Cert, "AGENTAUDIT_TLS_KEY": certs.Key,
			"AGENTAUDIT_S3_BUCKET": "audit", "AGENTAUDIT_S3_ENDPOINT": srv.Endpoint(), "AGENTAUDIT_S3_PATH_STYLE": "true",
			// Object Lock COMPLIANCE as shipped, but an hour instead of 7 years.
			"AGENTAUDIT_S3_RETENTION": "1h",
			"AWS_ACCESS_KEY_ID":       srv.AccessKey(), "AWS_SECRET_ACCESS_KEY": srv.SecretKey(),
			"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		}
	}
	gw1 := startShipped(t, "gateway", gatewayEnv("gateway-1"))
	gw2 := startShipped(t, "gateway", gatewayEnv("gateway-2"))
	lb := startRoundRobin(t, certs, roots, "127.0.0.1:"+gw1.p.Extra["grpc_port"], "127.0.0.1:"+gw2.p.Extra["grpc_port"])

	agentEnv := func(name string) map[string]string {
		return map[string]string{
			"AGENTAUDIT_ORIGIN": name, "AGENTAUDIT_SIGNING_KEY": key[name], "AGENTAUDIT_SIGNING_KEY_NAME": name,
			"AGENTAUDIT_SCRUB_KEY":        filepath.Join(shared, name+"-scrub-hmac.key"), // made at first start
			"AGENTAUDIT_GATEWAY_ENDPOINT": lb.addr, "AGENTAUDIT_GATEWAY_TOKEN": token, "AGENTAUDIT_GATEWAY_CA": certs.CA,
		}
	}
	agents := []*shipped{startShipped(t, "agent", agentEnv("agent-1")), startShipped(t, "agent", agentEnv("agent-2"))}
	names := []string{"agent-1", "agent-2"}

	// Each agent gets its events in three rounds of perRound, 100 per
	// request, each request retried until acknowledged: with both gateways
	// up, with gateway-2 killed (the balancer passes it over and gateway-1
	// takes every forward), and with gateway-2 restarted on its state (its
	// persistent queue still holds what it had acknowledged).
	const perRound = 1_000
	accepted := func(g *shipped) float64 { return g.metric("otelcol_receiver_accepted_log_records") }
	wantPerAgent := []map[string]bool{{}, {}}
	round := func(label string) {
		t.Helper()
		senders := make([]*sender, 2)
		done := make([]chan error, 2)
		for i, a := range agents {
			senders[i] = newSender(fmt.Sprintf("http://127.0.0.1:%d/v1/events", a.p.Port), names[i]+"-"+label, perRound, 100)
			done[i] = senders[i].start(t, 200, 5)
		}
		for i, s := range senders {
			require.NoError(t, <-done[i])
			acked := s.ackedIDs()
			require.Len(t, acked, perRound)
			for id := range acked {
				wantPerAgent[i][id] = true
			}
			t.Logf("e2e: scale-out round %s, %s: sender statuses%s", label, names[i], s.statusSummary())
		}
	}
	// waitForwarded waits until the gateways have accepted n log records
	// (events and the agents' checkpoints) beyond base.
	waitForwarded := func(base, n float64, gws ...*shipped) float64 {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var sum float64
			for _, g := range gws {
				sum += accepted(g)
			}
			if sum-base >= n {
				return sum - base
			}
			require.True(t, time.Now().Before(deadline), "the gateways accepted %.0f of %.0f forwarded records", sum-base, n)
			time.Sleep(200 * time.Millisecond)
		}
	}

	round("up")
	waitForwarded(0, 2*perRound, gw1, gw2)
	gw1Share, gw2Share := accepted(gw1), accepted(gw2)
	assert.Positive(t, gw1Share, "gateway-1 received a share")
	assert.Positive(t, gw2Share, "gateway-2 received a share")

	// Gateway-2 dies while forwards are arriving: as soon as it has taken
	// one of this round's. A forward it acknowledged stays in its queue; one
	// it had not answered is retried by the agent and lands on gateway-1
	// (if gateway-2 had already queued it, the bucket gets it twice:
	// identical duplicates, which the verifier accepts).
	gw1Before, gw2Before := accepted(gw1), accepted(gw2)
	var killErr error
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		deadline := time.Now().Add(time.Minute)
		for accepted(gw2) == gw2Before {
			if time.Now().After(deadline) {
				killErr = fmt.Errorf("gateway-2 took no forward of the round within a minute")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		gw2.kill()
	}()
	round("down")
	<-killed
	require.NoError(t, killErr)
	// Gateway-1 takes the rest of the round: at least half of it, whatever
	// gateway-2 took before it died.
	gw1During := waitForwarded(gw1Before, perRound, gw1)

	gw2.start() // healthy again (its health_check answers)
	lb.up(1)
	gw1Before, gw2Before = accepted(gw1), accepted(gw2)
	round("back")
	waitForwarded(gw1Before+gw2Before, 2*perRound, gw1, gw2)
	gw2After := accepted(gw2) - gw2Before
	assert.Positive(t, gw2After, "gateway-2 takes forwards again after its restart")

	want := map[string]bool{}
	for i, a := range agents {
		for id := range wantPerAgent[i] {
			want[id] = true
		}
		// Every event in the agent's own archive exactly once.
		local := waitArchived(t, a.archiveDir(), wantPerAgent[i], time.Minute)
		assert.Len(t, local, 3*perRound)
		for id, n := range local {
			assert.Equal(t, 1, n, "agent %s archived %s %d times", names[i], id, n)
		}
	}
	inBucket := waitArchived(t, bucket, want, 2*time.Minute)
	assert.Len(t, inBucket, 6*perRound, "nothing else in the bucket")
	duplicates := 0
	for _, n := range inBucket {
		duplicates += n - 1
	}

	// The bucket holds four logs (two agents', two gateways') and is sealed
	// once the agents' last checkpoints have been forwarded and uploaded.
	r, code := waitSealed(t, bucket, allTrust, 2*time.Minute)
	require.Equal(t, 0, code, "%v", r.allProblems())
	r, code = verifyReport(t, bucket, allTrust)
	require.Equal(t, 0, code, "%v", r.allProblems())
	require.True(t, r.Verified)
	logs := map[string]int{}
	for i, l := range r.Logs {
		origin, _, _ := strings.Cut(l.LogID, "/")
		logs[origin] = i
		assert.Equal(t, "ok", l.Integrity, "%s: %v", l.LogID, l.Problems)
		assert.Equal(t, "complete", l.Completeness, "%s: %v", l.LogID, l.Missing)
		assert.Empty(t, l.Missing, l.LogID)
		assert.Zero(t, l.MissingLeaves, l.LogID)
		assert.Equal(t, l.Size, l.SealedSize, "%s is sealed", l.LogID)
		for _, s := range l.Streams {
			assert.Zero(t, s.MissingSeqs, "%s stream %s", l.LogID, s.Stream)
			assert.Zero(t, s.Unsealed, "%s stream %s", l.LogID, s.Stream)
			assert.Equal(t, "ok", s.Integrity, "%s stream %s: %v", l.LogID, s.Stream, s.Problems)
		}
	}
	require.Len(t, logs, 4, "agent-1, agent-2, gateway-1 and gateway-2: %v", logs)
	// A second copy of an event in the bucket can only come from a forward
	// that a gateway queued but did not answer before it died; each one is
	// a record auditctl recognises as an identical duplicate.
	identical := 0
	for _, l := range r.Logs {
		identical += l.Duplicates
	}
	assert.Equal(t, duplicates, identical, "every extra copy is an identical duplicate")

	// Each agent's local archive verifies with the agent's own trust file,
	// and its log is in the bucket whole: the same log, size and streams.
	for i, a := range agents {
		local, code := waitSealed(t, a.archiveDir(), trust[names[i]], time.Minute)
		require.Equal(t, 0, code, "%s: %v", names[i], local.allProblems())
		local, code = verifyReport(t, a.archiveDir(), trust[names[i]])
		require.Equal(t, 0, code, "%s: %v", names[i], local.allProblems())
		require.Len(t, local.Logs, 1)
		idx, ok := logs[names[i]]
		require.True(t, ok, "%s's log is in the bucket", names[i])
		remote := r.Logs[idx]
		assert.Equal(t, local.Logs[0].LogID, remote.LogID)
		assert.GreaterOrEqual(t, remote.Size, local.Logs[0].SealedSize, "%s: the bucket has every record the agent sealed", names[i])
		localStreams, remoteStreams := map[string]int{}, map[string]int{}
		for _, s := range local.Logs[0].Streams {
			localStreams[s.Stream] = s.Records
		}
		for _, s := range remote.Streams {
			remoteStreams[s.Stream] = s.Records
		}
		assert.Equal(t, localStreams, remoteStreams, "%s: the same streams and records", names[i])
	}

	// The gateways passed the agents' chains on unchanged: they chained
	// nothing and scrubbed no chained record, though they scanned them (the
	// agents' counters show the metric names are right).
	for i, a := range agents {
		assert.Equal(t, float64(3*perRound), a.metric("otelcol_processor_chain_records_chained"), names[i])
	}
	for i, g := range []*shipped{gw1, gw2} {
		assert.Positive(t, g.metric("otelcol_processor_scrub_bytes_scanned"), "gateway-%d", i+1)
		assert.Zero(t, g.metric("otelcol_processor_chain_records_chained"), "gateway-%d chained nothing", i+1)
		assert.Zero(t, g.metric("otelcol_processor_scrub_chained_records_altered"), "gateway-%d", i+1)
		assert.Zero(t, g.metric("otelcol_exporter_worm_digest_mismatches"), "gateway-%d", i+1)
	}
	for i := range lb.backends {
		assert.Positive(t, lb.served[i].Load(), "the balancer sent gateway-%d requests", i+1)
	}
	assert.Positive(t, lb.failed[1].Load(), "calls to the killed gateway failed and were retried elsewhere")

	keys := objectKeys(t, srv.Client(t), "audit", "audit")
	perOrigin := map[string]int{}
	for _, k := range keys {
		perOrigin[strings.Split(k, "/")[1]]++
	}
	t.Logf("e2e: scale-out: %d events from 2 agents in 3 rounds; log records accepted by gateway-1/gateway-2: "+
		"both up %.0f/%.0f, gateway-2 killed mid-round %.0f/-, gateway-2 restarted %.0f/%.0f; balancer requests %d/%d (%d/%d failed); "+
		"%d objects in the bucket %v; %d identical duplicates; %d logs verified; %s",
		6*perRound, gw1Share, gw2Share, gw1During, accepted(gw1)-gw1Before, gw2After, lb.served[0].Load(), lb.served[1].Load(),
		lb.failed[0].Load(), lb.failed[1].Load(), len(keys), perOrigin, duplicates, len(r.Logs), time.Since(started).Round(time.Second))
}
