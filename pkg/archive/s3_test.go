package archive

import (
	"bytes"
	"context"
	"errors"
	"strconv"
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
			if kind == tests3.KindMinIO {
				// MinIO accepted the retry behind the marker as a new,
				// identical version, which hides the marker again.
				assert.Empty(t, got[1].Findings)
			} else {
				assert.Equal(t, []string{"a delete marker hides this object from plain listings (a delete was attempted); its first version was read"}, got[1].Findings)
			}
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
