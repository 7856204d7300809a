package tests3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestPinsMatchScript: the versions pinned in scripts/test-servers.sh (which
// builds the binaries) and here (which looks for them) must be the same, or
// every test would rebuild or miss its server.
func TestPinsMatchScript(t *testing.T) {
	script, err := findScript()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.HasSuffix(k, "_VERSION") && !strings.ContainsAny(k, " \t$") {
			pins[k] = strings.Trim(v, `"'`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"MINIO_VERSION": MinIOVersion, "VERSITYGW_VERSION": VersityGWVersion} {
		if pins[k] != want {
			t.Errorf("%s: %s=%q, but package tests3 has %q: change both", filepath.Base(script), k, pins[k], want)
		}
	}
}

// apiError is what an S3 error looks like to a caller of the SDK.
type apiError struct {
	code, message string
	status        int
}

func asAPIError(t *testing.T, err error) apiError {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got none")
	}
	var e apiError
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an S3 API error: %v", err)
	}
	e.code, e.message = ae.ErrorCode(), ae.ErrorMessage()
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.status = re.HTTPStatusCode()
	}
	return e
}

// wantError checks the error's code and HTTP status and logs the message
// (the messages are each server's own; the tests check codes).
func wantError(t *testing.T, what string, err error, code string, status int) apiError {
	t.Helper()
	e := asAPIError(t, err)
	t.Logf("%s: HTTP %d %s: %q", what, e.status, e.code, e.message)
	if e.code != code || e.status != status {
		t.Errorf("%s: got HTTP %d %s (%q), want HTTP %d %s", what, e.status, e.code, e.message, status, code)
	}
	return e
}

