package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Key rotation as an operator does it: the collector runs with key A; then
// with key B as its signer and A as previous_signer, which signs the first
// checkpoint with both; then with B alone. An auditor who trusts only A
// follows the hand-over to B.
func TestKeyRotation(t *testing.T) {
	c := newCollector(t, localConfig, map[string]string{"sync": "1", "sign_interval": "300ms"})
	sendBatches(t, c.url(), "old", 3, 10)
	c.stop()

	keyA := filepath.Join(c.p.Dir, "keys", "e2e.key")
	bDir := filepath.Join(c.p.Dir, "keys-b")
	out, code := runAuditctl(t, "keygen", "--out", bDir, "--name", "e2e-b", "--algorithm", "ecdsa-p256")
	require.Equal(t, 0, code, out)
	keyB := filepath.Join(bDir, "e2e-b.key")

	c.reconfigure(localConfig, map[string]string{"sync": "1", "sign_interval": "300ms",
		"key_name": "e2e-b", "key_file": keyB, "previous_key_name": "e2e", "previous_key_file": keyA})
	c.start()
	sendBatches(t, c.url(), "transition", 3, 10)
	c.stop()

	c.reconfigure(localConfig, map[string]string{"sync": "1", "sign_interval": "300ms", "key_name": "e2e-b", "key_file": keyB})
	c.start()
	sendBatches(t, c.url(), "new", 3, 10)
	c.stop()

	trustA := c.trustFile() // key A only
	r, code := verifyReport(t, c.archiveDir(), trustA)
	require.Equal(t, 0, code, "%v", r.allProblems())
	require.Len(t, r.Logs, 1)
	assert.Equal(t, uint64(91), r.Logs[0].Size, "90 events and the epoch start")
	assert.Equal(t, r.Logs[0].Size, r.Logs[0].SealedSize)
	trusted := map[string]string{}
	for _, k := range r.Keys {
		trusted[k.Name] = k.Trusted
	}
	assert.Equal(t, "trust file", trusted["e2e"])
	assert.Contains(t, trusted["e2e-b"], "rotation: co-signed with e2e+")
	for _, k := range r.Keys {
		if k.Name == "e2e-b" {
			assert.Contains(t, k.Previous, "e2e+", "the new key's announcement names the key it replaces")
		}
	}

	// The transition checkpoint is the only one with two signatures.
	transition := dualSignedCheckpoint(t, c.archiveDir())

	t.Run("cutting the transition checkpoint out fails", func(t *testing.T) {
		cut := copyTree(t, c.archiveDir())
		rel, err := filepath.Rel(c.archiveDir(), transition)
		require.NoError(t, err)
		require.NoError(t, os.Remove(filepath.Join(cut, rel)))
		r, code := verifyReport(t, cut, trustA)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "is signed only by e2e-b+")
		assertFinding(t, r, "which is not trusted")
	})

	t.Run("a checkpoint signed only by an unannounced key fails", func(t *testing.T) {
		unannounced := copyTree(t, c.archiveDir())
		keys := checkpointObjects(t, unannounced, "key-e2e-b-*")
		require.NotEmpty(t, keys)
		for _, k := range keys {
			require.NoError(t, os.Remove(k))
		}
		r, code := verifyReport(t, unannounced, trustA)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "not signed by a trusted key (signed by e2e-b+")
	})

	t.Run("trust does not flow back from the new key to the old", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(bDir, "trust.txt"))
		require.NoError(t, err)
		require.Contains(t, string(data), "key e2e-b+")
		r, code := verifyReport(t, c.archiveDir(), filepath.Join(bDir, "trust.txt"))
		// The checkpoints before the rotation are signed by A alone, which
		// B's trust file does not vouch for: they fail, and say so.
		assert.Equal(t, 1, code)
		assertFinding(t, r, "is signed only by e2e+")
	})
}

// dualSignedCheckpoint returns the archived checkpoint object whose signed
// note carries two signatures.
func dualSignedCheckpoint(t *testing.T, archiveDir string) string {
	t.Helper()
	files := checkpointObjects(t, archiveDir, "checkpoint-*")
	var dual []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		// Signature lines are "\u2014 name hash" inside the JSON body.
		if strings.Count(string(data), `\n— `)+strings.Count(string(data), `\n\u2014 `) >= 2 {
			dual = append(dual, f)
		}
	}
	require.Len(t, dual, 1, "one transition checkpoint")
	return dual[0]
}
