package agentenrichprocessor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/processor/agentenrichprocessor/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentenrichprocessor/internal/metadatatest"
)

const (
	testMachineID  = "4c4c4544003957108052b4c04f384d32"
	testInstanceID = "0f2d6c8e-collector-1"
	testVersion    = "0.1.0-test"
)

func defaultConfig() *Config { return createDefaultConfig().(*Config) }

// useMachineID points host.id detection at a file holding id ("" for no
// file at all) for the duration of the test.
func useMachineID(t *testing.T, id string) {
	t.Helper()
	saved := machineIDPaths
	t.Cleanup(func() { machineIDPaths = saved })
	dir := t.TempDir()
	p := filepath.Join(dir, "machine-id")
	if id != "" {
		require.NoError(t, os.WriteFile(p, []byte(id+"\n"), 0o444))
	}
	machineIDPaths = []string{filepath.Join(dir, "absent"), p}
}

// newTestEnricher builds and starts an enricher whose collector has a known
// instance id and version, on a host with testMachineID.
func newTestEnricher(t *testing.T, cfg *Config) (*enricher, *componenttest.Telemetry) {
	t.Helper()
	useMachineID(t, testMachineID)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tel)
	set.ID = processortest.NewNopSettings(metadata.Type).ID
	set.Resource.Attributes().PutStr("service.instance.id", testInstanceID)
	set.BuildInfo.Version = testVersion
	require.NoError(t, cfg.Validate())
	e, err := newEnricher(cfg, set)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	return e, tel
}

// batch is one plog.Logs under construction, with one resource and scope.
type batch struct {
	t   *testing.T
	ld  plog.Logs
	res pcommon.Map
	sl  plog.ScopeLogs
}

func newBatch(t *testing.T) *batch {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	return &batch{t: t, ld: ld, res: rl.Resource().Attributes(), sl: rl.ScopeLogs().AppendEmpty()}
}

// add appends a record of event type event with the attributes given.
func (b *batch) add(event string, attrs map[string]any) plog.LogRecord {
	lr := b.sl.LogRecords().AppendEmpty()
	lr.SetEventName(event)
	require.NoError(b.t, lr.Attributes().FromRaw(mergeRaw(map[string]any{"session.id": "sess-1"}, attrs)))
	return lr
}

func mergeRaw(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (b *batch) file(event, path string) plog.LogRecord {
	return b.add(event, map[string]any{"file.path": path})
}

func str(t *testing.T, lr plog.LogRecord, name string) string {
	t.Helper()
	v, ok := lr.Attributes().Get(name)
	require.True(t, ok, "attribute %s missing in %v", name, lr.Attributes().AsRaw())
	return v.Str()
}

func absent(t *testing.T, lr plog.LogRecord, names ...string) {
	t.Helper()
	for _, n := range names {
		_, ok := lr.Attributes().Get(n)
		assert.False(t, ok, "attribute %s must be absent in %v", n, lr.Attributes().AsRaw())
	}
}

func enriched(lr plog.LogRecord) []string {
	v, ok := lr.Attributes().Get(AttrEnriched)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range v.Slice().All() {
		out = append(out, e.Str())
	}
	return out
}

func process(t *testing.T, e *enricher, b *batch) {
	t.Helper()
	out, err := e.processLogs(context.Background(), b.ld)
	require.NoError(t, err)
	require.Equal(t, b.ld, out)
}

func writeFile(t *testing.T, path string, content []byte) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, content, 0o600))
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

func fileOnly() *Config {
	cfg := defaultConfig()
	cfg.HostIdentity, cfg.CollectorIdentity = false, false
	return cfg
}

