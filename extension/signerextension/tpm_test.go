package signerextension

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/internal/testswtpm"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

func tpmConfig(sw *testswtpm.SWTPM) TPMConfig {
	return TPMConfig{Endpoint: sw.Endpoint(), RetryTimeout: 20 * time.Second}
}

func openTestTPMSigner(t *testing.T, sw *testswtpm.SWTPM, name string) *tpmSigner {
	t.Helper()
	s, err := openTPMSigner(tpmConfig(sw), name, zaptest.NewLogger(t))
	require.NoError(t, err)
	return s
}

// signCheckpoint signs a checkpoint with s and opens it with the verifier
// key alone, as auditctl and the transparency-dev tools would.
func signCheckpoint(t *testing.T, s integrity.Signer, size uint64) {
	t.Helper()
	msg, err := integrity.SignCheckpoint("example.com/log/1", size, integrity.Hash{1, 2, 3}, s)
	require.NoError(t, err)
	v, err := integrity.NewVerifier(s.VerifierKey())
	require.NoError(t, err)
	cp, err := integrity.OpenCheckpoint(msg, note.VerifierList(v))
	require.NoError(t, err)
	assert.Equal(t, size, cp.Size)
}

func TestTPMSignerSignsAndProvesTheKeyIsInTheTPM(t *testing.T) {
	sw := testswtpm.Start(t)
	s := openTestTPMSigner(t, sw, "host-a")
	assert.Equal(t, "ecdsa-p256", s.Algorithm())
	assert.True(t, strings.HasPrefix(s.VerifierKey(), "host-a+"))
	signCheckpoint(t, s, 10)

	facts, err := integrity.VerifyTPMEvidence(s.TPMEvidence(), s.VerifierKey(), s.pub)
	require.NoError(t, err)
	assert.Len(t, facts.AKName, 68, "SHA-256 Name: 2 bytes of algorithm and 32 of digest, hex")
	assert.NotEmpty(t, facts.EKName, "swtpm derives the EK, so the evidence names it")

	// The same TPM and key name give the same key again (a deterministic
	// primary); another name gives another key, certified by the same AK.
	again := openTestTPMSigner(t, sw, "host-a")
	assert.Equal(t, s.VerifierKey(), again.VerifierKey())
	other := openTestTPMSigner(t, sw, "host-b")
	assert.NotEqual(t, s.pub, other.pub)
	otherFacts, err := integrity.VerifyTPMEvidence(other.TPMEvidence(), other.VerifierKey(), other.pub)
	require.NoError(t, err)
	assert.Equal(t, facts.AKName, otherFacts.AKName)

	// Evidence swapped between keys does not verify.
	_, err = integrity.VerifyTPMEvidence(other.TPMEvidence(), s.VerifierKey(), s.pub)
	assert.ErrorContains(t, err, "not the announced key")
	swapped := *s.TPMEvidence()
	swapped.CertifyInfo, swapped.CertifySignature = other.TPMEvidence().CertifyInfo, other.TPMEvidence().CertifySignature
	_, err = integrity.VerifyTPMEvidence(&swapped, s.VerifierKey(), s.pub)
	assert.ErrorContains(t, err, "different verifier key")
}

