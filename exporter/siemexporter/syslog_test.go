package siemexporter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap/zaptest"

	"github.com/agentaudit/otelcol-agentaudit/internal/testsyslog"
)

// syslogRejections records what a transport reported through
// transportSettings.rejected.
type syslogRejections struct {
	mu      sync.Mutex
	n       int
	reasons []string
}

func (r *syslogRejections) add(_ context.Context, n int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += n
	r.reasons = append(r.reasons, reason)
}

func (r *syslogRejections) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// newSyslogForTest makes and starts a syslog transport; it is shut down
// when the test ends.
func newSyslogForTest(t *testing.T, cfg SyslogConfig) (*syslogTransport, *syslogRejections) {
	t.Helper()
	rej := &syslogRejections{}
	tr, err := newSyslogTransport(&cfg, transportSettings{
		telemetry: componenttest.NewNopTelemetrySettings(),
		logger:    zaptest.NewLogger(t),
		format:    "cef",
		rejected:  rej.add,
	})
	require.NoError(t, err)
	require.NoError(t, tr.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, tr.shutdown(context.Background())) })
	return tr.(*syslogTransport), rej
}

func syslogCfg(endpoint, network, protocol string) SyslogConfig {
	c := newDefaultSyslogConfig()
	c.Endpoint, c.Network, c.Protocol = endpoint, network, protocol
	return c
}

func syslogSend(t *testing.T, tr transport, events []event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, tr.send(ctx, events))
}

// syslogPayload is a CEF-like line with what breaks naive framing and
// escaping: pipes, backslashes, '=', non-ASCII; with long, a value of
// 8-60 KB (for TCP and TLS).
func syslogPayload(i int, long bool) []byte {
	p := fmt.Sprintf(`CEF:0|Agent\|Audit|otelcol-agentaudit|1.0|agent_audit.tool.call|Tool call|%d|rt=1767225600000 act=run cs1=a\=b\\c cs2=naïve “quotes” 日本語 émoji🙂 suser=user%d msg=x|y`, i%11, i)
	if long {
		n := 8<<10 + (i*7919)%(52<<10) // 8 KB to 60 KB
		p += " cs3=" + strings.Repeat(string(rune('a'+i%26)), n)
	}
	return []byte(p)
}

var syslogTestTime = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

func syslogEvents(n int, long bool, host string) []event {
	evs := make([]event, n)
	for i := range evs {
		evs[i] = event{
			id:       fmt.Sprintf("%040x", i),
			time:     syslogTestTime.Add(time.Duration(i) * time.Second),
			host:     host,
			name:     "agent_audit.tool.call",
			severity: i % 11,
			payload:  syslogPayload(i, long && i%5 == 0),
		}
	}
	return evs
}

// syslogCaptureTCP accepts one connection on a loopback port and returns what
// was written to it once the client closes.
func syslogCaptureTCP(t *testing.T) (addr string, got func() []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	ch := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		defer c.Close()
		var b bytes.Buffer
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, _ = b.ReadFrom(c)
		ch <- b.Bytes()
	}()
	return ln.Addr().String(), func() []byte {
		select {
		case b := <-ch:
			return b
		case <-time.After(30 * time.Second):
			t.Fatal("capture: nothing received within 30s")
			return nil
		}
	}
}

// syslogCaptureUDP returns the datagrams sent to a loopback port.
func syslogCaptureUDP(t *testing.T) (addr string, read func(n int) [][]byte) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String(), func(n int) [][]byte {
		var out [][]byte
		buf := make([]byte, 70000)
		for range n {
			require.NoError(t, pc.SetReadDeadline(time.Now().Add(10*time.Second)))
			k, _, err := pc.ReadFrom(buf)
			require.NoError(t, err)
			out = append(out, bytes.Clone(buf[:k]))
		}
		return out
	}
}

func syslogCollectorHost(t *testing.T) string {
	h, err := os.Hostname()
	require.NoError(t, err)
	return h
}