func TestHashesRegularFile(t *testing.T) {
	dir := t.TempDir()
	content := []byte(strings.Repeat("package parser\n", 10000)) // several read chunks
	path := filepath.Join(dir, "parser.go")
	want := writeFile(t, path, content)

	e, tel := newTestEnricher(t, fileOnly())
	b := newBatch(t)
	read := b.file("agent_audit.file.read", path)
	write := b.add("agent_audit.file.write", map[string]any{"file.path": path, "file.size": int64(7)})
	process(t, e, b)

	assert.Equal(t, want, str(t, read, AttrFileSHA256))
	v, _ := read.Attributes().Get("file.size")
	assert.Equal(t, int64(len(content)), v.Int())
	absent(t, read, AttrHashStatus)
	assert.Equal(t, []string{AttrFileSHA256, "file.size"}, enriched(read))

	// The agent's own file.size stays, even when it differs: it is the
	// agent's statement, the hash is the collector's.
	assert.Equal(t, want, str(t, write, AttrFileSHA256))
	v, _ = write.Attributes().Get("file.size")
	assert.Equal(t, int64(7), v.Int())
	assert.Equal(t, []string{AttrFileSHA256}, enriched(write))

	metadatatest.AssertEqualProcessorAgentenrichFilesHashed(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorAgentenrichAttributesAdded(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("attribute", AttrFileSHA256)), Value: 2},
		{Attributes: attribute.NewSet(attribute.String("attribute", "file.size")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestFileStatuses(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	small := filepath.Join(dir, "small.txt")
	smallSum := writeFile(t, small, []byte("hello\n"))
	big := filepath.Join(dir, "big.bin")
	writeFile(t, big, make([]byte, 2048))
	secret := filepath.Join(outside, "secret.txt")
	writeFile(t, secret, []byte("s3cr3t"))
	linkIn := filepath.Join(dir, "link-in")
	require.NoError(t, os.Symlink(small, linkIn))
	linkOut := filepath.Join(dir, "link-out")
	require.NoError(t, os.Symlink(secret, linkOut))
	loopA, loopB := filepath.Join(dir, "loop-a"), filepath.Join(dir, "loop-b")
	require.NoError(t, os.Symlink(loopB, loopA))
	require.NoError(t, os.Symlink(loopA, loopB))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	subdir := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(subdir, 0o700))
	gone := filepath.Join(dir, "gone.txt")
	writeFile(t, gone, []byte("soon gone"))
	require.NoError(t, os.Remove(gone))

	cfg := fileOnly()
	cfg.AllowedPaths = []string{dir}
	cfg.MaxFileSize = 1024

	cases := []struct {
		name, event, path, status, sha string
		size                           int64 // file.size expected, 0: absent
	}{
		{name: "regular", event: "agent_audit.file.read", path: small, sha: smallSum, size: 6},
		{name: "symlink inside the allowed tree", event: "agent_audit.file.read", path: linkIn, sha: smallSum, size: 6},
		{name: "symlink leading out of it", event: "agent_audit.file.read", path: linkOut, status: StatusNotAllowed},
		{name: "file outside", event: "agent_audit.file.read", path: secret, status: StatusNotAllowed},
		{name: "dot-dot out of the tree", event: "agent_audit.file.read", path: dir + "/../" + filepath.Base(outside) + "/secret.txt", status: StatusNotAllowed},
		{name: "too large", event: "agent_audit.file.write", path: big, status: StatusTooLarge, size: 2048},
		{name: "directory", event: "agent_audit.file.read", path: subdir, status: StatusNotRegular},
		{name: "fifo", event: "agent_audit.file.write", path: fifo, status: StatusNotRegular},
		{name: "vanished", event: "agent_audit.file.read", path: gone, status: StatusMissing},
		{name: "below a file", event: "agent_audit.file.read", path: small + "/x", status: StatusMissing},
		{name: "symlink loop", event: "agent_audit.file.read", path: loopA, status: StatusUnreadable},
		{name: "relative", event: "agent_audit.file.read", path: "pkg/parser/parser.go", status: StatusRelativePath},
		{name: "empty", event: "agent_audit.file.read", path: "", status: StatusRelativePath},
		// The file exists, but a delete event is about its end: no hash.
		{name: "delete", event: "agent_audit.file.delete", path: small, status: StatusDeleted},
		{name: "delete of a vanished file", event: "agent_audit.file.delete", path: gone, status: StatusDeleted},
	}
	e, tel := newTestEnricher(t, cfg)
	b := newBatch(t)
	recs := make([]plog.LogRecord, len(cases))
	for i, c := range cases {
		recs[i] = b.file(c.event, c.path)
	}
	process(t, e, b)
	failures := map[string]int64{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lr := recs[i]
			if c.status == "" {
				assert.Equal(t, c.sha, str(t, lr, AttrFileSHA256))
				absent(t, lr, AttrHashStatus)
			} else {
				failures[c.status]++
				assert.Equal(t, c.status, str(t, lr, AttrHashStatus))
				absent(t, lr, AttrFileSHA256)
			}
			if c.size > 0 {
				v, ok := lr.Attributes().Get("file.size")
				require.True(t, ok)
				assert.Equal(t, c.size, v.Int())
			} else {
				absent(t, lr, "file.size")
			}
		})
	}
	var dps []metricdata.DataPoint[int64]
	for s, n := range failures {
		dps = append(dps, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("status", s)), Value: n})
	}
	metadatatest.AssertEqualProcessorAgentenrichHashFailures(t, tel, dps, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorAgentenrichFilesHashed(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

func TestDefaultHashesAnyAbsolutePathButPseudoFileSystems(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.md")
	sum := writeFile(t, path, []byte("# notes\n"))
	outsideLink := filepath.Join(dir, "status")
	require.NoError(t, os.Symlink("/proc/self/status", outsideLink))

	e, _ := newTestEnricher(t, fileOnly())
	b := newBatch(t)
	regular := b.file("agent_audit.file.read", path)
	proc := b.file("agent_audit.file.read", "/proc/self/environ")
	viaLink := b.file("agent_audit.file.read", outsideLink)
	process(t, e, b)
	assert.Equal(t, sum, str(t, regular, AttrFileSHA256))
	assert.Equal(t, StatusNotAllowed, str(t, proc, AttrHashStatus))
	assert.Equal(t, StatusNotAllowed, str(t, viaLink, AttrHashStatus), "a link into /proc is as excluded as /proc")
}

func TestFilePathOnOtherEventsOnlyWhenConfigured(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.sh")
	sum := writeFile(t, path, []byte("#!/bin/sh\n"))

	for _, anyPath := range []bool{false, true} {
		cfg := fileOnly()
		cfg.HashAnyFilePath = anyPath
		e, _ := newTestEnricher(t, cfg)
		b := newBatch(t)
		lr := b.add("agent_audit.tool.call", map[string]any{"gen_ai.tool.name": "Edit", "file.path": path})
		process(t, e, b)
		if anyPath {
			assert.Equal(t, sum, str(t, lr, AttrFileSHA256))
		} else {
			absent(t, lr, AttrFileSHA256, AttrHashStatus, "file.size", AttrEnriched)
		}
	}
}

func TestRecordsWithHashOrStatusKeepTheirFileAttributes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	writeFile(t, path, []byte("current content"))

	e, _ := newTestEnricher(t, defaultConfig())
	b := newBatch(t)
	withHash := b.add("agent_audit.file.write", map[string]any{"file.path": path, AttrFileSHA256: "ab12"})
	withStatus := b.add("agent_audit.file.read", map[string]any{"file.path": path, AttrHashStatus: StatusTimeout})
	process(t, e, b)

	assert.Equal(t, "ab12", str(t, withHash, AttrFileSHA256))
	absent(t, withHash, AttrHashStatus, "file.size")
	assert.Equal(t, StatusTimeout, str(t, withStatus, AttrHashStatus))
	absent(t, withStatus, AttrFileSHA256, "file.size")
	for _, lr := range []plog.LogRecord{withHash, withStatus} {
		assert.NotContains(t, enriched(lr), AttrFileSHA256)
		assert.NotContains(t, enriched(lr), "file.size")
		assert.Contains(t, enriched(lr), "host.id", "identity is still added")
	}
}

func TestChainedRecordsPassUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	writeFile(t, path, []byte("x"))

	cfg := defaultConfig()
	cfg.UserFromProcess = true
	e, tel := newTestEnricher(t, cfg)
	b := newBatch(t)
	lr := b.add("agent_audit.file.read", map[string]any{"file.path": path, "audit.stream.id": "sess-1", "audit.sequence.number": int64(3)})
	want := plog.NewLogs()
	b.ld.CopyTo(want)
	process(t, e, b)
	assert.Equal(t, want, b.ld)
	absent(t, lr, AttrEnriched)
	_, err := tel.GetMetric("otelcol_processor_agentenrich_attributes_added")
	assert.Error(t, err, "nothing was added, so nothing was counted")
}

