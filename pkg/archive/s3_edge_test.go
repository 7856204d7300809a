package archive

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
)

// TestS3PutAfterEveryVersionWasDeleted: a key whose versions were all
// deleted (GOVERNANCE bypass) holds only a delete marker. Writing the
// segment again must succeed on both servers, not be retried for ever
// (versitygw refuses If-None-Match on such a key).
func TestS3PutAfterEveryVersionWasDeleted(t *testing.T) {
	for _, kind := range tests3.Kinds {
		t.Run(kind, func(t *testing.T) {
			srv := tests3.Start(t, kind)
			srv.CreateBucket(t, "audit", true)
			ctx := context.Background()
			b := newTestBackend(t, srv, "audit", "p")
			b.lock = ObjectLock{Mode: "GOVERNANCE", Retention: testLock.Retention}
			client := srv.Client(t)
			key := "o/1/streams/s/a.ndjson"
			_, err := b.Put(ctx, key, []byte("one\n"))
			require.NoError(t, err)
			_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/" + key)})
			require.NoError(t, err, "a delete marker")
			vs, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("audit"), Prefix: aws.String("p/" + key)})
			require.NoError(t, err)
			require.Len(t, vs.Versions, 1)
			_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/" + key),
				VersionId: vs.Versions[0].VersionId, BypassGovernanceRetention: aws.Bool(true)})
			require.NoError(t, err, "the version, deleted with the governance bypass")

			existed, err := b.Put(ctx, key, []byte("one\n"))
			require.NoError(t, err)
			assert.False(t, existed)
			data, err := b.Get(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, "one\n", string(data))
		})
	}
}

// TestS3WalkReportsOversizedObjectsAndGoesOn: an object larger than any
// segment is a finding about the archive; reading goes on past it.
func TestS3WalkReportsOversizedObjectsAndGoesOn(t *testing.T) {
	srv := tests3.StartMinIO(t)
	srv.CreateBucket(t, "audit", true)
	ctx := context.Background()
	client := srv.Client(t)
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/a/big.ndjson"),
		Body: bytes.NewReader(bytes.Repeat([]byte("x"), 100))})
	require.NoError(t, err)
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit"), Key: aws.String("p/b/small.ndjson"),
		Body: bytes.NewReader([]byte("ok\n"))})
	require.NoError(t, err)

	b := newTestBackend(t, srv, "audit", "p")
	b.maxObjectBytes = 50
	var got []Object
	require.NoError(t, b.Walk(ctx, func(o Object) error { got = append(got, o); return nil }))
	require.Len(t, got, 2)
	assert.ErrorIs(t, got[0].Corrupt, errObjectTooLarge)
	assert.Nil(t, got[0].Data)
	assert.NoError(t, got[1].Corrupt)
	assert.Equal(t, "ok\n", string(got[1].Data))
}
