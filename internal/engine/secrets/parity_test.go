package secrets

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/cavra-dev/cavra/internal/engine/secrets/internal/genrules"
)

// TestGeneratedRulesMatchLibrary fails when rules_gen.go no longer matches the gitleaks
// version in go.mod; run `go generate ./internal/engine/secrets` after upgrading gitleaks.
func TestGeneratedRulesMatchLibrary(t *testing.T) {
	want, err := genrules.Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("rules_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("rules_gen.go differs from the gitleaks default config: run go generate ./internal/engine/secrets")
	}
}

func TestGeneratedRulesCoverLibrary(t *testing.T) {
	cfg, err := genrules.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(defaultRules)+len(pathOnlyRules), len(cfg.Rules); got != want {
		t.Fatalf("generated %d content + %d path rules, library has %d", len(defaultRules), len(pathOnlyRules), want)
	}
	for _, id := range pathOnlyRules {
		if cfg.Rules[id].Path == nil {
			t.Errorf("rule %s was left out as path-only but has no path condition", id)
		}
	}
	// Every keyword gitleaks pre-filters on reaches the index.
	ki := newKeywordIndex(defaultRules)
	for kw := range cfg.Keywords {
		if ki.rulesIn(kw).empty() {
			t.Errorf("keyword %q selects no rule", kw)
		}
	}
}

var gitleaksDetector = sync.OnceValues(func() (*detect.Detector, error) {
	cfg, err := genrules.LoadDefault()
	if err != nil {
		return nil, err
	}
	d := detect.NewDetector(cfg)
	// Package secrets ignores inline allow comments on purpose (see the package comment).
	d.IgnoreGitleaksAllow = true
	return d, nil
})

// comparable finding: what gitleaks reports and package secrets must reproduce.
type paritySample struct {
	rule, match, secret string
	line                int // gitleaks' 0-based start line
}

func (p paritySample) String() string {
	return fmt.Sprintf("%s@%d match=%q secret=%q", p.rule, p.line, p.match, p.secret)
}

func compareWithGitleaks(t testing.TB, s *Scanner, text string) {
	t.Helper()
	d, err := gitleaksDetector()
	if err != nil {
		t.Fatal(err)
	}
	var want, got []paritySample
	for _, f := range d.DetectString(text) {
		want = append(want, paritySample{rule: f.RuleID, match: f.Match, secret: f.Secret, line: f.StartLine})
	}
	for _, c := range s.scan(text) {
		if c.ruleError != nil {
			t.Fatalf("rule error: %v", c.ruleError)
		}
		got = append(got, paritySample{rule: s.rules[c.rule].ID, match: c.match, secret: c.secret, line: c.glLine})
	}
	cmp := func(a, b paritySample) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(want, cmp)
	slices.SortFunc(got, cmp)
	if !slices.EqualFunc(got, want, func(a, b paritySample) bool { return a == b }) {
		t.Errorf("findings differ from gitleaks for %q\n got: %v\nwant: %v", text, got, want)
	}
}

func TestParityWithGitleaks(t *testing.T) {
	f := newFakeSecrets(7)
	texts := map[string]string{}
	for _, tc := range secretCases(t) {
		texts["secret: "+tc.name] = tc.text
	}
	for name, text := range cleanCorpus(t) {
		texts["clean: "+name] = text
	}
	bench, err := os.ReadFile("testdata/bench/clean_4k.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	texts["bench source"] = string(bench)
	ghp, aws := f.githubPAT(), f.awsAccessKey()
	azure := f.chars(alnum, 3) + "8Q~" + f.chars(alnum, 32)
	texts["specific rule wins over generic on a line"] = `github_token = "` + ghp + `"`
	texts["two secrets on the last line without newline"] = "x\n" + ghp + " " + aws
	texts["crlf line endings"] = "a=1\r\naws_key = " + aws + "\r\nb=2\r\n"
	texts["match starting at a newline"] = "client_secret:\n" + azure + "\n"
	texts["docker secret mount line allowlist"] = "RUN --mount=type=secret,id=api_key,dst=/run/key API_KEY=" + f.chars(alnum, 24) + " make"
	texts["import line allowlist"] = `import { apiKeyStore, tokenService } from "./auth_service_module";`
	texts["kelvin sign keyword"] = "\u212aEY = \"" + f.chars(alnum, 30) + "\""
	texts["example aws key"] = "aws_access_key_id = AKIAIOSFODNN7" + "EXAMPLE"
	texts["stop word in generic secret"] = `api_key = "abcdefghijklmnopqrstuvwxyz0123"`
	texts["template placeholders"] = `password: "{{ .Values.db.password }}" token: ${TOKEN_VALUE}`
	texts["inline allow comment"] = `token = "` + ghp + `" # gitleaks:allow`
	texts["jwt and generic"] = `auth_header = "Bearer ` + f.jwt() + `"`
	texts["private key inside json"] = `{"private_key": "` + strings.ReplaceAll(f.privateKeyPEM("EC"), "\n", `\n`) + `"}`

	s := New()
	for name, text := range texts {
		t.Run(name, func(t *testing.T) { compareWithGitleaks(t, s, text) })
	}
}