func TestIdentity(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	u, err := user.Current()
	require.NoError(t, err)

	t.Run("added where missing", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.UserFromProcess = true
		e, tel := newTestEnricher(t, cfg)
		b := newBatch(t)
		lr := b.add("agent_audit.prompt", map[string]any{"agent_audit.prompt.length": int64(3)})
		process(t, e, b)
		assert.Equal(t, testMachineID, str(t, lr, "host.id"))
		assert.Equal(t, host, str(t, lr, "host.name"))
		assert.Equal(t, u.Username, str(t, lr, "user.name"))
		assert.Equal(t, testInstanceID, str(t, lr, AttrCollectorID))
		assert.Equal(t, testVersion, str(t, lr, AttrCollectorVersion))
		assert.Equal(t, host, str(t, lr, AttrCollectorHost))
		assert.Equal(t, []string{"host.id", "host.name", "user.name", AttrCollectorID, AttrCollectorVersion, AttrCollectorHost}, enriched(lr))
		var dps []metricdata.DataPoint[int64]
		for _, a := range enriched(lr) {
			dps = append(dps, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("attribute", a)), Value: 1})
		}
		metadatatest.AssertEqualProcessorAgentenrichAttributesAdded(t, tel, dps, metricdatatest.IgnoreTimestamp())
	})

	t.Run("source values win", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.UserFromProcess = true
		e, _ := newTestEnricher(t, cfg)
		b := newBatch(t)
		onRecord := b.add("agent_audit.prompt", map[string]any{"host.id": testMachineID, "host.name": "laptop-7", "user.name": "alice",
			AttrCollectorID: "upstream-collector"})
		b.res.PutStr("user.id", "alice@example.com")
		process(t, e, b)
		assert.Equal(t, "laptop-7", str(t, onRecord, "host.name"), "a record's host.name is never replaced")
		assert.Equal(t, "alice", str(t, onRecord, "user.name"))
		assert.Equal(t, "upstream-collector", str(t, onRecord, AttrCollectorID))
		assert.Equal(t, []string{AttrCollectorVersion, AttrCollectorHost}, enriched(onRecord))
	})

	t.Run("resource values count as present", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.UserFromProcess = true
		e, _ := newTestEnricher(t, cfg)
		b := newBatch(t)
		b.res.PutStr("host.id", testMachineID)
		b.res.PutStr("host.name", "laptop-7")
		b.res.PutStr("user.id", "alice@example.com")
		lr := b.add("agent_audit.prompt", nil)
		process(t, e, b)
		absent(t, lr, "host.id", "host.name", "user.name")
		assert.Equal(t, []string{AttrCollectorID, AttrCollectorVersion, AttrCollectorHost}, enriched(lr))
	})

	t.Run("another host's record gets no host, user or hash of this one", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "same-path.txt")
		writeFile(t, path, []byte("the gateway's file, not the agent's"))
		cfg := defaultConfig()
		cfg.UserFromProcess = true
		e, tel := newTestEnricher(t, cfg)
		b := newBatch(t)
		byID := b.add("agent_audit.file.read", map[string]any{"file.path": path, "host.id": "ffffffffffffffffffffffffffffffff"})
		byName := b.add("agent_audit.file.read", map[string]any{"file.path": path, "host.name": "laptop-7.corp.example"})
		process(t, e, b)
		for _, lr := range []plog.LogRecord{byID, byName} {
			assert.Equal(t, StatusOtherHost, str(t, lr, AttrHashStatus))
			absent(t, lr, AttrFileSHA256, "file.size", "user.name")
			assert.NotContains(t, enriched(lr), "host.id")
			assert.NotContains(t, enriched(lr), "host.name")
		}
		metadatatest.AssertEqualProcessorAgentenrichHashFailures(t, tel, []metricdata.DataPoint[int64]{
			{Attributes: attribute.NewSet(attribute.String("status", StatusOtherHost)), Value: 2},
		}, metricdatatest.IgnoreTimestamp())
	})

	t.Run("the same host by name gets its host.id and hash", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "a.txt")
		sum := writeFile(t, path, []byte("a"))
		e, _ := newTestEnricher(t, defaultConfig())
		b := newBatch(t)
		short, _, _ := strings.Cut(host, ".")
		lr := b.add("agent_audit.file.read", map[string]any{"file.path": path, "host.name": strings.ToUpper(short)})
		process(t, e, b)
		assert.Equal(t, sum, str(t, lr, AttrFileSHA256))
		assert.Equal(t, testMachineID, str(t, lr, "host.id"))
	})

	t.Run("user not from the process by default", func(t *testing.T) {
		e, _ := newTestEnricher(t, defaultConfig())
		b := newBatch(t)
		lr := b.add("agent_audit.prompt", nil)
		process(t, e, b)
		absent(t, lr, "user.name")
	})

	t.Run("an upstream list is appended to", func(t *testing.T) {
		e, _ := newTestEnricher(t, defaultConfig())
		b := newBatch(t)
		lr := b.add("agent_audit.prompt", map[string]any{"host.id": testMachineID, AttrEnriched: []any{"host.id"},
			AttrCollectorID: "agent-collector", AttrCollectorVersion: "0.0.9", AttrCollectorHost: host})
		process(t, e, b)
		assert.Equal(t, []string{"host.id", "host.name"}, enriched(lr))
	})
}

