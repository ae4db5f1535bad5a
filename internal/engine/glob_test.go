package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/cavra-dev/cavra"
)

// TestGlobAgreesWithDoublestar checks the fast paths against the general matcher.
func TestGlobAgreesWithDoublestar(t *testing.T) {
	patterns := []string{"main", "release/*", "/etc/**", "/", "/*", "**/.env", "**/.env.*", "**/.git/**", "**/id_rsa",
		"/dev/sd*", "*.pastebin.com", "v[0-9]*", "**/*.pem", "/var/lib/**", "**", "**/*", "**/.env.*", "**/id_*", "/dev/*",
		"release-*", "/etc/cron*", "*", "**/*.tfstate.backup", "**/service-account*.json", "**/.git/gc.log", "**/a/b/**",
		"*SECRET*", "alias.*=*", "**/*iam*-policy.json", ".ssh/*_rsa", "/a/*b*c", "a*a", "[", "**/x[", "dir/*"}
	values := []string{"main", "mainline", "release/1", "release", "/etc", "/etc/passwd", "/etcetera", "/", "/tmp", "/tmp/x",
		"/repo/.env", ".env", "/repo/.env.local", "/repo/x.env", "/repo/.git", "/repo/.git/config", "/repo/a/id_rsa", "id_rsa",
		"/dev/sda", "a.pastebin.com", "v1.2", "/repo/k.pem", "/var/lib", "/var/library", "", ".pem", "/a/.pem", "/dev/sd/x",
		"/dev/", "release-1", "release-", "release-1/x", "/etc/crontab", "/etc/cron.d", "/etc/cron.d/x", "k.pem/x",
		"/a/b.tfstate.backup", "/a/service-account-1.json", "/a/.env.local/x", "/a/id_rsa.pub", "dir/", "/r/.git/gc.log",
		".git/gc.log", "x.git/gc.log", "/a/b", "a/b", "a/b/c", "/x/a/b/c", "/xa/b", "/a/bb", "MY_SECRET_X", "a/SECRET",
		"alias.x=y", "alias.=", "/r/aws-iam-x-policy.json", ".ssh/id_rsa", ".ssh/x/id_rsa", "/a/bc", "/a/xbyc", "a", "aa",
		"aba", "[", "x[", "dir/x", "dir/.x", "dir/x/y"}
	for _, p := range patterns {
		g := compileGlob(p)
		for _, v := range values {
			want, _ := doublestar.Match(p, v)
			if got := g.match(v, ""); got != want {
				t.Errorf("pattern %q value %q: fast path says %v, doublestar %v", p, v, got, want)
			}
		}
	}
}

// TestPackGlobsAgreeWithDoublestar checks every glob of the built-in packs, whichever fast
// path it takes, against the general matcher on values near its literal parts.
func TestPackGlobsAgreeWithDoublestar(t *testing.T) {
	l := &Loader{Builtin: os.DirFS(filepath.Join("..", "..", "policies"))}
	var patterns []string
	for _, name := range l.BuiltinNames() {
		pol, err := l.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pol.rules {
			for _, m := range r.matches {
				for _, list := range [][]string{m.Kinds, m.Hosts, m.Tools, m.Programs, m.Args, m.Paths, m.NotPaths} {
					patterns = append(patterns, list...)
				}
				if g := m.Git; g != nil {
					patterns = append(append(append(patterns, g.Remotes...), g.Refs...), g.NotRefs...)
				}
				if n := m.Network; n != nil {
					patterns = append(append(patterns, n.Hosts...), n.NotHosts...)
				}
			}
		}
	}
	if len(patterns) < 100 {
		t.Fatalf("found only %d patterns in the built-in packs", len(patterns))
	}
	for _, p := range patterns {
		if p == "~" {
			continue // the home directory itself, covered by TestHomeRelativeGlob
		}
		g := compileGlob(p)
		if g.homeRelative {
			p = g.pattern
		}
		for _, v := range globProbes(p) {
			want, _ := doublestar.Match(p, v)
			if p == "/**" && v == "" {
				want = false // an empty path is under no directory: the fast path's deliberate answer
			}
			if got := g.match(v, ""); !g.homeRelative && got != want {
				t.Errorf("pattern %q (kind %d) value %q: fast path says %v, doublestar %v", p, g.kind, v, got, want)
			}
			if got := g.match("/home/dev/"+v, "/home/dev"); g.homeRelative && got != want {
				t.Errorf("pattern ~/%q (kind %d) value %q: fast path says %v, doublestar %v", p, g.kind, v, got, want)
			}
		}
	}
}

