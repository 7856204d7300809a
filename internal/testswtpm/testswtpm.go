// Package testswtpm runs swtpm, the software TPM 2.0, for tests: on
// 127.0.0.1, with its state in a test directory, stopped when the test ends.
package testswtpm

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/agentaudit/otelcol-agentaudit/internal/testport"
	"github.com/agentaudit/otelcol-agentaudit/internal/testproc"
)

// SWTPM is a running (or stopped) swtpm.
type SWTPM struct {
	t        testing.TB
	stateDir string
	port     int               // command port; the control port is port+1 (0: unix sockets)
	proc     *testproc.Process // nil when stopped
}

// Start starts swtpm with a fresh state directory. The binary comes from
// Debian's swtpm package, which the test command installs.
func Start(t testing.TB) *SWTPM {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatalf("swtpm is not installed (Debian packages swtpm, swtpm-tools; `make test` installs them): %v", err)
	}
	s := &SWTPM{t: t, stateDir: t.TempDir(), port: testport.FreePair(t)}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// StartUnix starts swtpm serving on unix sockets in its state directory
// (swtpm --server type=unixio): the signer's tpm.path is SocketPath.
func StartUnix(t testing.TB) *SWTPM {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatalf("swtpm is not installed (Debian packages swtpm, swtpm-tools; `make test` installs them): %v", err)
	}
	s := &SWTPM{t: t, stateDir: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// SocketPath is the command socket of a StartUnix swtpm.
func (s *SWTPM) SocketPath() string { return filepath.Join(s.stateDir, "tpm.sock") }

// Endpoint is host:port of the command port (the signer's tpm.endpoint).
func (s *SWTPM) Endpoint() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// TCTI is the tpm2-tools TCTI string for this TPM.
func (s *SWTPM) TCTI() string { return fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", s.port) }

// StateDir is where swtpm keeps the TPM's state.
func (s *SWTPM) StateDir() string { return s.stateDir }

// Restart stops swtpm if it runs and starts it again on the same ports and
// state: to the client, a TPM reset (transient objects gone, seeds kept).
func (s *SWTPM) Restart() {
	s.t.Helper()
	s.Stop()
	logPath := filepath.Join(s.stateDir, "swtpm.log")
	// not-need-init and startup-clear: the TPM is usable without a
	// platform power-on or TPM2_Startup from the client.
	server := fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", s.port)
	ctrl := fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", s.port+1)
	if s.port == 0 {
		server = "type=unixio,path=" + s.SocketPath()
		ctrl = "type=unixio,path=" + filepath.Join(s.stateDir, "ctrl.sock")
	}
	cmd := exec.Command("swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
		"--tpmstate", "dir="+s.stateDir,
		"--flags", "not-need-init,startup-clear")
	proc, err := testproc.Start(cmd, logPath)
	if err != nil {
		s.t.Fatalf("starting swtpm: %v", err)
	}
	s.proc = proc
	deadline := time.Now().Add(10 * time.Second)
	network, addr := "tcp", s.Endpoint()
	if s.port == 0 {
		network, addr = "unix", s.SocketPath()
	}
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			s.t.Fatalf("swtpm did not listen on %s: %v\n%s", addr, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops swtpm abruptly (SIGKILL), as a crash or power loss would.
func (s *SWTPM) Kill() {
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGKILL, 0)
	s.proc = nil
}

// Stop stops swtpm (SIGTERM).
func (s *SWTPM) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGTERM, 5*time.Second)
	s.proc = nil
}
