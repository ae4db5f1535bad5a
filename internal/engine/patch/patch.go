// Package patch turns the patches agents edit files with into the file operations they perform:
// Codex `apply_patch` envelopes and unified diffs (`git diff`, `diff -u`).
//
// Each parser returns one cavra.FileOp per effect, with Path as written in the patch (the caller
// resolves it against the action's cwd) and Content holding the lines the patch adds, joined
// with "\n", so that the added text can be checked for secrets. Malformed input is an error that
// names the line, never a partial result: an edit that cannot be understood must not be allowed
// silently.
package patch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cavra-dev/cavra"
)

// SyntaxError says where and why a patch could not be parsed. Parse functions return it wrapped
// in a *cavra.Error with code cavra.ErrInvalid; use errors.As to reach it.
type SyntaxError struct {
	Format string // "apply_patch" or "unified diff"
	Line   int    // 1-based line of the input text; 0 when the error concerns the whole text
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Format + ": " + e.Msg
	}
	return fmt.Sprintf("%s: line %d: %s", e.Format, e.Line, e.Msg)
}

func syntaxError(format string, line int, msg string, args ...any) error {
	return cavra.Errorf(cavra.ErrInvalid, "parse patch: %w",
		&SyntaxError{Format: format, Line: line, Msg: fmt.Sprintf(msg, args...)})
}

// ErrUnknownFormat is returned (wrapped) by Parse for text that is neither format.
var ErrUnknownFormat = errors.New("neither an apply_patch envelope nor a unified diff")

// Parse detects the format of text and parses it: a Codex apply_patch envelope (also wrapped
// in a heredoc or an `apply_patch <<'EOF'` command) or a unified diff.
func Parse(text string) ([]cavra.FileOp, error) {
	switch detect(text) {
	case formatApplyPatch:
		return ParseApplyPatch(text)
	case formatUnified:
		return ParseUnified(text)
	}
	return nil, cavra.Errorf(cavra.ErrInvalid, "parse patch: %w", ErrUnknownFormat)
}

type format int

const (
	formatUnknown format = iota
	formatApplyPatch
	formatUnified
)

// detect decides by the first non-blank line whether text is an apply_patch envelope (the
// begin marker, or a heredoc opener followed by it); otherwise a `diff --git` line, or a "--- "
// line followed by "+++ ", anywhere makes it a unified diff (mail headers and commit messages
// may precede the diff).
func detect(text string) format {
	lines := splitLines(text)
	first, _ := nonBlankBounds(lines, 0, len(lines))
	if first < 0 {
		return formatUnknown
	}
	if t := strings.TrimSpace(lines[first]); t == beginMarker {
		return formatApplyPatch
	} else if isHeredocOpener(t) {
		if next, _ := nonBlankBounds(lines, first+1, len(lines)); next >= 0 && strings.TrimSpace(lines[next]) == beginMarker {
			return formatApplyPatch
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "diff --git ") ||
			(strings.HasPrefix(l, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ ")) {
			return formatUnified
		}
	}
	return formatUnknown
}

func isHeredocOpener(line string) bool {
	_, _, _, ok := parseHeredocOpener(line)
	return ok
}

// splitLines splits on "\n" and drops one trailing "\r" per line, as Rust's str::lines (which
// Codex uses) and `git apply` do. A final newline does not start an empty last line.
func splitLines(text string) []string {
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}
