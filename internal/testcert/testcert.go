// Package testcert makes the throwaway certificates of the TLS tests (MinIO,
// syslog-ng, the receiver's mutual TLS): a CA, server certificates for
// 127.0.0.1 and client certificates signed by it, ECDSA P-256, valid for an
// hour (no test runs longer).
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
	ca := NewCA(t, caName)
	ca.WriteServer(t, p)
	return ca.Cert
}

// CA is a throwaway certificate authority.
type CA struct {
	Cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
	// A minute back, so a clock a little behind still accepts its
	// certificates; an hour of validity (no test runs longer).
	notBefore, notAfter time.Time
	serial              int64
}

// NewCA makes a CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	ca := &CA{key: newKey(t), notBefore: time.Now().Add(-time.Minute), serial: 1}
	ca.notAfter = ca.notBefore.Add(time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             ca.notBefore,
		NotAfter:              ca.notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	var err error
	if ca.der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ca.key.PublicKey, ca.key); err != nil {
		t.Fatal(err)
	}
	if ca.Cert, err = x509.ParseCertificate(ca.der); err != nil {
		t.Fatal(err)
	}
	return ca
}

// WriteServer writes the CA certificate and a server certificate for IP
// 127.0.0.1 with its key to p.
func (ca *CA) WriteServer(t testing.TB, p Paths) {
	t.Helper()
	ca.write(t, p, &x509.Certificate{
		Subject: pkix.Name{CommonName: "127.0.0.1"},
		// Clients verify an IP endpoint against the IP SANs only.
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// WriteClient writes the CA certificate and a client certificate named
// name (for mutual TLS) with its key to p.
func (ca *CA) WriteClient(t testing.TB, name string, p Paths) {
	t.Helper()
	ca.write(t, p, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *CA) write(t testing.TB, p Paths, tmpl *x509.Certificate) {
	t.Helper()
	ca.serial++
	tmpl.SerialNumber = big.NewInt(ca.serial)
	tmpl.NotBefore, tmpl.NotAfter = ca.notBefore, ca.notAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.Cert, "CERTIFICATE", der, 0o644)
	writePEM(t, p.Key, "PRIVATE KEY", keyDER, 0o600)
	writePEM(t, p.CA, "CERTIFICATE", ca.der, 0o644)
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
