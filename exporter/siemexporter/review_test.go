package siemexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/agentaudit/otelcol-agentaudit/exporter/siemexporter/internal/metadatatest"
	"github.com/agentaudit/otelcol-agentaudit/internal/testsiem"
	"github.com/agentaudit/otelcol-agentaudit/internal/testsyslog"
	"github.com/agentaudit/otelcol-agentaudit/pkg/siem"
)

// reviewHTTPServer serves h on a free loopback port until the test ends.
func reviewHTTPServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// A 200 that is not a HEC answer (an empty body, a proxy's or Splunk Web's
// HTML page) says nothing about the events: Splunk HEC always answers
// {"text":"Success","code":0,...}. Taking it for delivery loses the batch.
func TestReviewHECNonHECSuccessIsNotDelivery(t *testing.T) {
	for name, body := range map[string]string{
		"empty": "",
		"html":  "<html><body>Welcome</body></html>",
		"json":  `{"status":"ok"}`,
	} {
		t.Run(name, func(t *testing.T) {
			url := reviewHTTPServer(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(body))
			})
			set, rej := siemSettings(t, formatCEF)
			tr := startHEC(t, hecConfig(url), set)
			err := tr.send(context.Background(), cefEvents("nohec", 2, nil))
			requireRetryable(t, err)
			assert.Equal(t, 0, rej.count())
		})
	}
}

// rejectingTransport reports the first reject events of every send as
// refused for good and takes the rest.
type rejectingTransport struct {
	reject int
	set    transportSettings
}

func (r *rejectingTransport) start(context.Context, component.Host) error { return nil }
func (r *rejectingTransport) shutdown(context.Context) error              { return nil }
func (r *rejectingTransport) send(ctx context.Context, evs []event) error {
	r.set.rejected(ctx, min(r.reject, len(evs)), "test: refused")
	return nil
}

