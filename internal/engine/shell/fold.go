package shell

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// maxFoldDepth bounds how many nested substitutions are folded: $(echo $(echo x)) is two.
const maxFoldDepth = 8

// foldSubst returns the output of a command substitution that only prints literal text with
// echo or printf, such as $(echo .env) or "$(printf '.en”v')": building a file or program name
// that way hides it from every rule that reads words, so its value is computed instead. Any
// other substitution is unknown.
func (w *walker) foldSubst(x *syntax.CmdSubst, sc scope, st *state) (string, bool) {
	if w.noFold || w.foldDepth >= maxFoldDepth || len(x.Stmts) != 1 {
		return "", false
	}
	s := x.Stmts[0]
	if s.Background || s.Coprocess || s.Disown || s.Negated || len(s.Redirs) > 0 {
		return "", false
	}
	call, ok := s.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Assigns) > 0 || len(call.Args) == 0 || !isEchoOrPrintf(call.Args[0]) {
		return "", false
	}
	w.foldDepth++
	defer func() { w.foldDepth-- }()
	var argv []field
	for _, word := range call.Args {
		argv = w.fields(word, sc, st, argv)
	}
	if len(argv) == 0 {
		return "", false
	}
	args := make([]string, 0, len(argv)-1)
	for _, f := range argv {
		if f.dyn {
			return "", false
		}
	}
	for _, f := range argv[1:] {
		args = append(args, f.val)
	}
	var out string
	switch argv[0].val {
	case "echo":
		out = echoOutput(args)
	case "printf":
		if len(args) == 0 || strings.HasPrefix(args[0], "-") { // printf -v NAME prints nothing
			return "", false
		}
		if out, ok = printfOutput(args[0], args[1:]); !ok {
			return "", false
		}
	default:
		return "", false
	}
	return strings.TrimRight(out, "\n"), true // a substitution drops trailing newlines
}

// echoOutput is what bash's echo prints for args.
func echoOutput(args []string) string {
	escapes := false
	for len(args) > 0 && isEchoFlags(args[0]) {
		escapes = strings.Contains(args[0], "e")
		args = args[1:]
	}
	out := strings.Join(args, " ")
	if escapes {
		out = decodeANSIC(out)
	}
	return out
}

// printfOutput is what printf prints for a format that uses only %s, %b and %%; it reports false
// for any other conversion. Like printf, it reuses the format while arguments remain.
func printfOutput(format string, args []string) (string, bool) {
	var b strings.Builder
	for {
		consumed := false
		for i := 0; i < len(format); i++ {
			if format[i] != '%' {
				j := strings.IndexByte(format[i:], '%')
				if j < 0 {
					j = len(format) - i
				}
				b.WriteString(decodeANSIC(format[i : i+j]))
				i += j - 1
				continue
			}
			if i+1 == len(format) {
				return "", false
			}
			i++
			switch format[i] {
			case '%':
				b.WriteByte('%')
			case 's', 'b':
				arg := ""
				if len(args) > 0 {
					arg, args, consumed = args[0], args[1:], true
				}
				if format[i] == 'b' {
					arg = decodeANSIC(arg)
				}
				b.WriteString(arg)
			default:
				return "", false
			}
		}
		if !consumed || len(args) == 0 {
			return b.String(), true
		}
	}
}

// isEchoOrPrintf reports whether a command word is a literal echo or printf, checked before
// expanding any word so that other substitutions cost nothing.
func isEchoOrPrintf(word *syntax.Word) bool {
	if len(word.Parts) != 1 {
		return false
	}
	lit, ok := word.Parts[0].(*syntax.Lit)
	return ok && (lit.Value == "echo" || lit.Value == "printf")
}
