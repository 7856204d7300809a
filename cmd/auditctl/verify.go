package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentaudit/otelcol-agentaudit/pkg/archive"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// Leaf states.
const (
	leafMissing = iota
	leafPresent
	leafVoided // known only from a void notice: refused downstream, sender retried
	// leafLost: known only from an unclean-stop notice: in flight when the
	// collector stopped, never acknowledged, not in the archive.
	leafLost
)

type leaf struct {
	state  uint8
	link   integrity.Hash
	prev   integrity.Hash
	stream *streamAcc
	seq    uint64
	where  location
}

// location names a line of the archive in messages.
type location struct {
	file int32
	line int32
}

type streamAcc struct {
	name        string
	entries     []uint64 // leaf indices of the stream's records
	problems    []string
	gaps        []string
	missingSeqs uint64
	voided      int
	lost        int
	duplicates  int
	unsealed    int
}

type checkpointAcc struct {
	cp    *integrity.Checkpoint
	where location
}

type logAcc struct {
	id            string
	leaves        []leaf
	checkpoints   []checkpointAcc
	streams       map[string]*streamAcc
	problems      []string // integrity problems of the log as a whole
	missing       []string // completeness problems of the log as a whole
	epochReason   string
	prevLogID     string
	voids         []voidList
	inFlight      []inFlightList
	pending       []pendingLeaf
	duplicates    int
	missingLeaves uint64
	lostInFlight  uint64
	// RFC 3161 tokens: verified against pinned roots, or not checked for
	// want of them; the largest size a verified token covers.
	stampsVerified, stampsUnchecked int
	stampedSize                     uint64
	stampedAt                       time.Time
	stampedBy                       string
}

type voidList struct {
	entries []voidEntry
	where   location
	index   uint64 // the notice's own leaf
}

// inFlightList is an unclean-stop notice: the records the collector had
// chained, but not known to be downstream, when it stopped.
type inFlightList struct {
	entries []voidEntry
	where   location
	// index is the notice's own leaf; from and size the range it declares.
	index, from, size uint64
}

type voidEntry struct {
	index  uint64
	stream string
	seq    uint64
	link   integrity.Hash
}

type keyInfo struct {
	name, vkey, algorithm string
	hash                  uint32
	previous              string                 // the key it replaces, as announced
	tpm                   *integrity.TPMKeyFacts // from valid TPM evidence, if any
}

// verifier reads an archive and judges it.
type verifier struct {
	source        archive.Reader
	trust         *integrity.TrustFile
	allowUnsealed bool

	files  []string
	logs   map[string]*logAcc
	keys   map[string]keyInfo // by "name+hash"
	rawCPs []rawCheckpoint
	stamps []rawStamp
	// missingStamped: time stamps whose checkpoint is not in the archive.
	missingStamped []string
	trustedBy      map[string]string // key id -> why it is trusted
	unchained      int
	unchainedAt    []string
	problems       []string // archive-level
	bytesRead      int64
	linesRead      int64
	keyOrder       []string
	checkpointsN   int
}

type rawCheckpoint struct {
	note  []byte
	where location
}

// rawStamp is an RFC 3161 time-stamp record.
type rawStamp struct {
	size    uint64
	imprint integrity.Hash
	nonce   *big.Int
	token   []byte
	where   location
}

func newVerifier(trust *integrity.TrustFile, allowUnsealed bool) *verifier {
	return &verifier{trust: trust, allowUnsealed: allowUnsealed, logs: map[string]*logAcc{}, keys: map[string]keyInfo{}, trustedBy: map[string]string{}}
}

func (v *verifier) at(l location) string {
	return fmt.Sprintf("%s:%d", v.files[l.file], l.line)
}

