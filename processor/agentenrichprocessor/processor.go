package agentenrichprocessor

import (
	"context"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/processor/agentenrichprocessor/internal/metadata"
)

// Attributes this processor writes.
const (
	// AttrEnriched lists, on each record the processor changed, the names
	// of the attributes it added: the rest came from the source.
	AttrEnriched = "agent_audit.enriched"
	// AttrCollectorID is the service.instance.id of the collector.
	AttrCollectorID = "agent_audit.collector.id"
	// AttrCollectorVersion is the collector's build version.
	AttrCollectorVersion = "agent_audit.collector.version"
	// AttrCollectorHost is the host name of the collector's host.
	AttrCollectorHost = "agent_audit.collector.host"
	// AttrFileSHA256 is the schema's hex SHA-256 of a file's content.
	AttrFileSHA256 = "agent_audit.file.sha256"
	// AttrHashStatus says why a file record has no AttrFileSHA256.
	AttrHashStatus = "agent_audit.file.hash_status"

	attrHostID    = "host.id"
	attrHostName  = "host.name"
	attrUserID    = "user.id"
	attrUserName  = "user.name"
	attrFilePath  = "file.path"
	attrFileSize  = "file.size"
	attrStreamID  = "audit.stream.id"
	eventFileDel  = "agent_audit.file.delete"
	eventFileRead = "agent_audit.file.read"
	eventFileWrit = "agent_audit.file.write"
)

// maxStuckHashers bounds the hashing goroutines a hung file system can hold:
// a read blocked in the kernel cannot be interrupted, so a batch whose
// deadline passed leaves its goroutine behind. Once this many are stuck,
// batches skip hashing (status timeout) instead of piling up more.
const maxStuckHashers = 4

type enricher struct {
	cfg    *Config
	set    processor.Settings
	id     identity
	hasher *hasher
	// hashFn hashes one file; tests replace it to stand for a slow disk.
	hashFn   func(ctx context.Context, path string) fileResult
	inflight chan struct{}
	// stuck counts the hashing goroutines whose batch stopped waiting.
	stuck  atomic.Int64
	tb     *metadata.TelemetryBuilder
	logger *zap.Logger
}

func newEnricher(cfg *Config, set processor.Settings) (*enricher, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &enricher{cfg: cfg, set: set, hasher: newHasher(cfg), inflight: make(chan struct{}, maxStuckHashers),
		tb: tb, logger: set.Logger}
	e.hashFn = e.hasher.hash
	return e, nil
}

// start detects the identity once: it does not change while the collector
// runs, and reading it per record would cost a syscall each.
func (e *enricher) start(context.Context, component.Host) error {
	e.id = detectIdentity(e.cfg, e.set, e.logger)
	e.logger.Info("enrichment identity", zap.String("host.id", e.id.hostID), zap.String("host.name", e.id.hostName),
		zap.String(AttrCollectorID, e.id.collectorID), zap.String(AttrCollectorVersion, e.id.collectorVersion),
		zap.Bool("user_from_process", e.cfg.UserFromProcess))
	return nil
}

// pending is a record being enriched and what was added to it so far.
type pending struct {
	attrs pcommon.Map
	added []string
}

func (p *pending) put(name string, set func(pcommon.Map)) {
	set(p.attrs)
	p.added = append(p.added, name)
}

type hashJob struct {
	rec  *pending
	path string
}

