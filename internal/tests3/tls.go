package tests3

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// StartMinIOTLS starts MinIO serving HTTPS (S3 API and console) with a
// certificate for 127.0.0.1 signed by a test CA made here; CAFile is that
// CA, which Client trusts and the code under test must be told about.
//
// MinIO turns TLS on when its --certs-dir holds public.crt and private.key
// (PEM; ECDSA keys in PKCS#8 work), so the files are written there before
// the first start, and Restart serves the same certificate.
func StartMinIOTLS(t testing.TB) *Server {
	t.Helper()
	return startServer(t, KindMinIO, true)
}

// CAFile is the PEM file of the test CA behind the server's certificate,
// or "" for a server on plain HTTP.
func (s *Server) CAFile() string { return s.caFile }

// httpClient is the HTTP client of Client: the SDK's default, trusting the
// test CA (and nothing else) when the server serves HTTPS.
func (s *Server) httpClient() *awshttp.BuildableClient {
	c := awshttp.NewBuildableClient()
	if s.roots == nil {
		return c
	}
	roots := s.roots
	return c.WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	})
}

// writeCerts makes a CA (ECDSA P-256, valid for an hour: no test runs
// longer) and a server certificate for IP 127.0.0.1 signed by it. It
// writes the server's pair to DIR/certs for MinIO and the CA to DIR/ca.pem,
// outside the certs directory, where MinIO would take it for its own.
func (s *Server) writeCerts() {
	s.t.Helper()
	// A minute back, so a clock a little behind still accepts both.
	notBefore := time.Now().Add(-time.Minute)
	notAfter := notBefore.Add(time.Hour)

	caKey := newKey(s.t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tests3 test CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		s.t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		s.t.Fatal(err)
	}

	key := newKey(s.t)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		// Clients verify an IP endpoint against the IP SANs only.
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		s.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		s.t.Fatal(err)
	}

	certs := filepath.Join(s.dir, "certs")
	writePEM(s.t, filepath.Join(certs, "public.crt"), "CERTIFICATE", der, 0o644)
	writePEM(s.t, filepath.Join(certs, "private.key"), "PRIVATE KEY", keyDER, 0o600)
	s.caFile = filepath.Join(s.dir, "ca.pem")
	writePEM(s.t, s.caFile, "CERTIFICATE", caDER, 0o644)
	s.roots = x509.NewCertPool()
	s.roots.AddCert(ca)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, typ string, der []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), perm); err != nil {
		t.Fatal(err)
	}
}
