package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/transparency-dev/formats/proof"
	mproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

func loadTrust(path string) (*integrity.TrustFile, error) {
	return integrity.LoadTrustFile(path)
}

// cmdProve writes a C2SP tlog-proof that one record is in its log, under
// the latest checkpoint that covers it, and (with --record) the record's
// archive line: together with the trust file, all an auditor needs.
func cmdProve(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("prove", flag.ContinueOnError)
	trustPath := fs.String("trust", "", "trust file (default: keys announced in the archive)")
	logID := fs.String("log", "", "log id (audit.log.id) of the record")
	index := fs.Int64("index", -1, "leaf index (audit.log.index) of the record")
	stream := fs.String("stream", "", "stream of the record (with --seq)")
	seq := fs.Uint64("seq", 0, "sequence number of the record (with --stream)")
	out := fs.String("out", "-", "where to write the proof")
	recordOut := fs.String("record", "", "where to write the record's archive line")
	src := addSourceFlags(fs)
	pos, err := parseArgs(fs, args, 1, stderr)
	if err != nil {
		return exitUsage, err
	}
	if *logID == "" || (*index < 0) == (*seq == 0) {
		return exitUsage, usageError{errors.New("give --log and either --index or --stream and --seq")}
	}
	v, err := loadVerifier(*trustPath, true)
	if err != nil {
		return exitUsage, err
	}
	ctx := context.Background()
	r, err := openArchive(ctx, pos[0], src)
	if err != nil {
		return exitUsage, err
	}
	prog := newProgress(stderr, src.progress)
	err = v.readArchive(ctx, r, prog)
	// End the progress line before any message goes to stderr.
	prog.done()
	if err != nil {
		return exitUsage, err
	}
	v.finish()
	l, ok := v.logs[*logID]
	if !ok {
		return proveFailed(stderr, "log %q is not in the archive", *logID)
	}
	idx := uint64(*index)
	if *index < 0 {
		s := l.streams[*stream]
		found := false
		for _, i := range entriesOf(s) {
			if l.leaves[i].seq == *seq && l.leaves[i].state == leafPresent {
				idx, found = i, true
				break
			}
		}
		if !found {
			return proveFailed(stderr, "no record with stream %q and seq %d in log %s", *stream, *seq, *logID)
		}
	}
	if idx >= uint64(len(l.leaves)) || l.leaves[idx].state != leafPresent {
		return proveFailed(stderr, "leaf %d of log %s is not in the archive", idx, *logID)
	}
	// The latest checkpoint covering the record whose root the leaves match.
	leaves := make([][]byte, 0, len(l.leaves))
	for i := range l.leaves {
		if l.leaves[i].state == leafMissing {
			break
		}
		leaves = append(leaves, integrity.LeafHash(l.leaves[i].link))
	}
	tree := integrity.NewLeafTree(leaves)
	for i := len(l.checkpoints) - 1; i >= 0; i-- {
		cp := l.checkpoints[i].cp
		if cp.Size <= idx || cp.Size > uint64(len(leaves)) || tree.Root(cp.Size) != cp.Root {
			continue
		}
		hashes, err := tree.InclusionProof(idx, cp.Size)
		if err != nil {
			return exitUsage, err
		}
		p := proof.TLogProof{Index: idx, Checkpoint: cp.Note}
		for _, h := range hashes {
			p.Hashes = append(p.Hashes, [sha256.Size]byte(h))
		}
		if err := writeOut(*out, p.Marshal(), stdout); err != nil {
			return exitUsage, err
		}
		if *recordOut != "" {
			line, err := v.line(ctx, l.leaves[idx].where)
			if err != nil {
				return exitUsage, err
			}
			if err := writeOut(*recordOut, line, stdout); err != nil {
				return exitUsage, err
			}
		}
		fmt.Fprintf(stderr, "proof of leaf %d of %s under the checkpoint at size %d\n", idx, *logID, cp.Size)
		return exitOK, nil
	}
	return proveFailed(stderr, "no verified checkpoint of %s covers leaf %d (run auditctl verify)", *logID, idx)
}

