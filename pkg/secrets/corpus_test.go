package secrets

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/agentaudit/otelcol-agentaudit/internal/testcorpus"
)

// The labelled corpus (testdata/corpus, format in its README.md): realistic
// agent payloads with every secret they contain labelled, and benign near
// misses. corpus_gen_test.go generates it; the tests here read the committed
// files, as any other consumer (the scrub processor's tests) can.

const corpusDir = "testdata/corpus"

// The corpus types and reader live in internal/testcorpus, shared with the
// scrub processor's tests and the end-to-end canary test.
type (
	corpusSecret = testcorpus.Secret
	corpusSample = testcorpus.Sample
	benignSample = testcorpus.Benign
)

// loadCorpus reads the committed corpus files.
func loadCorpus(t testing.TB) ([]corpusSample, []benignSample) {
	t.Helper()
	samples, benign, err := testcorpus.Load()
	if err != nil {
		t.Fatal(err)
	}
	return samples, benign
}

// occurrences returns the byte ranges of every occurrence of v in text.
func occurrences(text, v string) [][2]int {
	var out [][2]int
	if v == "" {
		return nil
	}
	for i := 0; ; {
		k := strings.Index(text[i:], v)
		if k < 0 {
			return out
		}
		out = append(out, [2]int{i + k, i + k + len(v)})
		i += k + 1
	}
}

