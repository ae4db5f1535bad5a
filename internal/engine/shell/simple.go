package shell

import (
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"

	"github.com/cavra-dev/cavra/internal/slab"
)

// parseSimple builds, without the parser, the syntax tree of a line of plain commands joined by
// |, && and || and separated or ended by ;. A plain command is words separated by spaces. A word
// is made of runs of letters, digits and -_./:,@+=~*?%^ and of single-quoted strings on one line,
// or, after the first word, is exactly {} or \; (find -exec). Each command's first word is one
// such run, neither a keyword nor a word the parser treats specially nor an assignment. Most
// lines an agent runs are such (go test ./..., git add -A && git commit -m 'fix: x'), and for
// them the parser's fixed cost, the node batches it allocates anew for every line, is most of
// the time spent normalising. The tree is the one the parser builds: | binds tighter than && and
// ||, all three group to the left. TestParseSimpleMatchesParser and FuzzParseSimple hold it to
// that. Anything else (&, |&, ;;, redirections, !, expansions, tabs, newlines) is left to the
// parser.
func parseSimple(text string) (*syntax.File, bool) {
	var nodes nodeArena
	return nodes.parseSimple(text)
}

// parseSimple is parseSimple with the nodes taken from a.
func (a *nodeArena) parseSimple(text string) (*syntax.File, bool) {
	var b simpleBuilder
	if !b.count(text) {
		return nil, false
	}
	return b.build(text, a), true
}

// nodeArena holds the syntax nodes of the plain lines of one Parse call. A walker keeps its
// arena from line to line (see walkers), so a line's nodes reuse the arrays of the lines before
// it instead of being garbage the collector must chase: at tens of thousands of decisions a
// second, collections are what set the engine's tail latency.
type nodeArena struct {
	lits  []syntax.Lit
	sgls  []syntax.SglQuoted
	parts []syntax.WordPart
	words []syntax.Word
	args  []*syntax.Word
	calls []syntax.CallExpr
	bins  []syntax.BinaryCmd
	stmts []syntax.Stmt
	files []syntax.File
	tops  []*syntax.Stmt
}

// maxArenaNodes bounds the nodes of a kind an arena keeps between lines, so one huge line does
// not pin its arrays for good.
const maxArenaNodes = 1024

// reset zeroes the nodes in use, so no line's text outlives its Parse call, and frees them.
func (a *nodeArena) reset() {
	slab.Release(&a.lits, maxArenaNodes)
	slab.Release(&a.sgls, maxArenaNodes)
	slab.Release(&a.parts, maxArenaNodes)
	slab.Release(&a.words, maxArenaNodes)
	slab.Release(&a.args, maxArenaNodes)
	slab.Release(&a.calls, maxArenaNodes)
	slab.Release(&a.bins, maxArenaNodes)
	slab.Release(&a.stmts, maxArenaNodes)
	slab.Release(&a.files, maxArenaNodes)
	slab.Release(&a.tops, maxArenaNodes)
}

// simpleTok is a token of a plain line.
type simpleTok uint8

const (
	tokBad simpleTok = iota // anything parseSimple leaves to the parser
	tokEOF
	tokWord
	tokSemi   // ;
	tokPipe   // |
	tokAndAnd // &&
	tokOrOr   // ||
)

// simpleToken reads the token at text[i], spaces before it skipped: its kind, where it starts and
// ends and, for a word, how many plain runs and single-quoted strings make it up.
func simpleToken(text string, i int) (tok simpleTok, start, end, lits, sgls int) {
	for i < len(text) && text[i] == ' ' {
		i++
	}
	if i == len(text) {
		return tokEOF, i, i, 0, 0
	}
	switch text[i] {
	case ';':
		return tokSemi, i, i + 1, 0, 0
	case '|':
		if i+1 < len(text) && text[i+1] == '|' {
			return tokOrOr, i, i + 2, 0, 0
		}
		return tokPipe, i, i + 1, 0, 0
	case '&':
		if i+1 < len(text) && text[i+1] == '&' {
			return tokAndAnd, i, i + 2, 0, 0
		}
		return tokBad, i, i, 0, 0 // & or &>: background or redirection
	}
	for _, w := range [...]string{"{}", `\;`} {
		if strings.HasPrefix(text[i:], w) && (i+len(w) == len(text) || wordEnd(text[i+len(w)])) {
			return tokWord, i, i + len(w), 1, 0
		}
	}
	start = i
	for i < len(text) && !wordEnd(text[i]) {
		switch {
		case text[i] == '\'':
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 || !sglContent(text[i+1:i+1+j]) {
				return tokBad, i, i, 0, 0
			}
			i += j + 2
			sgls++
		case plainByte(text[i]):
			for i < len(text) && plainByte(text[i]) {
				i++
			}
			lits++
		default:
			return tokBad, i, i, 0, 0
		}
	}
	return tokWord, start, i, lits, sgls
}

// wordEnd reports whether c ends a word of a plain line.
func wordEnd(c byte) bool { return c == ' ' || c == ';' || c == '|' || c == '&' }

