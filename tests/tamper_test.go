package tests

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tlog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// sealedArchive runs the collector (worm exporter without a queue, so a
// graceful stop archives the final checkpoint), posts events of three
// sessions, stops it, and returns the archive and trust file.
func sealedArchive(t *testing.T, algorithm string) (archiveDir, trust string) {
	c := newCollector(t, localConfig, map[string]string{"sync": "1", "key_algorithm": algorithm, "sign_interval": "500ms"})
	sendBatches(t, c.url(), "evt", 6, 10)
	c.stop()
	return c.archiveDir(), c.trustFile()
}

// copyTree copies an archive into a writable temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	}))
	return dst
}

// segmentFiles lists the archive's segment files matching a substring of
// their path, sorted.
func segmentFiles(t *testing.T, dir, contains string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".ndjson") && strings.Contains(filepath.ToSlash(path), contains) {
			out = append(out, path)
		}
		return err
	}))
	slices.Sort(out)
	require.NotEmpty(t, out, "no segment matches %q", contains)
	return out
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte{'\n'})
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, bytes.Join(lines, nil), 0o644))
}

// streamLines returns all chained lines of one stream, in sequence order,
// with the file each came from.
type chainedLine struct {
	file   string
	header *integrity.ChainHeader
	record []byte
}

func streamLines(t *testing.T, dir, stream string) []chainedLine {
	t.Helper()
	var out []chainedLine
	for _, f := range segmentFiles(t, dir, "/streams/"+stream+"/") {
		for _, l := range readLines(t, f) {
			h, rec, err := integrity.ParseLine(l)
			require.NoError(t, err)
			out = append(out, chainedLine{file: f, header: h, record: rec})
		}
	}
	slices.SortFunc(out, func(a, b chainedLine) int { return int(a.header.Seq) - int(b.header.Seq) })
	return out
}

// maxLeaf is the highest leaf index in the archive.
func maxLeaf(t *testing.T, dir string) (idx uint64, file string, line int) {
	t.Helper()
	for _, f := range segmentFiles(t, dir, "/streams/") {
		for i, l := range readLines(t, f) {
			h, _, err := integrity.ParseLine(l)
			require.NoError(t, err)
			if h.Index >= idx {
				idx, file, line = h.Index, f, i
			}
		}
	}
	return idx, file, line
}