// wantLockRefusal checks the error for deleting a version that Object Lock
// protects. Here the servers differ: versitygw answers as AWS does, HTTP 403
// AccessDenied ("Access Denied because object protected by object lock.");
// MinIO answers HTTP 400 InvalidRequest ("Object is WORM protected and cannot
// be overwritten"). A client must treat both as "refused by Object Lock".
func wantLockRefusal(t *testing.T, kind, what string, err error) {
	t.Helper()
	switch kind {
	case KindMinIO:
		e := wantError(t, what, err, "InvalidRequest", 400)
		if !strings.Contains(e.message, "WORM protected") {
			t.Errorf("%s: message %q, want MinIO's \"Object is WORM protected ...\"", what, e.message)
		}
	default:
		e := wantError(t, what, err, "AccessDenied", 403)
		if !strings.Contains(e.message, "object lock") {
			t.Errorf("%s: message %q, want versitygw's \"... protected by object lock.\"", what, e.message)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha256b64(b []byte) string { s := sha256.Sum256(b); return b64(s[:]) }

func md5b64(b []byte) string { s := md5.Sum(b); return b64(s[:]) }

// TestObjectLockBehaviour establishes, on both servers, what the archive
// exporter relies on: Object Lock refuses deletes of a retained version,
// conditional writes refuse overwrites, and the errors a misconfigured or
// unreachable bucket gives. The package doc lists the observed results.
func TestObjectLockBehaviour(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := Start(t, kind)
			c := s.Client(t)
			ctx := context.Background()
			const locked, plain = "locked", "plain"
			s.CreateBucket(t, locked, true)
			s.CreateBucket(t, plain, false)

			t.Run("1 bucket configuration", func(t *testing.T) {
				for _, b := range []string{locked, plain} {
					v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
					if err != nil {
						t.Fatal(err)
					}
					if v.Status != types.BucketVersioningStatusEnabled {
						t.Errorf("%s: versioning %q, want Enabled", b, v.Status)
					}
				}
				ol, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(locked)})
				if err != nil {
					t.Fatal(err)
				}
				if ol.ObjectLockConfiguration == nil || ol.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
					t.Errorf("locked bucket: object lock configuration %+v, want ObjectLockEnabled=Enabled", ol.ObjectLockConfiguration)
				}
				_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(plain)})
				wantError(t, "GetObjectLockConfiguration on a bucket without Object Lock", err,
					"ObjectLockConfigurationNotFoundError", 404)
				// Versioning alone is not Object Lock: a PUT with retention
				// to such a bucket is refused.
				_, err = c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(plain), Key: aws.String("k"), Body: bytes.NewReader([]byte("x")),
					ObjectLockMode:            types.ObjectLockModeCompliance,
					ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour)),
				})
				wantError(t, "PutObject with retention to a bucket without Object Lock", err, "InvalidRequest", 400)
			})

			body := []byte("audit segment 1")
			retain := time.Now().Add(time.Hour).Truncate(time.Second)
			var versionID string
			t.Run("2 compliance put with sha256", func(t *testing.T) {
				out, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket:                    aws.String(locked),
					Key:                       aws.String("seg1"),
					Body:                      bytes.NewReader(body),
					ObjectLockMode:            types.ObjectLockModeCompliance,
					ObjectLockRetainUntilDate: aws.Time(retain),
					ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
					ChecksumSHA256:            aws.String(sha256b64(body)),
				})
				if err != nil {
					t.Fatal(err)
				}
				versionID = aws.ToString(out.VersionId)
				if versionID == "" || versionID == "null" {
					t.Fatalf("PutObject returned version %q, want a real version", versionID)
				}
				h, err := c.HeadObject(ctx, &s3.HeadObjectInput{
					Bucket: aws.String(locked), Key: aws.String("seg1"),
					ChecksumMode: types.ChecksumModeEnabled,
				})
				if err != nil {
					t.Fatal(err)
				}
				if h.ObjectLockMode != types.ObjectLockModeCompliance {
					t.Errorf("HEAD lock mode %q, want COMPLIANCE", h.ObjectLockMode)
				}
				if h.ObjectLockRetainUntilDate == nil || !h.ObjectLockRetainUntilDate.Equal(retain) {
					t.Errorf("HEAD retain until %v, want %v", h.ObjectLockRetainUntilDate, retain)
				}
				// Both servers keep the SHA-256 sent and return it on HEAD
				// with x-amz-checksum-mode: ENABLED.
				if got := aws.ToString(h.ChecksumSHA256); got != sha256b64(body) {
					t.Errorf("HEAD ChecksumSHA256 %q, want %q", got, sha256b64(body))
				}
				t.Logf("HEAD: mode %s until %v checksum %q version %s", h.ObjectLockMode, h.ObjectLockRetainUntilDate, aws.ToString(h.ChecksumSHA256), aws.ToString(h.VersionId))
			})
			t.Run("3 delete of a retained version", func(t *testing.T) {
				if versionID == "" {
					t.Fatal("no locked object: subtest 2 failed")
				}
				_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{
					Bucket: aws.String(locked), Key: aws.String("seg1"), VersionId: aws.String(versionID),
				})
				wantLockRefusal(t, kind, "DeleteObject of a COMPLIANCE version", err)

				del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(locked), Key: aws.String("seg1")})
				if err != nil {
					t.Fatalf("DeleteObject without a version: %v", err)
				}
				if !aws.ToBool(del.DeleteMarker) {
					t.Errorf("DeleteObject without a version: no delete marker (%+v)", del)
				}
				g, err := c.GetObject(ctx, &s3.GetObjectInput{
					Bucket: aws.String(locked), Key: aws.String("seg1"), VersionId: aws.String(versionID),
				})
				if err != nil {
					t.Fatalf("GetObject of the version behind the delete marker: %v", err)
				}
				got, err := io.ReadAll(g.Body)
				g.Body.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Errorf("version behind the delete marker: %q, %v; want %q", got, err, body)
				}
				// If-None-Match: * when the current version is a delete
				// marker: the servers differ. MinIO treats the marker as no
				// object and writes a new version; versitygw refuses with
				// 412 PreconditionFailed. (A writer that relies on 412 for
				// "already written" must not rely on it after a delete.)
				_, err = c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(locked), Key: aws.String("seg1"),
					Body: bytes.NewReader([]byte("after the marker")), IfNoneMatch: aws.String("*"),
				})
				const what = "PutObject If-None-Match: * over a delete marker"
				if kind == KindMinIO {
					if err != nil {
						t.Errorf("%s: %v, want MinIO to accept it", what, err)
					}
				} else {
					wantError(t, what, err, "PreconditionFailed", 412)
				}
			})

			t.Run("4 if-none-match", func(t *testing.T) {
				put := func() error {
					_, err := c.PutObject(ctx, &s3.PutObjectInput{
						Bucket: aws.String(locked), Key: aws.String("seg2"),
						Body:        bytes.NewReader([]byte("first")),
						IfNoneMatch: aws.String("*"),
					})
					return err
				}
				if err := put(); err != nil {
					t.Fatalf("first conditional put: %v", err)
				}
				wantError(t, "PutObject If-None-Match: * to an existing key", put(), "PreconditionFailed", 412)
			})

			t.Run("5 legal hold", func(t *testing.T) {
				out, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(locked), Key: aws.String("held"),
					Body:                      bytes.NewReader([]byte("held")),
					ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn,
				})
				if err != nil {
					t.Fatal(err)
				}
				h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(locked), Key: aws.String("held")})
				if err != nil {
					t.Fatal(err)
				}
				if h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
					t.Errorf("HEAD legal hold %q, want ON", h.ObjectLockLegalHoldStatus)
				}
				_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{
					Bucket: aws.String(locked), Key: aws.String("held"), VersionId: out.VersionId,
				})
				wantLockRefusal(t, kind, "DeleteObject of a version under legal hold", err)
			})

			t.Run("6 governance", func(t *testing.T) {
				out, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(locked), Key: aws.String("gov"),
					Body:                      bytes.NewReader([]byte("gov")),
					ObjectLockMode:            types.ObjectLockModeGovernance,
					ObjectLockRetainUntilDate: aws.Time(retain),
				})
				if err != nil {
					t.Fatal(err)
				}
				del := &s3.DeleteObjectInput{Bucket: aws.String(locked), Key: aws.String("gov"), VersionId: out.VersionId}
				_, err = c.DeleteObject(ctx, del)
				wantLockRefusal(t, kind, "DeleteObject of a GOVERNANCE version without bypass", err)
				// The root user may bypass GOVERNANCE (never COMPLIANCE).
				del.BypassGovernanceRetention = aws.Bool(true)
				if _, err := c.DeleteObject(ctx, del); err != nil {
					t.Errorf("DeleteObject of a GOVERNANCE version with bypass: %v", err)
				}
			})

			t.Run("7 write probes", func(t *testing.T) {
				// A PUT with a wrong Content-MD5 proves write permission
				// (the server authenticated and authorised it) without
				// leaving an object behind.
				_, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(locked), Key: aws.String("probe"),
					Body:       bytes.NewReader([]byte("probe body")),
					ContentMD5: aws.String(md5b64([]byte("other bytes"))),
				})
				wantError(t, "PutObject with a wrong Content-MD5", err, "BadDigest", 400)
				lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(locked), Prefix: aws.String("probe")})
				if err != nil {
					t.Fatal(err)
				}
				if len(lv.Versions)+len(lv.DeleteMarkers) != 0 {
					t.Errorf("the BadDigest probe left %d versions, %d delete markers", len(lv.Versions), len(lv.DeleteMarkers))
				}

				for _, bad := range []struct {
					name, access, secret, code string
				}{
					{"wrong secret", accessKey, "not-the-secret", "SignatureDoesNotMatch"},
					{"unknown access key", "no-such-key", secretKey, "InvalidAccessKeyId"},
				} {
					bc := newClient(s.Endpoint(), bad.access, bad.secret, s.httpClient())
					_, err := bc.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(locked)})
					wantError(t, bad.name+": GetBucketVersioning", err, bad.code, 403)
					_, err = bc.PutObject(ctx, &s3.PutObjectInput{
						Bucket: aws.String(locked), Key: aws.String("probe"), Body: bytes.NewReader([]byte("x")),
					})
					wantError(t, bad.name+": PutObject", err, bad.code, 403)
					// HEAD responses have no body, so no S3 error code: the
					// SDK reports the HTTP status only.
					_, err = bc.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(locked)})
					wantError(t, bad.name+": HeadBucket", err, "Forbidden", 403)
				}
			})

			t.Run("8 missing bucket", func(t *testing.T) {
				_, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("no-such-bucket")})
				wantError(t, "GetBucketVersioning on a missing bucket", err, "NoSuchBucket", 404)
			})
		})
	}
}