// readArchive reads every segment of the archive, in key order.
func (v *verifier) readArchive(ctx context.Context, r archive.Reader, prog *progress) error {
	v.source = r
	return r.Walk(ctx, func(o archive.Object) error {
		for _, f := range o.Findings {
			v.problems = append(v.problems, fmt.Sprintf("%s: %s", o.Key, f))
		}
		if o.Corrupt != nil {
			// Its records are then missing too, which completeness reports.
			v.problems = append(v.problems, fmt.Sprintf("%s: unreadable: %v", o.Key, o.Corrupt))
			prog.add(0)
			return nil
		}
		v.readSegment(o.Key, o.Data)
		prog.add(len(o.Data))
		return nil
	})
}

func (v *verifier) logAcc(id string) *logAcc {
	l := v.logs[id]
	if l == nil {
		l = &logAcc{id: id, streams: map[string]*streamAcc{}}
		v.logs[id] = l
	}
	return l
}

var chainNoticeMarker = []byte(`"event_name":"agent_audit.chain.`)

// readSegment takes in one segment's lines.
func (v *verifier) readSegment(name string, data []byte) {
	file := int32(len(v.files))
	v.files = append(v.files, name)
	v.bytesRead += int64(len(data))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		v.problems = append(v.problems, fmt.Sprintf("%s: truncated: the last line has no end", name))
	}
	lineNo := int32(0)
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		v.linesRead++
		where := location{file, lineNo}
		h, rec, err := integrity.ParseLine(line)
		if err != nil {
			v.problems = append(v.problems, fmt.Sprintf("%s: %v", v.at(where), err))
			continue
		}
		if h == nil {
			v.readPlain(rec, where)
			continue
		}
		v.readChained(h, rec, where)
	}
}

func (v *verifier) readChained(h *integrity.ChainHeader, rec []byte, where location) {
	l := v.logAcc(h.Log)
	s := l.streams[h.Stream]
	if s == nil {
		s = &streamAcc{name: h.Stream}
		l.streams[h.Stream] = s
	}
	digestOK := integrity.RecordDigest(rec) == h.Digest
	if !digestOK {
		s.problems = append(s.problems, fmt.Sprintf("seq %d (%s): record does not match its digest: its content was changed", h.Seq, v.at(where)))
	}
	// Leaves are placed once the whole archive is read, when a plausible
	// log size is known: a forged index must not make the verifier
	// allocate a leaf table of its choosing.
	l.pending = append(l.pending, pendingLeaf{index: h.Index, digestOK: digestOK,
		leaf: leaf{state: leafPresent, link: h.Link(), prev: h.Prev, stream: s, seq: h.Seq, where: where}})
	if digestOK && bytes.Contains(rec, chainNoticeMarker) {
		v.readChainNotice(l, h.Index, rec, where)
	}
}

type pendingLeaf struct {
	index    uint64
	digestOK bool
	leaf     leaf
}

