package auditrecord

import (
	"errors"
	"testing"
)

// FuzzDecode checks the decoder's contract on arbitrary bodies: it never
// panics, a refused request always says why, and an accepted one holds only
// schema-valid records. Seeds live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(toolCall), false)
	f.Add([]byte("["+toolCall+","+toolCall+"]"), false)
	f.Add([]byte(toolCall+"\n"+toolCall+"\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := FormatJSON
		if ndjson {
			format = FormatNDJSON
		}
		ld, err := Decode(body, format, Limits{MaxEvents: 50, MaxDepth: 8}, now)
		if err != nil {
			var inv *InvalidRequestError
			if !errors.As(err, &inv) || len(inv.Problems) == 0 {
				t.Fatalf("refusal without problems: %v", err)
			}
			for _, p := range inv.Problems {
				if p.Reason == "" {
					t.Fatalf("problem without reason: %+v", p)
				}
			}
			return
		}
		if ld.LogRecordCount() == 0 || ld.LogRecordCount() > 50 {
			t.Fatalf("accepted %d records", ld.LogRecordCount())
		}
		for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
			schema, ok := eventIndex[lr.EventName()]
			if !ok {
				t.Fatalf("accepted unknown event %q", lr.EventName())
			}
			for _, name := range schema.required {
				if _, ok := lr.Attributes().Get(name); !ok {
					t.Fatalf("accepted %s without %s", lr.EventName(), name)
				}
			}
		}
	})
}
