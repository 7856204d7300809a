// Package testcorpus reads the labelled secrets corpus of pkg/secrets
// (pkg/secrets/testdata/corpus; the format is in its README.md), so that the
// detector's tests, the scrub processor's tests and the end-to-end canary
// test all read it the same way.
package testcorpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Secret is one labelled secret: the exact text that must be hidden (every
// occurrence of it in the sample) and the type that must report it.
type Secret struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Sample is one line of secrets.jsonl: a realistic agent payload and every
// secret in it.
type Sample struct {
	ID      string   `json:"id"`
	Payload string   `json:"payload"`
	Text    string   `json:"text"`
	Secrets []Secret `json:"secrets"`
}

// Benign is one line of benign.jsonl: nothing in Text may be reported.
type Benign struct {
	ID      string `json:"id"`
	Payload string `json:"payload"`
	Kind    string `json:"kind"`
	Text    string `json:"text"`
}

// Dir is the corpus directory, found from this file's place in the source
// tree (tests run in their own package directories).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "pkg", "secrets", "testdata", "corpus")
}

// Load reads both committed files. An empty file is an error.
func Load() ([]Sample, []Benign, error) {
	samples, err := ReadJSONL[Sample](filepath.Join(Dir(), "secrets.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	benign, err := ReadJSONL[Benign](filepath.Join(Dir(), "benign.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	if len(samples) == 0 || len(benign) == 0 {
		return nil, nil, fmt.Errorf("empty corpus: %d secret samples, %d benign samples", len(samples), len(benign))
	}
	return samples, benign, nil
}

// ReadJSONL decodes a file of one JSON object per line; unknown fields and
// empty lines are errors, so a format change cannot go unnoticed.
func ReadJSONL[T any](path string) ([]T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			return nil, fmt.Errorf("%s:%d: empty line", path, n)
		}
		var v T
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New(path + ": no lines")
	}
	return out, nil
}
