package integrity

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Signer signs checkpoints as a C2SP signed-note signer. It is a
// golang.org/x/mod/sumdb/note.Signer (so note.Sign takes it) that can also
// tell its verifier key. The file provider of the signer extension
// implements it with keys from PEM files, the TPM provider with a key that
// never leaves the TPM.
type Signer interface {
	note.Signer
	// VerifierKey is the note verifier key: "<name>+<hash>+<base64(alg||key)>".
	VerifierKey() string
	// Algorithm is "ed25519" or "ecdsa-p256".
	Algorithm() string
	// Public is the public key.
	Public() crypto.PublicKey
}

// Signed-note algorithm bytes (C2SP signed-note).
const (
	algEd25519 = 0x01
	algECDSA   = 0x02
)

// NewKeySigner returns a Signer for an in-memory private key: an
// ed25519.PrivateKey or an *ecdsa.PrivateKey on P-256. name is the note key
// name (no spaces or '+').
func NewKeySigner(name string, key crypto.Signer) (Signer, error) {
	if !ValidKeyName(name) {
		return nil, fmt.Errorf("key name %q: must be non-empty UTF-8 without spaces or '+'", name)
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		pub := k.Public().(ed25519.PublicKey)
		vkey, err := note.NewEd25519VerifierKey(name, pub)
		if err != nil {
			return nil, err
		}
		return &ed25519Signer{name: name, hash: vkeyHash(vkey), key: k, vkey: vkey}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA key on %s: only P-256 is a signed-note algorithm", k.Curve.Params().Name)
		}
		vkey, hash, err := ECDSAVerifierKey(name, &k.PublicKey)
		if err != nil {
			return nil, err
		}
		return &ecdsaSigner{name: name, hash: hash, key: k, vkey: vkey}, nil
	default:
		return nil, fmt.Errorf("key type %T: want Ed25519 or ECDSA P-256", key)
	}
}

// ECDSAVerifierKey returns the note verifier key of an ECDSA P-256 public
// key, as github.com/transparency-dev/formats/note reads it: algorithm 0x02
// followed by the SPKI DER; the key hash is the first 4 bytes of SHA-256 of
// the DER.
func ECDSAVerifierKey(name string, pub *ecdsa.PublicKey) (vkey string, hash uint32, err error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(der)
	hash = binary.BigEndian.Uint32(sum[:4])
	return fmt.Sprintf("%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(append([]byte{algECDSA}, der...))), hash, nil
}

func vkeyHash(vkey string) uint32 {
	parts := strings.SplitN(vkey, "+", 3)
	var h uint32
	fmt.Sscanf(parts[1], "%08x", &h)
	return h
}

// ValidKeyName is the signed-note rule for key names
// (golang.org/x/mod/sumdb/note): non-empty UTF-8, no white space, no '+'.
func ValidKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// DefaultKeyName is the key name the signer extension and auditctl keygen
// use when none is given: "agentaudit-" and the host name, every character
// outside [A-Za-z0-9._-] replaced by '-'.
func DefaultKeyName() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	return KeyNameForHost(host), nil
}

// KeyNameForHost is DefaultKeyName for a given host name.
func KeyNameForHost(host string) string {
	return "agentaudit-" + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		default:
			return '-'
		}
	}, host)
}

type ed25519Signer struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	vkey string
}

func (s *ed25519Signer) Name() string                    { return s.name }
func (s *ed25519Signer) KeyHash() uint32                 { return s.hash }
func (s *ed25519Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }
func (s *ed25519Signer) VerifierKey() string             { return s.vkey }
func (s *ed25519Signer) Algorithm() string               { return "ed25519" }
func (s *ed25519Signer) Public() crypto.PublicKey        { return s.key.Public() }

type ecdsaSigner struct {
	name string
	hash uint32
	key  *ecdsa.PrivateKey
	vkey string
}