// globProbes are values near pattern p: its stars filled in several ways, then placed at the
// root, under a directory, with something under them, and with a character missing or added.
func globProbes(p string) []string {
	var fills []string
	for _, star := range []string{"", "x", "a.b", "x/y", "-1"} {
		f := strings.ReplaceAll(p, "**", "d/e")
		f = strings.ReplaceAll(f, "*", star)
		f = strings.NewReplacer("?", "q", "[0-9]", "7", "[", "", "]", "", "{", "", "}", "", ",", "").Replace(f)
		fills = append(fills, f, strings.ReplaceAll(p, "**/", ""), strings.TrimPrefix(p, "**"))
	}
	out := []string{"", "/", "x", "/x", "a/b", "/tmp/x.txt"}
	for _, f := range fills {
		out = append(out, f, "/"+f, "/repo/"+f, "repo/"+f, f+"/x", "/repo/"+f+"/x/y", f+"/", "x"+f, f+"x")
		if len(f) > 1 {
			out = append(out, f[1:], f[:len(f)-1], "/repo/"+f[1:])
		}
	}
	return out
}

func TestHomeRelativeGlob(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"~/.ssh/id_*", "/home/dev/.ssh/id_rsa", true},
		{"~/.ssh/id_*", "/home/other/.ssh/id_rsa", false},
		{"~/.aws/credentials", "/home/dev/.aws/credentials", true},
		{"~/.gnupg/**", "/home/dev/.gnupg/private-keys-v1.d/x.key", true},
		{"~", "/home/dev", true},
		{"~", "/home/dev/x", false},
		{"~/.bashrc", "/home/dev2/.bashrc", false},
	}
	for _, tt := range tests {
		g := compileGlob(tt.pattern)
		if got := g.match(tt.value, "/home/dev/"); got != tt.want {
			t.Errorf("%q ~ %q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
		if g.match(tt.value, "") {
			t.Errorf("%q matched %q without a home", tt.pattern, tt.value)
		}
	}
}

func TestCouldExpandTo(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"**/.env", "/repo/.e*", true},
		{"**/.env", "/repo/.en?", true},
		{"**/.env", "/repo/config/.[e]nv", true},
		{"**/.env", "/repo/*", false},    // a bare * expands to no name we can tell
		{"**/.env", "/repo/*env", false}, // * never matches a leading dot
		{"**/id_rsa", "/home/dev/.ssh/id_*", true},
		{"**/id_rsa", "/repo/*.go", false},
		{"~/.aws/credentials", "/home/dev/.aws/cred*", true},
		{"~/.aws/credentials", "/home/other/.aws/cred*", false},
		{"**/*.pem", "/repo/*.p?m", false}, // families of files never match by expansion
		{"**/.git", "/repo/build/*", false},
		{"/etc/shadow", "/etc/sha*", true},
		{"**/.env", "/repo/.env", false}, // no glob characters: plain matching decides
		{"**/.env", "/repo/.e*v", true},
		{"**/.env", "/repo/.e?x", false},
		{"**/id_rsa", "/k/*_rsa", true},
		{"**/.git/gc.log", "/repo/.git/gc.l*", false}, // only one literal element is expanded to
	}
	for _, tt := range tests {
		g := compileGlob(tt.pattern)
		if got := g.couldExpandTo(tt.value, "/home/dev"); got != tt.want {
			t.Errorf("%q could expand %q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

// TestCouldExpandToAgreesWithDoublestar checks the shortcuts of couldExpandTo against asking
// doublestar for every candidate, on the built-in packs' globs and globbed paths near them.
func TestCouldExpandToAgreesWithDoublestar(t *testing.T) {
	values := []string{"/repo/*", "/repo/.e*", "/repo/.env*", "/repo/*.env", "/repo/x/.e?v", "/repo/.e[n]v", "/repo/.{e,f}nv",
		"/home/dev/.ssh/id_*", "/home/dev/.ssh/*_rsa", "/home/dev/.aws/cred*", "/etc/sha*", "/etc/*dow", "/repo/*.tf*",
		"/repo/terraform.tfs*", "/repo/.git/conf*", "/repo/*.pem", "/repo/id_rsa*", "/repo/.npm*", "/repo/**/.env*",
		"/repo/.e\\nv*", "/repo/?", "/repo/.??v", "/repo/{}", "/repo/.e{n,x}v", "/repo/{.env,x}", "/repo/{,.env}",
		"/repo/x{}", "/home/dev/.ssh/id_{rsa,dsa}", "/repo/*/.e*", "/repo/[ab]/.e*", "/etc/sha{dow,x}", "/e{t}c/sha*",
		"/repo/{a}/.e*", "/home/dev/.aws/{credentials}", "/repo/.env{", "/repo/}.env{", "/repo/{.env}", "/etc/*/sha*",
		"/home/*/.ssh/id_*", "/home/dev/.ssh/{id_rsa,x}", "/etc/{shadow,passwd}", "/{etc}/shadow{}"}
	l := &Loader{Builtin: os.DirFS(filepath.Join("..", "..", "policies"))}
	for _, name := range l.BuiltinNames() {
		pol, err := l.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pol.rules {
			for _, m := range r.matches {
				for _, g := range append(append(globs{}, m.paths...), m.notPaths...) {
					for _, v := range values {
						if got, want := g.couldExpandTo(v, "/home/dev"), expandsByDoublestar(g, v, "/home/dev"); got != want {
							t.Errorf("pattern %q value %q: %v, doublestar says %v", g.pattern, v, got, want)
						}
					}
				}
			}
		}
	}
}

// expandsByDoublestar is couldExpandTo without shortcuts.
func expandsByDoublestar(g glob, v, home string) bool {
	b := base(v)
	if !hasMeta(b) || strings.Trim(b, "*?") == "" {
		return false
	}
	if g.homeRelative {
		rest, ok := strings.CutPrefix(v, strings.TrimSuffix(home, "/")+"/")
		if !ok {
			return false
		}
		v = rest
	}
	var candidate string
	switch {
	case g.kind == globExact:
		candidate = g.lit
	case g.kind == globSuffix && !strings.Contains(g.lit, "/"):
		candidate = v[:len(v)-len(b)] + g.lit
	default:
		return false
	}
	if cb := base(candidate); strings.HasPrefix(cb, ".") && !strings.HasPrefix(b, ".") {
		return false
	}
	ok, _ := doublestar.Match(v, candidate)
	return ok
}

// TestGlobSetAgreesWithGlobs checks the indexed form of every match's paths against trying its
// globs one by one.
func TestGlobSetAgreesWithGlobs(t *testing.T) {
	l := &Loader{Builtin: os.DirFS(filepath.Join("..", "..", "policies"))}
	seen := map[string]bool{} // packs extend each other: each list of paths once
	for _, name := range l.BuiltinNames() {
		pol, err := l.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pol.rules {
			for _, m := range r.matches {
				key := strings.Join(m.Paths, "\x00") + "\x01" + strings.Join(m.NotPaths, "\x00")
				if seen[key] {
					continue
				}
				seen[key] = true
				var values []string
				for _, p := range append(slices.Clone(m.Paths), m.NotPaths...) {
					for _, v := range globProbes(strings.TrimPrefix(p, "~/")) {
						values = append(values, v, "/home/dev/"+v, "/home/dev/"+strings.TrimPrefix(v, "/"), v+"*", "/repo/.e*")
					}
				}
				ev := &evaluation{action: cavra.Action{Home: "/home/dev"}} // its cache of globbed paths serves every value
				for _, v := range values {
					if got, want := ev.pathHit(&m.pathSet, v), m.paths.pathHit(v, "/home/dev"); got != want {
						t.Errorf("%s paths %q pathHit %q in a decision: %v, globs %v", r.ID, m.Paths, v, got, want)
					}
					if got, want := m.pathSet.hit(v, "/home/dev"), m.paths.hit(v, "/home/dev"); got != want {
						t.Errorf("%s paths %q hit %q: set %v, globs %v", r.ID, m.Paths, v, got, want)
					}
					if got, want := m.pathSet.pathHit(v, "/home/dev"), m.paths.pathHit(v, "/home/dev"); got != want {
						t.Errorf("%s paths %q pathHit %q: set %v, globs %v", r.ID, m.Paths, v, got, want)
					}
					if got, want := m.notPathSet.hit(v, "/home/dev"), m.notPaths.hit(v, "/home/dev"); got != want {
						t.Errorf("%s not_paths %q hit %q: set %v, globs %v", r.ID, m.NotPaths, v, got, want)
					}
				}
			}
		}
	}
}
