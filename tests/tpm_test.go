package tests

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testswtpm"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// tpmTrustFile writes the trust file an auditor would hold for a TPM-backed
// collector: its checkpoint key, and its attestation key's Name computed
// with tpm2-tools from the documented template (enrolment that does not
// trust the collector), and "require tpm".
func tpmTrustFile(t *testing.T, sw *testswtpm.SWTPM, vkey string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, name := filepath.Join(dir, "ak.ctx"), filepath.Join(dir, "ak.name")
	tpm2 := func(tool string, args ...string) {
		cmd := exec.Command(tool, args...)
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+sw.TCTI())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", tool, out)
	}
	tpm2("tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", "ecc256:ecdsa-sha256:null",
		"-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign", "-c", ctx)
	tpm2("tpm2_readpublic", "-c", ctx, "-n", name)
	tpm2("tpm2_flushcontext", "-t")
	raw, err := os.ReadFile(name)
	require.NoError(t, err)
	path := filepath.Join(dir, "trust.txt")
	require.NoError(t, os.WriteFile(path, []byte("key "+vkey+"\ntpm-ak "+hex.EncodeToString(raw)+"\nrequire tpm\n"), 0o644))
	return path
}

// announcedKey reads the verifier key a collector announced (auditctl
// verify without a trust file lists it).
func announcedKey(t *testing.T, archiveDir string) string {
	t.Helper()
	r, _ := verifyReport(t, archiveDir, "")
	require.Len(t, r.Keys, 1)
	return r.Keys[0].VerifierKey
}

// tpmArchive runs the collector with its checkpoint key in swtpm, sends
// events, stops it and returns the archive and the key's verifier key.
func tpmArchive(t *testing.T, sw *testswtpm.SWTPM, keyName string) (archiveDir, vkey string) {
	c := newCollector(t, localConfig, map[string]string{"sync": "1", "sign_interval": "300ms",
		"tpm_endpoint": sw.Endpoint(), "key_name": keyName})
	sendBatches(t, c.url(), "tpm", 6, 10)
	c.stop()
	assert.Contains(t, c.logs(), "TPM checkpoint key certified by the attestation key")
	return c.archiveDir(), announcedKey(t, c.archiveDir())
}

func TestTPMSignedArchiveVerifies(t *testing.T) {
	sw := testswtpm.Start(t)
	archiveDir, vkey := tpmArchive(t, sw, "e2e-tpm-a")
	trust := tpmTrustFile(t, sw, vkey)

	r, code := verifyReport(t, archiveDir, trust)
	require.Equal(t, 0, code, "%v", r.allProblems())
	require.True(t, r.Verified)
	require.Len(t, r.Keys, 1)
	k := r.Keys[0]
	require.NotNil(t, k.TPM, "the announcement carries TPM evidence")
	assert.True(t, k.TPM.AKPinned)
	assert.NotEmpty(t, k.TPM.EndorsementKey)
	require.Len(t, r.Logs, 1)
	assert.Equal(t, r.Logs[0].Size, r.Logs[0].SealedSize)
	// The checkpoints are ECDSA P-256 signed notes by the TPM key.
	assert.True(t, strings.HasPrefix(vkey, "e2e-tpm-a+"))

	t.Run("a software key fails when the trust file requires TPM keys", func(t *testing.T) {
		softArchive, softTrust := sealedArchive(t, "ecdsa-p256")
		data, err := os.ReadFile(softTrust)
		require.NoError(t, err)
		tpmLines, err := os.ReadFile(trust)
		require.NoError(t, err)
		// The software key is trusted, the AK is listed, TPM is required.
		var lines []string
		for _, l := range strings.Split(string(tpmLines), "\n") {
			if !strings.HasPrefix(l, "key ") {
				lines = append(lines, l)
			}
		}
		mixed := filepath.Join(t.TempDir(), "trust.txt")
		require.NoError(t, os.WriteFile(mixed, append(data, []byte(strings.Join(lines, "\n"))...), 0o644))
		r, code := verifyReport(t, softArchive, mixed)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "requires TPM keys and its announcement carries no valid TPM evidence")
	})

	t.Run("an attestation key the trust file does not list fails", func(t *testing.T) {
		other := testswtpm.Start(t) // another TPM: another endorsement seed, another AK
		untrusted := tpmTrustFile(t, other, vkey)
		r, code := verifyReport(t, archiveDir, untrusted)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "which the trust file does not list")
	})

	t.Run("evidence swapped for another key's fails", func(t *testing.T) {
		otherArchive, _ := tpmArchive(t, sw, "e2e-tpm-b")
		swapped := copyTree(t, archiveDir)
		own := announcementFile(t, swapped)
		theirs := announcementFile(t, otherArchive)
		ownLine, err := os.ReadFile(own)
		require.NoError(t, err)
		theirLine, err := os.ReadFile(theirs)
		require.NoError(t, err)
		// Replace the evidence attributes' values, byte for byte, with the
		// other key's: the record stays well-formed, only the evidence moves.
		for _, attr := range []string{integrity.AttrTPMKeyPublic, integrity.AttrTPMCertifyInfo, integrity.AttrTPMCertifySignature} {
			mine, their := attrValue(t, ownLine, attr), attrValue(t, theirLine, attr)
			require.NotEqual(t, mine, their)
			ownLine = []byte(strings.Replace(string(ownLine), mine, their, 1))
		}
		require.NoError(t, os.WriteFile(own, ownLine, 0o644))
		r, code := verifyReport(t, swapped, trust)
		assert.Equal(t, 1, code)
		assertFinding(t, r, "TPM evidence: the certified TPM key is not the announced key")
	})
}