func (s *ecdsaSigner) Name() string    { return s.name }
func (s *ecdsaSigner) KeyHash() uint32 { return s.hash }
func (s *ecdsaSigner) Sign(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, s.key, sum[:])
}
func (s *ecdsaSigner) VerifierKey() string      { return s.vkey }
func (s *ecdsaSigner) Algorithm() string        { return "ecdsa-p256" }
func (s *ecdsaSigner) Public() crypto.PublicKey { return &s.key.PublicKey }

// LoadPrivateKeyFile reads a PEM private key: PKCS#8 ("PRIVATE KEY") with an
// Ed25519 or ECDSA P-256 key, or SEC 1 ("EC PRIVATE KEY").
func LoadPrivateKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q: want PRIVATE KEY or EC PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key type %T cannot sign", path, key)
	}
	return signer, nil
}

// GenerateKey makes a new private key: algorithm "ed25519" or "ecdsa-p256".
func GenerateKey(algorithm string) (crypto.Signer, error) {
	switch algorithm {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("algorithm %q: want ed25519 or ecdsa-p256", algorithm)
	}
}

// MarshalPrivateKeyPEM encodes a private key as PKCS#8 PEM.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes a public key as SPKI PEM.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// NewVerifier returns a note verifier for a verifier key of either
// algorithm (github.com/transparency-dev/formats/note understands both).
func NewVerifier(vkey string) (note.Verifier, error) {
	return fnote.NewVerifier(vkey)
}

// SignCheckpoint renders a C2SP tlog-checkpoint and signs it as a signed
// note with every signer given.
func SignCheckpoint(origin string, size uint64, root Hash, signers ...note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: CheckpointText(origin, size, root)}, signers...)
}

// CheckpointText is the body of a C2SP tlog-checkpoint.
func CheckpointText(origin string, size uint64, root Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// Checkpoint is a parsed, verified checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
	// Signers are the names+hashes of the trusted keys whose signatures verified.
	Signers []string
	// Note is the signed note as stored.
	Note []byte
}

// OpenCheckpoint verifies a signed checkpoint against the trusted keys and
// parses it. At least one trusted signature must verify; signatures by
// unknown keys are ignored (C2SP), a bad signature by a trusted key fails.
func OpenCheckpoint(msg []byte, trusted note.Verifiers) (*Checkpoint, error) {
	n, err := note.Open(msg, trusted)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("checkpoint is not signed by a trusted key (signed by %s)", sigNames(unverified.Note.UnverifiedSigs))
		}
		return nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	cp, err := ParseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	for _, s := range n.Sigs {
		cp.Signers = append(cp.Signers, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	cp.Note = msg
	return cp, nil
}

func sigNames(sigs []note.Signature) string {
	var names []string
	for _, s := range sigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, ", ")
}

