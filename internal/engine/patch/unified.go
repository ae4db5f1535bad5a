package patch

import (
	"strconv"
	"strings"

	"github.com/cavra-dev/cavra"
)

const unifiedFormat = "unified diff"

const devNull = "/dev/null"

// ParseUnified parses a unified diff of one or more files, as `git diff`, `git format-patch`
// and `diff -u` write it. A created or changed file yields a write with the added lines; a
// deleted file a delete; a rename a move (followed by a write of the destination when the
// content changes too); a copy a write of the copy. Git's a/ and b/ prefixes are removed.
//
// Text before, between and after file sections (mail headers, commit messages, diffstat,
// `Only in` lines) is skipped, as `git apply` and `patch` skip it; but a hunk must match its
// header's line counts exactly, and a text without any file section is an error.
func ParseUnified(text string) ([]cavra.FileOp, error) {
	p := unifiedParser{lines: splitLines(text)}
	return p.parse()
}

type fileDiff struct {
	line                 int // 1-based line where the section starts
	git                  bool
	sawNames             bool // the "--- " / "+++ " pair was read
	oldPath, newPath     string
	renameFrom, renameTo string
	copyFrom, copyTo     string
	deleted, created     bool
	binary               bool
	hunks                int
	added                []string
}

type unifiedParser struct {
	lines []string
	ops   []cavra.FileOp
	files int
}