// TestTamperedArchivesFailVerification builds a real archive with the
// built binary and checks that every kind of tampering fails
// `auditctl verify` with a reason naming it, while the untouched archive
// and one with duplicated segments verify.
func TestTamperedArchivesFailVerification(t *testing.T) {
	archiveDir, trust := sealedArchive(t, "ed25519")

	r, code := verifyReport(t, archiveDir, trust)
	require.Equal(t, 0, code, "the untouched archive verifies: %v", r.allProblems())
	require.True(t, r.Verified)
	require.Len(t, r.Logs, 1)
	assert.Equal(t, r.Logs[0].Size, r.Logs[0].SealedSize, "the final checkpoint seals every record")
	assert.Equal(t, uint64(61), r.Logs[0].Size, "60 events and the epoch start")

	otherKeyDir := t.TempDir()
	writeKey(t, otherKeyDir, "ed25519")

	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		trust  string // default: the collector's
		want   string // a substring of one of the findings
	}{
		{"flip one byte in a record", func(t *testing.T, dir string) {
			f := segmentFiles(t, dir, "/streams/sess-1/")[0]
			data, _ := os.ReadFile(f)
			i := bytes.Index(data, []byte(`"gen_ai.tool.name":"Bash"`))
			data[i+len(`"gen_ai.tool.name":"`)] ^= 0x01
			require.NoError(t, os.WriteFile(f, data, 0o644))
		}, "", "record does not match its digest"},
		{"delete a record", func(t *testing.T, dir string) {
			lines := streamLines(t, dir, "sess-1")
			victim := lines[5]
			fl := readLines(t, victim.file)
			fl = slices.DeleteFunc(fl, func(l []byte) bool { h, _, _ := integrity.ParseLine(l); return h.Seq == victim.header.Seq })
			writeLines(t, victim.file, fl)
		}, "", "are missing"},
		{"delete the last records", func(t *testing.T, dir string) {
			for range 2 {
				_, f, line := maxLeaf(t, dir)
				fl := readLines(t, f)
				writeLines(t, f, slices.Delete(fl, line, line+1))
			}
		}, "", "are missing"},
		{"delete a whole stream", func(t *testing.T, dir string) {
			f := segmentFiles(t, dir, "/streams/sess-2/")[0]
			require.NoError(t, os.RemoveAll(filepath.Dir(f)))
		}, "", "are missing"},
		{"insert a forged record after the last checkpoint", func(t *testing.T, dir string) {
			// A forger can compute digests and links (no secret in them),
			// but cannot sign a checkpoint that covers the new record.
			lines := streamLines(t, dir, "sess-0")
			last := lines[len(lines)-1]
			idx, _, _ := maxLeaf(t, dir)
			rec := bytes.Replace(last.record, []byte("ls -la"), []byte("rm -rf"), 1)
			h := integrity.ChainHeader{Digest: integrity.RecordDigest(rec), Index: idx + 1, Log: last.header.Log,
				Prev: last.header.Link(), Seq: last.header.Seq + 1, Stream: "sess-0"}
			fl := append(readLines(t, last.file), integrity.AppendLine(nil, &h, rec))
			writeLines(t, last.file, fl)
		}, "", "unsealed"},
		{"insert a forged record in place of another", func(t *testing.T, dir string) {
			lines := streamLines(t, dir, "sess-0")
			victim := lines[3]
			rec := bytes.Replace(victim.record, []byte("ls -la"), []byte("rm -rf"), 1)
			h := *victim.header
			h.Digest = integrity.RecordDigest(rec)
			fl := append(readLines(t, victim.file), integrity.AppendLine(nil, &h, rec))
			writeLines(t, victim.file, fl)
		}, "", "equivocation"},
		{"reorder two records", func(t *testing.T, dir string) {
			// Swap seq 3 and 4 of a stream and rewrite both headers so
			// that the stream's links are consistent again: only the
			// signed Merkle root can tell.
			lines := streamLines(t, dir, "sess-1")
			a, b := lines[2], lines[3]
			ha := integrity.ChainHeader{Digest: b.header.Digest, Index: a.header.Index, Log: a.header.Log, Prev: a.header.Prev, Seq: a.header.Seq, Stream: "sess-1"}
			hb := integrity.ChainHeader{Digest: a.header.Digest, Index: b.header.Index, Log: b.header.Log, Prev: ha.Link(), Seq: b.header.Seq, Stream: "sess-1"}
			for _, f := range []string{a.file, b.file} {
				fl := readLines(t, f)
				for i, l := range fl {
					h, _, _ := integrity.ParseLine(l)
					switch h.Seq {
					case a.header.Seq:
						fl[i] = integrity.AppendLine(nil, &ha, b.record)
					case b.header.Seq:
						fl[i] = integrity.AppendLine(nil, &hb, a.record)
					}
				}
				writeLines(t, f, fl)
			}
			// The next record no longer links to the rewritten seq 4.
		}, "", "do not hash to its root"},
		{"replay a record into another stream", func(t *testing.T, dir string) {
			src := streamLines(t, dir, "sess-0")[2]
			h := *src.header
			h.Stream = "sess-1"
			f := segmentFiles(t, dir, "/streams/sess-1/")[0]
			writeLines(t, f, append(readLines(t, f), integrity.AppendLine(nil, &h, src.record)))
		}, "", "equivocation"},
		{"replace a checkpoint's signature", func(t *testing.T, dir string) {
			for _, f := range segmentFiles(t, dir, "/checkpoints/checkpoint-") {
				data, _ := os.ReadFile(f)
				// The signature line: "— e2e <base64>\n" inside the JSON body.
				i := bytes.Index(data, []byte("\u2014 e2e "))
				require.Positive(t, i)
				j := i + len("\u2014 e2e ") + 10
				if data[j] == 'A' {
					data[j] = 'B'
				} else {
					data[j] = 'A'
				}
				require.NoError(t, os.WriteFile(f, data, 0o644))
			}
		}, "", "checkpoint"},
		{"verify with a different key", func(*testing.T, string) {}, filepath.Join(otherKeyDir, "keys", "trust.txt"), "which is not trusted"},
		{"truncate a segment", func(t *testing.T, dir string) {
			f := segmentFiles(t, dir, "/streams/sess-2/")[0]
			data, _ := os.ReadFile(f)
			require.NoError(t, os.WriteFile(f, data[:len(data)/2], 0o644))
		}, "", "truncated"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := copyTree(t, archiveDir)
			tc.tamper(t, dir)
			tr := trust
			if tc.trust != "" {
				tr = tc.trust
			}
			r, code := verifyReport(t, dir, tr)
			assert.Equal(t, 1, code, "verification must fail")
			assert.False(t, r.Verified)
			found := false
			for _, p := range r.allProblems() {
				if strings.Contains(p, tc.want) {
					found = true
				}
			}
			assert.True(t, found, "want a finding containing %q, got %q", tc.want, r.allProblems())
			t.Logf("e2e: tamper %q: %d findings, e.g. %q", tc.name, len(r.allProblems()), firstContaining(r.allProblems(), tc.want))
		})
	}

	t.Run("duplicated_segments_verify", func(t *testing.T) {
		dir := copyTree(t, archiveDir)
		for _, f := range segmentFiles(t, dir, "/streams/") {
			data, _ := os.ReadFile(f)
			// A retried export of the same records under another name.
			require.NoError(t, os.WriteFile(strings.TrimSuffix(f, ".ndjson")+"-retry.ndjson", data, 0o644))
		}
		r, code := verifyReport(t, dir, trust)
		assert.Equal(t, 0, code, "identical duplicates are fine: %v", r.allProblems())
		assert.Equal(t, 61, r.Logs[0].Duplicates)
	})

	t.Run("prove_and_verify_proof", func(t *testing.T) {
		dir := t.TempDir()
		proof, record := filepath.Join(dir, "proof.txt"), filepath.Join(dir, "record.ndjson")
		out, code := runAuditctl(t, "prove", "--trust", trust, "--log", r.Logs[0].LogID, "--stream", "sess-1", "--seq", "7",
			"--out", proof, "--record", record, archiveDir)
		require.Equal(t, 0, code, out)
		out, code = runAuditctl(t, "verify-proof", "--trust", trust, "--record", record, proof)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "RESULT: VERIFIED")

		data, _ := os.ReadFile(record)
		require.NoError(t, os.WriteFile(record, bytes.Replace(data, []byte("Bash"), []byte("Bosh"), 1), 0o644))
		out, code = runAuditctl(t, "verify-proof", "--trust", trust, "--record", record, proof)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "does not match its digest")

		require.NoError(t, os.WriteFile(record, data, 0o644))
		out, code = runAuditctl(t, "verify-proof", "--trust", filepath.Join(otherKeyDir, "keys", "trust.txt"), "--record", record, proof)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "not signed by a trusted key")

		// A record of another position does not fit the proof.
		other := filepath.Join(dir, "other.ndjson")
		_, code = runAuditctl(t, "prove", "--trust", trust, "--log", r.Logs[0].LogID, "--stream", "sess-1", "--seq", "8",
			"--out", filepath.Join(dir, "other-proof.txt"), "--record", other, archiveDir)
		require.Equal(t, 0, code)
		out, code = runAuditctl(t, "verify-proof", "--trust", trust, "--record", other, proof)
		assert.Equal(t, 1, code, out)
	})

	t.Run("usage_and_io_errors_exit_2", func(t *testing.T) {
		_, code := runAuditctl(t, "verify", "--trust", trust, filepath.Join(t.TempDir(), "nonexistent"))
		assert.Equal(t, 2, code)
		_, code = runAuditctl(t, "verify")
		assert.Equal(t, 2, code)
		_, code = runAuditctl(t, "verify", "--trust", filepath.Join(t.TempDir(), "missing.txt"), archiveDir)
		assert.Equal(t, 2, code)
		_, code = runAuditctl(t, "frobnicate")
		assert.Equal(t, 2, code)
	})
}

