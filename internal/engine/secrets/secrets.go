// Package secrets finds live secrets (cloud keys, tokens, private keys, high-entropy API keys) in
// text that an agent is about to write or run.
//
// The rules are gitleaks' default rule set (github.com/zricethezav/gitleaks/v8), applied with
// gitleaks' semantics: keyword pre-filter, rule regex, secret group, Shannon-entropy threshold,
// global and per-rule allowlists (regexes with their target, stop words, AND/OR conditions) and
// the precedence of specific rules over generic ones on the same line. A parity test runs
// gitleaks' own detector next to this package and requires the same findings.
//
// Why not call gitleaks at run time: this code runs in `cavra hook`, a process started for every
// tool call with a budget of about 5 ms. Linking gitleaks' detect package alone adds about 3 ms of
// package initialisation to every process start, and building its default detector (TOML parse,
// ~220 regexes) about 25 ms more. So the rule data is generated into rules_gen.go by
// `go generate` (see internal/genrules), nothing is compiled at package initialisation, and a
// Scanner compiles a rule's regular expression only the first time one of the rule's keywords
// occurs in a scanned text. A text with no keyword costs one pass over its bytes.
//
// Two deliberate differences from the gitleaks command line: inline `gitleaks:allow` comments
// are not honoured (the agent writes the text, so it could write the comment too), and encoded
// (base64/hex/percent) content is not decoded.
package secrets

//go:generate go run gen_rules.go

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Finding is one secret found in a text.
type Finding struct {
	RuleID      string // gitleaks rule id, e.g. "aws-access-token"
	Description string
	Line        int    // 1-based line in the text
	Column      int    // 1-based byte column of the match start
	Redacted    string // the match with the secret masked: at most its first 4 chars, then "****"
}

// ruleErrorID is the rule id of the finding reported when a rule's expression cannot be
// compiled. rules_gen.go is tested to compile, so this is a guard, and it fails closed: a text
// that triggers a broken rule is reported rather than silently passed.
const ruleErrorID = "cavra-secret-rule-error"

// ruleSpec is one gitleaks rule as data; rules_gen.go holds the default set.
type ruleSpec struct {
	ID          string
	Description string
	Regex       string
	SecretGroup int
	Entropy     float64
	Keywords    []string // lower-case; a rule without keywords runs on every text
	Allowlists  []allowlistSpec
}

// allowlistSpec is a gitleaks allowlist as data.
type allowlistSpec struct {
	MatchAll    bool     // condition "AND": every kind of check present must pass
	RegexTarget string   // "" (the secret), "match" or "line"
	Regexes     []string // any match allows; joined into one expression as gitleaks does
	StopWords   []string // lower-case; the secret containing any allows
	HasPaths    bool     // path checks: never satisfied, a scanned text has no path
	HasCommits  bool     // commit checks: never satisfied, a scanned text has no commit
}

// Scanner finds secrets in text. It is safe for concurrent use; build one with New (a zero
// Scanner also works and uses the default rules).
type Scanner struct {
	setup   sync.Once
	rules   []ruleSpec
	globals []allowlistSpec
	index   *keywordIndex
	// alwaysRun lists the rules without keywords, which gitleaks runs on every text.
	alwaysRun []int

	compiled   []lazyRule
	globalOnce sync.Once
	globalList []compiledAllowlist
	globalErr  error
}

// lazyRule compiles a rule's expression on first use, and its allowlists only when a match
// first needs them: most texts that trigger a rule hold no match.
type lazyRule struct {
	once sync.Once
	re   *regexp.Regexp
	err  error

	allowOnce sync.Once
	allow     []compiledAllowlist
	allowErr  error
}

type compiledAllowlist struct {
	spec *allowlistSpec
	re   *regexp.Regexp
}

// New returns a Scanner over gitleaks' default rules. It compiles no regular expression.
func New() *Scanner {
	return newScanner(defaultRules, defaultGlobalAllowlists)
}

func newScanner(rules []ruleSpec, globals []allowlistSpec) *Scanner {
	s := &Scanner{rules: rules, globals: globals}
	s.ready()
	return s
}

// ready builds the keyword index once; a zero Scanner gets the default rules.
func (s *Scanner) ready() {
	s.setup.Do(func() {
		if s.rules == nil {
			s.rules, s.globals = defaultRules, defaultGlobalAllowlists
		}
		s.compiled = make([]lazyRule, len(s.rules))
		s.index = newKeywordIndex(s.rules)
		for i, r := range s.rules {
			if len(r.Keywords) == 0 {
				s.alwaysRun = append(s.alwaysRun, i)
			}
		}
	})
}

// candidate is a finding before the generic-rule precedence filter, with the fields gitleaks
// compares.
type candidate struct {
	rule      int
	start     int    // byte offset of the match, after gitleaks trims leading newlines
	glLine    int    // gitleaks' 0-based start line, used for the precedence filter
	match     string // the whole match, newlines trimmed
	secret    string // the secret group of the match
	ruleError error
}