// placeLeaves builds the log's leaf table from the leaves read, finding
// identical duplicates and equivocation.
func (v *verifier) placeLeaves(l *logAcc, sealed uint64) {
	known := uint64(len(l.pending))
	for _, vl := range l.voids {
		known += uint64(len(vl.entries))
	}
	for _, fl := range l.inFlight {
		known += uint64(len(fl.entries))
	}
	// An honest log's indices stay below its size; allow for a good part
	// of it missing before calling an index implausible.
	bound := 2*max(sealed, known) + 1024
	size := uint64(0)
	for i := range l.pending {
		if idx := l.pending[i].index; idx < bound {
			size = max(size, idx+1)
		}
	}
	for _, vl := range l.voids {
		for _, e := range vl.entries {
			if e.index < bound {
				size = max(size, e.index+1)
			}
		}
	}
	for _, fl := range l.inFlight {
		for _, e := range fl.entries {
			// Checked below against the notice's own range.
			if e.index < bound && e.index >= fl.from && e.index < fl.size {
				size = max(size, e.index+1)
			}
		}
	}
	l.leaves = make([]leaf, size)
	for i := range l.pending {
		p := &l.pending[i]
		s := p.leaf.stream
		if p.index >= bound {
			l.problems = append(l.problems, fmt.Sprintf("%s: leaf index %d is implausible for a log of about %d records",
				v.at(p.leaf.where), p.index, max(sealed, known)))
			continue
		}
		lf := &l.leaves[p.index]
		if lf.state == leafPresent {
			if lf.link == p.leaf.link {
				if p.digestOK {
					l.duplicates++
					s.duplicates++
				}
				continue
			}
			l.problems = append(l.problems, fmt.Sprintf("leaf %d: equivocation: two different records claim it (%s and %s)",
				p.index, v.at(lf.where), v.at(p.leaf.where)))
			continue
		}
		*lf = p.leaf
		s.entries = append(s.entries, p.index)
	}
	l.pending = nil
	// Sealed leaves that an unsealed notice lists: reported if no record
	// or sealed notice accounts for them (in whatever order they come).
	type excuse struct {
		index uint64
		kind  string
		where location
	}
	var unsealedOnly []excuse
	// Void notices fill in the leaves of records refused downstream.
	for _, vl := range l.voids {
		for _, e := range vl.entries {
			if e.index >= bound {
				l.problems = append(l.problems, fmt.Sprintf("%s: void notice names leaf %d, implausible for this log", v.at(vl.where), e.index))
				continue
			}
			lf := &l.leaves[e.index]
			switch {
			case lf.state == leafMissing && unsealedExcuse(vl.index, e.index, sealed):
				unsealedOnly = append(unsealedOnly, excuse{e.index, "void", vl.where})
			case lf.state == leafMissing:
				l.fillLeaf(e.index, leafVoided, e.stream, e.seq, e.link, vl.where).voided++
			case lf.state == leafPresent || lf.state == leafVoided:
				if lf.link != e.link {
					l.problems = append(l.problems, fmt.Sprintf("leaf %d: void notice %s contradicts the record at %s", e.index, v.at(vl.where), v.at(lf.where)))
				}
			}
		}
	}
	// Unclean-stop notices fill in the leaves that were in flight at a
	// stop and never reached the archive; their senders were never
	// acknowledged. A leaf they list that is present must be the same.
	for _, fl := range l.inFlight {
		for _, e := range fl.entries {
			if e.index < fl.from || e.index >= fl.size || e.index >= bound {
				l.problems = append(l.problems, fmt.Sprintf("%s: unclean-stop notice names leaf %d, outside the range [%d, %d) it declares",
					v.at(fl.where), e.index, fl.from, fl.size))
				continue
			}
			lf := &l.leaves[e.index]
			switch {
			case lf.state == leafMissing && unsealedExcuse(fl.index, e.index, sealed):
				unsealedOnly = append(unsealedOnly, excuse{e.index, "unclean-stop", fl.where})
			case lf.state == leafMissing:
				l.fillLeaf(e.index, leafLost, e.stream, e.seq, e.link, fl.where).lost++
			default:
				if lf.link != e.link {
					l.problems = append(l.problems, fmt.Sprintf("leaf %d: unclean-stop notice %s contradicts the record or notice at %s",
						e.index, v.at(fl.where), v.at(lf.where)))
				}
			}
		}
	}
	for _, e := range unsealedOnly {
		if l.leaves[e.index].state == leafMissing {
			l.missing = append(l.missing, fmt.Sprintf("leaf %d: only the %s notice at %s, which no checkpoint covers, accounts for it",
				e.index, e.kind, v.at(e.where)))
		}
	}
}

// fillLeaf puts in a leaf the archive lacks from what a notice says of it
// (voided or lost in flight), in its stream, and returns that stream.
func (l *logAcc) fillLeaf(index uint64, state uint8, stream string, seq uint64, link integrity.Hash, where location) *streamAcc {
	s := l.streams[stream]
	if s == nil {
		s = &streamAcc{name: stream}
		l.streams[stream] = s
	}
	l.leaves[index] = leaf{state: state, link: link, stream: s, seq: seq, where: where}
	s.entries = append(s.entries, index)
	return s
}

