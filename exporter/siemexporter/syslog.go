package siemexporter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap"
)

// The syslog transport: each event is one syslog message whose MSG is the
// formatted event (CEF, LEEF or ECS JSON).
//
// Wire formats:
//
//	rfc5424  <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
//	         over TCP and TLS with octet counting, "MSG-LEN SP message"
//	         (RFC 6587 3.4.1, RFC 5425 4.3); over UDP one message a
//	         datagram with no framing (RFC 5426).
//	rfc3164  <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG
//	         over TCP ended by LF (RFC 6587 3.4.2, non-transparent
//	         framing); over UDP one message a datagram.
//
// Delivery: TCP has no application-level acknowledgement. send returns nil
// once the kernel has taken the bytes; if the server dies right after,
// what sits in the socket buffers is lost without an error. RELP, the
// usual answer (application-level acks over TCP), is outside this transport;
// Elasticsearch and Splunk HEC with acks are the transports that confirm
// delivery. What is done about it:
// a closed connection is noticed before the next batch (a goroutine reads
// the connection, which a syslog server never writes to, so EOF or a reset
// shows up at once), and a failed write returns an error, so exporterhelper
// retries the whole batch on a new connection. A retry resends the events
// of the batch that went out before the failure: the SIEM receives those
// twice (the payload carries the record's id for deduplication).
// UDP has no delivery feedback at all beyond ICMP port-unreachable, which
// the kernel reports on a later write as "connection refused".

const (
	syslogNetworkTCP = "tcp"
	syslogNetworkUDP = "udp"
	syslogRFC5424    = "rfc5424"
	syslogRFC3164    = "rfc3164"

	// defaultSyslogFacility is 13, "log audit" in RFC 5424's table: what
	// these records are. It keeps them apart from the host's own
	// authentication logs (4 auth, 10 authpriv), which syslog daemons
	// commonly route to files like /var/log/auth.log, and from user-level
	// application noise (1 user).
	defaultSyslogFacility = 13
	defaultSyslogAppName  = "agentaudit"

	// defaultUDPMaxMessageSize is RFC 5426 3.2's size every receiver
	// SHOULD accept (it MUST accept 480 on IPv4): larger datagrams may be
	// fragmented or cut by receivers configured for less.
	defaultUDPMaxMessageSize = 2048
	// minMaxMessageSize is the size every IPv4 receiver MUST accept (RFC
	// 5426 3.2); a smaller limit would reject nearly every event.
	minMaxMessageSize = 480
	// maxUDPMessageSize is the largest UDP payload over IPv4 (65535 minus
	// the 8-byte UDP and 20-byte IP headers).
	maxUDPMessageSize = 65507

	defaultSyslogDialTimeout  = 10 * time.Second
	defaultSyslogWriteTimeout = 10 * time.Second

	// rejectMessageTooLarge is the reason reported for events over
	// max_message_size.
	rejectMessageTooLarge = "message_too_large"
)

