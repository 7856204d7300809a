package integrity

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"golang.org/x/mod/sumdb/note"
)

// sampleLogs is a record that uses every field and value type.
func sampleLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl("https://opentelemetry.io/schemas/1.30.0")
	rl.Resource().Attributes().PutStr("host.id", "host-1")
	rl.Resource().Attributes().PutStr("service.name", "claude-code")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("agentaudit")
	sl.Scope().SetVersion("1.0.0")
	sl.Scope().Attributes().PutStr("agent_audit.schema.version", "1.0.0")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(1763900000123456789)
	lr.SetObservedTimestamp(1763900000200000000)
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("INFO")
	lr.SetEventName("agent_audit.tool.call")
	lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	lr.SetFlags(1)
	lr.Body().SetStr("rm -rf \"build\"\n\ttab \u00e9 \U0001F600 \x01")
	a := lr.Attributes()
	a.PutStr("session.id", "s-1")
	a.PutInt("agent_audit.risk_score", 42)
	a.PutInt("big", math.MaxInt64)
	a.PutDouble("ratio", 0.1)
	a.PutDouble("huge", 1e300)
	a.PutDouble("nan", math.NaN())
	a.PutBool("ok", true)
	a.PutEmptyBytes("raw").FromRaw([]byte{0, 1, 2, 255})
	s := a.PutEmptySlice("args")
	s.AppendEmpty().SetStr("-rf")
	s.AppendEmpty().SetInt(3)
	m := a.PutEmptyMap("nested")
	m.PutStr("z", "last")
	m.PutStr("a", "first")
	m.PutEmpty("nothing")
	a.PutStr("\U0001F600key", "astral key")
	a.PutStr("\ufb01key", "BMP key above the surrogates")
	// Other audit.* attributes are part of the canonical form...
	a.PutStr("audit.custom", "kept")
	// ...the integrity attributes are not.
	a.PutStr(AttrStreamID, "s-1")
	a.PutInt(AttrSequenceNumber, 7)
	return ld
}

func canonicalOf(ld plog.Logs) []byte {
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	return AppendCanonical(nil, rl, sl, sl.LogRecords().At(0))
}

func TestCanonicalIsJCS(t *testing.T) {
	c := canonicalOf(sampleLogs())
	again, err := jcs.Transform(c)
	require.NoError(t, err)
	assert.Equal(t, string(again), string(c), "an independent JCS implementation must leave the canonical form unchanged")
	assert.NotContains(t, string(c), "audit.stream.id")
	assert.Contains(t, string(c), `"audit.custom":"kept"`)
	assert.NotContains(t, string(c), "audit.sequence")
	assert.Contains(t, string(c), `"time_unix_nano":"1763900000123456789"`)
	assert.Contains(t, string(c), `"big":{"int":"9223372036854775807"}`)
	assert.Contains(t, string(c), `"nan":{"double":"NaN"}`)
	assert.Contains(t, string(c), `"huge":{"double":1e+300}`)
	assert.Contains(t, string(c), `"v":1}`)
}

func TestCanonicalIgnoresIntegrityAttributesAndOrder(t *testing.T) {
	a := sampleLogs()
	b := sampleLogs()
	attrs := b.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	attrs.PutStr(AttrRecordDigest, strings.Repeat("0", 64))
	// Same attributes, other insertion order.
	c := plog.NewLogs()
	a.CopyTo(c)
	ca := c.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	saved := pcommon.NewMap()
	ca.CopyTo(saved)
	ca.Clear()
	keys := []string{}
	saved.Range(func(k string, _ pcommon.Value) bool { keys = append(keys, k); return true })
	for i := len(keys) - 1; i >= 0; i-- {
		v, _ := saved.Get(keys[i])
		v.CopyTo(ca.PutEmpty(keys[i]))
	}
	assert.Equal(t, canonicalOf(a), canonicalOf(b))
	assert.Equal(t, canonicalOf(a), canonicalOf(c))
}

func TestCanonicalChangesWithEveryField(t *testing.T) {
	base := canonicalOf(sampleLogs())
	edits := map[string]func(rl plog.ResourceLogs, lr plog.LogRecord){
		"body":      func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.Body().SetStr("other") },
		"time":      func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.SetTimestamp(lr.Timestamp() + 1) },
		"observed":  func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.SetObservedTimestamp(0) },
		"event":     func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.SetEventName("agent_audit.tool.result") },
		"severity":  func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.SetSeverityNumber(plog.SeverityNumberWarn) },
		"attr type": func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.Attributes().PutStr("agent_audit.risk_score", "42") },
		"nested": func(_ plog.ResourceLogs, lr plog.LogRecord) {
			v, _ := lr.Attributes().Get("nested")
			v.Map().PutStr("a", "x")
		},
		"trace":         func(_ plog.ResourceLogs, lr plog.LogRecord) { lr.SetTraceID(pcommon.TraceID{}) },
		"resource attr": func(rl plog.ResourceLogs, _ plog.LogRecord) { rl.Resource().Attributes().PutStr("host.id", "host-2") },
		"scope":         func(rl plog.ResourceLogs, _ plog.LogRecord) { rl.ScopeLogs().At(0).Scope().SetVersion("2") },
		"schema url":    func(rl plog.ResourceLogs, _ plog.LogRecord) { rl.SetSchemaUrl("") },
	}
	for name, edit := range edits {
		ld := sampleLogs()
		rl := ld.ResourceLogs().At(0)
		edit(rl, rl.ScopeLogs().At(0).LogRecords().At(0))
		assert.NotEqual(t, string(base), string(canonicalOf(ld)), name)
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	c := canonicalOf(sampleLogs())
	ld, err := LogsFromCanonical(c, nil)
	require.NoError(t, err)
	assert.Equal(t, string(c), string(canonicalOf(ld)))
}

