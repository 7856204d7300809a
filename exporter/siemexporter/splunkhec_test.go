package siemexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"

	"github.com/agentaudit/otelcol-agentaudit/internal/testsiem"
)

const hecToken = "11111111-2222-3333-4444-555555555555"

func hecConfig(endpoint string) *SplunkHECConfig {
	return &SplunkHECConfig{
		ClientConfig:    confighttp.ClientConfig{Endpoint: endpoint, Timeout: 10 * time.Second},
		Token:           hecToken,
		UseAck:          true,
		AckPollInterval: time.Millisecond,
		AckTimeout:      10 * time.Second,
	}
}

func startHEC(t *testing.T, cfg *SplunkHECConfig, set transportSettings) *hecTransport {
	t.Helper()
	tr, err := newSplunkHECTransport(cfg, set)
	require.NoError(t, err)
	require.NoError(t, tr.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, tr.shutdown(context.Background())) })
	return tr.(*hecTransport)
}

func cefEvents(prefix string, n int, markers map[int]string) []event {
	evs := ecsEvents(prefix, n, markers)
	for i := range evs {
		evs[i].payload = []byte(fmt.Sprintf(`CEF:0|AgentAudit|otelcol|1.0|tool.call|Tool call|3|msg=%s-%d %s`, prefix, i, markers[i]))
	}
	return evs
}

// storedIDs returns the event_id of every stored event, sorted, duplicates
// kept.
func storedIDs(t *testing.T, srv *testsiem.SplunkHEC) []string {
	t.Helper()
	var out []string
	for _, e := range srv.Events() {
		var env struct {
			Fields map[string]string `json:"fields"`
		}
		require.NoError(t, e.Decode(&env))
		out = append(out, env.Fields["event_id"])
	}
	sort.Strings(out)
	return out
}

func TestSplunkHECEnvelopeECS(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).Start(t)
	set, _ := siemSettings(t, formatECS)
	cfg := hecConfig(srv.URL() + "/services/collector/event")
	cfg.Index, cfg.Source = "audit", "agentaudit"
	tr := startHEC(t, cfg, set)
	evs := ecsEvents("env", 2, nil)
	evs[1].host = ""

	require.NoError(t, tr.send(context.Background(), evs))
	got := srv.Events()
	require.Len(t, got, 2)
	for i, e := range got {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(evs[i].payload, &doc))
		want := map[string]any{
			"time":       json.Number(fmt.Sprintf("%d.123", 1772600767+i)),
			"source":     "agentaudit",
			"sourcetype": "_json",
			"index":      "audit",
			"event":      doc,
			"fields":     map[string]any{"event_id": evs[i].id},
		}
		if i == 0 {
			want["host"] = "host-a"
		}
		dec := json.NewDecoder(bytes.NewReader(e.Envelope))
		dec.UseNumber()
		var envN map[string]any
		require.NoError(t, dec.Decode(&envN))
		assert.Equal(t, want, envN, "envelope %d", i)
		assert.Equal(t, tr.channel, e.Channel)
		assert.Equal(t, int64(0), e.AckID)
	}
	h := srv.LastHeader()
	assert.Equal(t, "Splunk "+hecToken, h.Get("Authorization"))
	assert.Regexp(t, hecChannelRE, h.Get("X-Splunk-Request-Channel"))
	assert.Equal(t, "application/json", h.Get("Content-Type"))
}

func TestSplunkHECEnvelopeCEFIsAString(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).Start(t)
	set, _ := siemSettings(t, formatCEF)
	cfg := hecConfig(srv.URL())
	cfg.Channel = "0d6c2b4e-1f0a-4c59-9a55-3b8f7c2d1e90"
	tr := startHEC(t, cfg, set)
	evs := cefEvents("cef", 1, map[int]string{0: `a\=b <tag> & "q"`})

	require.NoError(t, tr.send(context.Background(), evs))
	got := srv.Events()
	require.Len(t, got, 1)
	var env struct {
		Time       json.Number       `json:"time"`
		Host       string            `json:"host"`
		Sourcetype string            `json:"sourcetype"`
		Event      any               `json:"event"`
		Fields     map[string]string `json:"fields"`
		Index      *string           `json:"index"`
		Source     *string           `json:"source"`
	}
	require.NoError(t, got[0].Decode(&env))
	assert.Equal(t, string(evs[0].payload), env.Event, "the CEF line travels as a JSON string, unchanged")
	assert.Equal(t, "cef", env.Sourcetype)
	assert.Equal(t, json.Number("1772600767.123"), env.Time)
	assert.Nil(t, env.Index, "an empty index is left out")
	assert.Nil(t, env.Source, "an empty source is left out")
	assert.Equal(t, "0d6c2b4e-1f0a-4c59-9a55-3b8f7c2d1e90", got[0].Channel)
}

