package shell

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// field is one argv word after quote removal, variable substitution and word splitting.
type field struct {
	val string
	// dyn is true when part of val is the source text of an expansion whose value is unknown.
	dyn bool
	// progFrom is where the program name starts in val: after the last '/' that came from
	// literal text, so "${D}/bin/rm" names rm while "$(echo /bin/rm)" is kept whole.
	progFrom int
	// start and end are the byte offsets of the word that produced the field.
	start, end syntax.Pos
}

// quoting says which escapes a literal part may contain.
type quoting int

const (
	unquoted quoting = iota
	doubleQuoted
	heredocBody // an unquoted-delimiter heredoc: like double quotes, but '"' is not special
	rawText     // a quoted-delimiter heredoc: no escapes at all
)

// fieldBuilder assembles the fields of one word.
type fieldBuilder struct {
	out []field
	// whole is the field's text while it is one piece, kept without a copy: most fields are a
	// single literal. cur takes over from the second piece.
	whole     string
	cur       strings.Builder
	started   bool // the current field exists even if empty (a quoted part was seen)
	dyn       bool
	progFrom  int
	start     syntax.Pos
	end       syntax.Pos
	splitting bool
}

func (b *fieldBuilder) literal(s string) {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		b.progFrom = b.len() + i + 1
	}
	b.write(s)
	b.started = true
}

func (b *fieldBuilder) dynamic(s string) {
	b.write(s)
	b.started = true
	b.dyn = true
}

func (b *fieldBuilder) len() int { return len(b.whole) + b.cur.Len() }

func (b *fieldBuilder) write(s string) {
	switch {
	case b.cur.Len() == 0 && b.whole == "":
		b.whole = s
	case b.whole != "":
		b.cur.WriteString(b.whole)
		b.whole = ""
		fallthrough
	default:
		b.cur.WriteString(s)
	}
}

// expanded adds the known value of an unquoted expansion, splitting it on blanks as the shell
// does with the default IFS.
func (b *fieldBuilder) expanded(v string) {
	if !b.splitting {
		b.literal(v)
		return
	}
	for len(v) > 0 {
		i := strings.IndexAny(v, " \t\n")
		if i < 0 {
			b.literal(v)
			return
		}
		if i > 0 {
			b.literal(v[:i])
		}
		b.flush()
		v = v[i+1:]
	}
}

func (b *fieldBuilder) flush() {
	if !b.started && b.len() == 0 {
		return
	}
	val := b.whole
	if b.cur.Len() > 0 {
		val = b.cur.String()
	}
	b.out = append(b.out, field{val: val, dyn: b.dyn, progFrom: b.progFrom, start: b.start, end: b.end})
	b.whole = ""
	b.cur.Reset()
	b.started, b.dyn, b.progFrom = false, false, 0
}

// maxBraceWords bounds how many words one brace expansion may produce; {1..99999999} is kept
// as written (and marked dynamic) instead.
const maxBraceWords = 1024

// fields expands an argv word into zero or more fields: brace expansion ({rm,-rf,/} is three
// words), then quote removal, variable substitution and word splitting.
func (w *walker) fields(word *syntax.Word, sc scope, st *state, out []field) []field {
	if split := splitBraces(word); split != nil {
		if words, ok := braceWords(split); ok {
			for _, bw := range words {
				out = w.fieldsOf(bw, word, sc, st, out)
			}
			return out
		}
		b := fieldBuilder{out: out, start: word.Pos(), end: word.End()}
		b.dynamic(sc.text(word.Pos(), word.End()))
		b.flush()
		return b.out
	}
	return w.fieldsOf(word, word, sc, st, out)
}

// fieldsOf expands word, one brace-expanded form of orig.
func (w *walker) fieldsOf(word, orig *syntax.Word, sc scope, st *state, out []field) []field {
	b := fieldBuilder{out: out, start: orig.Pos(), end: orig.End(), splitting: true}
	for _, p := range word.Parts {
		w.part(&b, p, unquoted, sc, st)
	}
	b.flush()
	return b.out
}

// splitBraces returns a copy of word with its brace expansions as syntax.BraceExp parts, or nil
// when it has none. The tree itself is left as parsed: syntax.Walk does not know BraceExp.
func splitBraces(word *syntax.Word) *syntax.Word {
	candidate := false
	for _, p := range word.Parts {
		if lit, ok := p.(*syntax.Lit); ok && strings.IndexByte(lit.Value, '{') >= 0 && strings.IndexByte(lit.Value, '}') >= 0 {
			candidate = true
			break
		}
	}
	if !candidate {
		return nil
	}
	split := &syntax.Word{Parts: slices.Clone(word.Parts)}
	syntax.SplitBraces(split)
	for _, p := range split.Parts {
		if _, ok := p.(*syntax.BraceExp); ok {
			return split
		}
	}
	return nil
}

// braceWords expands the brace expansions of word, or reports false when it would make more
// than maxBraceWords words.
func braceWords(word *syntax.Word) ([]*syntax.Word, bool) {
	var words []*syntax.Word
	for bw, err := range expand.BracesSeq(nil, word) {
		if err != nil || len(words) == maxBraceWords {
			return nil, false
		}
		words = append(words, bw)
	}
	return words, true
}

