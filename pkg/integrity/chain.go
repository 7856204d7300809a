package integrity

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Integrity attributes the chain processor writes on every record. The
// stream, sequence and previous-hash names come from the OpenTelemetry
// audit-logging draft; the others are this project's.
const (
	// AttrLogID names the Merkle log the record is a leaf of:
	// "<origin>/<epoch>", also the origin line of the log's checkpoints.
	AttrLogID = "audit.log.id"
	// AttrLogIndex is the record's leaf index in that log (int).
	AttrLogIndex = "audit.log.index"
	// AttrStreamID is the stream the record is chained in.
	AttrStreamID = "audit.stream.id"
	// AttrSequenceNumber is the record's position in its stream, from 1 (int).
	AttrSequenceNumber = "audit.sequence.number"
	// AttrPrevHash is the link of the stream's previous record (hex), or
	// 64 zeros for the first record of a stream in a log.
	AttrPrevHash = "audit.sequence.prev_hash"
	// AttrRecordDigest is SHA-256 of the canonical form (hex).
	AttrRecordDigest = "audit.record.digest"
)

// Event names of the records the integrity components emit themselves.
// Records from outside the collector may not use them (the chain processor
// refuses them), so a verifier can trust that they came from here.
const (
	// EventCheckpoint: a signed checkpoint of a log; the body is the signed note.
	EventCheckpoint = "agent_audit.checkpoint"
	// EventCheckpointTimestamp: an RFC 3161 time-stamp token over a
	// checkpoint (SHA-256 of its signed note).
	EventCheckpointTimestamp = "agent_audit.checkpoint.timestamp"
	// EventKeyAnnouncement: a signing key's first use by a collector.
	EventKeyAnnouncement = "agent_audit.key.announcement"
	// EventEpochStart: the first record of every log. It says why a new log
	// began, so a restart without state is never silent.
	EventEpochStart = "agent_audit.chain.epoch_start"
	// EventVoid: records that were chained but refused downstream (the
	// sender was told to retry); lists their links so the log stays whole.
	EventVoid = "agent_audit.chain.void"
	// EventUncleanStop: written at a start after a stop that left chained
	// records not known to be downstream (SIGKILL, power loss, a shutdown
	// that could not release its notices). It lists those records' links
	// (AttrInFlightRecords, maps like AttrVoidedRecords): any of them the
	// archive lacks was never acknowledged to its sender, and the log's
	// tree can still be recomputed over them.
	EventUncleanStop = "agent_audit.chain.unclean_stop"
)

// Attributes of the records the integrity components emit.
const (
	// AttrVoidedRecords is the list on a void record: one map per voided
	// record with "index", "stream", "seq" and "link" (hex).
	AttrVoidedRecords = "agent_audit.chain.voided"
	AttrVoidedCount   = "agent_audit.chain.voided_count"
	AttrVoidedError   = "agent_audit.chain.voided_error"
	// AttrInFlightRecords is the list on an unclean-stop record, one map
	// per record with "index", "stream", "seq" and "link" (hex);
	// AttrInFlightCount its length. AttrInFlightFrom is the first leaf not
	// known to be downstream (every leaf below it was) and AttrInFlightSize
	// the log's size at the restart: the listed indices lie in
	// [from, size), and the notice itself is leaf size.
	AttrInFlightRecords = "agent_audit.chain.in_flight"
	AttrInFlightCount   = "agent_audit.chain.in_flight_count"
	AttrInFlightFrom    = "agent_audit.chain.in_flight_from"
	AttrInFlightSize    = "agent_audit.chain.in_flight_size"
	// AttrEpochReason says why a log began (epoch start record).
	AttrEpochReason = "agent_audit.chain.reason"
	// AttrPrevLogID and AttrPrevSize name the log an epoch replaced, when known.
	AttrPrevLogID = "agent_audit.chain.previous_log_id"
	AttrPrevSize  = "agent_audit.chain.previous_size"

	AttrCheckpointSize = "agent_audit.checkpoint.size"
	AttrCheckpointRoot = "agent_audit.checkpoint.root"
	// AttrKeyPrevious, on the announcement of a key that replaces another,
	// names the replaced key (name+hash); its transition checkpoint carries
	// both signatures.
	AttrKeyPrevious = "agent_audit.key.previous"
	// AttrTimestampToken is the RFC 3161 TimeStampToken (base64 DER);
	// AttrTimestampNonce the request's nonce (decimal); AttrTimestampImprint
	// the time-stamped digest (hex SHA-256 of the checkpoint note);
	// AttrTimestampTime the TSA's time (RFC 3339, for reading; the token is
	// the evidence).
	AttrTimestampToken   = "agent_audit.timestamp.token"
	AttrTimestampNonce   = "agent_audit.timestamp.nonce"
	AttrTimestampImprint = "agent_audit.timestamp.imprint"
	AttrTimestampTime    = "agent_audit.timestamp.time"
	AttrKeyName          = "agent_audit.key.name"
	AttrKeyVerifierKey   = "agent_audit.key.verifier_key"
	AttrKeyAlgorithm     = "agent_audit.key.algorithm"
	AttrKeyPublicKey     = "agent_audit.key.public_key"
)

// CollectorStream is the stream of the records the chain processor writes
// itself (epoch starts, void notices).
const CollectorStream = "@collector"

// IsReservedEventName reports whether name belongs to the integrity
// components and must not come from outside.
func IsReservedEventName(name string) bool {
	return name == EventCheckpoint || name == EventCheckpointTimestamp || name == EventKeyAnnouncement ||
		strings.HasPrefix(name, "agent_audit.chain.") || strings.HasPrefix(name, "agent_audit.key.")
}

