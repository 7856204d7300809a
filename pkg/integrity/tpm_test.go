package integrity

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The TPM evidence these tests check comes from swtpm, through the signer
// extension's TPM provider: pkg/integrity cannot run it (the extension
// imports this package). extension/signerextension's
// TestWriteTPMEvidenceFuzzSeeds writes testdata/tpm_evidence.json and the
// FuzzVerifyTPMEvidence seeds when AGENTAUDIT_WRITE_FUZZ_SEEDS=1.

// loadTPMEvidence reads the committed evidence fixture: a checkpoint key
// "host-a" certified by swtpm's attestation key, with the EK's public area
// and no EK certificate (swtpm without swtpm_setup has none).
func loadTPMEvidence(t *testing.T) (*TPMEvidence, string, *ecdsa.PublicKey) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tpm_evidence.json"))
	require.NoError(t, err)
	var fixture struct {
		VKey     string       `json:"vkey"`
		Evidence *TPMEvidence `json:"evidence"`
	}
	require.NoError(t, json.Unmarshal(data, &fixture))
	require.NotNil(t, fixture.Evidence)
	pub, err := PublicKeyFromVerifierKey(fixture.VKey)
	require.NoError(t, err)
	ecPub, ok := pub.(*ecdsa.PublicKey)
	require.True(t, ok, "the fixture's verifier key is ECDSA P-256, got %T", pub)
	return fixture.Evidence, fixture.VKey, ecPub
}

// cloneEvidence copies every field, so a test can change one.
func cloneEvidence(e *TPMEvidence) *TPMEvidence {
	return &TPMEvidence{
		KeyPublic:        bytes.Clone(e.KeyPublic),
		CertifyInfo:      bytes.Clone(e.CertifyInfo),
		CertifySignature: bytes.Clone(e.CertifySignature),
		AKPublic:         bytes.Clone(e.AKPublic),
		EKPublic:         bytes.Clone(e.EKPublic),
		EKCertificate:    bytes.Clone(e.EKCertificate),
	}
}

func TestTPMEvidenceVerifies(t *testing.T) {
	ev, vkey, pub := loadTPMEvidence(t)
	facts, err := VerifyTPMEvidence(ev, vkey, pub)
	require.NoError(t, err)
	akName, err := TPMName(ev.AKPublic)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(akName), facts.AKName)
	assert.Len(t, facts.AKName, 68)
	assert.True(t, strings.HasPrefix(facts.AKName, "000b"), facts.AKName)
	ekName, err := TPMName(ev.EKPublic)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(ekName), facts.EKName)
	assert.Nil(t, facts.EKCertificate)

	// Without the optional EK fields the evidence still stands on the AK.
	noEK := cloneEvidence(ev)
	noEK.EKPublic, noEK.EKCertificate = nil, nil
	facts2, err := VerifyTPMEvidence(noEK, vkey, pub)
	require.NoError(t, err)
	assert.Equal(t, facts.AKName, facts2.AKName)
	assert.Empty(t, facts2.EKName)

	// The key in the TPM is the announced key.
	key, err := TPMPublicKey(ev.KeyPublic)
	require.NoError(t, err)
	assert.True(t, key.Equal(pub))

	// Through a key announcement's attributes and back.
	m := pcommon.NewMap()
	ev.PutAttributes(m)
	back, err := TPMEvidenceFromAttributes(m)
	require.NoError(t, err)
	assert.Equal(t, ev.KeyPublic, back.KeyPublic)
	assert.Equal(t, ev.CertifyInfo, back.CertifyInfo)
	assert.Equal(t, ev.CertifySignature, back.CertifySignature)
	assert.Equal(t, ev.AKPublic, back.AKPublic)
	assert.Equal(t, ev.EKPublic, back.EKPublic)
	assert.Empty(t, back.EKCertificate)
	_, err = VerifyTPMEvidence(back, vkey, pub)
	require.NoError(t, err)
}

