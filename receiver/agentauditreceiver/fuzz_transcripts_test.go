package agentauditreceiver

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// fuzzMaxLine is the max_line_size of the fuzzed tailer: small, so that the
// fuzzer reaches the line_too_long path with inputs of a few KiB.
const fuzzMaxLine = 8 << 10

// fuzzTranscriptPath names the session (a UUID stem) until a line does.
const fuzzTranscriptPath = "/home/alice/.claude/projects/p/0c7a9f3e-5b21-4d8e-9a64-2f1e8b3c7d90.jsonl"

// FuzzTranscriptLine feeds any bytes through the tailer's own line reader
// (readLines) and mapper (mapLine), as drain does for a file: it never
// panics; each line that is not blank yields at least one record; every
// record names its session and transcript (path and offset of its line),
// is of a schema event type and valid against the schema, holds valid
// UTF-8 only, and its size is bounded by its line's (a line that is not
// JSON keeps at most maxUnmappedBody bytes). format picks the mapping
// (anything but "codex" maps as Claude Code). Seeds: both fixture files
// whole and line by line, plus the malformed ones in
// testdata/fuzz/FuzzTranscriptLine.
func FuzzTranscriptLine(f *testing.F) {
	for name, format := range map[string]string{
		"claude-code.jsonl": TranscriptFormatClaudeCode,
		"codex.jsonl":       TranscriptFormatCodex,
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", "transcripts", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(format, raw)
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(format, bytes.Clone(sc.Bytes()))
		}
	}
	f.Add(TranscriptFormatClaudeCode, []byte("not json\xff\n\n  \r\n[1,2]\nnull\n"))
	f.Add(TranscriptFormatClaudeCode, []byte(`{"type":"assistant","message":{"content":[{"type":"tool_use"},1,{"type":"text","text":2}]}}`))
	f.Add(TranscriptFormatCodex, []byte(`{"type":"response_item","payload":{"type":"function_call_output","call_id":"c","output":"Exit code: 3"}}`))
	f.Add(TranscriptFormatCodex, []byte(`{"type":"session_meta","payload":{"id":"  "}}`))

	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		if format != TranscriptFormatCodex {
			format = TranscriptFormatClaudeCode
		}
		// drain only hands over complete lines; the final "\n" completes
		// the last one.
		src := append(bytes.Clone(data), '\n')
		lines, end := readLines(bytes.NewReader(src), 0, fuzzMaxLine, len(src)+1)
		if end != int64(len(src)) {
			t.Fatalf("read up to %d of %d bytes", end, len(src))
		}
		st := &fileState{Path: fuzzTranscriptPath, Format: format}
		m := newLineMapper(st, now)
		for _, l := range lines {
			first := m.records.Len()
			m.mapLine(l, fuzzMaxLine)
			recs := m.records.Len() - first
			blank := l.length == int64(len(l.data)) && len(bytes.TrimSpace(l.data)) == 0
			switch {
			case blank && recs > 0:
				t.Fatalf("blank line at %d gave %d records", l.offset, recs)
			case !blank && recs == 0:
				t.Fatalf("line at %d (%q) gave no record", l.offset, l.data)
			}
			for i := first; i < m.records.Len(); i++ {
				checkTranscriptRecord(t, m.records.At(i), l)
			}
		}
	})
}

func checkTranscriptRecord(t *testing.T, lr plog.LogRecord, l rawLine) {
	t.Helper()
	checkSchemaRecord(t, lr, func(name string) bool { return name == attrTranscriptOffset })
	checkUTF8Record(t, lr)
	if attrStr(lr, "session.id") == "" {
		t.Fatalf("%s without session.id", lr.EventName())
	}
	if got := attrStr(lr, attrTranscriptPath); got != fuzzTranscriptPath {
		t.Fatalf("%s: transcript path %q, want %q", lr.EventName(), got, fuzzTranscriptPath)
	}
	if v, ok := lr.Attributes().Get(attrTranscriptOffset); !ok || v.Type() != pcommon.ValueTypeInt || v.Int() != l.offset {
		t.Fatalf("%s: transcript offset %v, want %d", lr.EventName(), v.AsRaw(), l.offset)
	}
	if lr.EventName() == unmappedEventType && attrStr(lr, attrUnmapped) == "" {
		t.Fatalf("unmapped record without %s", attrUnmapped)
	}
	// A record holds its line at most once in the body and once in the
	// attributes (a block both kept and copied from the line's fields,
	// codex.* names one prefix longer than their keys), plus what the
	// mapper writes itself. JSON escapes decode shorter, never longer.
	limit := 3*len(l.data) + 2048
	switch attrStr(lr, attrUnmapped) {
	case reasonInvalidUTF8, reasonInvalidJSON, reasonLineTooLong:
		// Kept as text: at most maxUnmappedBody bytes of the line, each
		// becoming at most one U+FFFD (3 bytes).
		if n, max := len(lr.Body().Str()), 3*min(len(l.data), maxUnmappedBody); n > max {
			t.Fatalf("body of %d bytes for a line of %d bytes that is not JSON, want at most %d", n, len(l.data), max)
		}
		limit = 3*maxUnmappedBody + 2048
	}
	if n := recordSize(lr); n > limit {
		t.Fatalf("%s of %d bytes from a line of %d bytes (limit %d)", lr.EventName(), n, len(l.data), limit)
	}
}

// recordSize is the bytes of text a record holds: names and string values.
func recordSize(lr plog.LogRecord) int {
	n := len(lr.EventName()) + valueSize(lr.Body())
	for k, v := range lr.Attributes().All() {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return len(v.Str())
	case pcommon.ValueTypeBytes:
		return v.Bytes().Len()
	case pcommon.ValueTypeMap:
		n := 0
		for k, e := range v.Map().All() {
			n += len(k) + valueSize(e)
		}
		return n
	case pcommon.ValueTypeSlice:
		n := 0
		for _, e := range v.Slice().All() {
			n += valueSize(e)
		}
		return n
	}
	return 1 // a number, boolean or empty value: a few bytes of the line
}
