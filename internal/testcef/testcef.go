// Package testcef parses CEF lines with liblognorm's strict CEF parser
// (lognormalizer, Debian liblognorm-utils), the independent reader the
// project's CEF output is checked against.
package testcef

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Event is one line as lognormalizer read it; CEF is nil when the line did
// not parse, and Unparsed then holds what it could not read.
type Event struct {
	CEF *struct {
		DeviceVendor, DeviceProduct, DeviceVersion, SignatureID, Name, Severity string
		Extensions                                                              map[string]string
	} `json:"cef"`
	Unparsed string `json:"unparsed-data"`
}

// Parse runs lognormalizer over the lines (without terminators) and returns
// one Event per line. A missing lognormalizer fails the test: make deps
// installs it.
func Parse(t testing.TB, lines []string) []Event {
	t.Helper()
	bin, err := exec.LookPath("lognormalizer")
	if err != nil {
		t.Fatalf("lognormalizer not found (%v): install the Debian package liblognorm-utils (make deps does)", err)
	}
	rb := filepath.Join(t.TempDir(), "cef.rb")
	if err := os.WriteFile(rb, []byte("rule=:%cef:cef%\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, l := range lines {
		if strings.ContainsAny(l, "\n") {
			t.Fatalf("a CEF line holds a newline: %q", l)
		}
		in.WriteString(l)
		in.WriteByte('\n')
	}
	cmd := exec.Command(bin, "-r", rb, "-e", "json")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lognormalizer: %v: %s", err, stderr.String())
	}
	var events []Event
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("lognormalizer output line %d: %v", len(events), err)
		}
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(events) != len(lines) {
		t.Fatalf("lognormalizer gave %d documents for %d lines", len(events), len(lines))
	}
	return events
}
