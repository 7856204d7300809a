// Package testport hands out loopback ports for the servers tests start.
//
// The kernel gives a just-closed ephemeral port out again soon, so two
// "listen on :0, close, return the port" calls in a row can return the same
// port (seen in CI: a collector's receiver and health check both on one
// port). Every port handed out here is remembered for the life of the test
// process and never handed out twice.
package testport

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

var given sync.Map

func take(port int) bool {
	_, taken := given.LoadOrStore(port, true)
	return !taken
}

// Free returns a loopback port that is free now and that no earlier call in
// this process returned.
func Free(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if take(port) {
			return port
		}
	}
	t.Fatal("testport: no unused loopback port after 100 tries")
	return 0
}

// FreePair returns a port P with P and P+1 both free on 127.0.0.1 and
// neither handed out before (swtpm listens on a data and a control port).
func FreePair(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l.Close()
		if err != nil {
			continue
		}
		l2.Close()
		if _, seen := given.Load(p + 1); seen {
			continue
		}
		if take(p) && take(p+1) {
			return p
		}
	}
	t.Fatal("testport: no free pair of loopback ports after 100 tries")
	return 0
}
