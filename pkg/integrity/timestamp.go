package integrity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/digitorus/timestamp"
)

// RFC 3161 time-stamps give checkpoints trusted time: a time-stamp authority
// (TSA) signs a checkpoint's digest together with its clock, so a verifier
// can show that the checkpoint, and every record under it, existed by then,
// independently of the log's own key and clock.
//
// github.com/digitorus/timestamp builds requests and parses tokens. Its
// Parse checks the CMS signature (message digest of the TSTInfo and the
// signature over the signed attributes, against the signer certificate
// found by issuer and serial among the embedded certificates), but only
// when the token embeds certificates, and it checks nothing about who
// signed: no chain, no key usage, no ESS signing-certificate binding, no
// content type. VerifyTimestampToken does those itself.

var (
	oidSignedData               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidExtExtendedKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidSHA256                   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384                   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512                   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// NewTimestampRequest returns a DER TimeStampReq for a SHA-256 digest, with
// certReq set (the TSA must include its certificate, which the verifier
// needs offline) and a fresh random 128-bit nonce, which the caller keeps
// to check the reply with VerifyTimestampToken: the nonce shows the token
// answers this request and is not a replay of an older one.
func NewTimestampRequest(digest [32]byte) (der []byte, nonce *big.Int, err error) {
	var b [16]byte
	for nonce == nil || nonce.Sign() == 0 { // positive, as RFC 3161 nonces are
		if _, err := rand.Read(b[:]); err != nil {
			return nil, nil, fmt.Errorf("time-stamp request nonce: %w", err)
		}
		nonce = new(big.Int).SetBytes(b[:])
	}
	req := timestamp.Request{
		HashAlgorithm: crypto.SHA256,
		HashedMessage: digest[:],
		Certificates:  true,
		Nonce:         nonce,
	}
	der, err = req.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("time-stamp request: %w", err)
	}
	return der, nonce, nil
}

