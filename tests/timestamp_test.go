package tests

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testtsa"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// trustWithTSA writes a trust file: the collector's key and a pinned TSA root.
func trustWithTSA(t *testing.T, keyTrust string, tsa *testtsa.TSA) string {
	t.Helper()
	data, err := os.ReadFile(keyTrust)
	require.NoError(t, err)
	data = append(data, []byte("tsa-root "+base64.StdEncoding.EncodeToString(tsa.Root().Raw)+"\n")...)
	path := filepath.Join(t.TempDir(), "trust.txt")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// Checkpoints time-stamped by a local RFC 3161 authority (openssl ts
// -reply): the tokens verify offline against the pinned root; a tampered
// token, or one checked against another TSA's root, fails. A TSA outage
// delays tokens and holds up nothing.
func TestTimestampedCheckpoints(t *testing.T) {
	tsa := testtsa.New(t)
	c := newCollector(t, localConfig, map[string]string{"sync": "1", "sign_interval": "300ms", "tsa_url": tsa.URL()})
	sendBatches(t, c.url(), "a", 3, 10)
	require.Eventually(t, func() bool { return c.metric("otelcol_processor_sign_timestamps_emitted") >= 1 },
		30*time.Second, 100*time.Millisecond, "a first checkpoint is time-stamped")

	// The TSA goes down: events are still accepted at once and checkpoints
	// still signed; the tokens wait.
	tsa.SetDown(true)
	sendBatches(t, c.url(), "b", 3, 10)
	_, code := waitSealed(t, c.archiveDir(), c.trustFile(), 30*time.Second)
	require.Equal(t, 0, code)
	require.Eventually(t, func() bool { return c.metric("otelcol_processor_sign_timestamp_failures") > 0 },
		30*time.Second, 100*time.Millisecond, "the outage is counted")
	tsa.SetDown(false)
	sendBatches(t, c.url(), "c", 3, 10)
	c.stop()
	assert.Contains(t, c.logs(), "No time-stamp token yet")

	trust := trustWithTSA(t, c.trustFile(), tsa)
	r, code := verifyReport(t, c.archiveDir(), trust)
	require.Equal(t, 0, code, "%v", r.allProblems())
	require.Len(t, r.Logs, 1)
	l := r.Logs[0]
	assert.Positive(t, l.TimestampsVerified)
	assert.Zero(t, l.TimestampsUnchecked)
	assert.Equal(t, l.Size, l.TimestampedSize, "the final checkpoint got its token at shutdown")

	t.Run("without a pinned root the tokens are reported unchecked", func(t *testing.T) {
		r, code := verifyReport(t, c.archiveDir(), c.trustFile())
		assert.Equal(t, 0, code)
		assert.Equal(t, l.TimestampsVerified, r.Logs[0].TimestampsUnchecked)
	})

	t.Run("a token from an unpinned TSA fails", func(t *testing.T) {
		other := testtsa.New(t)
		r, code := verifyReport(t, c.archiveDir(), trustWithTSA(t, c.trustFile(), other))
		assert.Equal(t, 1, code)
		assertFinding(t, r, "does not chain to a pinned TSA root")
	})

	t.Run("a tampered token fails", func(t *testing.T) {
		tampered := copyTree(t, c.archiveDir())
		files := checkpointObjects(t, tampered, "timestamp-*")
		require.NotEmpty(t, files)
		line, err := os.ReadFile(files[0])
		require.NoError(t, err)
		token := attrValue(t, line, integrity.AttrTimestampToken)
		der, err := base64.StdEncoding.DecodeString(token)
		require.NoError(t, err)
		der[len(der)-10] ^= 0x01 // inside the signature
		line = []byte(strings.Replace(string(line), token, base64.StdEncoding.EncodeToString(der), 1))
		require.NoError(t, os.WriteFile(files[0], line, 0o644))
		r, code := verifyReport(t, tampered, trust)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "time-stamp token: signature does not verify")
	})

	t.Run("a token moved to another checkpoint fails", func(t *testing.T) {
		moved := copyTree(t, c.archiveDir())
		files := checkpointObjects(t, moved, "timestamp-*")
		require.GreaterOrEqual(t, len(files), 2)
		a, err := os.ReadFile(files[0])
		require.NoError(t, err)
		b, err := os.ReadFile(files[1])
		require.NoError(t, err)
		tokenA, tokenB := attrValue(t, a, integrity.AttrTimestampToken), attrValue(t, b, integrity.AttrTimestampToken)
		a = []byte(strings.Replace(string(a), tokenA, tokenB, 1))
		require.NoError(t, os.WriteFile(files[0], a, 0o644))
		r, code := verifyReport(t, moved, trust)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "does not match the checkpoint")
	})

	t.Run("a time-stamped checkpoint removed from the archive is found missing", func(t *testing.T) {
		cut := copyTree(t, c.archiveDir())
		stamps := checkpointObjects(t, cut, "timestamp-*")
		// The first token's checkpoint (not the last, whose removal would
		// only leave the log unsealed).
		size := strings.Split(filepath.Base(stamps[0]), "-")[1]
		cps := checkpointObjects(t, cut, "checkpoint-"+size+"-*")
		require.Len(t, cps, 1)
		require.NoError(t, os.Remove(cps[0]))
		r, code := verifyReport(t, cut, trust)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "that is not in the archive or does not verify")
	})
}
