package tests

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
)

// s3Archive is an archive in a test S3 server: how the harness reads it
// (readArchive) and how auditctl is pointed at it (runAuditctl).
type s3Archive struct {
	reader *archive.S3Backend
	flags  []string // auditctl's S3 flags
	env    []string // auditctl's credentials, from the AWS standard chain
}

// s3Archives maps s3://bucket/prefix URLs to their s3Archive.
var s3Archives sync.Map

// useS3Archive registers bucket/prefix of srv and returns its s3:// URL,
// which readArchive, waitArchived and verifyReport then accept in place of
// a directory.
func useS3Archive(t testing.TB, srv *tests3.Server, bucket, prefix string) string {
	t.Helper()
	url := "s3://" + bucket + "/" + prefix
	s3Archives.Store(url, &s3Archive{
		reader: archive.NewS3Backend(srv.Client(t), bucket, prefix, archive.ObjectLock{}),
		flags:  []string{"--s3-endpoint", srv.Endpoint(), "--s3-path-style"},
		env: []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey(), "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey(),
			"AWS_REGION=" + srv.Region(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"},
	})
	t.Cleanup(func() { s3Archives.Delete(url) })
	return url
}

// s3Extra is the localConfig settings for an S3 archive in srv.
func s3Extra(srv *tests3.Server, bucket, prefix string, more map[string]string) map[string]string {
	extra := map[string]string{
		"s3_endpoint": srv.Endpoint(), "s3_bucket": bucket, "s3_prefix": prefix,
		"s3_access_key": srv.AccessKey(), "s3_secret_key": srv.SecretKey(),
	}
	maps.Copy(extra, more)
	return extra
}

// newS3Collector starts a collector archiving to bucket/prefix of srv.
func newS3Collector(t testing.TB, srv *tests3.Server, bucket, prefix string, more map[string]string) *collector {
	t.Helper()
	url := useS3Archive(t, srv, bucket, prefix)
	c := newCollector(t, localConfig, s3Extra(srv, bucket, prefix, more))
	c.archiveURL = url
	return c
}

// objectKeys lists the keys under prefix (latest versions).
func objectKeys(t testing.TB, client *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func s3ErrorCode(err error) (string, int) {
	var apiErr smithy.APIError
	var re *awshttp.ResponseError
	code, status := "", 0
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// TestS3ArchiveEndToEnd runs the built collector against each real S3
// server with Object Lock: every acknowledged event lands in the bucket as
// locked, checksummed objects that cannot be replaced or deleted, and the
// archive verifies straight from the bucket. Attempts to tamper through the
// S3 API (a new version, a delete marker) leave the first versions intact;
// auditctl reads those and reports the attempts.
func TestS3ArchiveEndToEnd(t *testing.T) {
	for _, kind := range tests3.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := tests3.Start(t, kind)
			srv.CreateBucket(t, "audit", true)
			client := srv.Client(t)
			ctx := context.Background()

			started := time.Now()
			c := newS3Collector(t, srv, "audit", "gw", map[string]string{"sign_interval": "300ms"})
			want := sendBatches(t, c.url(), "s3", 6, 50)
			got := waitArchived(t, c.archiveDir(), want, time.Minute)
			assert.Len(t, got, len(want))
			// With the persistent queue, what is still queued at a stop
			// stays queued for the next start: wait for a checkpoint to
			// seal everything first.
			waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
			c.stop()

			r, code := verifyReport(t, c.archiveDir(), c.trustFile())
			require.Equal(t, 0, code, "%v", r.allProblems())
			require.True(t, r.Verified)
			require.Len(t, r.Logs, 1)
			assert.Equal(t, r.Logs[0].Size, r.Logs[0].SealedSize, "the shutdown checkpoint seals the log")
			text, code := runAuditctl(t, "verify", "--trust", c.trustFile(), c.archiveDir())
			assert.Equal(t, 0, code)
			assert.Contains(t, text, "RESULT: VERIFIED")

			// An inclusion proof for one record, straight from the bucket.
			dir := t.TempDir()
			proof, record := filepath.Join(dir, "proof.txt"), filepath.Join(dir, "record.ndjson")
			out, code := runAuditctl(t, "prove", "--trust", c.trustFile(), "--log", r.Logs[0].LogID, "--stream", "sess-1",
				"--seq", "7", "--out", proof, "--record", record, c.archiveDir())
			require.Equal(t, 0, code, out)
			out, code = runAuditctl(t, "verify-proof", "--trust", c.trustFile(), "--record", record, proof)
			assert.Equal(t, 0, code, out)
			assert.Contains(t, out, "RESULT: VERIFIED")

			// Every object: zstd segment keys, Object Lock COMPLIANCE with
			// retain-until = write time + 1h, the SHA-256 checksum stored.
			keys := objectKeys(t, client, "audit", "gw")
			require.NotEmpty(t, keys)
			checkpoints := 0
			for _, k := range keys {
				assert.True(t, strings.HasSuffix(k, ".ndjson.zst"), k)
				if strings.Contains(k, "/checkpoints/checkpoint-") {
					checkpoints++
				}
				head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("audit"), Key: &k, ChecksumMode: types.ChecksumModeEnabled})
				require.NoError(t, err, k)
				assert.Equal(t, types.ObjectLockModeCompliance, head.ObjectLockMode, k)
				require.NotNil(t, head.ObjectLockRetainUntilDate, k)
				assert.WithinRange(t, *head.ObjectLockRetainUntilDate, started.Add(time.Hour-time.Minute), time.Now().Add(time.Hour+time.Minute), k)
				assert.NotEmpty(t, aws.ToString(head.ChecksumSHA256), k)
				assert.Equal(t, types.ObjectLockLegalHoldStatus(""), head.ObjectLockLegalHoldStatus, k)
			}
			assert.Positive(t, checkpoints, "checkpoints are stored beside the segments")
			t.Logf("e2e: s3 %s: %d events in %d objects (%d checkpoints)", kind, len(want), len(keys), checkpoints)

			// Overwrite and versioned delete are refused.
			victim := keys[0]
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: &victim,
				Body: bytes.NewReader([]byte("forged\n")), IfNoneMatch: aws.String("*")})
			_, status := s3ErrorCode(err)
			assert.Equal(t, http.StatusPreconditionFailed, status, "conditional overwrite: %v", err)
			versions, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("audit"), Prefix: &victim})
			require.NoError(t, err)
			require.Len(t, versions.Versions, 1)
			_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: &victim, VersionId: versions.Versions[0].VersionId})
			// The servers word the refusal differently (MinIO: 400
			// InvalidRequest "Object is WORM protected"; versitygw: 403
			// AccessDenied); what matters is that the version survives.
			require.Error(t, err, "versioned delete of a locked object")
			delCode, _ := s3ErrorCode(err)
			assert.Contains(t, []string{"AccessDenied", "InvalidRequest"}, delCode, "%v", err)
			still, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("audit"), Key: &victim, VersionId: versions.Versions[0].VersionId})
			require.NoError(t, err, "the version is still there")
			still.Body.Close()

			// Tampering the S3 API does allow: a new version with other
			// content, and a delete marker. The first versions are intact,
			// auditctl verifies them and reports both attempts.
			_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: &victim,
				Body: bytes.NewReader([]byte("forged\n")), ObjectLockMode: types.ObjectLockModeCompliance,
				ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour)), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
			require.NoError(t, err, "a plain PUT adds a version")
			deleted := keys[len(keys)-1]
			_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: &deleted})
			require.NoError(t, err, "a delete without a version id adds a delete marker")
			r, code = verifyReport(t, c.archiveDir(), c.trustFile())
			assert.Equal(t, 1, code)
			assert.Equal(t, "ok", r.Logs[0].Integrity, "the first versions are intact: %v", r.Logs[0].Problems)
			assert.Empty(t, r.Logs[0].Missing, "nothing is missing: the hidden object was read")
			assert.Contains(t, strings.Join(r.Problems, "\n"), strings.TrimPrefix(victim, "gw/")+": 1 later version(s) with other content")
			assert.Contains(t, strings.Join(r.Problems, "\n"), strings.TrimPrefix(deleted, "gw/")+": a delete marker hides this object")

			// GOVERNANCE mode with a legal hold, under another prefix.
			g := newS3Collector(t, srv, "audit", "gov", map[string]string{"s3_mode": "GOVERNANCE", "s3_legal_hold": "true", "sync": "1"})
			sendBatches(t, g.url(), "gov", 1, 10)
			g.stop()
			r, code = verifyReport(t, g.archiveDir(), g.trustFile())
			require.Equal(t, 0, code, "%v", r.allProblems())
			for _, k := range objectKeys(t, client, "audit", "gov") {
				head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("audit"), Key: &k})
				require.NoError(t, err, k)
				assert.Equal(t, types.ObjectLockModeGovernance, head.ObjectLockMode, k)
				assert.Equal(t, types.ObjectLockLegalHoldStatusOn, head.ObjectLockLegalHoldStatus, k)
			}
		})
	}
}