// SyslogConfig configures the syslog transport.
type SyslogConfig struct {
	// Endpoint is the server, host:port.
	Endpoint string `mapstructure:"endpoint"`
	// Network is "tcp" (default) or "udp".
	Network string `mapstructure:"network"`
	// Protocol is "rfc5424" (default) or "rfc3164" (the BSD format, for
	// receivers that know nothing newer).
	Protocol string `mapstructure:"protocol"`
	// TLS turns TLS on over tcp (RFC 5425) when the section is present,
	// e.g. `tls: {ca_file: ca.pem}`; without it, plain TCP. An optional
	// section rather than contrib syslogexporter's always-present one with
	// `insecure`, so that "is this encrypted?" is answered by whether the
	// section is there.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`
	// Facility is the syslog facility number, 0-23 (default 13, log
	// audit). A number rather than a name: RFC 5424 gives 12-15 only
	// descriptions ("log audit", "log alert"...), and implementations
	// name them differently or not at all.
	Facility int `mapstructure:"facility"`
	// AppName is APP-NAME (RFC 5424) or TAG (RFC 3164): default
	// "agentaudit".
	AppName string `mapstructure:"app_name"`
	// MaxMessageSize is the largest syslog message sent, in bytes, header
	// included, framing not. 0 means 2048 on udp (RFC 5426) and no limit
	// on tcp; set it on tcp to the receiver's limit (rsyslog's default
	// maxMessageSize is 8 KiB, syslog-ng's log-msg-size 64 KiB), since
	// receivers silently truncate longer messages. An event over the limit
	// is not sent and not truncated (a cut CEF line or JSON document is
	// unusable and would pass for a whole one): it is reported through the
	// rejected counter with reason message_too_large and a warning.
	MaxMessageSize int `mapstructure:"max_message_size"`
	// DialTimeout bounds connecting (and the TLS handshake): default 10s.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// WriteTimeout bounds each write to the connection: default 10s.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
}

// newDefaultSyslogConfig is the syslog section's defaults, for the factory.
func newDefaultSyslogConfig() SyslogConfig {
	return SyslogConfig{
		Network:  syslogNetworkTCP,
		Protocol: syslogRFC5424,
		// Off until the config has a tls section; then TLS 1.2+ with
		// the system's roots unless ca_file says otherwise (`tls:` alone
		// is enough).
		TLS:          configoptional.Default(configtls.NewDefaultClientConfig()),
		Facility:     defaultSyslogFacility,
		AppName:      defaultSyslogAppName,
		DialTimeout:  defaultSyslogDialTimeout,
		WriteTimeout: defaultSyslogWriteTimeout,
	}
}

func (c *SyslogConfig) network() string {
	if c.Network == "" {
		return syslogNetworkTCP
	}
	return c.Network
}

func (c *SyslogConfig) protocol() string {
	if c.Protocol == "" {
		return syslogRFC5424
	}
	return c.Protocol
}

func (c *SyslogConfig) appName() string {
	if c.AppName == "" {
		return defaultSyslogAppName
	}
	return c.AppName
}

func (c *SyslogConfig) maxMessageSize() int {
	if c.MaxMessageSize == 0 && c.network() == syslogNetworkUDP {
		return defaultUDPMaxMessageSize
	}
	return c.MaxMessageSize
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Validate checks the syslog section. Empty network, protocol and app_name
// mean their defaults. The tls section's own fields are checked by the
// collector's config validation, which visits nested sections.
func (c *SyslogConfig) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("syslog: endpoint is required (host:port)"))
	} else if host, port, err := net.SplitHostPort(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("syslog: endpoint %q: %w", c.Endpoint, err))
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
		errs = append(errs, fmt.Errorf("syslog: endpoint %q: want host:port with a port from 1 to 65535", c.Endpoint))
	}
	switch c.network() {
	case syslogNetworkTCP, syslogNetworkUDP:
	default:
		errs = append(errs, fmt.Errorf("syslog: network %q: want %q or %q", c.Network, syslogNetworkTCP, syslogNetworkUDP))
	}
	switch c.protocol() {
	case syslogRFC5424, syslogRFC3164:
	default:
		errs = append(errs, fmt.Errorf("syslog: protocol %q: want %q or %q", c.Protocol, syslogRFC5424, syslogRFC3164))
	}
	if c.TLS.HasValue() {
		if c.network() == syslogNetworkUDP {
			// No DTLS (RFC 6012): TLS only over TCP.
			errs = append(errs, errors.New("syslog: tls needs network tcp (syslog over DTLS is not supported)"))
		}
		if c.TLS.Get().Insecure {
			errs = append(errs, errors.New("syslog: tls.insecure is set: for plain TCP remove the tls section"))
		}
	}
	if c.Facility < 0 || c.Facility > 23 {
		errs = append(errs, fmt.Errorf("syslog: facility %d: want 0 to 23", c.Facility))
	}
	app := c.appName()
	if !printUSASCII(app) || len(app) > 48 {
		errs = append(errs, fmt.Errorf("syslog: app_name %q: want 1 to 48 printable ASCII characters, no spaces", app))
	} else if c.protocol() == syslogRFC3164 && (len(app) > 32 || bytes.ContainsAny([]byte(app), "[]:")) {
		// RFC 3164 4.1.3: the TAG is at most 32 characters and ends at
		// the first non-alphanumeric one; '[' and ':' would end it early.
		errs = append(errs, fmt.Errorf("syslog: app_name %q: rfc3164 wants at most 32 characters without '[', ']' or ':'", app))
	}
	switch m := c.MaxMessageSize; {
	case m < 0 || (m > 0 && m < minMaxMessageSize):
		errs = append(errs, fmt.Errorf("syslog: max_message_size %d: want 0 (the default) or at least %d (RFC 5426)", m, minMaxMessageSize))
	case m > maxUDPMessageSize && c.network() == syslogNetworkUDP:
		errs = append(errs, fmt.Errorf("syslog: max_message_size %d: a UDP datagram holds at most %d bytes", m, maxUDPMessageSize))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("syslog: dial_timeout %s is negative", c.DialTimeout))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("syslog: write_timeout %s is negative", c.WriteTimeout))
	}
	return errors.Join(errs...)
}

