package tests

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
)

// trustS3CA makes runAuditctl pass --s3-ca-file caFile for the registered
// archive url (useS3Archive), and returns that archive's settings as they
// were, without it.
func trustS3CA(t testing.TB, url, caFile string) s3Archive {
	t.Helper()
	a, ok := s3Archives.Load(url)
	require.True(t, ok, "%s is not a registered S3 archive", url)
	before := *a.(*s3Archive)
	with := before
	with.flags = append(slices.Clip(before.flags), "--s3-ca-file", caFile)
	s3Archives.Store(url, &with)
	return before
}

// certificateError is what the Go TLS client says about a certificate no
// trusted CA signed.
const certificateError = "x509: certificate signed by unknown authority"

// TestS3OverTLS: an S3 service on HTTPS whose certificate comes from a
// private CA. With the CA in s3.tls.ca_file the collector archives, and
// auditctl verifies straight from the bucket with --s3-ca-file; without it
// neither trusts the service, and both say it is the certificate.
func TestS3OverTLS(t *testing.T) {
	srv := tests3.StartMinIOTLS(t)
	require.True(t, strings.HasPrefix(srv.Endpoint(), "https://"), srv.Endpoint())
	require.NotEmpty(t, srv.CAFile())
	srv.CreateBucket(t, "audit", true)

	// Without the CA the start-up check fails on the handshake: the
	// collector does not start (on_unreachable_at_start: fail, the
	// default) and names the certificate problem.
	logs := startFails(t, localConfig, s3Extra(srv, "audit", "noca", nil))
	assert.Contains(t, logs, certificateError)
	assert.Contains(t, logs, `reading the versioning of bucket "audit"`)

	// With it: archived over TLS, verified from the bucket.
	c := newS3Collector(t, srv, "audit", "tls", map[string]string{"s3_ca_file": srv.CAFile(), "sign_interval": "300ms"})
	plain := trustS3CA(t, c.archiveDir(), srv.CAFile())
	assert.Contains(t, c.logs(), "Archiving to S3 with Object Lock")
	assert.Contains(t, c.logs(), srv.Endpoint())
	want := sendBatches(t, c.url(), "tls", 4, 50)
	got := waitArchived(t, c.archiveDir(), want, time.Minute)
	assert.Len(t, got, len(want))
	waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	c.stop()
	assert.NotEmpty(t, objectKeys(t, srv.Client(t), "audit", "tls"))

	r, code := verifyReport(t, c.archiveDir(), c.trustFile())
	require.Equal(t, 0, code, "%v", r.allProblems())
	require.True(t, r.Verified)
	require.Len(t, r.Logs, 1)
	assert.Equal(t, r.Logs[0].Size, r.Logs[0].SealedSize)

	// auditctl without --s3-ca-file: exit 2 (an I/O error, not a failed
	// verification) and the certificate problem on stderr.
	args := append(append([]string{"verify", "--trust", c.trustFile()}, plain.flags...), c.archiveDir())
	require.NotContains(t, args, "--s3-ca-file")
	cmd := exec.Command(auditctl, args...)
	cmd.Env = append(os.Environ(), plain.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "auditctl without the CA: %v\n%s%s", err, stdout.String(), stderr.String())
	assert.Equal(t, 2, exit.ExitCode(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Contains(t, stderr.String(), certificateError)
	assert.NotContains(t, stdout.String(), "VERIFIED")
	t.Logf("auditctl without --s3-ca-file: exit %d: %s", exit.ExitCode(), strings.TrimSpace(stderr.String()))
}