func TestSplunkHECSourcetypeDefaults(t *testing.T) {
	for format, want := range map[string]string{formatECS: "_json", formatCEF: "cef", formatLEEF: "leef"} {
		set, _ := siemSettings(t, format)
		tr, err := newSplunkHECTransport(hecConfig("http://127.0.0.1:8088"), set)
		require.NoError(t, err)
		assert.Equal(t, want, tr.(*hecTransport).sourcetype, format)
	}
}

func TestSplunkHECAckAfterSeveralPolls(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).SetAckAfterPolls(4).Start(t)
	set, _ := siemSettings(t, formatECS)
	tr := startHEC(t, hecConfig(srv.URL()), set)
	evs := ecsEvents("ack", 3, nil)

	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(evs), storedIDs(t, srv))
	assert.Equal(t, 4, srv.Counters().AckPolls, "send returns only once the ack is true")
}

func TestSplunkHECLostAckTimesOutThenResends(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).Start(t)
	srv.LoseAcks(true)
	set, rej := siemSettings(t, formatECS)
	cfg := hecConfig(srv.URL())
	cfg.AckTimeout = 30 * time.Millisecond
	tr := startHEC(t, cfg, set)
	evs := ecsEvents("lost", 2, nil)

	err := tr.send(context.Background(), evs)
	requireRetryable(t, err)
	assert.Contains(t, err.Error(), "may be indexed twice")

	srv.LoseAcks(false)
	require.NoError(t, tr.send(context.Background(), evs))
	// The events were indexed by the first request too: HEC has no
	// idempotent id, so they are there twice, told apart by event_id.
	stored := storedIDs(t, srv)
	assert.Len(t, stored, 4)
	assert.Equal(t, sortedIDs(evs), uniqueSorted(stored))
	assert.Equal(t, 0, rej.count())
}

func uniqueSorted(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || s[i-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func TestSplunkHECRetryableCodes(t *testing.T) {
	for _, code := range []int{
		testsiem.HECTokenDisabled, testsiem.HECInvalidToken, testsiem.HECTokenRequired, testsiem.HECInvalidAuth,
		testsiem.HECInternalError, testsiem.HECServerBusy, testsiem.HECQueuesFull,
		testsiem.HECIncorrectIndex, testsiem.HECChannelMissing, testsiem.HECInvalidChannel, testsiem.HECNoData,
	} {
		t.Run(fmt.Sprintf("code %d %s", code, testsiem.HECText(code)), func(t *testing.T) {
			srv := testsiem.NewSplunkHEC(hecToken).Start(t)
			srv.FailRequests(code, 1)
			set, rej := siemSettings(t, formatECS)
			tr := startHEC(t, hecConfig(srv.URL()), set)
			evs := ecsEvents("code", 3, nil)

			err := tr.send(context.Background(), evs)
			requireRetryable(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("code %d", code))
			assert.Empty(t, srv.Events())

			require.NoError(t, tr.send(context.Background(), evs))
			assert.Equal(t, sortedIDs(evs), storedIDs(t, srv), "every event once")
			assert.Equal(t, 0, rej.count())
		})
	}
}

func TestSplunkHECWrongTokenIsRetryable(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).Start(t)
	set, rej := siemSettings(t, formatCEF)
	cfg := hecConfig(srv.URL())
	cfg.Token = "not-the-token"
	err := startHEC(t, cfg, set).send(context.Background(), cefEvents("tok", 1, nil))
	requireRetryable(t, err)
	assert.Contains(t, err.Error(), "Invalid token")
	assert.Equal(t, 0, rej.count())
}

func TestSplunkHECInvalidEventNumber(t *testing.T) {
	for _, code := range []int{testsiem.HECInvalidDataFormat, testsiem.HECEventRequired, testsiem.HECEventBlank, testsiem.HECIndexedFields} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := testsiem.NewSplunkHEC(hecToken).Start(t)
			srv.FailEvents(testsiem.EventFault{Match: containsMarker("BAD"), Code: code, Times: -1})
			set, rej := siemSettings(t, formatECS)
			tr := startHEC(t, hecConfig(srv.URL()), set)
			evs := ecsEvents("inv", 6, map[int]string{1: "BAD", 4: "BAD"})

			require.NoError(t, tr.send(context.Background(), evs))
			assert.Equal(t, sortedIDs(eventsWithout(evs, 1, 4)), storedIDs(t, srv), "events around the bad ones stored once")
			assert.Equal(t, 2, rej.count())
			assert.Contains(t, rej.all(), fmt.Sprintf("code %d", code))
			assert.Equal(t, 3, srv.Counters().Requests, "0-1 | 2-4 | 5")
		})
	}
}