func (e *enricher) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var recs []*pending
	var jobs []hashJob
	failures := map[string]int64{}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				attrs := lr.Attributes()
				if _, chained := attrs.Get(attrStreamID); chained {
					// Chained upstream: any change would break its link.
					continue
				}
				p := &pending{attrs: attrs}
				recs = append(recs, p)
				// The host relation is read before addIdentity may write
				// this collector's host into the record.
				host := e.hostRelation(attrs, res)
				e.addIdentity(p, res, host)
				if path, ok := e.fileCandidate(lr); ok {
					switch {
					case lr.EventName() == eventFileDel:
						e.setStatus(p, StatusDeleted, failures)
					case host == hostOther:
						e.setStatus(p, StatusOtherHost, failures)
					default:
						jobs = append(jobs, hashJob{rec: p, path: path})
					}
				}
			}
		}
	}

	hashed := int64(0)
	if len(jobs) > 0 {
		paths := make([]string, 0, len(jobs))
		index := map[string]int{}
		for _, j := range jobs {
			if _, ok := index[j.path]; !ok {
				index[j.path] = len(paths)
				paths = append(paths, j.path)
			}
		}
		results := e.hashAll(ctx, paths)
		for _, j := range jobs {
			r := results[index[j.path]]
			if r.status == "" {
				hashed++
				j.rec.put(AttrFileSHA256, func(m pcommon.Map) { m.PutStr(AttrFileSHA256, r.sha256) })
			} else {
				e.setStatus(j.rec, r.status, failures)
			}
			if _, ok := j.rec.attrs.Get(attrFileSize); !ok && r.sizeKnown {
				j.rec.put(attrFileSize, func(m pcommon.Map) { m.PutInt(attrFileSize, r.size) })
			}
		}
	}

	added := map[string]int64{}
	for _, p := range recs {
		if len(p.added) == 0 {
			continue
		}
		for _, n := range p.added {
			added[n]++
		}
		// An upstream collector that enriched without chaining left its
		// list: this collector's names are appended to it.
		var list pcommon.Slice
		if v, ok := p.attrs.Get(AttrEnriched); ok && v.Type() == pcommon.ValueTypeSlice {
			list = v.Slice()
		} else {
			list = p.attrs.PutEmptySlice(AttrEnriched)
		}
		for _, n := range p.added {
			list.AppendEmpty().SetStr(n)
		}
	}

	if hashed > 0 {
		e.tb.ProcessorAgentenrichFilesHashed.Add(ctx, hashed)
	}
	for s, n := range failures {
		e.tb.ProcessorAgentenrichHashFailures.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("status", s))))
	}
	for a, n := range added {
		e.tb.ProcessorAgentenrichAttributesAdded.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(attribute.String("attribute", a))))
	}
	return ld, nil
}

func (e *enricher) setStatus(p *pending, status string, failures map[string]int64) {
	failures[status]++
	p.put(AttrHashStatus, func(m pcommon.Map) { m.PutStr(AttrHashStatus, status) })
}

// fileCandidate tells whether lr names a file to hash, and its path. A
// record that has a hash, or a status from an upstream collector (whose host
// is the one the file is on), is left alone.
func (e *enricher) fileCandidate(lr plog.LogRecord) (string, bool) {
	if !e.cfg.HashFiles {
		return "", false
	}
	switch lr.EventName() {
	case eventFileRead, eventFileWrit, eventFileDel:
	default:
		if !e.cfg.HashAnyFilePath {
			return "", false
		}
	}
	attrs := lr.Attributes()
	v, ok := attrs.Get(attrFilePath)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return "", false
	}
	if _, ok := attrs.Get(AttrFileSHA256); ok {
		return "", false
	}
	if _, ok := attrs.Get(AttrHashStatus); ok {
		return "", false
	}
	return v.Str(), true
}

// hostRel is how the host a record names relates to the collector's.
type hostRel int

const (
	hostUnnamed hostRel = iota // the record names no host
	hostSame                   // it names the collector's host
	hostOther                  // it names another host, or one that cannot be matched
)

// hostRelation compares the host the record names (host.id, else
// host.name, on the record or its resource) with the collector's. A
// gateway must not hash its own file of the same path and present it as
// the agent's, nor stamp its host on an agent's record, so a host that
// cannot be compared (the record has host.id only, the collector found no
// machine id) counts as another.
func (e *enricher) hostRelation(attrs, res pcommon.Map) hostRel {
	id, name := lookup(attrs, res, attrHostID), lookup(attrs, res, attrHostName)
	switch {
	case id == "" && name == "":
		return hostUnnamed
	case id != "" && e.id.hostID != "":
		if id == e.id.hostID {
			return hostSame
		}
	case name != "" && e.id.hostName != "":
		if sameHostName(name, e.id.hostName) {
			return hostSame
		}
	}
	return hostOther
}

