package testsiem

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func post(t *testing.T, url, ct string, hdr map[string]string, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ct)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, &out), string(b))
	}
	return resp.StatusCode, out
}

// The bulk answer has Elasticsearch's shape: 200 with errors true and one
// item per action, 201 created, 409 for an existing _id, 400 for a
// document without @timestamp.
func TestElasticsearchBulkAnswerShape(t *testing.T) {
	s := NewElasticsearch().Start(t)
	body := `{"create":{"_index":"logs-a-default","_id":"1"}}
{"@timestamp":"2026-01-01T00:00:00Z","m":1}
{"create":{"_index":"logs-a-default","_id":"1"}}
{"@timestamp":"2026-01-01T00:00:00Z","m":1}
{"create":{"_index":"logs-a-default","_id":"2"}}
{"m":2}
`
	status, out := post(t, s.URL()+"/_bulk", "application/x-ndjson", nil, body)
	require.Equal(t, 200, status)
	assert.Equal(t, true, out["errors"])
	items := out["items"].([]any)
	require.Len(t, items, 3)
	st := func(i int) (float64, string) {
		c := items[i].(map[string]any)["create"].(map[string]any)
		typ := ""
		if e, ok := c["error"].(map[string]any); ok {
			typ = e["type"].(string)
		}
		return c["status"].(float64), typ
	}
	s0, _ := st(0)
	s1, t1 := st(1)
	s2, t2 := st(2)
	assert.Equal(t, 201.0, s0)
	assert.Equal(t, []any{409.0, "version_conflict_engine_exception"}, []any{s1, t1})
	assert.Equal(t, []any{400.0, "document_parsing_exception"}, []any{s2, t2})
	assert.Len(t, s.Docs(), 1)

	status, out = post(t, s.URL()+"/_bulk", "application/x-ndjson", nil, `{"create":{"_index":"x-y-z","_id":"3"}}`)
	assert.Equal(t, 400, status, "a body without the final newline is malformed")
	assert.Equal(t, 400.0, out["status"])
}

// HEC: events before an invalid one are accepted and it is numbered from
// 0; acks turn true after the configured number of polls.
func TestSplunkHECProtocol(t *testing.T) {
	s := NewSplunkHEC("tok").SetAckAfterPolls(2).Start(t)
	hdr := map[string]string{"Authorization": "Splunk tok", "X-Splunk-Request-Channel": "0d6c2b4e-1f0a-4c59-9a55-3b8f7c2d1e90"}

	status, out := post(t, s.URL()+"/services/collector/event", "application/json", hdr, `{"event":"a"}{"event":"b"}{"time":1}{"event":"c"}`)
	assert.Equal(t, 400, status)
	assert.Equal(t, map[string]any{"text": "Event field is required", "code": 12.0, "invalid-event-number": 2.0}, out)
	assert.Len(t, s.Events(), 2)

	status, out = post(t, s.URL()+"/services/collector/event", "application/json", hdr, `{"event":"d"} {"event":{"k":"v"},"fields":{"event_id":"x"}}`)
	assert.Equal(t, 200, status)
	assert.Equal(t, map[string]any{"text": "Success", "code": 0.0, "ackId": 0.0}, out)

	ack := s.URL() + "/services/collector/ack?channel=0d6c2b4e-1f0a-4c59-9a55-3b8f7c2d1e90"
	_, out = post(t, ack, "application/json", map[string]string{"Authorization": "Splunk tok"}, `{"acks":[0]}`)
	assert.Equal(t, map[string]any{"acks": map[string]any{"0": false}}, out)
	_, out = post(t, ack, "application/json", map[string]string{"Authorization": "Splunk tok"}, `{"acks":[0]}`)
	assert.Equal(t, map[string]any{"acks": map[string]any{"0": true}}, out)

	status, out = post(t, s.URL()+"/services/collector/event", "application/json", map[string]string{"Authorization": "Splunk tok"}, `{"event":"e"}`)
	assert.Equal(t, 400, status)
	assert.Equal(t, 10.0, out["code"], "acknowledgement on: a channel is required")

	status, out = post(t, s.URL()+"/services/collector/event", "application/json", map[string]string{"Authorization": "Splunk nope"}, `{"event":"e"}`)
	assert.Equal(t, 403, status)
	assert.Equal(t, 4.0, out["code"])
}
