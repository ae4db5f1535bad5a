package engine

import (
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
	dir     string // globDirStarts: the directory, with its trailing slash
	// homeRelative patterns ("~/.ssh/**") match paths under the action's home directory.
	homeRelative bool
}

type globKind int

const (
	globExact      globKind = iota // "main"
	globPrefix                     // "/etc/**": the literal "/etc" or anything under "/etc/"
	globSuffix                     // "**/.env": a last element equal to lit, at any depth
	globBaseEnds                   // "**/*.pem": a last element ending in lit, at any depth
	globBaseStarts                 // "**/.env.*": a last element starting with lit, at any depth
	globDirStarts                  // "/dev/sd*": in directory dir, a name starting with lit
	globGeneral                    // anything else
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
	case strings.HasPrefix(p, "**/") && !hasMeta(p[3:]) && !strings.Contains(p[3:], "/"):
		g.kind, g.lit = globSuffix, p[3:]
	case strings.HasPrefix(p, "**/*") && !hasMeta(p[4:]) && !strings.Contains(p[4:], "/"):
		g.kind, g.lit = globBaseEnds, p[4:]
	case strings.HasPrefix(p, "**/") && strings.HasSuffix(p, "*") && !hasMeta(p[3:len(p)-1]) && !strings.Contains(p[3:], "/"):
		g.kind, g.lit = globBaseStarts, p[3:len(p)-1]
	default:
		if i := strings.LastIndexByte(p, '/'); i >= 0 && strings.HasSuffix(p, "*") && !hasMeta(p[:len(p)-1]) {
			g.kind, g.dir, g.lit = globDirStarts, p[:i+1], p[i+1:len(p)-1]
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
		rest, ok := strings.CutPrefix(v, home+"/")
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
		return v == g.lit || strings.HasSuffix(v, "/"+g.lit)
	case globBaseEnds:
		return v != "" && strings.HasSuffix(base(v), g.lit)
	case globBaseStarts:
		return strings.HasPrefix(base(v), g.lit)
	case globDirStarts:
		rest, ok := strings.CutPrefix(v, g.dir)
		return ok && strings.HasPrefix(rest, g.lit) && !strings.Contains(rest, "/")
	}
	ok, _ := doublestar.Match(g.pattern, v)
	return ok
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
	b := base(v)
	if !hasMeta(b) || strings.Trim(b, "*?") == "" {
		return false
	}
	if g.homeRelative {
		if home == "" {
			return false
		}
		rest, ok := strings.CutPrefix(v, strings.TrimSuffix(home, "/")+"/")
		if !ok {
			return false
		}
		v = rest
	}
	var candidate string
	switch g.kind {
	case globExact:
		candidate = g.lit
	case globSuffix:
		candidate = v[:len(v)-len(b)] + g.lit
	default:
		return false
	}
	cb := base(candidate)
	if strings.HasPrefix(cb, ".") && !strings.HasPrefix(b, ".") {
		return false
	}
	ok, _ := doublestar.Match(v, candidate)
	return ok
}

// pathHit is hit for a path, also counting a globbed path that could expand to a named file.
func (gs globs) pathHit(v, home string) bool {
	if gs.hit(v, home) {
		return true
	}
	if !hasMeta(base(v)) {
		return false
	}
	for i := range gs {
		if gs[i].couldExpandTo(v, home) {
			return true
		}
	}
	return false
}
