// Package testsyslog runs syslog-ng (Debian syslog-ng-core, 3.38) for tests:
// in the foreground, unprivileged-style (--no-caps, its persist file, pid
// file and control socket in test directories), listening on 127.0.0.1 only,
// stopped when the test ends.
//
// One syslog-ng serves five sources, each on its own port and written to its
// own file:
//
//	tcp      syslog(transport("tcp")): RFC 5424 with octet counting
//	         (RFC 6587 3.4.1). syslog-ng's syslog() driver reads TCP with
//	         its "framed" protocol, which requires a MSG-LEN header and
//	         refuses anything else: a newline-framed message on this port is
//	         not delivered, syslog-ng logs "Invalid frame header; header=''"
//	         and closes the connection (asserted by this package's tests).
//	         network(flags(syslog-protocol)) would parse RFC 5424 too, but
//	         with newline framing, so it could not tell the two apart.
//	tls      the same over TLS (RFC 5425), with a server certificate for IP
//	         127.0.0.1 from a test CA made here (CAFile); client
//	         certificates are not asked for.
//	udp      syslog(transport("udp")): RFC 5424, one message per datagram
//	         (RFC 5426).
//	bsd-tcp  network(transport("tcp")): RFC 3164 with newline framing
//	         (RFC 6587 3.4.2, non-transparent).
//	bsd-udp  network(transport("udp")): RFC 3164 over UDP.
//
// Every source writes one JSON object a line (format-json) with the parsed
// fields, and MSG twice: as syslog-ng holds it and base64-encoded, so a test
// compares the exact bytes. syslog-ng is told not to alter messages:
// keep-hostname(yes) (else HOST becomes the sender's address), no DNS, no
// UTF-8 validation or multi-line folding (neither is on by default), and
// log-msg-size of 1 MiB (the default 64 KiB would truncate long events).
// The RFC 3164 sources read their time stamps as UTC (time-zone), since RFC
// 3164 time stamps carry no zone.
package testsyslog

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcert"
	"github.com/agentaudit/otelcol-agentaudit/internal/testproc"
)

// The sources, for Addr and Messages.
const (
	SourceTCP    = "tcp"     // RFC 5424, octet counting over TCP
	SourceTLS    = "tls"     // RFC 5424, octet counting over TLS
	SourceUDP    = "udp"     // RFC 5424 over UDP
	SourceBSDTCP = "bsd-tcp" // RFC 3164, newline framing over TCP
	SourceBSDUDP = "bsd-udp" // RFC 3164 over UDP
)

// Sources lists every source.
var Sources = []string{SourceTCP, SourceTLS, SourceUDP, SourceBSDTCP, SourceBSDUDP}

// Binary is where Debian's syslog-ng-core installs syslog-ng.
const Binary = "/usr/sbin/syslog-ng"

// waitFor bounds every wait of this package: start-up, messages, log lines.
const waitFor = 30 * time.Second

// Message is one message as syslog-ng parsed and stored it.
type Message struct {
	PRI      int    // $PRI
	Facility int    // $FACILITY_NUM
	Severity int    // $LEVEL_NUM
	Host     string // $HOST (HOSTNAME of the message: keep-hostname)
	Program  string // $PROGRAM: APP-NAME (RFC 5424) or TAG (RFC 3164)
	PID      string // $PID: PROCID, or the [pid] after an RFC 3164 TAG
	MsgID    string // $MSGID (RFC 5424 only)
	// Time is the message's time stamp ($ISODATE, microseconds).
	Time time.Time
	// MSG is the message body, byte for byte as syslog-ng holds it.
	MSG []byte
}

type line struct {
	PRI   string `json:"pri"`
	Fac   string `json:"fac"`
	Sev   string `json:"sev"`
	Host  string `json:"host"`
	Prog  string `json:"prog"`
	PID   string `json:"pid"`
	MsgID string `json:"msgid"`
	Date  string `json:"date"`
	Msg   string `json:"msg"`
	B64   string `json:"b64"`
}

// Option changes how Start runs syslog-ng.
type Option func(*config)

type config struct {
	logMsgSize int
}

// WithLogMsgSize sets syslog-ng's log-msg-size (bytes; default 1 MiB): the
// longest message it accepts before truncating.
func WithLogMsgSize(n int) Option { return func(c *config) { c.logMsgSize = n } }

// Server is a running (or stopped) syslog-ng.
type Server struct {
	t     testing.TB
	cfg   config
	dir   string         // config, certificates, output files, log
	run   string         // short directory for the control socket (108-byte limit)
	ports map[string]int // source -> port
	ca    string

	mu   sync.Mutex
	proc *testproc.Process // nil when stopped
}

