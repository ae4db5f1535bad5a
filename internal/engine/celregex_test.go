package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/google/cel-go/common/ast"
)

func TestRequiredLiterals(t *testing.T) {
	exact := func(texts ...string) []literal {
		var out []literal
		for _, t := range texts {
			out = append(out, literal{text: t})
		}
		return out
	}
	tests := []struct {
		name, pattern string
		want          []literal
	}{
		{"literal", `rimraf`, exact("rimraf")},
		{"alternation", `subprocess|pty\.spawn`, exact("subprocess", "pty.spawn")},
		{"longest part of a concatenation", `\bos\.(system|popen)\b`, exact("system", "popen")},
		{"repeat at least once", `(ab)+x?`, exact("ab")},
		{"optional part adds nothing", `a?bcd`, exact("bcd")},
		{"case folded", `(?i)^Alias\..+=!`, []literal{{text: "alias.", fold: true}}},
		{"case folded and exact", `(?i:Core)|rm -rf`, []literal{{text: "core", fold: true}, {text: "rm -rf"}}},
		{"an alternative without literal", `abc|[0-9]+`, nil},
		{"only optional", `(abc)*`, nil},
		{"case folded beyond ASCII", `(?i)straße`, nil},
		{"anchors and classes", `^[a-z]+$`, nil},
		{"invalid", `(`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requiredLiterals(tt.pattern); !slices.Equal(got, tt.want) {
				t.Errorf("requiredLiterals(%q) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

// TestPrefilterAgreesWithRegexp checks, for every regular expression of the built-in packs'
// conditions, that a string holding none of its required literals never matches.
func TestPrefilterAgreesWithRegexp(t *testing.T) {
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	l := &Loader{Builtin: os.DirFS(filepath.Join("..", "..", "policies"))}
	var patterns []string
	for _, name := range l.BuiltinNames() {
		pol, err := l.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pol.rules {
			if r.Condition == "" {
				continue
			}
			checked, iss := env.Compile(r.Condition)
			if iss.Err() != nil {
				t.Fatal(iss.Err())
			}
			ast.PreOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
				if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != "matches" {
					return
				}
				args := e.AsCall().Args()
				if arg := args[len(args)-1]; arg.Kind() == ast.LiteralKind {
					if s, ok := arg.AsLiteral().Value().(string); ok {
						patterns = append(patterns, s)
					}
				}
			}))
		}
	}
	if len(patterns) == 0 {
		t.Fatal("no matches() pattern found in the built-in packs")
	}
	inputs := []string{"", "python3", "scripts/gen.py", "--out", "build/gen.go", "import os; os.system('x')",
		"os.systemd", "rm -rf x", "`id`", "/home/dev/.ssh/id_rsa", "/repo/.env.example", "x.pub", "/repo/.env",
		"require('child_process').execSync('ls')", "exec (", "system(", "fs.rmSync(", "a.pem"}
	filtered := 0
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		required := requiredLiterals(p)
		if required != nil {
			filtered++
		}
		probes := slices.Clone(inputs)
		for _, lit := range required {
			probes = append(probes, lit.text, "x "+lit.text+" (", strings.ToUpper(lit.text)+"=!x",
				strings.ReplaceAll(lit.text, "k", "\u212a")+"=$(x)")
		}
		for _, in := range probes {
			if re.MatchString(in) && required != nil && !mayContain(in, required) {
				t.Errorf("pattern %q matches %q, which holds none of %v", p, in, required)
			}
		}
	}
	if filtered == 0 {
		t.Error("no pattern of the built-in packs has a prefilter")
	}
}

// TestConditionMatchesWithPrefilter runs matches() through a compiled condition, both forms of
// the call, on strings with and without the required literals.
func TestConditionMatchesWithPrefilter(t *testing.T) {
	pack := "name: c\nrules:\n  - id: r\n    match: {programs: [python3]}\n" +
		"    condition: subject.argv.exists(a, a.matches(r'os\\.(system|popen)\\b')) || matches(action.command.line, 'rm[ ]+-rf')\n" +
		"    outcome: block\n    message: m\n"
	eng := fixedEngine(mustPolicy(t, map[string]string{"c.yaml": pack}, "c"))
	for line, want := range map[string]cavra.Outcome{
		`python3 -c "import os; os.system('x')"`: cavra.Block,
		`python3 -c "import os; os.systemd()"`:   cavra.Allow,
		`python3 x.py # rm  -rf`:                 cavra.Block,
		`python3 x.py`:                           cavra.Allow,
	} {
		d, err := eng.Decide(context.Background(), command(line))
		if err != nil || d.Outcome != want {
			t.Errorf("%s: %s %v, want %s", line, d.Outcome, err, want)
		}
	}
}

// TestConditionMatchErrors checks that an argument's error still fails the condition closed.
func TestConditionMatchErrors(t *testing.T) {
	pack := "name: c\nrules:\n  - id: r\n    match: {programs: [python3]}\n" +
		"    condition: subject.argv[7].matches('x')\n    outcome: block\n    message: m\n"
	eng := fixedEngine(mustPolicy(t, map[string]string{"c.yaml": pack}, "c"))
	if d, err := eng.Decide(context.Background(), command("python3 x.py")); err == nil {
		t.Fatalf("out-of-range argument decided %s, want an error", d.Outcome)
	}
}
