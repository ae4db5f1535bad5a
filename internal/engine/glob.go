package engine

import (
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// glob is a pattern compiled once. Most policy patterns are a literal, a literal prefix
// ("/etc/**"), or a literal last element anywhere ("**/.env"); those skip the general matcher,
// which matters because every rule's patterns run against every path of every action.
type glob struct {
	pattern string
	kind    globKind
	lit     string // the literal, prefix or suffix
	dir     string // globDirStarts, globDirStar: the directory, with its trailing slash
	// pieces are the literal parts between the stars of a one-element pattern such as
	// "*SECRET*" or "service-account*.json" (globStar, globBaseStar, globDirStar).
	pieces []string
	// homeRelative patterns ("~/.ssh/**") match paths under the action's home directory.
	homeRelative bool
}

type globKind int

const (
	globExact      globKind = iota // "main"
	globPrefix                     // "/etc/**": the literal "/etc" or anything under "/etc/"
	globSuffix                     // "**/.env", "**/.git/gc.log": last elements equal to lit, at any depth
	globUnder                      // "**/.git/**": the elements lit, or anything under them, at any depth
	globBaseEnds                   // "**/*.pem": a last element ending in lit, at any depth
	globBaseStarts                 // "**/.env.*": a last element starting with lit, at any depth
	globDirStarts                  // "/dev/sd*": in directory dir, a name starting with lit
	globStar                       // "*TOKEN*": one element matching pieces
	globBaseStar                   // "**/iam_*.tf": a last element matching pieces, at any depth
	globDirStar                    // ".ssh/*_rsa": in directory dir, a name matching pieces
	globGeneral                    // anything else, by doublestar
	globInvalid                    // a malformed pattern, which matches nothing
)

func compileGlob(p string) glob {
	g := glob{pattern: p, kind: globGeneral}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		g.homeRelative = true
		p = rest
		g.pattern = rest
	} else if p == "~" {
		g.homeRelative = true
		g.kind, g.lit, g.pattern = globExact, "", ""
		return g
	}
	switch {
	case !hasMeta(p):
		g.kind, g.lit = globExact, p
	case strings.HasSuffix(p, "/**") && !hasMeta(p[:len(p)-3]):
		g.kind, g.lit = globPrefix, p[:len(p)-3]
	case strings.HasPrefix(p, "**/") && !hasMeta(p[3:]) && literalElements(p[3:]):
		g.kind, g.lit = globSuffix, p[3:]
	case strings.HasPrefix(p, "**/") && strings.HasSuffix(p, "/**") && len(p) > 6 && !hasMeta(p[3:len(p)-3]) &&
		literalElements(p[3:len(p)-3]):
		g.kind, g.lit = globUnder, p[3:len(p)-3]
	case strings.HasPrefix(p, "**/*") && !hasMeta(p[4:]) && !strings.Contains(p[4:], "/"):
		g.kind, g.lit = globBaseEnds, p[4:]
	case strings.HasPrefix(p, "**/") && strings.HasSuffix(p, "*") && !hasMeta(p[3:len(p)-1]) && !strings.Contains(p[3:], "/"):
		g.kind, g.lit = globBaseStarts, p[3:len(p)-1]
	case starElement(p):
		g.kind, g.pieces = globStar, strings.Split(p, "*")
	case strings.HasPrefix(p, "**/") && starElement(p[3:]):
		g.kind, g.pieces = globBaseStar, strings.Split(p[3:], "*")
	default:
		i := strings.LastIndexByte(p, '/')
		switch {
		case i >= 0 && strings.HasSuffix(p, "*") && !hasMeta(p[:len(p)-1]):
			g.kind, g.dir, g.lit = globDirStarts, p[:i+1], p[i+1:len(p)-1]
		case i > 0 && !hasMeta(p[:i]) && starElement(p[i+1:]):
			g.kind, g.dir, g.pieces = globDirStar, p[:i+1], strings.Split(p[i+1:], "*")
		case !doublestar.ValidatePattern(p):
			g.kind = globInvalid
		}
	}
	return g
}