// Start starts syslog-ng with all sources on free loopback ports, waits
// until it accepts connections, and stops it when the test ends (printing
// its log if the test failed). A missing syslog-ng fails the test: `make
// deps` installs it.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("syslog-ng is not installed (%v): install Debian package syslog-ng-core (`make deps` does)", err)
	}
	s := &Server{t: t, cfg: config{logMsgSize: 1 << 20}, dir: t.TempDir(), ports: map[string]int{}}
	for _, o := range opts {
		o(&s.cfg)
	}
	run, err := os.MkdirTemp("", "sng")
	if err != nil {
		t.Fatal(err)
	}
	s.run = run
	for _, src := range Sources {
		s.ports[src] = testport.Free(t)
	}
	s.writeCerts()
	s.writeConfig()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("syslog-ng log (%s):\n%s", s.logPath(), s.Log())
		}
		os.RemoveAll(s.run)
	})
	s.start()
	return s
}

// Addr is the host:port of a source.
func (s *Server) Addr(source string) string {
	p, ok := s.ports[source]
	if !ok {
		s.t.Fatalf("testsyslog: unknown source %q (want one of %v)", source, Sources)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// CAFile is the PEM file of the CA behind the TLS source's certificate.
func (s *Server) CAFile() string { return s.ca }

// Log is syslog-ng's own output (stderr: its internal() messages), across
// restarts.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "syslog-ng.log") }

func (s *Server) outPath(source string) string { return filepath.Join(s.dir, "out-"+source+".jsonl") }

// Received is every message the source has written so far, without
// waiting: for checking that something did not arrive.
func (s *Server) Received(t testing.TB, source string) []Message {
	t.Helper()
	s.Addr(source) // fails on an unknown source
	msgs, err := s.read(source)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Messages waits until the source has written at least n messages and
// returns all of them, in arrival order. It fails the test after 30 s.
func (s *Server) Messages(t testing.TB, source string, n int) []Message {
	t.Helper()
	s.Addr(source)
	deadline := time.Now().Add(waitFor)
	for {
		msgs, err := s.read(source)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("testsyslog: %s has %d messages after %s, want %d", source, len(msgs), waitFor, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitLog waits until syslog-ng's log contains substr and returns the first
// line that does; it fails the test after 30 s.
func (s *Server) WaitLog(t testing.TB, substr string) string {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		for _, l := range strings.Split(s.Log(), "\n") {
			if strings.Contains(l, substr) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testsyslog: syslog-ng did not log %q within %s", substr, waitFor)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// read parses the source's output file. A last line without its newline
// is one syslog-ng is still writing: it is left for the next read.
func (s *Server) read(source string) ([]Message, error) {
	b, err := os.ReadFile(s.outPath(source))
	if os.IsNotExist(err) {
		return nil, nil // syslog-ng creates the file with the first message
	}
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var msgs []Message
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("testsyslog: %s: line %d: %v: %q", source, len(msgs)+1, err, sc.Text())
		}
		m, err := l.message()
		if err != nil {
			return nil, fmt.Errorf("testsyslog: %s: line %d: %v", source, len(msgs)+1, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, sc.Err()
}

func (l line) message() (Message, error) {
	m := Message{Host: l.Host, Program: l.Prog, PID: l.PID, MsgID: l.MsgID}
	var err error
	for _, f := range []struct {
		s string
		p *int
	}{{l.PRI, &m.PRI}, {l.Fac, &m.Facility}, {l.Sev, &m.Severity}} {
		if *f.p, err = strconv.Atoi(f.s); err != nil {
			return m, err
		}
	}
	if m.Time, err = time.Parse(time.RFC3339Nano, l.Date); err != nil {
		return m, err
	}
	if m.MSG, err = base64.StdEncoding.DecodeString(l.B64); err != nil {
		return m, err
	}
	// Both copies of MSG must agree: a mismatch would mean the template
	// (not the message) is at fault.
	if l.Msg != string(m.MSG) {
		return m, fmt.Errorf("msg and b64 differ: %q vs %q", l.Msg, m.MSG)
	}
	return m, nil
}

// template writes one JSON object a line. --scope none: only the listed
// fields. Values are strings (format-json has no numbers). It goes into a
// double-quoted syslog-ng string, where \n is the newline; it holds no
// double quote.
const template = `$(format-json --scope none pri=$PRI fac=$FACILITY_NUM sev=$LEVEL_NUM host=$HOST prog=$PROGRAM pid=$PID msgid=$MSGID date=$ISODATE msg=$MSG b64=$(base64-encode $MSG))\n`

func (s *Server) writeConfig() {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "@version: 3.38\n")
	// keep-hostname: HOST is the message's HOSTNAME, not the sender's
	// address. use-dns(no): no lookups of 127.0.0.1. frac-digits(6):
	// microseconds in ISODATE. stats-freq(0): no periodic statistics lines
	// in the log. log-msg-size: see WithLogMsgSize.
	fmt.Fprintf(&b, "options { keep-hostname(yes); chain-hostnames(no); use-dns(no); dns-cache(no); use-fqdn(no); "+
		"keep-timestamp(yes); frac-digits(6); ts-format(iso); stats-freq(0); log-msg-size(%d); };\n", s.cfg.logMsgSize)
	ip := `ip("127.0.0.1")`
	// max-connections(100) with log-iw-size(10000): each connection gets
	// a window of 100 messages (syslog-ng's minimum; it warns when the
	// division gives less).
	src := map[string]string{
		SourceTCP: fmt.Sprintf(`syslog(%s port(%d) transport("tcp") max-connections(100) log-iw-size(10000))`, ip, s.ports[SourceTCP]),
		// peer-verify(optional-untrusted): clients need no certificate.
		SourceTLS: fmt.Sprintf(`syslog(%s port(%d) transport("tls") max-connections(100) log-iw-size(10000) tls(key-file("%s") cert-file("%s") peer-verify(optional-untrusted)))`,
			ip, s.ports[SourceTLS], filepath.Join(s.dir, "server.key"), filepath.Join(s.dir, "server.pem")),
		// so-rcvbuf: room for bursts of datagrams before syslog-ng reads
		// them (the kernel caps it at net.core.rmem_max).
		SourceUDP:    fmt.Sprintf(`syslog(%s port(%d) transport("udp") so-rcvbuf(8388608))`, ip, s.ports[SourceUDP]),
		SourceBSDTCP: fmt.Sprintf(`network(%s port(%d) transport("tcp") max-connections(100) log-iw-size(10000) time-zone("UTC"))`, ip, s.ports[SourceBSDTCP]),
		SourceBSDUDP: fmt.Sprintf(`network(%s port(%d) transport("udp") so-rcvbuf(8388608) time-zone("UTC"))`, ip, s.ports[SourceBSDUDP]),
	}
	for i, name := range Sources {
		fmt.Fprintf(&b, "source s%d { %s; };\n", i, src[name])
		fmt.Fprintf(&b, "destination d%d { file(\"%s\" template(\"%s\")); };\n", i, s.outPath(name), template)
		// flow-control: when the file falls behind, syslog-ng stops
		// reading the TCP sources instead of dropping messages.
		fmt.Fprintf(&b, "log { source(s%d); destination(d%d); flags(flow-control); };\n", i, i)
	}
	if err := os.WriteFile(s.configPath(), []byte(b.String()), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) configPath() string { return filepath.Join(s.dir, "syslog-ng.conf") }

// start runs syslog-ng and waits until it has bound every source.
func (s *Server) start() {
	s.t.Helper()
	var startAt int64
	if fi, err := os.Stat(s.logPath()); err == nil {
		startAt = fi.Size()
	}
	cmd := exec.Command(Binary,
		"-F",        // foreground: the test owns the process
		"-e",        // internal messages to stderr, i.e. the log file
		"--no-caps", // no capability juggling (and no CAP_* needed)
		"-f", s.configPath(),
		"-R", filepath.Join(s.dir, "syslog-ng.persist"),
		"-p", filepath.Join(s.run, "pid"),
		"-c", filepath.Join(s.run, "ctl"),
	)
	proc, err := testproc.Start(cmd, s.logPath())
	if err != nil {
		s.t.Fatalf("testsyslog: starting %s: %v", Binary, err)
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	done := proc.Done()

	// syslog-ng logs "syslog-ng starting up" once every source listens.
	since := func() string {
		l := s.Log()
		if int(startAt) > len(l) {
			return l
		}
		return l[startAt:]
	}
	deadline := time.Now().Add(waitFor)
	for {
		if strings.Contains(since(), "syslog-ng starting up") {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("testsyslog: syslog-ng exited at start-up:\n%s", since())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testsyslog: syslog-ng did not start within %s:\n%s", waitFor, since())
		}
	}
}

// Stop stops syslog-ng (SIGTERM, then SIGKILL after 10 s); it flushes its
// files first. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGTERM, 10*time.Second)
	s.proc = nil
}

// Restart stops syslog-ng if it runs and starts it again on the same ports,
// appending to the same output files: for outage tests.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// writeCerts makes the TLS source's certificate (internal/testcert).
func (s *Server) writeCerts() {
	s.t.Helper()
	s.ca = filepath.Join(s.dir, "ca.pem")
	testcert.Write(s.t, "testsyslog test CA", testcert.Paths{
		CA: s.ca, Cert: filepath.Join(s.dir, "server.pem"), Key: filepath.Join(s.dir, "server.key"),
	})
}