// proveFailed reports why no proof can be given: the archive does not hold
// what was asked for (exit 1, not a usage error).
func proveFailed(stderr io.Writer, format string, a ...any) (int, error) {
	fmt.Fprintf(stderr, "auditctl prove: "+format+"\n", a...)
	return exitFailed, nil
}

func entriesOf(s *streamAcc) []uint64 {
	if s == nil {
		return nil
	}
	return s.entries
}

// line re-reads one archive line (with its '\n').
func (v *verifier) line(ctx context.Context, at location) ([]byte, error) {
	data, err := v.source.Get(ctx, v.files[at.file])
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(data, []byte{'\n'})
	if int(at.line) > len(lines) {
		return nil, fmt.Errorf("%s changed while reading", v.at(at))
	}
	return lines[at.line-1], nil
}

func writeOut(path string, data []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// cmdVerifyProof checks one record against a proof and the trust file,
// without the archive.
func cmdVerifyProof(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("verify-proof", flag.ContinueOnError)
	trustPath := fs.String("trust", "", "trust file listing the keys checkpoints must be signed with")
	recordPath := fs.String("record", "", "the record's archive line")
	pos, err := parseArgs(fs, args, 1, stderr)
	if err != nil {
		return exitUsage, err
	}
	if *trustPath == "" || *recordPath == "" {
		return exitUsage, usageError{errors.New("--trust and --record are required")}
	}
	trust, err := loadTrust(*trustPath)
	if err != nil {
		return exitUsage, err
	}
	lineData, err := os.ReadFile(*recordPath)
	if err != nil {
		return exitUsage, err
	}
	proofData, err := os.ReadFile(pos[0])
	if err != nil {
		return exitUsage, err
	}
	fail := func(format string, a ...any) (int, error) {
		fmt.Fprintf(stdout, "RESULT: FAILED: "+format+"\n", a...)
		return exitFailed, nil
	}
	if bytes.Count(bytes.TrimSuffix(lineData, []byte{'\n'}), []byte{'\n'}) != 0 {
		return fail("the record file must hold exactly one archive line")
	}
	h, rec, err := integrity.ParseLine(lineData)
	if err != nil {
		return fail("record: %v", err)
	}
	if h == nil {
		return fail("the record is not chained")
	}
	if integrity.RecordDigest(rec) != h.Digest {
		return fail("the record does not match its digest: its content was changed")
	}
	var p proof.TLogProof
	if err := p.Unmarshal(proofData); err != nil {
		return fail("proof: %v", err)
	}
	cp, err := integrity.OpenCheckpoint(p.Checkpoint, trust.Verifiers)
	if err != nil {
		return fail("%v", err)
	}
	if cp.Origin != h.Log {
		return fail("the proof is for log %s, the record is in log %s", cp.Origin, h.Log)
	}
	if p.Index != h.Index {
		return fail("the proof is for leaf %d, the record is leaf %d", p.Index, h.Index)
	}
	hashes := make([][]byte, len(p.Hashes))
	for i := range p.Hashes {
		hashes[i] = p.Hashes[i][:]
	}
	if err := mproof.VerifyInclusion(rfc6962.DefaultHasher, h.Index, cp.Size, integrity.LeafHash(h.Link()), hashes, cp.Root[:]); err != nil {
		return fail("the record is not in the log under this checkpoint: %v", err)
	}
	fmt.Fprintf(stdout, "record: log %s, leaf %d, stream %q, seq %d\n", h.Log, h.Index, h.Stream, h.Seq)
	fmt.Fprintf(stdout, "included in the checkpoint at size %d signed by %v\n", cp.Size, cp.Signers)
	fmt.Fprintln(stdout, "RESULT: VERIFIED")
	return exitOK, nil
}
