package integrity

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"go.opentelemetry.io/collector/pdata/plog"
)

// FuzzCanonical: whatever a record holds, its canonical form is valid JCS
// (an independent implementation leaves it unchanged), it decodes back to a
// record with the same canonical form, and its archive line parses back.
func FuzzCanonical(f *testing.F) {
	f.Add(`{"a":"b","n":1,"f":1.5,"t":true,"z":null,"l":[1,"x",{"k":"v"}]}`, "body \u00e9\n", "sess-1", "host/1")
	f.Add(`{"\ud83d\ude00":"x","\uff01":"y","a\u0000":"\u001f"}`, "", "", "o/0")
	f.Add(`[1e300, -0.0, 5e-324, 123456789012345678901234567890]`, "\xff\xfe", "\"quoted\"", "a b/1")
	f.Fuzz(func(t *testing.T, attrsJSON, body, stream, logID string) {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		sl := rl.ScopeLogs().AppendEmpty()
		lr := sl.LogRecords().AppendEmpty()
		var raw any
		if json.Unmarshal([]byte(attrsJSON), &raw) == nil {
			if m, ok := raw.(map[string]any); ok {
				_ = lr.Attributes().FromRaw(m)
			} else {
				_ = lr.Body().FromRaw(raw)
			}
		}
		if body != "" {
			lr.Attributes().PutStr("body", body)
			rl.Resource().Attributes().PutStr(body, stream)
		}
		c := AppendCanonical(nil, rl, sl, lr)
		again, err := jcs.Transform(c)
		if err != nil {
			t.Fatalf("canonical form is not JSON: %v\n%s", err, c)
		}
		if !bytes.Equal(again, c) {
			t.Fatalf("canonical form is not JCS:\n got  %s\n jcs  %s", c, again)
		}
		back, err := LogsFromCanonical(c, nil)
		if err != nil {
			t.Fatalf("canonical form does not decode: %v\n%s", err, c)
		}
		brl := back.ResourceLogs().At(0)
		bsl := brl.ScopeLogs().At(0)
		if c2 := AppendCanonical(nil, brl, bsl, bsl.LogRecords().At(0)); !bytes.Equal(c, c2) {
			t.Fatalf("round trip changed the canonical form:\n %s\n %s", c, c2)
		}
		h := &ChainHeader{Digest: RecordDigest(c), Index: 1, Log: logID, Seq: 2, Stream: stream}
		gh, rec, err := ParseLine(AppendLine(nil, h, c))
		if err != nil {
			t.Fatalf("line does not parse: %v", err)
		}
		if !bytes.Equal(rec, c) || gh.Digest != h.Digest {
			t.Fatalf("line round trip changed the record")
		}
		// Strings with invalid UTF-8 are written with U+FFFD, so compare
		// the header as written.
		if !bytes.Equal(AppendLine(nil, gh, rec), AppendLine(nil, h, c)) {
			t.Fatalf("line round trip changed the header")
		}
	})
}

// FuzzParseLine: arbitrary bytes never crash the parser, and whatever it
// accepts is exactly what AppendLine writes for the parsed parts.
func FuzzParseLine(f *testing.F) {
	c := []byte(`{"resource":{},"scope":{},"v":1}`)
	f.Add(AppendLine(nil, &ChainHeader{Index: 3, Log: "o/1", Seq: 1, Stream: "s"}, c))
	f.Add(AppendLine(nil, nil, c))
	f.Add([]byte(`{"chain":{"digest":"zz"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		h, rec, err := ParseLine(line)
		if err != nil {
			return
		}
		if got := AppendLine(nil, h, rec); !bytes.Equal(bytes.TrimSuffix(got, []byte{'\n'}), bytes.TrimSuffix(line, []byte{'\n'})) {
			t.Fatalf("accepted a line it would not write:\n in  %q\n out %q", line, got)
		}
	})
}