// unsealedExcuse says whether a notice at leaf notice would account for a
// leaf a checkpoint covers while no checkpoint covers the notice itself.
// Anyone can append such a notice to the unsealed tail (digests and links
// need no secret), so it may not excuse a sealed leaf's absence; it still
// accounts for unsealed leaves (a live log just after a restart).
func unsealedExcuse(notice, listed, sealed uint64) bool {
	return notice >= sealed && listed < sealed
}

// readChainNotice takes in an epoch start, a void notice or an unclean-stop
// notice (at leaf index).
func (v *verifier) readChainNotice(l *logAcc, index uint64, rec []byte, where location) {
	ld, err := integrity.LogsFromCanonical(rec, nil)
	if err != nil {
		return
	}
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	attrs := lr.Attributes()
	switch lr.EventName() {
	case integrity.EventEpochStart:
		if r, ok := attrs.Get(integrity.AttrEpochReason); ok {
			l.epochReason = r.AsString()
		}
		if p, ok := attrs.Get(integrity.AttrPrevLogID); ok {
			l.prevLogID = p.AsString()
		}
	case integrity.EventVoid:
		entries, ok := v.readLeafList(l, attrs, integrity.AttrVoidedRecords, "void notice", where)
		if ok {
			l.voids = append(l.voids, voidList{entries: entries, where: where, index: index})
		}
	case integrity.EventUncleanStop:
		entries, ok := v.readLeafList(l, attrs, integrity.AttrInFlightRecords, "unclean-stop notice", where)
		if !ok {
			return
		}
		from, fok := attrs.Get(integrity.AttrInFlightFrom)
		size, sok := attrs.Get(integrity.AttrInFlightSize)
		count, cok := attrs.Get(integrity.AttrInFlightCount)
		switch {
		case !fok || !sok || !cok || from.Type() != pcommon.ValueTypeInt || size.Type() != pcommon.ValueTypeInt ||
			count.Type() != pcommon.ValueTypeInt || from.Int() < 0 || from.Int() > size.Int():
			l.problems = append(l.problems, fmt.Sprintf("%s: unclean-stop notice without a valid range (%s, %s, %s)", v.at(where),
				integrity.AttrInFlightFrom, integrity.AttrInFlightSize, integrity.AttrInFlightCount))
			return
		case uint64(size.Int()) != index:
			// The notice is the first record chained at the restart: the
			// range it declares ends where it stands.
			l.problems = append(l.problems, fmt.Sprintf("%s: unclean-stop notice at leaf %d declares the log's size at the restart as %d",
				v.at(where), index, size.Int()))
			return
		case count.Int() != int64(len(entries)):
			l.problems = append(l.problems, fmt.Sprintf("%s: unclean-stop notice counts %d records but lists %d", v.at(where), count.Int(), len(entries)))
			return
		}
		l.inFlight = append(l.inFlight, inFlightList{entries: entries, where: where, index: index,
			from: uint64(from.Int()), size: uint64(size.Int())})
	}
}

// readLeafList reads the list of leaves a void or unclean-stop notice names.
func (v *verifier) readLeafList(l *logAcc, attrs pcommon.Map, key, what string, where location) ([]voidEntry, bool) {
	list, ok := attrs.Get(key)
	if !ok || list.Type() != pcommon.ValueTypeSlice {
		l.problems = append(l.problems, fmt.Sprintf("%s: %s without its list", v.at(where), what))
		return nil, false
	}
	var entries []voidEntry
	for _, item := range list.Slice().All() {
		m := item.Map()
		idx, _ := m.Get("index")
		stream, _ := m.Get("stream")
		seq, _ := m.Get("seq")
		linkV, _ := m.Get("link")
		link, err := integrity.ParseHash(linkV.AsString())
		if err != nil || idx.Int() < 0 || seq.Int() < 0 {
			l.problems = append(l.problems, fmt.Sprintf("%s: %s entry is malformed", v.at(where), what))
			continue
		}
		entries = append(entries, voidEntry{index: uint64(idx.Int()), stream: stream.AsString(), seq: uint64(seq.Int()), link: link})
	}
	return entries, true
}

