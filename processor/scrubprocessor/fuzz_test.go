package scrubprocessor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/secrets"
	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor/internal/metadata"
)

// corpusTexts returns the texts of the labelled corpus in pkg/secrets
// (secrets and benign near misses): the fuzz seeds.
func corpusTexts(tb testing.TB) []string {
	samples, benign := loadCorpus(tb)
	var texts []string
	for _, s := range samples {
		texts = append(texts, s.Text)
	}
	for _, b := range benign {
		texts = append(texts, b.Text)
	}
	return texts
}

// FuzzScrub checks the properties of scrubbing on any record: it never
// panics, valid UTF-8 stays valid, keys and value types are kept (except a
// key or number that is itself a secret), and scrubbing the output again
// changes nothing. Seeds: every text of the labelled corpus.
func FuzzScrub(f *testing.F) {
	texts := corpusTexts(f)
	for i, text := range texts {
		f.Add(text, "DB_PASSWORD", texts[(i+1)%len(texts)])
	}
	f.Add("", "", "")
	f.Add("password=", "password", "\xff\xfe")
	f.Add("Authorization: Bearer ", "token", "é"+awsKeyID)

	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.HMAC.KeyFile = filepath.Join("testdata", "test_hmac.key")
	cfg.Content.Action = ContentKeep
	cfg.Actions = map[string]Action{"email": ActionHMAC}
	sink := &consumertest.LogsSink{}
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		f.Fatal(err)
	}
	det, err := secrets.New(secrets.Options{})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body, key, value string) {
		if key == cfg.ReportAttribute {
			key += "_" // the report is the processor's own attribute
		}
		build := func() plog.Logs {
			ld := plog.NewLogs()
			lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetEventName("agent_audit.tool.call")
			lr.Body().SetStr(body)
			attrs := lr.Attributes()
			attrs.PutStr(key, value)
			nested := attrs.PutEmptyMap("nested")
			nested.PutStr(key, value)
			list := nested.PutEmptySlice("list")
			list.AppendEmpty().SetStr(value)
			list.AppendEmpty().SetStr(body)
			nested.PutInt("n", int64(len(value)))
			return ld
		}
		in := build()
		sink.Reset()
		if err := p.ConsumeLogs(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if len(sink.AllLogs()) != 1 {
			t.Fatalf("%d batches passed on, want 1 (no action drops records here)", len(sink.AllLogs()))
		}
		out := sink.AllLogs()[0]
		orig := firstRecord(build())
		got := firstRecord(out)

		validIn := utf8.ValidString(body) && utf8.ValidString(key) && utf8.ValidString(value)
		checkStructure(t, det, orig.Attributes(), got.Attributes(), validIn)
		if got.Body().Type() != pcommon.ValueTypeStr {
			t.Fatalf("body type %s, want Str", got.Body().Type())
		}
		if validIn && !utf8.ValidString(got.Body().Str()) {
			t.Fatalf("body is not valid UTF-8: %q", got.Body().Str())
		}

		again := plog.NewLogs()
		out.CopyTo(again)
		sink.Reset()
		if err := p.ConsumeLogs(context.Background(), again); err != nil {
			t.Fatal(err)
		}
		if a, b := allText(out), allText(sink.AllLogs()[0]); a != b {
			t.Fatalf("scrubbing is not idempotent:\nfirst  %q\nsecond %q", a, b)
		}
	})
}

// checkStructure: every key of in is in out (unless the key holds a secret
// itself), with the same value type (unless a number or bytes value held a
// secret and became its masked string), recursively.
func checkStructure(t *testing.T, det *secrets.Detector, in, out pcommon.Map, validIn bool) {
	t.Helper()
	for k, v := range in.All() {
		w, ok := out.Get(k)
		if !ok {
			if len(det.Find(k, nil)) > 0 {
				continue
			}
			t.Fatalf("key %q lost", k)
		}
		switch {
		case v.Type() == w.Type():
		case (v.Type() == pcommon.ValueTypeInt || v.Type() == pcommon.ValueTypeBytes) && w.Type() == pcommon.ValueTypeStr &&
			strings.Contains(w.Str(), "]"):
		default:
			t.Fatalf("key %q: type %s became %s", k, v.Type(), w.Type())
		}
		switch v.Type() {
		case pcommon.ValueTypeMap:
			checkStructure(t, det, v.Map(), w.Map(), validIn)
		case pcommon.ValueTypeSlice:
			if v.Slice().Len() != w.Slice().Len() {
				t.Fatalf("key %q: slice of %d became %d", k, v.Slice().Len(), w.Slice().Len())
			}
			for i := 0; i < v.Slice().Len(); i++ {
				if s := w.Slice().At(i); s.Type() == pcommon.ValueTypeStr && validIn && !utf8.ValidString(s.Str()) {
					t.Fatalf("key %q[%d] is not valid UTF-8", k, i)
				}
			}
		case pcommon.ValueTypeStr:
			if validIn && !utf8.ValidString(w.Str()) {
				t.Fatalf("key %q: value is not valid UTF-8: %q", k, w.Str())
			}
		}
	}
	if validIn {
		for k := range out.All() {
			if !utf8.ValidString(k) {
				t.Fatalf("key %q is not valid UTF-8", k)
			}
		}
	}
}
