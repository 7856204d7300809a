package signerextension

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

func genKey(t *testing.T, algorithm string) crypto.Signer {
	t.Helper()
	key, err := integrity.GenerateKey(algorithm)
	require.NoError(t, err)
	return key
}

func writeFile(t *testing.T, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checkpoint.key")
	require.NoError(t, os.WriteFile(path, data, mode))
	require.NoError(t, os.Chmod(path, mode)) // not subject to the umask
	return path
}

// writeKeyFile writes key as PKCS#8 PEM.
func writeKeyFile(t *testing.T, key crypto.Signer, mode os.FileMode) string {
	t.Helper()
	data, err := integrity.MarshalPrivateKeyPEM(key)
	require.NoError(t, err)
	return writeFile(t, data, mode)
}

func newTestExtension(t *testing.T, keyName, path string) *Extension {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.KeyName = keyName
	cfg.File.PrivateKey = path
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	return ext.(*Extension)
}

func TestStartSigns(t *testing.T) {
	sec1 := func(t *testing.T, key crypto.Signer) []byte {
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	tests := []struct {
		name      string
		algorithm string
		encode    func(*testing.T, crypto.Signer) []byte // default PKCS#8
	}{
		{name: "ed25519", algorithm: "ed25519"},
		{name: "ecdsa-p256", algorithm: "ecdsa-p256"},
		{name: "ecdsa-p256 SEC 1", algorithm: "ecdsa-p256", encode: sec1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := genKey(t, tt.algorithm)
			var path string
			if tt.encode != nil {
				path = writeFile(t, tt.encode(t, key), 0o600)
			} else {
				path = writeKeyFile(t, key, 0o600)
			}
			e := newTestExtension(t, "host1-audit", path)
			assert.Nil(t, e.Signer(), "no signer before Start")

			require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
			s := e.Signer()
			require.NotNil(t, s)
			assert.Equal(t, "host1-audit", s.Name())
			assert.Equal(t, tt.algorithm, s.Algorithm())
			assert.Equal(t, key.Public(), s.Public())

			msg, err := note.Sign(&note.Note{Text: "example.com/log\n1\nroot\n"}, s)
			require.NoError(t, err)
			v, err := integrity.NewVerifier(s.VerifierKey())
			require.NoError(t, err)
			n, err := note.Open(msg, note.VerifierList(v))
			require.NoError(t, err)
			assert.Equal(t, "example.com/log\n1\nroot\n", n.Text)
			require.Len(t, n.Sigs, 1)
			assert.Equal(t, "host1-audit", n.Sigs[0].Name)
			assert.Equal(t, s.KeyHash(), n.Sigs[0].Hash)

			// A different key with the same name does not verify.
			other, err := integrity.NewKeySigner("host1-audit", genKey(t, tt.algorithm))
			require.NoError(t, err)
			ov, err := integrity.NewVerifier(other.VerifierKey())
			require.NoError(t, err)
			_, err = note.Open(msg, note.VerifierList(ov))
			require.Error(t, err)

			require.NoError(t, e.Shutdown(context.Background()))
			assert.Nil(t, e.Signer(), "no signer after Shutdown")
		})
	}
}

func TestStartFails(t *testing.T) {
	ed := genKey(t, "ed25519")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name string
		path func(t *testing.T) string
		want []string // substrings of the error, besides the path
	}{
		{
			name: "missing file",
			path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.key") },
			want: []string{"no such file or directory"},
		},
		{
			name: "directory",
			path: func(t *testing.T) string {
				dir := filepath.Join(t.TempDir(), "keydir")
				require.NoError(t, os.Mkdir(dir, 0o700))
				return dir
			},
			want: []string{"is not a regular file"},
		},
		{
			name: "mode 0644",
			path: func(t *testing.T) string { return writeKeyFile(t, ed, 0o644) },
			want: []string{"readable by group or others (mode 0644)", "chmod 600"},
		},
		{
			name: "mode 0640",
			path: func(t *testing.T) string { return writeKeyFile(t, ed, 0o640) },
			want: []string{"readable by group or others (mode 0640)", "chmod 600"},
		},
		{
			name: "RSA PKCS#8",
			path: func(t *testing.T) string { return writeKeyFile(t, rsaKey, 0o600) },
			want: []string{"*rsa.PrivateKey", "want Ed25519 or ECDSA P-256"},
		},
		{
			name: "RSA PKCS#1",
			path: func(t *testing.T) string {
				return writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), 0o600)
			},
			want: []string{`PEM block "RSA PRIVATE KEY"`},
		},
		{
			name: "ECDSA P-384",
			path: func(t *testing.T) string { return writeKeyFile(t, p384, 0o600) },
			want: []string{"P-384", "only P-256"},
		},
		{
			name: "public key",
			path: func(t *testing.T) string {
				data, err := integrity.MarshalPublicKeyPEM(ed.Public())
				require.NoError(t, err)
				return writeFile(t, data, 0o600)
			},
			want: []string{`PEM block "PUBLIC KEY"`},
		},
		{
			name: "garbage",
			path: func(t *testing.T) string { return writeFile(t, []byte("not a key\n"), 0o600) },
			want: []string{"no PEM block"},
		},
		{
			name: "corrupt PEM body",
			path: func(t *testing.T) string {
				return writeFile(t, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), 0o600)
			},
			want: []string{"asn1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			e := newTestExtension(t, "host1-audit", path)
			err := e.Start(context.Background(), componenttest.NewNopHost())
			require.Error(t, err)
			assert.ErrorContains(t, err, path)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
			assert.Nil(t, e.Signer())
			require.NoError(t, e.Shutdown(context.Background()))
		})
	}
}

type testHost struct {
	component.Host
	extensions map[component.ID]component.Component
}

func (h *testHost) GetExtensions() map[component.ID]component.Component { return h.extensions }

func TestGetSigner(t *testing.T) {
	signerID := component.MustNewIDWithName("signer", "audit")
	nopID := component.MustNewID("nop")
	e := newTestExtension(t, "host1-audit", writeKeyFile(t, genKey(t, "ed25519"), 0o600))
	nop, err := extensiontest.NewNopFactory().Create(context.Background(), extensiontest.NewNopSettings(nopID.Type()), nil)
	require.NoError(t, err)
	host := &testHost{
		Host:       componenttest.NewNopHost(),
		extensions: map[component.ID]component.Component{signerID: e, nopID: nop},
	}

	_, err = GetSigner(host, signerID)
	require.EqualError(t, err, `signer extension "signer/audit" has not started (or has shut down)`)

	require.NoError(t, e.Start(context.Background(), host))
	s, err := GetSigner(host, signerID)
	require.NoError(t, err)
	assert.Same(t, e.Signer(), s)
	assert.Equal(t, "host1-audit", s.Name())

	_, err = GetSigner(host, component.MustNewIDWithName("signer", "other"))
	require.EqualError(t, err, `signer extension "signer/other" not found: configure it and list it in service::extensions`)

	_, err = GetSigner(host, nopID)
	require.EqualError(t, err, `extension "nop" is not a signer extension`)

	_, err = GetSigner(componenttest.NewNopHost(), signerID)
	require.ErrorContains(t, err, `signer extension "signer/audit" not found`)

	require.NoError(t, e.Shutdown(context.Background()))
	_, err = GetSigner(host, signerID)
	require.ErrorContains(t, err, "has not started")
}
