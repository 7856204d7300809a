// Package testproc runs the external servers tests start (MinIO,
// versitygw, syslog-ng, swtpm): output appended to a log file, the process
// tied to the test process's life, and a stop that signals, waits and
// kills after a grace period.
package testproc

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is one started server process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// Start starts cmd with its stdout and stderr appended to logPath. If the
// test process dies without its cleanups (a test timeout, a kill), the
// kernel kills the server too rather than leaving it holding its port.
// (Pdeathsig follows the starting OS thread; the Go runtime keeps threads
// unless a goroutine exits while locked to one, which tests here do not do.)
func Start(cmd *exec.Cmd, logPath string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), log: log}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig and waits for the process to exit; with grace > 0 it
// kills the process when it has not exited after grace. It closes the log.
func (p *Process) Signal(sig syscall.Signal, grace time.Duration) {
	_ = p.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
		}
	}
	<-p.done
	p.log.Close()
}