func (v *verifier) readPlain(rec []byte, where location) {
	ld, err := integrity.LogsFromCanonical(rec, nil)
	if err != nil {
		v.problems = append(v.problems, fmt.Sprintf("%s: %v", v.at(where), err))
		return
	}
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	switch lr.EventName() {
	case integrity.EventCheckpoint:
		v.rawCPs = append(v.rawCPs, rawCheckpoint{note: []byte(lr.Body().AsString()), where: where})
	case integrity.EventKeyAnnouncement:
		v.readKeyAnnouncement(lr, where)
	case integrity.EventCheckpointTimestamp:
		v.readTimestamp(lr, where)
	default:
		v.unchained++
		if len(v.unchainedAt) < 5 {
			v.unchainedAt = append(v.unchainedAt, v.at(where))
		}
	}
}

func (v *verifier) readKeyAnnouncement(lr plog.LogRecord, where location) {
	attrs := lr.Attributes()
	vk, ok := attrs.Get(integrity.AttrKeyVerifierKey)
	if !ok {
		v.problems = append(v.problems, fmt.Sprintf("%s: key announcement without a verifier key", v.at(where)))
		return
	}
	verifier, err := integrity.NewVerifier(vk.AsString())
	if err != nil {
		v.problems = append(v.problems, fmt.Sprintf("%s: key announcement: %v", v.at(where), err))
		return
	}
	id := fmt.Sprintf("%s+%08x", verifier.Name(), verifier.KeyHash())
	k, seen := v.keys[id]
	if !seen {
		v.keyOrder = append(v.keyOrder, id)
		k = keyInfo{name: verifier.Name(), vkey: vk.AsString(), algorithm: attrString(attrs, integrity.AttrKeyAlgorithm), hash: verifier.KeyHash()}
	}
	if prev, ok := attrs.Get(integrity.AttrKeyPrevious); ok {
		k.previous = prev.AsString()
	}
	// TPM evidence that does not verify is a forgery or damage, whatever
	// the trust file asks: it fails the archive.
	ev, err := integrity.TPMEvidenceFromAttributes(attrs)
	if err == nil && ev != nil {
		pub, perr := integrity.PublicKeyFromVerifierKey(vk.AsString())
		ecPub, _ := pub.(*ecdsa.PublicKey)
		if perr != nil || ecPub == nil {
			err = fmt.Errorf("TPM evidence for a key that is not ECDSA P-256")
		} else {
			var facts *integrity.TPMKeyFacts
			if facts, err = integrity.VerifyTPMEvidence(ev, vk.AsString(), ecPub); err == nil {
				k.tpm = facts
			}
		}
	}
	if err != nil {
		v.problems = append(v.problems, fmt.Sprintf("%s: key announcement of %s: %v", v.at(where), id, err))
	}
	v.keys[id] = k
}

func (v *verifier) readTimestamp(lr plog.LogRecord, where location) {
	attrs := lr.Attributes()
	str := func(k string) string { return attrString(attrs, k) }
	st := rawStamp{where: where}
	size, ok := attrs.Get(integrity.AttrCheckpointSize)
	imprint, ierr := integrity.ParseHash(str(integrity.AttrTimestampImprint))
	nonce, nok := new(big.Int).SetString(str(integrity.AttrTimestampNonce), 10)
	token, terr := base64.StdEncoding.DecodeString(str(integrity.AttrTimestampToken))
	if !ok || size.Type() != pcommon.ValueTypeInt || size.Int() < 0 || ierr != nil || !nok || terr != nil || len(token) == 0 {
		v.problems = append(v.problems, fmt.Sprintf("%s: time-stamp record is malformed (size, imprint, nonce and token are required)", v.at(where)))
		return
	}
	st.size, st.imprint, st.nonce, st.token = uint64(size.Int()), imprint, nonce, token
	v.stamps = append(v.stamps, st)
}

