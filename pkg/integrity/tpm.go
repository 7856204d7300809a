package integrity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TPMEvidence is what a key announcement carries to show that its key lives
// in a TPM: the key's TPM public area, a TPM2_Certify of it by an
// attestation key (AK), the AK's public area, and the endorsement key's
// public area and certificate where the TPM has them. Every field holds
// the TPM's own wire encoding, so any TPM 2.0 tool can check it.
type TPMEvidence struct {
	// KeyPublic is the signing key's TPMT_PUBLIC.
	KeyPublic []byte
	// CertifyInfo is the TPMS_ATTEST that TPM2_Certify produced: the TPM
	// states that an object with the key's Name is loaded in it.
	CertifyInfo []byte
	// CertifySignature is the AK's TPMT_SIGNATURE over CertifyInfo.
	CertifySignature []byte
	// AKPublic is the attestation key's TPMT_PUBLIC.
	AKPublic []byte
	// EKPublic is the endorsement key's TPMT_PUBLIC (optional).
	EKPublic []byte
	// EKCertificate is the EK certificate (DER) from the TPM's NV (optional).
	EKCertificate []byte
}

// Attributes of a key announcement that carry TPM evidence (base64).
const (
	AttrTPMKeyPublic        = "agent_audit.key.tpm.public"
	AttrTPMCertifyInfo      = "agent_audit.key.tpm.certify_info"
	AttrTPMCertifySignature = "agent_audit.key.tpm.certify_signature"
	AttrTPMAKPublic         = "agent_audit.key.tpm.ak_public"
	AttrTPMEKPublic         = "agent_audit.key.tpm.ek_public"
	AttrTPMEKCertificate    = "agent_audit.key.tpm.ek_certificate"
)

// EvidenceSigner is a Signer whose key lives in a TPM and can prove it.
type EvidenceSigner interface {
	Signer
	TPMEvidence() *TPMEvidence
}

// TPMCertifyQualifyingData is the extraData the provider passes to
// TPM2_Certify: it binds the TPM's statement to the note verifier key (name
// and public key) the announcement makes, so evidence cannot be moved to a
// different key name.
func TPMCertifyQualifyingData(vkey string) []byte {
	sum := sha256.Sum256([]byte("agentaudit tpm certify v1\x00" + vkey))
	return sum[:]
}

// PutAttributes writes the evidence onto a key announcement's attributes.
func (e *TPMEvidence) PutAttributes(m pcommon.Map) {
	put := func(k string, v []byte) {
		if len(v) > 0 {
			m.PutStr(k, base64.StdEncoding.EncodeToString(v))
		}
	}
	put(AttrTPMKeyPublic, e.KeyPublic)
	put(AttrTPMCertifyInfo, e.CertifyInfo)
	put(AttrTPMCertifySignature, e.CertifySignature)
	put(AttrTPMAKPublic, e.AKPublic)
	put(AttrTPMEKPublic, e.EKPublic)
	put(AttrTPMEKCertificate, e.EKCertificate)
}

// TPMEvidenceFromAttributes reads the evidence of a key announcement; nil
// without error when the announcement carries none.
func TPMEvidenceFromAttributes(m pcommon.Map) (*TPMEvidence, error) {
	var e TPMEvidence
	found := false
	var errs []error
	get := func(k string, dst *[]byte) {
		v, ok := m.Get(k)
		if !ok {
			return
		}
		found = true
		b, err := base64.StdEncoding.DecodeString(v.AsString())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is not base64", k))
			return
		}
		*dst = b
	}
	get(AttrTPMKeyPublic, &e.KeyPublic)
	get(AttrTPMCertifyInfo, &e.CertifyInfo)
	get(AttrTPMCertifySignature, &e.CertifySignature)
	get(AttrTPMAKPublic, &e.AKPublic)
	get(AttrTPMEKPublic, &e.EKPublic)
	get(AttrTPMEKCertificate, &e.EKCertificate)
	if !found {
		return nil, nil
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &e, nil
}

