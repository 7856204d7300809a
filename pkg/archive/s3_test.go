package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
)

var testLock = ObjectLock{Mode: "COMPLIANCE", Retention: time.Hour}

func newTestBackend(t *testing.T, srv *tests3.Server, bucket, prefix string) *S3Backend {
	t.Helper()
	client, err := NewS3Client(context.Background(), S3ClientConfig{Endpoint: srv.Endpoint(), PathStyle: true,
		Region: srv.Region(), AccessKeyID: srv.AccessKey(), SecretAccessKey: srv.SecretKey()})
	require.NoError(t, err)
	return NewS3Backend(client, bucket, prefix, testLock)
}

// TestS3BackendAgainstRealServers: writes are idempotent and never replace
// an object, and reading back takes each key's first version, reporting
// what came after it, on both S3 servers.
func TestS3BackendAgainstRealServers(t *testing.T) {
	for _, kind := range tests3.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := tests3.Start(t, kind)
			srv.CreateBucket(t, "audit", true)
			ctx := context.Background()
			b := newTestBackend(t, srv, "audit", "/p/")
			require.NoError(t, b.Check(ctx))
			assert.Equal(t, "s3://audit/p/", b.String())

			existed, err := b.Put(ctx, "o/1/streams/s/a.ndjson", []byte("one\n"))
			require.NoError(t, err)
			assert.False(t, existed)
			existed, err = b.Put(ctx, "o/1/streams/s/a.ndjson", []byte("one\n"))
			require.NoError(t, err)
			assert.True(t, existed, "a retry finds the object")
			_, err = b.Put(ctx, "o/1/streams/s/a.ndjson", []byte("two\n"))
			assert.ErrorIs(t, err, ErrConflict)

			client := srv.Client(t)
			vs, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("audit"), Prefix: aws.String("p/")})
			require.NoError(t, err)
			assert.Len(t, vs.Versions, 1, "no retry or conflict added a version")

			// A delete marker over an object, then a retry of the same
			// write: found through the first version, nothing added.
			_, err = b.Put(ctx, "o/1/streams/s/b.ndjson", []byte("b\n"))
			require.NoError(t, err)
			_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/o/1/streams/s/b.ndjson")})
			require.NoError(t, err)
			_, err = b.Put(ctx, "o/1/streams/s/b.ndjson", []byte("b\n"))
			require.NoError(t, err, "retrying a write behind a delete marker")

			// Another version with other content under a key.
			_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/o/1/streams/s/a.ndjson"),
				Body: bytes.NewReader([]byte("forged\n")), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
			require.NoError(t, err)
			// Objects that are not segments are skipped.
			_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/README"),
				Body: bytes.NewReader([]byte("x"))})
			require.NoError(t, err)

			var got []Object
			require.NoError(t, b.Walk(ctx, func(o Object) error { got = append(got, o); return nil }))
			require.Len(t, got, 2)
			assert.Equal(t, "o/1/streams/s/a.ndjson", got[0].Key)
			assert.Equal(t, "one\n", string(got[0].Data), "the first version is read")
			assert.Equal(t, []string{"1 later version(s) with other content were written under this key; its first version was read"}, got[0].Findings)
			assert.Equal(t, "o/1/streams/s/b.ndjson", got[1].Key)
			assert.Equal(t, "b\n", string(got[1].Data))
			// The retry behind the marker added no version (MinIO would
			// accept one, and it would hide the marker again).
			assert.Equal(t, []string{"a delete marker hides this object from plain listings (a delete was attempted); its first version was read"}, got[1].Findings)
			vs, err = client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("audit"), Prefix: aws.String("p/o/1/streams/s/b.ndjson")})
			require.NoError(t, err)
			assert.Len(t, vs.Versions, 1, "the retry behind the delete marker added no version")
			data, err := b.Get(ctx, "o/1/streams/s/a.ndjson")
			require.NoError(t, err)
			assert.Equal(t, "one\n", string(data))
		})
	}
}

