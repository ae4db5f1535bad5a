package engine

import (
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// prefilteredMatches replace CEL's compiled `matches` for constant patterns with one that first
// looks for a literal every match must contain. The policies' long alternations (`subprocess|
// os\.system|...`) are tried by Go's backtracker at every position of every argument, which is
// most of a decision's time for an interpreter command, while almost no argument holds any of the
// literals. Both overloads are named because CEL's own optimisation keys on the function name
// and is registered after these.
var prefilteredMatches = []*interpreter.RegexOptimization{
	{Function: "matches", OverloadID: "matches", RegexIndex: 1, Factory: prefilteredMatchCall},
	{Function: "matches", OverloadID: "matches_string", RegexIndex: 1, Factory: prefilteredMatchCall},
}

// prefilteredMatchCall is CEL's matches optimisation (interpreter.MatchesRegexOptimization)
// with the literal prefilter in front: the same compilation, errors and results.
func prefilteredMatchCall(call interpreter.InterpretableCall, pattern string) (interpreter.InterpretableCall, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	args := call.Args()
	if len(args) != 2 {
		return interpreter.MatchesRegexOptimization.Factory(call, pattern) // not a matches call we know
	}
	return &matchCall{InterpretableCall: call, args: [2]interpreter.InterpretableV2(args), re: re, required: requiredLiterals(pattern)}, nil
}

// matchCall evaluates `text.matches(pattern)` for a constant pattern. It is the call
// interpreter.NewCall builds for CEL's optimisation, evaluated the same way (errors and unknown
// arguments first), without a slice of arguments per evaluation.
type matchCall struct {
	interpreter.InterpretableCall // the original call: id, function, overload, arguments
	// args are the call's arguments, kept: a binary call makes a new slice of them per Args().
	args     [2]interpreter.InterpretableV2
	re       *regexp.Regexp
	required []literal
}

// Exec implements interpreter.InterpretableV2.
func (c *matchCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	var vals [2]ref.Val
	var unk *types.Unknown
	for i, arg := range c.args {
		vals[i] = arg.Exec(frame)
		if types.IsError(vals[i]) {
			return vals[i]
		}
		unk, _ = types.MaybeMergeUnknowns(vals[i], unk)
	}
	if unk != nil {
		return unk
	}
	return types.LabelErrNode(c.ID(), c.match(vals[0]))
}

// Eval implements interpreter.Interpretable.
func (c *matchCall) Eval(activation interpreter.Activation) ref.Val {
	return c.Exec(interpreter.AsFrame(activation))
}

func (c *matchCall) match(text ref.Val) ref.Val {
	in, ok := text.(types.String) // what a CEL string is; Value() would allocate
	if !ok {
		s, isString := text.Value().(string)
		if !isString {
			return types.NoSuchOverloadErr()
		}
		in = types.String(s)
	}
	if c.required != nil && !mayContain(string(in), c.required) {
		return types.False
	}
	return types.Bool(c.re.MatchString(string(in)))
}

// literal is text a match must hold; fold says it is matched without regard to case, and is
// then ASCII and in lower case.
type literal struct {
	text string
	fold bool
}

// mayContain reports whether s holds one of literals. It is true when it cannot tell: for a
// case-folded literal and non-ASCII s, whose letters may fold to ASCII ones (K, the Kelvin sign).
func mayContain(s string, literals []literal) bool {
	lower := ""
	for _, l := range literals {
		if !l.fold {
			if strings.Contains(s, l.text) {
				return true
			}
			continue
		}
		if lower == "" {
			if !isASCII(s) {
				return true
			}
			lower = strings.ToLower(s)
		}
		if strings.Contains(lower, l.text) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// maxRequiredLiterals bounds the prefilter: past it, checking literals costs more than it saves.
const maxRequiredLiterals = 32

// requiredLiterals returns literals of which every match of pattern contains at least one, or
// nil when there is no such short list (a pattern that can match without any fixed text).
func requiredLiterals(pattern string) []literal {
	re, err := syntax.Parse(pattern, syntax.Perl) // the flags regexp.Compile uses
	if err != nil {
		return nil
	}
	return literalsOf(re)
}

func literalsOf(re *syntax.Regexp) []literal {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil
		}
		if re.Flags&syntax.FoldCase == 0 {
			return []literal{{text: string(re.Rune)}}
		}
		text := string(re.Rune)
		if !isASCII(text) {
			return nil
		}
		return []literal{{text: strings.ToLower(text), fold: true}}
	case syntax.OpCapture, syntax.OpPlus:
		return literalsOf(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min < 1 {
			return nil
		}
		return literalsOf(re.Sub[0])
	case syntax.OpConcat:
		// Every part is in every match: any part's literals will do, the longest the best.
		var best []literal
		for _, sub := range re.Sub {
			if l := literalsOf(sub); l != nil && (best == nil || shortest(l) > shortest(best)) {
				best = l
			}
		}
		return best
	case syntax.OpAlternate:
		// A match is one of the alternatives: it holds a literal of that one.
		var all []literal
		for _, sub := range re.Sub {
			l := literalsOf(sub)
			if l == nil {
				return nil
			}
			all = append(all, l...)
		}
		if len(all) > maxRequiredLiterals {
			return nil
		}
		return all
	}
	return nil
}

func shortest(literals []literal) int {
	n := len(literals[0].text)
	for _, l := range literals[1:] {
		n = min(n, len(l.text))
	}
	return n
}
