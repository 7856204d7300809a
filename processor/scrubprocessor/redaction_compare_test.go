package scrubprocessor

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"gopkg.in/yaml.v3"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcorpus"
	"github.com/agentaudit/otelcol-agentaudit/pkg/secrets"
	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor/internal/metadata"
)

// The comparison with contrib's redactionprocessor (v0.162.0), configured by
// testdata/redaction.yaml for the formats pkg/secrets detects. This file holds
// the recall comparison and the helpers bench_test.go shares.

const (
	redactionConfigFile = "testdata/redaction.yaml"
)

// newScrubLogs: the scrub processor as the benchmark runs it. Default
// configuration (every class masked, resource and scope attributes
// scanned), except that content is kept raw (still scrubbed): a digest
// would hide the text from the recall check, and it is what the
// redaction processor does too (it has no digest).
func newScrubLogs(tb testing.TB, next consumer.Logs) processor.Logs {
	tb.Helper()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Content.Action = ContentKeep
	require.NoError(tb, cfg.Validate())
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(tb, err)
	require.NoError(tb, p.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, p.Shutdown(context.Background())) })
	return p
}

// newRedactionLogs: contrib's redaction processor with testdata/redaction.yaml.
func newRedactionLogs(tb testing.TB, next consumer.Logs) processor.Logs {
	tb.Helper()
	f := redactionprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	cm, err := confmaptest.LoadConf(redactionConfigFile)
	require.NoError(tb, err)
	require.NoError(tb, cm.Unmarshal(cfg))
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(tb, err)
	require.NoError(tb, p.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, p.Shutdown(context.Background())) })
	return p
}

// loadCorpus reads the labelled corpus of pkg/secrets (its
// testdata/corpus/README.md).
func loadCorpus(tb testing.TB) ([]testcorpus.Sample, []testcorpus.Benign) {
	tb.Helper()
	samples, benign, err := testcorpus.Load()
	require.NoError(tb, err, "the labelled corpus is committed in pkg/secrets/testdata/corpus")
	return samples, benign
}

// TestRedactionConfigCoversEveryType: testdata/redaction.yaml has exactly
// one blocked_values expression per type id of pkg/secrets, each named by
// the comment above it, and every expression compiles.
func TestRedactionConfigCoversEveryType(t *testing.T) {
	raw, err := os.ReadFile(redactionConfigFile)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	root := doc.Content[0]
	var values *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "blocked_values" {
			values = root.Content[i+1]
		}
	}
	require.NotNil(t, values, "blocked_values")
	seen := map[string]int{}
	for _, n := range values.Content {
		lines := strings.Split(strings.TrimSpace(n.HeadComment), "\n")
		id := strings.TrimSpace(strings.TrimPrefix(lines[len(lines)-1], "#"))
		require.NotEmpty(t, id, "line %d: no type comment", n.Line)
		require.NotEmpty(t, secrets.TypeClass(id), "line %d: %q is not a type id", n.Line, id)
		seen[id]++
	}
	for _, ti := range secrets.Types() {
		require.Equal(t, 1, seen[ti.ID], "expressions for %s", ti.ID)
	}
	require.Len(t, values.Content, len(secrets.Types()))
	// And the processor accepts the file (it compiles every expression).
	newRedactionLogs(t, consumertest.NewNop())
}

// recall counts labelled secrets hidden, per type.
type recall struct {
	total, hidden map[string]int
	missed        map[string][]string // type -> sample ids (where)
}

func newRecall() *recall {
	return &recall{total: map[string]int{}, hidden: map[string]int{}, missed: map[string][]string{}}
}

func (r *recall) add(typ, where string, hidden bool) {
	r.total[typ]++
	if hidden {
		r.hidden[typ]++
	} else {
		r.missed[typ] = append(r.missed[typ], where)
	}
}

func (r *recall) sum() (hidden, total int) {
	for t, n := range r.total {
		total += n
		hidden += r.hidden[t]
	}
	return hidden, total
}

func (r *recall) rate() float64 {
	h, n := r.sum()
	return float64(h) / float64(n)
}

// byKind: recall over the types of one kind (format, context, pii).
func (r *recall) byKind(k secrets.Kind) (hidden, total int) {
	kinds := map[string]secrets.Kind{}
	for _, ti := range secrets.Types() {
		kinds[ti.ID] = ti.Kind
	}
	for t, n := range r.total {
		if kinds[t] == k {
			total += n
			hidden += r.hidden[t]
		}
	}
	return hidden, total
}

// corpusLogs puts every text twice into one batch: as the string body of a
// record, and as the string value of an attribute of the next record.
func corpusLogs(texts []string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "claude-code")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, text := range texts {
		lr := lrs.AppendEmpty()
		lr.SetEventName("agent_audit.tool.call")
		lr.Body().SetStr(text)
		lr = lrs.AppendEmpty()
		lr.SetEventName("agent_audit.tool.call")
		lr.Attributes().PutStr("gen_ai.tool.call.arguments", text)
	}
	return ld
}