// Scan returns the secrets in text, ordered by position. It returns nil for a text without one.
func (s *Scanner) Scan(text string) []Finding {
	cands := s.scan(text)
	if len(cands) == 0 {
		return nil
	}
	var lines lineIndex
	findings := make([]Finding, 0, len(cands))
	for _, c := range cands {
		r := &s.rules[c.rule]
		if c.ruleError != nil {
			findings = append(findings, Finding{
				RuleID:      ruleErrorID,
				Description: fmt.Sprintf("rule %s cannot be compiled, text not checked: %v", r.ID, c.ruleError),
				Line:        1,
				Column:      1,
				Redacted:    "****",
			})
			continue
		}
		line, col := lines.position(text, c.start)
		findings = append(findings, Finding{
			RuleID:      r.ID,
			Description: r.Description,
			Line:        line,
			Column:      col,
			Redacted:    redact(c.match, c.secret),
		})
	}
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.RuleID < b.RuleID
	})
	return findings
}

// scan runs the rules whose keywords occur in text and applies gitleaks' filters.
func (s *Scanner) scan(text string) []candidate {
	if text == "" {
		return nil
	}
	s.ready()
	hits := s.index.rulesIn(text)
	for _, i := range s.alwaysRun {
		hits.set(i)
	}
	if hits.empty() {
		return nil
	}
	var (
		cands []candidate
		scan  textScan
	)
	scan.text = text
	for i := range s.rules {
		if hits.has(i) {
			cands = append(cands, s.detectRule(i, &scan)...)
		}
	}
	return preferSpecific(s.rules, cands)
}

// textScan carries per-scan lazily computed facts about the text.
type textScan struct {
	text     string
	newlines []int
	indexed  bool
}

func (t *textScan) newlineIndices() []int {
	if !t.indexed {
		t.indexed = true
		for i := 0; i < len(t.text); i++ {
			if t.text[i] == '\n' {
				t.newlines = append(t.newlines, i)
			}
		}
	}
	return t.newlines
}

func (s *Scanner) rule(i int) *lazyRule {
	lr := &s.compiled[i]
	lr.once.Do(func() {
		spec := &s.rules[i]
		lr.re, lr.err = regexp.Compile(spec.Regex)
		if lr.err != nil {
			lr.err = fmt.Errorf("compile rule %s: %w", spec.ID, lr.err)
		}
	})
	return lr
}

func (s *Scanner) ruleAllowlists(i int) ([]compiledAllowlist, error) {
	lr := &s.compiled[i]
	lr.allowOnce.Do(func() {
		lr.allow, lr.allowErr = compileAllowlists(s.rules[i].Allowlists)
		if lr.allowErr != nil {
			lr.allowErr = fmt.Errorf("compile allowlist of rule %s: %w", s.rules[i].ID, lr.allowErr)
		}
	})
	return lr.allow, lr.allowErr
}

func (s *Scanner) globalAllowlists() ([]compiledAllowlist, error) {
	s.globalOnce.Do(func() {
		s.globalList, s.globalErr = compileAllowlists(s.globals)
		if s.globalErr != nil {
			s.globalErr = fmt.Errorf("compile global allowlist: %w", s.globalErr)
		}
	})
	return s.globalList, s.globalErr
}

func compileAllowlists(specs []allowlistSpec) ([]compiledAllowlist, error) {
	out := make([]compiledAllowlist, len(specs))
	for i := range specs {
		out[i].spec = &specs[i]
		if len(specs[i].Regexes) == 0 {
			continue
		}
		// gitleaks joins an allowlist's regexes into one alternation without wrapping each, so
		// an inline flag such as (?i) carries over into the alternatives after it. Joining the
		// same way keeps the same verdicts.
		re, err := regexp.Compile("(?:" + strings.Join(specs[i].Regexes, "|") + ")")
		if err != nil {
			return nil, err
		}
		out[i].re = re
	}
	return out, nil
}

// detectRule applies one rule to the text, following gitleaks' Detector.detectRule for a
// fragment without path or commit.
func (s *Scanner) detectRule(i int, t *textScan) []candidate {
	lr := s.rule(i)
	if lr.err != nil {
		return []candidate{{rule: i, ruleError: lr.err}}
	}
	spec := &s.rules[i]
	text := t.text
	var out []candidate
	for _, m := range lr.re.FindAllStringIndex(text, -1) {
		match := strings.Trim(text[m[0]:m[1]], "\n")
		// gitleaks keeps the untrimmed start for positions and moves the end to start+len.
		glStart, glEnd := m[0], m[0]+len(match)
		secret := match
		if groups := lr.re.FindStringSubmatch(match); len(groups) >= 2 {
			if spec.SecretGroup > 0 {
				if len(groups) <= spec.SecretGroup {
					continue
				}
				secret = groups[spec.SecretGroup]
			} else {
				for _, g := range groups[1:] {
					if g != "" {
						secret = g
						break
					}
				}
			}
		}
		if spec.Entropy != 0 && shannonEntropy(secret) <= spec.Entropy {
			continue
		}
		line := func() string { return gitleaksLine(text, t.newlineIndices(), glStart, glEnd) }
		globals, err := s.globalAllowlists()
		if err != nil {
			return []candidate{{rule: i, ruleError: err}}
		}
		if allowed(globals, secret, match, line) {
			continue
		}
		own, err := s.ruleAllowlists(i)
		if err != nil {
			return []candidate{{rule: i, ruleError: err}}
		}
		if allowed(own, secret, match, line) {
			continue
		}
		leading := len(text[m[0]:m[1]]) - len(strings.TrimLeft(text[m[0]:m[1]], "\n"))
		out = append(out, candidate{
			rule:   i,
			start:  m[0] + leading,
			glLine: strings.Count(text[:min(glStart+1, len(text))], "\n"),
			match:  match,
			secret: secret,
		})
	}
	return out
}

