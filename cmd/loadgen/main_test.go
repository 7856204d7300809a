package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLISummary: the CLI posts to the format's path and prints the JSON
// summary of what the server acknowledged.
func TestCLISummary(t *testing.T) {
	var events atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.Header.Get("Content-Type") != "application/x-ndjson" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		events.Add(int64(bytes.Count(b, []byte{'\n'})))
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run([]string{"-url", srv.URL, "-format", "native", "-events", "250", "-clients", "2", "-batch", "100"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	var sum struct {
		URL      string      `json:"url"`
		Requests int         `json:"requests"`
		Events   int         `json:"events"`
		Status   map[int]int `json:"status"`
		Latency  struct {
			P50 float64 `json:"p50"`
			P99 float64 `json:"p99"`
		} `json:"latency_ms"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &sum), out.String())
	assert.Equal(t, srv.URL+"/v1/events", sum.URL)
	assert.Equal(t, 3, sum.Requests)
	assert.Equal(t, 250, sum.Events)
	assert.Equal(t, int64(250), events.Load())
	assert.Equal(t, map[int]int{200: 3}, sum.Status)
	assert.GreaterOrEqual(t, sum.Latency.P99, sum.Latency.P50)
}

// TestCLIRefusesBadFlags: an unknown format is a usage error.
func TestCLIRefusesBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run([]string{"-format", "xml"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "native|otlp")
}

// TestCLINamesTheBadFlag: a negative or zero count, a negative duration
// or back-off is a usage error (exit 2) that names the flag, before
// anything is sent; none is taken silently as a default or as no bound.
func TestCLINamesTheBadFlag(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	for _, c := range [][]string{
		{"-events", "-5"}, {"-events", "0"}, {"-clients", "-1"}, {"-batch", "0"},
		{"-sessions", "-3"}, {"-duration", "-1s"}, {"-max-backoff", "-1s"}, {"-format", "xml"},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"-url", srv.URL, "-events", "10"}, c...)
		assert.Equal(t, 2, run(args, &out, &errOut), "%v", c)
		assert.Contains(t, errOut.String(), c[0], "%v: the message names the flag", c)
		assert.Contains(t, errOut.String(), c[1], "%v: and the value", c)
	}
	assert.Zero(t, calls.Load(), "nothing is sent on a usage error")
}
