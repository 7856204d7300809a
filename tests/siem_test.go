package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcef"
	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/testsiem"
	"github.com/agentaudit/otelcol-agentaudit/internal/testsyslog"
)

// siemYAML indents a siem exporter's configuration for Extra["siem"].
func siemYAML(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("    " + l)
	}
	return b.String()
}

// trickyMessages go into the prompt body: everything that could end a line,
// forge a CEF key or header field, or break JSON.
var trickyMessages = []string{
	"plain",
	"pipes | in | text and a = sign and a back\\slash",
	"line one\nline two\r\nCEF:0|Forged|Product|1|id|name|10| act=forged",
	`quotes " and {"json":"inside"}`,
	"non-ASCII: Grüße, 日本語, emoji 🎉, RTL \u202e",
	" cs1=forged suser=root",
	strings.Repeat("long value ", 2000),
}

// sendTrickyPrompts posts one prompt event per tricky message and returns
// the event ids.
func sendTrickyPrompts(t *testing.T, url, prefix string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	var body bytes.Buffer
	for i, m := range trickyMessages {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ids[id] = m
		ev := map[string]any{
			"event_name": "agent_audit.prompt",
			"time":       "2026-12-06T01:02:03.000000004Z",
			"attributes": map[string]any{"session.id": "sess-siem", "agent_audit.event.id": id, "gen_ai.agent.name": "claude-code"},
			"body":       m,
		}
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		body.Write(b)
		body.WriteByte('\n')
	}
	res, err := post(context.Background(), url, "application/x-ndjson", body.Bytes(), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, res.Body)
	return ids
}

