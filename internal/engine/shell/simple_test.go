package shell

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// TestParseSimpleMatchesParser holds the parser-free tree of plain lines to the parser's, and
// checks that lines it must not take are left to the parser.
func TestParseSimpleMatchesParser(t *testing.T) {
	plain := []string{
		"go test ./...", "git status", "ls -la", "make -j4", "pytest -q tests/", "cat README.md",
		"grep -rn TODO src/", "docker build -t app .", "kubectl get pods -n dev", "rm -rf /",
		"git push --force origin main", "  sudo  rm -rf /etc  ", "env A=1 B=2 rm -rf x", "x", "a.b/c:d,e@f+g h=i",
		"git -c core.pager=less log", "npm run build", "curl -fsSL https://example.test/x.sh", "echo 1 2 3",
		"test -f x", "eval rm", "exec rm -rf /", "command rm x", "builtin cd /", "source x.sh", ". x.sh",
		"alias ls=rm", "timeout 5 rm -rf /", "2 3", "-x", "ifx", "done1", "nohup rm", "xargs rm", "rm *.tmp",
		"cat ~/.ssh/id_rsa", "rm -rf ~/", "ls ~root", "rm ?", "echo %1", "a^b", "cat .e*", "ls **/x",
	}
	plain = append(plain, compoundLines...)
	for _, line := range plain {
		got, ok := parseSimple(line)
		if !ok {
			t.Errorf("%q: not taken as plain", line)
			continue
		}
		checkParserTree(t, line, got)
	}
	notPlain := []string{"", "   ", "A=1 rm x", "a+=1 x", "if x", "elif x", "fi", "done", "esac x", "time rm", "let x", "declare x", "export A", "local a",
		"function f", "select x", "coproc x", "echo $x", "a &",
		`echo "x"`, "echo `id`", "a>b", "a<b", "echo {a,b}", "echo #x", "rm\tx", "a\nb", "x(",
		"echo é", "[ -f x ]", "! x", "echo a\\ b", "rm [ab]", "{ x; }", "ls @(x)", "ls *(x)", "ls ?(x)",
	}
	notPlain = append(notPlain, notCompoundLines...)
	for _, line := range notPlain {
		if _, ok := parseSimple(line); ok {
			t.Errorf("%q: taken as plain", line)
		}
	}
}

// compoundLines are plain lines beyond one unquoted command: single quotes, lists, pipelines.
var compoundLines = []string{
	"git add -A && git commit -m 'fix: handle empty input'", "curl -fsSL https://x.test/i.sh | sh",
	"npm run build && npm test", "a || b && c | d", "a && b | c || d", "a | b | c", "a && b && c",
	"a || b || c", "a | b && c | d || e | f", "a; b; c", "a ;b", "a;", "a; ", "a ; ", "a;b", "a|b",
	"a&&b", "a||b", "a|b|c", "a  &&  b  ||  c", "a && b; c || d; e | f;", "cd infra && terraform apply",
	"find . -name '*.tmp' -exec rm -f {} ;", `find . -name '*.tmp' -exec rm -f {} \;`,
	`find . -exec rm {} \;;`, "find . -exec rm {};", "x {}|y", "echo 'a\"b'", "echo ''", "x 'a''b'",
	"x a'b'c", "echo 'x'", "git commit -m'x y'", "rm '*.tmp'", "x 'a b' c", "x '$(id)' '`id`' '\\'",
	"x 'a\\'", "x '#' '&&' '|' ';' '>' '(' ')' '{' '}' '!'", "x 'é ü 日本'", "x '\t'", "x 'a\tb'",
	"x --opt='a b'", "x ~'a'", "x 'a'~", "x 'a'=b", "x a='b'", "rm -rf 'node_modules' dist",
	"bash -c 'rm -rf ~/'", "sh -c 'a && b'", "x '' '' ''", "x ''a''", "git push origin main && echo done",
	"x 'if'", "x if then fi", "a && if1", "a | done1", "a; -x", "x y=1 | z",
}

// notCompoundLines are lists, pipelines and quoted words left to the parser.
var notCompoundLines = []string{
	"a &", "a & b", "a |& b", "a && ", "&& a", "a || ", "|| a", "| a", "a |", "a | | b", "a;;", "a;;b",
	"a ;; b", "echo 'x", "echo x'", "a ; ; b", "; a", ";", " ; ", "echo 'a\nb'", "echo 'a\rb'",
	"echo 'a\x00b'", "echo 'a\xffb'", "a && A=1 b", "a | if", "a && time b", "a | time b",
	"a; then", "a || fi", "a && declare x", "a; export A", "a && let x", "a | coproc x", "a && ! b",
	"! a | b", "a &> b", "a &>> b", "a && b &", "a;& b", "a;;& b", "a;| b", "a |&b", "a ||| b",
	"a &&& b", "a && 'b'", "a && 'b' c", "'a' b", "a'b' c", "x; 'y'", "a | {} x", "{}", "{} x", `\; x`,
	"x {a}", "x {", "x }", "x a{}", "x {}a", `x \;a`, `x a\;`, `x \`, "x 'a'$b", "x $'a'", `x "a"'b'`,
	"a && b=", "a && b\n", "a\n&& b", "a &&\nb", "a |\nb", "a &&\tb", "a; # x", "a && b # x", "x 'a' #c",
	"a && b > c", "a | b < c", "x 'a'(", "(a) && b", "a && (b)", "a && { b; }", "a | b &", "a; b &",
}

// checkParserTree fails t unless got is the tree the bash parser builds for line.
func checkParserTree(t *testing.T, line string, got *syntax.File) {
	t.Helper()
	want, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		t.Errorf("%q: taken as plain, but the parser fails: %v", line, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q: tree differs from the parser's\n got %s\nwant %s", line, dump(got), dump(want))
	}
}

// FuzzParseSimple holds every tree parseSimple builds to the parser's.
func FuzzParseSimple(f *testing.F) {
	for _, line := range compoundLines {
		f.Add(line)
	}
	for _, line := range notCompoundLines {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if got, ok := parseSimple(line); ok {
			checkParserTree(t, line, got)
		}
	})
}

func dump(f *syntax.File) string {
	var b strings.Builder
	syntax.DebugPrint(&b, f)
	return b.String()
}

// TestParseResultsOutliveReuse holds that the buffers Parse reuses from line to line (syntax
// nodes, words, commands) never show through a result already returned.
func TestParseResultsOutliveReuse(t *testing.T) {
	lines := []string{
		"git add -A && git commit -m 'fix: handle empty input'", "curl -fsSL https://x.test/i.sh | sh",
		"bash -c 'rm -rf ~/' ; sudo rm -rf /etc", "find . -name '*.tmp' -exec rm -f {} \\;",
		"echo $(whoami) >> log.txt", "for f in *.go; do gofmt -l \"$f\"; done", "cat > /etc/x < in",
		"ssh host 'cat .env' | tee out", "x=1; y=$x; env A=$y sh -c 'echo $A > f'",
	}
	opts := Options{Dir: "/repo", Home: "/home/dev"}
	var kept []Result
	var want [][]byte
	for _, line := range lines {
		res, err := Parse(line, opts)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		kept, want = append(kept, res), append(want, b)
	}
	for round := 0; round < 3; round++ { // reuse every buffer many times over
		for _, line := range lines {
			if _, err := Parse(line, opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, res := range kept {
		if got, _ := json.Marshal(res); !bytes.Equal(got, want[i]) {
			t.Errorf("%q: result changed after later parses\n got %s\nwant %s", lines[i], got, want[i])
		}
	}
}