// Every byte of the key's public area, the certify info, its signature and
// the AK's public area matters: flipping any one makes the evidence fail.
// (The AK's whole public area is bound through the qualified signer name
// the TPM writes into the certify info.)
func TestTPMEvidenceRefusesAnyFlippedByte(t *testing.T) {
	ev, vkey, pub := loadTPMEvidence(t)
	_, err := VerifyTPMEvidence(ev, vkey, pub)
	require.NoError(t, err)
	fields := map[string]func(*TPMEvidence) []byte{
		"KeyPublic":        func(e *TPMEvidence) []byte { return e.KeyPublic },
		"CertifyInfo":      func(e *TPMEvidence) []byte { return e.CertifyInfo },
		"CertifySignature": func(e *TPMEvidence) []byte { return e.CertifySignature },
		"AKPublic":         func(e *TPMEvidence) []byte { return e.AKPublic },
	}
	for name, field := range fields {
		for i := range field(ev) {
			for _, mask := range []byte{0x01, 0x80} {
				bad := cloneEvidence(ev)
				field(bad)[i] ^= mask
				_, err := VerifyTPMEvidence(bad, vkey, pub)
				assert.Error(t, err, "%s byte %d ^ %#x", name, i, mask)
			}
		}
	}
}

func TestTPMEvidenceFlippedFieldErrors(t *testing.T) {
	ev, vkey, pub := loadTPMEvidence(t)
	last := func(b []byte) { b[len(b)-1] ^= 1 }
	for name, tc := range map[string]struct {
		change func(*TPMEvidence)
		want   string
	}{
		// The TPMS_ATTEST is checked by the signature before it is parsed.
		"CertifyInfo magic":  {func(e *TPMEvidence) { e.CertifyInfo[0] ^= 1 }, "signature over the certify info does not verify"},
		"CertifyInfo last":   {func(e *TPMEvidence) { last(e.CertifyInfo) }, "signature over the certify info does not verify"},
		"CertifySignature S": {func(e *TPMEvidence) { last(e.CertifySignature) }, "signature over the certify info does not verify"},
		// TPMT_SIGNATURE: sigAlg (2), then the ECDSA hash (2).
		"CertifySignature alg": {func(e *TPMEvidence) {
			e.CertifySignature[1] ^= 1 // TPM_ALG_ECDSA (0x0018) -> 0x0019 (ECDAA)
		}, "TPM evidence: certify signature: unmarshalling"},
		"CertifySignature hash": {func(e *TPMEvidence) {
			e.CertifySignature[3] = 0x0c // SHA-256 (0x000b) -> SHA-384 (0x000c)
		}, "not ECDSA with SHA-256"},
		// The last byte of the public areas is the last of the point's Y:
		// the point leaves the curve.
		"KeyPublic point": {func(e *TPMEvidence) { last(e.KeyPublic) }, "TPM evidence: key: public point"},
		"AKPublic point":  {func(e *TPMEvidence) { last(e.AKPublic) }, "TPM evidence: AK: public point"},
		// TPMT_PUBLIC: type (2), nameAlg (2), objectAttributes (4, big
		// endian): byte 7 holds fixedTPM (0x02) and fixedParent (0x10).
		"KeyPublic fixedTPM": {func(e *TPMEvidence) { e.KeyPublic[7] ^= 0x02 }, "fixedTPM, fixedParent and sensitiveDataOrigin must be set"},
		"AKPublic fixedTPM":  {func(e *TPMEvidence) { e.AKPublic[7] ^= 0x02 }, "not a restricted, fixedTPM signing key"},
		// SHA-256 (0x000b) -> SHA-1 (0x0004): the certify info names the
		// SHA-256 Name, and the key's Name must be SHA-256.
		"KeyPublic nameAlg":  {func(e *TPMEvidence) { e.KeyPublic[3] = 0x04 }, "want SHA-256"},
		"AKPublic trailing":  {func(e *TPMEvidence) { e.AKPublic = append(e.AKPublic, 0) }, "trailing or non-canonical"},
		"KeyPublic trailing": {func(e *TPMEvidence) { e.KeyPublic = append(e.KeyPublic, 0) }, "trailing or non-canonical"},
		"CertifySignature trailing": {func(e *TPMEvidence) {
			e.CertifySignature = append(e.CertifySignature, 0)
		}, "trailing or non-canonical"},
		"EKPublic trailing":  {func(e *TPMEvidence) { e.EKPublic = append(e.EKPublic, 0) }, "TPM evidence: EK: TPM public area: malformed TPM structure: trailing or non-canonical"},
		"EKCertificate junk": {func(e *TPMEvidence) { e.EKCertificate = []byte{0x30, 0x00} }, "TPM evidence: EK certificate"},
		"no KeyPublic":       {func(e *TPMEvidence) { e.KeyPublic = nil }, "incomplete"},
		"no CertifyInfo":     {func(e *TPMEvidence) { e.CertifyInfo = nil }, "incomplete"},
		"no CertifySignature": {func(e *TPMEvidence) {
			e.CertifySignature = nil
		}, "incomplete"},
		"no AKPublic": {func(e *TPMEvidence) { e.AKPublic = nil }, "incomplete"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := cloneEvidence(ev)
			tc.change(bad)
			facts, err := VerifyTPMEvidence(bad, vkey, pub)
			assert.Nil(t, facts)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestTPMEvidenceRefusesAnotherVerifierKey(t *testing.T) {
	ev, vkey, pub := loadTPMEvidence(t)

	// The same key under another name: the TPM's statement was bound to
	// the announced name.
	renamed, _, err := ECDSAVerifierKey("host-z", pub)
	require.NoError(t, err)
	require.NotEqual(t, vkey, renamed)
	_, err = VerifyTPMEvidence(ev, renamed, pub)
	assert.ErrorContains(t, err, "different verifier key")

	// Another key altogether.
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherVKey, _, err := ECDSAVerifierKey("host-a", &otherKey.PublicKey)
	require.NoError(t, err)
	_, err = VerifyTPMEvidence(ev, otherVKey, &otherKey.PublicKey)
	assert.ErrorContains(t, err, "not the announced key")

	// No public key.
	_, err = VerifyTPMEvidence(ev, vkey, nil)
	assert.ErrorContains(t, err, "not the announced key")
}

func TestTPMEvidenceRefusesNil(t *testing.T) {
	_, vkey, pub := loadTPMEvidence(t)
	facts, err := VerifyTPMEvidence(nil, vkey, pub)
	assert.Nil(t, facts)
	assert.ErrorContains(t, err, "carries no TPM evidence")
	_, err = VerifyTPMEvidence(&TPMEvidence{}, vkey, pub)
	assert.ErrorContains(t, err, "incomplete")
}

// An attestation key that is not restricted would sign any digest its user
// gives it, so its signature over a TPMS_ATTEST is no statement of the TPM.
func TestTPMEvidenceRefusesAnUnrestrictedAK(t *testing.T) {
	ev, vkey, pub := loadTPMEvidence(t)
	for name, change := range map[string]func(*tpm2.TPMAObject){
		"not restricted": func(a *tpm2.TPMAObject) { a.Restricted = false },
		"decrypt":        func(a *tpm2.TPMAObject) { a.Decrypt = true },
		"not signing":    func(a *tpm2.TPMAObject) { a.SignEncrypt = false },
		"not fixedTPM":   func(a *tpm2.TPMAObject) { a.FixedTPM = false },
	} {
		t.Run(name, func(t *testing.T) {
			ak, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.AKPublic)
			require.NoError(t, err)
			require.True(t, ak.ObjectAttributes.Restricted)
			change(&ak.ObjectAttributes)
			bad := cloneEvidence(ev)
			bad.AKPublic = tpm2.Marshal(*ak)
			require.NotEqual(t, ev.AKPublic, bad.AKPublic)
			// The attributes are checked before the signature (whose AK
			// Name no longer matches anyway).
			_, err = VerifyTPMEvidence(bad, vkey, pub)
			assert.ErrorContains(t, err, "the attestation key is not a restricted, fixedTPM signing key")
		})
	}
	// The unchanged AK re-marshals to the same bytes: the test changes
	// only what it means to.
	ak, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.AKPublic)
	require.NoError(t, err)
	assert.Equal(t, ev.AKPublic, tpm2.Marshal(*ak))
}

// A checkpoint key that can leave the TPM, or that decrypts, is refused
// even if the AK certified it.
func TestTPMEvidenceRefusesAWeakKey(t *testing.T) {
	ev, vkey, pub := loadTPMEvidence(t)
	for name, tc := range map[string]struct {
		change func(*tpm2.TPMAObject)
		want   string
	}{
		"not fixedParent":         {func(a *tpm2.TPMAObject) { a.FixedParent = false }, "fixedTPM, fixedParent and sensitiveDataOrigin must be set"},
		"not sensitiveDataOrigin": {func(a *tpm2.TPMAObject) { a.SensitiveDataOrigin = false }, "fixedTPM, fixedParent and sensitiveDataOrigin must be set"},
		"decrypt":                 {func(a *tpm2.TPMAObject) { a.Decrypt = true }, "not a signing-only key"},
		"not signing":             {func(a *tpm2.TPMAObject) { a.SignEncrypt = false }, "not a signing-only key"},
	} {
		t.Run(name, func(t *testing.T) {
			key, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.KeyPublic)
			require.NoError(t, err)
			tc.change(&key.ObjectAttributes)
			bad := cloneEvidence(ev)
			bad.KeyPublic = tpm2.Marshal(*key)
			_, err = VerifyTPMEvidence(bad, vkey, pub)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// readFuzzSeed parses a committed corpus file ("go test fuzz v1", then one
// Go literal a line).
func readFuzzSeed(t *testing.T, name string) (*TPMEvidence, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerifyTPMEvidence", name))
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	require.True(t, sc.Scan())
	require.Equal(t, "go test fuzz v1", sc.Text())
	var fields [][]byte
	var vkey string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "[]byte(") && strings.HasSuffix(line, ")"):
			s, err := strconv.Unquote(line[len("[]byte(") : len(line)-1])
			require.NoError(t, err, line)
			fields = append(fields, []byte(s))
		case strings.HasPrefix(line, "string(") && strings.HasSuffix(line, ")"):
			vkey, err = strconv.Unquote(line[len("string(") : len(line)-1])
			require.NoError(t, err, line)
		default:
			t.Fatalf("%s: unexpected line %q", name, line)
		}
	}
	require.Len(t, fields, 6)
	return &TPMEvidence{
		KeyPublic: fields[0], CertifyInfo: fields[1], CertifySignature: fields[2],
		AKPublic: fields[3], EKPublic: fields[4], EKCertificate: fields[5],
	}, vkey
}

// The fuzz seeds are what they say: mutations start from evidence that
// passes every check.
func TestTPMEvidenceFuzzSeeds(t *testing.T) {
	fixture, fixtureVKey, _ := loadTPMEvidence(t)
	for name, wantErr := range map[string]string{
		"valid-with-ek":    "",
		"valid-without-ek": "",
		"other-key":        "not the announced key",
	} {
		t.Run(name, func(t *testing.T) {
			ev, vkey := readFuzzSeed(t, name)
			assert.Equal(t, fixtureVKey, vkey)
			pub, err := PublicKeyFromVerifierKey(vkey)
			require.NoError(t, err)
			_, err = VerifyTPMEvidence(ev, vkey, pub.(*ecdsa.PublicKey))
			if wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, fixture.KeyPublic, ev.KeyPublic)
			} else {
				assert.ErrorContains(t, err, wantErr)
			}
		})
	}
}