// wordString expands a word where no splitting happens (assignment values, redirection targets,
// here-strings).
func (w *walker) wordString(word *syntax.Word, sc scope, st *state) field {
	if word == nil {
		return field{}
	}
	return w.wordQuoted(word, unquoted, sc, st)
}

func (w *walker) wordQuoted(word *syntax.Word, q quoting, sc scope, st *state) field {
	b := fieldBuilder{start: word.Pos(), end: word.End()}
	for _, p := range word.Parts {
		w.part(&b, p, q, sc, st)
	}
	b.started = true
	b.flush()
	return b.out[0]
}

func (w *walker) part(b *fieldBuilder, p syntax.WordPart, q quoting, sc scope, st *state) {
	switch x := p.(type) {
	case *syntax.Lit:
		b.literal(unescape(x.Value, q))
	case *syntax.SglQuoted:
		if x.Dollar {
			b.literal(decodeANSIC(x.Value))
		} else {
			b.literal(x.Value)
		}
	case *syntax.DblQuoted:
		b.started = true
		for _, inner := range x.Parts {
			w.part(b, inner, doubleQuoted, sc, st)
		}
	case *syntax.ParamExp:
		if v, ok := w.paramValue(x, sc, st); ok && w.spendExpansion(len(v)) {
			if q == unquoted {
				b.expanded(v)
			} else {
				b.literal(v)
			}
			return
		}
		b.dynamic(sc.text(x.Pos(), x.End()))
	case *syntax.ExtGlob:
		b.literal(sc.text(x.Pos(), x.End()))
	case *syntax.BraceExp:
		b.literal(sc.text(x.Pos(), x.End()))
	case *syntax.CmdSubst:
		if v, ok := w.foldSubst(x, sc, st); ok && w.spendExpansion(len(v)) {
			if q == unquoted {
				b.expanded(v)
			} else {
				b.literal(v)
			}
			return
		}
		b.dynamic(sc.text(p.Pos(), p.End()))
	default: // process and arithmetic substitutions, other command substitutions: not known statically
		b.dynamic(sc.text(p.Pos(), p.End()))
	}
}

// spendExpansion accounts for n bytes of substituted variable text; once the line has
// substituted more than maxExpandedBytes it reports false, and Parse fails.
func (w *walker) spendExpansion(n int) bool {
	w.expandBudget -= n
	return w.expandBudget >= 0
}

// paramValue returns the value of $NAME or ${NAME} when it is statically known.
func (w *walker) paramValue(p *syntax.ParamExp, sc scope, st *state) (string, bool) {
	if p.Param == nil || p.Flags != nil || p.Excl || p.Length || p.Width || p.IsSet ||
		p.Split != syntax.OptUnset || p.GlobSubst != syntax.OptUnset || p.RcExpand != syntax.OptUnset ||
		p.NestedParam != nil || p.Index != nil || len(p.Modifiers) > 0 || p.Slice != nil ||
		p.Repl != nil || p.Names != 0 || p.Exp != nil {
		return "", false
	}
	return st.lookup(p.Param.Value, sc)
}

// unescape removes the backslashes that quoting q gives a meaning to.
func unescape(s string, q quoting) string {
	if q == rawText || strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		n := s[i+1]
		switch {
		case n == '\n':
			i++ // line continuation
		case q == unquoted,
			n == '$' || n == '`' || n == '\\',
			n == '"' && q == doubleQuoted:
			b.WriteByte(n)
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeANSIC decodes the escapes of a $'...' string, as bash does: $'\x72\x6d' is "rm".
func decodeANSIC(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'e', 'E':
			b.WriteByte(0x1b)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"', '?':
			b.WriteByte(e)
		case 'c':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i] & 0x1f)
			} else {
				b.WriteString(`\c`)
			}
		case 'x', 'u', 'U':
			maxDigits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			j := i + 1
			for j < len(s) && j-i-1 < maxDigits && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			n, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			if e == 'x' {
				b.WriteByte(byte(n))
			} else if r := rune(n); utf8.ValidRune(r) {
				b.WriteRune(r)
			}
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j-i < 3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(s[i:j], 8, 16)
			b.WriteByte(byte(n))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// program is the base name of an argv[0] field with a leading backslash removed: the text after
// the last '/' that came from literal text.
func program(f field) string {
	p := f.val
	if f.progFrom > 0 && f.progFrom <= len(p) {
		p = p[f.progFrom:]
	}
	p = strings.TrimLeft(p, `\`)
	if p == "" {
		// "/", "dir/" or "\": keep the word itself so a program name is never empty.
		p = f.val
	}
	return p
}

// heredocQuoting says whether a heredoc's body is raw (its delimiter was quoted) or expanded.
func heredocQuoting(delim *syntax.Word) quoting {
	if delim == nil {
		return rawText
	}
	for _, p := range delim.Parts {
		lit, ok := p.(*syntax.Lit)
		if !ok || strings.IndexByte(lit.Value, '\\') >= 0 {
			return rawText
		}
	}
	return heredocBody
}