func TestCanonicalDuplicateKeysAndBadUTF8(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	// pcommon.Map cannot hold duplicate keys through its API; FromRaw with
	// a bad string is the way such values arrive from protobuf.
	lr.Attributes().PutStr("bad\xffkey", "bad\xc3value")
	lr.Body().SetStr("\xed\xa0\x80 surrogate")
	c := AppendCanonical(nil, rl, rl.ScopeLogs().At(0), lr)
	again, err := jcs.Transform(c)
	require.NoError(t, err)
	assert.Equal(t, string(again), string(c))
	assert.Contains(t, string(c), "bad\ufffdkey")
}

func TestDoubleFormatting(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 1e21, 1e20, 123456789012345680000, 1e-6, 1e-7, 5e-324, math.MaxFloat64, -1.5e-10, 100, 333.333} {
		got := string(appendDouble(nil, f))
		want, err := jcs.NumberToJSON(f)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%v", f)
	}
}

func TestLinkBindsEveryInput(t *testing.T) {
	d := RecordDigest([]byte("x"))
	base := Link("host/1", "s", 1, Hash{}, d)
	assert.NotEqual(t, base, Link("host/2", "s", 1, Hash{}, d))
	assert.NotEqual(t, base, Link("host/1", "t", 1, Hash{}, d))
	assert.NotEqual(t, base, Link("host/1", "s", 2, Hash{}, d))
	assert.NotEqual(t, base, Link("host/1", "s", 1, Hash{1}, d))
	assert.NotEqual(t, base, Link("host/1", "s", 1, Hash{}, Hash{}))
	// Length prefixes: moving a byte between log and stream changes the link.
	assert.NotEqual(t, Link("ab", "c", 1, Hash{}, d), Link("a", "bc", 1, Hash{}, d))
	// The documented construction, spelled out.
	var b bytes.Buffer
	b.WriteString("agentaudit/link/v1\n")
	b.Write([]byte{0, 0, 0, 6})
	b.WriteString("host/1")
	b.Write([]byte{0, 0, 0, 1})
	b.WriteString("s")
	b.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	b.Write(make([]byte, 32))
	b.Write(d[:])
	assert.Equal(t, Hash(sha256.Sum256(b.Bytes())), base)
}

func TestLineRoundTripAndStrictness(t *testing.T) {
	c := canonicalOf(sampleLogs())
	h := &ChainHeader{Digest: RecordDigest(c), Index: 12, Log: "host \"1\"/99", Prev: Hash{9}, Seq: 3, Stream: "sess\n1"}
	line := AppendLine(nil, h, c)
	assert.True(t, json.Valid(line))
	again, err := jcs.Transform(bytes.TrimSuffix(line, []byte("\n")))
	require.NoError(t, err)
	assert.Equal(t, string(bytes.TrimSuffix(line, []byte("\n"))), string(again), "a line is itself in JCS form")

	got, rec, err := ParseLine(line)
	require.NoError(t, err)
	assert.Equal(t, *h, *got)
	assert.Equal(t, c, rec)

	plain := AppendLine(nil, nil, c)
	got, rec, err = ParseLine(plain)
	require.NoError(t, err)
	assert.Nil(t, got)
	assert.Equal(t, c, rec)

	for name, bad := range map[string]string{
		"empty":        "",
		"not ours":     `{"resourceLogs":[]}`,
		"spaces":       strings.Replace(string(line), `"index":12`, `"index": 12`, 1),
		"escaped /":    strings.Replace(string(line), `host \"1\"/99`, `host \"1\"\/99`, 1),
		"short digest": strings.Replace(string(line), h.Digest.String(), "abcd", 1),
		"no record":    string(line[:bytes.Index(line, []byte(`"record"`))]),
	} {
		_, _, err := ParseLine([]byte(bad))
		assert.ErrorIs(t, err, ErrMalformedLine, name)
	}
}