// finish checks everything that needs the whole archive.
func (v *verifier) finish() {
	v.openCheckpoints()
	for _, l := range v.logs {
		v.finishLog(l)
	}
	v.checkTimestamps()
}

// openCheckpoints checks every checkpoint's signatures and follows key
// rotations. The trusted keys are the trust file's (without one: every
// key the archive announces, which proves consistency, not
// authenticity). A checkpoint signed by a trusted key and by a key whose
// announcement names the trusted key as the one it replaces makes the
// successor trusted too: that is how a key hands over. A checkpoint that no
// trusted key signed fails.
func (v *verifier) openCheckpoints() {
	if v.trust != nil {
		for _, k := range v.trust.Keys {
			if nv, err := integrity.NewVerifier(k); err == nil {
				v.trustedBy[fmt.Sprintf("%s+%08x", nv.Name(), nv.KeyHash())] = "trust file"
			}
		}
	} else {
		for _, id := range v.keyOrder {
			v.trustedBy[id] = "announced in the archive"
		}
	}
	known := v.knownVerifiers()
	type opened struct {
		cp    *integrity.Checkpoint
		sigs  []string
		where location
	}
	var all []opened
	for _, raw := range v.rawCPs {
		v.checkpointsN++
		origin := strings.SplitN(string(raw.note), "\n", 2)[0]
		if known == nil {
			v.problems = append(v.problems, fmt.Sprintf("%s: checkpoint cannot be checked: no trusted or announced key", v.at(raw.where)))
			continue
		}
		cp, err := integrity.OpenCheckpoint(raw.note, known)
		if err != nil {
			v.logAcc(origin).problems = append(v.logAcc(origin).problems, fmt.Sprintf("checkpoint %s: %v", v.at(raw.where), err))
			continue
		}
		all = append(all, opened{cp: cp, sigs: cp.Signers, where: raw.where})
	}
	for changed := true; changed; {
		changed = false
		for _, o := range all {
			for _, voucher := range o.sigs {
				if _, ok := v.trustedBy[voucher]; !ok {
					continue
				}
				for _, s := range o.sigs {
					// Hand-over goes one way: from the key a successor's
					// announcement names as the one it replaces.
					if _, ok := v.trustedBy[s]; !ok && v.keys[s].previous == voucher {
						v.trustedBy[s] = fmt.Sprintf("rotation: co-signed with %s, which it replaces, in the checkpoint at %s", voucher, v.at(o.where))
						changed = true
					}
				}
			}
		}
	}
	for _, o := range all {
		l := v.logAcc(o.cp.Origin)
		var signers []string
		for _, s := range o.sigs {
			if _, ok := v.trustedBy[s]; ok {
				signers = append(signers, s)
			}
		}
		if len(signers) == 0 {
			l.problems = append(l.problems, fmt.Sprintf("checkpoint %s at size %d is signed only by %s, which is not trusted: "+
				"not in the trust file, and no checkpoint co-signed by the trusted key it replaces hands over to it", v.at(o.where), o.cp.Size, strings.Join(o.sigs, ", ")))
			continue
		}
		o.cp.Signers = signers
		for _, signer := range signers {
			if _, ok := v.keys[signer]; !ok {
				l.problems = append(l.problems,
					fmt.Sprintf("checkpoint %s at size %d is signed by key %s, which the archive never announces", v.at(o.where), o.cp.Size, signer))
			}
		}
		l.checkpoints = append(l.checkpoints, checkpointAcc{cp: o.cp, where: o.where})
	}
	if v.trust != nil && v.trust.RequireTPM {
		v.checkHardwareKeys()
	}
}

