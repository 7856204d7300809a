package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is the result of `auditctl verify`; --json prints it as is.
type Report struct {
	Archive     string       `json:"archive"`
	Verified    bool         `json:"verified"`
	Trust       string       `json:"trust"`
	Bytes       int64        `json:"bytes"`
	Lines       int64        `json:"lines"`
	Checkpoints int          `json:"checkpoints"`
	Keys        []KeyReport  `json:"keys"`
	Problems    []string     `json:"problems"`
	Logs        []*LogReport `json:"logs"`
}

// KeyReport is a signing key announced in the archive.
type KeyReport struct {
	Name        string `json:"name"`
	Hash        string `json:"hash"`
	Algorithm   string `json:"algorithm"`
	VerifierKey string `json:"verifier_key"`
	// Trusted says why checkpoints signed by the key are accepted ("trust
	// file", "rotation: co-signed with ... ", ...); empty: they are not.
	Trusted string `json:"trusted"`
	// Previous is the key this one replaced, as its announcement says.
	Previous string `json:"previous,omitempty"`
	// TPM is set when the announcement proves the key lives in a TPM.
	TPM *TPMReport `json:"tpm,omitempty"`
}

// TPMReport is what a key's TPM evidence established.
type TPMReport struct {
	AttestationKey string `json:"attestation_key"`
	AKPinned       bool   `json:"attestation_key_pinned"`
	EndorsementKey string `json:"endorsement_key,omitempty"`
	EKCertificate  string `json:"ek_certificate_subject,omitempty"`
}

// LogReport is the verdict on one log (one collector, one epoch).
type LogReport struct {
	LogID         string `json:"log_id"`
	Size          uint64 `json:"size"`
	SealedSize    uint64 `json:"sealed_size"`
	Checkpoints   int    `json:"checkpoints"`
	EpochReason   string `json:"epoch_reason,omitempty"`
	PreviousLogID string `json:"previous_log_id,omitempty"`
	Duplicates    int    `json:"identical_duplicates"`
	MissingLeaves uint64 `json:"missing_leaves"`
	Voided        int    `json:"voided"`
	// LostInFlight: leaves an unclean-stop notice declares in flight at a
	// stop (never acknowledged) that are not in the archive. They do not
	// fail verification; the notice's links keep the tree recomputable.
	LostInFlight uint64 `json:"lost_in_flight"`
	// TimestampsVerified tokens checked against pinned TSA roots;
	// TimestampsUnchecked: present, but no root pinned to check them with.
	TimestampsVerified  int             `json:"timestamps_verified"`
	TimestampsUnchecked int             `json:"timestamps_unchecked"`
	TimestampedSize     uint64          `json:"timestamped_size,omitempty"`
	TimestampTime       string          `json:"timestamp_time,omitempty"`
	TimestampAuthority  string          `json:"timestamp_authority,omitempty"`
	Integrity           string          `json:"integrity"`    // ok | failed
	Completeness        string          `json:"completeness"` // complete | unsealed | incomplete
	Problems            []string        `json:"problems"`
	Missing             []string        `json:"missing"`
	Streams             []*StreamReport `json:"streams"`
}

// StreamReport is the verdict on one stream of a log.
type StreamReport struct {
	Stream       string   `json:"stream"`
	Records      int      `json:"records"`
	FirstSeq     uint64   `json:"first_seq"`
	LastSeq      uint64   `json:"last_seq"`
	Voided       int      `json:"voided"`
	LostInFlight int      `json:"lost_in_flight"`
	MissingSeqs  uint64   `json:"missing_seqs"`
	Duplicates   int      `json:"identical_duplicates"`
	Unsealed     int      `json:"unsealed"`
	Integrity    string   `json:"integrity"`    // ok | failed
	Completeness string   `json:"completeness"` // complete | unsealed | gaps
	Problems     []string `json:"problems"`
	Gaps         []string `json:"gaps"`
}

