package signprocessor

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// evidenceSigner is a key signer that claims to live in a TPM: it hands out
// canned evidence (checking it is the verifier's business, not ours).
type evidenceSigner struct {
	integrity.Signer
	evidence *integrity.TPMEvidence
}

func (s evidenceSigner) TPMEvidence() *integrity.TPMEvidence { return s.evidence }

var _ integrity.EvidenceSigner = evidenceSigner{}

func cannedEvidence(withEK bool) *integrity.TPMEvidence {
	ev := &integrity.TPMEvidence{
		KeyPublic:        []byte("key public area"),
		CertifyInfo:      []byte("certify info"),
		CertifySignature: []byte("certify signature"),
		AKPublic:         []byte("ak public area"),
	}
	if withEK {
		ev.EKPublic = []byte("ek public area")
		ev.EKCertificate = []byte("ek certificate der")
	}
	return ev
}

var tpmAttrs = []string{
	integrity.AttrTPMKeyPublic, integrity.AttrTPMCertifyInfo, integrity.AttrTPMCertifySignature,
	integrity.AttrTPMAKPublic, integrity.AttrTPMEKPublic, integrity.AttrTPMEKCertificate,
}

func assertNoEvidence(t *testing.T, lr plog.LogRecord) {
	t.Helper()
	for _, k := range tpmAttrs {
		_, ok := lr.Attributes().Get(k)
		assert.False(t, ok, "%s on an announcement without evidence", k)
	}
	assert.NotContains(t, lr.Body().Str(), "TPM")
}

// announcementsOf seals one checkpoint at shutdown and returns the
// announcements.
func announcementsOf(t *testing.T, p *signProcessor, sink *consumertest.LogsSink) []plog.LogRecord {
	t.Helper()
	consumeWithHead(t, p, head("o/1", 3))
	require.NoError(t, p.Shutdown(context.Background()))
	return recordsWithEvent(sink.AllLogs(), integrity.EventKeyAnnouncement)
}

func TestAnnouncementCarriesTPMEvidence(t *testing.T) {
	for _, withEK := range []bool{true, false} {
		name := "with EK"
		if !withEK {
			name = "without EK"
		}
		t.Run(name, func(t *testing.T) {
			ev := cannedEvidence(withEK)
			signer := evidenceSigner{newSigner(t, "ecdsa-p256"), ev}
			sink := new(consumertest.LogsSink)
			p, _ := startSign(t, testConfig(time.Hour, 1000), sink, signer)
			anns := announcementsOf(t, p, sink)
			require.Len(t, anns, 1)
			lr := anns[0]
			verifyAnnouncement(t, lr, signer, "o/1")
			want := map[string][]byte{
				integrity.AttrTPMKeyPublic:        ev.KeyPublic,
				integrity.AttrTPMCertifyInfo:      ev.CertifyInfo,
				integrity.AttrTPMCertifySignature: ev.CertifySignature,
				integrity.AttrTPMAKPublic:         ev.AKPublic,
				integrity.AttrTPMEKPublic:         ev.EKPublic,
				integrity.AttrTPMEKCertificate:    ev.EKCertificate,
			}
			for k, v := range want {
				got, ok := lr.Attributes().Get(k)
				if len(v) == 0 {
					assert.False(t, ok, "%s is left out when the TPM has none", k)
					continue
				}
				require.True(t, ok, "announcement lacks %s", k)
				assert.Equal(t, base64.StdEncoding.EncodeToString(v), got.Str(), k)
			}
			assert.Contains(t, lr.Body().Str(), "TPM")
			// The verifier reads it back as it was given.
			back, err := integrity.TPMEvidenceFromAttributes(lr.Attributes())
			require.NoError(t, err)
			assert.Equal(t, ev.KeyPublic, back.KeyPublic)
			assert.Equal(t, ev.AKPublic, back.AKPublic)
			assert.Equal(t, ev.EKCertificate, back.EKCertificate)
			// The checkpoint is signed as usual.
			cps := recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)
			require.Len(t, cps, 1)
			verifyCheckpoint(t, cps[0], signer, head("o/1", 3))
		})
	}
}

func TestAnnouncementWithoutTPMEvidence(t *testing.T) {
	t.Run("plain signer", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		p, _ := startSign(t, testConfig(time.Hour, 1000), sink, newSigner(t, "ecdsa-p256"))
		anns := announcementsOf(t, p, sink)
		require.Len(t, anns, 1)
		assertNoEvidence(t, anns[0])
	})
	t.Run("evidence signer without evidence", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		p, _ := startSign(t, testConfig(time.Hour, 1000), sink, evidenceSigner{Signer: newSigner(t, "ecdsa-p256")})
		anns := announcementsOf(t, p, sink)
		require.Len(t, anns, 1)
		assertNoEvidence(t, anns[0])
	})
}

// Rotating from a file key to a TPM key: each announcement carries the
// evidence of its own key only.
func TestRotationAnnouncementsEvidencePerKey(t *testing.T) {
	ev := cannedEvidence(true)
	oldS := newSigner(t, "ed25519")
	newS := evidenceSigner{newSigner(t, "ecdsa-p256"), ev}
	sink := new(consumertest.LogsSink)
	p, _ := newSign(t, rotationConfig(time.Hour, 1000), sink)
	require.NoError(t, p.Start(context.Background(), testHost{newSignerID: fakeSignerExt{newS}, oldSignerID: fakeSignerExt{oldS}}))
	anns := announcementsOf(t, p, sink)
	require.Len(t, anns, 2)
	verifyAnnouncement(t, anns[0], oldS, "o/1")
	assertNoEvidence(t, anns[0])
	verifyAnnouncement(t, anns[1], newS, "o/1")
	assert.Equal(t, keyID(oldS), attrStr(t, anns[1], integrity.AttrKeyPrevious))
	assert.Equal(t, base64.StdEncoding.EncodeToString(ev.CertifyInfo), attrStr(t, anns[1], integrity.AttrTPMCertifyInfo))
	cps := recordsWithEvent(sink.AllLogs(), integrity.EventCheckpoint)
	require.Len(t, cps, 1)
	verifyTransition(t, cps[0], oldS, newS, head("o/1", 3))
}
