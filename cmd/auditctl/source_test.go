package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The progress display, forced with --progress: it shows the object count
// and ends its line, so whatever is written next starts on a line of its
// own; without a terminal and not forced, there is none, and a nil
// progress does nothing.
func TestProgressDisplay(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	if p == nil {
		t.Fatal("forced progress is nil")
	}
	p.add(1000)
	p.add(2000)
	p.done()
	out := buf.String()
	if !strings.Contains(out, "reading: 2 objects") {
		t.Errorf("no object count in %q", out)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("progress does not end its line: %q", out)
	}

	if p := newProgress(&buf, false); p != nil {
		t.Error("progress to a buffer without --progress")
	}
	var nilp *progress
	nilp.add(1)
	nilp.done()
}

// verify and prove end the progress line before anything else goes to
// stderr, whether reading worked or not.
func TestProgressLineEndsBeforeMessages(t *testing.T) {
	dir, trust := buildArchive(t, 300, 2)
	// A segment that cannot be read, last in key order: reading fails
	// after the progress line is shown.
	broken := t.TempDir()
	if err := os.CopyFS(broken, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(broken, "gone"), filepath.Join(broken, "zzz.ndjson")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "--progress", "--trust", trust, dir},
		{"prove", "--progress", "--log", "not-there/1", "--index", "0", "--trust", trust, dir},
		{"verify", "--progress", broken},
	} {
		var stdout, stderr bytes.Buffer
		run(args, &stdout, &stderr)
		out := stderr.String()
		// The progress line, then a new line before any message.
		if !regexp.MustCompile(`reading: \d+ objects, [\d.]+ MB, [\d.]+ MB/s, \w+\n`).MatchString(out) {
			t.Errorf("%s: the progress line is not ended: %q", args[0], out)
		}
		if !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: stderr does not end with a newline: %q", args[0], out)
		}
	}
}

// An s3:// prefix is taken as written: archive keys hold %XX escapes
// (EscapeName), which must not be decoded into other keys.
func TestOpenArchivePrefixIsLiteral(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := &sourceFlags{endpoint: "http://127.0.0.1:1", pathStyle: true}
	for target, want := range map[string]string{
		"s3://audit":                           "s3://audit/",
		"s3://audit/":                          "s3://audit/",
		"s3://audit/gw/host%2Eexample/":        "s3://audit/gw/host%2Eexample/",
		"s3://audit/gw/a%2Fb":                  "s3://audit/gw/a%2Fb/",
		"s3://audit/gw/odd%zz/x?y#z":           "s3://audit/gw/odd%zz/x?y#z/",
		"s3://audit//gw//":                     "s3://audit/gw/",
		"s3://audit/o/1/streams/s%2E1%3Ax/a b": "s3://audit/o/1/streams/s%2E1%3Ax/a b/",
	} {
		r, err := openArchive(context.Background(), target, f)
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if got := r.String(); got != want {
			t.Errorf("%s: opened %s, want %s", target, got, want)
		}
	}
	for _, bad := range []string{"s3://", "s3:///prefix"} {
		if _, err := openArchive(context.Background(), bad, f); err == nil || !strings.Contains(err.Error(), "want s3://BUCKET[/PREFIX]") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
