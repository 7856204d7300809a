package integrity

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/agentaudit/otelcol-agentaudit/internal/testtsa"
)

// postTimestampQuery sends a DER TimeStampReq to the TSA and returns the
// DER TimeStampResp.
func postTimestampQuery(t *testing.T, url string, query []byte) []byte {
	t.Helper()
	resp, err := http.Post(url, "application/timestamp-query", bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
		t.Fatalf("TSA answered %s (%s): %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// stamp gets a time-stamp token for digest from the TSA.
func stamp(t *testing.T, tsa *testtsa.TSA, digest [32]byte) (token []byte, nonce *big.Int) {
	t.Helper()
	query, nonce, err := NewTimestampRequest(digest)
	if err != nil {
		t.Fatal(err)
	}
	token, err = ParseTimestampResponse(postTimestampQuery(t, tsa.URL(), query))
	if err != nil {
		t.Fatal(err)
	}
	return token, nonce
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestTimestampRoundTrip(t *testing.T) {
	tsa := testtsa.New(t)
	digest := sha256.Sum256([]byte("checkpoint"))
	before := time.Now().Add(-2 * time.Second) // genTime has whole seconds, accuracy 1s
	token, nonce := stamp(t, tsa, digest)

	if nonce.Sign() <= 0 || nonce.BitLen() > 128 {
		t.Errorf("nonce %x is not a positive 128-bit number", nonce)
	}
	info, err := VerifyTimestampToken(token, digest, nonce, certPool(tsa.Root()))
	if err != nil {
		t.Fatal(err)
	}
	if info.Time.Before(before) || info.Time.After(time.Now().Add(2*time.Second)) {
		t.Errorf("genTime %v is not now", info.Time)
	}
	if info.Policy != testtsa.Policy || !strings.Contains(info.TSA, "TSA") || info.Serial == nil || info.SignerCert == nil {
		t.Errorf("info = %+v", info)
	}
	if _, err := VerifyTimestampToken(token, digest, nil, certPool(tsa.Root())); err != nil {
		t.Errorf("nil nonce (not checked): %v", err)
	}
	// A second request gets a token with a different nonce and serial.
	token2, nonce2 := stamp(t, tsa, digest)
	info2, err := VerifyTimestampToken(token2, digest, nonce2, certPool(tsa.Root()))
	if err != nil {
		t.Fatal(err)
	}
	if nonce2.Cmp(nonce) == 0 || info2.Serial.Cmp(info.Serial) == 0 {
		t.Errorf("nonce or serial repeated: %x %x / %v %v", nonce, nonce2, info.Serial, info2.Serial)
	}
	if tsa.Requests() != 2 {
		t.Errorf("Requests() = %d, want 2", tsa.Requests())
	}
}

func TestTimestampVerifyFailures(t *testing.T) {
	tsa := testtsa.New(t)
	digest := sha256.Sum256([]byte("checkpoint"))
	token, nonce := stamp(t, tsa, digest)
	roots := certPool(tsa.Root())

	other := testtsa.New(t)
	unpinned, unpinnedNonce := stamp(t, other, digest)

	weak := testtsa.New(t, testtsa.WithNonCriticalEKU())
	nonCritical, nonCriticalNonce := stamp(t, weak, digest)

	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	// The signature is the last field of the token (no unsigned
	// attributes); the digest sits in the signed TSTInfo.
	badSig := flip(token, len(token)-1)
	badTST := flip(token, bytes.Index(token, digest[:])+5)

	noCerts := func() []byte {
		query, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:]}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ParseTimestampResponse(postTimestampQuery(t, tsa.URL(), query))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()

	cases := []struct {
		name   string
		token  []byte
		digest [32]byte
		nonce  *big.Int
		roots  *x509.CertPool
		want   string
	}{
		{"wrong digest", token, sha256.Sum256([]byte("other")), nonce, roots, "message imprint"},
		{"wrong nonce", token, digest, new(big.Int).Add(nonce, big.NewInt(1)), roots, "does not match the request's"},
		{"token without certificates", noCerts, digest, nonce, roots, "no certificates embedded"},
		{"unpinned TSA", unpinned, digest, unpinnedNonce, roots, "does not chain to a pinned TSA root"},
		{"tampered signature", badSig, digest, nonce, roots, "signature does not verify"},
		{"tampered TSTInfo", badTST, digest, nonce, roots, "signature does not verify"},
		{"non-critical EKU", nonCritical, digest, nonCriticalNonce, certPool(tsa.Root(), weak.Root()), "extended key usage is not critical"},
		{"no roots", token, digest, nonce, nil, "no pinned TSA roots"},
		{"not a token", []byte("garbage"), digest, nonce, roots, "not a DER CMS ContentInfo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := VerifyTimestampToken(c.token, c.digest, c.nonce, c.roots)
			if err == nil {
				t.Fatalf("verified: %+v", info)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to say %q", err, c.want)
			}
			t.Log(err)
		})
	}
	// The untampered tokens are fine where they should be.
	if _, err := VerifyTimestampToken(unpinned, digest, unpinnedNonce, certPool(other.Root())); err != nil {
		t.Errorf("second TSA's token with its own root: %v", err)
	}
}

func TestTimestampResponseStatus(t *testing.T) {
	rejected, err := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadAlgorithm)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		resp []byte
		want string
	}{
		{"rejection", rejected, "status 2 (the request is rejected), failure info: unrecognized or unsupported Algorithm Identifier (bit 0)"},
		{"granted without token", []byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00}, "but no time-stamp token"},
		{"trailing data", append(bytes.Clone(rejected), 0), "trailing data"},
		{"garbage", []byte("<html>"), "not a TimeStampResp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTimestampResponse(c.resp)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to say %q", err, c.want)
			}
		})
	}
}