// ParseCheckpointText parses the body of a checkpoint (no signatures).
// Extension lines after the root are not expected from this project and are
// refused, so a checkpoint has one meaning.
func ParseCheckpointText(text string) (*Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return nil, fmt.Errorf("checkpoint: want 3 lines (origin, size, root), got %q", text)
	}
	var cp Checkpoint
	cp.Origin = lines[0]
	if err := ValidateOrigin(cp.Origin); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := fmt.Sscanf(lines[1], "%d", &cp.Size); err != nil || fmt.Sprint(cp.Size) != lines[1] {
		return nil, fmt.Errorf("checkpoint: size %q is not a decimal number", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != len(cp.Root) {
		return nil, fmt.Errorf("checkpoint: root %q is not a base64 SHA-256", lines[2])
	}
	copy(cp.Root[:], root)
	return &cp, nil
}

// TrustFile is what a verifier trusts. Its text format, one directive per
// line ('#' starts a comment):
//
//	key <note verifier key>      a checkpoint key (at least one)
//	tpm-ak <TPM Name, hex>       an attestation key enrolled for a host's TPM
//	require tpm                  every checkpoint key must prove, with a
//	                             listed attestation key, that it lives in a TPM
//	tsa-root <certificate>       a pinned RFC 3161 TSA root (base64 DER)
type TrustFile struct {
	Keys      []string
	Verifiers note.Verifiers
	// TPMAKs are the trusted attestation keys' Names (lower-case hex).
	TPMAKs []string
	// RequireTPM: checkpoint keys without TPM evidence from a listed AK
	// fail.
	RequireTPM bool
	// TSARoots are the pinned time-stamp authority roots; nil when none.
	TSARoots     *x509.CertPool
	TSARootNames []string
}

// ParseTrustFile reads a trust file's text.
func ParseTrustFile(data []byte) (*TrustFile, error) {
	tf := &TrustFile{}
	var verifiers []note.Verifier
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20) // certificates make long lines
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		switch {
		case fields[0] == "key" && len(fields) == 2:
			v, err := NewVerifier(fields[1])
			if err != nil {
				return nil, fmt.Errorf("trust file line %d: %w", n, err)
			}
			tf.Keys = append(tf.Keys, fields[1])
			verifiers = append(verifiers, v)
		case fields[0] == "tpm-ak" && len(fields) == 2:
			name, err := hex.DecodeString(fields[1])
			// A SHA-256 Name: algorithm 0x000b and a 32-byte digest.
			if err != nil || len(name) != 34 || name[0] != 0 || name[1] != 0x0b {
				return nil, fmt.Errorf("trust file line %d: tpm-ak wants the attestation key's TPM Name in hex (000b and 64 hex digits), got %q", n, fields[1])
			}
			tf.TPMAKs = append(tf.TPMAKs, strings.ToLower(fields[1]))
		case fields[0] == "require" && len(fields) == 2 && fields[1] == "tpm":
			tf.RequireTPM = true
		case fields[0] == "tsa-root" && len(fields) == 2:
			der, err := base64.StdEncoding.DecodeString(fields[1])
			if err != nil {
				return nil, fmt.Errorf("trust file line %d: tsa-root wants a base64 DER certificate: %w", n, err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("trust file line %d: tsa-root: %w", n, err)
			}
			if tf.TSARoots == nil {
				tf.TSARoots = x509.NewCertPool()
			}
			tf.TSARoots.AddCert(cert)
			tf.TSARootNames = append(tf.TSARootNames, cert.Subject.String())
		default:
			return nil, fmt.Errorf("trust file line %d: want \"key <verifier key>\", \"tpm-ak <name>\", \"require tpm\" or \"tsa-root <certificate>\", got %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trust file: %w", err)
	}
	if len(verifiers) == 0 {
		return nil, errors.New("trust file lists no keys")
	}
	if tf.RequireTPM && len(tf.TPMAKs) == 0 {
		return nil, errors.New("trust file says \"require tpm\" but lists no attestation key (tpm-ak <name>)")
	}
	tf.Verifiers = note.VerifierList(verifiers...)
	return tf, nil
}

// TrustsAK reports whether the trust file lists the attestation key name.
func (tf *TrustFile) TrustsAK(name string) bool {
	return slices.Contains(tf.TPMAKs, strings.ToLower(name))
}

// PublicKeyFromVerifierKey returns the public key a note verifier key
// holds: ed25519.PublicKey or *ecdsa.PublicKey.
func PublicKeyFromVerifierKey(vkey string) (crypto.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("verifier key %q: want name+hash+key", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("verifier key %q: key is not base64", vkey)
	}
	switch raw[0] {
	case algEd25519:
		if len(raw) != 1+ed25519.PublicKeySize {
			return nil, fmt.Errorf("verifier key %q: Ed25519 key of %d bytes", vkey, len(raw)-1)
		}
		return ed25519.PublicKey(raw[1:]), nil
	case algECDSA:
		pub, err := x509.ParsePKIXPublicKey(raw[1:])
		if err != nil {
			return nil, fmt.Errorf("verifier key %q: %w", vkey, err)
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("verifier key %q: algorithm %#x", vkey, raw[0])
	}
}

// LoadTrustFile reads a trust file from disk.
func LoadTrustFile(path string) (*TrustFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tf, err := ParseTrustFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tf, nil
}

// TrustFileText renders a trust file for the given verifier keys.
func TrustFileText(comment string, vkeys ...string) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(comment, "\n") {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	for _, k := range vkeys {
		fmt.Fprintf(&b, "key %s\n", k)
	}
	return b.Bytes()
}
