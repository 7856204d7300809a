package integrity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testAKName is a well-formed TPM Name (SHA-256): 000b and 32 bytes.
const testAKName = "000b" + "3b4cbbe1391cda5ec113e3d88064f19afd84f71fe0bd0fc394f41703017ec364"

func testVerifierKey(t *testing.T, algorithm string) (Signer, string) {
	t.Helper()
	key, err := GenerateKey(algorithm)
	require.NoError(t, err)
	s, err := NewKeySigner("host-a", key)
	require.NoError(t, err)
	return s, s.VerifierKey()
}

func selfSignedCertDER(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"agentaudit tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return der
}

func TestTrustFileAcceptsEveryDirective(t *testing.T) {
	_, vkey := testVerifierKey(t, "ecdsa-p256")
	_, vkey2 := testVerifierKey(t, "ed25519")
	der := selfSignedCertDER(t, "Test TSA Root")
	upper := strings.ToUpper(testAKName)
	text := fmt.Sprintf(`# a trust file with every directive
key %s
key %s   # a comment after a directive

tpm-ak %s
tpm-ak %s
require tpm
tsa-root %s
`, vkey, vkey2, testAKName, upper[:10]+strings.ToLower(testAKName[10:]), base64.StdEncoding.EncodeToString(der))
	tf, err := ParseTrustFile([]byte(text))
	require.NoError(t, err)
	assert.Equal(t, []string{vkey, vkey2}, tf.Keys)
	assert.NotNil(t, tf.Verifiers)
	assert.True(t, tf.RequireTPM)
	// Names are kept in lower case, and TrustsAK ignores case.
	assert.Equal(t, []string{testAKName, testAKName}, tf.TPMAKs)
	assert.True(t, tf.TrustsAK(testAKName))
	assert.True(t, tf.TrustsAK(upper))
	assert.False(t, tf.TrustsAK("000b"+strings.Repeat("00", 32)))
	assert.False(t, tf.TrustsAK(""))
	require.NotNil(t, tf.TSARoots)
	assert.Equal(t, []string{"CN=Test TSA Root,O=agentaudit tests"}, tf.TSARootNames)

	// The pinned root anchors a chain.
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	_, err = cert.Verify(x509.VerifyOptions{Roots: tf.TSARoots})
	assert.NoError(t, err)
}

func TestTrustFileWithoutTPMDirectives(t *testing.T) {
	_, vkey := testVerifierKey(t, "ed25519")
	tf, err := ParseTrustFile(TrustFileText("just a key", vkey))
	require.NoError(t, err)
	assert.False(t, tf.RequireTPM)
	assert.Empty(t, tf.TPMAKs)
	assert.False(t, tf.TrustsAK(testAKName))
	assert.Nil(t, tf.TSARoots)
	assert.Empty(t, tf.TSARootNames)
}