func TestS3CheckErrors(t *testing.T) {
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "locked", true)
	srv.CreateBucket(t, "plain", false)
	ctx := context.Background()

	var ce *CheckError
	err := newTestBackend(t, srv, "plain", "").Check(ctx)
	require.ErrorAs(t, err, &ce)
	assert.False(t, ce.Unreachable)
	assert.ErrorContains(t, err, `bucket "plain" does not have Object Lock enabled`)

	err = newTestBackend(t, srv, "missing", "").Check(ctx)
	assert.ErrorContains(t, err, `bucket "missing" does not exist (NoSuchBucket while reading the versioning of bucket "missing")`)

	client, err := NewS3Client(ctx, S3ClientConfig{Endpoint: srv.Endpoint(), PathStyle: true,
		AccessKeyID: srv.AccessKey(), SecretAccessKey: "not-the-secret"})
	require.NoError(t, err)
	err = NewS3Backend(client, "locked", "", testLock).Check(ctx)
	assert.ErrorContains(t, err, "the secret access key is wrong (SignatureDoesNotMatch")

	// Nothing listens: unreachable, which on_unreachable_at_start: retry
	// may wait out.
	client, err = NewS3Client(ctx, S3ClientConfig{Endpoint: "http://127.0.0.1:" + strconv.Itoa(testport.Free(t)), PathStyle: true,
		AccessKeyID: "a", SecretAccessKey: "b"})
	require.NoError(t, err)
	err = NewS3Backend(client, "locked", "", testLock).Check(ctx)
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.True(t, ce.Unreachable)

	_, err = NewS3Client(ctx, S3ClientConfig{AccessKeyID: "only-the-id"})
	assert.ErrorContains(t, err, "set both the access key id and the secret access key, or neither")

	// The write check leaves nothing behind.
	require.NoError(t, newTestBackend(t, srv, "locked", "").Check(ctx))
	vs, err := srv.Client(t).ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("locked")})
	require.NoError(t, err)
	assert.Empty(t, vs.Versions)
	assert.Empty(t, vs.DeleteMarkers)
}

