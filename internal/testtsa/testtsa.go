// Package testtsa runs a local RFC 3161 time-stamp authority for tests:
// `openssl ts -reply` behind an HTTP server on 127.0.0.1, with a root CA,
// an intermediate CA and a TSA certificate made fresh for each test.
package testtsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// Policy is the TSA policy OID the test TSA puts in its tokens.
const Policy = "1.2.3.4.1"

var policyOID = asn1.ObjectIdentifier{1, 2, 3, 4, 1} // Policy

// Option changes how New sets up the TSA.
type Option func(*options)

type options struct {
	nonCriticalEKU bool
}

// WithNonCriticalEKU gives the TSA certificate an extended key usage
// extension that is not marked critical, which RFC 3161 §2.3 forbids, so a
// test can show that the verifier refuses its tokens. OpenSSL refuses to
// sign with such a certificate, so this TSA signs in Go (with
// github.com/digitorus/timestamp) instead of running openssl.
func WithNonCriticalEKU() Option { return func(o *options) { o.nonCriticalEKU = true } }

// TSA is a running test time-stamp authority.
type TSA struct {
	dir     string
	opts    options
	srv     *httptest.Server
	root    *x509.Certificate
	rootPEM []byte
	inter   *x509.Certificate
	cert    *x509.Certificate
	key     crypto.Signer

	mu       sync.Mutex // one openssl run at a time: they share the serial file
	requests atomic.Int64
	down     atomic.Bool
}

// New makes the certificates and the openssl configuration in t.TempDir()
// and starts serving. The server stops when the test ends. openssl comes
// from Debian's openssl package, which the test command installs.
func New(t testing.TB, opts ...Option) *TSA {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("testtsa: the openssl binary is required (Debian package openssl): %v", err)
	}
	a := &TSA{dir: t.TempDir()}
	for _, o := range opts {
		o(&a.opts)
	}
	if err := a.makeCerts(); err != nil {
		t.Fatalf("testtsa: certificates: %v", err)
	}
	if err := a.writeConfig(); err != nil {
		t.Fatalf("testtsa: configuration: %v", err)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, openssl)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the TSA's endpoint (POST application/timestamp-query).
func (a *TSA) URL() string { return a.srv.URL }

// Root is the root CA certificate the TSA certificate chains to.
func (a *TSA) Root() *x509.Certificate { return a.root }

// RootPEM is Root in PEM, as a TSA root would be pinned in configuration.
func (a *TSA) RootPEM() []byte { return a.rootPEM }

// Requests is how many time-stamp replies the TSA has answered.
func (a *TSA) Requests() int { return int(a.requests.Load()) }

// SetDown simulates an outage: while down, every request gets 503.
func (a *TSA) SetDown(down bool) { a.down.Store(down) }