// syslogWant5424 checks a parsed RFC 5424 message against the event it came from.
func syslogWant5424(t *testing.T, m syslog.Message, ev event, facility int, host, msgid string) {
	t.Helper()
	sm, ok := m.(*rfc5424.SyslogMessage)
	require.True(t, ok, "%T", m)
	require.NotNil(t, sm.Priority)
	assert.Equal(t, facility*8+syslogSeverity(ev.severity), int(*sm.Priority))
	assert.Equal(t, uint16(1), sm.Version)
	require.NotNil(t, sm.Timestamp)
	assert.True(t, ev.time.Truncate(time.Microsecond).Equal(*sm.Timestamp), "timestamp %s, want %s", sm.Timestamp, ev.time)
	assert.Equal(t, host, syslogStr(sm.Hostname))
	assert.Equal(t, defaultSyslogAppName, syslogStr(sm.Appname))
	assert.Equal(t, strconv.Itoa(os.Getpid()), syslogStr(sm.ProcID))
	assert.Equal(t, msgid, syslogStr(sm.MsgID))
	assert.Nil(t, sm.StructuredData)
	assert.Equal(t, string(ev.payload), syslogStr(sm.Message))
}

func syslogStr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestSyslogFramesParse: every frame the transport writes is parsed by
// go-syslog (octet counting + RFC 5424, RFC 5424 datagrams, RFC 3164 with
// LF framing and in datagrams), with every field exact.
func TestSyslogFramesParse(t *testing.T) {
	evs := syslogEvents(40, true, "host-a.example")
	// Header edge cases: no usable host (the collector's instead), a
	// name over 32 characters (cut), a name with a space ("-").
	evs[1].host = ""
	evs[2].host = "bad host"
	evs[3].name = strings.Repeat("n", 40)
	evs[4].name = "bad name"
	wantHost := func(i int) string {
		if i == 1 || i == 2 {
			return syslogCollectorHost(t)
		}
		return "host-a.example"
	}
	wantMsgID := func(i int) string {
		switch i {
		case 3:
			return strings.Repeat("n", 32)
		case 4:
			return "<nil>"
		}
		return "agent_audit.tool.call"
	}

	t.Run("rfc5424/tcp", func(t *testing.T) {
		addr, got := syslogCaptureTCP(t)
		tr, _ := newSyslogForTest(t, syslogCfg(addr, "tcp", "rfc5424"))
		syslogSend(t, tr, evs[:25])
		syslogSend(t, tr, evs[25:])
		require.NoError(t, tr.shutdown(context.Background()))
		var results []*syslog.Result
		octetcounting.NewParser(syslog.WithMaxMessageLength(1<<20), syslog.WithListener(func(r *syslog.Result) {
			results = append(results, r)
		})).Parse(bytes.NewReader(got()))
		require.Len(t, results, len(evs))
		for i, r := range results {
			require.NoError(t, r.Error, "frame %d", i)
			syslogWant5424(t, r.Message, evs[i], defaultSyslogFacility, wantHost(i), wantMsgID(i))
		}
	})

	t.Run("rfc5424/udp", func(t *testing.T) {
		addr, read := syslogCaptureUDP(t)
		cfg := syslogCfg(addr, "udp", "rfc5424")
		cfg.MaxMessageSize = maxUDPMessageSize
		cfg.Facility = 10
		tr, rej := newSyslogForTest(t, cfg)
		syslogSend(t, tr, evs[:10])
		p := rfc5424.NewParser()
		for i, d := range read(10) {
			m, err := p.Parse(d)
			require.NoError(t, err, "datagram %d", i)
			syslogWant5424(t, m, evs[i], 10, wantHost(i), wantMsgID(i))
		}
		assert.Zero(t, rej.count())
	})

	for _, network := range []string{"tcp", "udp"} {
		t.Run("rfc3164/"+network, func(t *testing.T) {
			evs := syslogEvents(10, false, "host-a.example")
			// A line break must not split the event over TCP.
			evs[7].payload = []byte("CEF:0|a|b|1|x|n|5|msg=line one\nline two\r\nthree")
			var frames [][]byte
			cfg := syslogCfg("", network, "rfc3164")
			if network == "tcp" {
				addr, got := syslogCaptureTCP(t)
				cfg.Endpoint = addr
				tr, _ := newSyslogForTest(t, cfg)
				syslogSend(t, tr, evs)
				require.NoError(t, tr.shutdown(context.Background()))
				raw := got()
				require.True(t, bytes.HasSuffix(raw, []byte("\n")))
				frames = bytes.Split(raw[:len(raw)-1], []byte("\n"))
			} else {
				addr, read := syslogCaptureUDP(t)
				cfg.Endpoint = addr
				tr, _ := newSyslogForTest(t, cfg)
				syslogSend(t, tr, evs)
				frames = read(len(evs))
			}
			require.Len(t, frames, len(evs))
			opts := []syslog.MachineOption{rfc3164.WithYear(rfc3164.Year{YYYY: syslogTestTime.Year()}), rfc3164.WithTimezone(time.UTC)}
			if network == "udp" {
				// A datagram may carry line breaks: that event is sent
				// unchanged.
				opts = append(opts, rfc3164.WithEmbeddedNewlines())
			}
			p := rfc3164.NewParser(opts...)
			for i, f := range frames {
				m, err := p.Parse(f)
				require.NoError(t, err, "frame %d: %q", i, f)
				require.NotNil(t, m, "frame %d: %q", i, f)
				sm := m.(*rfc3164.SyslogMessage)
				assert.Equal(t, defaultSyslogFacility*8+syslogSeverity(evs[i].severity), int(*sm.Priority))
				assert.True(t, evs[i].time.Truncate(time.Second).Equal(*sm.Timestamp), "timestamp %s, want %s", sm.Timestamp, evs[i].time)
				assert.Equal(t, "host-a.example", syslogStr(sm.Hostname))
				assert.Equal(t, defaultSyslogAppName, syslogStr(sm.Appname))
				assert.Equal(t, strconv.Itoa(os.Getpid()), syslogStr(sm.ProcID))
				want := string(evs[i].payload)
				if i == 7 && network == "tcp" {
					want = "CEF:0|a|b|1|x|n|5|msg=line one line two  three"
				}
				assert.Equal(t, want, syslogStr(sm.Message))
			}
		})
	}
}