// printUSASCII reports whether s is non-empty and all PRINTUSASCII (RFC
// 5424: %d33-126), the alphabet of every RFC 5424 header field.
func printUSASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// syslogSeverity maps the CEF severity (0-10) to a syslog severity:
//
//	CEF  0-3 (Low)        6 Informational
//	CEF  4-5 (Medium)     5 Notice
//	CEF  6-7 (Medium/High) 4 Warning
//	CEF  8   (High)       3 Error
//	CEF  9   (Very-High)  2 Critical
//	CEF 10   (Very-High)  1 Alert
//
// Never 7 Debug (receivers commonly drop it, and an audit record is never
// debugging output) and never 0 Emergency ("system is unusable": daemons
// broadcast it to every terminal). Values outside 0-10 are clamped.
func syslogSeverity(cef int) int {
	switch {
	case cef <= 3:
		return 6
	case cef <= 5:
		return 5
	case cef <= 7:
		return 4
	case cef == 8:
		return 3
	case cef == 9:
		return 2
	default:
		return 1
	}
}

type syslogTransport struct {
	cfg      SyslogConfig
	set      transportSettings
	network  string
	protocol string
	appName  string
	maxSize  int // 0: no limit
	dialTO   time.Duration
	writeTO  time.Duration
	hostname string // this collector's host, for events without a usable one
	procID   string
	tlsCfg   *tls.Config // nil: plain TCP or UDP

	mu   sync.Mutex // one batch at a time on the one connection, in order
	conn *syslogConn
	buf  []byte // the message being built, reused

	// active is the connection a send is using, and closing is set by
	// shutdown: shutdown closes active without waiting for mu, so that a
	// send blocked on a server that does not read ends at once.
	active  atomic.Pointer[syslogConn]
	closing atomic.Bool
}

func newSyslogTransport(cfg *SyslogConfig, set transportSettings) (transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &syslogTransport{
		cfg:      *cfg,
		set:      set,
		network:  cfg.network(),
		protocol: cfg.protocol(),
		appName:  cfg.appName(),
		maxSize:  cfg.maxMessageSize(),
		dialTO:   orDefault(cfg.DialTimeout, defaultSyslogDialTimeout),
		writeTO:  orDefault(cfg.WriteTimeout, defaultSyslogWriteTimeout),
		hostname: "-",
		procID:   strconv.Itoa(os.Getpid()),
	}
	if h, err := os.Hostname(); err == nil && printUSASCII(h) && len(h) <= 255 {
		t.hostname = h
	}
	return t, nil
}

