package testsyslog

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if err := c.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func octetCounted(msg string) []byte { return []byte(fmt.Sprintf("%d %s", len(msg), msg)) }

// A message syslog-ng must store unaltered: pipes, backslashes, '=',
// non-ASCII, a newline (legal inside an octet-counted frame) and 70 KB,
// more than syslog-ng's default log-msg-size.
var body = "CEF:0|a\\|b|p|1|x|n|5|k=v\\=w msg=é ü 日本\nsecond line " + strings.Repeat("x", 70_000)

func checkMessage(t *testing.T, got Message, pri int, host, prog, pid, msgid string, ts time.Time, msg string) {
	t.Helper()
	if got.PRI != pri || got.Facility != pri/8 || got.Severity != pri%8 {
		t.Errorf("PRI/facility/severity = %d/%d/%d, want %d/%d/%d", got.PRI, got.Facility, got.Severity, pri, pri/8, pri%8)
	}
	if got.Host != host || got.Program != prog || got.PID != pid || got.MsgID != msgid {
		t.Errorf("host/program/pid/msgid = %q/%q/%q/%q, want %q/%q/%q/%q", got.Host, got.Program, got.PID, got.MsgID, host, prog, pid, msgid)
	}
	if !got.Time.Equal(ts) {
		t.Errorf("time = %s, want %s", got.Time, ts)
	}
	if !bytes.Equal(got.MSG, []byte(msg)) {
		t.Errorf("MSG differs: got %d bytes %.80q, want %d bytes %.80q", len(got.MSG), got.MSG, len(msg), msg)
	}
}

// TestSyslogNGSources sends one hand-made message to each source and reads back
// every field exactly.
func TestSyslogNGSources(t *testing.T) {
	s := Start(t)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	rfc5424 := "<110>1 2026-01-02T03:04:05.123456Z host-a app 4242 agent_audit.tool.call - " + body

	write(t, dial(t, "tcp", s.Addr(SourceTCP)), octetCounted(rfc5424))
	checkMessage(t, s.Messages(t, SourceTCP, 1)[0], 110, "host-a", "app", "4242", "agent_audit.tool.call", ts, body)

	pool := x509.NewCertPool()
	pem, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr(SourceTLS), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	write(t, tc, octetCounted(rfc5424))
	checkMessage(t, s.Messages(t, SourceTLS, 1)[0], 110, "host-a", "app", "4242", "agent_audit.tool.call", ts, body)

	short := "CEF:0|a|b|1|x|n|5|k=v é"
	write(t, dial(t, "udp", s.Addr(SourceUDP)), []byte("<110>1 2026-01-02T03:04:05.123456Z host-a app 4242 id1 - "+short))
	checkMessage(t, s.Messages(t, SourceUDP, 1)[0], 110, "host-a", "app", "4242", "id1", ts, short)

	// RFC 3164 time stamps have no year: syslog-ng picks the current one
	// (or the previous, near new year), so the test uses today.
	now := time.Now().UTC()
	bsdTS := time.Date(now.Year(), now.Month(), now.Day(), 3, 4, 5, 0, time.UTC)
	bsd := fmt.Sprintf("<110>%s host-a app[4242]: %s", bsdTS.Format(time.Stamp), short)
	write(t, dial(t, "tcp", s.Addr(SourceBSDTCP)), []byte(bsd+"\n"))
	checkMessage(t, s.Messages(t, SourceBSDTCP, 1)[0], 110, "host-a", "app", "4242", "", bsdTS, short)
	write(t, dial(t, "udp", s.Addr(SourceBSDUDP)), []byte(bsd))
	checkMessage(t, s.Messages(t, SourceBSDUDP, 1)[0], 110, "host-a", "app", "4242", "", bsdTS, short)
}

// TestSyslogNGOctetCountingEnforced: the tcp source refuses newline framing, so a
// test that gets its messages through there proves octet counting.
func TestSyslogNGOctetCountingEnforced(t *testing.T) {
	s := Start(t)
	c := dial(t, "tcp", s.Addr(SourceTCP))
	write(t, c, []byte("<14>1 2026-01-02T03:04:05Z host-a app - newline-framed - hello\n"))
	l := s.WaitLog(t, "Invalid frame header")
	t.Logf("syslog-ng: %s", l)
	// syslog-ng closes the connection: a read sees EOF (or a reset).
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from syslog-ng, want the connection closed", n)
	}
	// A correct frame after it, on a new connection, arrives; the
	// newline-framed one before it did not.
	write(t, dial(t, "tcp", s.Addr(SourceTCP)), octetCounted("<14>1 - host-a app - counted - ok"))
	msgs := s.Messages(t, SourceTCP, 1)
	if len(msgs) != 1 || msgs[0].MsgID != "counted" {
		t.Fatalf("messages = %+v, want only the octet-counted one", msgs)
	}
}

// TestSyslogNGRestart: after Restart the same ports serve again and earlier
// messages stay in the output.
func TestSyslogNGRestart(t *testing.T) {
	s := Start(t)
	addr := s.Addr(SourceTCP)
	write(t, dial(t, "tcp", addr), octetCounted("<14>1 - h app - one - 1"))
	s.Messages(t, SourceTCP, 1)
	s.Stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("syslog-ng still accepts connections after Stop")
	}
	s.Restart()
	write(t, dial(t, "tcp", addr), octetCounted("<14>1 - h app - two - 2"))
	if msgs := s.Messages(t, SourceTCP, 2); msgs[0].MsgID != "one" || msgs[1].MsgID != "two" {
		t.Fatalf("messages = %+v", msgs)
	}
}