// events_sent is "events the SIEM (or file) accepted" (README); events the
// SIEM refused for good are counted in events_rejected, not in both.
func TestReviewRejectedEventsAreNotCountedAsSent(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.File = &FileConfig{Path: filepath.Join(t.TempDir(), "x")}
	e, err := newSIEMExporter(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, err)
	e.transport = &rejectingTransport{reject: 2, set: transportSettings{rejected: e.rejected}}
	ld := auditLogs(5, false, "m")
	require.NoError(t, e.pushLogs(context.Background(), ld))
	metadatatest.AssertEqualExporterSiemEventsRejected(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterSiemEventsSent(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// The same through a real transport: syslog events over max_message_size.
func TestReviewSyslogTooLargeNotCountedAsSent(t *testing.T) {
	addr, read := syslogCaptureUDP(t)
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sc := syslogCfg(addr, "udp", "rfc5424")
	cfg.Syslog = &sc
	ld := auditLogs(1, false, strings.Repeat("big ", 1000))
	small := auditLogs(2, false, "small")
	f, err := cfg.formatter(siem.ECSAgent{})
	require.NoError(t, err)
	lrSmall, lrBig := small.ResourceLogs().At(0), ld.ResourceLogs().At(0)
	smallLen := len(f.Append(nil, lrSmall.Resource(), lrSmall.ScopeLogs().At(0).LogRecords().At(0)))
	bigLen := len(f.Append(nil, lrBig.Resource(), lrBig.ScopeLogs().At(0).LogRecords().At(0)))
	sc.MaxMessageSize = max(minMaxMessageSize, smallLen+200)
	require.Greater(t, bigLen, sc.MaxMessageSize)
	require.NoError(t, cfg.Validate())
	e, err := newSIEMExporter(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })
	small.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().MoveAndAppendTo(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords())
	require.Equal(t, 3, ld.LogRecordCount())
	require.NoError(t, e.pushLogs(context.Background(), ld))
	assert.Len(t, read(2), 2)
	metadatatest.AssertEqualExporterSiemEventsRejected(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterSiemEventsSent(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

// reviewConcurrently runs sends of batches from 10 goroutines, as
// exporterhelper's default 10 consumers do.
func reviewConcurrently(t *testing.T, tr transport, batches [][]event) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(batches))
	for _, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			errs <- tr.send(ctx, b)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestReviewConcurrentSends(t *testing.T) {
	const consumers, per = 10, 40
	t.Run("elasticsearch", func(t *testing.T) {
		srv := testsiem.NewElasticsearch().Start(t)
		set, rej := siemSettings(t, formatECS)
		tr := startES(t, esConfig(srv.URL()), set)
		var all []event
		var batches [][]event
		for c := range consumers {
			b := ecsEvents(fmt.Sprintf("es%d", c), per, nil)
			batches = append(batches, b)
			all = append(all, b...)
		}
		reviewConcurrently(t, tr, batches)
		assert.Equal(t, sortedIDs(all), srv.DocIDs())
		assert.Equal(t, 0, rej.count())
		assert.Equal(t, 0, tr.settled.len())
	})
	t.Run("splunk_hec", func(t *testing.T) {
		srv := testsiem.NewSplunkHEC(hecToken).SetAckAfterPolls(2).Start(t)
		set, rej := siemSettings(t, formatCEF)
		tr := startHEC(t, hecConfig(srv.URL()), set)
		var all []event
		var batches [][]event
		for c := range consumers {
			b := cefEvents(fmt.Sprintf("hec%d", c), per, nil)
			batches = append(batches, b)
			all = append(all, b...)
		}
		reviewConcurrently(t, tr, batches)
		assert.Equal(t, sortedIDs(all), storedIDs(t, srv))
		assert.Equal(t, 0, rej.count())
	})
	t.Run("file", func(t *testing.T) {
		tr := newFileTransport(&FileConfig{Path: filepath.Join(t.TempDir(), "e.cef"), MaxSize: 20_000, Fsync: false},
			fileSettings(t), nil)
		require.NoError(t, tr.start(context.Background(), componenttest.NewNopHost()))
		t.Cleanup(func() { require.NoError(t, tr.shutdown(context.Background())) })
		var batches [][]event
		want := map[string]bool{}
		for c := range consumers {
			b := numberedEvents(c*per, per, 100)
			batches = append(batches, b)
			for _, e := range b {
				want[string(e.payload)] = true
			}
		}
		reviewConcurrently(t, tr, batches)
		got := map[string]bool{}
		for _, l := range readLines(t, tr) {
			require.False(t, got[l], "line twice: %.40s", l)
			got[l] = true
		}
		assert.Equal(t, want, got)
	})
	t.Run("syslog", func(t *testing.T) {
		s := testsyslog.Start(t)
		tr, rej := newSyslogForTest(t, syslogCfg(s.Addr(testsyslog.SourceTCP), "tcp", "rfc5424"))
		var all []event
		var batches [][]event
		for c := range consumers {
			b := syslogEvents(per, true, "host-a")
			for i := range b {
				b[i].id = fmt.Sprintf("%020d%020d", c, i)
				b[i].payload = append([]byte(fmt.Sprintf("c%d-%d ", c, i)), b[i].payload...)
			}
			batches = append(batches, b)
			all = append(all, b...)
		}
		reviewConcurrently(t, tr, batches)
		got := s.Messages(t, testsyslog.SourceTCP, len(all))
		require.Len(t, got, len(all))
		seen := map[string]bool{}
		for _, m := range got {
			k := strings.SplitN(string(m.MSG), " ", 2)[0]
			require.False(t, seen[k], "message twice: %s", k)
			seen[k] = true
		}
		assert.Zero(t, rej.count())
	})
}

// A syslog send blocked on a server that does not read ends when its
// context is cancelled (no deadline: a cancelled pipeline), and shutdown
// does not wait for the write timeout.
func TestReviewSyslogBlockedSendHonoursCancelAndShutdown(t *testing.T) {
	for _, mode := range []string{"cancel", "shutdown"} {
		t.Run(mode, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					defer c.Close()
					<-stop
				}
			}()
			cfg := syslogCfg(ln.Addr().String(), "tcp", "rfc5424")
			cfg.WriteTimeout = time.Hour
			tr, _ := newSyslogForTest(t, cfg)
			evs := make([]event, 1024)
			payload := bytes.Repeat([]byte("x"), 64<<10)
			for i := range evs {
				evs[i] = event{id: fmt.Sprint(i), name: "n", payload: payload}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tr.send(ctx, evs) }()
			// Let the send fill the socket buffers and block.
			time.Sleep(300 * time.Millisecond)
			if mode == "cancel" {
				cancel()
			} else {
				sd := make(chan error, 1)
				go func() { sd <- tr.shutdown(context.Background()) }()
				select {
				case <-sd:
				case <-time.After(30 * time.Second):
					t.Fatal("shutdown still blocked behind the send after 30s")
				}
			}
			select {
			case err := <-done:
				require.Error(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("send still blocked after 30s")
			}
		})
	}
}

var _ = plog.NewLogs

// A file path naming a directory (a trailing separator) can never be
// opened for appending: refuse it at configuration time rather than at
// start.
func TestReviewFilePathMustNameAFile(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{dir + "/", dir + string(filepath.Separator) + "sub/", "events/."} {
		assert.Error(t, (&FileConfig{Path: p}).Validate(), "path %q", p)
	}
	assert.NoError(t, (&FileConfig{Path: filepath.Join(dir, "events.cef")}).Validate())
}

func TestReviewSyslogEndpointNeedsHostAndPort(t *testing.T) {
	for _, ep := range []string{"siem.example", "siem.example:", ":514", "[::1]", "siem.example:0", "siem.example:65536", "siem.example:syslog"} {
		c := syslogCfg(ep, "tcp", "rfc5424")
		assert.Error(t, c.Validate(), "endpoint %q", ep)
	}
	for _, ep := range []string{"siem.example:514", "[::1]:6514", "127.0.0.1:601"} {
		c := syslogCfg(ep, "tcp", "rfc5424")
		assert.NoError(t, c.Validate(), "endpoint %q", ep)
	}
}

func TestReviewFilePathThatIsADirectory(t *testing.T) {
	assert.Error(t, (&FileConfig{Path: t.TempDir()}).Validate())
}

// An ECS payload is a JSON document; one with line breaks inside (legal
// JSON whitespace) or an empty one must not break the NDJSON framing of the
// bulk request, which makes Elasticsearch refuse the whole request and
// every other document of the batch with it.
func TestReviewElasticsearchPayloadCannotBreakFraming(t *testing.T) {
	srv := testsiem.NewElasticsearch().Start(t)
	set, rej := siemSettings(t, formatECS)
	tr := startES(t, esConfig(srv.URL()), set)
	evs := ecsEvents("frame", 5, nil)
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, evs[1].payload, "", "  "))
	evs[1].payload = pretty.Bytes()
	require.Contains(t, string(evs[1].payload), "\n")
	evs[3].payload = nil
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(eventsWithout(evs, 3)), srv.DocIDs())
	assert.Equal(t, 1, rej.count(), "only the empty document is refused")
}