// sglContent reports whether s may stand between single quotes in a plain line: one line of
// valid UTF-8, without the bytes the parser's reader drops or rewrites (NUL, CR).
func sglContent(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n' || c == '\r' || c == 0:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// commandName reports whether w may start a plain command: one plain run, not an assignment,
// not a word the parser gives its own node.
func commandName(w string) bool {
	for i := 0; i < len(w); i++ {
		if !plainByte(w[i]) {
			return false
		}
	}
	return strings.IndexByte(w, '=') < 0 && !syntax.IsKeyword(w) && !parsedSpecially[w]
}

// simpleBuilder holds the node batches of a plain line, taken from the walker's arena, and what
// is being built.
type simpleBuilder struct {
	nLit, nSgl, nWord, nCall, nBin, nTop int // node counts, from count

	nodeArena // the nodes of this line, each slice taken with room for exactly its count

	call             *syntax.CallExpr // the command being read
	argsFrom         int              // where its words start in args
	pipe, list       *syntax.Stmt     // the pipeline and the && || list being read
	pipePos, listPos syntax.Pos       // the operators that join the next command to them
	listOp           syntax.BinCmdOperator
}

// count checks that text is a plain line and counts its nodes.
func (b *simpleBuilder) count(text string) bool {
	const (
		stmtStart = iota // start of the line or after ;
		afterOp          // after | && ||
		inCmd
	)
	state := stmtStart
	for i := 0; ; {
		tok, start, end, lits, sgls := simpleToken(text, i)
		switch tok {
		case tokBad:
			return false
		case tokEOF:
			switch {
			case state == inCmd:
				b.nTop++
			case state == afterOp || b.nTop == 0: // a dangling operator, or an empty line
				return false
			}
			return true
		case tokWord:
			if state != inCmd {
				if sgls != 0 || !commandName(text[start:end]) {
					return false
				}
				b.nCall++
				state = inCmd
			}
			b.nLit, b.nSgl, b.nWord = b.nLit+lits, b.nSgl+sgls, b.nWord+1
		case tokSemi:
			if state != inCmd {
				return false
			}
			b.nTop++
			state = stmtStart
		default: // | && ||
			if state != inCmd {
				return false
			}
			b.nBin++
			state = afterOp
		}
		i = end
	}
}

// build builds the tree of a line count accepted, with nodes taken from a.
func (b *simpleBuilder) build(text string, a *nodeArena) *syntax.File {
	b.lits, b.sgls = slab.Take(&a.lits, b.nLit), slab.Take(&a.sgls, b.nSgl)
	b.parts, b.words, b.args = slab.Take(&a.parts, b.nLit+b.nSgl), slab.Take(&a.words, b.nWord), slab.Take(&a.args, b.nWord)
	b.calls, b.bins, b.stmts = slab.Take(&a.calls, b.nCall), slab.Take(&a.bins, b.nBin), slab.Take(&a.stmts, b.nCall+b.nBin)
	file := &append(slab.Take(&a.files, 1), syntax.File{})[0]
	top := slab.Take(&a.tops, b.nTop)
	for i := 0; ; {
		tok, start, end, _, _ := simpleToken(text, i)
		if tok != tokWord && b.call != nil {
			b.endCmd(tok == tokPipe)
		}
		pos := linePos(start)
		switch tok {
		case tokWord:
			if b.call == nil {
				b.calls = append(b.calls, syntax.CallExpr{})
				b.call, b.argsFrom = &b.calls[len(b.calls)-1], len(b.args)
			}
			b.word(text, start, end)
		case tokPipe:
			b.pipePos = pos
		case tokAndAnd, tokOrOr:
			b.listPos, b.listOp = pos, syntax.AndStmt
			if tok == tokOrOr {
				b.listOp = syntax.OrStmt
			}
		case tokSemi:
			b.list.Semicolon = pos
			top = append(top, b.list)
			b.list = nil
		case tokEOF:
			if b.list != nil {
				top = append(top, b.list)
			}
			file.Stmts = top
			return file
		}
		i = end
	}
}

// word adds the word text[start:end] to the command being read.
func (b *simpleBuilder) word(text string, start, end int) {
	from := len(b.parts)
	for i := start; i < end; {
		if text[i] == '\'' {
			j := i + 1 + strings.IndexByte(text[i+1:], '\'')
			b.sgls = append(b.sgls, syntax.SglQuoted{Left: linePos(i), Right: linePos(j), Value: text[i+1 : j]})
			b.parts = append(b.parts, &b.sgls[len(b.sgls)-1])
			i = j + 1
			continue
		}
		j := i
		for j < end && text[j] != '\'' {
			j++
		}
		b.lits = append(b.lits, syntax.Lit{ValuePos: linePos(i), ValueEnd: linePos(j), Value: text[i:j]})
		b.parts = append(b.parts, &b.lits[len(b.lits)-1])
		i = j
	}
	b.words = append(b.words, syntax.Word{Parts: b.parts[from:len(b.parts):len(b.parts)]})
	b.args = append(b.args, &b.words[len(b.words)-1])
}

// endCmd closes the command being read into the pipeline and, unless a | follows, the pipeline
// into the list.
func (b *simpleBuilder) endCmd(pipeNext bool) {
	b.call.Args = b.args[b.argsFrom:len(b.args):len(b.args)]
	b.stmts = append(b.stmts, syntax.Stmt{Cmd: b.call, Position: b.call.Args[0].Pos()})
	s := &b.stmts[len(b.stmts)-1]
	b.call = nil
	if b.pipe != nil {
		s = b.bin(b.pipe, b.pipePos, syntax.Pipe, s)
	}
	if pipeNext {
		b.pipe = s
		return
	}
	b.pipe = nil
	if b.list != nil {
		s = b.bin(b.list, b.listPos, b.listOp, s)
	}
	b.list = s
}

// bin joins x and y with op at pos.
func (b *simpleBuilder) bin(x *syntax.Stmt, pos syntax.Pos, op syntax.BinCmdOperator, y *syntax.Stmt) *syntax.Stmt {
	b.bins = append(b.bins, syntax.BinaryCmd{OpPos: pos, Op: op, X: x, Y: y})
	b.stmts = append(b.stmts, syntax.Stmt{Cmd: &b.bins[len(b.bins)-1], Position: x.Position})
	return &b.stmts[len(b.stmts)-1]
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