func TestTimestampTSADown(t *testing.T) {
	tsa := testtsa.New(t)
	query, _, err := NewTimestampRequest(sha256.Sum256([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	tsa.SetDown(true)
	resp, err := http.Post(tsa.URL(), "application/timestamp-query", bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || tsa.Requests() != 0 {
		t.Fatalf("down TSA answered %s, %d requests", resp.Status, tsa.Requests())
	}
	tsa.SetDown(false)
	postTimestampQuery(t, tsa.URL(), query)
	if tsa.Requests() != 1 {
		t.Fatalf("Requests() = %d after recovery", tsa.Requests())
	}
}

// fuzzTimestampDigest is what the committed fuzz seeds are time-stamps of.
var fuzzTimestampDigest = sha256.Sum256([]byte("agentaudit fuzz checkpoint"))

// FuzzVerifyTimestampToken: arbitrary tokens, responses and roots never
// crash the parser or the verifier, and what verifies is complete. The
// committed seeds are a real token and response from the test TSA with its
// root (TestTimestampWriteFuzzSeeds writes them), so mutations start from
// a token that passes every check.
func FuzzVerifyTimestampToken(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00}, []byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, data, rootDER []byte) {
		roots := x509.NewCertPool()
		if root, err := x509.ParseCertificate(rootDER); err == nil {
			roots.AddCert(root)
		}
		check := func(token []byte) {
			info, err := VerifyTimestampToken(token, fuzzTimestampDigest, nil, roots)
			if err == nil && (info == nil || info.SignerCert == nil || info.Serial == nil || info.Time.IsZero()) {
				t.Fatalf("verified with incomplete info %+v", info)
			}
		}
		check(data)
		if token, err := ParseTimestampResponse(data); err == nil {
			check(token)
		}
	})
}

// TestTimestampFuzzSeeds makes seeds for FuzzVerifyTimestampToken the way
// the committed ones were made, from a real openssl TSA, and checks them.
// With AGENTAUDIT_WRITE_FUZZ_SEEDS=1 it writes them over the committed
// seeds; otherwise into a temporary directory.
func TestTimestampFuzzSeeds(t *testing.T) {
	tsa := testtsa.New(t)
	query, _, err := NewTimestampRequest(fuzzTimestampDigest)
	if err != nil {
		t.Fatal(err)
	}
	resp := postTimestampQuery(t, tsa.URL(), query)
	token, err := ParseTimestampResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyTimestampToken(token, fuzzTimestampDigest, nil, certPool(tsa.Root())); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if os.Getenv("AGENTAUDIT_WRITE_FUZZ_SEEDS") == "1" {
		dir = filepath.Join("testdata", "fuzz", "FuzzVerifyTimestampToken")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"token": token, "response": resp} {
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", data, tsa.Root().Raw)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