// TestS3StartupChecks: a collector whose bucket cannot hold an audit
// archive does not start, and says why.
func TestS3StartupChecks(t *testing.T) {
	for _, kind := range tests3.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := tests3.Start(t, kind)
			srv.CreateBucket(t, "locked", true)
			srv.CreateBucket(t, "plain", false)
			for _, tc := range []struct {
				name  string
				extra map[string]string
				want  string
			}{
				{"bucket without Object Lock", map[string]string{"s3_bucket": "plain"},
					`bucket "plain" does not have Object Lock enabled`},
				{"missing bucket", map[string]string{"s3_bucket": "nope"},
					`bucket "nope" does not exist (NoSuchBucket`},
				{"wrong secret key", map[string]string{"s3_bucket": "locked", "s3_secret_key": "wrong-secret-key"},
					"the secret access key is wrong (SignatureDoesNotMatch"},
				{"unknown access key", map[string]string{"s3_bucket": "locked", "s3_access_key": "nobody-at-all"},
					"the access key id is not known to the S3 service"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					logs := startFails(t, localConfig, s3Extra(srv, "", "gw", tc.extra))
					assert.Contains(t, logs, tc.want)
				})
			}
		})
	}
}

// TestS3UnreachableAtStart: with the default the collector refuses to start
// without its bucket; with on_unreachable_at_start: retry it starts,
// acknowledges events into its persistent queue and archives them once the
// server is back.
func TestS3UnreachableAtStart(t *testing.T) {
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "audit", true)
	srv.Stop()

	logs := startFails(t, localConfig, s3Extra(srv, "audit", "gw", nil))
	assert.Contains(t, logs, `S3 service unreachable while reading the versioning of bucket "audit"`)

	c := newS3Collector(t, srv, "audit", "gw", map[string]string{"s3_on_unreachable": "retry"})
	assert.Contains(t, c.logs(), "S3 archive unreachable at start")
	want := sendBatches(t, c.url(), "early", 4, 25)
	time.Sleep(time.Second)
	srv.Restart()
	waitArchived(t, c.archiveDir(), want, 2*time.Minute)
	c.stop()
	assert.Contains(t, c.logs(), "S3 archive check passed; writing")
	r, code := verifyReport(t, c.archiveDir(), c.trustFile())
	require.Equal(t, 0, code, "%v", r.allProblems())
}