// TestRestart: the same data is there after a crash and a restart on the
// same endpoint.
func TestRestart(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := Start(t, kind)
			s.CreateBucket(t, "restart", true)
			endpoint := s.Endpoint()
			s.Kill()
			if _, err := s.Client(t).ListBuckets(context.Background(), &s3.ListBucketsInput{},
				func(o *s3.Options) { o.RetryMaxAttempts = 1 }); err == nil {
				t.Fatal("ListBuckets succeeded on a killed server")
			}
			s.Restart()
			if s.Endpoint() != endpoint {
				t.Errorf("endpoint %s after restart, was %s", s.Endpoint(), endpoint)
			}
			out, err := s.Client(t).ListBuckets(context.Background(), &s3.ListBucketsInput{})
			if err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "restart" {
				t.Fatalf("after restart: buckets %+v, %v; want [restart]", out, err)
			}
			s.Stop()
			s.Stop() // idempotent
		})
	}
}

// TestMinIOTLS: StartMinIOTLS serves HTTPS with a certificate only its test
// CA vouches for: Client (which trusts it) works, before and after a
// restart; a client with the system roots is refused the certificate.
func TestMinIOTLS(t *testing.T) {
	t.Parallel()
	s := StartMinIOTLS(t)
	if !strings.HasPrefix(s.Endpoint(), "https://127.0.0.1:") {
		t.Fatalf("endpoint %s, want https://127.0.0.1:PORT", s.Endpoint())
	}
	if s.CAFile() == "" {
		t.Fatal("no CA file")
	}
	pemBytes, err := os.ReadFile(s.CAFile())
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pemBytes) {
		t.Fatalf("CA file %s holds no PEM certificate (%v)", s.CAFile(), err)
	}
	s.CreateBucket(t, "tls", true)

	_, err = newClient(s.Endpoint(), accessKey, secretKey, awshttp.NewBuildableClient()).ListBuckets(context.Background(),
		&s3.ListBucketsInput{}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("ListBuckets with the system roots: %v, want x509.UnknownAuthorityError", err)
	}

	s.Restart()
	out, err := s.Client(t).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "tls" {
		t.Fatalf("after restart: buckets %+v, %v; want [tls]", out, err)
	}
	if plain := StartMinIO(t); plain.CAFile() != "" || !strings.HasPrefix(plain.Endpoint(), "http://") {
		t.Errorf("plain MinIO: endpoint %s, CA file %q; want http:// and none", plain.Endpoint(), plain.CAFile())
	}
}