func (v *verifier) report(archivePath, trustPath string) *Report {
	r := &Report{Archive: archivePath, Bytes: v.bytesRead, Lines: v.linesRead, Checkpoints: v.checkpointsN,
		Problems: append([]string{}, v.problems...), Logs: []*LogReport{}, Keys: []KeyReport{}}
	if v.trust != nil {
		r.Trust = fmt.Sprintf("%s (%d keys", trustPath, len(v.trust.Keys))
		if v.trust.RequireTPM {
			r.Trust += fmt.Sprintf("; TPM keys required, %d attestation keys", len(v.trust.TPMAKs))
		}
		if n := len(v.trust.TSARootNames); n > 0 {
			r.Trust += fmt.Sprintf("; %d TSA roots", n)
		}
		r.Trust += ")"
	} else {
		r.Trust = "keys announced in the archive (not anchored: pass --trust to check authenticity)"
	}
	for _, id := range v.keyOrder {
		k := v.keys[id]
		kr := KeyReport{Name: k.name, Hash: fmt.Sprintf("%08x", k.hash), Algorithm: k.algorithm, VerifierKey: k.vkey,
			Trusted: v.trustedBy[id], Previous: k.previous}
		if k.tpm != nil {
			kr.TPM = &TPMReport{AttestationKey: k.tpm.AKName, EndorsementKey: k.tpm.EKName,
				AKPinned: v.trust != nil && v.trust.TrustsAK(k.tpm.AKName)}
			if k.tpm.EKCertificate != nil {
				kr.TPM.EKCertificate = k.tpm.EKCertificate.Subject.String()
			}
		}
		r.Keys = append(r.Keys, kr)
	}
	// A time stamp whose checkpoint is gone: a checkpoint was removed.
	r.Problems = append(r.Problems, v.missingStamped...)
	if v.unchained > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d records carry no chain attributes, so nothing protects them (first at %s)",
			v.unchained, strings.Join(v.unchainedAt, ", ")))
	}
	ok := len(r.Problems) == 0
	ids := make([]string, 0, len(v.logs))
	for id := range v.logs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		l := v.logs[id]
		lr := &LogReport{LogID: id, Size: uint64(len(l.leaves)), Checkpoints: len(l.checkpoints), EpochReason: l.epochReason,
			PreviousLogID: l.prevLogID, Duplicates: l.duplicates, Problems: nonNil(l.problems), Missing: nonNil(l.missing),
			MissingLeaves: l.missingLeaves, LostInFlight: l.lostInFlight, TimestampsVerified: l.stampsVerified, TimestampsUnchecked: l.stampsUnchecked,
			Integrity: "ok", Completeness: "complete", Streams: []*StreamReport{}}
		if l.stampsVerified > 0 {
			lr.TimestampedSize, lr.TimestampAuthority = l.stampedSize, l.stampedBy
			lr.TimestampTime = l.stampedAt.UTC().Format(time.RFC3339Nano)
		}
		if n := len(l.checkpoints); n > 0 {
			lr.SealedSize = l.checkpoints[n-1].cp.Size
			lr.Size = max(lr.Size, lr.SealedSize)
		}
		if l.prevLogID != "" {
			if _, ok := v.logs[l.prevLogID]; !ok {
				// The epoch start names the log it replaced: that log
				// should be in the archive too.
				lr.Missing = append(lr.Missing, fmt.Sprintf("log %s, which this log's epoch start names as its predecessor, is not in the archive", l.prevLogID))
			}
		}
		if len(l.problems) > 0 {
			lr.Integrity = "failed"
		}
		if len(lr.Missing) > 0 {
			lr.Completeness = "incomplete"
		}
		for _, s := range l.streams {
			lr.Voided += s.voided
			sr := &StreamReport{Stream: s.name, Voided: s.voided, LostInFlight: s.lost, Duplicates: s.duplicates, Unsealed: s.unsealed, MissingSeqs: s.missingSeqs,
				Problems: nonNil(s.problems), Gaps: nonNil(s.gaps), Integrity: "ok", Completeness: "complete"}
			sr.Records = len(s.entries) - s.voided - s.lost
			if len(s.entries) > 0 {
				sr.FirstSeq = l.leaves[s.entries[0]].seq
				sr.LastSeq = l.leaves[s.entries[len(s.entries)-1]].seq
			}
			if len(s.problems) > 0 {
				sr.Integrity = "failed"
				lr.Integrity = "failed"
			}
			switch {
			case len(s.gaps) > 0:
				sr.Completeness = "gaps"
				lr.Completeness = "incomplete"
			case s.unsealed > 0:
				sr.Completeness = "unsealed"
				if lr.Completeness == "complete" {
					lr.Completeness = "unsealed"
				}
			}
			lr.Streams = append(lr.Streams, sr)
		}
		slices.SortFunc(lr.Streams, func(a, b *StreamReport) int { return cmp.Compare(a.Stream, b.Stream) })
		if lr.Integrity != "ok" || lr.Completeness == "incomplete" || (lr.Completeness == "unsealed" && !v.allowUnsealed) {
			ok = false
		}
		r.Logs = append(r.Logs, lr)
	}
	if len(r.Logs) == 0 && len(r.Problems) == 0 {
		r.Problems = append(r.Problems, "the archive holds no chained records")
		ok = false
	}
	r.Verified = ok
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r *Report) writeText(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "archive %s: %d lines, %.1f MB, %d checkpoints\n", r.Archive, r.Lines, float64(r.Bytes)/1e6, r.Checkpoints)
	fmt.Fprintf(w, "trust: %s\n", r.Trust)
	for _, k := range r.Keys {
		fmt.Fprintf(w, "key announced: %s+%s (%s)", k.Name, k.Hash, k.Algorithm)
		if k.TPM != nil {
			pinned := "not pinned"
			if k.TPM.AKPinned {
				pinned = "pinned"
			}
			fmt.Fprintf(w, ", in a TPM (attestation key %s, %s)", k.TPM.AttestationKey, pinned)
		}
		if k.Previous != "" {
			fmt.Fprintf(w, ", replaces %s", k.Previous)
		}
		if k.Trusted != "" {
			fmt.Fprintf(w, "; trusted: %s", k.Trusted)
		} else {
			fmt.Fprint(w, "; not trusted")
		}
		fmt.Fprintln(w)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
	for _, l := range r.Logs {
		fmt.Fprintf(w, "log %s: %d records, sealed up to %d by %d checkpoints; integrity %s, completeness %s\n",
			l.LogID, l.Size, l.SealedSize, l.Checkpoints, strings.ToUpper(l.Integrity), strings.ToUpper(l.Completeness))
		if l.EpochReason != "" {
			prev := ""
			if l.PreviousLogID != "" {
				prev = ", after log " + l.PreviousLogID
			}
			fmt.Fprintf(w, "  began: %s%s\n", l.EpochReason, prev)
		}
		if l.LostInFlight > 0 {
			fmt.Fprintf(w, "  lost in flight: %d records in flight at an unclean stop (never acknowledged) are not in the archive\n", l.LostInFlight)
		}
		if l.TimestampsVerified > 0 {
			fmt.Fprintf(w, "  time-stamped: size %d existed by %s (%s); %d tokens verified\n",
				l.TimestampedSize, l.TimestampTime, l.TimestampAuthority, l.TimestampsVerified)
		}
		if l.TimestampsUnchecked > 0 {
			fmt.Fprintf(w, "  %d time-stamp tokens not checked: the trust file pins no TSA root (tsa-root)\n", l.TimestampsUnchecked)
		}
		for _, p := range l.Problems {
			fmt.Fprintf(w, "  INTEGRITY: %s\n", p)
		}
		for _, p := range l.Missing {
			fmt.Fprintf(w, "  MISSING: %s\n", p)
		}
		for _, s := range l.Streams {
			clean := s.Integrity == "ok" && s.Completeness == "complete"
			if clean && !verbose {
				continue
			}
			lost := ""
			if s.LostInFlight > 0 {
				lost = fmt.Sprintf(" (%d lost in flight)", s.LostInFlight)
			}
			fmt.Fprintf(w, "  stream %q: %d records%s, seq %d-%d, %d voided, %d unsealed; integrity %s, completeness %s\n",
				s.Stream, s.Records, lost, s.FirstSeq, s.LastSeq, s.Voided, s.Unsealed, strings.ToUpper(s.Integrity), strings.ToUpper(s.Completeness))
			for _, p := range s.Problems {
				fmt.Fprintf(w, "    INTEGRITY: %s\n", p)
			}
			if len(s.Gaps) > 0 {
				fmt.Fprintf(w, "    GAPS: seq %s\n", joinLimited(s.Gaps, 10))
			}
		}
		if !verbose {
			n := 0
			for _, s := range l.Streams {
				if s.Integrity == "ok" && s.Completeness == "complete" {
					n++
				}
			}
			if n > 0 {
				fmt.Fprintf(w, "  %d streams verified and complete (-v lists them)\n", n)
			}
		}
	}
	if r.Verified {
		fmt.Fprintln(w, "RESULT: VERIFIED")
	} else {
		fmt.Fprintln(w, "RESULT: FAILED")
	}
}