// TestS3OutageUnderLoad kills MinIO in the middle of a load and restarts it
// a few seconds later: the collector keeps acknowledging into its
// persistent queue (or pushes back when it is full), nothing acknowledged
// is lost, and the retried uploads do not break verification.
func TestS3OutageUnderLoad(t *testing.T) {
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "audit", true)
	c := newS3Collector(t, srv, "audit", "gw", nil)

	const total = 6_000
	s := newSender(c.url(), "outage", total, 100)
	done := s.start(t, 200, 5)
	s.waitAcked(t, 1_500, done)
	srv.Kill()
	killedAt := s.ackCount.Load()
	// Longer than the AWS SDK's own retries of one call (3 attempts, at
	// most 2 s + 4 s of backoff), so the exporter sees failed writes.
	time.Sleep(8 * time.Second)
	duringOutage := s.ackCount.Load() - killedAt
	srv.Restart()
	require.NoError(t, <-done)

	acked := s.ackedIDs()
	require.Len(t, acked, total)
	got := waitArchived(t, c.archiveDir(), acked, 2*time.Minute)
	assert.Len(t, got, total)
	// Batches that failed during the outage are retried with backoff (up
	// to 30 s apart); the archive verifies once the last of them is in.
	r, code := waitVerified(t, c.archiveDir(), c.trustFile(), 2*time.Minute)
	require.Equal(t, 0, code, "%v", r.allProblems())
	writeErrors, existing := c.metric("otelcol_exporter_worm_write_errors"), c.metric("otelcol_exporter_worm_segments_existing")
	assert.Positive(t, writeErrors, "the exporter saw the outage")
	c.stop()
	t.Logf("e2e: s3 outage: MinIO killed after %d acknowledged events, %d more acknowledged during the 8 s outage, "+
		"%d write errors, all %d archived, %d segments found already written, statuses%s", killedAt, duringOutage,
		int(writeErrors), total, int(existing), s.statusSummary())
}

// TestS3CollectorKilledWithUploadsInFlight: SIGKILL while the exporter is
// uploading; after a restart every acknowledged event reaches the bucket and
// the archive's integrity holds.
func TestS3CollectorKilledWithUploadsInFlight(t *testing.T) {
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "audit", true)
	c := newS3Collector(t, srv, "audit", "gw", nil)

	const total = 8_000
	s := newSender(c.url(), "s3kill", total, 100)
	done := s.start(t, 200, 7)
	s.waitAcked(t, 3_000, done)
	// Wait until an upload is under way, then kill.
	for base := c.metric("otelcol_exporter_worm_segments_written"); c.metric("otelcol_exporter_worm_segments_written") == base; {
		time.Sleep(time.Millisecond)
	}
	c.kill()
	killedAt := s.ackCount.Load()
	c.start()
	require.NoError(t, <-done)
	acked := s.ackedIDs()
	got := waitArchived(t, c.archiveDir(), acked, 2*time.Minute)
	assert.Len(t, got, total, "every acknowledged event is in the bucket")
	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	assertCrashArchive(t, r, code)
	t.Logf("e2e: s3 SIGKILL after %d acknowledged events: all %d archived, log %d leaves, %d missing (cut-short request), verify exit %d",
		killedAt, total, r.Logs[0].Size, r.Logs[0].MissingLeaves, code)
}

// waitVerified polls auditctl verify until the archive verifies (records
// still on their way leave gaps) or the timeout passes.
func waitVerified(t testing.TB, archiveDir, trust string, timeout time.Duration) (verifyResult, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, code := verifyReport(t, archiveDir, trust, "--allow-unsealed")
		if code == 0 || time.Now().After(deadline) {
			return r, code
		}
		time.Sleep(500 * time.Millisecond)
	}
}
