package signerextension

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// The TPM provider keeps no key material and no persistent handle: both
// keys are primary keys, which a TPM derives again, identical, from its
// hierarchy seed and the template. The checkpoint key lives under the
// owner hierarchy, its template's unique field derived from the key name
// (so a new key name is a new key, for rotation); the attestation key
// lives under the endorsement hierarchy with a fixed template that
// tpm2_createprimary reproduces (docs/integrity.md), so its Name can be
// enrolled without this program.

// ecdsaP256Parameters: both keys sign with ECDSA P-256 and SHA-256.
func ecdsaP256Parameters() tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		CurveID: tpm2.TPMECCNistP256,
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
	})
}

// checkpointKeyTemplate is the template of the checkpoint key for a key name.
func checkpointKeyTemplate(keyName string) tpm2.TPMTPublic {
	unique := sha256.Sum256([]byte("agentaudit checkpoint key v1\x00" + keyName))
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			SignEncrypt:         true,
		},
		Parameters: ecdsaP256Parameters(),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: unique[:]},
		}),
	}
}

// attestationKeyTemplate is the AK's template: a restricted ECDSA P-256
// signing key, the same as
//
//	tpm2_createprimary -C e -g sha256 -G ecc256:ecdsa-sha256:null \
//	  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign'
var attestationKeyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	},
	Parameters: ecdsaP256Parameters(),
	Unique:     tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// NV indices of the EK certificates (TCG EK Credential Profile): ECC P-256
// first, then RSA 2048.
var ekCertIndices = []tpm2.TPMHandle{0x01c0000a, 0x01c00002}

// tpmSigner signs checkpoints with a key inside a TPM. It holds no
// connection and no loaded object between signatures: each one connects,
// derives the key, signs, flushes and disconnects. A checkpoint is signed
// every few seconds at most, so this costs little, and it leaves nothing
// behind for a TPM reset to invalidate or for a crash to leak (a simulator
// has no resource manager to clean up after a dead client, and serves one
// connection at a time).
type tpmSigner struct {
	cfg    TPMConfig
	name   string
	logger *zap.Logger

	// Fixed at start: every later derivation must give the same key.
	pub      *ecdsa.PublicKey
	vkey     string
	hash     uint32
	evidence *integrity.TPMEvidence

	mu sync.Mutex // one TPM conversation at a time
}

var _ integrity.EvidenceSigner = (*tpmSigner)(nil)

