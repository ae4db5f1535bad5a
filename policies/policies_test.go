package policies_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra/internal/compliance"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/engine/secrets"
	"github.com/cavra-dev/cavra/policies"
)

// minCases is how many cases each built-in pack's suite must hold at least.
const minCases = 300

// TestBuiltinSuites runs every built-in pack's embedded suite case by case.
func TestBuiltinSuites(t *testing.T) {
	loader := &engine.Loader{Builtin: policies.FS}
	names := loader.BuiltinNames()
	if len(names) < 3 {
		t.Fatalf("built-in packs = %v, want at least baseline, strict and regulated", names)
	}
	scanner := secrets.New()
	scan := func(text string) []engine.SecretHit {
		var hits []engine.SecretHit
		for _, f := range scanner.Scan(text) {
			hits = append(hits, engine.SecretHit{RuleID: f.RuleID, Redacted: f.Redacted, Line: f.Line, Column: f.Column})
		}
		return hits
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(policies.FS, "tests/"+name+".yaml")
			if err != nil {
				t.Fatalf("pack %s ships no suite: %v", name, err)
			}
			suite, err := engine.ParseSuite("tests/"+name+".yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			if suite.Policy != name {
				t.Fatalf("suite tests policy %q, want %q", suite.Policy, name)
			}
			if len(suite.Cases) < minCases {
				t.Errorf("suite has %d cases, want at least %d", len(suite.Cases), minCases)
			}
			pol, err := loader.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			eng := engine.New(pol, engine.Options{Secrets: scan})
			seen := map[string]bool{}
			for _, r := range engine.RunSuite(context.Background(), eng, suite) {
				if seen[r.Name] {
					t.Errorf("line %d: case name %q repeats", r.Line, r.Name)
				}
				seen[r.Name] = true
				if r.Err != nil {
					t.Errorf("line %d: %s: %v", r.Line, r.Name, r.Err)
					continue
				}
				if !r.Passed {
					t.Errorf("line %d: %s: want %s %s, got %s [%s]: %s", r.Line, r.Name, r.Expected, r.Rule,
						r.Decision.Outcome, r.Decision.RuleID, r.Decision.Reason)
				}
			}
		})
	}
}

// TestPacksLint keeps every built-in pack free of lint problems, conditions and compliance
// references included.
func TestPacksLint(t *testing.T) {
	catalog, err := compliance.Load()
	if err != nil {
		t.Fatal(err)
	}
	loader := &engine.Loader{Builtin: policies.FS, CheckRef: func(ref string) error {
		_, _, err := catalog.Resolve(ref)
		return err
	}}
	for _, name := range loader.BuiltinNames() {
		src, data, err := loader.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		if diags := loader.Lint(src, data); len(diags) > 0 {
			var lines []string
			for _, d := range diags {
				lines = append(lines, d.String())
			}
			t.Errorf("%s:\n%s", name, strings.Join(lines, "\n"))
		}
	}
}

// TestEveryRuleIsTested makes each rule of each pack decide at least one case of its suite.
func TestEveryRuleIsTested(t *testing.T) {
	loader := &engine.Loader{Builtin: policies.FS}
	for _, name := range loader.BuiltinNames() {
		data, err := fs.ReadFile(policies.FS, "tests/"+name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		suite, err := engine.ParseSuite(name, data)
		if err != nil {
			t.Fatal(err)
		}
		src, packData, err := loader.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		pack, err := engine.Parse(src, packData)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := loader.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		eng := engine.New(pol, engine.Options{Secrets: secretsFor()})
		decided := map[string]bool{}
		for _, r := range engine.RunSuite(context.Background(), eng, suite) {
			for _, m := range r.Decision.Matches {
				decided[m.RuleID] = true
			}
		}
		// Only the pack's own rules: inherited ones are covered by the parent's suite.
		for _, r := range pack.Rules {
			if !decided[r.ID] {
				t.Errorf("%s: rule %s matches no case of its suite", name, r.ID)
			}
		}
	}
}

func secretsFor() func(string) []engine.SecretHit {
	s := secrets.New()
	return func(text string) []engine.SecretHit {
		var hits []engine.SecretHit
		for _, f := range s.Scan(text) {
			hits = append(hits, engine.SecretHit{RuleID: f.RuleID, Redacted: f.Redacted})
		}
		return hits
	}
}

// TestCompiledPacksAreFresh keeps compiled/NAME.json equal to the YAML it is generated from.
func TestCompiledPacksAreFresh(t *testing.T) {
	loader := &engine.Loader{Builtin: policies.FS}
	for _, name := range loader.BuiltinNames() {
		fromYAML, err := loader.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		yamlPolicy, err := engine.Compile(fromYAML)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := loader.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.Revision != yamlPolicy.Revision {
			t.Errorf("%s: compiled/%s.json is stale (revision %s, YAML gives %s): run go generate ./policies",
				name, name, loaded.Revision, yamlPolicy.Revision)
		}
		want, err := engine.CheckedConditions(fromYAML)
		if err != nil {
			t.Fatal(err)
		}
		data, err := fs.ReadFile(policies.FS, "compiled/"+name+".cel.json")
		if err != nil {
			t.Fatal(err)
		}
		var got map[string][]byte
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: compiled/%s.cel.json is stale: run go generate ./policies", name, name)
		}
	}
}