// timeStampResp is RFC 3161 §2.4.2 TimeStampResp.
type timeStampResp struct {
	Status struct {
		Status       int
		StatusString []string       `asn1:"optional,utf8"`
		FailInfo     asn1.BitString `asn1:"optional"`
	}
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// ParseTimestampResponse returns the TimeStampToken (a DER CMS ContentInfo)
// of a TimeStampResp whose status is granted or grantedWithMods. It does
// not verify the token; VerifyTimestampToken does.
func ParseTimestampResponse(resp []byte) (token []byte, err error) {
	var r timeStampResp
	rest, err := asn1.Unmarshal(resp, &r)
	if err != nil {
		return nil, fmt.Errorf("time-stamp response: not a TimeStampResp: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("time-stamp response: trailing data after the TimeStampResp")
	}
	if s := r.Status.Status; s != int(timestamp.Granted) && s != int(timestamp.GrantedWithMods) {
		msg := fmt.Sprintf("time-stamp response: status %d (%s)", s, timestamp.Status(s))
		if fi := failureInfo(r.Status.FailInfo); fi != "" {
			msg += ", failure info: " + fi
		}
		if len(r.Status.StatusString) > 0 {
			msg += fmt.Sprintf(", TSA says %q", strings.Join(r.Status.StatusString, "; "))
		}
		return nil, errors.New(msg)
	}
	if len(r.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("time-stamp response: status %d (%s) but no time-stamp token",
			r.Status.Status, timestamp.Status(r.Status.Status))
	}
	return r.TimeStampToken.FullBytes, nil
}

// failureInfo names the bits set in a PKIFailureInfo.
func failureInfo(bits asn1.BitString) string {
	var names []string
	for i := 0; i < bits.BitLength; i++ {
		if bits.At(i) == 1 {
			names = append(names, fmt.Sprintf("%s (bit %d)", timestamp.FailureInfo(i), i))
		}
	}
	return strings.Join(names, ", ")
}

// TimestampInfo is what a verified time-stamp token says.
type TimestampInfo struct {
	// Time is the TSA's genTime: the digest existed at or before it.
	Time time.Time
	// TSA is the subject of the signing certificate.
	TSA string
	// Serial is the token's serial number, unique per TSA.
	Serial *big.Int
	// Policy is the TSA policy OID the token was issued under.
	Policy string
	// SignerCert is the TSA certificate that signed the token.
	SignerCert *x509.Certificate
}

// VerifyTimestampToken checks a time-stamp token offline and returns what
// it says. It checks, each failure with its own error:
//   - the token is a CMS SignedData of a TSTInfo with exactly one signer,
//     whose certificate is embedded in the token;
//   - the CMS signature verifies against that certificate;
//   - the signed ESS signing-certificate attribute names that certificate
//     (so the signer cannot be swapped for another certificate of the
//     same key);
//   - the certificate chains to one of roots (intermediates taken from the
//     token) for time-stamping, at the token's genTime, so tokens stay
//     verifiable after the TSA certificate expires;
//   - its extended key usage extension is critical and holds only
//     id-kp-timeStamping (RFC 3161 §2.3);
//   - the message imprint is SHA-256 of digest;
//   - the token's nonce equals nonce. A nil nonce means "do not check": an
//     offline verifier that did not keep the request's nonce has nothing to
//     compare with. Callers that sent the request always pass its nonce.
//
// roots must be the pinned TSA roots; nil is refused rather than falling
// back to the system roots, which would trust any public TSA.
func VerifyTimestampToken(token []byte, digest [32]byte, nonce *big.Int, roots *x509.CertPool) (*TimestampInfo, error) {
	if roots == nil {
		return nil, errors.New("time-stamp token: no pinned TSA roots to verify against")
	}
	return checkTimestampToken(token, digest, nonce, roots)
}

// CheckTimestampToken makes every check of VerifyTimestampToken except the
// chain to pinned roots: what the collector can check of the answer it got,
// before the token goes into the trail for a verifier with roots.
func CheckTimestampToken(token []byte, digest [32]byte, nonce *big.Int) (*TimestampInfo, error) {
	return checkTimestampToken(token, digest, nonce, nil)
}

func checkTimestampToken(token []byte, digest [32]byte, nonce *big.Int, roots *x509.CertPool) (*TimestampInfo, error) {
	cms, err := parseTokenCMS(token)
	if err != nil {
		return nil, fmt.Errorf("time-stamp token: %w", err)
	}
	signer := cms.signer
	// The token embeds certificates (parseTokenCMS made sure), so Parse
	// verifies the CMS signature; without them it would skip it.
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("time-stamp token: signature does not verify: %w", err)
	}
	if !ts.AddTSACertificate || len(ts.Certificates) != len(cms.certs) {
		return nil, errors.New("time-stamp token: the CMS parser saw other certificates than the structure check")
	}
	if err := cms.checkSignedAttrs(); err != nil {
		return nil, fmt.Errorf("time-stamp token: %w", err)
	}

	if roots != nil {
		intermediates := x509.NewCertPool()
		for _, c := range cms.certs {
			intermediates.AddCert(c)
		}
		if _, err := signer.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: intermediates,
			CurrentTime:   ts.Time,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		}); err != nil {
			return nil, fmt.Errorf("time-stamp token: signer certificate does not chain to a pinned TSA root: %w", err)
		}
	}
	if err := checkTSAExtKeyUsage(signer); err != nil {
		return nil, fmt.Errorf("time-stamp token: %w", err)
	}

	if ts.HashAlgorithm != crypto.SHA256 {
		return nil, fmt.Errorf("time-stamp token: message imprint uses %v, want SHA-256", ts.HashAlgorithm)
	}
	if !bytes.Equal(ts.HashedMessage, digest[:]) {
		return nil, fmt.Errorf("time-stamp token: message imprint %x does not match the checkpoint %x", ts.HashedMessage, digest)
	}
	if nonce != nil {
		switch {
		case ts.Nonce == nil:
			return nil, fmt.Errorf("time-stamp token: carries no nonce, the request's was %x", nonce)
		case ts.Nonce.Cmp(nonce) != 0:
			return nil, fmt.Errorf("time-stamp token: nonce %x does not match the request's %x", ts.Nonce, nonce)
		}
	}
	return &TimestampInfo{
		Time:       ts.Time,
		TSA:        signer.Subject.String(),
		Serial:     ts.SerialNumber,
		Policy:     ts.Policy.String(),
		SignerCert: signer,
	}, nil
}

// checkTSAExtKeyUsage applies RFC 3161 §2.3: the TSA's certificate must
// have exactly one extended key usage, id-kp-timeStamping, in an extension
// marked critical, so the key cannot be a general-purpose key that also
// signs time-stamps.
func checkTSAExtKeyUsage(cert *x509.Certificate) error {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidExtExtendedKeyUsage) {
			continue
		}
		if !ext.Critical {
			return errors.New("the TSA certificate's extended key usage is not critical (RFC 3161 §2.3)")
		}
		if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(cert.UnknownExtKeyUsage) > 0 {
			return errors.New("the TSA certificate's extended key usage is not exactly id-kp-timeStamping (RFC 3161 §2.3)")
		}
		return nil
	}
	return errors.New("the TSA certificate has no extended key usage extension (RFC 3161 §2.3 requires id-kp-timeStamping)")
}

// The CMS structures (RFC 5652) that VerifyTimestampToken needs to see and
// digitorus does not show: the signer's identity and its signed attributes.
type (
	cmsContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"` // for a RawValue, the [0] itself
	}
	cmsSignedData struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo struct {
			EContentType asn1.ObjectIdentifier
			EContent     asn1.RawValue `asn1:"explicit,optional,tag:0"`
		}
		Certificates asn1.RawValue   `asn1:"optional,tag:0"`
		CRLs         asn1.RawValue   `asn1:"optional,tag:1"`
		SignerInfos  []cmsSignerInfo `asn1:"set"`
	}
	cmsSignerInfo struct {
		Version            int
		SID                asn1.RawValue
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        []cmsAttribute `asn1:"optional,tag:0"`
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
		UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
	}
	cmsAttribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue `asn1:"set"`
	}
	cmsIssuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
)

