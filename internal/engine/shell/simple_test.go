package shell

import (
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
	for _, line := range plain {
		got, ok := parseSimple(line)
		if !ok {
			t.Errorf("%q: not taken as plain", line)
			continue
		}
		want, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: tree differs from the parser's\n got %s\nwant %s", line, dump(got), dump(want))
		}
	}
	notPlain := []string{"", "   ", "A=1 rm x", "a+=1 x", "if x", "elif x", "fi", "done", "esac x", "time rm", "let x", "declare x", "export A", "local a",
		"function f", "select x", "coproc x", "echo $x", "a|b", "a;b", "a&&b", "a &",
		"echo 'x'", `echo "x"`, "echo `id`", "a>b", "a<b", "echo {a,b}", "echo #x", "rm\tx", "a\nb", "x(",
		"echo é", "[ -f x ]", "! x", "echo a\\ b", "rm [ab]", "{ x; }", "ls @(x)", "ls *(x)", "ls ?(x)",
	}
	for _, line := range notPlain {
		if _, ok := parseSimple(line); ok {
			t.Errorf("%q: taken as plain", line)
		}
	}
}

func dump(f *syntax.File) string {
	var b strings.Builder
	syntax.DebugPrint(&b, f)
	return b.String()
}