// TestCorpusRecall: every labelled secret of every sample is hidden entirely
// (each byte of every occurrence of the value lies inside a finding) and a
// finding covering it has the labelled type (a value that occurs twice in
// different contexts may carry one label per type). Recall is reported per
// type and overall; anything below 100% fails.
func TestCorpusRecall(t *testing.T) {
	samples, _ := loadCorpus(t)
	d := mustNew(t, Options{})
	type tally struct{ total, hidden, typed int }
	per := map[string]*tally{}
	var all tally
	var fs []Finding
	for _, s := range samples {
		fs = d.Find(s.Text, fs[:0])
		if err := findingsOK(s.Text, fs); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
		for _, sec := range s.Secrets {
			tl := per[sec.Type]
			if tl == nil {
				tl = &tally{}
				per[sec.Type] = tl
			}
			tl.total++
			all.total++
			occ := occurrences(s.Text, sec.Value)
			if len(occ) == 0 {
				t.Errorf("%s: value %q of %s does not occur in the text", s.ID, sec.Value, sec.Type)
				continue
			}
			hidden, typed := true, false
			var types []string
			for _, o := range occ {
				covered := o[0]
				for _, f := range fs {
					if f.End <= o[0] || f.Start >= o[1] {
						continue
					}
					types = append(types, f.Type)
					if f.Type == sec.Type {
						typed = true
					}
					if f.Start <= covered && f.End > covered {
						covered = f.End
					}
				}
				if covered < o[1] {
					hidden = false
					t.Errorf("%s (%s): %s %q not hidden (covered up to byte %d of %d), findings:%s\n  text %q",
						s.ID, s.Payload, sec.Type, sec.Value, covered-o[0], o[1]-o[0], show(s.Text, fs), s.Text)
				}
			}
			switch {
			case !hidden:
			case !typed:
				tl.hidden++
				all.hidden++
				t.Errorf("%s (%s): %s %q hidden but reported as %v", s.ID, s.Payload, sec.Type, sec.Value, types)
			default:
				tl.hidden++
				all.hidden++
				tl.typed++
				all.typed++
			}
		}
	}
	ids := make([]string, 0, len(per))
	for id := range per {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var below []string
	for _, id := range ids {
		tl := per[id]
		if tl.typed < tl.total {
			below = append(below, fmt.Sprintf("%s %d/%d (hidden %d)", id, tl.typed, tl.total, tl.hidden))
		}
		t.Logf("recall %-36s %3d/%-3d %6.1f%%", id, tl.typed, tl.total, 100*float64(tl.typed)/float64(tl.total))
	}
	t.Logf("recall overall: %d/%d labelled secrets hidden with their type (%.2f%%), %d hidden (%.2f%%), in %d samples over %d types",
		all.typed, all.total, 100*float64(all.typed)/float64(all.total), all.hidden,
		100*float64(all.hidden)/float64(all.total), len(samples), len(per))
	if len(below) > 0 {
		t.Errorf("recall below 100%% for %d types: %s", len(below), strings.Join(below, "; "))
	}
}

// TestCorpusNothingElse: in the secret samples, findings fall only on
// labelled values. A finding on unlabelled text is either a false positive or
// a secret the generator forgot to label; both fail.
func TestCorpusNothingElse(t *testing.T) {
	samples, _ := loadCorpus(t)
	d := mustNew(t, Options{})
	extra := 0
	var fs []Finding
	for _, s := range samples {
		fs = d.Find(s.Text, fs[:0])
		var labelled [][2]int
		for _, sec := range s.Secrets {
			labelled = append(labelled, occurrences(s.Text, sec.Value)...)
		}
		for _, f := range fs {
			// the parts of f outside every labelled range
			var outside []string
			pos := f.Start
			for pos < f.End {
				next := f.End
				in := false
				for _, l := range labelled {
					if l[0] <= pos && pos < l[1] {
						in = true
						pos = min(l[1], f.End)
						break
					}
					if l[0] > pos && l[0] < next {
						next = l[0]
					}
				}
				if !in {
					outside = append(outside, s.Text[pos:next])
					pos = next
				}
			}
			if len(outside) > 0 {
				extra++
				t.Errorf("%s (%s): finding %s %q covers unlabelled text %q", s.ID, s.Payload, f.Type, s.Text[f.Start:f.End], outside)
			}
		}
	}
	t.Logf("%d findings on unlabelled text in %d secret samples", extra, len(samples))
}

// TestCorpusBenign: no benign sample is altered.
func TestCorpusBenign(t *testing.T) {
	_, benign := loadCorpus(t)
	d := mustNew(t, Options{})
	kinds := map[string]int{}
	bad := 0
	for _, b := range benign {
		kinds[b.Kind]++
		if fs := d.Find(b.Text, nil); len(fs) != 0 {
			bad++
			t.Errorf("benign %s (%s, %s) reported:%s\n  text %q", b.ID, b.Payload, b.Kind, show(b.Text, fs), b.Text)
		}
	}
	t.Logf("%d benign samples, %d kinds, %d altered", len(benign), len(kinds), bad)
}

// TestCorpusCoverage: every type has at least 5 samples, every label names a
// known type and occurs in its text, ids are unique, benign kinds are varied.
func TestCorpusCoverage(t *testing.T) {
	samples, benign := loadCorpus(t)
	const minSamples = 5
	perType := map[string]int{}
	payloads := map[string]int{}
	ids := map[string]bool{}
	for _, s := range samples {
		if ids[s.ID] {
			t.Errorf("duplicate id %s", s.ID)
		}
		ids[s.ID] = true
		if s.Payload == "" || s.Text == "" || len(s.Secrets) == 0 {
			t.Errorf("%s: payload, text and secrets are required", s.ID)
		}
		payloads[s.Payload]++
		seen := map[string]bool{}
		for _, sec := range s.Secrets {
			if TypeClass(sec.Type) == "" {
				t.Errorf("%s: unknown type %q", s.ID, sec.Type)
			}
			if sec.Value == "" || !strings.Contains(s.Text, sec.Value) {
				t.Errorf("%s: value %q of %s does not occur in the text", s.ID, sec.Value, sec.Type)
			}
			if !seen[sec.Type] {
				perType[sec.Type]++
				seen[sec.Type] = true
			}
		}
	}
	for _, ti := range Types() {
		if perType[ti.ID] < minSamples {
			t.Errorf("type %s has %d samples, want at least %d", ti.ID, perType[ti.ID], minSamples)
		}
	}
	kinds := map[string]int{}
	for _, b := range benign {
		if ids[b.ID] {
			t.Errorf("duplicate id %s", b.ID)
		}
		ids[b.ID] = true
		if b.Payload == "" || b.Kind == "" || b.Text == "" {
			t.Errorf("benign %s: payload, kind and text are required", b.ID)
		}
		kinds[b.Kind]++
	}
	if len(benign) < 150 {
		t.Errorf("%d benign samples, want at least 150", len(benign))
	}
	if len(kinds) < 15 {
		t.Errorf("%d benign kinds, want at least 15", len(kinds))
	}
	t.Logf("%d secret samples over %d types (%d payload kinds: %v); %d benign samples (%d kinds: %v)",
		len(samples), len(perType), len(payloads), payloads, len(benign), len(kinds), kinds)
}