func TestTPMNameAndPublicKeyRefuseBadAreas(t *testing.T) {
	ev, _, _ := loadTPMEvidence(t)
	_, err := TPMName(nil)
	assert.Error(t, err)
	_, err = TPMName(append(bytes.Clone(ev.AKPublic), 1))
	assert.ErrorContains(t, err, "trailing or non-canonical")
	_, err = TPMPublicKey([]byte{0x00, 0x23})
	assert.Error(t, err)

	// A SHA-1 name algorithm is refused for the Name.
	ak, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.AKPublic)
	require.NoError(t, err)
	ak.NameAlg = tpm2.TPMAlgSHA1
	_, err = TPMName(tpm2.Marshal(*ak))
	assert.ErrorContains(t, err, "want SHA-256")

	// The Name is 000b and SHA-256 of the public area.
	name, err := TPMName(ev.AKPublic)
	require.NoError(t, err)
	sum := sha256.Sum256(ev.AKPublic)
	assert.Equal(t, append([]byte{0x00, 0x0b}, sum[:]...), name)
}

func TestTPMEvidenceFromAttributes(t *testing.T) {
	m := pcommon.NewMap()
	ev, err := TPMEvidenceFromAttributes(m)
	assert.NoError(t, err)
	assert.Nil(t, ev, "no evidence attributes, no evidence")
	m.PutStr(AttrTPMKeyPublic, "not base64!")
	_, err = TPMEvidenceFromAttributes(m)
	assert.ErrorContains(t, err, AttrTPMKeyPublic+" is not base64")
}

