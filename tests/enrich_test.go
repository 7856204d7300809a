package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// enrichInstanceID is the collector's service.instance.id in enrichConfig,
// which the agentenrich processor writes as agent_audit.collector.id.
const enrichInstanceID = "e2e-enrich-collector"

// enrichConfig: the agentaudit receiver feeding agentenrich (hashing files
// below Extra["allowed_path"] up to Extra["max_file_size"] bytes), then
// chain and sign as in distributions/local, into a local WORM archive
// without a queue (each batch is archived before the receiver answers, and
// a graceful stop archives the final checkpoint).
const enrichConfig = `
extensions:
{{template "audit_extensions" .}}
receivers:
  agentaudit:
    endpoint: 127.0.0.1:{{.Port}}
processors:
{{template "memory_limiter" .}}
  agentenrich:
    allowed_paths: [{{index .Extra "allowed_path"}}]
    max_file_size: {{index .Extra "max_file_size"}}
    hash_timeout: 5s
{{template "chain_sign" .}}
exporters:
{{template "worm_local" .}}
service:
  extensions: [health_check, file_storage/queue, signer]
  pipelines:
    logs/audit:
      receivers: [agentaudit]
      processors: [memory_limiter, agentenrich, chain, sign]
      exporters: [worm]
  telemetry:
    resource:
      service.instance.id: ` + enrichInstanceID + `
{{template "metrics" .}}
`