// openTPMSigner connects to the TPM, derives the checkpoint key, and has
// the TPM certify it with the attestation key.
func openTPMSigner(cfg TPMConfig, name string, logger *zap.Logger) (*tpmSigner, error) {
	s := &tpmSigner{cfg: cfg, name: name, logger: logger}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.withKey(func(t transport.TPM, key *tpm2.CreatePrimaryResponse) error {
		ev, err := s.certify(t, key)
		if err != nil {
			return err
		}
		s.evidence = ev
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *tpmSigner) Name() string                        { return s.name }
func (s *tpmSigner) KeyHash() uint32                     { return s.hash }
func (s *tpmSigner) VerifierKey() string                 { return s.vkey }
func (s *tpmSigner) Algorithm() string                   { return "ecdsa-p256" }
func (s *tpmSigner) Public() crypto.PublicKey            { return s.pub }
func (s *tpmSigner) TPMEvidence() *integrity.TPMEvidence { return s.evidence }

// Sign signs msg (a checkpoint note) as C2SP ECDSA P-256 signed notes do:
// an ASN.1 signature over SHA-256(msg).
func (s *tpmSigner) Sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	var sig []byte
	err := s.withKey(func(t transport.TPM, key *tpm2.CreatePrimaryResponse) error {
		rsp, err := tpm2.Sign{
			KeyHandle: tpm2.NamedHandle{Handle: key.ObjectHandle, Name: key.Name},
			Digest:    tpm2.TPM2BDigest{Buffer: digest[:]},
			InScheme: tpm2.TPMTSigScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
			},
			// A null ticket: the key is not restricted, so the TPM signs
			// digests it did not compute itself.
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(t)
		if err != nil {
			return err
		}
		ecc, err := rsp.Signature.Signature.ECDSA()
		if err != nil {
			return err
		}
		sig, err = asn1.Marshal(struct{ R, S *big.Int }{
			new(big.Int).SetBytes(ecc.SignatureR.Buffer), new(big.Int).SetBytes(ecc.SignatureS.Buffer)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("TPM signature: %w", err)
	}
	// Checked here so that a TPM answering with another key's signature
	// fails now, not at audit time.
	if !ecdsa.VerifyASN1(s.pub, digest[:], sig) {
		return nil, errors.New("TPM signature does not verify with the key announced at start")
	}
	return sig, nil
}

// withKey connects, derives the checkpoint key, runs op, and flushes and
// disconnects, retrying the whole conversation until it succeeds, fails
// for good, or retry_timeout passes. TPM warnings (RETRY, YIELDED,
// TESTING, ...) are retried; so are a lost connection and a TPM that was
// reset and not started again.
func (s *tpmSigner) withKey(op func(transport.TPM, *tpm2.CreatePrimaryResponse) error) error {
	deadline := time.Now().Add(s.cfg.RetryTimeout)
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.conversation(op)
		if err == nil {
			return nil
		}
		var rc tpm2.TPMRC
		isRC := errors.As(err, &rc)
		var perm permanentError
		switch {
		case errors.As(err, &perm):
			return perm.error
		case isRC && (rc.IsWarning() || errors.Is(rc, tpm2.TPMRCInitialize)):
			// Asked to ask again, or started below (conversation).
		case isRC:
			return err // a real refusal: authorization, attributes, ...
		default:
			// Transport error: the TPM (or the simulator) went away.
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("giving up after %d attempts in %s: %w", attempt, s.cfg.RetryTimeout, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			s.logger.Warn("TPM command failed; retrying", zap.Int("attempt", attempt), zap.Error(err))
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// conversation is one connection: derive the key, run op, flush.
func (s *tpmSigner) conversation(op func(transport.TPM, *tpm2.CreatePrimaryResponse) error) error {
	t, err := openTPM(s.cfg)
	if err != nil {
		return err
	}
	defer t.Close()
	key, err := s.createKey(t)
	var rc tpm2.TPMRC
	if errors.As(err, &rc) {
		switch {
		case errors.Is(rc, tpm2.TPMRCInitialize):
			// Reset without a startup (swtpm without startup-clear, a
			// platform reset): start it, and try again.
			if _, serr := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(t); serr != nil {
				return errors.Join(err, serr)
			}
			key, err = s.createKey(t)
		case errors.Is(rc, tpm2.TPMRCObjectMemory):
			// No resource manager in front of the TPM (a simulator, or
			// /dev/tpm0): transient objects of processes that died hold
			// every slot.
			flushTransients(t, s.logger)
			key, err = s.createKey(t)
		}
	}
	if err != nil {
		return err
	}
	defer flush(t, key.ObjectHandle)
	return op(t, key)
}

// createKey derives the checkpoint key. The first time it fixes the public
// key; later derivations must give the same key.
func (s *tpmSigner) createKey(t transport.TPM) (*tpm2.CreatePrimaryResponse, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth([]byte(s.cfg.OwnerAuth))},
		InPublic:      tpm2.New2B(checkpointKeyTemplate(s.name)),
	}.Execute(t)
	if err != nil {
		return nil, err
	}
	pub, err := func() (*ecdsa.PublicKey, error) {
		area, err := rsp.OutPublic.Contents()
		if err != nil {
			return nil, err
		}
		return integrity.TPMPublicKey(tpm2.Marshal(*area))
	}()
	if err != nil {
		flush(t, rsp.ObjectHandle)
		return nil, permanent(fmt.Errorf("the TPM's checkpoint key: %w", err))
	}
	if s.pub == nil {
		vkey, hash, err := integrity.ECDSAVerifierKey(s.name, pub)
		if err != nil {
			flush(t, rsp.ObjectHandle)
			return nil, permanent(err)
		}
		s.pub, s.vkey, s.hash = pub, vkey, hash
	} else if !s.pub.Equal(pub) {
		flush(t, rsp.ObjectHandle)
		return nil, permanent(errors.New("the TPM derives a different checkpoint key than at start: " +
			"its owner hierarchy was cleared, or another TPM answers; restart the collector to announce the new key"))
	}
	return rsp, nil
}

// certify makes the evidence: the AK certifies the checkpoint key.
func (s *tpmSigner) certify(t transport.TPM, key *tpm2.CreatePrimaryResponse) (*integrity.TPMEvidence, error) {
	endorsement := tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth([]byte(s.cfg.EndorsementAuth))}
	ak, err := tpm2.CreatePrimary{PrimaryHandle: endorsement, InPublic: tpm2.New2B(attestationKeyTemplate)}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("creating the attestation key: %w", err)
	}
	defer flush(t, ak.ObjectHandle)
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: key.ObjectHandle, Name: key.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: ak.ObjectHandle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: integrity.TPMCertifyQualifyingData(s.vkey)},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Certify: %w", err)
	}
	ev := &integrity.TPMEvidence{
		KeyPublic:        key.OutPublic.Bytes(),
		CertifyInfo:      rsp.CertifyInfo.Bytes(),
		CertifySignature: tpm2.Marshal(rsp.Signature),
		AKPublic:         ak.OutPublic.Bytes(),
	}
	// The EK's public part and certificate, where the TPM has them. They
	// identify the TPM; without them the evidence still stands on the AK.
	if ek, err := (tpm2.CreatePrimary{PrimaryHandle: endorsement, InPublic: tpm2.New2B(tpm2.ECCEKTemplate)}).Execute(t); err == nil {
		ev.EKPublic = ek.OutPublic.Bytes()
		flush(t, ek.ObjectHandle)
	} else {
		s.logger.Info("The endorsement key is not available; the key announcement carries no EK", zap.Error(err))
	}
	ev.EKCertificate = readEKCertificate(t, s.logger)
	// Checked here as a verifier will check it, so a TPM that produces
	// something else fails at start, not at audit time.
	facts, err := integrity.VerifyTPMEvidence(ev, s.vkey, s.pub)
	if err != nil {
		return nil, permanent(fmt.Errorf("the TPM's evidence does not verify: %w", err))
	}
	s.logger.Info("TPM checkpoint key certified by the attestation key",
		zap.String("attestation_key_name", facts.AKName),
		zap.String("endorsement_key_name", facts.EKName),
		zap.Bool("ek_certificate", facts.EKCertificate != nil))
	return ev, nil
}

// readEKCertificate reads the EK certificate from the TPM's NV, nil when
// there is none.
func readEKCertificate(t transport.TPM, logger *zap.Logger) []byte {
	for _, idx := range ekCertIndices {
		pub, err := tpm2.NVReadPublic{NVIndex: idx}.Execute(t)
		if err != nil {
			continue
		}
		contents, err := pub.NVPublic.Contents()
		if err != nil {
			continue
		}
		var cert []byte
		for off := uint16(0); off < contents.DataSize; {
			n := min(contents.DataSize-off, 768)
			rsp, err := tpm2.NVRead{
				AuthHandle: tpm2.AuthHandle{Handle: idx, Name: pub.NVName, Auth: tpm2.PasswordAuth(nil)},
				NVIndex:    tpm2.NamedHandle{Handle: idx, Name: pub.NVName},
				Size:       n,
				Offset:     off,
			}.Execute(t)
			if err != nil {
				logger.Info("The EK certificate is not readable", zap.Error(err))
				return nil
			}
			cert = append(cert, rsp.Data.Buffer...)
			off += n
		}
		return cert
	}
	return nil
}

func flush(t transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t)
}

