package shell

import (
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// TestPlainWord checks which words may skip the walk for substitutions.
func TestPlainWord(t *testing.T) {
	tests := []struct {
		word string
		want bool
	}{
		{`abc`, true},
		{`'a $(b)'`, true},
		{`"a b"`, true},
		{`x"a"'b'`, true},
		{`"$x"`, false},
		{`$(id)`, false},
		{`"$(id)"`, false},
		{"`id`", false},
		{`a$(b)c`, false},
		{`<(ls)`, false},
		{`${x:-$(id)}`, false},
		{`$((1 + $(id)))`, false},
	}
	for _, tt := range tests {
		f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader("echo "+tt.word), "")
		if err != nil {
			t.Fatalf("%s: %v", tt.word, err)
		}
		word := f.Stmts[0].Cmd.(*syntax.CallExpr).Args[1]
		if got := plainWord(word); got != tt.want {
			t.Errorf("plainWord(%s) = %v, want %v", tt.word, got, tt.want)
		}
	}
	if plainWord((*syntax.Word)(nil)) || plainWord(&syntax.Lit{Value: "x"}) {
		t.Error("only a non-nil word can be plain")
	}
}
