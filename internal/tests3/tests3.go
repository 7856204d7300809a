// Package tests3 runs real S3 servers with Object Lock for tests: MinIO and
// versitygw, each as an external process on 127.0.0.1 with its data in a
// test directory, stopped when the test ends.
//
// MinIO is AGPL: it is only ever built (from the module proxy) and run as a
// separate binary, never imported. versitygw is Apache-2.0, run the same way
// so both are handled alike. The binaries are pinned and built by
// scripts/test-servers.sh into the test cache (see CacheDir); when one is
// missing, Start runs that script (under a file lock, so parallel test
// processes build it once). A MinIO build takes ~3.5 minutes on 2 cores.
//
// How the servers are run (both start in well under a second):
//
//	minio server --quiet --address 127.0.0.1:P --console-address 127.0.0.1:P2 \
//	    --certs-dir DIR/certs DIR/data
//	  env MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, MINIO_SITE_REGION=us-east-1,
//	  MINIO_UPDATE=off, MINIO_BROWSER=off, MINIO_CI_CD=on
//	  (one drive; versioning and Object Lock work on a single drive)
//	  StartMinIOTLS: the same with public.crt and private.key in DIR/certs,
//	  so MinIO serves HTTPS (see tls.go)
//
//	versitygw --port 127.0.0.1:P --access A --secret S --region us-east-1 \
//	    --quiet --iam-dir DIR/iam posix --versioning-dir DIR/versions DIR/gw
//
// versitygw's posix backend keeps its metadata (retention, legal hold,
// checksums, versioning state) in user.* xattrs, so DIR must be on a file
// system with user xattrs (ext4 here; it checks at startup). Versioning, and
// so Object Lock, needs --versioning-dir, an existing directory outside the
// gateway root; without it a bucket created with Object Lock gets no
// versioning. --iam-dir: without an IAM store (single-tenant mode) an
// unknown access key gets HTTP 404 XAdminUserNotFound, and HeadBucket a bare
// 404 as if the bucket were missing; with one, 403 InvalidAccessKeyId.
//
// Observed behaviour, asserted by tests3_test.go (MinIO
// v0.0.0-20260212201848-7aac2a2c5b7c, versitygw v1.8.0, aws-sdk-go-v2
// service/s3 v1.109.1). "Both" means the same code and HTTP status; the
// messages differ slightly in wording and punctuation.
//
//  1. A bucket created with Object Lock: versioning Enabled,
//     ObjectLockEnabled=Enabled, on both. A plain versioned bucket:
//     GetObjectLockConfiguration gives 404 ObjectLockConfigurationNotFoundError
//     ("Object Lock configuration does not exist for this bucket") on both,
//     and a PUT with retention to it 400 InvalidRequest ("Bucket is missing
//     ObjectLockConfiguration") on both.
//  2. PUT with COMPLIANCE, retain-until now+1h, ChecksumSHA256: HEAD returns
//     the mode and the retain-until date (whole seconds) on both, and with
//     ChecksumMode ENABLED the ChecksumSHA256 sent, on both. Version IDs:
//     MinIO a UUID, versitygw a ULID.
//  3. DeleteObject of that version is refused, differently: MinIO 400
//     InvalidRequest "Object is WORM protected and cannot be overwritten";
//     versitygw 403 AccessDenied "Access Denied because object protected by
//     object lock." (AWS answers 403 AccessDenied.) A DeleteObject without a
//     version makes a delete marker on both; the version stays readable.
//     Then PUT If-None-Match: * over that delete marker: MinIO writes a new
//     version; versitygw refuses with 412 PreconditionFailed.
//  4. PUT If-None-Match: * to an existing key: 412 PreconditionFailed ("At
//     least one of the pre-conditions you specified did not hold") on both.
//  5. Legal hold ON: HEAD shows ON on both; deleting the version is refused
//     as in 3.
//  6. GOVERNANCE: deleting the version without BypassGovernanceRetention is
//     refused as in 3; with it, the root user may delete it, on both.
//  7. PUT with a wrong Content-MD5: 400 BadDigest ("The Content-MD5 you
//     specified did not match what we received") on both, and nothing is
//     stored (no version, no delete marker): a write-permission probe that
//     leaves nothing behind. A wrong secret: 403 SignatureDoesNotMatch for
//     GetBucketVersioning and PutObject on both; an unknown access key: 403
//     InvalidAccessKeyId on both. HeadBucket has no response body, so the
//     SDK sees only 403 (code "Forbidden") in both cases.
//  8. GetBucketVersioning on a missing bucket: 404 NoSuchBucket on both.
package tests3

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/testproc"
)

// The pinned versions. scripts/test-servers.sh holds the same two pins (it
// builds the binaries); TestPinsMatchScript fails when they differ.
const (
	MinIOVersion     = "v0.0.0-20260212201848-7aac2a2c5b7c"
	VersityGWVersion = "v1.8.0"
)

