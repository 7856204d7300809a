package tests3

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcert"
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

// writeCerts writes the server's pair to DIR/certs for MinIO and the CA to
// DIR/ca.pem, outside the certs directory, where MinIO would take it for
// its own.
func (s *Server) writeCerts() {
	s.t.Helper()
	certs := filepath.Join(s.dir, "certs")
	s.caFile = filepath.Join(s.dir, "ca.pem")
	ca := testcert.Write(s.t, "tests3 test CA", testcert.Paths{
		CA: s.caFile, Cert: filepath.Join(certs, "public.crt"), Key: filepath.Join(certs, "private.key"),
	})
	s.roots = x509.NewCertPool()
	s.roots.AddCert(ca)
}
