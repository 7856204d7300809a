package tests

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcert"
)

// mtlsConfig: the agentaudit receiver on TLS with client certificates
// required (tls.client_ca_file), as the README shows for agents that
// authenticate with certificates; synchronous archive. @CERTS@ is the
// directory of the certificates, made before the collector starts.
const mtlsConfig = `
extensions:
  health_check:
    endpoint: 127.0.0.1:{{.HealthPort}}
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
    tls:
      cert_file: @CERTS@/server.pem
      key_file: @CERTS@/server.key
      client_ca_file: @CERTS@/ca.pem
exporters:
  worm:
    origin: e2e
    local:
      directory: {{.Dir}}/archive
service:
  extensions: [health_check]
  pipelines:
    logs:
      receivers: [agentaudit]
      exporters: [worm]
  telemetry:
    metrics:
      level: none
`

// Mutual TLS end to end: an agent with a certificate of the configured CA
// is served, one without a certificate, with a certificate of another CA,
// or over plain HTTP is refused before any event is read, and only the
// authenticated event is archived.
func TestReceiverMutualTLS(t *testing.T) {
	certs := t.TempDir()
	ca := testcert.NewCA(t, "agents CA")
	ca.WriteServer(t, testcert.Paths{CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "server.pem"), Key: filepath.Join(certs, "server.key")})
	ca.WriteClient(t, "agent-1", testcert.Paths{CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "client.pem"), Key: filepath.Join(certs, "client.key")})
	other := testcert.NewCA(t, "someone else's CA")
	other.WriteClient(t, "intruder", testcert.Paths{CA: filepath.Join(certs, "other-ca.pem"), Cert: filepath.Join(certs, "intruder.pem"), Key: filepath.Join(certs, "intruder.key")})

	c := newCollector(t, strings.ReplaceAll(mtlsConfig, "@CERTS@", certs), nil)
	url := "https://" + c.url()[len("http://"):]

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := func(cert, key string) *http.Client {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(filepath.Join(certs, cert), filepath.Join(certs, key))
			require.NoError(t, err)
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	send := func(hc *http.Client, u, id string) (int, error) {
		res, err := hc.Post(u, "application/json", bytes.NewReader(eventJSON(id, "mtls", 0)))
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}

	status, err := send(client("client.pem", "client.key"), url, "mtls-agent")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status, "an agent with a certificate of the configured CA is served")

	_, err = send(client("", ""), url, "mtls-no-cert")
	assert.Error(t, err, "without a client certificate the handshake fails")
	_, err = send(client("intruder.pem", "intruder.key"), url, "mtls-other-ca")
	assert.Error(t, err, "a certificate of another CA is refused")
	// Go's TLS server answers plain HTTP with a bare 400, never a served
	// request.
	if status, err = send(&http.Client{Timeout: 10 * time.Second}, c.url(), "mtls-plain"); err == nil {
		assert.Equal(t, http.StatusBadRequest, status)
	}

	assert.Equal(t, map[string]int{"mtls-agent": 1}, eventIDs(t, c.archiveDir()), "only the authenticated event is archived")
	assert.True(t, c.healthy())
}
