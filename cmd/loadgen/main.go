// Command loadgen sends realistic audit event load to an otelcol-agentaudit
// collector and prints a JSON summary: events acknowledged per second,
// request latency (p50/p99/max), retries and answers by status.
//
//	loadgen -url http://127.0.0.1:4320 -format native -events 20000 -clients 4 -batch 100
//	loadgen -url http://127.0.0.1:4318 -format otlp -duration 30s
//
// The events are mixed audit event types of the native schema with a size
// mix and a few secrets of real formats (internal/loadgen), the same for
// the same -seed. All request bodies are prepared before the clock starts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/signal"
	"time"

	"github.com/agentaudit/otelcol-agentaudit/internal/loadgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:4320", "collector base URL (the path of the format is added unless the URL has one)")
	format := fs.String("format", "native", "native (NDJSON to /v1/events) or otlp (OTLP/HTTP protobuf to /v1/logs)")
	events := fs.Int("events", 10000, "events to send (prepared up front)")
	duration := fs.Duration("duration", 0, "stop sending after this long (0: when all events are sent)")
	clients := fs.Int("clients", 4, "concurrent clients")
	batch := fs.Int("batch", 100, "events per request")
	sessions := fs.Int("sessions", 50, "agent sessions the events are spread over")
	secretEvery := fs.Int("secret-every", 50, "put a secret into about one event in N (negative: none)")
	seed := fs.Uint64("seed", 1, "seed of the event stream")
	maxBackoff := fs.Duration("max-backoff", 250*time.Millisecond, "longest wait before a retry after 429/503, Retry-After included")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f, err := loadgen.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: -format %s: need native|otlp\n", *format)
		return 2
	}
	// A value the library would take as "default" or "no bound" is refused
	// here: a typo must not turn into a different run.
	for _, c := range []struct {
		name string
		bad  bool
		val  any
		need string
	}{
		{"-events", *events <= 0, *events, "positive"},
		{"-clients", *clients <= 0, *clients, "positive"},
		{"-batch", *batch <= 0, *batch, "positive"},
		{"-sessions", *sessions <= 0, *sessions, "positive"},
		{"-duration", *duration < 0, *duration, "0 (no bound) or positive"},
		{"-max-backoff", *maxBackoff <= 0, *maxBackoff, "positive"},
	} {
		if c.bad {
			fmt.Fprintf(stderr, "loadgen: %s %v: need %s\n", c.name, c.val, c.need)
			return 2
		}
	}
	u, err := neturl.Parse(*url)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "loadgen: -url %q is not an absolute URL\n", *url)
		return 2
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = f.Path()
	}
	target := u.String()
	g := loadgen.NewGenerator(*seed, loadgen.Options{Sessions: *sessions, SecretEvery: *secretEvery})
	reqs, err := loadgen.Prepare(g, f, *events, *batch)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res := loadgen.Run(ctx, loadgen.RunConfig{URL: target, ContentType: f.ContentType(), Clients: *clients,
		Duration: *duration, MaxBackoff: *maxBackoff}, reqs)
	out, _ := json.MarshalIndent(struct {
		URL    string `json:"url"`
		Format string `json:"format"`
		loadgen.Result
	}{target, string(f), res}, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if res.Failed > 0 || res.Requests == 0 {
		return 1
	}
	return 0
}