// FuzzVerifyTPMEvidence: whatever evidence and verifier key arrive,
// VerifyTPMEvidence does not panic, and what it accepts holds together:
// the certified key is the verifier key's, the AK is a restricted signing
// key whose signature over a TPM-generated certify statement for this key
// Name and verifier key verifies, and the facts are the Names of the areas
// given. The committed seeds are real swtpm evidence
// (extension/signerextension's TestWriteTPMEvidenceFuzzSeeds), so
// mutations start from evidence that passes every check.
func FuzzVerifyTPMEvidence(f *testing.F) {
	f.Add([]byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, "")
	f.Fuzz(func(t *testing.T, keyPublic, certifyInfo, certifySignature, akPublic, ekPublic, ekCertificate []byte, vkey string) {
		ev := &TPMEvidence{
			KeyPublic: keyPublic, CertifyInfo: certifyInfo, CertifySignature: certifySignature,
			AKPublic: akPublic, EKPublic: ekPublic, EKCertificate: ekCertificate,
		}
		var pub *ecdsa.PublicKey
		if k, err := PublicKeyFromVerifierKey(vkey); err == nil {
			pub, _ = k.(*ecdsa.PublicKey)
		}

		// Through a key announcement's attributes and back: the same bytes.
		m := pcommon.NewMap()
		ev.PutAttributes(m)
		back, err := TPMEvidenceFromAttributes(m)
		if err != nil {
			t.Fatalf("evidence does not read back from its attributes: %v", err)
		}
		if back != nil {
			for i, pair := range [][2][]byte{
				{back.KeyPublic, keyPublic}, {back.CertifyInfo, certifyInfo}, {back.CertifySignature, certifySignature},
				{back.AKPublic, akPublic}, {back.EKPublic, ekPublic}, {back.EKCertificate, ekCertificate},
			} {
				if !bytes.Equal(pair[0], pair[1]) {
					t.Fatalf("attribute round trip changed field %d", i)
				}
			}
		}

		facts, err := VerifyTPMEvidence(ev, vkey, pub)
		if err != nil {
			if facts != nil {
				t.Fatalf("facts %+v with error %v", facts, err)
			}
			return
		}
		if facts == nil {
			t.Fatal("no error and no facts")
		}

		// The certified key is the announced one, and the verifier key is
		// that key's, exactly as the signer renders it.
		key, err := TPMPublicKey(keyPublic)
		if err != nil || pub == nil || !key.Equal(pub) {
			t.Fatalf("accepted a key public area that is not the verifier key's (%v)", err)
		}
		name, _, _ := strings.Cut(vkey, "+")
		if want, _, err := ECDSAVerifierKey(name, key); err != nil || want != vkey {
			t.Fatalf("accepted verifier key %q; the key renders as %q (%v)", vkey, want, err)
		}
		keyArea, err := tpm2.Unmarshal[tpm2.TPMTPublic](keyPublic)
		if err != nil {
			t.Fatal(err)
		}
		if a := keyArea.ObjectAttributes; !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.SignEncrypt || a.Decrypt {
			t.Fatalf("accepted key attributes %+v", a)
		}
		keyName, err := TPMName(keyPublic)
		if err != nil {
			t.Fatal(err)
		}

		// The AK is a restricted signing key and the facts name it.
		akArea, err := tpm2.Unmarshal[tpm2.TPMTPublic](akPublic)
		if err != nil {
			t.Fatal(err)
		}
		if a := akArea.ObjectAttributes; !a.FixedTPM || !a.Restricted || !a.SignEncrypt || a.Decrypt {
			t.Fatalf("accepted AK attributes %+v", a)
		}
		akName, err := TPMName(akPublic)
		if err != nil || facts.AKName != hex.EncodeToString(akName) {
			t.Fatalf("AKName %q is not the AK's Name %x (%v)", facts.AKName, akName, err)
		}
		if len(facts.AKName) != 68 || !strings.HasPrefix(facts.AKName, "000b") {
			t.Fatalf("AKName %q is not a SHA-256 Name", facts.AKName)
		}

		// The AK signed exactly the certify info, which is a TPM-generated
		// certify statement of this key's Name for this verifier key.
		ak, err := TPMPublicKey(akPublic)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](certifySignature)
		if err != nil || !bytes.Equal(tpm2.Marshal(*sig), certifySignature) {
			t.Fatalf("accepted a certify signature that does not round-trip (%v)", err)
		}
		ecc, err := sig.Signature.ECDSA()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(certifyInfo)
		if !ecdsa.Verify(ak, sum[:], new(big.Int).SetBytes(ecc.SignatureR.Buffer), new(big.Int).SetBytes(ecc.SignatureS.Buffer)) {
			t.Fatal("accepted a certify signature that does not verify")
		}
		attest, err := tpm2.Unmarshal[tpm2.TPMSAttest](certifyInfo)
		if err != nil || !bytes.Equal(tpm2.Marshal(*attest), certifyInfo) {
			t.Fatalf("accepted certify info that does not round-trip (%v)", err)
		}
		if attest.Magic != tpm2.TPMGeneratedValue || attest.Type != tpm2.TPMSTAttestCertify {
			t.Fatalf("accepted certify info of magic %#x type %#x", attest.Magic, attest.Type)
		}
		if !bytes.Equal(attest.ExtraData.Buffer, TPMCertifyQualifyingData(vkey)) {
			t.Fatal("accepted a certify statement for another verifier key")
		}
		certified, err := attest.Attested.Certify()
		if err != nil || !bytes.Equal(certified.Name.Buffer, keyName) {
			t.Fatalf("accepted a certify statement of another Name (%v)", err)
		}

		// The optional EK facts are those of the areas given, and only then.
		if len(ekPublic) == 0 {
			if facts.EKName != "" {
				t.Fatalf("EKName %q without an EK public area", facts.EKName)
			}
		} else if ekName, err := TPMName(ekPublic); err != nil || facts.EKName != hex.EncodeToString(ekName) {
			t.Fatalf("EKName %q is not the EK's Name %x (%v)", facts.EKName, ekName, err)
		}
		if len(ekCertificate) == 0 {
			if facts.EKCertificate != nil {
				t.Fatal("an EK certificate from no bytes")
			}
		} else if facts.EKCertificate == nil || !bytes.Equal(facts.EKCertificate.Raw, ekCertificate) {
			t.Fatal("EKCertificate is not the certificate given")
		}
	})
}
