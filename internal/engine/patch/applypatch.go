package patch

import (
	"path/filepath"
	"strings"

	"github.com/cavra-dev/cavra"
)

// The apply_patch grammar (Codex, codex-rs/apply-patch):
//
//	patch   := "*** Begin Patch" LF hunk* "*** End Patch" LF?
//	hunk    := add | delete | update
//	add     := "*** Add File: " path LF ("+" line LF)*
//	delete  := "*** Delete File: " path LF
//	update  := "*** Update File: " path LF ("*** Move to: " path LF)? chunk+
//	chunk   := ("@@" | "@@ " context) LF (" " | "-" | "+" line LF)+ ("*** End of File" LF)?
//
// Codex is lenient in ways this parser follows, so that no patch Codex would apply is refused
// or misread: surrounding whitespace around the whole text and the markers, CRLF line ends, a
// first chunk without "@@", empty lines inside a chunk read as empty context, blank lines
// between chunks, and the envelope wrapped in a heredoc ("<<'EOF'" ... "EOF"). Beyond Codex,
// the shell form agents write, `apply_patch <<'EOF'` (or `applypatch`, optionally after
// `cd dir &&`), is accepted with any heredoc delimiter; paths then join that directory.
const (
	beginMarker  = "*** Begin Patch"
	endMarker    = "*** End Patch"
	addMarker    = "*** Add File: "
	deleteMarker = "*** Delete File: "
	updateMarker = "*** Update File: "
	moveMarker   = "*** Move to: "
	eofMarker    = "*** End of File"
)

const applyPatchFormat = "apply_patch"

// ParseApplyPatch parses a Codex apply_patch envelope. Add File yields a write with the whole
// content; Update File a write with the added lines (preceded by a move when the file is
// renamed, the write then naming the destination); Delete File a delete.
func ParseApplyPatch(text string) ([]cavra.FileOp, error) {
	lines := splitLines(text)
	first, last, dir, err := envelope(lines)
	if err != nil {
		return nil, err
	}
	p := applyPatchParser{lines: lines, end: last, dir: dir}
	return p.parse(first + 1)
}

// envelope finds the "*** Begin Patch" and "*** End Patch" lines, unwrapping a heredoc.
func envelope(lines []string) (begin, end int, dir string, err error) {
	first, last := nonBlankBounds(lines, 0, len(lines))
	if first < 0 {
		return 0, 0, "", syntaxError(applyPatchFormat, 0, "empty patch")
	}
	if strings.TrimSpace(lines[first]) == beginMarker && last > first && strings.TrimSpace(lines[last]) == endMarker {
		return first, last, "", nil
	}
	dir, delim, stripTabs, ok := parseHeredocOpener(lines[first])
	if !ok {
		if strings.TrimSpace(lines[first]) != beginMarker {
			return 0, 0, "", syntaxError(applyPatchFormat, first+1, "the first line of the patch must be %q", beginMarker)
		}
		return 0, 0, "", syntaxError(applyPatchFormat, last+1, "the last line of the patch must be %q", endMarker)
	}
	// As in the shell, the heredoc ends at the first line that is exactly the delimiter (after
	// leading tabs, for <<-). Text after it would run as commands, so it is refused. A last line
	// that is the delimiter with surrounding blanks also closes it, as Codex accepts that.
	closing := -1
	for i := first + 1; i < len(lines); i++ {
		l := lines[i]
		if stripTabs {
			l = strings.TrimLeft(l, "\t")
		}
		if l == delim {
			closing = i
			break
		}
	}
	if closing < 0 && last > first && strings.TrimSpace(lines[last]) == delim {
		closing = last
	}
	if closing < 0 {
		return 0, 0, "", syntaxError(applyPatchFormat, first+1, "heredoc %q is not closed", delim)
	}
	if closing != last {
		return 0, 0, "", syntaxError(applyPatchFormat, closing+2, "unexpected text after the heredoc")
	}
	in, inLast := nonBlankBounds(lines, first+1, closing)
	if in < 0 || strings.TrimSpace(lines[in]) != beginMarker {
		return 0, 0, "", syntaxError(applyPatchFormat, first+2, "the first line of the patch must be %q", beginMarker)
	}
	if inLast == in || strings.TrimSpace(lines[inLast]) != endMarker {
		return 0, 0, "", syntaxError(applyPatchFormat, inLast+1, "the last line of the patch must be %q", endMarker)
	}
	return in, inLast, dir, nil
}