// flushTransients flushes every transient object the TPM lists. Behind a
// resource manager (/dev/tpmrm0) the list holds only this connection's.
func flushTransients(t transport.TPM, logger *zap.Logger) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTTransient) << 24, PropertyCount: 64}.Execute(t)
	if err != nil {
		return
	}
	handles, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		return
	}
	for _, h := range handles.Handle {
		flush(t, h)
	}
	logger.Warn("The TPM was out of object memory; flushed the transient objects it held", zap.Int("flushed", len(handles.Handle)))
}

// permanentError is an error retrying cannot fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// openTPM opens the configured TPM: a TCP simulator endpoint, a unix socket
// or a character device.
func openTPM(cfg TPMConfig) (transport.TPMCloser, error) {
	if cfg.Endpoint != "" {
		conn, err := net.DialTimeout("tcp", cfg.Endpoint, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("TPM simulator at %s: %w", cfg.Endpoint, err)
		}
		return &simulatorTPM{conn: conn}, nil
	}
	fi, err := os.Stat(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("TPM: %w", err)
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return linuxudstpm.Open(cfg.Path)
	}
	t, err := linuxtpm.Open(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: %w", cfg.Path, err)
	}
	return t, nil
}

// simulatorTPM speaks the TPM simulator's TCP command protocol (the one the
// reference implementation and swtpm's --server type=tcp use):
// TPM_SEND_COMMAND, locality, length, command; the answer is length,
// response and a trailing status word. go-tpm's tcp transport needs the
// platform port as well and reads the response with a single Read, which
// TCP does not promise to fill; this one reads whole frames.
type simulatorTPM struct {
	conn net.Conn
}

const simulatorSendCommand = 8

func (t *simulatorTPM) Send(cmd []byte) ([]byte, error) {
	if err := t.conn.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		return nil, err
	}
	frame := make([]byte, 9, 9+len(cmd))
	binary.BigEndian.PutUint32(frame[0:], simulatorSendCommand)
	frame[4] = 0 // locality
	binary.BigEndian.PutUint32(frame[5:], uint32(len(cmd)))
	if _, err := t.conn.Write(append(frame, cmd...)); err != nil {
		return nil, fmt.Errorf("TPM simulator: %w", err)
	}
	var n uint32
	if err := binary.Read(t.conn, binary.BigEndian, &n); err != nil {
		return nil, fmt.Errorf("TPM simulator: %w", err)
	}
	if n == 0 || n > 1<<20 {
		return nil, fmt.Errorf("TPM simulator: response length %d", n)
	}
	rsp := make([]byte, n)
	if _, err := io.ReadFull(t.conn, rsp); err != nil {
		return nil, fmt.Errorf("TPM simulator: %w", err)
	}
	var status uint32
	if err := binary.Read(t.conn, binary.BigEndian, &status); err != nil {
		return nil, fmt.Errorf("TPM simulator: %w", err)
	}
	return rsp, nil
}

func (t *simulatorTPM) Close() error { return t.conn.Close() }