// checkHardwareKeys applies "require tpm": every key a log's checkpoints
// rely on must have shown, in its announcement, TPM evidence certified by
// an attestation key the trust file lists.
func (v *verifier) checkHardwareKeys() {
	for _, l := range v.logs {
		reported := map[string]bool{}
		for _, c := range l.checkpoints {
			for _, signer := range c.cp.Signers {
				if reported[signer] {
					continue
				}
				k, ok := v.keys[signer]
				var why string
				switch {
				case !ok:
					continue // reported: never announced
				case k.tpm == nil:
					why = "its announcement carries no valid TPM evidence"
				case !v.trust.TrustsAK(k.tpm.AKName):
					why = fmt.Sprintf("its TPM evidence is certified by attestation key %s, which the trust file does not list", k.tpm.AKName)
				default:
					continue
				}
				reported[signer] = true
				l.problems = append(l.problems, fmt.Sprintf("checkpoint %s is signed by key %s, but the trust file requires TPM keys and %s", v.at(c.where), signer, why))
			}
		}
	}
}

// knownVerifiers are the keys signatures are checked with: the trust
// file's and the announced ones. A trust-file key shadows an announced key
// with the same name and hash.
func (v *verifier) knownVerifiers() note.Verifiers {
	var list []note.Verifier
	seen := map[string]bool{}
	if v.trust != nil {
		for _, k := range v.trust.Keys {
			if nv, err := integrity.NewVerifier(k); err == nil {
				list = append(list, nv)
				seen[fmt.Sprintf("%s+%08x", nv.Name(), nv.KeyHash())] = true
			}
		}
	}
	for _, id := range v.keyOrder {
		if seen[id] {
			continue
		}
		if nv, err := integrity.NewVerifier(v.keys[id].vkey); err == nil {
			list = append(list, nv)
			seen[id] = true
		}
	}
	if len(list) == 0 {
		return nil
	}
	return note.VerifierList(list...)
}

// checkTimestamps matches every time-stamp token to the checkpoint it
// covers (by the SHA-256 of its signed note: the log id attribute is an
// integrity attribute, outside the archived record) and, when the trust
// file pins TSA roots, verifies it.
func (v *verifier) checkTimestamps() {
	type covered struct {
		l  *logAcc
		cp *integrity.Checkpoint
	}
	byImprint := map[integrity.Hash]covered{}
	for _, l := range v.logs {
		for _, c := range l.checkpoints {
			byImprint[sha256.Sum256(c.cp.Note)] = covered{l, c.cp}
		}
	}
	for _, st := range v.stamps {
		c, ok := byImprint[st.imprint]
		if !ok || c.cp.Size != st.size {
			v.missingStamped = append(v.missingStamped, fmt.Sprintf("the time stamp at %s covers a checkpoint (size %d) that is not in the archive or does not verify", v.at(st.where), st.size))
			continue
		}
		l := c.l
		if v.trust == nil || v.trust.TSARoots == nil {
			l.stampsUnchecked++
			continue
		}
		info, err := integrity.VerifyTimestampToken(st.token, st.imprint, st.nonce, v.trust.TSARoots)
		if err != nil {
			l.problems = append(l.problems, fmt.Sprintf("%s: %v", v.at(st.where), err))
			continue
		}
		l.stampsVerified++
		if st.size >= l.stampedSize {
			l.stampedSize, l.stampedAt, l.stampedBy = st.size, info.Time, info.TSA
		}
	}
}