// Start-up failures that waiting will not cure are not "unreachable": with
// on_unreachable_at_start: retry they would otherwise let the collector
// start and check again forever, and the message would send the operator
// looking at the network.
func TestS3CheckConfigurationErrorsAreNotUnreachable(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, cfg S3ClientConfig) *CheckError {
		t.Helper()
		client, err := NewS3Client(ctx, cfg)
		require.NoError(t, err)
		err = NewS3Backend(client, "audit", "", testLock).Check(ctx)
		var ce *CheckError
		require.ErrorAs(t, err, &ce)
		return ce
	}
	// A fake S3 service: versioning on, Object Lock not implemented.
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Has("versioning"):
			fmt.Fprint(w, `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)
		default:
			w.WriteHeader(http.StatusNotImplemented)
			fmt.Fprint(w, `<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>`)
		}
	}))
	defer fake.Close()

	t.Run("no credentials", func(t *testing.T) {
		for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
			"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
			t.Setenv(v, "")
		}
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		ce := check(t, S3ClientConfig{Endpoint: fake.URL, PathStyle: true})
		assert.False(t, ce.Unreachable, "%v", ce)
		assert.ErrorContains(t, ce, "no credentials")
		assert.NotContains(t, ce.Error(), "unreachable")
	})
	t.Run("certificate not trusted", func(t *testing.T) {
		tlsSrv := httptest.NewTLSServer(fake.Config.Handler)
		defer tlsSrv.Close()
		ce := check(t, S3ClientConfig{Endpoint: tlsSrv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
		assert.False(t, ce.Unreachable, "%v", ce)
		assert.ErrorContains(t, ce, "certificate")
		assert.ErrorContains(t, ce, "tls.ca_file")
	})
	t.Run("not implemented", func(t *testing.T) {
		ce := check(t, S3ClientConfig{Endpoint: fake.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
		assert.False(t, ce.Unreachable, "%v", ce)
		assert.ErrorContains(t, ce, "NotImplemented")
		assert.NotContains(t, ce.Error(), "unreachable")
	})
}

// Every Put starts with a HEAD of its key, and S3 answers a HEAD of a key
// that does not exist with 403 rather than 404 when the credentials lack
// s3:ListBucket: the start-up check must find that, or every write fails
// and is retried forever.
func TestS3CheckFindsHeadDenied(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Has("versioning"):
			fmt.Fprint(w, `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`)
		case q.Has("object-lock"):
			fmt.Fprint(w, `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`)
		case r.Method == http.MethodPut:
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<Error><Code>BadDigest</Code><Message>The Content-MD5 you specified did not match what we received.</Message></Error>`)
		default:
			w.WriteHeader(http.StatusForbidden) // a HEAD: no body
		}
	}))
	defer fake.Close()
	client, err := NewS3Client(context.Background(), S3ClientConfig{Endpoint: fake.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	require.NoError(t, err)
	err = NewS3Backend(client, "audit", "", testLock).Check(context.Background())
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.False(t, ce.Unreachable)
	assert.ErrorContains(t, err, `access denied while reading from bucket "audit"`)
	assert.ErrorContains(t, err, "s3:ListBucket")
}

// fakeListing is an S3 service in-process that serves ListObjectVersions
// from fixed pages (the real servers page at 1000 entries, too many for a
// test) and GetObject by version id.
type fakeListing struct {
	pages  [][]fakeEntry
	bodies map[string]string // version id -> body
}

type fakeEntry struct {
	key, version, etag string
	marker, latest     bool
}

func (f *fakeListing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("versions") {
		body, ok := f.bodies[q.Get("versionId")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `<Error><Code>NoSuchVersion</Code></Error>`)
			return
		}
		sum := sha256.Sum256([]byte(body))
		w.Header().Set("x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(sum[:]))
		fmt.Fprint(w, body)
		return
	}
	page := 0
	if m := q.Get("version-id-marker"); m != "" {
		page, _ = strconv.Atoi(strings.TrimPrefix(m, "page"))
	}
	var b strings.Builder
	b.WriteString(`<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>audit</Name>`)
	if page+1 < len(f.pages) {
		fmt.Fprintf(&b, `<IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker><NextVersionIdMarker>page%d</NextVersionIdMarker>`, page+1)
	} else {
		b.WriteString(`<IsTruncated>false</IsTruncated>`)
	}
	for _, e := range f.pages[page] {
		tag := "Version"
		if e.marker {
			tag = "DeleteMarker"
		}
		fmt.Fprintf(&b, `<%s><Key>%s</Key><VersionId>%s</VersionId><IsLatest>%v</IsLatest><ETag>&quot;%s&quot;</ETag></%s>`,
			tag, e.key, e.version, e.latest, e.etag, tag)
	}
	b.WriteString(`</ListVersionsResult>`)
	fmt.Fprint(w, b.String())
}

// Walk over a listing split into pages the way S3 splits it (one order by
// key, each key's entries newest first; a page gives its versions and its
// delete markers in two lists): a key's
// versions spanning pages, its delete marker on an earlier page than its
// versions, and a key left with only a delete marker (every version
// deleted, as GOVERNANCE with bypass or an expired retention allow), which
// must be reported, not skipped.
func TestS3WalkPagedListing(t *testing.T) {
	f := &fakeListing{
		pages: [][]fakeEntry{
			{
				{key: "p/a.ndjson", version: "a3", etag: "other", latest: true},
				{key: "p/a.ndjson", version: "a2", etag: "one"},
			},
			{
				{key: "p/a.ndjson", version: "a1", etag: "one"},
				{key: "p/b.ndjson", version: "bm", marker: true, latest: true},
			},
			{
				{key: "p/b.ndjson", version: "b1", etag: "b"},
				{key: "p/c.ndjson", version: "cm", marker: true, latest: true},
			},
			{
				// The two lists of a page: d's version before c's marker.
				{key: "p/d.ndjson", version: "d1", etag: "d", latest: true},
				{key: "p/c.ndjson", version: "cm0", marker: true},
			},
		},
		bodies: map[string]string{"a1": "one\n", "a2": "one\n", "a3": "forged\n", "b1": "b\n", "d1": "d\n"},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	client, err := NewS3Client(context.Background(), S3ClientConfig{Endpoint: srv.URL, PathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	require.NoError(t, err)
	b := NewS3Backend(client, "audit", "p", testLock)

	var got []Object
	require.NoError(t, b.Walk(context.Background(), func(o Object) error { got = append(got, o); return nil }))
	require.Len(t, got, 4)
	assert.Equal(t, "a.ndjson", got[0].Key)
	assert.Equal(t, "one\n", string(got[0].Data))
	assert.Equal(t, []string{"1 later version(s) with other content were written under this key; its first version was read"}, got[0].Findings)
	assert.Equal(t, "b.ndjson", got[1].Key)
	assert.Equal(t, "b\n", string(got[1].Data))
	assert.Equal(t, []string{"a delete marker hides this object from plain listings (a delete was attempted); its first version was read"}, got[1].Findings)
	assert.Equal(t, "c.ndjson", got[2].Key)
	assert.ErrorContains(t, got[2].Corrupt, "every version of this object was deleted")
	assert.Equal(t, "d.ndjson", got[3].Key)
	assert.Equal(t, "d\n", string(got[3].Data))
	assert.Empty(t, got[3].Findings)

	_, err = b.Get(context.Background(), "c.ndjson")
	assert.ErrorContains(t, err, "every version of this object was deleted")

	// fn's error ends the walk and is what Walk returns.
	stop := errors.New("stop")
	n := 0
	err = b.Walk(context.Background(), func(Object) error { n++; return stop })
	assert.Equal(t, stop, err)
	assert.Equal(t, 1, n)
}

// Whether a key already holds a write is decided by its first version, the
// one the verifier reads: a later version with other content (tampering
// the versioned bucket allows) does not turn a retried write into a
// conflict, and the same lines compressed by another encoder (an upgrade
// between a write and its retry from a persistent queue) are the same
// segment, since the key's digest is of the lines.
func TestS3PutDecidesByTheFirstVersion(t *testing.T) {
	for _, kind := range tests3.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := tests3.Start(t, kind)
			srv.CreateBucket(t, "audit", true)
			ctx := context.Background()
			client := srv.Client(t)
			b := newTestBackend(t, srv, "audit", "a/b/")

			_, err := b.Put(ctx, "k.ndjson", []byte("one\n"))
			require.NoError(t, err)
			_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: aws.String("a/b/k.ndjson"),
				Body: bytes.NewReader([]byte("forged\n")), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
			require.NoError(t, err)
			existed, err := b.Put(ctx, "k.ndjson", []byte("one\n"))
			require.NoError(t, err, "the first version holds the write")
			assert.True(t, existed)
			_, err = b.Put(ctx, "k.ndjson", []byte("forged\n"))
			assert.ErrorIs(t, err, ErrConflict, "only the first version counts")

			_, older, newer := compressedTwoWays(t)
			_, err = b.Put(ctx, "z.ndjson.zst", older)
			require.NoError(t, err)
			existed, err = b.Put(ctx, "z.ndjson.zst", newer)
			require.NoError(t, err, "the same lines")
			assert.True(t, existed)
			other, err := CompressionZstd.Compress([]byte("other\n"))
			require.NoError(t, err)
			_, err = b.Put(ctx, "z.ndjson.zst", other)
			assert.ErrorIs(t, err, ErrConflict)

			vs, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("audit"), Prefix: aws.String("a/b/")})
			require.NoError(t, err)
			assert.Len(t, vs.Versions, 3, "ours and the forged one under k, ours under z: no write added one")
		})
	}
}