func TestMachineIDDetection(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"systemd file", testMachineID, testMachineID},
		{"not yet initialized", "uninitialized", ""},
		{"empty", "   ", ""},
		{"no file", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			useMachineID(t, "")
			if c.content != "" {
				require.NoError(t, os.WriteFile(machineIDPaths[1], []byte(c.content+"\n"), 0o444))
			}
			set := processortest.NewNopSettings(metadata.Type)
			id := detectIdentity(defaultConfig(), set, set.Logger)
			assert.Equal(t, c.want, id.hostID)
		})
	}
	t.Run("first path wins", func(t *testing.T) {
		useMachineID(t, "second")
		require.NoError(t, os.WriteFile(machineIDPaths[0], []byte("first\n"), 0o444))
		set := processortest.NewNopSettings(metadata.Type)
		assert.Equal(t, "first", detectIdentity(defaultConfig(), set, set.Logger).hostID)
	})
	t.Run("no machine id, no host.id", func(t *testing.T) {
		e, _ := newTestEnricher(t, defaultConfig())
		useMachineID(t, "")
		require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
		b := newBatch(t)
		lr := b.add("agent_audit.prompt", nil)
		process(t, e, b)
		absent(t, lr, "host.id")
		assert.NotEmpty(t, str(t, lr, "host.name"))
	})
}

