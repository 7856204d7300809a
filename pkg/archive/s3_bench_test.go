package archive

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
)

// BenchmarkS3BackendPut measures the S3 backend alone writing segments to
// MinIO on loopback (HEAD, then PUT with checksum and Object Lock), in MB/s
// of uncompressed lines, for segment sizes the batcher produces. The lines
// are base64 of random bytes: the compression ratio of real records lies
// between this (about 1.3x) and that of repetitive ones.
func BenchmarkS3BackendPut(b *testing.B) {
	srv := tests3.StartMinIO(b)
	srv.CreateBucket(b, "bench", true)
	client := srv.Client(b)
	backend := NewS3Backend(client, "bench", "b", testLock)
	ctx := context.Background()
	for _, size := range []int{64 << 10, 1 << 20, 8 << 20} {
		for _, c := range []Compression{CompressionNone, CompressionZstd} {
			b.Run(fmt.Sprintf("%dKiB-%s", size>>10, c), func(b *testing.B) {
				raw := make([]byte, size*3/4)
				_, _ = rand.Read(raw)
				data := []byte(base64.StdEncoding.EncodeToString(raw))
				b.SetBytes(int64(len(data)))
				i := 0
				for b.Loop() {
					i++
					body, err := c.Compress(data)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := backend.Put(ctx, fmt.Sprintf("%s/%d/%d.ndjson%s", c, size, i, c.Suffix()), body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