// corpusOutputs runs texts through p and returns, per text, what became of
// it in the body and in the attribute.
func corpusOutputs(t *testing.T, newP func(testing.TB, consumer.Logs) processor.Logs, texts []string) (body, attr []string) {
	t.Helper()
	sink := new(consumertest.LogsSink)
	p := newP(t, sink)
	require.NoError(t, p.ConsumeLogs(context.Background(), corpusLogs(texts)))
	require.Len(t, sink.AllLogs(), 1)
	lrs := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 2*len(texts), lrs.Len(), "no record may be dropped")
	for i := range texts {
		body = append(body, lrs.At(2*i).Body().AsString())
		v, ok := lrs.At(2*i + 1).Attributes().Get("gen_ai.tool.call.arguments")
		require.True(t, ok)
		attr = append(attr, v.AsString())
	}
	return body, attr
}

// TestRecallAgainstRedactionProcessor runs the labelled corpus of
// pkg/secrets through both processors. Recall: the share of labelled secret
// values (per sample, per location: body and attribute) of which no
// occurrence is left in the output. The scrub processor must hide all of
// them and alter no benign sample; the redaction processor's figures are
// logged (docs/benchmarks.md quotes them).
func TestRecallAgainstRedactionProcessor(t *testing.T) {
	samples, benign := loadCorpus(t)

	texts := make([]string, len(samples))
	for i, s := range samples {
		texts[i] = s.Text
	}
	procs := []struct {
		name string
		newP func(testing.TB, consumer.Logs) processor.Logs
	}{{"scrub", newScrubLogs}, {"redaction", newRedactionLogs}}

	results := map[string]*recall{}
	for _, pc := range procs {
		r := newRecall()
		body, attr := corpusOutputs(t, pc.newP, texts)
		for i, s := range samples {
			for _, sec := range s.Secrets {
				r.add(sec.Type, s.ID+"/body", !strings.Contains(body[i], sec.Value))
				r.add(sec.Type, s.ID+"/attribute", !strings.Contains(attr[i], sec.Value))
			}
		}
		results[pc.name] = r
		h, n := r.sum()
		t.Logf("%s: recall %.2f%% (%d of %d labelled values hidden; %d samples, body and attribute)",
			pc.name, 100*r.rate(), h, n, len(samples))
		for _, k := range []secrets.Kind{secrets.KindFormat, secrets.KindContext, secrets.KindPII} {
			h, n := r.byKind(k)
			if n > 0 {
				t.Logf("%s:   %-7s %.2f%% (%d of %d)", pc.name, k, 100*float64(h)/float64(n), h, n)
			}
		}
		var missedTypes []string
		for typ := range r.missed {
			missedTypes = append(missedTypes, typ)
		}
		sort.Strings(missedTypes)
		for _, typ := range missedTypes {
			where := r.missed[typ]
			ex := where
			if len(ex) > 4 {
				ex = ex[:4]
			}
			t.Logf("%s:   missed %-34s %3d of %3d (%5.1f%% recall), e.g. %s", pc.name, typ,
				len(where), r.total[typ], 100*float64(r.hidden[typ])/float64(r.total[typ]), strings.Join(ex, " "))
		}
		t.Logf("%s: %d of %d types missed at least once", pc.name, len(missedTypes), len(r.total))
	}
	var typesNeverHidden []string
	for typ, n := range results["redaction"].total {
		if results["redaction"].hidden[typ] == 0 && n > 0 {
			typesNeverHidden = append(typesNeverHidden, typ)
		}
	}
	sort.Strings(typesNeverHidden)
	t.Logf("redaction: types never hidden: %d %v", len(typesNeverHidden), typesNeverHidden)

	// Benign samples: any change to the text counts (a mask, a type change).
	btexts := make([]string, len(benign))
	for i, s := range benign {
		btexts[i] = s.Text
	}
	altered := map[string][]string{}
	for _, pc := range procs {
		body, attr := corpusOutputs(t, pc.newP, btexts)
		kinds := map[string]int{}
		for i, s := range benign {
			if body[i] != s.Text || attr[i] != s.Text {
				altered[pc.name] = append(altered[pc.name], s.ID)
				kinds[s.Kind]++
			}
		}
		t.Logf("%s: benign samples altered: %d of %d; by kind: %v", pc.name, len(altered[pc.name]), len(benign), kinds)
	}

	scrub := results["scrub"]
	if h, n := scrub.sum(); h != n {
		for typ, where := range scrub.missed {
			t.Errorf("scrub missed %s in %d of %d: %v", typ, len(where), scrub.total[typ], where)
		}
	}
	require.Empty(t, altered["scrub"], "scrub altered benign samples")
	if rr := results["redaction"].rate(); rr > scrub.rate() {
		t.Errorf("redaction recall %.4f above scrub's %.4f", rr, scrub.rate())
	}
}