// tpm.path may name a unix socket (swtpm --server type=unixio) as well as a
// character device.
func TestTPMSignerOverUnixSocket(t *testing.T) {
	sw := testswtpm.StartUnix(t)
	s, err := openTPMSigner(TPMConfig{Path: sw.SocketPath(), RetryTimeout: 20 * time.Second}, "host-a", zaptest.NewLogger(t))
	require.NoError(t, err)
	signCheckpoint(t, s, 7)
	_, err = integrity.VerifyTPMEvidence(s.TPMEvidence(), s.VerifierKey(), s.pub)
	require.NoError(t, err)

	// A path that is neither a device nor a socket is a clear error.
	_, err = openTPMSigner(TPMConfig{Path: filepath.Join(t.TempDir(), "nothing"), RetryTimeout: 100 * time.Millisecond}, "host-a", zaptest.NewLogger(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such file")
}

func TestTPMSignerSurvivesTPMRestart(t *testing.T) {
	sw := testswtpm.Start(t)
	s := openTestTPMSigner(t, sw, "host-a")
	signCheckpoint(t, s, 1)

	// A restart between two signatures: the TPM's transient objects are
	// gone; the next signature derives the key again.
	sw.Restart()
	signCheckpoint(t, s, 2)

	// A TPM that is away for a while: the signature waits for it.
	sw.Kill()
	back := make(chan struct{})
	go func() {
		time.Sleep(700 * time.Millisecond)
		sw.Restart()
		close(back)
	}()
	signCheckpoint(t, s, 3)
	<-back
}

func TestTPMSignerGivesUpAfterRetryTimeout(t *testing.T) {
	sw := testswtpm.Start(t)
	cfg := tpmConfig(sw)
	cfg.RetryTimeout = 300 * time.Millisecond
	s, err := openTPMSigner(cfg, "host-a", zaptest.NewLogger(t))
	require.NoError(t, err)
	sw.Kill()
	_, err = s.Sign([]byte("checkpoint"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "giving up after")

	_, err = openTPMSigner(cfg, "host-a", zaptest.NewLogger(t))
	require.Error(t, err, "no TPM at start: a clear error")
	assert.Contains(t, err.Error(), sw.Endpoint())
}

func TestTPMSignerFlushesLeakedTransientObjects(t *testing.T) {
	sw := testswtpm.Start(t)
	// Another client loads objects and goes away without flushing them:
	// without a resource manager they stay and fill the TPM.
	leak, err := openTPM(tpmConfig(sw))
	require.NoError(t, err)
	leaked := 0
	for i := range 10 {
		_, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.TPMRHOwner,
			InPublic:      tpm2.New2B(checkpointKeyTemplate("leak-" + string(rune('a'+i)))),
		}.Execute(leak)
		if err != nil {
			require.ErrorIs(t, err, tpm2.TPMRCObjectMemory)
			break
		}
		leaked++
	}
	require.NoError(t, leak.Close())
	require.Positive(t, leaked)

	s := openTestTPMSigner(t, sw, "host-a")
	signCheckpoint(t, s, 1)
}

func TestTPMSignerRefusesAChangedKey(t *testing.T) {
	sw := testswtpm.Start(t)
	s := openTestTPMSigner(t, sw, "host-a")
	signCheckpoint(t, s, 1)
	// TPM2_Clear gives the owner hierarchy a new seed, so the same template
	// derives another key: the signer must not go on under the old name.
	runTPM2(t, sw, "tpm2_clear", "-c", "p")
	_, err := s.Sign([]byte("checkpoint"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "different checkpoint key")
}

// The attestation key's Name can be computed with tpm2-tools alone, from
// the template docs/integrity.md gives: that is how an operator enrolls it
// in a trust file without trusting this program.
func TestAttestationKeyNameMatchesTPM2Tools(t *testing.T) {
	sw := testswtpm.Start(t)
	s := openTestTPMSigner(t, sw, "host-a")
	facts, err := integrity.VerifyTPMEvidence(s.TPMEvidence(), s.VerifierKey(), s.pub)
	require.NoError(t, err)

	dir := t.TempDir()
	ctx, name := filepath.Join(dir, "ak.ctx"), filepath.Join(dir, "ak.name")
	runTPM2(t, sw, "tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", "ecc256:ecdsa-sha256:null",
		"-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign", "-c", ctx)
	runTPM2(t, sw, "tpm2_readpublic", "-c", ctx, "-n", name)
	runTPM2(t, sw, "tpm2_flushcontext", "-t")
	raw, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(raw), facts.AKName)
}

func TestExtensionStartsWithTPMProvider(t *testing.T) {
	sw := testswtpm.Start(t)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Provider = ProviderTPM
	cfg.KeyName = "host-a"
	cfg.TPM.Endpoint = sw.Endpoint()
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	s := ext.(*Extension).Signer()
	require.NotNil(t, s)
	_, ok := s.(integrity.EvidenceSigner)
	assert.True(t, ok, "a TPM signer offers evidence")
	signCheckpoint(t, s, 5)
	require.NoError(t, ext.Shutdown(context.Background()))
	assert.Nil(t, ext.(*Extension).Signer())
}

func runTPM2(t *testing.T, sw *testswtpm.SWTPM, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+sw.TCTI())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v: %s", tool, args, out)
}

// TestTPMEvidenceFuzzSeeds makes the seeds of FuzzVerifyTPMEvidence and
// the evidence fixture of pkg/integrity's TPM tests the way the committed
// ones were made: real evidence from swtpm, which pkg/integrity cannot make
// itself (this package imports it). With AGENTAUDIT_WRITE_FUZZ_SEEDS=1 it
// writes them over the committed files; otherwise into a temporary
// directory.
func TestTPMEvidenceFuzzSeeds(t *testing.T) {
	sw := testswtpm.Start(t)
	s := openTestTPMSigner(t, sw, "host-a")
	other := openTestTPMSigner(t, sw, "host-b")
	ev := s.TPMEvidence()
	_, err := integrity.VerifyTPMEvidence(ev, s.VerifierKey(), s.pub)
	require.NoError(t, err)
	require.NotEmpty(t, ev.EKPublic, "swtpm derives the EK")
	withoutEK := *ev
	withoutEK.EKPublic, withoutEK.EKCertificate = nil, nil
	_, err = integrity.VerifyTPMEvidence(&withoutEK, s.VerifierKey(), s.pub)
	require.NoError(t, err)
	_, err = integrity.VerifyTPMEvidence(other.TPMEvidence(), s.VerifierKey(), s.pub)
	require.ErrorContains(t, err, "not the announced key")

	integrityDir := t.TempDir()
	if os.Getenv("AGENTAUDIT_WRITE_FUZZ_SEEDS") == "1" {
		integrityDir = filepath.Join("..", "..", "pkg", "integrity", "testdata")
	}
	dir := filepath.Join(integrityDir, "fuzz", "FuzzVerifyTPMEvidence")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, seed := range map[string]struct {
		ev   *integrity.TPMEvidence
		vkey string
	}{
		"valid-with-ek":    {ev, s.VerifierKey()},
		"valid-without-ek": {&withoutEK, s.VerifierKey()},
		// Another key's evidence, announced under the first key.
		"other-key": {other.TPMEvidence(), s.VerifierKey()},
	} {
		e := seed.ev
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\nstring(%q)\n",
			e.KeyPublic, e.CertifyInfo, e.CertifySignature, e.AKPublic, e.EKPublic, e.EKCertificate, seed.vkey)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	fixture, err := json.MarshalIndent(struct {
		VKey     string                 `json:"vkey"`
		Evidence *integrity.TPMEvidence `json:"evidence"`
	}{s.VerifierKey(), ev}, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(integrityDir, "tpm_evidence.json"), append(fixture, '\n'), 0o644))
}

// BenchmarkTPMSign is one checkpoint signature with the TPM provider against
// swtpm: connect, derive the key, sign, flush, disconnect.
func BenchmarkTPMSign(b *testing.B) {
	sw := testswtpm.Start(b)
	s, err := openTPMSigner(tpmConfig(sw), "bench", zap.NewNop())
	require.NoError(b, err)
	msg := []byte(integrity.CheckpointText("example.com/log/1", 42, integrity.Hash{}))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}