// TestECDSAKeysSignVerifiableArchives: the same pipeline with an ECDSA
// P-256 key (the algorithm a TPM key has).
func TestECDSAKeysSignVerifiableArchives(t *testing.T) {
	archiveDir, trust := sealedArchive(t, "ecdsa-p256")
	r, code := verifyReport(t, archiveDir, trust)
	require.Equal(t, 0, code, "%v", r.allProblems())
	out, code := runAuditctl(t, "verify", "--trust", trust, archiveDir)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "(ecdsa-p256)")
	assert.Contains(t, out, "RESULT: VERIFIED")

	// Interop: the archived checkpoints verify with transparency-dev/formats.
	notes, vkey := checkpointsOf(t, archiveDir, trust)
	v, err := fnote.NewVerifier(vkey)
	require.NoError(t, err)
	for _, n := range notes {
		cp, _, _, err := tlog.ParseCheckpoint(n, r.Logs[0].LogID, v)
		require.NoError(t, err)
		assert.LessOrEqual(t, cp.Size, r.Logs[0].Size)
	}
}

// TestEd25519CheckpointsVerifyWithXModNote: the archived checkpoints of an
// Ed25519 key verify with golang.org/x/mod/sumdb/note alone.
func TestEd25519CheckpointsVerifyWithXModNote(t *testing.T) {
	archiveDir, trust := sealedArchive(t, "ed25519")
	notes, vkey := checkpointsOf(t, archiveDir, trust)
	require.NotEmpty(t, notes)
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	for _, n := range notes {
		opened, err := note.Open(n, note.VerifierList(v))
		require.NoError(t, err)
		assert.Regexp(t, `^e2e/\d+\n\d+\n[A-Za-z0-9+/=]{44}\n$`, opened.Text)
	}
}

// checkpointsOf returns the signed notes of the archive's checkpoint records
// and the trusted verifier key.
func checkpointsOf(t *testing.T, archiveDir, trust string) (notes [][]byte, vkey string) {
	t.Helper()
	tf, err := integrity.LoadTrustFile(trust)
	require.NoError(t, err)
	for _, f := range segmentFiles(t, archiveDir, "/checkpoints/checkpoint-") {
		for _, l := range readLines(t, f) {
			_, rec, err := integrity.ParseLine(l)
			require.NoError(t, err)
			ld, err := integrity.LogsFromCanonical(rec, nil)
			require.NoError(t, err)
			notes = append(notes, []byte(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()))
		}
	}
	return notes, tf.Keys[0]
}

func firstContaining(items []string, sub string) string {
	for _, s := range items {
		if strings.Contains(s, sub) {
			return s
		}
	}
	return ""
}