func TestHeaderAttributesRoundTrip(t *testing.T) {
	h := ChainHeader{Digest: Hash{1}, Index: 5, Log: "o/1", Prev: Hash{2}, Seq: 9, Stream: "s"}
	m := pcommon.NewMap()
	h.SetAttributes(m)
	got, ok, err := HeaderFromAttributes(m)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, h, got)

	_, ok, err = HeaderFromAttributes(pcommon.NewMap())
	assert.False(t, ok)
	assert.NoError(t, err)

	m.PutStr(AttrSequenceNumber, "9")
	_, ok, err = HeaderFromAttributes(m)
	assert.True(t, ok)
	assert.ErrorContains(t, err, AttrSequenceNumber)
}

func TestMerkleLogMatchesProofs(t *testing.T) {
	l := NewMerkleLog()
	var leaves [][]byte
	for i := 0; i < 37; i++ {
		link := Link("o/1", "s", uint64(i+1), Hash{}, RecordDigest([]byte{byte(i)}))
		assert.Equal(t, uint64(i), l.Append(link))
		leaves = append(leaves, LeafHash(link))
	}
	root := l.Root()
	// Restore from the persisted compact range and continue.
	r, err := RestoreMerkleLog(l.Size(), l.Hashes())
	require.NoError(t, err)
	assert.Equal(t, root, r.Root())
	tree := NewLeafTree(leaves)
	for _, idx := range []uint64{0, 1, 17, 36} {
		p, err := tree.InclusionProof(idx, 37)
		require.NoError(t, err)
		require.NoError(t, proof.VerifyInclusion(rfc6962.DefaultHasher, idx, 37, leaves[idx], p, root[:]))
	}
	small := NewLeafTree(leaves[:20]).Root(20)
	cons, err := tree.ConsistencyProof(20, 37)
	require.NoError(t, err)
	require.NoError(t, proof.VerifyConsistency(rfc6962.DefaultHasher, 20, 37, cons, small[:], root[:]))
	assert.Equal(t, root, tree.Root(37))
	var empty Hash
	copy(empty[:], rfc6962.DefaultHasher.EmptyRoot())
	assert.Equal(t, empty, NewMerkleLog().Root())
}

func TestCheckpointsInteroperate(t *testing.T) {
	root := Hash{7, 7, 7}
	for _, alg := range []string{"ed25519", "ecdsa-p256"} {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateKey(alg)
			require.NoError(t, err)
			s, err := NewKeySigner("audit-test", key)
			require.NoError(t, err)
			msg, err := SignCheckpoint("host-1/42", 1000, root, s)
			require.NoError(t, err)

			// Independent verifiers: x/mod for Ed25519, transparency-dev/formats for both.
			if alg == "ed25519" {
				v, err := note.NewVerifier(s.VerifierKey())
				require.NoError(t, err)
				n, err := note.Open(msg, note.VerifierList(v))
				require.NoError(t, err)
				assert.Equal(t, CheckpointText("host-1/42", 1000, root), n.Text)
			}
			fv, err := fnote.NewVerifier(s.VerifierKey())
			require.NoError(t, err)
			cp, _, _, err := log.ParseCheckpoint(msg, "host-1/42", fv)
			require.NoError(t, err)
			assert.Equal(t, uint64(1000), cp.Size)
			assert.Equal(t, root[:], cp.Hash)

			trust, err := ParseTrustFile(TrustFileText("test", s.VerifierKey()))
			require.NoError(t, err)
			got, err := OpenCheckpoint(msg, trust.Verifiers)
			require.NoError(t, err)
			assert.Equal(t, uint64(1000), got.Size)
			assert.Equal(t, root, got.Root)

			// Another key is not trusted; a changed body does not verify.
			other, _ := GenerateKey(alg)
			os, _ := NewKeySigner("audit-test", other)
			trust2, err := ParseTrustFile(TrustFileText("other", os.VerifierKey()))
			require.NoError(t, err)
			_, err = OpenCheckpoint(msg, trust2.Verifiers)
			assert.ErrorContains(t, err, "not signed by a trusted key")
			forged := bytes.Replace(msg, []byte("1000"), []byte("1001"), 1)
			_, err = OpenCheckpoint(forged, trust.Verifiers)
			assert.Error(t, err)
		})
	}
}

func TestTrustFileErrors(t *testing.T) {
	for name, text := range map[string]string{
		"empty":       "# nothing\n",
		"unknown":     "trust everyone\n",
		"bad key":     "key abc+00000000+AAAA\n",
		"extra field": "key a b\n",
	} {
		_, err := ParseTrustFile([]byte(text))
		assert.Error(t, err, name)
	}
}

func TestKeySignerRefusesBadInput(t *testing.T) {
	key, _ := GenerateKey("ed25519")
	_, err := NewKeySigner("has space", key)
	assert.Error(t, err)
	_, err = NewKeySigner("a+b", key)
	assert.Error(t, err)
	_, err = GenerateKey("rsa")
	assert.Error(t, err)
}