// start loads the TLS settings (a bad CA file fails the start). It does not
// connect: a syslog server that is down at start-up is an outage like any
// other, handled by the first send's error and exporterhelper's retries.
func (t *syslogTransport) start(ctx context.Context, _ component.Host) error {
	if !t.cfg.TLS.HasValue() {
		return nil
	}
	c, err := t.cfg.TLS.Get().LoadTLSConfig(ctx)
	if err != nil {
		return fmt.Errorf("syslog: tls: %w", err)
	}
	t.tlsCfg = c
	return nil
}

func (t *syslogTransport) shutdown(context.Context) error {
	t.closing.Store(true)
	var err error
	if c := t.active.Load(); c != nil {
		// A send in progress fails its write and returns.
		err = c.Close()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil && t.conn != t.active.Load() {
		err = t.conn.Close()
	}
	t.conn = nil
	t.active.Store(nil)
	if errors.Is(err, net.ErrClosed) {
		// A failing send closed it first.
		err = nil
	}
	return err
}

// send writes the events in order on the one connection, dialling it when
// there is none or the server has closed it. Events over max_message_size
// are skipped and reported as rejected once the batch is written.
func (t *syslogTransport) send(ctx context.Context, events []event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil && t.conn.dead() {
		t.set.logger.Info("syslog: server closed the connection; reconnecting",
			zap.String("endpoint", t.cfg.Endpoint), zap.Error(t.conn.readErr))
		t.closeConn()
	}
	if t.conn == nil {
		c, err := t.dial(ctx)
		if err != nil {
			return err
		}
		t.conn = c
	}
	t.active.Store(t.conn)
	if t.closing.Load() {
		t.closeConn()
		return errors.New("syslog: shut down")
	}
	t.conn.ctx = ctx
	// A cancelled context (not only an expired deadline) ends a write
	// blocked on a server that does not read.
	conn := t.conn
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		_ = conn.SetWriteDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			// The deadline is set (or being set): wait, so that it
			// cannot land on the next send's writes.
			<-cancelled
		}
		if t.conn != nil {
			t.conn.ctx = nil
		}
	}()

	tooLarge, lfReplaced := 0, 0
	for i := range events {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, replaced := t.format(&events[i])
		lfReplaced += replaced
		if t.maxSize > 0 && len(msg) > t.maxSize {
			tooLarge++
			t.set.logger.Warn("syslog: event larger than max_message_size not sent",
				zap.String("id", events[i].id), zap.Int("size", len(msg)), zap.Int("max_message_size", t.maxSize))
			continue
		}
		if err := t.conn.writeMessage(msg, t.frameOctetCounted()); err != nil {
			t.closeConn()
			return fmt.Errorf("syslog: write to %s (event %d of %d; the ones before it may have been delivered and are sent again on retry): %w",
				t.cfg.Endpoint, i+1, len(events), err)
		}
	}
	if err := t.conn.flush(); err != nil {
		t.closeConn()
		return fmt.Errorf("syslog: write to %s: %w", t.cfg.Endpoint, err)
	}
	if lfReplaced > 0 {
		t.set.logger.Warn("syslog: line breaks in rfc3164 messages over tcp replaced by spaces (LF ends a message in that framing)",
			zap.Int("count", lfReplaced))
	}
	if tooLarge > 0 && t.set.rejected != nil {
		t.set.rejected(ctx, tooLarge, rejectMessageTooLarge)
	}
	return nil
}

func (t *syslogTransport) closeConn() {
	if t.conn != nil {
		_ = t.conn.Close()
		t.active.CompareAndSwap(t.conn, nil)
		t.conn = nil
	}
}

// frameOctetCounted: RFC 5424 over a stream gets octet counting; RFC 3164
// over TCP gets a trailing LF (writeMessage); UDP gets no framing.
func (t *syslogTransport) frameOctetCounted() bool {
	return t.network == syslogNetworkTCP && t.protocol == syslogRFC5424
}

