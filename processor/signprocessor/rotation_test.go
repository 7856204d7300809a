package signprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

var (
	newSignerID = component.MustNewIDWithName("signer", "new")
	oldSignerID = component.MustNewIDWithName("signer", "old")
)

// writeKeyFile writes a fresh private key as a PEM file only its owner can
// read, as auditctl keygen does.
func writeKeyFile(t *testing.T, algorithm string) string {
	t.Helper()
	key, err := integrity.GenerateKey(algorithm)
	require.NoError(t, err)
	der, err := integrity.MarshalPrivateKeyPEM(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), algorithm+".pem")
	require.NoError(t, os.WriteFile(path, der, 0o600))
	return path
}

// fileSignerExt starts a real signer extension with the file provider.
func fileSignerExt(t *testing.T, keyName, path string) extension.Extension {
	t.Helper()
	f := signerextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*signerextension.Config)
	cfg.Provider = signerextension.ProviderFile
	cfg.KeyName = keyName
	cfg.File.PrivateKey = path
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttestHost{}))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext
}

type componenttestHost struct{}

func (componenttestHost) GetExtensions() map[component.ID]component.Component { return nil }

func extSigner(ext extension.Extension) integrity.Signer {
	return ext.(interface{ Signer() integrity.Signer }).Signer()
}

func rotationConfig(interval time.Duration, maxRecords uint64) *Config {
	cfg := testConfig(interval, maxRecords)
	cfg.Signer = newSignerID
	prev := oldSignerID
	cfg.PreviousSigner = &prev
	return cfg
}

func verifiers(t *testing.T, signers ...integrity.Signer) note.Verifiers {
	t.Helper()
	var vkeys []string
	for _, s := range signers {
		vkeys = append(vkeys, s.VerifierKey())
	}
	trust, err := integrity.ParseTrustFile(integrity.TrustFileText("test", vkeys...))
	require.NoError(t, err)
	return trust.Verifiers
}

// signatureLines counts the signature lines of a signed note.
func signatureLines(msg string) int {
	_, sigs, ok := strings.Cut(msg, "\n\n")
	if !ok {
		return 0
	}
	return strings.Count(sigs, "— ")
}

// verifyTransition checks a checkpoint signed by both keys: it opens with
// either key alone (a verifier that trusts only the old key follows the
// rotation) and with both.
func verifyTransition(t *testing.T, lr plog.LogRecord, oldS, newS integrity.Signer, want integrity.TreeHead) {
	t.Helper()
	msg := []byte(lr.Body().Str())
	assert.Equal(t, 2, signatureLines(string(msg)), "two signature lines:\n%s", msg)

	n, err := note.Open(msg, verifiers(t, oldS, newS))
	require.NoError(t, err)
	require.Len(t, n.Sigs, 2)
	assert.Empty(t, n.UnverifiedSigs)
	assert.ElementsMatch(t, []string{keyID(oldS), keyID(newS)},
		[]string{fmt.Sprintf("%s+%08x", n.Sigs[0].Name, n.Sigs[0].Hash), fmt.Sprintf("%s+%08x", n.Sigs[1].Name, n.Sigs[1].Hash)})

	for _, tc := range []struct {
		name    string
		trusted []integrity.Signer
		want    []string
	}{
		{"old key only", []integrity.Signer{oldS}, []string{keyID(oldS)}},
		{"new key only", []integrity.Signer{newS}, []string{keyID(newS)}},
	} {
		cp, err := integrity.OpenCheckpoint(msg, verifiers(t, tc.trusted...))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, cp.Signers, tc.name)
		assert.Equal(t, want.LogID, cp.Origin)
		assert.Equal(t, want.Size, cp.Size)
		assert.Equal(t, want.Root, cp.Root)
	}
	cp, err := integrity.OpenCheckpoint(msg, verifiers(t, oldS, newS))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{keyID(oldS), keyID(newS)}, cp.Signers)
	// The record names the key that signs from now on.
	assert.Equal(t, newS.Name(), attrStr(t, lr, integrity.AttrKeyName))
}

// verifyNewOnly checks a checkpoint after the transition: the new key only.
func verifyNewOnly(t *testing.T, lr plog.LogRecord, oldS, newS integrity.Signer, want integrity.TreeHead) {
	t.Helper()
	verifyCheckpoint(t, lr, newS, want)
	msg := []byte(lr.Body().Str())
	assert.Equal(t, 1, signatureLines(string(msg)))
	_, err := integrity.OpenCheckpoint(msg, verifiers(t, oldS))
	assert.ErrorContains(t, err, "not signed by a trusted key", "the old key signs no more")
}