// TestSyslogHeaderFields covers the header values the parsers cannot tell
// apart from defaults: zero time, the severity table's ends.
func TestSyslogHeaderFields(t *testing.T) {
	tr, _ := newSyslogForTest(t, syslogCfg("127.0.0.1:9", "tcp", "rfc5424"))
	msg, _ := tr.format(&event{host: "h", name: "n", severity: 10, payload: []byte("p")})
	assert.Equal(t, fmt.Sprintf("<105>1 - h agentaudit %d n - p", os.Getpid()), string(msg))
	msg, _ = tr.format(&event{host: "h", name: "n", severity: -3, time: time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("x", 3600)), payload: []byte("p")})
	assert.Equal(t, fmt.Sprintf("<110>1 2026-01-02T02:04:05.999999Z h agentaudit %d n - p", os.Getpid()), string(msg))

	tr3, _ := newSyslogForTest(t, syslogCfg("127.0.0.1:9", "udp", "rfc3164"))
	msg, _ = tr3.format(&event{host: "h", name: "n", severity: 9, time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), payload: []byte("p")})
	assert.Equal(t, fmt.Sprintf("<106>Jan  2 03:04:05 h agentaudit[%d]: p", os.Getpid()), string(msg))
}

func TestSyslogSeverityTable(t *testing.T) {
	want := map[int]int{-1: 6, 0: 6, 1: 6, 2: 6, 3: 6, 4: 5, 5: 5, 6: 4, 7: 4, 8: 3, 9: 2, 10: 1, 11: 1}
	for cef, sev := range want {
		assert.Equal(t, sev, syslogSeverity(cef), "CEF %d", cef)
	}
}