func TestSplunkHECBusyAfterPartOfTheRequest(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).Start(t)
	srv.FailRequestsAfter(testsiem.HECServerBusy, 1, 2)
	set, _ := siemSettings(t, formatECS)
	tr := startHEC(t, hecConfig(srv.URL()), set)
	evs := ecsEvents("busy", 5, nil)

	requireRetryable(t, tr.send(context.Background(), evs))
	assert.Len(t, srv.Events(), 2)
	// The resend leaves out the two events Splunk took before it was busy.
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(evs), storedIDs(t, srv))
}

func TestSplunkHECTokenWithoutAck(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).SetUseAck(false).Start(t)
	set, _ := siemSettings(t, formatECS)
	tr := startHEC(t, hecConfig(srv.URL()), set)
	evs := ecsEvents("noack", 2, nil)
	require.NoError(t, tr.send(context.Background(), evs), "no ackId: accepted counts as delivered")
	assert.Equal(t, sortedIDs(evs), storedIDs(t, srv))
	assert.Equal(t, 0, srv.Counters().AckPolls)

	cfg := hecConfig(srv.URL())
	cfg.UseAck = false
	tr2 := startHEC(t, cfg, set)
	require.NoError(t, tr2.send(context.Background(), ecsEvents("noack2", 1, nil)))
	assert.Equal(t, 0, srv.Counters().AckPolls)
}

func TestSplunkHECInvalidECSPayloadRejectedLocally(t *testing.T) {
	srv := testsiem.NewSplunkHEC(hecToken).Start(t)
	set, rej := siemSettings(t, formatECS)
	tr := startHEC(t, hecConfig(srv.URL()), set)
	evs := ecsEvents("local", 3, nil)
	evs[1].payload = []byte(`{"truncated":`)
	require.NoError(t, tr.send(context.Background(), evs))
	assert.Equal(t, sortedIDs(eventsWithout(evs, 1)), storedIDs(t, srv))
	assert.Equal(t, 1, rej.count())
}

func TestSplunkHECConfig(t *testing.T) {
	require.NoError(t, hecConfig("https://splunk:8088").Validate())
	for name, mod := range map[string]func(*SplunkHECConfig){
		"no token":     func(c *SplunkHECConfig) { c.Token = "" },
		"no endpoint":  func(c *SplunkHECConfig) { c.Endpoint = "" },
		"bad channel":  func(c *SplunkHECConfig) { c.Channel = "chan-1" },
		"poll > limit": func(c *SplunkHECConfig) { c.AckPollInterval, c.AckTimeout = time.Minute, time.Second },
	} {
		c := *hecConfig("https://splunk:8088")
		mod(&c)
		assert.Error(t, c.Validate(), name)
	}

	var c SplunkHECConfig
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoint": "https://splunk:8088", "token": "t", "index": "audit",
	}).Unmarshal(&c))
	assert.True(t, c.UseAck, "use_ack defaults to true")
	assert.Equal(t, "audit", c.Index)
	assert.Equal(t, defaultAckTimeout, c.AckTimeout)

	c = SplunkHECConfig{}
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoint": "https://splunk:8088", "token": "t", "use_ack": false, "ack_timeout": "5s",
	}).Unmarshal(&c))
	assert.False(t, c.UseAck)
	assert.Equal(t, 5*time.Second, c.AckTimeout)
}