// Server kinds, for Start.
const (
	KindMinIO     = "minio"
	KindVersityGW = "versitygw"
)

// Kinds lists every server kind, for tests that run against each.
var Kinds = []string{KindMinIO, KindVersityGW}

// Credentials and region of every server started here (test servers on
// loopback only; MinIO wants a secret of at least 8 characters).
const (
	accessKey = "agentaudit-test"
	secretKey = "agentaudit-test-secret"
	region    = "us-east-1"
)

// Server is a running (or stopped) S3 server.
type Server struct {
	t    testing.TB
	kind string
	bin  string
	dir  string // the test directory: data, log
	port int    // S3 port; MinIO also listens on consolePort
	// consolePort is MinIO's console port (the console is off, but MinIO
	// still binds it; a fixed one keeps Restart on the same ports).
	consolePort int
	// caFile and roots are the test CA of a server on HTTPS
	// (StartMinIOTLS); "" and nil on plain HTTP.
	caFile string
	roots  *x509.CertPool

	mu   sync.Mutex
	proc *testproc.Process // nil when stopped
}

// StartMinIO starts MinIO with a fresh data directory.
func StartMinIO(t testing.TB) *Server { t.Helper(); return Start(t, KindMinIO) }

// StartVersityGW starts versitygw (posix backend, versioning and Object Lock
// on) with a fresh data directory.
func StartVersityGW(t testing.TB) *Server { t.Helper(); return Start(t, KindVersityGW) }

// Start starts a server of the given kind ("minio" or "versitygw") on a free
// loopback port, waits until it answers S3 requests, and stops it when the
// test ends.
func Start(t testing.TB, kind string) *Server {
	t.Helper()
	return startServer(t, kind, false)
}

// startServer is Start, serving HTTPS with withTLS (MinIO only; see tls.go).
func startServer(t testing.TB, kind string, withTLS bool) *Server {
	t.Helper()
	var version string
	switch kind {
	case KindMinIO:
		version = MinIOVersion
	case KindVersityGW:
		version = VersityGWVersion
	default:
		t.Fatalf("tests3: unknown server kind %q (want %q or %q)", kind, KindMinIO, KindVersityGW)
	}
	s := &Server{t: t, kind: kind, bin: ensureBinary(t, kind, version), dir: t.TempDir(), port: testport.Free(t)}
	switch kind {
	case KindMinIO:
		s.consolePort = testport.Free(t)
		mkdirs(t, filepath.Join(s.dir, "data"), filepath.Join(s.dir, "certs"))
		if withTLS {
			s.writeCerts()
		}
	case KindVersityGW:
		mkdirs(t, filepath.Join(s.dir, "gw"), filepath.Join(s.dir, "versions"), filepath.Join(s.dir, "iam"))
	}
	t.Cleanup(s.Stop)
	s.start()
	return s
}

func mkdirs(t testing.TB, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// Kind is "minio" or "versitygw".
func (s *Server) Kind() string { return s.kind }

// Endpoint is the S3 endpoint, http://127.0.0.1:PORT, or
// https://127.0.0.1:PORT for StartMinIOTLS.
func (s *Server) Endpoint() string {
	scheme := "http://"
	if s.roots != nil {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// AccessKey is the root access key.
func (s *Server) AccessKey() string { return accessKey }

// SecretKey is the root secret key.
func (s *Server) SecretKey() string { return secretKey }

// Region is the server's region, us-east-1.
func (s *Server) Region() string { return region }

// LogPath is the server's log file (stdout and stderr, across restarts).
func (s *Server) LogPath() string { return filepath.Join(s.dir, s.kind+".log") }

// Client is an S3 client for this server: path-style, root credentials,
// trusting the test CA on HTTPS.
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return newClient(s.Endpoint(), accessKey, secretKey, s.httpClient())
}

func newClient(endpoint, access, secret string, hc *awshttp.BuildableClient) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   hc,
		Region:       region,
		UsePathStyle: true, // no bucket.127.0.0.1 host names
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
		// Objects written without a flexible checksum have none to check
		// on GET; the SDK's note about that is noise in test logs.
		DisableLogOutputChecksumValidationSkipped: true,
	})
}

// CreateBucket creates a bucket. With objectLock, it is created with Object
// Lock enabled (which turns versioning on); without, it is a plain bucket
// with versioning enabled, which is not enough for Object Lock.
func (s *Server) CreateBucket(t testing.TB, name string, objectLock bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.Client(t)
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(ctx, in); err != nil {
		t.Fatalf("%s: create bucket %s: %v", s.kind, name, err)
	}
	if objectLock {
		return
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("%s: enable versioning on %s: %v", s.kind, name, err)
	}
}

