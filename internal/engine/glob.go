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
	// homeRelative patterns ("~/.ssh/**") match paths under the action's home directory.
	homeRelative bool
}

type globKind int

const (
	globExact   globKind = iota // "main"
	globPrefix                  // "/etc/**": the literal "/etc" or anything under "/etc/"
	globSuffix                  // "**/.env": a last element equal to lit, at any depth
	globGeneral                 // anything else
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
	}
	return g
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