// processUntil runs a batch whose deadline comes when stuck is signalled:
// the hash_timeout running out, without a test that depends on timing.
func processUntil(t *testing.T, e *enricher, b *batch, stuck <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stuck:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := e.processLogs(ctx, b.ld)
	require.NoError(t, err)
}

func TestHashTimeoutMarksTheRest(t *testing.T) {
	dir := t.TempDir()
	fast := filepath.Join(dir, "fast.txt")
	sum := writeFile(t, fast, []byte("fast"))
	slow := filepath.Join(dir, "slow.txt")
	writeFile(t, slow, []byte("slow"))

	e, tel := newTestEnricher(t, fileOnly())
	// The slow file's read does not return before the batch's deadline,
	// as on a hung network file system.
	stuck := make(chan struct{}, 1)
	e.hashFn = func(ctx context.Context, path string) fileResult {
		if path == slow {
			stuck <- struct{}{}
			<-ctx.Done()
			return fileResult{status: StatusTimeout}
		}
		return e.hasher.hash(ctx, path)
	}
	b := newBatch(t)
	first := b.file("agent_audit.file.read", fast)
	slowRec := b.file("agent_audit.file.read", slow)
	after := b.file("agent_audit.file.write", fast+".other")
	processUntil(t, e, b, stuck)
	assert.Equal(t, sum, str(t, first, AttrFileSHA256))
	assert.Equal(t, StatusTimeout, str(t, slowRec, AttrHashStatus))
	assert.Equal(t, StatusTimeout, str(t, after, AttrHashStatus), "files after the stuck one are not waited for")
	absent(t, after, "file.size")
	metadatatest.AssertEqualProcessorAgentenrichHashFailures(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("status", StatusTimeout)), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
}

func TestStuckHashersAreBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	writeFile(t, path, []byte("a"))

	e, _ := newTestEnricher(t, fileOnly())
	// A read that ignores the deadline, as one blocked in the kernel does:
	// it returns only when the test ends.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := make(chan struct{}, 1)
	var entered atomic.Int64
	e.hashFn = func(context.Context, string) fileResult {
		entered.Add(1)
		stuck <- struct{}{}
		<-release
		return fileResult{status: StatusUnreadable}
	}
	for range maxStuckHashers {
		b := newBatch(t)
		lr := b.file("agent_audit.file.read", path)
		processUntil(t, e, b, stuck)
		assert.Equal(t, StatusTimeout, str(t, lr, AttrHashStatus))
	}
	require.Equal(t, int64(maxStuckHashers), entered.Load())
	assert.Len(t, e.inflight, maxStuckHashers, "each stuck read holds its slot")
	// Every slot is held by a stuck read: the next batch starts none.
	b := newBatch(t)
	lr := b.file("agent_audit.file.read", path)
	process(t, e, b)
	assert.Equal(t, StatusTimeout, str(t, lr, AttrHashStatus))
	assert.Equal(t, int64(maxStuckHashers), entered.Load(), "no further hashing goroutine was started")
}

func TestSamePathHashedOncePerBatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	sum := writeFile(t, path, []byte("a"))
	e, _ := newTestEnricher(t, fileOnly())
	calls := 0
	e.hashFn = func(ctx context.Context, p string) fileResult {
		calls++
		return e.hasher.hash(ctx, p)
	}
	b := newBatch(t)
	var recs []plog.LogRecord
	for range 5 {
		recs = append(recs, b.file("agent_audit.file.read", path))
	}
	process(t, e, b)
	assert.Equal(t, 1, calls)
	for _, lr := range recs {
		assert.Equal(t, sum, str(t, lr, AttrFileSHA256))
	}
}

func TestThroughFactory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	sum := writeFile(t, path, []byte("through the pipeline"))
	useMachineID(t, testMachineID)
	sink := new(consumertest.LogsSink)
	set := processortest.NewNopSettings(metadata.Type)
	p, err := NewFactory().CreateLogs(context.Background(), set, defaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	b := newBatch(t)
	b.file("agent_audit.file.read", path)
	require.NoError(t, p.ConsumeLogs(context.Background(), b.ld))
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllLogs(), 1)
	lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, sum, str(t, lr, AttrFileSHA256))
	assert.Equal(t, testMachineID, str(t, lr, "host.id"))
}