// unmarshalDER is asn1.Unmarshal that refuses trailing bytes.
func unmarshalDER(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

// tokenCMS is what VerifyTimestampToken takes from the token's CMS
// structure itself.
type tokenCMS struct {
	signer      *x509.Certificate   // the one signer's certificate
	certs       []*x509.Certificate // every certificate the token embeds
	signedAttrs []cmsAttribute
}

// parseTokenCMS checks the token's CMS structure: a DER SignedData of a
// TSTInfo, one signer identified by issuer and serial number, its
// certificate embedded.
func parseTokenCMS(token []byte) (*tokenCMS, error) {
	var ci cmsContentInfo
	if err := unmarshalDER(token, &ci); err != nil {
		return nil, fmt.Errorf("not a DER CMS ContentInfo: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("content type %v is not SignedData", ci.ContentType)
	}
	var sd cmsSignedData
	if err := unmarshalDER(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("malformed SignedData: %w", err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("signed content type %v is not TSTInfo", sd.EncapContentInfo.EContentType)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%d signers, want exactly 1", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if len(sd.Certificates.Bytes) == 0 {
		return nil, errors.New("no certificates embedded (the request must set certReq)")
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("embedded certificates: %w", err)
	}
	if si.SID.Class != asn1.ClassUniversal || si.SID.Tag != asn1.TagSequence {
		return nil, errors.New("signer is identified by subject key identifier; only issuer and serial number is supported")
	}
	var ias cmsIssuerAndSerial
	if err := unmarshalDER(si.SID.FullBytes, &ias); err != nil {
		return nil, fmt.Errorf("malformed signer identifier: %w", err)
	}
	// The same match digitorus/pkcs7 uses to pick the certificate it
	// verifies the signature with.
	for _, c := range certs {
		if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
			return &tokenCMS{signer: c, certs: certs, signedAttrs: si.SignedAttrs}, nil
		}
	}
	return nil, errors.New("the signer's certificate is not embedded in the token")
}

// attr returns the single value of the signed attribute typ.
func (c *tokenCMS) attr(typ asn1.ObjectIdentifier) ([]byte, bool) {
	for _, a := range c.signedAttrs {
		if a.Type.Equal(typ) {
			return a.Values.Bytes, true
		}
	}
	return nil, false
}

// essCertID covers ESSCertID (RFC 2634, SHA-1) and ESSCertIDv2 (RFC 5035,
// hash algorithm defaulting to SHA-256).
type essCertID struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"` // v2 only
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

type signingCertificate struct {
	Certs    []essCertID
	Policies asn1.RawValue `asn1:"optional"`
}

// checkSignedAttrs checks the signed attributes that tie the signature to
// a TSTInfo and to the signer's certificate: content type TSTInfo, and an
// ESS signing-certificate attribute (RFC 3161 §2.4.1 requires one) whose
// first entry is the hash of the signer's certificate. Without the latter,
// anyone holding a certificate for the TSA's key (or a reissued one) could
// present it as the signer.
func (c *tokenCMS) checkSignedAttrs() error {
	ct, ok := c.attr(oidAttrContentType)
	var oid asn1.ObjectIdentifier
	if !ok || unmarshalDER(ct, &oid) != nil || !oid.Equal(oidTSTInfo) {
		return errors.New("the signed content-type attribute is missing or not TSTInfo")
	}
	var (
		sc   signingCertificate
		hash crypto.Hash
	)
	if v, ok := c.attr(oidAttrSigningCertificateV2); ok {
		if err := unmarshalDER(v, &sc); err != nil || len(sc.Certs) == 0 {
			return fmt.Errorf("malformed ESS signing-certificate-v2 attribute: %v", err)
		}
		switch alg := sc.Certs[0].HashAlgorithm.Algorithm; {
		case len(alg) == 0 || alg.Equal(oidSHA256):
			hash = crypto.SHA256
		case alg.Equal(oidSHA384):
			hash = crypto.SHA384
		case alg.Equal(oidSHA512):
			hash = crypto.SHA512
		default:
			return fmt.Errorf("ESS signing-certificate-v2 hash algorithm %v is not supported", alg)
		}
	} else if v, ok := c.attr(oidAttrSigningCertificate); ok {
		if err := unmarshalDER(v, &sc); err != nil || len(sc.Certs) == 0 {
			return fmt.Errorf("malformed ESS signing-certificate attribute: %v", err)
		}
		hash = crypto.SHA1
	} else {
		return errors.New("no ESS signing-certificate attribute binds the signer's certificate (RFC 3161 §2.4.1)")
	}
	if !bytes.Equal(sc.Certs[0].CertHash, certHash(hash, c.signer.Raw)) {
		return errors.New("the ESS signing-certificate attribute names a different certificate than the signer's")
	}
	return nil
}

func certHash(h crypto.Hash, der []byte) []byte {
	switch h {
	case crypto.SHA1:
		s := sha1.Sum(der)
		return s[:]
	case crypto.SHA384:
		s := sha512.Sum384(der)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(der)
		return s[:]
	default:
		s := sha256.Sum256(der)
		return s[:]
	}
}
