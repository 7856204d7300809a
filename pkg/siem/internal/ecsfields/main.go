// Command ecsfields derives the compact ECS field list that the ECS formatter
// tests read (pkg/siem/testdata/ecs-9.4.0-fields.tsv) from the flat ECS field
// reference (ecs_flat.yml of an ECS release). The tests read this small,
// committed list rather than the 2 MB reference so that they run from a
// checkout of this repository alone.
//
//	go run ./pkg/siem/internal/ecsfields ../shared/data/ecs_flat-v9.4.0.yml > pkg/siem/testdata/ecs-9.4.0-fields.tsv
//
// Output: comment lines start with '#'; every other line is one field,
//
//	name<TAB>type<TAB>normalize<TAB>allowed
//
// sorted by name. normalize is "array" when ECS normalizes the field to an
// array, else "-". allowed is "-" when the field has no allowed values, else
// the allowed values separated by ','; a value with expected event types
// (event.category) is written value:type1|type2|...
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

type allowedValue struct {
	Name               string   `yaml:"name"`
	ExpectedEventTypes []string `yaml:"expected_event_types"`
}

type field struct {
	Type          string         `yaml:"type"`
	Normalize     []string       `yaml:"normalize"`
	AllowedValues []allowedValue `yaml:"allowed_values"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ecsfields path/to/ecs_flat.yml > fields.tsv")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "ecsfields:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var fields map[string]field
	if err := yaml.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(fields) == 0 {
		return fmt.Errorf("%s: no fields", path)
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)

	w := bufio.NewWriter(os.Stdout)
	// The header names the source by its base name only, so the output does
	// not depend on the directory the command runs from.
	fmt.Fprintf(w, "# ECS fields derived from %s by: go run ./pkg/siem/internal/ecsfields %s\n", filepath.Base(path), filepath.Base(path))
	fmt.Fprintln(w, "# columns: name<TAB>type<TAB>normalize (array or -)<TAB>allowed values (- or comma-separated; value:type1|type2 lists a category's expected event types)")
	for _, n := range names {
		f := fields[n]
		if err := check(n, f); err != nil {
			return err
		}
		norm := "-"
		if slices.Contains(f.Normalize, "array") {
			norm = "array"
		}
		allowed := "-"
		if len(f.AllowedValues) > 0 {
			vals := make([]string, len(f.AllowedValues))
			for i, v := range f.AllowedValues {
				vals[i] = v.Name
				if len(v.ExpectedEventTypes) > 0 {
					vals[i] += ":" + strings.Join(v.ExpectedEventTypes, "|")
				}
			}
			allowed = strings.Join(vals, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n, f.Type, norm, allowed)
	}
	return w.Flush()
}

// check refuses what the line format cannot hold, so that a future ECS
// release with such a value fails here instead of producing a list that
// parses differently.
func check(name string, f field) error {
	bad := func(s string) bool { return s == "" || strings.ContainsAny(s, "\t\n\r,:|# ") }
	if bad(name) || bad(f.Type) {
		return fmt.Errorf("field %q (type %q): name or type empty or with a separator character", name, f.Type)
	}
	for _, v := range f.AllowedValues {
		if bad(v.Name) {
			return fmt.Errorf("field %q: allowed value %q empty or with a separator character", name, v.Name)
		}
		for _, t := range v.ExpectedEventTypes {
			if bad(t) {
				return fmt.Errorf("field %q: expected event type %q empty or with a separator character", name, t)
			}
		}
	}
	return nil
}