func TestEnrichmentEndToEnd(t *testing.T) {
	work := t.TempDir()
	readContent := []byte("package parser\n\nfunc Parse(s string) error { return nil }\n")
	readPath := filepath.Join(work, "parser.go")
	require.NoError(t, os.WriteFile(readPath, readContent, 0o600))
	readSum := sha256.Sum256(readContent)
	bigPath := filepath.Join(work, "build.log")
	require.NoError(t, os.WriteFile(bigPath, []byte(strings.Repeat("x", 4096)), 0o600))
	deletedPath := filepath.Join(work, "old.txt") // never created: the agent deleted it

	hostName, err := os.Hostname()
	require.NoError(t, err)
	machineID := ""
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "" {
			machineID = strings.TrimSpace(string(b))
			break
		}
	}

	c := newCollector(t, enrichConfig, map[string]string{"allowed_path": work, "max_file_size": "1024", "sign_interval": "300ms"})

	const session = "enrich-session-1"
	event := func(id, name string, attrs string) string {
		return fmt.Sprintf(`{"event_name":%q,"time":"2026-11-23T10:00:00Z","attributes":{"session.id":%q,"agent_audit.event.id":%q%s}}`,
			name, session, id, attrs)
	}
	body := strings.Join([]string{
		event("read", "agent_audit.file.read", fmt.Sprintf(`,"file.path":%q`, readPath)),
		event("write-big", "agent_audit.file.write", fmt.Sprintf(`,"file.path":%q`, bigPath)),
		event("delete", "agent_audit.file.delete", fmt.Sprintf(`,"file.path":%q`, deletedPath)),
		event("prompt", "agent_audit.prompt", `,"agent_audit.prompt.length":5`),
		// An agent on another host: its host stays, its file is not the
		// collector's to hash.
		event("other-host", "agent_audit.file.read", fmt.Sprintf(`,"file.path":%q,"host.id":"ffffffffffffffffffffffffffffffff","host.name":"laptop-7"`, readPath)),
		event("relative", "agent_audit.file.read", `,"file.path":"pkg/parser/parser.go"`),
		event("outside", "agent_audit.file.read", `,"file.path":"/etc/hostname"`),
	}, "\n")
	res, err := post(context.Background(), c.url(), "application/x-ndjson", []byte(body), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)

	ids := map[string]bool{"read": true, "write-big": true, "delete": true, "prompt": true, "other-host": true, "relative": true, "outside": true}
	waitArchived(t, c.archiveDir(), ids, 30*time.Second)
	got := archivedEvents(t, c.archiveDir())

	identity := []string{"host.id", "host.name", "agent_audit.collector.id", "agent_audit.collector.version", "agent_audit.collector.host"}
	if machineID == "" {
		identity = identity[1:] // no machine id on this host: no host.id
	}
	checkIdentity := func(t *testing.T, lr plog.LogRecord) {
		t.Helper()
		a := lr.Attributes()
		if machineID != "" {
			assert.Equal(t, machineID, attrStr(t, a, "host.id"))
		}
		assert.Equal(t, hostName, attrStr(t, a, "host.name"))
		assert.Equal(t, enrichInstanceID, attrStr(t, a, "agent_audit.collector.id"))
		assert.Equal(t, "0.1.0", attrStr(t, a, "agent_audit.collector.version"), "builder-config.yaml's dist.version")
		assert.Equal(t, hostName, attrStr(t, a, "agent_audit.collector.host"))
		_, hasUser := a.Get("user.name")
		assert.False(t, hasUser, "user_from_process is off by default")
	}

	t.Run("file.read is hashed", func(t *testing.T) {
		lr := got["read"].lr
		checkIdentity(t, lr)
		assert.Equal(t, hex.EncodeToString(readSum[:]), attrStr(t, lr.Attributes(), "agent_audit.file.sha256"))
		assert.Equal(t, fmt.Sprint(len(readContent)), attrStr(t, lr.Attributes(), "file.size"))
		assertNoAttr(t, lr, "agent_audit.file.hash_status")
		assert.Equal(t, slices.Concat(identity, []string{"agent_audit.file.sha256", "file.size"}), enrichedList(lr))
	})
	t.Run("file.write over max_file_size is too_large", func(t *testing.T) {
		lr := got["write-big"].lr
		checkIdentity(t, lr)
		assert.Equal(t, "too_large", attrStr(t, lr.Attributes(), "agent_audit.file.hash_status"))
		assert.Equal(t, "4096", attrStr(t, lr.Attributes(), "file.size"))
		assertNoAttr(t, lr, "agent_audit.file.sha256")
		assert.Equal(t, slices.Concat(identity, []string{"agent_audit.file.hash_status", "file.size"}), enrichedList(lr))
	})
	t.Run("file.delete is deleted", func(t *testing.T) {
		lr := got["delete"].lr
		checkIdentity(t, lr)
		assert.Equal(t, "deleted", attrStr(t, lr.Attributes(), "agent_audit.file.hash_status"))
		assertNoAttr(t, lr, "agent_audit.file.sha256", "file.size")
		assert.Equal(t, slices.Concat(identity, []string{"agent_audit.file.hash_status"}), enrichedList(lr))
	})
	t.Run("an event without host gets the collector's", func(t *testing.T) {
		lr := got["prompt"].lr
		checkIdentity(t, lr)
		assertNoAttr(t, lr, "agent_audit.file.hash_status", "agent_audit.file.sha256")
		assert.Equal(t, identity, enrichedList(lr))
	})
	t.Run("another host's event keeps its host and is not hashed", func(t *testing.T) {
		lr := got["other-host"].lr
		a := lr.Attributes()
		assert.Equal(t, "ffffffffffffffffffffffffffffffff", attrStr(t, a, "host.id"))
		assert.Equal(t, "laptop-7", attrStr(t, a, "host.name"))
		assert.Equal(t, "other_host", attrStr(t, a, "agent_audit.file.hash_status"))
		assertNoAttr(t, lr, "agent_audit.file.sha256", "file.size")
		assert.Equal(t, []string{"agent_audit.collector.id", "agent_audit.collector.version",
			"agent_audit.collector.host", "agent_audit.file.hash_status"}, enrichedList(lr))
	})
	t.Run("relative and disallowed paths", func(t *testing.T) {
		assert.Equal(t, "relative_path", attrStr(t, got["relative"].lr.Attributes(), "agent_audit.file.hash_status"))
		assert.Equal(t, "not_allowed", attrStr(t, got["outside"].lr.Attributes(), "agent_audit.file.hash_status"))
	})

	assert.Equal(t, float64(1), c.metric("otelcol_processor_agentenrich_files_hashed"))
	assert.Equal(t, float64(5), c.metric("otelcol_processor_agentenrich_hash_failures"))
	assert.Positive(t, c.metric("otelcol_processor_agentenrich_attributes_added"))

	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	require.Equal(t, 0, code, "%v", r.allProblems())
	c.stop()
	r, code = verifyReport(t, c.archiveDir(), c.trustFile())
	assert.Equal(t, 0, code, "auditctl verify after a graceful stop: %v", r.allProblems())
	assert.True(t, r.Verified)
	records := 0
	for _, l := range r.Logs {
		for _, st := range l.Streams {
			if st.Stream == session {
				records += st.Records
			}
		}
	}
	assert.Equal(t, len(ids), records, "every enriched record is in the verified chain of its session")
}

func assertNoAttr(t *testing.T, lr plog.LogRecord, names ...string) {
	t.Helper()
	for _, n := range names {
		_, ok := lr.Attributes().Get(n)
		assert.False(t, ok, "attribute %s must be absent", n)
	}
}

// enrichedList is the record's agent_audit.enriched: what the collector
// added, in the order it added it.
func enrichedList(lr plog.LogRecord) []string {
	v, ok := lr.Attributes().Get("agent_audit.enriched")
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return nil
	}
	var out []string
	for _, e := range v.Slice().All() {
		out = append(out, e.Str())
	}
	return out
}