// allowed mirrors gitleaks' checkFindingAllowed for a fragment without path or commit.
func allowed(lists []compiledAllowlist, secret, match string, line func() string) bool {
	for _, a := range lists {
		regexAllowed := false
		if a.re != nil {
			target := secret
			switch a.spec.RegexTarget {
			case "match":
				target = match
			case "line":
				target = line()
			}
			regexAllowed = target != "" && a.re.MatchString(target)
		}
		stopWord := containsStopWord(a.spec.StopWords, secret)
		if a.spec.MatchAll {
			ok := !a.spec.HasCommits && !a.spec.HasPaths
			if len(a.spec.Regexes) > 0 {
				ok = ok && regexAllowed
			}
			if len(a.spec.StopWords) > 0 {
				ok = ok && stopWord
			}
			if ok {
				return true
			}
			continue
		}
		if regexAllowed || stopWord {
			return true
		}
	}
	return false
}

func containsStopWord(words []string, secret string) bool {
	if len(words) == 0 || secret == "" {
		return false
	}
	lower := strings.ToLower(secret)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// gitleaksLine reproduces the "line" gitleaks tests `regexTarget = "line"` allowlists against.
// It starts at the newline before the match (or at the start of the text, also when the match
// is on the last, unterminated line) and ends at the newline after the match.
func gitleaksLine(text string, newlines []int, start, end int) string {
	if len(newlines) == 0 {
		newlines = []int{len(text)}
	}
	var (
		prev, lineStart, lineEnd int
		lineSet                  bool
	)
	for _, p := range newlines {
		if prev <= start && start < p {
			lineSet = true
			lineStart, lineEnd = prev, p
		}
		if prev < end && end <= p {
			lineEnd = p
		}
		prev = p
	}
	if !lineSet {
		lineEnd = end
		for lineEnd < len(text) && text[lineEnd] != '\n' && text[lineEnd] != '\r' {
			lineEnd++
		}
	}
	if end > lineEnd {
		lineEnd = end
	}
	return text[lineStart:lineEnd]
}

// preferSpecific drops a generic-rule finding when a specific rule found a secret containing
// it on the same line, as gitleaks' filter does.
func preferSpecific(rules []ruleSpec, cands []candidate) []candidate {
	isGeneric := func(c candidate) bool {
		return strings.Contains(strings.ToLower(rules[c.rule].ID), "generic")
	}
	out := cands[:0:0]
	for _, c := range cands {
		keep := true
		if c.ruleError == nil && isGeneric(c) {
			for _, o := range cands {
				if o.ruleError == nil && o.glLine == c.glLine && o.rule != c.rule && !isGeneric(o) &&
					strings.Contains(o.secret, c.secret) {
					keep = false
					break
				}
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

// shannonEntropy is gitleaks' measure: frequencies of runes, divided by the length in bytes.
func shannonEntropy(data string) float64 {
	if data == "" {
		return 0
	}
	counts := make(map[rune]int, len(data))
	for _, r := range data {
		counts[r]++
	}
	inv := 1.0 / float64(len(data))
	var entropy float64
	for _, n := range counts {
		f := float64(n) * inv
		entropy -= f * math.Log2(f)
	}
	return entropy
}

// redact masks every occurrence of secret in match, keeping at most its first 4 bytes (and
// never more than a quarter of it, so that short secrets stay mostly hidden).
func redact(match, secret string) string {
	if secret == "" {
		return "****"
	}
	keep := min(4, len(secret)/4)
	for keep > 0 && !utf8.RuneStart(secret[keep]) {
		keep--
	}
	return strings.ReplaceAll(match, secret, secret[:keep]+"****")
}

// lineIndex turns byte offsets into 1-based line and column numbers.
type lineIndex struct {
	newlines []int
	built    bool
}

func (l *lineIndex) position(text string, offset int) (line, column int) {
	if !l.built {
		l.built = true
		for i := 0; i < len(text); i++ {
			if text[i] == '\n' {
				l.newlines = append(l.newlines, i)
			}
		}
	}
	// n newlines before offset put it on line n+1, starting after the last of them.
	n := sort.SearchInts(l.newlines, offset)
	lineStart := 0
	if n > 0 {
		lineStart = l.newlines[n-1] + 1
	}
	return n + 1, offset - lineStart + 1
}