// TPMKeyFacts is what checked evidence establishes.
type TPMKeyFacts struct {
	// AKName is the TPM Name of the attestation key (hex): what a trust file
	// pins with "tpm-ak".
	AKName string
	// EKName is the TPM Name of the endorsement key (hex), when present.
	EKName string
	// EKCertificate is the parsed EK certificate, when present.
	EKCertificate *x509.Certificate
}

// VerifyTPMEvidence checks evidence against the announced verifier key: the
// certified object is a P-256 signing key generated inside a TPM that can
// never leave it (fixedTPM, fixedParent, sensitiveDataOrigin), its public
// point is the verifier key's, and a restricted attestation key of a TPM
// signed the TPM-generated statement about it, bound to this verifier key.
// Whether the AK is trusted is the caller's question (AKName).
func VerifyTPMEvidence(e *TPMEvidence, vkey string, pub *ecdsa.PublicKey) (*TPMKeyFacts, error) {
	if e == nil {
		return nil, errors.New("the key announcement carries no TPM evidence")
	}
	if len(e.KeyPublic) == 0 || len(e.CertifyInfo) == 0 || len(e.CertifySignature) == 0 || len(e.AKPublic) == 0 {
		return nil, errors.New("TPM evidence is incomplete: it needs the key's public area, the certify info and signature, and the AK's public area")
	}
	keyPub, err := unmarshalStrict[tpm2.TPMTPublic](e.KeyPublic)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: key public area: %w", err)
	}
	a := keyPub.ObjectAttributes
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return nil, errors.New("TPM evidence: the key was not generated in the TPM or can leave it (fixedTPM, fixedParent and sensitiveDataOrigin must be set)")
	}
	if !a.SignEncrypt || a.Decrypt {
		return nil, errors.New("TPM evidence: the key is not a signing-only key")
	}
	tpmKey, err := eccPublic(keyPub)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: key: %w", err)
	}
	if pub == nil || !tpmKey.Equal(pub) {
		return nil, errors.New("TPM evidence: the certified TPM key is not the announced key")
	}

	akPub, err := unmarshalStrict[tpm2.TPMTPublic](e.AKPublic)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: AK public area: %w", err)
	}
	aa := akPub.ObjectAttributes
	// A restricted signing key signs only digests the TPM computed itself
	// when the data starts with TPM_GENERATED_VALUE: that is what makes its
	// signature over TPMS_ATTEST a statement of the TPM, not of its user.
	if !aa.FixedTPM || !aa.Restricted || !aa.SignEncrypt || aa.Decrypt {
		return nil, errors.New("TPM evidence: the attestation key is not a restricted, fixedTPM signing key")
	}
	ak, err := eccPublic(akPub)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: AK: %w", err)
	}
	sig, err := unmarshalStrict[tpm2.TPMTSignature](e.CertifySignature)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: certify signature: %w", err)
	}
	ecc, err := sig.Signature.ECDSA()
	if err != nil || sig.SigAlg != tpm2.TPMAlgECDSA || ecc.Hash != tpm2.TPMAlgSHA256 {
		return nil, errors.New("TPM evidence: certify signature is not ECDSA with SHA-256")
	}
	sum := sha256.Sum256(e.CertifyInfo)
	r := new(big.Int).SetBytes(ecc.SignatureR.Buffer)
	s := new(big.Int).SetBytes(ecc.SignatureS.Buffer)
	if !ecdsa.Verify(ak, sum[:], r, s) {
		return nil, errors.New("TPM evidence: the attestation key's signature over the certify info does not verify")
	}
	attest, err := unmarshalStrict[tpm2.TPMSAttest](e.CertifyInfo)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: certify info: %w", err)
	}
	if attest.Magic != tpm2.TPMGeneratedValue || attest.Type != tpm2.TPMSTAttestCertify {
		return nil, errors.New("TPM evidence: certify info is not a TPM-generated certify statement")
	}
	if !bytes.Equal(attest.ExtraData.Buffer, TPMCertifyQualifyingData(vkey)) {
		return nil, errors.New("TPM evidence: the certify statement was made for a different verifier key")
	}
	info, err := attest.Attested.Certify()
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: certify info: %w", err)
	}
	keyName, err := TPMName(e.KeyPublic)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: key: %w", err)
	}
	if !bytes.Equal(info.Name.Buffer, keyName) {
		return nil, errors.New("TPM evidence: the TPM certified a different key (the Name in the certify info is not the key's)")
	}
	akName, err := TPMName(e.AKPublic)
	if err != nil {
		return nil, fmt.Errorf("TPM evidence: AK: %w", err)
	}
	// The TPM writes the signing key's qualified name into the statement.
	// It binds the AK's whole public area (not only the point the
	// signature was checked with) and says the AK is a primary key of the
	// endorsement hierarchy, as the provider makes it.
	if !bytes.Equal(attest.QualifiedSigner.Buffer, endorsementPrimaryQualifiedName(akName)) {
		return nil, errors.New("TPM evidence: the certify statement was not signed by this attestation key (its qualified name differs)")
	}
	facts := &TPMKeyFacts{AKName: hex.EncodeToString(akName)}
	if len(e.EKPublic) > 0 {
		ekName, err := TPMName(e.EKPublic)
		if err != nil {
			return nil, fmt.Errorf("TPM evidence: EK: %w", err)
		}
		facts.EKName = hex.EncodeToString(ekName)
	}
	if len(e.EKCertificate) > 0 {
		cert, err := x509.ParseCertificate(e.EKCertificate)
		if err != nil {
			return nil, fmt.Errorf("TPM evidence: EK certificate: %w", err)
		}
		facts.EKCertificate = cert
	}
	return facts, nil
}

