package paths

import "testing"

func TestResolve(t *testing.T) {
	const dir, home = "/work/repo", "/home/dev"
	tests := []struct {
		name, p, dir, home, want string
	}{
		{name: "empty", p: "", dir: dir, home: home, want: ""},
		{name: "tilde alone", p: "~", dir: dir, home: home, want: "/home/dev"},
		{name: "tilde slash", p: "~/", dir: dir, home: home, want: "/home/dev"},
		{name: "tilde path", p: "~/.ssh/id_rsa", dir: dir, home: home, want: "/home/dev/.ssh/id_rsa"},
		{name: "tilde dotdot escapes home", p: "~/../root/.ssh", dir: dir, home: home, want: "/home/root/.ssh"},
		{name: "tilde with empty home stays relative", p: "~/x", dir: dir, home: "", want: "~/x"},
		{name: "tilde user not expanded", p: "~alice//.ssh/./id_rsa", dir: dir, home: home, want: "~alice/.ssh/id_rsa"},
		{name: "tilde user alone", p: "~alice", dir: dir, home: home, want: "~alice"},
		{name: "dot slash", p: "./.env", dir: dir, home: home, want: "/work/repo/.env"},
		{name: "dot", p: ".", dir: dir, home: home, want: "/work/repo"},
		{name: "dotdot", p: "../other/x", dir: dir, home: home, want: "/work/other/x"},
		{name: "dotdot past root", p: "../../../../etc/passwd", dir: dir, home: home, want: "/etc/passwd"},
		{name: "bare relative", p: "config/.env", dir: dir, home: home, want: "/work/repo/config/.env"},
		{name: "absolute", p: "/etc/passwd", dir: dir, home: home, want: "/etc/passwd"},
		{name: "absolute unclean", p: "/etc//ssh/../passwd/", dir: dir, home: home, want: "/etc/passwd"},
		{name: "repeated slashes relative", p: "a//b///c", dir: dir, home: home, want: "/work/repo/a/b/c"},
		{name: "root", p: "/", dir: dir, home: home, want: "/"},
		{name: "double slash root", p: "//", dir: dir, home: home, want: "/"},
		{name: "relative without dir", p: "./a/../b", dir: "", home: home, want: "b"},
		{name: "dotdot without dir", p: "../x", dir: "", home: home, want: "../x"},
		{name: "unclean dir", p: "x", dir: "/work//repo/", home: home, want: "/work/repo/x"},
		{name: "tilde inside path is literal", p: "a/~/b", dir: dir, home: home, want: "/work/repo/a/~/b"},
		{name: "unclean home", p: "~/x", dir: dir, home: "/home//dev/", want: "/home/dev/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.p, tt.dir, tt.home); got != tt.want {
				t.Errorf("Resolve(%q, %q, %q) = %q, want %q", tt.p, tt.dir, tt.home, got, tt.want)
			}
		})
	}
}
