// Package testcert makes the throwaway certificates of the TLS test
// servers (MinIO, syslog-ng): a CA and a server certificate for 127.0.0.1
// signed by it, ECDSA P-256, valid for an hour (no test runs longer).
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// Paths says where Write puts the PEM files.
type Paths struct {
	CA   string // the CA certificate, which clients must trust
	Cert string // the server certificate
	Key  string // the server's private key, PKCS#8, mode 0600
}

// Write makes a CA named caName and a server certificate for IP 127.0.0.1,
// writes them to p and returns the CA, for clients' root pools.
func Write(t testing.TB, caName string, p Paths) *x509.Certificate {
	t.Helper()
	// A minute back, so a clock a little behind still accepts both.
	notBefore := time.Now().Add(-time.Minute)
	notAfter := notBefore.Add(time.Hour)
	caKey, key := newKey(t), newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
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
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.Cert, "CERTIFICATE", der, 0o644)
	writePEM(t, p.Key, "PRIVATE KEY", keyDER, 0o600)
	writePEM(t, p.CA, "CERTIFICATE", caDER, 0o644)
	return ca
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