// StreamOf names a record's stream: the value of the first of names present
// on the record's attributes, else on its resource's; "" when none is.
// The chain processor and the worm exporter (for unchained records) both
// choose streams this way.
func StreamOf(names []string, resource, record pcommon.Map) string {
	for _, name := range names {
		if v, ok := record.Get(name); ok {
			return v.AsString()
		}
		if v, ok := resource.Get(name); ok {
			return v.AsString()
		}
	}
	return ""
}

// Hash is a SHA-256 value.
type Hash [sha256.Size]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q: want %d hex digits", s, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

// RecordDigest is SHA-256 of a canonical form.
func RecordDigest(canonical []byte) Hash { return sha256.Sum256(canonical) }

// linkDomain separates chain links from every other SHA-256 use.
const linkDomain = "agentaudit/link/v1\n"

// Link is the hash that chains a record to its stream's previous record:
//
//	SHA-256("agentaudit/link/v1\n" || u32(len(log)) || log || u32(len(stream)) || stream
//	        || u64(seq) || prev || record_digest)
//
// with big-endian integers. It binds the record to its log, stream and
// position, so a record replayed elsewhere does not fit. The link is also
// the record's leaf in the log's Merkle tree.
func Link(logID, stream string, seq uint64, prev, digest Hash) Hash {
	// One contiguous buffer and one Sum256: no allocation for the usual
	// sizes of ids.
	var local [256]byte
	n := len(linkDomain) + 4 + len(logID) + 4 + len(stream) + 8 + 2*len(prev)
	b := local[:0]
	if n > len(local) {
		b = make([]byte, 0, n)
	}
	b = append(b, linkDomain...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(logID)))
	b = append(b, logID...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(stream)))
	b = append(b, stream...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, prev[:]...)
	b = append(b, digest[:]...)
	return sha256.Sum256(b)
}

// LogID joins an origin and an epoch into a log id / checkpoint origin.
func LogID(origin string, epoch uint64) string {
	return origin + "/" + strconv.FormatUint(epoch, 10)
}

// SplitLogID undoes LogID.
func SplitLogID(logID string) (origin string, epoch uint64, err error) {
	i := strings.LastIndexByte(logID, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("log id %q: want <origin>/<epoch>", logID)
	}
	epoch, err = strconv.ParseUint(logID[i+1:], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("log id %q: epoch: %w", logID, err)
	}
	return logID[:i], epoch, nil
}

// OriginForHost turns a host name into a valid origin (the chain
// processor's default): characters an origin may not hold become '-'.
func OriginForHost(host string) string {
	if host == "" {
		return "unknown-host"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '+' || r == 0x7f {
			return '-'
		}
		return r
	}, host)
}

// ValidateOrigin checks that an origin can be a checkpoint origin line
// (C2SP tlog-checkpoint: no spaces or '+', no newline) and a log id prefix.
func ValidateOrigin(origin string) error {
	if origin == "" {
		return fmt.Errorf("origin is empty")
	}
	for _, r := range origin {
		if r <= ' ' || r == '+' || r == 0x7f {
			return fmt.Errorf("origin %q: spaces, control characters and '+' are not allowed", origin)
		}
	}
	return nil
}

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// hashChildren is RFC 6962's interior node hash, SHA-256(0x01 || l || r),
// without the allocations of a hash.Hash.
func hashChildren(l, r []byte) []byte {
	var b [1 + 2*sha256.Size]byte
	b[0] = 1
	copy(b[1:], l)
	copy(b[1+sha256.Size:], r)
	sum := sha256.Sum256(b[:])
	return sum[:]
}

// LeafHash is the RFC 6962 leaf hash of a link: SHA-256(0x00 || link).
func LeafHash(link Hash) []byte {
	var b [1 + sha256.Size]byte
	copy(b[1:], link[:])
	sum := sha256.Sum256(b[:])
	return sum[:]
}

// MerkleLog is the append-only RFC 6962 tree of a log, held as a compact
// range: log2(size) hashes, enough to append and to compute the root.
type MerkleLog struct {
	rng *compact.Range
}

// NewMerkleLog returns an empty log.
func NewMerkleLog() *MerkleLog { return &MerkleLog{rng: rangeFactory.NewEmptyRange(0)} }

// RestoreMerkleLog rebuilds a log from its size and compact range hashes
// (as returned by Hashes).
func RestoreMerkleLog(size uint64, hashes [][]byte) (*MerkleLog, error) {
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return &MerkleLog{rng: r}, nil
}

// Append adds a link as the next leaf and returns its index.
func (l *MerkleLog) Append(link Hash) uint64 {
	idx := l.rng.End()
	// Append only fails on a malformed range, which NewRange rules out.
	if err := l.rng.Append(LeafHash(link), nil); err != nil {
		panic(err)
	}
	return idx
}

// AppendLeafHash adds a leaf given its leaf hash.
func (l *MerkleLog) AppendLeafHash(leaf []byte) {
	if err := l.rng.Append(leaf, nil); err != nil {
		panic(err)
	}
}

// Size is the number of leaves.
func (l *MerkleLog) Size() uint64 { return l.rng.End() }

// Root is the RFC 6962 root hash (the hash of the empty string for an
// empty log).
func (l *MerkleLog) Root() Hash {
	var h Hash
	if l.rng.End() == 0 {
		copy(h[:], rfc6962.DefaultHasher.EmptyRoot())
		return h
	}
	root, err := l.rng.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	copy(h[:], root)
	return h
}

// Hashes returns a copy of the compact range, for persisting.
func (l *MerkleLog) Hashes() [][]byte {
	in := l.rng.Hashes()
	out := make([][]byte, len(in))
	for i, h := range in {
		out[i] = append([]byte(nil), h...)
	}
	return out
}