// base is the last element of v.
func base(v string) string {
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[i+1:]
	}
	return v
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[{\`) }

// literalElements reports whether s is one or more non-empty path elements, such as ".git/gc.log".
func literalElements(s string) bool {
	return s != "" && s[0] != '/' && s[len(s)-1] != '/' && !strings.Contains(s, "//")
}

// starElement reports whether s is one path element whose only glob character is '*', with
// no two stars in a row (which would make "**").
func starElement(s string) bool {
	return strings.Contains(s, "*") && !strings.ContainsAny(s, `/?[{\`) && !strings.Contains(s, "**")
}

// matchPieces reports whether the one element v is pieces joined by runs of any characters,
// which is how a one-element pattern with only '*' matches. Taking each middle piece at its
// first occurrence is enough: a later one leaves less room for the rest.
func matchPieces(pieces []string, v string) bool {
	if strings.IndexByte(v, '/') >= 0 {
		return false
	}
	first, last := pieces[0], pieces[len(pieces)-1]
	if len(v) < len(first)+len(last) || !strings.HasPrefix(v, first) || !strings.HasSuffix(v, last) {
		return false
	}
	v = v[len(first) : len(v)-len(last)]
	for _, piece := range pieces[1 : len(pieces)-1] {
		i := strings.Index(v, piece)
		if i < 0 {
			return false
		}
		v = v[i+len(piece):]
	}
	return true
}

// match reports whether v matches; home is the action's home for "~/" patterns.
func (g *glob) match(v, home string) bool {
	if g.homeRelative {
		if home == "" {
			return false
		}
		home = strings.TrimSuffix(home, "/")
		if g.kind == globExact && g.lit == "" && g.pattern == "" {
			return v == home
		}
		rest, ok := underHome(v, home)
		if !ok {
			return false
		}
		v = rest
	}
	switch g.kind {
	case globExact:
		return v == g.lit
	case globPrefix:
		if g.lit == "" { // "/**"
			return strings.HasPrefix(v, "/")
		}
		return v == g.lit || (strings.HasPrefix(v, g.lit) && len(v) > len(g.lit) && v[len(g.lit)] == '/')
	case globSuffix:
		return v == g.lit || len(v) > len(g.lit) && strings.HasSuffix(v, g.lit) && v[len(v)-len(g.lit)-1] == '/'
	case globUnder:
		return underElements(v, g.lit)
	case globBaseEnds:
		return v != "" && strings.HasSuffix(base(v), g.lit)
	case globBaseStarts:
		return strings.HasPrefix(base(v), g.lit)
	case globDirStarts:
		rest, ok := strings.CutPrefix(v, g.dir)
		return ok && strings.HasPrefix(rest, g.lit) && !strings.Contains(rest, "/")
	case globStar:
		return matchPieces(g.pieces, v)
	case globBaseStar:
		return v != "" && matchPieces(g.pieces, base(v))
	case globDirStar:
		rest, ok := strings.CutPrefix(v, g.dir)
		return ok && matchPieces(g.pieces, rest)
	case globInvalid:
		return false
	}
	// The pattern was validated when compiled.
	return doublestar.MatchUnvalidated(g.pattern, v)
}

// underElements reports whether the path elements lit occur whole in v, as "**/lit/**" matches:
// v is lit, starts with "lit/", ends with "/lit" or holds "/lit/".
func underElements(v, lit string) bool {
	for i := 0; i+len(lit) <= len(v); {
		j := strings.Index(v[i:], lit)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(lit)
		if (start == 0 || v[start-1] == '/') && (end == len(v) || v[end] == '/') {
			return true
		}
		i = start + 1
	}
	return false
}

// underHome returns v relative to home when v is under it; home has no trailing slash. It is
// strings.CutPrefix(v, home+"/") without building that string on every match.
func underHome(v, home string) (string, bool) {
	if len(v) > len(home) && v[len(home)] == '/' && strings.HasPrefix(v, home) {
		return v[len(home)+1:], true
	}
	return "", false
}

type globs []glob

func compileGlobs(patterns []string) globs {
	if len(patterns) == 0 {
		return nil
	}
	out := make(globs, len(patterns))
	for i, p := range patterns {
		out[i] = compileGlob(p)
	}
	return out
}

// any reports whether v matches one of the globs; no globs means no constraint.
func (gs globs) any(v, home string) bool {
	if gs == nil {
		return true
	}
	for i := range gs {
		if gs[i].match(v, home) {
			return true
		}
	}
	return false
}

// hit reports whether v matches one of the globs; no globs means no match.
func (gs globs) hit(v, home string) bool {
	for i := range gs {
		if gs[i].match(v, home) {
			return true
		}
	}
	return false
}

// literals returns the patterns' literal values when every pattern is an exact literal.
func (gs globs) literals() ([]string, bool) {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		if g.kind != globExact || g.homeRelative {
			return nil, false
		}
		out = append(out, g.lit)
	}
	return out, true
}

// couldExpandTo reports whether v, a path holding shell glob characters (an agent's `cat .e*`),
// could expand to a file this glob names. Only globs that name a file (a literal path, or a
// literal last element at any depth such as "**/.env") take part: a pattern over a whole family
// ("**/*.pem") would make every `grep x *` a credential read. As in bash by default, `*` and `?`
// do not match a leading dot, and a last element made only of glob characters expands to nothing
// we can name.
func (g *glob) couldExpandTo(v, home string) bool {
	x, ok := globbed(v)
	return ok && g.expandsTo(&x, home)
}

// globbedPath is what matching a path holding glob characters needs to know of it, worked out
// once for all the globs it is tried against.
type globbedPath struct {
	v, base string
	// With only '*' and '?' in it, the last element keeps its text before the first and after
	// the last of them: a candidate without that text cannot match, and most cannot.
	filter         bool
	prefix, suffix string
	// When the only glob characters are one {a,b} group in the last element, the last elements
	// it expands to: a candidate matches when equal to one.
	expansions []string
}

// globbed describes v, and reports whether v's last element holds glob characters that can
// expand to a name: not when it has none, nor when it is made only of them.
func globbed(v string) (globbedPath, bool) {
	b := base(v)
	if !hasMeta(b) || onlyWildcards(b) {
		return globbedPath{}, false
	}
	x := globbedPath{v: v, base: b}
	switch {
	case !strings.ContainsAny(v, `[]{}\`):
		x.filter = true
		x.prefix = b[:strings.IndexAny(b, "*?")]
		x.suffix = b[strings.LastIndexAny(b, "*?")+1:]
	case !strings.ContainsAny(v, `*?[]\`) && strings.Count(v, "{") == 1 && strings.Count(v, "}") == 1:
		open, end := strings.IndexByte(b, '{'), strings.IndexByte(b, '}')
		if open >= 0 && open < end {
			for _, alt := range strings.Split(b[open+1:end], ",") {
				x.expansions = append(x.expansions, b[:open]+alt+b[end+1:])
			}
		}
	}
	return x, true
}

func (g *glob) expandsTo(x *globbedPath, home string) bool {
	// Only a literal path, or one literal element at any depth, names a file.
	if g.kind != globExact && (g.kind != globSuffix || strings.IndexByte(g.lit, '/') >= 0) {
		return false
	}
	v, b := x.v, x.base
	if g.homeRelative {
		if home == "" {
			return false
		}
		rest, ok := underHome(v, strings.TrimSuffix(home, "/"))
		if !ok {
			return false
		}
		v = rest
	}
	dir := v[:len(v)-len(b)]
	var cb string // the candidate's last element
	if g.kind == globExact {
		cb = base(g.lit)
		if !hasMeta(dir) && (!strings.HasPrefix(g.lit, dir) || len(g.lit)-len(cb) != len(dir)) {
			return false // not in v's directory, which is literal text
		}
	} else {
		cb = g.lit
	}
	if strings.HasPrefix(cb, ".") && !strings.HasPrefix(b, ".") {
		return false
	}
	switch {
	case x.filter:
		if len(cb) < len(x.prefix)+len(x.suffix) || !strings.HasPrefix(cb, x.prefix) || !strings.HasSuffix(cb, x.suffix) {
			return false
		}
	case x.expansions != nil:
		return slices.Contains(x.expansions, cb)
	}
	candidate := g.lit
	if g.kind == globSuffix {
		candidate = dir + g.lit
	}
	ok, _ := doublestar.Match(v, candidate)
	return ok
}

// onlyWildcards reports whether s is made only of '*' and '?'.
func onlyWildcards(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '*' && s[i] != '?' {
			return false
		}
	}
	return true
}

// pathHit is hit for a path, also counting a globbed path that could expand to a named file.
func (gs globs) pathHit(v, home string) bool {
	return gs.hit(v, home) || gs.couldExpandTo(v, home)
}

// couldExpandTo reports whether v, a path holding glob characters, could expand to a file one
// of the globs names.
func (gs globs) couldExpandTo(v, home string) bool {
	x, ok := globbed(v)
	if !ok {
		return false
	}
	for i := range gs {
		if gs[i].expandsTo(&x, home) {
			return true
		}
	}
	return false
}

// globSet holds a list of globs for matching many values: those that are a literal path, a
// literal directory with everything under it, or a literal last element are looked up, not
// tried one by one. A file rule names dozens of files, and every path of every action meets them.
type globSet struct {
	all  globs
	top  literalGlobs    // patterns of absolute or relative paths
	home literalGlobs    // home-relative patterns, matched on the path under home
	base map[string]bool // globSuffix patterns of one element ("**/.env"): the element
	rest globs           // the others
}

// literalGlobs are exact paths and directories ("/etc/**": "/etc"), looked up.
type literalGlobs struct {
	exact, under map[string]bool
}

func (s *literalGlobs) add(g glob) bool {
	switch {
	case g.kind == globExact && g.lit != "":
		s.exact = addTo(s.exact, g.lit)
	case g.kind == globPrefix && g.lit != "":
		s.under = addTo(s.under, g.lit)
	default:
		return false
	}
	return true
}

// hit reports whether v is one of the exact paths or under one of the directories.
func (s *literalGlobs) hit(v string) bool {
	if s.exact[v] || s.under[v] {
		return true
	}
	if s.under == nil {
		return false
	}
	for i := 1; i < len(v); i++ {
		if v[i] == '/' && s.under[v[:i]] {
			return true
		}
	}
	return false
}

func addTo(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = true
	return m
}

func compileGlobSet(patterns []string) globSet {
	s := globSet{all: compileGlobs(patterns)}
	for _, g := range s.all {
		switch {
		case g.homeRelative:
			if !s.home.add(g) {
				s.rest = append(s.rest, g)
			}
		case s.top.add(g):
		case g.kind == globSuffix && strings.IndexByte(g.lit, '/') < 0:
			// v is lit or ends in "/"+lit exactly when its last element is lit.
			s.base = addTo(s.base, g.lit)
		default:
			s.rest = append(s.rest, g)
		}
	}
	return s
}

// hit is globs.hit.
func (s *globSet) hit(v, home string) bool {
	if s.top.hit(v) || s.base[base(v)] {
		return true
	}
	if home != "" && (s.home.exact != nil || s.home.under != nil) {
		if rest, ok := underHome(v, strings.TrimSuffix(home, "/")); ok && s.home.hit(rest) {
			return true
		}
	}
	return s.rest.hit(v, home)
}

// pathHit is globs.pathHit.
func (s *globSet) pathHit(v, home string) bool {
	return s.hit(v, home) || s.all.couldExpandTo(v, home)
}