func TestKeyRotation(t *testing.T) {
	tests := []struct {
		name             string
		oldName, newName string
		oldAlg, newAlg   string
	}{
		{name: "ecdsa to ed25519", oldName: "key-2025", newName: "key-2026", oldAlg: "ecdsa-p256", newAlg: "ed25519"},
		{name: "ed25519 to ecdsa", oldName: "key-2025", newName: "key-2026", oldAlg: "ed25519", newAlg: "ecdsa-p256"},
		// The default key name is the host's: both keys may well share it.
		{name: "same key name", oldName: "agentaudit-host", newName: "agentaudit-host", oldAlg: "ed25519", newAlg: "ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldExt := fileSignerExt(t, tt.oldName, writeKeyFile(t, tt.oldAlg))
			newExt := fileSignerExt(t, tt.newName, writeKeyFile(t, tt.newAlg))
			oldS, newS := extSigner(oldExt), extSigner(newExt)

			sink := new(consumertest.LogsSink)
			p, tel := newSign(t, rotationConfig(time.Hour, 10), sink)
			require.NoError(t, p.Start(context.Background(), testHost{newSignerID: newExt, oldSignerID: oldExt}))

			// The transition checkpoint.
			consumeWithHead(t, p, head("o/1", 12))
			eventually(t, func() bool { return len(checkpointBatches(sink.AllLogs())) == 1 }, "transition checkpoint")
			cb := checkpointBatches(sink.AllLogs())[0]
			anns := recordsWithEvent([]plog.Logs{cb}, integrity.EventKeyAnnouncement)
			require.Len(t, anns, 2, "both keys are announced")
			verifyAnnouncement(t, anns[0], oldS, "o/1")
			_, hasPrev := anns[0].Attributes().Get(integrity.AttrKeyPrevious)
			assert.False(t, hasPrev, "the old key replaces nothing")
			verifyAnnouncement(t, anns[1], newS, "o/1")
			assert.Equal(t, fmt.Sprintf("%s+%08x", oldS.Name(), oldS.KeyHash()), attrStr(t, anns[1], integrity.AttrKeyPrevious))
			assert.Contains(t, anns[1].Body().Str(), "replaces key "+keyID(oldS))
			cps := recordsWithEvent([]plog.Logs{cb}, integrity.EventCheckpoint)
			require.Len(t, cps, 1)
			verifyTransition(t, cps[0], oldS, newS, head("o/1", 12))
			// The announcements come before the checkpoint they vouch for.
			lrs := cb.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			require.Equal(t, 3, lrs.Len())
			assert.Equal(t, integrity.EventCheckpoint, lrs.At(2).EventName())

			// Later checkpoints: the new key only, no more announcements.
			consumeWithHead(t, p, head("o/1", 25))
			eventually(t, func() bool { return len(checkpointBatches(sink.AllLogs())) == 2 }, "second checkpoint")
			cb = checkpointBatches(sink.AllLogs())[1]
			require.Equal(t, 1, cb.LogRecordCount())
			verifyNewOnly(t, cb.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), oldS, newS, head("o/1", 25))

			// A log that begins later (a new epoch) gets its own transition
			// checkpoint: a verifier of that log alone follows the rotation too.
			consumeWithHead(t, p, head("o/2", 11))
			eventually(t, func() bool { return len(checkpointBatches(sink.AllLogs())) == 3 }, "first checkpoint of o/2")
			cb = checkpointBatches(sink.AllLogs())[2]
			require.Equal(t, 1, cb.LogRecordCount(), "the keys were announced already")
			verifyTransition(t, cb.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), oldS, newS, head("o/2", 11))

			// The final checkpoints at shutdown: the new key only.
			consumeWithHead(t, p, head("o/1", 27))
			consumeWithHead(t, p, head("o/2", 13))
			require.NoError(t, p.Shutdown(context.Background()))
			all := checkpointBatches(sink.AllLogs())
			require.Len(t, all, 4)
			final := recordsWithEvent(all[3:], integrity.EventCheckpoint)
			require.Len(t, final, 2)
			for _, lr := range final {
				if attrStr(t, lr, integrity.AttrLogID) == "o/1" {
					verifyNewOnly(t, lr, oldS, newS, head("o/1", 27))
				} else {
					verifyNewOnly(t, lr, oldS, newS, head("o/2", 13))
				}
			}
			assert.Len(t, recordsWithEvent(sink.AllLogs(), integrity.EventKeyAnnouncement), 2)
			assert.Equal(t, int64(5), counter(t, tel, metricEmitted))
			assert.Zero(t, counter(t, tel, metricFailures))
		})
	}
}