func TestSyslogConfigValidate(t *testing.T) {
	tlsOn := configoptional.Some(configtls.ClientConfig{})
	insecure := configoptional.Some(configtls.ClientConfig{Insecure: true})
	tests := []struct {
		name string
		edit func(*SyslogConfig)
		want string // "" means valid
	}{
		{"defaults", func(*SyslogConfig) {}, ""},
		{"empty means defaults", func(c *SyslogConfig) { c.Network, c.Protocol, c.AppName = "", "", "" }, ""},
		{"udp rfc3164", func(c *SyslogConfig) { c.Network, c.Protocol = "udp", "rfc3164" }, ""},
		{"tls over tcp", func(c *SyslogConfig) { c.TLS = tlsOn }, ""},
		{"missing endpoint", func(c *SyslogConfig) { c.Endpoint = "" }, "endpoint is required"},
		{"endpoint without port", func(c *SyslogConfig) { c.Endpoint = "siem.example" }, `endpoint "siem.example"`},
		{"endpoint bad port", func(c *SyslogConfig) { c.Endpoint = "siem.example:0" }, "port from 1 to 65535"},
		{"bad network", func(c *SyslogConfig) { c.Network = "sctp" }, `network "sctp"`},
		{"bad protocol", func(c *SyslogConfig) { c.Protocol = "rfc5425" }, `protocol "rfc5425"`},
		{"tls with udp", func(c *SyslogConfig) { c.Network, c.TLS = "udp", tlsOn }, "tls needs network tcp"},
		{"tls insecure", func(c *SyslogConfig) { c.TLS = insecure }, "remove the tls section"},
		{"facility negative", func(c *SyslogConfig) { c.Facility = -1 }, "facility -1"},
		{"facility 24", func(c *SyslogConfig) { c.Facility = 24 }, "facility 24"},
		{"app_name space", func(c *SyslogConfig) { c.AppName = "agent audit" }, "app_name"},
		{"app_name too long", func(c *SyslogConfig) { c.AppName = strings.Repeat("a", 49) }, "app_name"},
		{"app_name rfc3164 colon", func(c *SyslogConfig) { c.Protocol, c.AppName = "rfc3164", "a:b" }, "rfc3164 wants"},
		{"max_message_size small", func(c *SyslogConfig) { c.MaxMessageSize = 100 }, "at least 480"},
		{"max_message_size udp big", func(c *SyslogConfig) { c.Network, c.MaxMessageSize = "udp", 70000 }, "at most 65507"},
		{"max_message_size tcp big", func(c *SyslogConfig) { c.MaxMessageSize = 1 << 20 }, ""},
		{"negative timeouts", func(c *SyslogConfig) { c.DialTimeout, c.WriteTimeout = -1, -1 }, "dial_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := syslogCfg("siem.example:6514", "tcp", "rfc5424")
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = newSyslogTransport(&c, transportSettings{logger: zaptest.NewLogger(t)})
			assert.Error(t, err, "newSyslogTransport must refuse an invalid config")
		})
	}
}

// syslogCheckArrived checks that syslog-ng got exactly the events, in order,
// with every field right.
func syslogCheckArrived(t *testing.T, got []testsyslog.Message, evs []event, rfc3164 bool) {
	t.Helper()
	require.Len(t, got, len(evs))
	pid := strconv.Itoa(os.Getpid())
	for i, m := range got {
		ev := evs[i]
		if !bytes.Equal(m.MSG, ev.payload) {
			t.Fatalf("event %d: MSG differs: got %d bytes %.120q, want %d bytes %.120q", i, len(m.MSG), m.MSG, len(ev.payload), ev.payload)
		}
		assert.Equal(t, defaultSyslogFacility, m.Facility, "event %d", i)
		assert.Equal(t, syslogSeverity(ev.severity), m.Severity, "event %d", i)
		assert.Equal(t, ev.host, m.Host, "event %d", i)
		assert.Equal(t, defaultSyslogAppName, m.Program, "event %d", i)
		assert.Equal(t, pid, m.PID, "event %d", i)
		if rfc3164 {
			assert.True(t, ev.time.Truncate(time.Second).Equal(m.Time), "event %d: time %s, want %s", i, m.Time, ev.time)
			continue
		}
		assert.Equal(t, ev.name, m.MsgID, "event %d", i)
		assert.True(t, ev.time.Truncate(time.Microsecond).Equal(m.Time), "event %d: time %s, want %s", i, m.Time, ev.time)
	}
}

