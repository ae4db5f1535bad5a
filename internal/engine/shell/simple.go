package shell

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// parseSimple builds, without the parser, the syntax tree of a line that is one plain command:
// words of letters, digits and -_./:,@+=~*?%^ separated by spaces, the first word neither a keyword
// nor a word the parser treats specially nor an assignment. Most lines an agent runs are such
// (go test ./..., git status), and for them the parser's fixed cost, the node batches it
// allocates anew for every line, is most of the time spent normalising. The tree is the one
// the parser builds; TestParseSimpleMatchesParser holds it to that.
func parseSimple(text string) (*syntax.File, bool) {
	n := 0 // words
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' {
			continue
		}
		if !plainByte(text[i]) {
			return nil, false
		}
		if i == 0 || text[i-1] == ' ' {
			n++
		}
	}
	if n == 0 {
		return nil, false
	}
	// One allocation per kind of node, not per word.
	lits, words, parts := make([]syntax.Lit, n), make([]syntax.Word, n), make([]syntax.WordPart, n)
	args := make([]*syntax.Word, n)
	for i, w := 0, 0; i < len(text); {
		if text[i] == ' ' {
			i++
			continue
		}
		start := i
		for i < len(text) && text[i] != ' ' {
			i++
		}
		lits[w] = syntax.Lit{ValuePos: linePos(start), ValueEnd: linePos(i), Value: text[start:i]}
		parts[w] = &lits[w]
		words[w].Parts = parts[w : w+1 : w+1]
		args[w] = &words[w]
		w++
	}
	first := lits[0].Value
	if strings.IndexByte(first, '=') >= 0 || syntax.IsKeyword(first) || parsedSpecially[first] {
		return nil, false
	}
	stmt := &syntax.Stmt{Cmd: &syntax.CallExpr{Args: args}, Position: lits[0].ValuePos}
	return &syntax.File{Stmts: []*syntax.Stmt{stmt}}, true
}

// parsedSpecially are the command names the bash parser gives their own node.
var parsedSpecially = map[string]bool{"let": true, "declare": true, "local": true, "export": true,
	"readonly": true, "typeset": true, "nameref": true, "time": true, "coproc": true, "select": true,
	"function": true, "elif": true}

func plainByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_./:,@+=~*?%^", c) >= 0
}

// linePos is the position of byte offset off on a one-line text.
func linePos(off int) syntax.Pos { return syntax.NewPos(uint(off), 1, uint(off)+1) }