// A TPM that goes away and comes back (swtpm killed and restarted: a reset,
// to the collector) while events flow: signing waits for it, the pipeline
// does not, and every checkpoint gets signed.
func TestTPMRestartUnderRunningCollector(t *testing.T) {
	sw := testswtpm.Start(t)
	c := newCollector(t, localConfig, map[string]string{"sync": "1", "sign_interval": "200ms",
		"tpm_endpoint": sw.Endpoint(), "key_name": "e2e-tpm"})
	sendBatches(t, c.url(), "before", 5, 10)
	sw.Kill()
	// Events keep being accepted while the TPM is away.
	sendBatches(t, c.url(), "during", 5, 10)
	time.Sleep(1500 * time.Millisecond)
	sw.Restart()
	sendBatches(t, c.url(), "after", 5, 10)
	waitSealed(t, c.archiveDir(), "", 30*time.Second)
	assert.Zero(t, c.metric("otelcol_processor_sign_failures"), "no checkpoint failed for good")
	c.stop()
	assert.Contains(t, c.logs(), "TPM command failed; retrying", "a signature was attempted while the TPM was away")

	trust := tpmTrustFile(t, sw, announcedKey(t, c.archiveDir()))
	r, code := verifyReport(t, c.archiveDir(), trust)
	require.Equal(t, 0, code, "%v", r.allProblems())
	require.Len(t, r.Logs, 1)
	// 150 events and the epoch start, every one sealed by a TPM checkpoint.
	assert.Equal(t, uint64(151), r.Logs[0].Size)
	assert.Equal(t, r.Logs[0].Size, r.Logs[0].SealedSize)
}

// announcementFile finds the one key-announcement object of an archive.
func announcementFile(t *testing.T, archiveDir string) string {
	t.Helper()
	matches := checkpointObjects(t, archiveDir, "key-*")
	require.Len(t, matches, 1)
	return matches[0]
}

// attrValue returns the JSON string value of a record attribute as it
// appears in an archived line.
func attrValue(t *testing.T, line []byte, key string) string {
	t.Helper()
	_, rec, err := integrity.ParseLine(line[:len(line)-1])
	require.NoError(t, err)
	ld, err := integrity.LogsFromCanonical(rec, nil)
	require.NoError(t, err)
	v, ok := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(key)
	require.True(t, ok, key)
	require.Contains(t, string(line), v.Str())
	return v.Str()
}

func assertFinding(t *testing.T, r verifyResult, want string) {
	t.Helper()
	for _, p := range r.allProblems() {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Errorf("want a finding containing %q, got %q", want, r.allProblems())
}