func (p *unifiedParser) parse() ([]cavra.FileOp, error) {
	var cur *fileDiff
	flush := func() error {
		if cur == nil {
			return nil
		}
		err := p.emit(cur)
		cur = nil
		return err
	}
	for i := 0; i < len(p.lines); {
		line := p.lines[i]
		switch {
		case strings.HasPrefix(line, "diff --git "):
			if err := flush(); err != nil {
				return nil, err
			}
			cur = &fileDiff{line: i + 1, git: true}
			if err := cur.gitNames(line[len("diff --git "):], i+1); err != nil {
				return nil, err
			}
			var err error
			if i, err = p.extendedHeaders(cur, i+1); err != nil {
				return nil, err
			}
		case strings.HasPrefix(line, "--- ") && i+1 < len(p.lines) && strings.HasPrefix(p.lines[i+1], "+++ "):
			if cur == nil || cur.sawNames {
				if err := flush(); err != nil {
					return nil, err
				}
				cur = &fileDiff{line: i + 1}
			}
			if err := cur.names(line[4:], p.lines[i+1][4:], i+1); err != nil {
				return nil, err
			}
			i += 2
			for i < len(p.lines) && strings.HasPrefix(p.lines[i], "@@") {
				var err error
				if i, err = p.hunk(cur, i); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(line, "@@ "):
			return nil, syntaxError(unifiedFormat, i+1, "hunk without a preceding ---/+++ file header")
		default:
			// Text outside a file section. A git section without ---/+++ (mode change, pure
			// rename, binary, empty file) ends here.
			if cur != nil && cur.git && !cur.sawNames {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			i++
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if p.files == 0 {
		return nil, syntaxError(unifiedFormat, 0, "no file header (\"diff --git\" or \"---\"/\"+++\") found")
	}
	return p.ops, nil
}

// extendedHeaders reads git's lines between "diff --git" and "---" and returns the next line.
func (p *unifiedParser) extendedHeaders(f *fileDiff, i int) (int, error) {
	for ; i < len(p.lines); i++ {
		line := p.lines[i]
		var err error
		switch {
		case strings.HasPrefix(line, "old mode "), strings.HasPrefix(line, "new mode "),
			strings.HasPrefix(line, "index "), strings.HasPrefix(line, "similarity index "),
			strings.HasPrefix(line, "dissimilarity index "):
		case strings.HasPrefix(line, "deleted file mode "):
			f.deleted = true
		case strings.HasPrefix(line, "new file mode "):
			f.created = true
		case strings.HasPrefix(line, "rename from "):
			f.renameFrom, err = unquotePath(line[len("rename from "):], i+1)
		case strings.HasPrefix(line, "rename to "):
			f.renameTo, err = unquotePath(line[len("rename to "):], i+1)
		case strings.HasPrefix(line, "copy from "):
			f.copyFrom, err = unquotePath(line[len("copy from "):], i+1)
		case strings.HasPrefix(line, "copy to "):
			f.copyTo, err = unquotePath(line[len("copy to "):], i+1)
		case strings.HasPrefix(line, "Binary files "):
			f.binary = true
		case line == "GIT binary patch":
			f.binary = true
			// Skip the base85 data up to the next file section.
			for i+1 < len(p.lines) && !strings.HasPrefix(p.lines[i+1], "diff --git ") {
				i++
			}
		default:
			return i, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return i, nil
}

// hunk reads one "@@ -a,b +c,d @@" hunk at line i and returns the line after it.
func (p *unifiedParser) hunk(f *fileDiff, i int) (int, error) {
	oldCount, newCount, err := hunkCounts(p.lines[i])
	if err != nil {
		return 0, syntaxError(unifiedFormat, i+1, "%v", err)
	}
	f.hunks++
	header := i
	for i++; oldCount > 0 || newCount > 0; i++ {
		if i >= len(p.lines) {
			return 0, syntaxError(unifiedFormat, header+1,
				"hunk ends early: %d old and %d new lines missing", oldCount, newCount)
		}
		line := p.lines[i]
		kind := byte(' ') // editors strip the space of empty context lines
		if line != "" {
			kind = line[0]
		}
		switch kind {
		case ' ':
			if oldCount == 0 || newCount == 0 {
				return 0, syntaxError(unifiedFormat, i+1, "context line beyond the hunk's line counts")
			}
			oldCount--
			newCount--
		case '-':
			if oldCount == 0 {
				return 0, syntaxError(unifiedFormat, i+1, "removed line beyond the hunk's old line count")
			}
			oldCount--
		case '+':
			if newCount == 0 {
				return 0, syntaxError(unifiedFormat, i+1, "added line beyond the hunk's new line count")
			}
			newCount--
			f.added = append(f.added, line[1:])
		case '\\': // "\ No newline at end of file"
		default:
			return 0, syntaxError(unifiedFormat, i+1,
				"unexpected line %q in hunk: %d old and %d new lines missing", line, oldCount, newCount)
		}
	}
	for i < len(p.lines) && strings.HasPrefix(p.lines[i], "\\") {
		i++
	}
	// An added line right after a complete hunk means the counts understate the hunk: refuse
	// rather than leave added text unexamined. (A "-" line may be a mail signature, "-- ".)
	if i < len(p.lines) && strings.HasPrefix(p.lines[i], "+") && !strings.HasPrefix(p.lines[i], "+++ ") {
		return 0, syntaxError(unifiedFormat, i+1, "added line beyond the hunk's new line count")
	}
	return i, nil
}

// hunkCounts parses "@@ -start[,count] +start[,count] @@ ...".
func hunkCounts(line string) (oldCount, newCount int, err error) {
	rest, ok := strings.CutPrefix(line, "@@ -")
	if !ok {
		return 0, 0, errBadHunkHeader(line)
	}
	oldRange, rest, ok := strings.Cut(rest, " +")
	if !ok {
		return 0, 0, errBadHunkHeader(line)
	}
	newRange, _, ok := strings.Cut(rest, " @@")
	if !ok {
		return 0, 0, errBadHunkHeader(line)
	}
	if oldCount, ok = rangeCount(oldRange); !ok {
		return 0, 0, errBadHunkHeader(line)
	}
	if newCount, ok = rangeCount(newRange); !ok {
		return 0, 0, errBadHunkHeader(line)
	}
	return oldCount, newCount, nil
}

func errBadHunkHeader(line string) error {
	return &hunkHeaderError{line: line}
}

type hunkHeaderError struct{ line string }

func (e *hunkHeaderError) Error() string {
	return "malformed hunk header " + strconv.Quote(e.line) + ": want \"@@ -start,count +start,count @@\""
}

// rangeCount parses "start[,count]"; the count defaults to 1. Counts are bounded so that a
// forged header cannot make the parser expect more lines than any real text has.
func rangeCount(r string) (int, bool) {
	start, count, hasCount := strings.Cut(r, ",")
	if _, ok := smallUint(start); !ok {
		return 0, false
	}
	if !hasCount {
		return 1, true
	}
	return smallUint(count)
}

func smallUint(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// gitNames reads the two paths of a "diff --git" line; they matter when no ---/+++ follows.
func (f *fileDiff) gitNames(rest string, line int) error {
	var a, b string
	if strings.HasPrefix(rest, `"`) {
		end := closingQuote(rest)
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ' ' {
			return syntaxError(unifiedFormat, line, "malformed diff --git line")
		}
		a, b = rest[:end+1], rest[end+2:]
	} else if strings.HasSuffix(rest, `"`) {
		start := strings.LastIndex(rest, ` "`)
		if start < 0 {
			return syntaxError(unifiedFormat, line, "malformed diff --git line")
		}
		a, b = rest[:start], rest[start+1:]
	} else {
		a, b = splitGitNames(rest)
	}
	var err error
	if a, err = unquotePath(a, line); err != nil {
		return err
	}
	if b, err = unquotePath(b, line); err != nil {
		return err
	}
	f.oldPath, f.newPath = stripPrefixes(a, b)
	return nil
}

// splitGitNames splits "a/P b/P" (or "P P" without prefixes) where P may contain spaces; for
// differing names it splits at " b/".
func splitGitNames(rest string) (string, string) {
	// Same name on both sides: "a/" + P + " b/" + P.
	if n := len(rest); n >= 5 && (n-5)%2 == 0 {
		l := (n - 5) / 2
		if strings.HasPrefix(rest, "a/") && rest[2+l:2+l+3] == " b/" && rest[2:2+l] == rest[5+l:] {
			return rest[:2+l], rest[2+l+1:]
		}
	}
	// --no-prefix: P + " " + P.
	if n := len(rest); n >= 3 && (n-1)%2 == 0 {
		l := (n - 1) / 2
		if rest[l] == ' ' && rest[:l] == rest[l+1:] {
			return rest[:l], rest[l+1:]
		}
	}
	if a, b, ok := strings.Cut(rest, " b/"); ok {
		return a, "b/" + b
	}
	a, b, _ := strings.Cut(rest, " ")
	return a, b
}

func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// names reads the "--- old" and "+++ new" names: a tab ends the name (diff -u puts a time
// stamp after it), git quotes names with unusual bytes, and /dev/null stands for no file.
func (f *fileDiff) names(oldField, newField string, line int) error {
	f.sawNames = true
	a, err := headerPath(oldField, line)
	if err != nil {
		return err
	}
	b, err := headerPath(newField, line+1)
	if err != nil {
		return err
	}
	if a == "" || b == "" {
		return syntaxError(unifiedFormat, line, "empty file name")
	}
	if a == devNull && b == devNull {
		return syntaxError(unifiedFormat, line, "both sides are /dev/null")
	}
	f.oldPath, f.newPath = stripPrefixes(a, b)
	if a == devNull {
		f.created = true
	}
	if b == devNull {
		f.deleted = true
	}
	return nil
}

func headerPath(field string, line int) (string, error) {
	if strings.HasPrefix(field, `"`) {
		end := closingQuote(field)
		if end < 0 {
			return "", syntaxError(unifiedFormat, line, "unterminated quoted file name")
		}
		return unquotePath(field[:end+1], line)
	}
	name, _, _ := strings.Cut(field, "\t")
	return strings.TrimRight(name, " "), nil
}

func unquotePath(s string, line int) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		return s, nil
	}
	// Git quotes like C; Go's double-quoted syntax reads the same escapes, octal included.
	u, err := strconv.Unquote(s)
	if err != nil {
		return "", syntaxError(unifiedFormat, line, "malformed quoted file name %s", s)
	}
	return u, nil
}

// stripPrefixes removes git's "a/" and "b/" when the names carry them (one side may be
// /dev/null); names without them, as `diff -u` writes, are kept.
func stripPrefixes(a, b string) (string, string) {
	aHas, bHas := strings.HasPrefix(a, "a/"), strings.HasPrefix(b, "b/")
	switch {
	case aHas && bHas, aHas && b == devNull, a == devNull && bHas:
		return strings.TrimPrefix(a, "a/"), strings.TrimPrefix(b, "b/")
	}
	return a, b
}

// emit turns one file section into file operations.
func (p *unifiedParser) emit(f *fileDiff) error {
	p.files++
	content := strings.Join(f.added, "\n")
	write := func(path string) {
		p.ops = append(p.ops, cavra.FileOp{Op: cavra.FileWrite, Path: path, Raw: path, Content: content})
	}
	switch {
	case f.renameFrom != "" || f.renameTo != "":
		if f.renameFrom == "" || f.renameTo == "" {
			return syntaxError(unifiedFormat, f.line, "rename without both \"rename from\" and \"rename to\"")
		}
		p.ops = append(p.ops, cavra.FileOp{Op: cavra.FileMove, Path: f.renameFrom, Raw: f.renameFrom, To: f.renameTo})
		if f.hunks > 0 || f.binary {
			write(f.renameTo)
		}
	case f.copyFrom != "" || f.copyTo != "":
		if f.copyTo == "" {
			return syntaxError(unifiedFormat, f.line, "copy without \"copy to\"")
		}
		write(f.copyTo)
	case f.deleted:
		if f.oldPath == "" || f.oldPath == devNull {
			return syntaxError(unifiedFormat, f.line, "deleted file without a name")
		}
		p.ops = append(p.ops, cavra.FileOp{Op: cavra.FileDelete, Path: f.oldPath, Raw: f.oldPath})
	default:
		target := f.newPath
		if target == "" || target == devNull {
			return syntaxError(unifiedFormat, f.line, "changed file without a name")
		}
		write(target)
		// `diff -u old new` between differently named files: patch(1) may pick either name,
		// so both count as written.
		if !f.git && !f.created && f.oldPath != target && f.oldPath != "" && f.oldPath != devNull {
			write(f.oldPath)
		}
	}
	return nil
}
