package engine

import (
	"testing"

	"github.com/bmatcuk/doublestar/v4"
)

// TestGlobAgreesWithDoublestar checks the fast paths against the general matcher.
func TestGlobAgreesWithDoublestar(t *testing.T) {
	patterns := []string{"main", "release/*", "/etc/**", "/", "/*", "**/.env", "**/.env.*", "**/.git/**", "**/id_rsa",
		"/dev/sd*", "*.pastebin.com", "v[0-9]*", "**/*.pem", "/var/lib/**", "**", "**/*", "**/.env.*", "**/id_*", "/dev/*",
		"release-*", "/etc/cron*", "*", "**/*.tfstate.backup", "**/service-account*.json"}
	values := []string{"main", "mainline", "release/1", "release", "/etc", "/etc/passwd", "/etcetera", "/", "/tmp", "/tmp/x",
		"/repo/.env", ".env", "/repo/.env.local", "/repo/x.env", "/repo/.git", "/repo/.git/config", "/repo/a/id_rsa", "id_rsa",
		"/dev/sda", "a.pastebin.com", "v1.2", "/repo/k.pem", "/var/lib", "/var/library", "", ".pem", "/a/.pem", "/dev/sd/x",
		"/dev/", "release-1", "release-", "release-1/x", "/etc/crontab", "/etc/cron.d", "/etc/cron.d/x", "k.pem/x",
		"/a/b.tfstate.backup", "/a/service-account-1.json", "/a/.env.local/x", "/a/id_rsa.pub", "dir/"}
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
	}
	for _, tt := range tests {
		g := compileGlob(tt.pattern)
		if got := g.couldExpandTo(tt.value, "/home/dev"); got != tt.want {
			t.Errorf("%q could expand %q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}
