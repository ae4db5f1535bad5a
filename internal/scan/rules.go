package scan

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/cavra-dev/cavra"
)

//go:embed rules.json
var defaultRulesJSON []byte

// Tier is where an imported Python callable stands.
type Tier int

// Import tiers. Anything neither allowlisted nor known dangerous is suspicious.
const (
	TierSafe Tier = iota
	TierSuspicious
	TierDangerous
)

// RuleFile is the on-disk shape of import rules (rules.json, or a file passed to --rules).
// Dangerous maps a severity to module -> name patterns; Safe maps module -> name patterns.
// Patterns use path.Match syntax ("*" for the whole module, "*Storage"). A module entry also
// covers its submodules ("os" covers "os.path").
type RuleFile struct {
	// Replace drops the built-in lists instead of adding to them.
	Replace   bool                                   `json:"replace,omitempty"`
	Dangerous map[cavra.Severity]map[string][]string `json:"dangerous"`
	Safe      map[string][]string                    `json:"safe"`
}

type modulePatterns struct {
	module   string
	names    []string
	severity cavra.Severity
}

// Rules classify imports found in pickles and model configs.
type Rules struct {
	dangerous []modulePatterns
	safe      []modulePatterns
	// dangerousModules are the whole-module entries: a dotted name that walks through one of them
	// (posixpath "os.system") is as dangerous as importing it.
	dangerousModules map[string]cavra.Severity

	tailOnce sync.Once
	tail     []tailPattern
}

type tailPattern struct {
	module  string
	pattern []byte
}

// tailPatterns are byte encodings of imports of critical whole modules, for searching data the
// opcode walk cannot reach.
func (r *Rules) tailPatterns() []tailPattern {
	r.tailOnce.Do(func() {
		mods := make([]string, 0, len(r.dangerousModules)+2)
		for m, sev := range r.dangerousModules {
			if sev == cavra.SeverityCritical {
				mods = append(mods, m)
			}
		}
		mods = append(mods, "builtins", "__builtin__")
		sort.Strings(mods)
		for _, m := range mods {
			if len(m) > 255 {
				continue
			}
			r.tail = append(r.tail,
				tailPattern{m, []byte("c" + m + "\n")},
				tailPattern{m, append([]byte{0x8c, byte(len(m))}, m...)},
				tailPattern{m, append([]byte{'X', byte(len(m)), 0, 0, 0}, m...)})
		}
	})
	return r.tail
}

// DefaultRules returns the built-in import lists.
func DefaultRules() *Rules {
	var rf RuleFile
	if err := json.Unmarshal(defaultRulesJSON, &rf); err != nil {
		// The embedded file is part of the build and covered by tests; failing here is a build defect.
		panic(fmt.Sprintf("scan: embedded rules.json is invalid: %v", err))
	}
	r, err := compileRules(nil, &rf)
	if err != nil {
		panic(fmt.Sprintf("scan: embedded rules.json is invalid: %v", err))
	}
	return r
}

// LoadRules reads a rule file and merges it over the built-in lists (or replaces them when the
// file says "replace": true).
func LoadRules(file string) (*Rules, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return ParseRules(data)
}

// ParseRules parses rule-file JSON and merges it over the built-in lists.
func ParseRules(data []byte) (*Rules, error) {
	var rf RuleFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	var base *Rules
	if !rf.Replace {
		base = DefaultRules()
	}
	return compileRules(base, &rf)
}

func compileRules(base *Rules, rf *RuleFile) (*Rules, error) {
	r := &Rules{dangerousModules: map[string]cavra.Severity{}}
	if base != nil {
		r.dangerous = append(r.dangerous, base.dangerous...)
		r.safe = append(r.safe, base.safe...)
		for k, v := range base.dangerousModules {
			r.dangerousModules[k] = v
		}
	}
	sevs := make([]string, 0, len(rf.Dangerous))
	for s := range rf.Dangerous {
		sevs = append(sevs, string(s))
	}
	sort.Strings(sevs)
	for _, s := range sevs {
		sev := cavra.Severity(s)
		if sev.Rank() == 0 {
			return nil, fmt.Errorf("rules: unknown severity %q (want info, low, medium, high or critical)", s)
		}
		for _, mp := range sortedPatterns(rf.Dangerous[sev]) {
			if err := checkPatterns(mp); err != nil {
				return nil, err
			}
			mp.severity = sev
			r.dangerous = append(r.dangerous, mp)
			for _, n := range mp.names {
				if n == "*" && sev.Rank() > r.dangerousModules[mp.module].Rank() {
					r.dangerousModules[mp.module] = sev
				}
			}
		}
	}
	for _, mp := range sortedPatterns(rf.Safe) {
		if err := checkPatterns(mp); err != nil {
			return nil, err
		}
		r.safe = append(r.safe, mp)
	}
	return r, nil
}

func sortedPatterns(m map[string][]string) []modulePatterns {
	out := make([]modulePatterns, 0, len(m))
	for mod, names := range m {
		out = append(out, modulePatterns{module: mod, names: names})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].module < out[j].module })
	return out
}

func checkPatterns(mp modulePatterns) error {
	if mp.module == "" {
		return fmt.Errorf("rules: empty module name")
	}
	for _, n := range mp.names {
		if _, err := path.Match(n, ""); err != nil {
			return fmt.Errorf("rules: bad pattern %q for module %s: %w", n, mp.module, err)
		}
	}
	return nil
}

func moduleCovers(entry, module string) bool {
	return module == entry || strings.HasPrefix(module, entry+".")
}

func namesMatch(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Classify places module.name in a tier; for dangerous imports it also returns the severity.
func (r *Rules) Classify(module, name string) (Tier, cavra.Severity) {
	first, _, dotted := strings.Cut(name, ".")
	worst := cavra.Severity("")
	for _, mp := range r.dangerous {
		if !moduleCovers(mp.module, module) {
			continue
		}
		// Whole-module entries cover submodules; name entries only their exact module.
		whole := slices.Contains(mp.names, "*")
		if module != mp.module && !whole {
			continue
		}
		if namesMatch(mp.names, name) || (dotted && namesMatch(mp.names, first)) {
			if mp.severity.Rank() > worst.Rank() {
				worst = mp.severity
			}
		}
	}
	if dotted {
		// Protocol 4 resolves dotted names attribute by attribute: a walk through a dunder
		// (__globals__, __builtins__, __subclasses__) or through a dangerous module reaches anything.
		for _, seg := range strings.Split(name, ".") {
			if strings.HasPrefix(seg, "__") && strings.HasSuffix(seg, "__") {
				worst = cavra.SeverityCritical
			}
			if sev, ok := r.dangerousModules[seg]; ok && sev.Rank() > worst.Rank() {
				worst = sev
			}
		}
	}
	if worst != "" {
		return TierDangerous, worst
	}
	for _, mp := range r.safe {
		if mp.module == module && namesMatch(mp.names, name) {
			return TierSafe, ""
		}
	}
	return TierSuspicious, ""
}