func (t *syslogTransport) dial(ctx context.Context) (*syslogConn, error) {
	d := &net.Dialer{Timeout: t.dialTO}
	var (
		c   net.Conn
		err error
	)
	switch {
	case t.network == syslogNetworkUDP:
		c, err = d.DialContext(ctx, "udp", t.cfg.Endpoint)
	case t.cfg.TLS.HasValue():
		if t.tlsCfg == nil {
			return nil, errors.New("syslog: send before start (TLS settings not loaded)")
		}
		// tls.Dialer verifies the certificate against the endpoint's
		// host unless tls.server_name_override says otherwise, and
		// bounds the handshake by the dial timeout.
		c, err = (&tls.Dialer{NetDialer: d, Config: t.tlsCfg}).DialContext(ctx, "tcp", t.cfg.Endpoint)
	default:
		c, err = d.DialContext(ctx, "tcp", t.cfg.Endpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("syslog: connect to %s: %w", t.cfg.Endpoint, err)
	}
	sc := &syslogConn{Conn: c, writeTO: t.writeTO, deadC: make(chan struct{})}
	if t.network == syslogNetworkTCP {
		// Batches go out in 64 KiB writes rather than one syscall an
		// event; flush at the end of every send.
		sc.w = bufio.NewWriterSize(deadlineWriter{sc}, 64<<10)
		go sc.watch()
	}
	t.set.logger.Debug("syslog: connected", zap.String("endpoint", t.cfg.Endpoint), zap.String("network", t.network),
		zap.Bool("tls", t.tlsCfg != nil))
	return sc, nil
}

// syslogConn is the connection with its write buffer (TCP) and the
// goroutine that notices when the server closes it.
type syslogConn struct {
	net.Conn
	w       *bufio.Writer // nil on UDP: one Write, one datagram
	writeTO time.Duration
	ctx     context.Context // the running send's, for write deadlines
	deadC   chan struct{}   // closed when the server closed or reset the connection
	readErr error           // why; written before deadC is closed
}

// watch reads the connection until it fails. A syslog server sends nothing
// on a syslog connection (RFC 6587, RFC 5425; TLS may carry session
// tickets, which crypto/tls handles inside Read), so reading is only a way
// to learn of EOF or a reset as soon as it happens. It returns when the
// connection is closed on either side.
func (c *syslogConn) watch() {
	buf := make([]byte, 512)
	for {
		if _, err := c.Conn.Read(buf); err != nil {
			c.readErr = err
			close(c.deadC)
			return
		}
	}
}

func (c *syslogConn) dead() bool {
	if c.w == nil {
		return false
	}
	select {
	case <-c.deadC:
		return true
	default:
		return false
	}
}

// writeMessage writes one message with its framing.
func (c *syslogConn) writeMessage(msg []byte, octetCounted bool) error {
	if c.w == nil {
		_, err := deadlineWriter{c}.Write(msg)
		return err
	}
	if octetCounted {
		var n [20]byte
		c.w.Write(strconv.AppendInt(n[:0], int64(len(msg)), 10))
		c.w.WriteByte(' ')
		_, err := c.w.Write(msg)
		return err
	}
	c.w.Write(msg)
	return c.w.WriteByte('\n')
}

func (c *syslogConn) flush() error {
	if c.w == nil {
		return nil
	}
	return c.w.Flush()
}

// deadlineWriter sets the write deadline before every write to the
// connection: now plus write_timeout, or the send's context deadline if
// sooner.
type deadlineWriter struct{ c *syslogConn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	d := time.Now().Add(w.c.writeTO)
	if w.c.ctx != nil {
		if cd, ok := w.c.ctx.Deadline(); ok && cd.Before(d) {
			d = cd
		}
	}
	if err := w.c.SetWriteDeadline(d); err != nil {
		return 0, err
	}
	// Checked after the deadline is set: a cancellation from now on sets
	// it in the past (send's AfterFunc), one before is seen here.
	if w.c.ctx != nil {
		if err := w.c.ctx.Err(); err != nil {
			return 0, err
		}
	}
	return w.c.Conn.Write(p)
}

// format builds the syslog message of one event (without framing) in
// t.buf, which the next call overwrites. replaced counts line breaks
// replaced by spaces (RFC 3164 over TCP only).
func (t *syslogTransport) format(ev *event) (msg []byte, replaced int) {
	b := t.buf[:0]
	pri := t.cfg.Facility*8 + syslogSeverity(ev.severity)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, '>')
	host := t.hostname
	if printUSASCII(ev.host) && len(ev.host) <= 255 {
		host = ev.host
	}
	if t.protocol == syslogRFC3164 {
		b = t.appendRFC3164Header(b, ev, host)
		start := len(b)
		b = append(b, ev.payload...)
		if t.network == syslogNetworkTCP {
			// LF ends a message in non-transparent framing, and
			// receivers strip a CR before it: either inside the payload
			// would split the event, and the second half would be read
			// as a message of its own (log injection). The formatters
			// never write one; this is the guard.
			for i := start; i < len(b); i++ {
				if b[i] == '\n' || b[i] == '\r' {
					b[i] = ' '
					replaced++
				}
			}
		}
		t.buf = b
		return b, replaced
	}
	b = append(b, '1', ' ')
	b = appendRFC5424Time(b, ev.time)
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = append(b, t.appName...)
	b = append(b, ' ')
	b = append(b, t.procID...)
	b = append(b, ' ')
	b = appendMsgID(b, ev.name)
	// No structured data: everything is in the payload. No BOM before MSG
	// either: RFC 5424 allows MSG without one (MSG-ANY), and with one the
	// payload would no longer start with "CEF:"/"LEEF:"/"{" for the
	// receivers that pass MSG on as is (syslog-ng does), which breaks CEF
	// and LEEF parsers and JSON decoders (RFC 8259 8.1: no BOM).
	b = append(b, " - "...)
	b = append(b, ev.payload...)
	t.buf = b
	return b, 0
}