func (v *verifier) finishLog(l *logAcc) {
	slices.SortFunc(l.checkpoints, func(a, b checkpointAcc) int { return cmp.Compare(a.cp.Size, b.cp.Size) })
	var sealed uint64
	if n := len(l.checkpoints); n > 0 {
		sealed = l.checkpoints[n-1].cp.Size
	}
	v.placeLeaves(l, sealed)
	size := max(uint64(len(l.leaves)), sealed)

	// Walk the leaves in order, recomputing the root at every checkpoint.
	tree := integrity.NewMerkleLog()
	firstMissing := int64(-1)
	var missingRuns []string
	runStart := int64(-1)
	closeRun := func(end uint64) {
		if runStart >= 0 {
			missingRuns = append(missingRuns, rangeText(uint64(runStart), end-1))
			runStart = -1
		}
	}
	cpi := 0
	checkRoots := func(upto uint64) {
		for cpi < len(l.checkpoints) && l.checkpoints[cpi].cp.Size == upto {
			c := l.checkpoints[cpi]
			cpi++
			if firstMissing >= 0 {
				continue // reported with the missing leaves
			}
			if tree.Root() != c.cp.Root {
				l.problems = append(l.problems, fmt.Sprintf("checkpoint %s at size %d: the records do not hash to its root (records changed, removed, inserted or reordered)", v.at(c.where), upto))
			}
		}
	}
	checkRoots(0)
	for i := uint64(0); i < size; i++ {
		var lf *leaf
		if i < uint64(len(l.leaves)) {
			lf = &l.leaves[i]
		}
		if lf == nil || lf.state == leafMissing {
			l.missingLeaves++
			if firstMissing < 0 {
				firstMissing = int64(i)
			}
			if runStart < 0 {
				runStart = int64(i)
			}
		} else {
			closeRun(i)
			if lf.state == leafLost {
				l.lostInFlight++
			}
			if firstMissing < 0 {
				tree.Append(lf.link)
			}
			if i >= sealed && lf.state == leafPresent {
				lf.stream.unsealed++
			}
		}
		checkRoots(i + 1)
	}
	closeRun(size)
	if len(missingRuns) > 0 {
		l.missing = append(l.missing, fmt.Sprintf("leaves %s are missing (records deleted, lost before the archive, or never written); checkpoints after leaf %d cannot be recomputed",
			joinLimited(missingRuns, 10), firstMissing))
	}
	// A log without any checkpoint has every record unsealed (counted per
	// stream above): a live or just-started log, or one whose checkpoints
	// were removed. It fails unless --allow-unsealed.
	for i := 1; i < len(l.checkpoints); i++ {
		a, b := l.checkpoints[i-1].cp, l.checkpoints[i].cp
		if a.Size == b.Size && a.Root != b.Root {
			l.problems = append(l.problems, fmt.Sprintf("two checkpoints at size %d with different roots (%s, %s): the log forked",
				a.Size, v.at(l.checkpoints[i-1].where), v.at(l.checkpoints[i].where)))
		}
	}

	for _, s := range l.streams {
		v.finishStream(l, s)
	}
}

func (v *verifier) finishStream(l *logAcc, s *streamAcc) {
	slices.SortFunc(s.entries, func(a, b uint64) int { return cmp.Compare(l.leaves[a].seq, l.leaves[b].seq) })
	expect := uint64(1)
	var prevLink integrity.Hash
	prevKnown := true
	prevIdx := uint64(0)
	for _, idx := range s.entries {
		lf := &l.leaves[idx]
		switch {
		case lf.seq < expect:
			s.problems = append(s.problems, fmt.Sprintf("seq %d: equivocation: two different records claim it (%s and %s)",
				lf.seq, v.at(l.leaves[prevIdx].where), v.at(lf.where)))
			continue
		case lf.seq > expect:
			s.gaps = append(s.gaps, rangeText(expect, lf.seq-1))
			s.missingSeqs += lf.seq - expect
			prevKnown = false
		}
		if lf.state == leafPresent && prevKnown && lf.prev != prevLink {
			s.problems = append(s.problems, fmt.Sprintf("seq %d (%s): does not link to seq %d (records reordered, replaced or moved between streams)",
				lf.seq, v.at(lf.where), lf.seq-1))
		}
		prevLink, prevKnown, expect, prevIdx = lf.link, true, lf.seq+1, idx
	}
}

func rangeText(a, b uint64) string {
	if a == b {
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

func joinLimited(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more ranges", len(items)-n)
}

// attrString is an attribute's value as a string, "" when it is absent.
func attrString(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