// A key whose every version was deleted (GOVERNANCE with bypass allows it)
// and that keeps only its delete marker is reported by Walk, not skipped.
func TestS3WalkReportsDeletedVersions(t *testing.T) {
	for _, kind := range tests3.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := tests3.Start(t, kind)
			srv.CreateBucket(t, "audit", true)
			ctx := context.Background()
			client, err := NewS3Client(ctx, S3ClientConfig{Endpoint: srv.Endpoint(), PathStyle: true,
				Region: srv.Region(), AccessKeyID: srv.AccessKey(), SecretAccessKey: srv.SecretKey()})
			require.NoError(t, err)
			b := NewS3Backend(client, "audit", "", ObjectLock{Mode: "GOVERNANCE", Retention: time.Hour})
			for _, k := range []string{"x.ndjson", "y.ndjson"} {
				_, err := b.Put(ctx, k, []byte(k+"\n"))
				require.NoError(t, err)
			}
			root := srv.Client(t)
			vs, err := root.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("audit"), Prefix: aws.String("x.ndjson")})
			require.NoError(t, err)
			require.Len(t, vs.Versions, 1)
			_, err = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: aws.String("x.ndjson")})
			require.NoError(t, err)
			_, err = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: aws.String("x.ndjson"),
				VersionId: vs.Versions[0].VersionId, BypassGovernanceRetention: aws.Bool(true)})
			require.NoError(t, err)

			var got []Object
			require.NoError(t, b.Walk(ctx, func(o Object) error { got = append(got, o); return nil }))
			require.Len(t, got, 2)
			assert.Equal(t, "x.ndjson", got[0].Key)
			assert.ErrorIs(t, got[0].Corrupt, errAllVersionsDeleted)
			assert.Equal(t, "y.ndjson", got[1].Key)
			assert.Equal(t, "y.ndjson\n", string(got[1].Data))
		})
	}
}