// nonBlankBounds returns the first and last non-blank lines in lines[from:to], or -1, -1.
func nonBlankBounds(lines []string, from, to int) (first, last int) {
	first, last = -1, -1
	for i := from; i < to; i++ {
		if strings.TrimSpace(lines[i]) != "" {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// parseHeredocOpener recognises `<<EOF`, `<<'EOF'`, `<<"EOF"`, `<<-EOF`, each optionally
// preceded by `apply_patch` or `applypatch`, and that preceded by `cd dir &&`. stripTabs
// reports the `<<-` form, whose closing line may be indented with tabs.
func parseHeredocOpener(line string) (dir, delim string, stripTabs, ok bool) {
	s := strings.TrimSpace(line)
	if rest, found := strings.CutPrefix(s, "cd "); found {
		target, after, found := strings.Cut(rest, "&&")
		if !found {
			return "", "", false, false
		}
		dir, ok = shellWord(strings.TrimSpace(target))
		if !ok || dir == "" {
			return "", "", false, false
		}
		s = strings.TrimSpace(after)
	}
	switch {
	case strings.HasPrefix(s, "apply_patch"):
		s = s[len("apply_patch"):]
	case strings.HasPrefix(s, "applypatch"):
		s = s[len("applypatch"):]
	case dir != "":
		return "", "", false, false
	}
	s = strings.TrimSpace(s)
	s, found := strings.CutPrefix(s, "<<")
	if !found {
		return "", "", false, false
	}
	s, stripTabs = strings.CutPrefix(s, "-")
	delim, ok = shellWord(strings.TrimSpace(s))
	if !ok || delim == "" || strings.ContainsAny(delim, " \t") {
		return "", "", false, false
	}
	return dir, delim, stripTabs, true
}

// shellWord unquotes one shell word made of a single-quoted, double-quoted or bare string.
func shellWord(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') {
		q := s[0]
		inner := s[1 : len(s)-1]
		if s[len(s)-1] != q || strings.IndexByte(inner, q) >= 0 || strings.IndexByte(inner, '\\') >= 0 {
			return "", false
		}
		return inner, true
	}
	if strings.ContainsAny(s, " \t'\"\\$`;|&<>()") {
		return "", false
	}
	return s, true
}

type applyPatchParser struct {
	lines []string
	end   int    // index of the "*** End Patch" line
	dir   string // directory from `cd dir &&`, joined to relative paths
	ops   []cavra.FileOp
}

func (p *applyPatchParser) path(raw string) string {
	if p.dir == "" || filepath.IsAbs(raw) {
		return raw
	}
	return filepath.Join(p.dir, raw)
}

func (p *applyPatchParser) parse(i int) ([]cavra.FileOp, error) {
	for i < p.end {
		header := strings.TrimSpace(p.lines[i])
		var err error
		switch {
		case strings.HasPrefix(header, addMarker):
			i, err = p.add(i, header[len(addMarker):])
		case strings.HasPrefix(header, deleteMarker):
			raw := header[len(deleteMarker):]
			p.ops = append(p.ops, cavra.FileOp{Op: cavra.FileDelete, Path: p.path(raw), Raw: raw})
			i++
		case strings.HasPrefix(header, updateMarker):
			i, err = p.update(i, header[len(updateMarker):])
		default:
			err = syntaxError(applyPatchFormat, i+1,
				"%q is not a valid hunk header: want %q, %q or %q followed by a path",
				header, addMarker, deleteMarker, updateMarker)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.ops == nil {
		p.ops = []cavra.FileOp{}
	}
	return p.ops, nil
}

func (p *applyPatchParser) add(i int, raw string) (int, error) {
	var content []string
	for i++; i < p.end; i++ {
		line, ok := strings.CutPrefix(p.lines[i], "+")
		if !ok {
			break
		}
		content = append(content, line)
	}
	p.ops = append(p.ops, cavra.FileOp{Op: cavra.FileWrite, Path: p.path(raw), Raw: raw, Content: strings.Join(content, "\n")})
	return i, nil
}

func (p *applyPatchParser) update(i int, raw string) (int, error) {
	headerLine := i
	i++
	var moveTo string
	if i < p.end {
		if to, ok := strings.CutPrefix(p.lines[i], moveMarker); ok {
			if strings.TrimSpace(to) == "" {
				return 0, syntaxError(applyPatchFormat, i+1, "move of %q has no destination", raw)
			}
			moveTo = to
			i++
		}
	}
	var added []string
	chunks := 0
	for i < p.end {
		line := p.lines[i]
		if strings.TrimSpace(line) == "" {
			i++
			continue
		}
		if strings.HasPrefix(line, "*") {
			break
		}
		n, lines, err := p.chunk(i, chunks == 0)
		if err != nil {
			return 0, err
		}
		added = append(added, lines...)
		chunks++
		i += n
	}
	if chunks == 0 {
		return 0, syntaxError(applyPatchFormat, headerLine+1, "update of %q has no hunk", raw)
	}
	content := strings.Join(added, "\n")
	if moveTo != "" {
		p.ops = append(p.ops,
			cavra.FileOp{Op: cavra.FileMove, Path: p.path(raw), Raw: raw, To: p.path(moveTo)},
			cavra.FileOp{Op: cavra.FileWrite, Path: p.path(moveTo), Raw: moveTo, Content: content})
		return i, nil
	}
	p.ops = append(p.ops, cavra.FileOp{Op: cavra.FileWrite, Path: p.path(raw), Raw: raw, Content: content})
	return i, nil
}

// chunk parses one update chunk at line i and returns how many lines it used and its added
// lines. Only the first chunk of a file may omit its "@@" line.
func (p *applyPatchParser) chunk(i int, first bool) (int, []string, error) {
	start := i
	switch {
	case p.lines[i] == "@@" || strings.HasPrefix(p.lines[i], "@@ "):
		i++
	case !first:
		return 0, nil, syntaxError(applyPatchFormat, i+1, "expected an update hunk to start with an @@ line, got %q", p.lines[i])
	}
	if i >= p.end {
		return 0, nil, syntaxError(applyPatchFormat, i+1, "update hunk has no lines")
	}
	var added []string
	body := 0
loop:
	for ; i < p.end; i++ {
		line := p.lines[i]
		if line == eofMarker {
			if body == 0 {
				return 0, nil, syntaxError(applyPatchFormat, i+1, "update hunk has no lines")
			}
			i++
			break
		}
		switch {
		case line == "", line[0] == ' ', line[0] == '-':
		case line[0] == '+':
			added = append(added, line[1:])
		default:
			if body == 0 {
				return 0, nil, syntaxError(applyPatchFormat, i+1,
					"unexpected line %q in update hunk: lines start with ' ' (context), '+' (added) or '-' (removed)", line)
			}
			// The next chunk or file starts here.
			break loop
		}
		body++
	}
	return i - start, added, nil
}