func TestTrustFileRefusesBadDirectives(t *testing.T) {
	_, vkey := testVerifierKey(t, "ecdsa-p256")
	keyLine := "key " + vkey + "\n"
	directives := `"key <verifier key>", "tpm-ak <name>", "require tpm" or "tsa-root <certificate>"`
	for name, tc := range map[string]struct {
		text string
		want []string
	}{
		"tpm-ak not hex": {
			keyLine + "# comment\ntpm-ak 000bzz" + testAKName[8:] + "\n",
			[]string{"trust file line 3:", "tpm-ak wants the attestation key's TPM Name in hex"},
		},
		"tpm-ak odd length": {
			keyLine + "tpm-ak " + testAKName + "0\n",
			[]string{"trust file line 2:", "tpm-ak wants"},
		},
		"tpm-ak too short": {
			keyLine + "tpm-ak " + testAKName[:66] + "\n",
			[]string{"trust file line 2:", "000b and 64 hex digits"},
		},
		"tpm-ak too long": {
			keyLine + "tpm-ak " + testAKName + "00\n",
			[]string{"trust file line 2:", "tpm-ak wants"},
		},
		"tpm-ak SHA-1 name": {
			keyLine + "tpm-ak 0004" + strings.Repeat("ab", 32) + "\n",
			[]string{"trust file line 2:", "tpm-ak wants"},
		},
		"tpm-ak without 000b": {
			"\n\n" + keyLine + "tpm-ak 0b00" + testAKName[4:] + "\n",
			[]string{"trust file line 4:", "tpm-ak wants"},
		},
		"tpm-ak with two names": {
			keyLine + "tpm-ak " + testAKName + " " + testAKName + "\n",
			[]string{"trust file line 2:", directives},
		},
		"require tpm without tpm-ak": {
			keyLine + "require tpm\n",
			[]string{`"require tpm" but lists no attestation key`},
		},
		"require something else": {
			keyLine + "require tsa\n",
			[]string{"trust file line 2:", directives},
		},
		"tsa-root not base64": {
			keyLine + "tsa-root not*base64\n",
			[]string{"trust file line 2:", "tsa-root wants a base64 DER certificate"},
		},
		"tsa-root not a certificate": {
			keyLine + "tsa-root " + base64.StdEncoding.EncodeToString([]byte("not a certificate")) + "\n",
			[]string{"trust file line 2:", "tsa-root:"},
		},
		"unknown directive": {
			keyLine + "trust everyone\n",
			[]string{"trust file line 2:", directives, `got "trust everyone"`},
		},
		"only tpm-ak": {
			"tpm-ak " + testAKName + "\nrequire tpm\n",
			[]string{"trust file lists no keys"},
		},
		"only a tsa-root": {
			"tsa-root " + base64.StdEncoding.EncodeToString(selfSignedCertDER(t, "root")) + "\n",
			[]string{"trust file lists no keys"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tf, err := ParseTrustFile([]byte(tc.text))
			assert.Nil(t, tf)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestPublicKeyFromVerifierKey(t *testing.T) {
	for _, algorithm := range []string{"ed25519", "ecdsa-p256"} {
		t.Run(algorithm, func(t *testing.T) {
			s, vkey := testVerifierKey(t, algorithm)
			pub, err := PublicKeyFromVerifierKey(vkey)
			require.NoError(t, err)
			switch want := s.Public().(type) {
			case ed25519.PublicKey:
				got, ok := pub.(ed25519.PublicKey)
				require.True(t, ok, "got %T", pub)
				assert.True(t, want.Equal(got))
			case *ecdsa.PublicKey:
				got, ok := pub.(*ecdsa.PublicKey)
				require.True(t, ok, "got %T", pub)
				assert.True(t, want.Equal(got))
				again, _, err := ECDSAVerifierKey("host-a", got)
				require.NoError(t, err)
				assert.Equal(t, vkey, again)
			default:
				t.Fatalf("signer key %T", want)
			}
		})
	}
}

func TestPublicKeyFromVerifierKeyRefusesMalformedKeys(t *testing.T) {
	_, edKey := testVerifierKey(t, "ed25519")
	_, ecKey := testVerifierKey(t, "ecdsa-p256")
	edRaw, err := base64.StdEncoding.DecodeString(strings.SplitN(edKey, "+", 3)[2])
	require.NoError(t, err)
	ecRaw, err := base64.StdEncoding.DecodeString(strings.SplitN(ecKey, "+", 3)[2])
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString
	for name, tc := range map[string]struct {
		vkey string
		want string
	}{
		"empty":                {"", "want name+hash+key"},
		"no key":               {"host-a+01020304", "want name+hash+key"},
		"not base64":           {"host-a+01020304+***", "key is not base64"},
		"empty key":            {"host-a+01020304+", "key is not base64"},
		"unknown algorithm":    {"host-a+01020304+" + b64(append([]byte{0x03}, edRaw[1:]...)), "algorithm 0x3"},
		"ed25519 short":        {"host-a+01020304+" + b64(edRaw[:len(edRaw)-1]), "Ed25519 key of 31 bytes"},
		"ed25519 long":         {"host-a+01020304+" + b64(append(edRaw, 0)), "Ed25519 key of 33 bytes"},
		"ecdsa truncated":      {"host-a+01020304+" + b64(ecRaw[:len(ecRaw)-1]), "verifier key"},
		"ecdsa not SPKI":       {"host-a+01020304+" + b64([]byte{0x02, 0x30, 0x00}), "verifier key"},
		"ecdsa only algorithm": {"host-a+01020304+" + b64([]byte{0x02}), "verifier key"},
	} {
		t.Run(name, func(t *testing.T) {
			pub, err := PublicKeyFromVerifierKey(tc.vkey)
			assert.Nil(t, pub)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