// syslogBSDEvents are events whose time stamps syslog-ng can place: RFC 3164
// has no year, so syslog-ng assumes the current one.
func syslogBSDEvents(n int) []event {
	evs := syslogEvents(n, false, "host-b")
	now := time.Now().UTC()
	base := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for i := range evs {
		evs[i].time = base.Add(time.Duration(i) * time.Second)
	}
	return evs
}

// TestSyslogToSyslogNG sends events through each transport to a real
// syslog-ng and reads them back.
func TestSyslogToSyslogNG(t *testing.T) {
	s := testsyslog.Start(t)

	for _, tc := range []struct{ name, source string }{{"tcp", testsyslog.SourceTCP}, {"tls", testsyslog.SourceTLS}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := syslogCfg(s.Addr(tc.source), "tcp", "rfc5424")
			if tc.name == "tls" {
				cfg.TLS = configoptional.Some(configtls.ClientConfig{Config: configtls.Config{CAFile: s.CAFile()}})
			}
			tr, rej := newSyslogForTest(t, cfg)
			evs := syslogEvents(500, true, "host-a.example")
			for i := 0; i < len(evs); i += 50 {
				syslogSend(t, tr, evs[i:i+50])
			}
			syslogCheckArrived(t, s.Messages(t, tc.source, len(evs)), evs, false)
			assert.Zero(t, rej.count())
		})
	}

	t.Run("tls/untrusted", func(t *testing.T) {
		// Without ca_file the system roots do not know the test CA.
		cfg := syslogCfg(s.Addr(testsyslog.SourceTLS), "tcp", "rfc5424")
		cfg.TLS = configoptional.Some(configtls.NewDefaultClientConfig())
		tr, _ := newSyslogForTest(t, cfg)
		err := tr.send(context.Background(), syslogEvents(1, false, "host-a"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
	})

	t.Run("udp", func(t *testing.T) {
		tr, rej := newSyslogForTest(t, syslogCfg(s.Addr(testsyslog.SourceUDP), "udp", "rfc5424"))
		evs := syslogEvents(500, false, "host-a.example")
		// Two events over the 2048-byte default: reported, not sent.
		big := []event{evs[0], evs[1]}
		big[0].payload, big[1].payload = syslogPayload(0, true), syslogPayload(5, true)
		syslogSend(t, tr, big)
		assert.Equal(t, 2, rej.count())
		// Batches of 25, each awaited: UDP has no flow control, and a
		// burst larger than the socket buffer would be dropped by the
		// kernel, which is not what this test is about.
		for i := 0; i < len(evs); i += 25 {
			syslogSend(t, tr, evs[i:i+25])
			s.Messages(t, testsyslog.SourceUDP, i+25)
		}
		syslogCheckArrived(t, s.Messages(t, testsyslog.SourceUDP, len(evs)), evs, false)
	})

	for _, tc := range []struct{ network, source string }{{"tcp", testsyslog.SourceBSDTCP}, {"udp", testsyslog.SourceBSDUDP}} {
		t.Run("rfc3164/"+tc.network, func(t *testing.T) {
			tr, _ := newSyslogForTest(t, syslogCfg(s.Addr(tc.source), tc.network, "rfc3164"))
			evs := syslogBSDEvents(100)
			for i := 0; i < len(evs); i += 25 {
				syslogSend(t, tr, evs[i:i+25])
				s.Messages(t, tc.source, i+25)
			}
			syslogCheckArrived(t, s.Messages(t, tc.source, len(evs)), evs, true)
		})
	}
}

// TestSyslogNewlineFramingRefused: syslog-ng's octet-counting source
// refuses a newline-framed message, so the events that arrive in
// TestSyslogToSyslogNG prove the transport frames with octet counting.
func TestSyslogNewlineFramingRefused(t *testing.T) {
	s := testsyslog.Start(t)
	c, err := net.DialTimeout("tcp", s.Addr(testsyslog.SourceTCP), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Write([]byte("<14>1 2026-03-04T05:06:07Z host-a agentaudit - newline-framed - CEF:0|a|b|1|x|n|5|k=v\n"))
	require.NoError(t, err)
	line := s.WaitLog(t, "Invalid frame header; header=''")
	t.Logf("syslog-ng: %s", line)
	// syslog-ng closed the connection.
	_, err = bufio.NewReader(c).ReadByte()
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "syslog-ng kept the connection open: %v", err)

	tr, _ := newSyslogForTest(t, syslogCfg(s.Addr(testsyslog.SourceTCP), "tcp", "rfc5424"))
	evs := syslogEvents(1, false, "host-a")
	syslogSend(t, tr, evs)
	got := s.Messages(t, testsyslog.SourceTCP, 1)
	syslogCheckArrived(t, got, evs, false) // only the octet-counted event
}

// TestSyslogReconnect: when syslog-ng goes away, the transport notices the
// closed connection, send fails (exporterhelper retries), and once
// syslog-ng is back on the same port the next send reconnects.
func TestSyslogReconnect(t *testing.T) {
	s := testsyslog.Start(t)
	for _, tc := range []struct{ name, source string }{{"tcp", testsyslog.SourceTCP}, {"tls", testsyslog.SourceTLS}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := syslogCfg(s.Addr(tc.source), "tcp", "rfc5424")
			cfg.DialTimeout = 2 * time.Second
			if tc.name == "tls" {
				cfg.TLS = configoptional.Some(configtls.ClientConfig{Config: configtls.Config{CAFile: s.CAFile()}})
			}
			tr, _ := newSyslogForTest(t, cfg)
			before := len(s.Received(t, tc.source))
			evs := syslogEvents(30, true, "host-a")
			syslogSend(t, tr, evs[:10])
			s.Messages(t, tc.source, before+10)

			s.Stop()
			// syslog-ng closed the connection when it stopped; the
			// watcher sees the EOF. Bounded wait: it is asynchronous.
			deadline := time.Now().Add(10 * time.Second)
			for !tr.conn.dead() {
				require.True(t, time.Now().Before(deadline), "closed connection not noticed within 10s")
				time.Sleep(10 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := tr.send(ctx, evs[10:20])
			cancel()
			require.Error(t, err, "send with syslog-ng down")
			t.Logf("send while down: %v", err)
			assert.Contains(t, err.Error(), "connect")

			s.Restart()
			syslogSend(t, tr, evs[10:20]) // the retry exporterhelper would make
			syslogSend(t, tr, evs[20:])
			got := s.Messages(t, tc.source, before+30)
			syslogCheckArrived(t, got[before:], evs, false)
		})
	}
}

// TestSyslogWriteTimeout: a server that accepts but never reads makes the
// writes block once the socket buffers are full; the write deadline turns
// that into an error, and the next send dials a new connection.
func TestSyslogWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	cfg := syslogCfg(ln.Addr().String(), "tcp", "rfc5424")
	cfg.WriteTimeout = 200 * time.Millisecond
	tr, _ := newSyslogForTest(t, cfg)
	// 64 MB: more than loopback's socket buffers can take (tcp_wmem and
	// tcp_rmem top out at a few MB each).
	evs := make([]event, 1024)
	payload := bytes.Repeat([]byte("x"), 64<<10)
	for i := range evs {
		evs[i] = event{id: strconv.Itoa(i), name: "n", payload: payload}
	}
	err = tr.send(context.Background(), evs)
	require.Error(t, err)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a timeout, got %v", err)
	assert.Nil(t, tr.conn, "the timed-out connection must be dropped")

	// The next send connects again; one event fits in the new
	// connection's socket buffers, so it goes out.
	require.NoError(t, tr.send(context.Background(), evs[:1]))
	for i := range 2 {
		select {
		case c := <-accepted:
			defer c.Close()
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d of 2 not accepted", i+1)
		}
	}
}