// start runs the server and waits until it answers S3 requests.
func (s *Server) start() {
	s.t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	var cmd *exec.Cmd
	switch s.kind {
	case KindMinIO:
		cmd = exec.Command(s.bin, "server", "--quiet",
			"--address", addr,
			"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.consolePort)),
			// Not ~/.minio/certs: nothing outside the test directory.
			"--certs-dir", filepath.Join(s.dir, "certs"),
			filepath.Join(s.dir, "data"))
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+accessKey,
			"MINIO_ROOT_PASSWORD="+secretKey,
			"MINIO_SITE_REGION="+region,
			"MINIO_UPDATE=off",  // no update check (offline)
			"MINIO_BROWSER=off", // no console
			// CI mode: skips the checks for drives on the root disk.
			"MINIO_CI_CD=on",
		)
	case KindVersityGW:
		cmd = exec.Command(s.bin,
			"--port", addr,
			"--access", accessKey, "--secret", secretKey,
			"--region", region,
			"--quiet", // no per-request lines: the log tail shows errors
			// The internal IAM store, as a multi-user gateway has. Without
			// one (single-tenant mode) an unknown access key gets HTTP 404
			// XAdminUserNotFound, and HeadBucket a 404 as if the bucket
			// were missing; with it, 403 InvalidAccessKeyId as on AWS.
			"--iam-dir", filepath.Join(s.dir, "iam"),
			"posix",
			// Versioning, and so Object Lock, needs a versions directory
			// outside the gateway root.
			"--versioning-dir", filepath.Join(s.dir, "versions"),
			filepath.Join(s.dir, "gw"))
		cmd.Env = os.Environ()
	}
	proc, err := testproc.Start(cmd, s.LogPath())
	if err != nil {
		s.t.Fatalf("%s: starting %s: %v", s.kind, s.bin, err)
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	s.waitReady(proc.Done())
}

// waitReady polls ListBuckets until it succeeds, the server exits, or 60 s
// pass; the last two fail the test with the tail of the server's log.
func (s *Server) waitReady(done <-chan struct{}) {
	s.t.Helper()
	c := s.Client(s.t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{}, func(o *s3.Options) {
			o.RetryMaxAttempts = 1 // this loop retries
		})
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("%s exited before it was ready (%v)\n%s", s.kind, err, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not answer on %s within 60s: %v\n%s", s.kind, s.Endpoint(), err, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail is the last lines of the server's log, for failure messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "--- " + s.LogPath() + " (tail) ---\n" + strings.Join(lines, "\n")
}

// Stop stops the server: SIGTERM, then SIGKILL after 10 s. Stopping a
// stopped server does nothing.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 10*time.Second) }

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 0) }

func (s *Server) signal(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Signal(sig, grace)
	s.proc = nil
}

// Restart stops the server if it runs (SIGTERM) and starts it again on the
// same port with the same data, then waits until it answers: for outage
// tests (Kill or Stop, then Restart).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// CacheDir is where the server binaries are kept: $AGENTAUDIT_TEST_CACHE,
// else $XDG_CACHE_HOME/otelcol-agentaudit-test, else
// ~/.cache/otelcol-agentaudit-test (as in scripts/test-servers.sh).
func CacheDir() (string, error) {
	if d := os.Getenv("AGENTAUDIT_TEST_CACHE"); d != "" {
		return d, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "otelcol-agentaudit-test"), nil
}

// ensureBinary returns the path of kind's binary, building it with
// scripts/test-servers.sh when it is missing: so `go test` alone works on a
// fresh machine. An flock on a file in the cache makes parallel test
// processes (go test runs packages in parallel) wait for one build instead
// of each starting its own.
func ensureBinary(t testing.TB, kind, version string) string {
	t.Helper()
	cache, err := CacheDir()
	if err != nil {
		t.Fatalf("tests3: cache directory: %v", err)
	}
	bin := filepath.Join(cache, "bin", kind+"-"+version)
	if isExecutable(bin) {
		return bin
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("tests3: lock %s: %v", lock.Name(), err)
	}
	if isExecutable(bin) { // another process built it while we waited
		return bin
	}
	script, err := findScript()
	if err != nil {
		t.Fatalf("tests3: %s is missing and the build script was not found: %v", bin, err)
	}
	t.Logf("tests3: %s is missing; building it with %s (MinIO takes ~3.5 min)", bin, script)
	start := time.Now()
	cmd := exec.Command(script, kind)
	cmd.Env = append(os.Environ(), "AGENTAUDIT_TEST_CACHE="+cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("tests3: %s %s: %v\n%s", script, kind, err, out.String())
	}
	t.Logf("tests3: built %s in %s\n%s", kind, time.Since(start).Round(time.Second), out.String())
	if !isExecutable(bin) {
		t.Fatalf("tests3: %s ran but %s is not there (do the pins differ?)\n%s", script, bin, out.String())
	}
	return bin
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// findScript finds scripts/test-servers.sh in the module root, the first
// directory upwards from the working directory (the package's directory
// under go test) that has a go.mod.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			script := filepath.Join(dir, "scripts", "test-servers.sh")
			_, err := os.Stat(script)
			return script, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