// appendRFC5424Time writes the time in UTC with microseconds (RFC 5424
// allows at most six fraction digits), or "-" when the event has none.
func appendRFC5424Time(b []byte, ts time.Time) []byte {
	if ts.IsZero() {
		return append(b, '-')
	}
	ts = ts.UTC()
	if ts.Year() < 0 || ts.Year() > 9999 {
		return append(b, '-') // FULL-DATE has four year digits
	}
	return ts.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
}

// appendMsgID writes the event name as MSGID: at most 32 PRINTUSASCII
// characters, so a longer name is cut to 32 (the whole name is in the
// payload), and a name with other characters, or none, becomes "-".
func appendMsgID(b []byte, name string) []byte {
	if !printUSASCII(name) {
		return append(b, '-')
	}
	if len(name) > 32 {
		name = name[:32]
	}
	return append(b, name...)
}

// appendRFC3164Header writes "Mmm dd hh:mm:ss HOSTNAME TAG[PID]: " after
// the PRI. RFC 3164 time stamps have no year, fraction or zone: the time is
// written in UTC, so receivers must read it as UTC (syslog-ng: the
// source's time-zone("UTC")); the exact time is in the payload.
func (t *syslogTransport) appendRFC3164Header(b []byte, ev *event, host string) []byte {
	ts := ev.time
	if ts.IsZero() {
		ts = time.Now()
	}
	b = ts.UTC().AppendFormat(b, time.Stamp) // "Jan _2 15:04:05"
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = append(b, t.appName...)
	b = append(b, '[')
	b = append(b, t.procID...)
	return append(b, "]: "...)
}