// A refused transition checkpoint is signed by both keys again on the next
// round, and both announcements go out with it.
func TestKeyRotationRetriedAfterEmissionFailure(t *testing.T) {
	oldExt := fileSignerExt(t, "old", writeKeyFile(t, "ed25519"))
	newExt := fileSignerExt(t, "new", writeKeyFile(t, "ecdsa-p256"))
	oldS, newS := extSigner(oldExt), extSigner(newExt)
	next := &checkpointRefuser{}
	next.failing.Store(true)
	p, tel := newSign(t, rotationConfig(100*time.Millisecond, 5), next)
	require.NoError(t, p.Start(context.Background(), testHost{newSignerID: newExt, oldSignerID: oldExt}))

	consumeWithHead(t, p, head("o/1", 6))
	eventually(t, func() bool { return counter(t, tel, metricFailures) >= 1 }, "a refused transition checkpoint")
	consumeWithHead(t, p, head("o/1", 9))
	next.failing.Store(false)
	eventually(t, func() bool { return len(checkpointBatches(next.AllLogs())) >= 1 }, "the transition checkpoint")
	cb := checkpointBatches(next.AllLogs())[0]
	anns := recordsWithEvent([]plog.Logs{cb}, integrity.EventKeyAnnouncement)
	require.Len(t, anns, 2)
	verifyAnnouncement(t, anns[0], oldS, "o/1")
	verifyAnnouncement(t, anns[1], newS, "o/1")
	assert.Equal(t, keyID(oldS), attrStr(t, anns[1], integrity.AttrKeyPrevious))
	cps := recordsWithEvent([]plog.Logs{cb}, integrity.EventCheckpoint)
	require.Len(t, cps, 1)
	verifyTransition(t, cps[0], oldS, newS, head("o/1", 9))
}

// shutdownPromptly fails the test rather than hanging it when Shutdown
// does not return.
func shutdownPromptly(t *testing.T, p *signProcessor) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		require.FailNow(t, "Shutdown did not return")
	}
}

func TestKeyRotationStartFailures(t *testing.T) {
	path := writeKeyFile(t, "ed25519")
	same := fileSignerExt(t, "key-2026", path)
	tests := []struct {
		name string
		host testHost
		want string
	}{
		{
			name: "same key",
			host: testHost{newSignerID: fileSignerExt(t, "key-2026", path), oldSignerID: same},
			want: `previous_signer "signer/old" holds the same key as signer "signer/new": nothing to rotate`,
		},
		{
			// A key renamed is not a rotation either.
			name: "same key under another name",
			host: testHost{newSignerID: fileSignerExt(t, "renamed", path), oldSignerID: same},
			want: "holds the same key",
		},
		{
			name: "previous signer missing",
			host: testHost{newSignerID: same},
			want: `previous_signer: signer extension "signer/old" not found`,
		},
		{
			name: "previous signer not started",
			host: testHost{newSignerID: same, oldSignerID: fakeSignerExt{}},
			want: `previous_signer: signer extension "signer/old" has not started`,
		},
		{
			name: "previous not a signer",
			host: testHost{newSignerID: same, oldSignerID: plainExt{}},
			want: `previous_signer: extension "signer/old" is not a signer extension`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p, _ := newSign(t, rotationConfig(time.Hour, 1), sink)
			err := p.Start(context.Background(), tt.host)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.want)
			// A failed start leaves nothing running, and Shutdown says so
			// rather than waiting for a loop that never started.
			shutdownPromptly(t, p)
			assert.Empty(t, sink.AllLogs())
		})
	}
}

// A checkpoint signer that cannot sign with the old key: the transition
// checkpoint is not emitted (with the new key alone a verifier trusting the
// old key could not follow), and the failure is counted.
func TestKeyRotationPreviousKeyCannotSign(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, tel := newSign(t, rotationConfig(time.Hour, 1), sink)
	require.NoError(t, p.Start(context.Background(), testHost{
		newSignerID: fakeSignerExt{newSigner(t, "ed25519")},
		oldSignerID: fakeSignerExt{failingSigner{newSigner(t, "ecdsa-p256")}},
	}))
	consumeWithHead(t, p, head("o/1", 3))
	eventually(t, func() bool { return counter(t, tel, metricFailures) >= 1 }, "a signing failure")
	assert.Empty(t, recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint))
	err := p.Shutdown(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "TPM is gone")
}