// waitLines polls a line file until pred holds for its lines.
func waitLines(t *testing.T, path string, timeout time.Duration, pred func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var lines []string
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
		if pred(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met after %v (%d lines)", path, timeout, len(lines))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The built collector, configured like distributions/local, writes every
// record and checkpoint to a CEF file through its own pipeline; each line
// parses in liblognorm's strict CEF parser with the exact message.
func TestSIEMCEFFileFromBuiltBinary(t *testing.T) {
	c := newCollector(t, localConfig, map[string]string{
		"sign_interval": "300ms",
		"siem":          siemYAML("format: cef", "file:", "  path: @DIR@/siem/events.cef"),
	})
	path := filepath.Join(c.p.Dir, "siem", "events.cef")
	prompts := sendTrickyPrompts(t, c.url(), "cef")
	calls := sendBatches(t, c.url(), "call", 4, 50)
	lines := waitLines(t, path, time.Minute, func(lines []string) bool {
		n, cps := 0, 0
		for _, l := range lines {
			if strings.Contains(l, "|agent_audit.checkpoint|") {
				cps++
			} else if strings.Contains(l, "externalId=") {
				n++
			}
		}
		return n >= len(prompts)+len(calls) && cps > 0
	})
	assert.GreaterOrEqual(t, c.metric("otelcol_exporter_siem_events_sent"), float64(len(lines)))
	assert.Zero(t, c.metric("otelcol_exporter_siem_events_rejected"))
	c.stop()

	seen := map[string]int{}
	checkpoints := 0
	for n, doc := range testcef.Parse(t, lines) {
		require.NotNil(t, doc.CEF, "line %d not parsed by lognormalizer: %q", n, doc.Unparsed)
		assert.Equal(t, "AgentAudit", doc.CEF.DeviceVendor)
		ext := doc.CEF.Extensions
		switch doc.CEF.SignatureID {
		case "agent_audit.checkpoint":
			checkpoints++
			assert.Contains(t, ext["msg"], "\n", "the checkpoint note keeps its lines, escaped")
		case "agent_audit.prompt":
			id := ext["externalId"]
			seen[id]++
			want := prompts[id]
			if len(want) > 1023 {
				want = want[:1023] // ArcSight's limit for msg
			}
			assert.Equal(t, want, ext["msg"], "line %d: the prompt arrives whole", n)
			assert.Equal(t, "sess-siem", ext["cs1"])
			assert.Equal(t, "claude-code", ext["cs2"])
		case "agent_audit.tool.call":
			seen[ext["externalId"]]++
			assert.Equal(t, "Bash", ext["cs3"])
			assert.NotEmpty(t, ext["cs4"], "the stream position is in cs4")
		}
	}
	for id := range prompts {
		assert.Equal(t, 1, seen[id], id)
	}
	for id := range calls {
		assert.Equal(t, 1, seen[id], id)
	}
	assert.Positive(t, checkpoints)
	t.Logf("e2e: siem cef file: %d lines, %d checkpoints, all parsed by lognormalizer", len(lines), checkpoints)
}

// ecsDoc is the part of an ECS document the end-to-end tests read.
type ecsDoc struct {
	Event struct {
		Code string `json:"code"`
		ID   string `json:"id"`
	} `json:"event"`
}

// The built collector sends ECS documents to an Elasticsearch Bulk API
// stand-in that answers like Elasticsearch: some items 429 on their first
// attempts (retried), some 400 for good (rejected, counted), the first
// request 503 (retried). Every other event arrives exactly once; the
// archive is complete and verifies.
func TestSIEMElasticsearchEndToEnd(t *testing.T) {
	es := testsiem.NewElasticsearch().RequireAPIKey("e2e-key").Start(t)
	es.FailRequests(http.StatusServiceUnavailable, 1)
	es.FailItems(testsiem.ItemFault{Match: func(src []byte) bool { return bytes.Contains(src, []byte(`"es-1-`)) },
		Status: http.StatusTooManyRequests, Type: "es_rejected_execution_exception", Reason: "rejected execution", Times: 2})
	es.FailItems(testsiem.ItemFault{Match: func(src []byte) bool { return bytes.Contains(src, []byte(`"es-2-7"`)) },
		Status: http.StatusBadRequest, Type: "document_parsing_exception", Reason: "failed to parse field", Times: -1})
	c := newCollector(t, localConfig, map[string]string{
		"sign_interval": "300ms",
		"siem": siemYAML("format: ecs", "elasticsearch:", "  endpoint: "+es.URL(), "  api_key: e2e-key",
			"retry_on_failure:", "  initial_interval: 100ms", "  max_interval: 500ms"),
	})
	want := sendBatches(t, c.url(), "es", 4, 50)
	delete(want, "es-2-7")
	deadline := time.Now().Add(time.Minute)
	var got map[string]int
	for {
		got = map[string]int{}
		for _, d := range es.Docs() {
			var doc ecsDoc
			require.NoError(t, json.Unmarshal(d.Source, &doc))
			if doc.Event.ID != "" {
				got[doc.Event.ID]++
			}
			assert.Equal(t, "logs-agent_audit-default", d.Index)
		}
		if len(got) >= len(want) && c.metric("otelcol_exporter_siem_events_rejected") == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id := range want {
		assert.Equal(t, 1, got[id], "event %s in Elasticsearch exactly once", id)
	}
	assert.Zero(t, got["es-2-7"], "the document Elasticsearch refused is not there")
	assert.Len(t, got, len(want))
	assert.Equal(t, float64(1), c.metric("otelcol_exporter_siem_events_rejected"), "the refused document is counted")
	assert.Contains(t, c.logs(), "document_parsing_exception", "and logged with Elasticsearch's reason")
	waitArchived(t, c.archiveDir(), sendBatchIDs(4, 50, "es"), time.Minute)
	n := es.Counters()
	t.Logf("e2e: elasticsearch: %d documents, counters %+v", len(es.Docs()), n)
}

// sendBatchIDs is the id set sendBatches(t, url, prefix, batches, perBatch)
// sends.
func sendBatchIDs(batches, perBatch int, prefix string) map[string]bool {
	ids := map[string]bool{}
	for b := range batches {
		for i := range perBatch {
			ids[fmt.Sprintf("%s-%d-%d", prefix, b, i)] = true
		}
	}
	return ids
}

// The built collector sends CEF events to a Splunk HEC stand-in with indexer
// acknowledgement that is busy at first (code 9) and acknowledges only at
// the third poll: every event is indexed exactly once.
func TestSIEMSplunkHECEndToEnd(t *testing.T) {
	hec := testsiem.NewSplunkHEC("e2e-token").SetAckAfterPolls(3).Start(t)
	hec.FailRequests(9, 2)
	c := newCollector(t, localConfig, map[string]string{
		"sign_interval": "300ms",
		"siem": siemYAML("format: cef", "splunk_hec:", "  endpoint: "+hec.URL(), "  token: e2e-token",
			"  ack_poll_interval: 100ms", "  ack_timeout: 10s",
			"retry_on_failure:", "  initial_interval: 100ms", "  max_interval: 500ms"),
	})
	want := sendBatches(t, c.url(), "hec", 3, 40)
	deadline := time.Now().Add(time.Minute)
	var got map[string]int
	for {
		got = map[string]int{}
		for _, ev := range hec.Events() {
			var env struct {
				Event      string `json:"event"`
				Sourcetype string `json:"sourcetype"`
			}
			require.NoError(t, ev.Decode(&env))
			assert.Equal(t, "cef", env.Sourcetype)
			if i := strings.Index(env.Event, " externalId="); i >= 0 {
				got[strings.Fields(env.Event[i+len(" externalId="):])[0]]++
			}
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id := range want {
		assert.Equal(t, 1, got[id], "event %s indexed exactly once", id)
	}
	assert.Positive(t, c.metric("otelcol_exporter_siem_send_errors"), "the busy answers were retried")
	t.Logf("e2e: splunk hec: %d events, counters %+v", len(hec.Events()), hec.Counters())
}

// A SIEM that is down does not hold up the archive: with the SIEM
// unreachable and a small sending queue, every request is acknowledged,
// every event archived and the archive verifies; the records that did not
// fit the queue are counted as dropped. When the SIEM comes back, what was
// queued arrives.
func TestSIEMOutageDoesNotBlockArchive(t *testing.T) {
	hec := testsiem.NewSplunkHEC("e2e-token")
	port := testport.Free(t)
	c := newCollector(t, localConfig, map[string]string{
		"sign_interval": "300ms",
		"siem": siemYAML("format: cef", "splunk_hec:", fmt.Sprintf("  endpoint: http://127.0.0.1:%d", port),
			"  token: e2e-token", "  ack_poll_interval: 100ms", "  ack_timeout: 5s",
			"retry_on_failure:", "  initial_interval: 100ms", "  max_interval: 300ms",
			"sending_queue:", "  queue_size: 3", "  num_consumers: 1"),
	})
	want := sendBatches(t, c.url(), "down", 20, 50)
	got := waitArchived(t, c.archiveDir(), want, time.Minute)
	assert.Len(t, got, len(want), "every acknowledged event is archived while the SIEM is down")
	dropped := c.metric("otelcol_exporter_siem_events_dropped")
	assert.Positive(t, dropped, "records that did not fit the SIEM queue are counted")
	assert.Contains(t, c.logs(), "The SIEM sending queue is full")

	hec.StartOn(t, port)
	deadline := time.Now().Add(time.Minute)
	for len(hec.Events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	assert.NotEmpty(t, hec.Events(), "what was queued reaches the SIEM when it is back")
	r, code := waitSealed(t, c.archiveDir(), c.trustFile(), time.Minute)
	assert.Equal(t, 0, code, "%v", r.allProblems())
	t.Logf("e2e: siem outage: %d events archived, %.0f records dropped from the SIEM copy, %d reached the SIEM after it came back",
		len(got), dropped, len(hec.Events()))
}

// The built collector sends LEEF over syslog with TLS (RFC 5424, octet
// counting) and CEF over UDP to a syslog-ng the test starts: every event
// arrives once, whole, with the event type as MSGID and the log audit
// facility.
func TestSIEMSyslogToSyslogNGEndToEnd(t *testing.T) {
	sng := testsyslog.Start(t)
	for _, tc := range []struct {
		name, source, prefix string
		yaml                 []string
	}{
		{"leef-tls", testsyslog.SourceTLS, "sl", []string{"format: leef", "syslog:", "  endpoint: " + sng.Addr(testsyslog.SourceTLS),
			"  tls:", "    ca_file: " + sng.CAFile()}},
		{"cef-udp", testsyslog.SourceUDP, "su", []string{"format: cef", "syslog:", "  endpoint: " + sng.Addr(testsyslog.SourceUDP),
			"  network: udp", "sending_queue:", "  batch:", "    min_size: 1", "    max_size: 20"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector(t, localConfig, map[string]string{"sign_interval": "300ms", "siem": siemYAML(tc.yaml...)})
			want := map[string]bool{}
			// Small requests: a UDP burst larger than the socket buffer
			// is lost by the kernel, which the transport cannot see.
			for b := range 10 {
				for id := range sendBatches(t, c.url(), fmt.Sprintf("%s%d", tc.prefix, b), 1, 10) {
					want[id] = true
				}
				time.Sleep(50 * time.Millisecond)
			}
			deadline := time.Now().Add(time.Minute)
			var got map[string]int
			for {
				got = map[string]int{}
				for _, m := range sng.Received(t, tc.source) {
					msg := string(m.MSG)
					for _, key := range []string{"\teventId=", " externalId="} {
						if i := strings.Index(msg, key); i >= 0 {
							id := msg[i+len(key):]
							if j := strings.IndexAny(id, "\t "); j >= 0 {
								id = id[:j]
							}
							if want[id] {
								got[id]++
								assert.Equal(t, "agent_audit.tool.call", m.MsgID)
								assert.Equal(t, 13, m.Facility, "log audit")
								assert.Equal(t, "agentaudit", m.Program)
							}
						}
					}
				}
				if len(got) >= len(want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			for id := range want {
				assert.Equal(t, 1, got[id], "event %s arrives once", id)
			}
			if tc.name == "leef-tls" {
				for _, m := range sng.Received(t, tc.source)[:1] {
					assert.True(t, bytes.HasPrefix(m.MSG, []byte("LEEF:2.0|AgentAudit|otelcol-agentaudit|")), "%q", m.MSG)
				}
			}
			t.Logf("e2e: syslog %s: %d events received by syslog-ng", tc.name, len(got))
		})
	}
}