// One event is one line (README): a line break inside a payload (JSON
// whitespace in an ECS document, or a formatter slip) must not split the
// event into two lines, the second read by the SIEM agent as an event of
// its own.
func TestReviewFileOneLinePerEvent(t *testing.T) {
	tr := newFileTransport(&FileConfig{Path: filepath.Join(t.TempDir(), "e.json")}, fileSettings(t), nil)
	require.NoError(t, tr.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, tr.shutdown(context.Background())) })
	evs := []event{
		{id: "a", payload: []byte("{\n  \"message\": \"one\"\n}")},
		{id: "b", payload: []byte("CEF:0|x|y|1|n|n|3|msg=two\r\nCEF:0|forged|y|1|n|n|10|msg=forged")},
	}
	require.NoError(t, tr.send(context.Background(), evs))
	lines := readLines(t, tr)
	require.Len(t, lines, 2)
	var doc map[string]string
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &doc))
	assert.Equal(t, "one", doc["message"])
	assert.True(t, strings.HasPrefix(lines[1], "CEF:0|x|"))
}

// What a failed send settled is remembered for the resend of that batch
// only. When the batch is given up (retry_on_failure.max_elapsed_time, a
// shutdown) and its records come again in another batch (a replay from the
// archive, as the README suggests after an outage), they are sent: skipping
// them returns nil for events neither delivered nor reported by that send.
func TestReviewSettledIDsDoNotLeakIntoOtherBatches(t *testing.T) {
	t.Run("elasticsearch", func(t *testing.T) {
		srv := testsiem.NewElasticsearch().Start(t)
		// The mapping refuses BAD once (then the template is fixed);
		// BUSY is refused for now on every attempt of the first send.
		srv.FailItems(testsiem.ItemFault{Match: containsMarker("BAD"), Status: 400, Type: "mapper_parsing_exception", Reason: "failed to parse", Times: 1})
		srv.FailItems(testsiem.ItemFault{Match: containsMarker("BUSY"), Status: 429, Type: "es_rejected_execution_exception", Reason: "busy", Times: esItemAttempts})
		set, rej := siemSettings(t, formatECS)
		tr := startES(t, esConfig(srv.URL()), set)
		evs := ecsEvents("leak", 3, map[int]string{0: "BAD", 1: "BUSY"})
		requireRetryable(t, tr.send(context.Background(), evs))
		require.Equal(t, 1, rej.count())
		// The batch is given up; the records are replayed in another batch.
		replay := append([]event{evs[0]}, ecsEvents("other", 1, nil)...)
		require.NoError(t, tr.send(context.Background(), replay))
		assert.Contains(t, srv.DocIDs(), evs[0].id, "the replayed record is stored")
		assert.Equal(t, 1, rej.count())
		// The original batch's resend still leaves out what it settled.
		before := srv.Counters().Items
		require.NoError(t, tr.send(context.Background(), evs))
		assert.Equal(t, 1, srv.Counters().Items-before, "only the busy document is resent")
		assert.Equal(t, 0, tr.settled.len())
	})
	t.Run("splunk_hec", func(t *testing.T) {
		srv := testsiem.NewSplunkHEC(hecToken).Start(t)
		srv.FailEvents(testsiem.EventFault{Match: containsMarker("BAD"), Code: testsiem.HECInvalidDataFormat, Times: 1})
		set, rej := siemSettings(t, formatCEF)
		cfg := hecConfig(srv.URL())
		cfg.AckTimeout = 30 * time.Millisecond
		tr := startHEC(t, cfg, set)
		evs := cefEvents("leak", 3, map[int]string{0: "BAD"})
		srv.LoseAcks(true)
		requireRetryable(t, tr.send(context.Background(), evs))
		srv.LoseAcks(false)
		require.Equal(t, 1, rej.count())
		replay := []event{evs[0]}
		require.NoError(t, tr.send(context.Background(), replay))
		assert.Contains(t, storedIDs(t, srv), evs[0].id, "the replayed record is indexed")
		assert.Equal(t, 1, rej.count())
	})
}

// Splunk answers 413 to a request over max_content_length (1 MB on older
// and many site configurations). Retrying the same batch can never succeed
// and holds the queue for ever: the batch is split, as for Elasticsearch,
// and only an event that is too large alone is rejected.
func TestReviewHECTooLargeSplitsTheBatch(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).SetMaxBody(3000).Start(t)
	set, rej := siemSettings(t, formatCEF)
	tr := startHEC(t, hecConfig(srv.URL()), set)
	evs := cefEvents("big", 40, nil)
	evs[7].payload = append(evs[7].payload, bytes.Repeat([]byte("y"), 4000)...)
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(eventsWithout(evs, 7)), storedIDs(t, srv), "every event that fits, once")
	assert.Equal(t, 1, rej.count())
	assert.Equal(t, 0, tr.settled.len())
}
