package agentenrichprocessor

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A directory of the path swapped for a symbolic link after the path was
// resolved and checked (a TOCTOU race an agent can win on its own tree):
// O_NOFOLLOW guards the last component only, so the open would follow the
// new link out of allowed_paths and publish the hash of a file outside it.
func TestReviewParentSwappedForLinkAfterCheckIsNotHashed(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	allowed := filepath.Join(root, "allowed")
	sub := filepath.Join(allowed, "sub")
	outside := filepath.Join(root, "outside")
	require.NoError(t, os.MkdirAll(sub, 0o700))
	require.NoError(t, os.MkdirAll(outside, 0o700))
	writeFile(t, filepath.Join(sub, "f.txt"), []byte("public"))
	secretSum := writeFile(t, filepath.Join(outside, "f.txt"), []byte("s3cr3t"))

	cfg := fileOnly()
	cfg.AllowedPaths = []string{allowed}
	h := newHasher(cfg)
	swaps := 0
	h.afterResolve = func() {
		swaps++
		require.NoError(t, os.Rename(sub, filepath.Join(root, "sub.orig")))
		require.NoError(t, os.Symlink(outside, sub))
	}
	r := h.hash(context.Background(), filepath.Join(sub, "f.txt"))
	require.Equal(t, 1, swaps)
	assert.NotEqual(t, secretSum, r.sha256, "the file outside allowed_paths was hashed")
	assert.Equal(t, StatusNotAllowed, r.status)
}

// Concurrent batches (several receivers, several OTLP requests) that are
// merely in progress are not stuck: a fifth one must not lose its hashes.
func TestReviewConcurrentHealthyBatchesAreHashed(t *testing.T) {
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow.txt")
	writeFile(t, slow, []byte("slow"))
	path := filepath.Join(dir, "a.txt")
	sum := writeFile(t, path, []byte("a"))

	cfg := fileOnly()
	cfg.HashTimeout = time.Hour // never the cause here
	e, _ := newTestEnricher(t, cfg)
	release := make(chan struct{})
	entered := make(chan struct{}, maxStuckHashers)
	e.hashFn = func(ctx context.Context, p string) fileResult {
		if p == slow {
			entered <- struct{}{}
			<-release
		}
		return e.hasher.hash(ctx, p)
	}
	var wg sync.WaitGroup
	slowRecs := make([]*batch, maxStuckHashers)
	for i := range maxStuckHashers {
		b := newBatch(t)
		b.file("agent_audit.file.read", slow)
		slowRecs[i] = b
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.processLogs(context.Background(), b.ld)
		}()
	}
	for range maxStuckHashers {
		<-entered
	}
	// The slow batches finish a moment later, long before hash_timeout.
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	b := newBatch(t)
	lr := b.file("agent_audit.file.read", path)
	process(t, e, b)
	wg.Wait()
	absent(t, lr, AttrHashStatus)
	assert.Equal(t, sum, str(t, lr, AttrFileSHA256))
	for _, sb := range slowRecs {
		got := sb.sl.LogRecords().At(0)
		absent(t, got, AttrHashStatus)
	}
}

// excluded_paths and allowed_paths are compared with resolved paths, so a
// directory named through a symbolic link (/var/run for /run) must be
// resolved too: else the exclusion is bypassed by the real path, and every
// file below an allowed link is refused.
func TestReviewLinkedExcludedAndAllowedDirectories(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	real := filepath.Join(root, "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	secret := filepath.Join(real, "secret.txt")
	writeFile(t, secret, []byte("s3cr3t"))
	link := filepath.Join(root, "link")
	require.NoError(t, os.Symlink(real, link))

	cfg := fileOnly()
	cfg.ExcludedPaths = []string{link}
	h := newHasher(cfg)
	r := h.hash(context.Background(), secret)
	assert.Equal(t, StatusNotAllowed, r.status, "below an excluded directory named through a link")
	assert.Empty(t, r.sha256)

	work := filepath.Join(root, "work")
	require.NoError(t, os.Mkdir(work, 0o700))
	file := filepath.Join(work, "main.go")
	sum := writeFile(t, file, []byte("package main\n"))
	workLink := filepath.Join(root, "work-link")
	require.NoError(t, os.Symlink(work, workLink))
	cfg = fileOnly()
	cfg.AllowedPaths = []string{workLink}
	h = newHasher(cfg)
	r = h.hash(context.Background(), filepath.Join(workLink, "main.go"))
	assert.Equal(t, "", r.status)
	assert.Equal(t, sum, r.sha256)
}