// TPMName is the TPM Name of an object with the given TPMT_PUBLIC: its
// name algorithm and the digest of the public area under that algorithm
// (what tpm2_readpublic prints as "name").
func TPMName(public []byte) ([]byte, error) {
	p, err := unmarshalStrict[tpm2.TPMTPublic](public)
	if err != nil {
		return nil, fmt.Errorf("TPM public area: %w", err)
	}
	if p.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("TPM public area: name algorithm %v: want SHA-256", p.NameAlg)
	}
	sum := sha256.Sum256(public)
	return append([]byte{0x00, 0x0b}, sum[:]...), nil
}

// endorsementPrimaryQualifiedName is the qualified name of a primary key of
// the endorsement hierarchy with the given Name: SHA-256 of the
// hierarchy's handle (TPM_RH_ENDORSEMENT) followed by the Name.
func endorsementPrimaryQualifiedName(name []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0x40, 0x00, 0x00, 0x0b})
	h.Write(name)
	return append([]byte{0x00, 0x0b}, h.Sum(nil)...)
}

// TPMPublicKey returns the ECDSA P-256 key of a TPMT_PUBLIC.
func TPMPublicKey(public []byte) (*ecdsa.PublicKey, error) {
	p, err := unmarshalStrict[tpm2.TPMTPublic](public)
	if err != nil {
		return nil, err
	}
	return eccPublic(p)
}

func eccPublic(p *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	if p.Type != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("key type %v: want ECC", p.Type)
	}
	params, err := p.Parameters.ECCDetail()
	if err != nil {
		return nil, err
	}
	if params.CurveID != tpm2.TPMECCNistP256 {
		return nil, fmt.Errorf("curve %v: want NIST P-256", params.CurveID)
	}
	point, err := p.Unique.ECC()
	if err != nil {
		return nil, err
	}
	key, err := tpm2.ECDSAPub(params, point)
	if err != nil {
		return nil, err
	}
	// ECDSAPub does not check that the point is on the curve; x509's
	// encoder does, through crypto/ecdh.
	if _, err := x509.MarshalPKIXPublicKey(key); err != nil {
		return nil, fmt.Errorf("public point: %w", err)
	}
	return key, nil
}

// unmarshalStrict decodes a TPM structure and refuses trailing bytes or an
// encoding that does not marshal back to itself, so evidence has one
// meaning.
func unmarshalStrict[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](data []byte) (v *T, err error) {
	// go-tpm's reflection decoder can panic on hostile input.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed TPM structure: %v", r)
		}
	}()
	v, err = tpm2.Unmarshal[T, P](data)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(tpm2.Marshal(*v), data) {
		return nil, errors.New("malformed TPM structure: trailing or non-canonical bytes")
	}
	return v, nil
}