// sameHostName compares host names case-insensitively, a short name being
// the same as a qualified name that starts with it (host-1, host-1.corp).
func sameHostName(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	sa, _, dotA := strings.Cut(a, ".")
	sb, _, dotB := strings.Cut(b, ".")
	return (!dotA || !dotB) && strings.EqualFold(sa, sb)
}

// lookup is the string value of name on the record, else on its resource.
func lookup(attrs, res pcommon.Map, name string) string {
	if v, ok := attrs.Get(name); ok {
		return v.AsString()
	}
	if v, ok := res.Get(name); ok {
		return v.AsString()
	}
	return ""
}

func has(attrs, res pcommon.Map, name string) bool {
	if _, ok := attrs.Get(name); ok {
		return true
	}
	_, ok := res.Get(name)
	return ok
}

// addIdentity adds what the collector knows and the record lacks; a value
// the source gave, on the record or its resource, always wins.
func (e *enricher) addIdentity(p *pending, res pcommon.Map, host hostRel) {
	putStr := func(name, value string) {
		if value == "" || has(p.attrs, res, name) {
			return
		}
		p.put(name, func(m pcommon.Map) { m.PutStr(name, value) })
	}
	// The missing half of a host's identity is added only when the half
	// present is this host's.
	if e.cfg.HostIdentity && host != hostOther {
		putStr(attrHostID, e.id.hostID)
		putStr(attrHostName, e.id.hostName)
	}
	// A record naming its user by id only is about that person; the
	// collector's account name next to it would read as theirs. Nor is
	// this collector's user anyone's on another host.
	if e.cfg.UserFromProcess && host != hostOther && !has(p.attrs, res, attrUserID) {
		putStr(attrUserName, e.id.userName)
	}
	if e.cfg.CollectorIdentity {
		putStr(AttrCollectorID, e.id.collectorID)
		putStr(AttrCollectorVersion, e.id.collectorVersion)
		putStr(AttrCollectorHost, e.id.hostName)
	}
}

type indexedResult struct {
	i int
	r fileResult
}

// hashAll hashes paths on a goroutine of its own and waits for it until
// hash_timeout: what is not done by then is marked timeout, so a slow disk
// costs the pipeline that long at most.
func (e *enricher) hashAll(ctx context.Context, paths []string) []fileResult {
	out := make([]fileResult, len(paths))
	timeoutAll := func(from []bool) []fileResult {
		n := 0
		for i := range out {
			if from == nil || !from[i] {
				out[i] = fileResult{status: StatusTimeout}
				n++
			}
		}
		e.logger.Warn("file hashing ran out of time: files marked timeout", zap.Int("files", n),
			zap.Duration("hash_timeout", e.cfg.HashTimeout))
		return out
	}
	hctx, cancel := context.WithTimeout(ctx, e.cfg.HashTimeout)
	defer cancel()
	select {
	case e.inflight <- struct{}{}:
	default:
		// Every slot is taken. Batches merely in progress free theirs soon,
		// so wait for one within this batch's hash_timeout; only when every
		// slot is held by a goroutine its batch gave up on is none coming.
		if e.stuck.Load() >= maxStuckHashers {
			return timeoutAll(nil)
		}
		select {
		case e.inflight <- struct{}{}:
		case <-hctx.Done():
			return timeoutAll(nil)
		}
	}
	// state: 0 running, 1 finished, 2 given up on by its batch (stuck).
	var state atomic.Int32
	// Buffered for every result: the goroutine never blocks on a receiver
	// that stopped waiting.
	results := make(chan indexedResult, len(paths))
	go func() {
		defer func() {
			if !state.CompareAndSwap(0, 1) {
				e.stuck.Add(-1)
			}
			<-e.inflight
		}()
		for i, p := range paths {
			if hctx.Err() != nil {
				return
			}
			results <- indexedResult{i: i, r: e.hashFn(hctx, p)}
		}
	}()
	done := make([]bool, len(paths))
	for range paths {
		select {
		case r := <-results:
			out[r.i], done[r.i] = r.r, true
		case <-hctx.Done():
			if state.CompareAndSwap(0, 2) {
				e.stuck.Add(1)
			}
			return timeoutAll(done)
		}
	}
	return out
}
