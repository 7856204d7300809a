package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/tests3"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

const (
	benchEvents   = 40_000
	benchBatch    = 100
	benchClients  = 4
	benchSessions = 50
	benchPadding  = 790 // makes each native event about 1 KB of JSON
)

// BenchmarkReceiverToArchive measures 1 KB audit events from the first byte
// of the HTTP request to the fsynced segment in the local archive: events/s
// (wall clock until all are archived) and collector CPU per event.
// "native" is POST /v1/events through the audit pipeline (chain and sign
// processors); "native-scrub" adds the scrub processor before chain (the
// shipped pipeline); "native-scrub-siem" adds to that the SIEM copy as CEF
// lines in a file (the local default's siem/cef, persistent queue); "native-plain" has no processors; "otlp" sends the
// very same records as OTLP/HTTP protobuf to the stock otlp receiver
// through the plain pipeline, the baseline of a stock collector.
// "native-s3" is "native" archiving to MinIO on loopback (Object Lock,
// zstd, persistent queue) instead of the local directory; it also reports
// the stored MB/s and the request MB/s the receiver took in.
func BenchmarkReceiverToArchive(b *testing.B) {
	for _, mode := range []string{"native", "native-scrub", "native-scrub-siem", "native-plain", "otlp", "native-s3"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchOnce(b, mode)
			}
		})
	}
}

func benchOnce(b *testing.B, mode string) {
	otlpPort := testport.Free(b)
	extra := map[string]string{"otlp_port": fmt.Sprint(otlpPort), "queue_size": "5000"}
	var srv *tests3.Server
	switch mode {
	case "native":
	case "native-scrub":
		extra["scrub"] = "1"
	case "native-scrub-siem":
		extra["scrub"] = "1"
		extra["siem"] = siemYAML("format: cef", "file:", "  path: @DIR@/siem/events.cef", "sending_queue:", "  storage: file_storage/queue")
	case "native-s3":
		srv = tests3.StartMinIO(b)
		srv.CreateBucket(b, "bench", true)
		extra = s3Extra(srv, "bench", "gw", extra)
	default:
		extra["plain"] = "1"
	}
	c := newCollector(b, localConfig, extra)
	defer c.stop()
	if srv != nil {
		c.archiveURL = useS3Archive(b, srv, "bench", "gw")
	}

	// Prepare every request body before the clock starts.
	var bodies [][]byte
	var bodyBytes int
	want := map[string]bool{}
	for start := 0; start < benchEvents; start += benchBatch {
		var nd bytes.Buffer
		for i := start; i < start+benchBatch; i++ {
			id := fmt.Sprintf("bench-%s-%06d", mode, i)
			want[id] = true
			nd.Write(eventJSON(id, fmt.Sprintf("sess-%d", i%benchSessions), benchPadding))
			nd.WriteByte('\n')
		}
		if mode != "otlp" {
			bodies = append(bodies, nd.Bytes())
			bodyBytes += nd.Len()
			continue
		}
		ld, err := auditrecord.Decode(nd.Bytes(), auditrecord.FormatNDJSON, auditrecord.DefaultLimits, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		pb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, pb)
		bodyBytes += len(pb)
	}
	url, contentType := c.url(), "application/x-ndjson"
	if mode == "otlp" {
		url, contentType = fmt.Sprintf("http://127.0.0.1:%d/v1/logs", otlpPort), "application/x-protobuf"
	}

	cpu0 := c.cpuTime()
	begin := time.Now()
	var wg sync.WaitGroup
	next := make(chan []byte)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range next {
				for {
					res, err := post(context.Background(), url, contentType, body, nil)
					if err == nil && res.Status == http.StatusOK {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
	accepted := time.Since(begin)
	// Wait on the exporters' own counter: reading the archive here would
	// take CPU from the collector on a small machine. With the SIEM copy
	// the counter sums both exporters, and both must have sent every event.
	sentWanted := float64(benchEvents)
	if extra["siem"] != "" {
		sentWanted *= 2
	}
	for deadline := time.Now().Add(5 * time.Minute); c.metric("otelcol_exporter_sent_log_records") < sentWanted; {
		if time.Now().After(deadline) {
			b.Fatalf("archive did not catch up:\n%s", c.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	archived := time.Since(begin)
	cpu := c.cpuTime() - cpu0
	waitArchived(b, c.archiveDir(), want, time.Minute)

	b.ReportMetric(float64(benchEvents)/archived.Seconds(), "events/s")
	b.ReportMetric(float64(benchEvents)/accepted.Seconds(), "accepted-events/s")
	b.ReportMetric(float64(cpu.Microseconds())/benchEvents, "cpu-µs/event")
	b.ReportMetric(float64(c.peakRSS()>>20), "peak-RSS-MiB")
	if srv != nil {
		b.ReportMetric(float64(bodyBytes)/1e6/archived.Seconds(), "in-MB/s")
		b.ReportMetric(c.metric("otelcol_exporter_worm_bytes_written")/1e6/archived.Seconds(), "stored-MB/s")
	}
}