func (a *TSA) serve(w http.ResponseWriter, r *http.Request, openssl string) {
	switch {
	case a.down.Load():
		http.Error(w, "time-stamp authority down (testtsa.SetDown)", http.StatusServiceUnavailable)
		return
	case r.Method != http.MethodPost:
		http.Error(w, "POST a time-stamp query", http.StatusMethodNotAllowed)
		return
	case r.Header.Get("Content-Type") != "application/timestamp-query":
		http.Error(w, "Content-Type must be application/timestamp-query", http.StatusUnsupportedMediaType)
		return
	}
	query, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var reply []byte
	if a.opts.nonCriticalEKU {
		reply, err = a.replyInGo(query)
	} else {
		reply, err = a.replyWithOpenSSL(r, openssl, query)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a.requests.Add(1)
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(reply)
}

func (a *TSA) replyWithOpenSSL(r *http.Request, openssl string, query []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q, out := filepath.Join(a.dir, "query.tsq"), filepath.Join(a.dir, "reply.tsr")
	if err := os.WriteFile(q, query, 0o600); err != nil {
		return nil, err
	}
	os.Remove(out)
	cmd := exec.CommandContext(r.Context(), openssl, "ts", "-reply",
		"-config", a.path("tsa.cnf"), "-queryfile", q,
		"-signer", a.path("tsa.crt"), "-inkey", a.path("tsa.key"), "-chain", a.path("intermediate.crt"),
		"-out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("openssl ts -reply: %v: %s", err, stderr.Bytes())
	}
	return os.ReadFile(out)
}

// replyInGo answers like openssl would (certificates included on request,
// ESSCertIDv2, same policy), for the certificate openssl refuses.
func (a *TSA) replyInGo(query []byte) ([]byte, error) {
	req, err := timestamp.ParseRequest(query)
	if err != nil {
		return nil, err
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              time.Now().UTC().Truncate(time.Second),
		Accuracy:          time.Second,
		Nonce:             req.Nonce,
		Policy:            policyOID,
		AddTSACertificate: req.Certificates,
		Certificates:      []*x509.Certificate{a.inter},
	}
	return ts.CreateResponseWithOpts(a.cert, a.key, crypto.SHA256)
}

func (a *TSA) path(name string) string { return filepath.Join(a.dir, name) }

// writeConfig writes the openssl ts configuration. The signer certificate,
// key and chain are given on the command line.
func (a *TSA) writeConfig() error {
	if err := os.WriteFile(a.path("serial"), []byte("00\n"), 0o600); err != nil {
		return err
	}
	cnf := fmt.Sprintf(`[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial                 = %s
crypto_device          = builtin
signer_digest          = sha256
default_policy         = %s
digests                = sha256, sha384, sha512
accuracy               = secs:1
clock_precision_digits = 0
ordering               = no
tsa_name               = yes
ess_cert_id_chain      = no
ess_cert_id_alg        = sha256
`, a.path("serial"), Policy)
	return os.WriteFile(a.path("tsa.cnf"), []byte(cnf), 0o600)
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
var oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

// makeCerts makes root CA → intermediate CA → TSA certificate, ECDSA
// P-256, and writes the intermediate and the TSA's certificate and key.
func (a *TSA) makeCerts() error {
	id, err := rand.Int(rand.Reader, big.NewInt(1<<32))
	if err != nil {
		return err
	}
	name := func(role string) pkix.Name {
		return pkix.Name{Organization: []string{"agentaudit tests"}, CommonName: fmt.Sprintf("testtsa %08x %s", id, role)}
	}
	now := time.Now()
	ca := func(n pkix.Name, pathLen int) *x509.Certificate {
		return &x509.Certificate{
			Subject: n, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, IsCA: true,
			BasicConstraintsValid: true, MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
		}
	}
	rootKey, root, err := issue(ca(name("root"), 1), nil, nil)
	if err != nil {
		return err
	}
	interKey, inter, err := issue(ca(name("intermediate"), 0), root, rootKey)
	if err != nil {
		return err
	}
	// Go's x509 never marks the EKU extension critical, so write it
	// ourselves; RFC 3161 §2.3 requires it critical with timeStamping only.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	if err != nil {
		return err
	}
	tsaKey, tsa, err := issue(&x509.Certificate{
		Subject: name("TSA"), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: !a.opts.nonCriticalEKU, Value: eku}},
	}, inter, interKey)
	if err != nil {
		return err
	}
	a.root, a.inter, a.cert, a.key = root, inter, tsa, tsaKey
	a.rootPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	keyDER, err := x509.MarshalPKCS8PrivateKey(tsaKey)
	if err != nil {
		return err
	}
	for file, block := range map[string]*pem.Block{
		"intermediate.crt": {Type: "CERTIFICATE", Bytes: inter.Raw},
		"tsa.crt":          {Type: "CERTIFICATE", Bytes: tsa.Raw},
		"tsa.key":          {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(a.path(file), pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// issue makes a key and a certificate for it from template, signed by
// parent's key (self-signed if parent is nil).
func issue(template, parent *x509.Certificate, parentKey crypto.Signer) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if template.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = template, key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}
