package shell

import (
	"slices"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

// TestParseForkBombs checks that a function's unconditional, forked call to itself is marked,
// and that recursion with a condition, or without a fork, is not.
func TestParseForkBombs(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		bombs int // commands with Via "fork bomb"
	}{
		{name: "classic", line: ":(){ :|:& };:", bombs: 2},
		{name: "named", line: "bomb(){ bomb|bomb& }; bomb", bombs: 2},
		{name: "function keyword", line: "function b { b | b & }; b", bombs: 2},
		{name: "background then foreground", line: "f(){ f & f; }; f", bombs: 1},
		{name: "subshell", line: "f(){ (f); }; f", bombs: 1},
		{name: "inside sh -c", line: "sh -c 'b(){ b|b& }; b'", bombs: 2},
		{name: "inside eval", line: "eval 'b(){ b|b& }; b'", bombs: 2},
		{name: "plain recursion does not fork", line: "f(){ f; }; f", bombs: 0},
		{name: "recursion behind a condition", line: "f(){ [ -n \"$1\" ] && f|f; }; f", bombs: 0},
		{name: "recursion in a loop", line: "walk(){ for d in */; do walk \"$d\" & done; wait; }; walk", bombs: 0},
		{name: "recursion in an if", line: "f(){ if test -d x; then f & fi; }; f", bombs: 0},
		{name: "another function", line: "g(){ echo; }; f(){ g|g& }; f", bombs: 0},
		{name: "new shell does not know the function", line: "f(){ sh -c 'f|f&'; }; f", bombs: 0},
		{name: "pipeline outside a function", line: "yes | head -1 &", bombs: 0},
		{name: "command runs the program", line: "ls(){ command ls -l \"$@\" | less; }; ls", bombs: 0},
		{name: "wrapper runs the program", line: "f(){ nohup f & }; f", bombs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			got := 0
			for _, c := range res.Commands {
				if c.Via == ViaForkBomb {
					got++
				}
			}
			if got != tt.bombs {
				t.Errorf("%d commands via %q, want %d:\n%s", got, ViaForkBomb, tt.bombs, describe(tt.line, res.Commands))
			}
		})
	}
}

// TestParseFoldedSubstitutions checks that $(echo ...) and $(printf ...) of literal text become
// their output, and that every other substitution stays unknown.
func TestParseFoldedSubstitutions(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		argv    []string
		dynamic bool
	}{
		{name: "echo", line: "cat $(echo .env)", argv: []string{"cat", ".env"}},
		{name: "printf with split quotes", line: `cat "$(printf '.en''v')"`, argv: []string{"cat", ".env"}},
		{name: "printf hex escape", line: `cat "$(printf '\x2eenv')"`, argv: []string{"cat", ".env"}},
		{name: "printf %s reuses the format", line: "cat $(printf '%s\\n' a b)", argv: []string{"cat", "a", "b"}},
		{name: "printf %b decodes", line: `cat "$(printf %b '\x2eenv')"`, argv: []string{"cat", ".env"}},
		{name: "echo -e", line: `cat $(echo -e '\x2eenv')`, argv: []string{"cat", ".env"}},
		{name: "echo -n and tilde", line: "cat $(echo -n ~/.ssh/id_rsa)", argv: []string{"cat", "~/.ssh/id_rsa"}},
		{name: "known variable inside", line: "F=.env; cat $(echo $F)", argv: []string{"cat", ".env"}},
		{name: "unquoted output is split", line: "ls $(echo a  b)", argv: []string{"ls", "a", "b"}},
		{name: "quoted output is one word", line: `ls "$(echo 'a  b')"`, argv: []string{"ls", "a  b"}},
		{name: "trailing newlines dropped", line: `cat "$(printf '.env\n\n')"`, argv: []string{"cat", ".env"}},
		{name: "backquotes", line: "cat `echo .env`", argv: []string{"cat", ".env"}},
		{name: "nested", line: "cat $(echo $(echo .env))", argv: []string{"cat", ".env"}},
		{name: "empty output disappears", line: "ls $(echo) x", argv: []string{"ls", "x"}},
		{name: "unknown variable inside", line: "cat $(echo $F)", argv: []string{"cat", "$(echo $F)"}, dynamic: true},
		{name: "other program", line: "go test $(go list ./...)", argv: []string{"go", "test", "$(go list ./...)"}, dynamic: true},
		{name: "printf other conversion", line: "cat $(printf %d 1)", argv: []string{"cat", "$(printf %d 1)"}, dynamic: true},
		{name: "printf -v", line: "cat $(printf -v x .env)", argv: []string{"cat", "$(printf -v x .env)"}, dynamic: true},
		{name: "redirected", line: "cat $(echo .env 2>/dev/null)", argv: []string{"cat", "$(echo .env 2>/dev/null)"}, dynamic: true},
		{name: "two commands", line: "cat $(echo .e; echo nv)", argv: []string{"cat", "$(echo .e; echo nv)"}, dynamic: true},
		{name: "program word stays unknown", line: "$(echo rm) -rf /", argv: []string{"$(echo rm)", "-rf", "/"}, dynamic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			var main *cavra.SimpleCommand
			for i := range res.Commands {
				if res.Commands[i].Via == ViaTop {
					main = &res.Commands[i]
				}
			}
			if main == nil {
				t.Fatalf("no top-level command:\n%s", describe(tt.line, res.Commands))
			}
			checkArgv(t, main, tt.argv, tt.dynamic)
		})
	}
}

func checkArgv(t *testing.T, c *cavra.SimpleCommand, argv []string, dynamic bool) {
	t.Helper()
	if len(c.Argv) != len(argv) {
		t.Fatalf("argv %q, want %q", c.Argv, argv)
	}
	for i := range argv {
		if c.Argv[i] != argv[i] {
			t.Fatalf("argv %q, want %q", c.Argv, argv)
		}
	}
	if c.Dynamic != dynamic {
		t.Errorf("dynamic %v, want %v", c.Dynamic, dynamic)
	}
}

// TestParseContainerCommands checks that the command a container runner runs is walked as an
// argv, with the runner among its wrappers, no directory, and Via "container".
func TestParseContainerCommands(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []wantCmd
	}{
		{name: "docker exec sh -c", line: "docker exec -it -u root C sh -c 'rm -rf /data'", want: []wantCmd{
			{argv: []string{"docker", "exec", "-it", "-u", "root", "C", "sh", "-c", "rm -rf /data"}, program: "docker", span: "docker exec -it -u root C sh -c 'rm -rf /data'"},
			{argv: []string{"sh", "-c", "rm -rf /data"}, program: "sh", wrappers: []string{"docker"}, via: "container", dir: "-", span: "sh -c 'rm -rf /data'"},
			{argv: []string{"rm", "-rf", "/data"}, program: "rm", wrappers: []string{"docker"}, via: "sh -c", dir: "-", span: "'rm -rf /data'"},
		}},
		{name: "docker run with options", line: "docker run --rm -e A=1 -v /x:/y -w /y img rm -rf /srv", want: []wantCmd{
			{argv: []string{"docker", "run", "--rm", "-e", "A=1", "-v", "/x:/y", "-w", "/y", "img", "rm", "-rf", "/srv"}, program: "docker", span: "docker run --rm -e A=1 -v /x:/y -w /y img rm -rf /srv"},
			{argv: []string{"rm", "-rf", "/srv"}, program: "rm", wrappers: []string{"docker"}, via: "container", dir: "-", span: "rm -rf /srv"},
		}},
		{name: "docker run entrypoint", line: "docker run --entrypoint=sh img -c id", want: []wantCmd{
			{argv: []string{"docker", "run", "--entrypoint=sh", "img", "-c", "id"}, program: "docker", span: "docker run --entrypoint=sh img -c id"},
			{argv: []string{"sh", "-c", "id"}, program: "sh", wrappers: []string{"docker"}, via: "container", dir: "-", span: "--entrypoint=sh img -c id"},
			{argv: []string{"id"}, program: "id", wrappers: []string{"docker"}, via: "sh -c", dir: "-", span: "id"},
		}},
		{name: "docker run tool image", line: "docker run --rm amazon/aws-cli:2.17 s3 rm --recursive s3://b", want: []wantCmd{
			{argv: []string{"docker", "run", "--rm", "amazon/aws-cli:2.17", "s3", "rm", "--recursive", "s3://b"}, program: "docker", span: "docker run --rm amazon/aws-cli:2.17 s3 rm --recursive s3://b"},
			{argv: []string{"aws", "s3", "rm", "--recursive", "s3://b"}, program: "aws", wrappers: []string{"docker"}, via: "container", dir: "-", span: "amazon/aws-cli:2.17 s3 rm --recursive s3://b"},
		}},
		{name: "docker run tool image naming its tool", line: "docker run alpine/git git status", want: []wantCmd{
			{argv: []string{"docker", "run", "alpine/git", "git", "status"}, program: "docker", span: "docker run alpine/git git status"},
			{argv: []string{"git", "status"}, program: "git", wrappers: []string{"docker"}, via: "container", dir: "-", span: "git status"},
		}},
		{name: "docker run tool image with another entrypoint", line: "docker run --entrypoint sh hashicorp/terraform -c id", want: []wantCmd{
			{argv: []string{"docker", "run", "--entrypoint", "sh", "hashicorp/terraform", "-c", "id"}, program: "docker", span: "docker run --entrypoint sh hashicorp/terraform -c id"},
			{argv: []string{"sh", "-c", "id"}, program: "sh", wrappers: []string{"docker"}, via: "container", dir: "-", span: "sh hashicorp/terraform -c id"},
			{argv: []string{"id"}, program: "id", wrappers: []string{"docker"}, via: "sh -c", dir: "-", span: "id"},
		}},
		{name: "docker run without command", line: "docker run -d -p 80:80 nginx", want: []wantCmd{
			{argv: []string{"docker", "run", "-d", "-p", "80:80", "nginx"}, program: "docker", span: "docker run -d -p 80:80 nginx"},
		}},
		{name: "podman container exec", line: "podman container exec c ls", want: []wantCmd{
			{argv: []string{"podman", "container", "exec", "c", "ls"}, program: "podman", span: "podman container exec c ls"},
			{argv: []string{"ls"}, program: "ls", wrappers: []string{"podman"}, via: "container", dir: "-", span: "ls"},
		}},
		{name: "compose exec", line: "docker compose -f c.yml exec -T db psql", want: []wantCmd{
			{argv: []string{"docker", "compose", "-f", "c.yml", "exec", "-T", "db", "psql"}, program: "docker", span: "docker compose -f c.yml exec -T db psql"},
			{argv: []string{"psql"}, program: "psql", wrappers: []string{"docker"}, via: "container", dir: "-", span: "psql"},
		}},
		{name: "kubectl exec", line: "kubectl -n dev exec -it pod -c app -- rm -rf /x", want: []wantCmd{
			{argv: []string{"kubectl", "-n", "dev", "exec", "-it", "pod", "-c", "app", "--", "rm", "-rf", "/x"}, program: "kubectl", span: "kubectl -n dev exec -it pod -c app -- rm -rf /x"},
			{argv: []string{"rm", "-rf", "/x"}, program: "rm", wrappers: []string{"kubectl"}, via: "container", dir: "-", span: "rm -rf /x"},
		}},
		{name: "kubectl exec old form", line: "kubectl exec pod ls /", want: []wantCmd{
			{argv: []string{"kubectl", "exec", "pod", "ls", "/"}, program: "kubectl", span: "kubectl exec pod ls /"},
			{argv: []string{"ls", "/"}, program: "ls", wrappers: []string{"kubectl"}, via: "container", dir: "-", span: "ls /"},
		}},
		{name: "kubectl get runs nothing", line: "kubectl get pods -- x", want: []wantCmd{
			{argv: []string{"kubectl", "get", "pods", "--", "x"}, program: "kubectl", span: "kubectl get pods -- x"},
		}},
		{name: "heredoc feeds the container shell", line: "docker exec -i c sh <<'EOF'\nrm -rf /srv\nEOF", want: []wantCmd{
			{argv: []string{"docker", "exec", "-i", "c", "sh"}, program: "docker", span: "docker exec -i c sh <<'EOF'"},
			{argv: []string{"sh"}, program: "sh", wrappers: []string{"docker"}, via: "container", dir: "-", span: "sh"},
			{argv: []string{"rm", "-rf", "/srv"}, program: "rm", wrappers: []string{"docker"}, via: "heredoc", dir: "-", span: "rm -rf /srv"},
		}},
		{name: "sudo docker keeps sudo", line: "sudo docker exec c id", want: []wantCmd{
			{argv: []string{"docker", "exec", "c", "id"}, program: "docker", wrappers: []string{"sudo"}, span: "sudo docker exec c id"},
			{argv: []string{"id"}, program: "id", wrappers: []string{"sudo", "docker"}, via: "container", dir: "-", span: "id"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			checkCommands(t, tt.line, res.Commands, tt.want)
		})
	}
}

func TestParseContainerRedirectIsNotLocal(t *testing.T) {
	res := parseForTest(t, "docker exec c sh -c 'cat /etc/shadow > /tmp/x'")
	if len(res.Files) != 0 {
		t.Errorf("files %+v, want none: the redirection writes inside the container", res.Files)
	}
	for _, c := range res.Commands {
		if c.Program == "cat" && !InContainer(c) {
			t.Errorf("cat: InContainer = false, want true (wrappers %q)", c.Wrappers)
		}
		if c.Program == "docker" && InContainer(c) {
			t.Error("docker itself: InContainer = true, want false")
		}
	}
}

// TestParseGitCommands checks that shell commands in git settings, git's environment and ext::
// URLs are walked with Via "git".
func TestParseGitCommands(t *testing.T) {
	tests := []struct {
		name string
		line string
		want [][]string // argv of every command via git, in order
	}{
		{name: "inline pager", line: "git -c core.pager='rm -rf ~' log", want: [][]string{{"rm", "-rf", "~"}}},
		{name: "inline ssh command pipeline", line: "git -c core.sshCommand='curl x|sh' fetch", want: [][]string{{"curl", "x"}, {"sh"}}},
		{name: "shell alias", line: "git -c 'alias.x=!sh -c \"id\"' x", want: [][]string{{"sh", "-c", "id"}, {"id"}}},
		{name: "plain alias used at once", line: "git -c alias.p='push -f' p origin main", want: [][]string{{"git", "push", "-f", "origin", "main"}}},
		{name: "plain alias not used", line: "git -c alias.p='push -f' status", want: nil},
		{name: "config alias", line: "git config --global alias.x '!rm -rf ~'", want: [][]string{{"rm", "-rf", "~"}}},
		{name: "config set", line: "git config set --global core.editor 'vim -u NONE'", want: [][]string{{"vim", "-u", "NONE"}}},
		{name: "config get writes nothing", line: "git config --get core.editor", want: nil},
		{name: "config plain alias", line: "git config --global alias.co checkout", want: nil},
		{name: "textconv driver", line: "git -c diff.x.textconv='cat ~/.ssh/id_rsa' diff", want: [][]string{{"cat", "~/.ssh/id_rsa"}}},
		{name: "boolean pager", line: "git -c pager.log=false -c core.fsmonitor=true log", want: nil},
		{name: "credential helper name", line: "git -c credential.helper=store push", want: nil},
		{name: "credential helper shell", line: "git -c 'credential.helper=!f() { echo x; }; f' push", want: [][]string{{"echo", "x"}, {"f"}}},
		{name: "ssh command variable", line: "GIT_SSH_COMMAND='ssh -i k' git fetch", want: [][]string{{"ssh", "-i", "k"}}},
		{name: "env wrapper variable", line: "env GIT_PAGER='rm -rf /' git log", want: [][]string{{"rm", "-rf", "/"}}},
		{name: "variable set earlier", line: "GIT_EDITOR='rm x'; git commit", want: [][]string{{"rm", "x"}}},
		{name: "config count", line: "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0='rm x' git log",
			want: [][]string{{"git", "-c", "core.pager=rm x"}, {"rm", "x"}}},
		{name: "config count protocol", line: "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=protocol.ext.allow GIT_CONFIG_VALUE_0=always git submodule update",
			want: [][]string{{"git", "-c", "protocol.ext.allow=always"}}},
		{name: "config parameters", line: `GIT_CONFIG_PARAMETERS="'core.sshCommand'='curl x|sh'" git fetch`,
			want: [][]string{{"git", "-c", "core.sshCommand=curl x|sh"}, {"curl", "x"}, {"sh"}}},
		{name: "config parameters older form", line: `GIT_CONFIG_PARAMETERS="'core.pager=rm x'" git log`,
			want: [][]string{{"git", "-c", "core.pager=rm x"}, {"rm", "x"}}},
		{name: "config parameters quote in value", line: `GIT_CONFIG_PARAMETERS="'core.pager'='sh -c '\''id'\'''" git log`,
			want: [][]string{{"git", "-c", "core.pager=sh -c 'id'"}, {"sh", "-c", "id"}, {"id"}}},
		{name: "config parameters several", line: `GIT_CONFIG_PARAMETERS="'user.name'='x' 'protocol.ext.allow'='always'" git submodule update`,
			want: [][]string{{"git", "-c", "user.name=x", "-c", "protocol.ext.allow=always"}}},
		{name: "config parameters implicit boolean", line: `GIT_CONFIG_PARAMETERS="'core.pager'= 'core.editor'='rm x'" git commit`,
			want: [][]string{{"git", "-c", "core.editor=rm x"}, {"rm", "x"}}},
		{name: "config parameters set earlier", line: `GIT_CONFIG_PARAMETERS="'core.editor'='rm x'"; git commit`,
			want: [][]string{{"git", "-c", "core.editor=rm x"}, {"rm", "x"}}},
		{name: "config parameters through env", line: `env GIT_CONFIG_PARAMETERS="'alias.x'='!rm x'" git x`,
			want: [][]string{{"git", "-c", "alias.x=!rm x"}, {"rm", "x"}}},
		{name: "config parameters git cannot parse", line: `GIT_CONFIG_PARAMETERS="core.pager=rm" git log`, want: nil},
		{name: "ssh options in the ssh command", line: `GIT_SSH_COMMAND="ssh -o ProxyCommand='rm x'" git fetch`,
			want: [][]string{{"ssh", "-o", "ProxyCommand=rm x"}, {"rm", "x"}}},
		{name: "ext url", line: "git clone 'ext::sh -c touch% /tmp/x' y", want: [][]string{{"sh", "-c", "touch /tmp/x"}, {"touch", "/tmp/x"}}},
		{name: "ext url special arguments", line: "git clone 'ext::ssh -p 22 %G host %S' y", want: [][]string{{"ssh", "-p", "22", "host", "git-upload-pack"}, {"git-upload-pack"}}},
		{name: "ordinary settings", line: "git -c user.name=x -c color.ui=always commit -m 'a|b'", want: nil},
		{name: "hub", line: "hub -c core.pager='rm x' log", want: [][]string{{"rm", "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			// Every command after the git command itself comes from its settings, and the first
			// of them is reached via git.
			var got [][]string
			for _, c := range res.Commands[1:] {
				got = append(got, c.Argv)
			}
			if len(got) > 0 && res.Commands[1].Via != ViaGit && res.Commands[1].Via != ViaFunction && res.Commands[1].Via != ViaPipeline {
				t.Errorf("first nested command via %q, want %q", res.Commands[1].Via, ViaGit)
			}
			if !equalArgvs(got, tt.want) {
				t.Errorf("commands via git %q, want %q:\n%s", got, tt.want, describe(tt.line, res.Commands))
			}
		})
	}
}

func equalArgvs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// TestGitConfigParameters checks the parsing of GIT_CONFIG_PARAMETERS against the forms git's
// sq_quote writes and git's config.c reads.
func TestGitConfigParameters(t *testing.T) {
	tests := []struct {
		name, env string
		want      []string // KEY=VALUE
	}{
		{name: "new form", env: "'core.pager'='less -R'", want: []string{"core.pager=less -R"}},
		{name: "older form", env: "'core.pager=less -R'", want: []string{"core.pager=less -R"}},
		{name: "mixed and spaced", env: "  'a.b'='1'   'c.d=2'\t'e.f'='3' ", want: []string{"a.b=1", "c.d=2", "e.f=3"}},
		{name: "quote and bang", env: `'core.pager'='it'\''s'\!''`, want: []string{"core.pager=it's!"}},
		{name: "empty value", env: "'core.pager'=''", want: []string{"core.pager="}},
		{name: "implicit boolean skipped", env: "'core.bare'= 'core.pager'='x'", want: []string{"core.pager=x"}},
		{name: "older form without value", env: "'core.bare'", want: nil},
		{name: "unquoted", env: "core.pager=x", want: nil},
		{name: "unterminated", env: "'core.pager'='x", want: nil},
		{name: "junk after value stops", env: "'a.b'='1' 'c.d'='2'x 'e.f'='3'", want: []string{"a.b=1"}},
		{name: "junk after key stops", env: "'a.b'x", want: nil},
		{name: "empty", env: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range gitConfigParameters(tt.env) {
				got = append(got, s.key+"="+s.value.val)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("gitConfigParameters(%q) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

// TestParseSSHCommands checks where the commands an ssh invocation names run: remote commands
// (Via "ssh", Wrappers ending in "ssh", no directory), and the commands its -o options, scp's,
// sftp's and rsync's make the client run here (Via "ssh command").
func TestParseSSHCommands(t *testing.T) {
	const here = " | " + testDir
	tests := []struct {
		name string
		line string
		want []string // per command: "argv words | via | wrappers | dir" ("-" for no directory)
	}{
		{name: "remote read", line: "ssh host 'cat .env'", want: []string{
			"ssh host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "remote read with port and user", line: "ssh -p 22 user@host cat ~/.aws/credentials", want: []string{
			"ssh -p 22 user@host cat ~/.aws/credentials |  | " + here, "cat ~/.aws/credentials | ssh | ssh | -"}},
		{name: "options after the destination", line: "ssh host -p 2222 -t cat /etc/shadow", want: []string{
			"ssh host -p 2222 -t cat /etc/shadow |  | " + here, "cat /etc/shadow | ssh | ssh | -"}},
		{name: "double dash ends the options", line: "ssh host -- ls -la", want: []string{
			"ssh host -- ls -la |  | " + here, "ls -la | ssh | ssh | -"}},
		{name: "nested shell keeps the host", line: `ssh host "sh -c 'cat .env'"`, want: []string{
			"ssh host sh -c 'cat .env' |  | " + here, "sh -c cat .env | ssh | ssh | -", "cat .env | sh -c | ssh | -"}},
		{name: "remote words are joined", line: "ssh host sh -c 'cat .env'", want: []string{
			"ssh host sh -c cat .env |  | " + here, "sh -c cat .env | ssh | ssh | -", "cat | sh -c | ssh | -"}},
		{name: "sudo on the host", line: "ssh host sudo cat /etc/shadow", want: []string{
			"ssh host sudo cat /etc/shadow |  | " + here, "cat /etc/shadow | ssh | ssh sudo | -"}},
		{name: "remote command option", line: "ssh -o RemoteCommand='cat .env' host", want: []string{
			"ssh -o RemoteCommand=cat .env host |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "proxy command runs here", line: "ssh -o ProxyCommand='curl x|sh' host", want: []string{
			"ssh -o ProxyCommand=curl x|sh host |  | " + here, "curl x | pipeline | " + here, "sh | pipeline | " + here}},
		{name: "proxy command in one word", line: "ssh -oProxyCommand='rm -rf ~' host uptime", want: []string{
			"ssh -oProxyCommand=rm -rf ~ host uptime |  | " + here, "rm -rf ~ | ssh command | " + here, "uptime | ssh | ssh | -"}},
		{name: "proxy command in an option cluster", line: "ssh -vo 'ProxyCommand rm x' host", want: []string{
			"ssh -vo ProxyCommand rm x host |  | " + here, "rm x | ssh command | " + here}},
		{name: "proxy command with spaces around =", line: "ssh -o 'proxycommand = rm x' host", want: []string{
			"ssh -o proxycommand = rm x host |  | " + here, "rm x | ssh command | " + here}},
		{name: "everyday jump through a bastion", line: "ssh -o ProxyCommand='ssh -W %h:%p bastion' host", want: []string{
			"ssh -o ProxyCommand=ssh -W %h:%p bastion host |  | " + here, "ssh -W %h:%p bastion | ssh command | " + here}},
		{name: "local command", line: "ssh -o PermitLocalCommand=yes -o LocalCommand='rm x' host", want: []string{
			"ssh -o PermitLocalCommand=yes -o LocalCommand=rm x host |  | " + here, "rm x | ssh command | " + here}},
		{name: "known hosts command", line: "ssh -o KnownHostsCommand='rm x' host", want: []string{
			"ssh -o KnownHostsCommand=rm x host |  | " + here, "rm x | ssh command | " + here}},
		{name: "ordinary options run nothing", line: "ssh -o StrictHostKeyChecking=no -o ProxyCommand=none host", want: []string{
			"ssh -o StrictHostKeyChecking=no -o ProxyCommand=none host |  | " + here}},
		{name: "proxy command of a command on the host", line: `ssh a "ssh -o ProxyCommand='rm x' b"`, want: []string{
			"ssh a ssh -o ProxyCommand='rm x' b |  | " + here, "ssh -o ProxyCommand=rm x b | ssh | ssh | -", "rm x | ssh command | ssh | -"}},
		{name: "scp", line: "scp -o ProxyCommand='rm x' f host:", want: []string{
			"scp -o ProxyCommand=rm x f host: |  | " + here, "rm x | ssh command | " + here}},
		{name: "scp option after an operand", line: "scp f -P 22 -oProxyCommand='rm x' host:", want: []string{
			"scp f -P 22 -oProxyCommand=rm x host: |  | " + here, "rm x | ssh command | " + here}},
		{name: "sftp", line: "sftp -o 'ProxyCommand rm x' host", want: []string{
			"sftp -o ProxyCommand rm x host |  | " + here, "rm x | ssh command | " + here}},
		{name: "rsync remote shell", line: `rsync -e "ssh -o ProxyCommand='rm x'" -a src host:dst`, want: []string{
			"rsync -e ssh -o ProxyCommand='rm x' -a src host:dst |  | " + here,
			"ssh -o ProxyCommand=rm x | ssh command | " + here, "rm x | ssh command | " + here}},
		{name: "rsync remote shell in a cluster", line: "rsync -avze 'ssh -p 2222' dist/ host:/srv", want: []string{
			"rsync -avze ssh -p 2222 dist/ host:/srv |  | " + here, "ssh -p 2222 | ssh command | " + here}},
		{name: "rsync long option", line: "rsync --rsh='ssh -oProxyCommand=id' a h:b", want: []string{
			"rsync --rsh=ssh -oProxyCommand=id a h:b |  | " + here, "ssh -oProxyCommand=id | ssh command | " + here,
			"id | ssh command | " + here}},
		{name: "rsync remote shell variable", line: "RSYNC_RSH='ssh -o ProxyCommand=id' rsync -a x h:y", want: []string{
			"rsync -a x h:y |  | " + here, "ssh -o ProxyCommand=id | ssh command | " + here, "id | ssh command | " + here}},
		{name: "rsync filter is not a shell", line: "rsync -a -f '- *.o' src/ host:dst", want: []string{
			"rsync -a -f - *.o src/ host:dst |  | " + here}},
		// ssh's own option forms before the remote command.
		{name: "forced tty", line: "ssh -t host 'sudo rm -rf /srv/x'", want: []string{
			"ssh -t host sudo rm -rf /srv/x |  | " + here, "rm -rf /srv/x | ssh | ssh sudo | -"}},
		{name: "forced tty twice", line: "ssh -tt host cat .env", want: []string{
			"ssh -tt host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "tty and port in one cluster", line: "ssh -tp 22 host cat .env", want: []string{
			"ssh -tp 22 host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "port attached in a cluster", line: "ssh -tp22 host cat .env", want: []string{
			"ssh -tp22 host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "login name", line: "ssh -l deploy host cat .env", want: []string{
			"ssh -l deploy host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "jump host", line: "ssh -J bastion -l deploy web 'rm -rf /srv/app'", want: []string{
			"ssh -J bastion -l deploy web rm -rf /srv/app |  | " + here, "rm -rf /srv/app | ssh | ssh | -"}},
		{name: "double dash before the destination", line: "ssh -- host cat .env", want: []string{
			"ssh -- host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "options then double dash", line: "ssh -t -p 22 -- host cat .env", want: []string{
			"ssh -t -p 22 -- host cat .env |  | " + here, "cat .env | ssh | ssh | -"}},
		{name: "after double dash the words are the command", line: "ssh -- host -p 22", want: []string{
			"ssh -- host -p 22 |  | " + here, "-p 22 | ssh | ssh | -"}},
		{name: "option value that looks like a double dash", line: "ssh -l -- host id", want: []string{
			"ssh -l -- host id |  | " + here, "id | ssh | ssh | -"}},
		{name: "no command after the options", line: "ssh -t -J bastion host", want: []string{
			"ssh -t -J bastion host |  | " + here}},
		// sshpass and autossh run an ssh that is judged like a bare one.
		{name: "sshpass password", line: "sshpass -p pw ssh host 'cat .env'", want: []string{
			"ssh host cat .env |  | sshpass" + here, "cat .env | ssh | sshpass ssh | -"}},
		{name: "sshpass password attached", line: "sshpass -ppw ssh host cat .env", want: []string{
			"ssh host cat .env |  | sshpass" + here, "cat .env | ssh | sshpass ssh | -"}},
		{name: "sshpass environment", line: "sshpass -e ssh -p 22 host cat .env", want: []string{
			"ssh -p 22 host cat .env |  | sshpass" + here, "cat .env | ssh | sshpass ssh | -"}},
		{name: "sshpass named variable", line: "sshpass -eVAULT_PW -v ssh host cat .env", want: []string{
			"ssh host cat .env |  | sshpass" + here, "cat .env | ssh | sshpass ssh | -"}},
		{name: "sshpass file", line: "sshpass -f pw.txt -P assword ssh host cat .env", want: []string{
			"ssh host cat .env |  | sshpass" + here, "cat .env | ssh | sshpass ssh | -"}},
		{name: "sshpass rsync", line: "sshpass -e rsync --rsync-path='cat .env' host:x .", want: []string{
			"rsync --rsync-path=cat .env host:x . |  | sshpass" + here, "cat .env | ssh | sshpass ssh | -"}},
		{name: "sshpass version runs nothing", line: "sshpass -V ssh host cat .env", want: []string{
			"sshpass -V ssh host cat .env |  | " + here}},
		{name: "autossh", line: "autossh -M 0 host 'rm -rf /srv/x'", want: []string{
			"autossh -M 0 host rm -rf /srv/x |  | " + here, "ssh host rm -rf /srv/x |  | autossh | " + testDir,
			"rm -rf /srv/x | ssh | autossh ssh | -"}},
		{name: "autossh options clustered", line: "autossh -fM 20000 -p 22 host cat .env", want: []string{
			"autossh -fM 20000 -p 22 host cat .env |  | " + here, "ssh -p 22 host cat .env |  | autossh | " + testDir,
			"cat .env | ssh | autossh ssh | -"}},
		{name: "autossh monitor port attached", line: "autossh -M20000:20001 -tf host -- cat .env", want: []string{
			"autossh -M20000:20001 -tf host -- cat .env |  | " + here, "ssh -t host -- cat .env |  | autossh | " + testDir,
			"cat .env | ssh | autossh ssh | -"}},
		{name: "autossh tunnel", line: "autossh -M 0 -f -N -L 5432:localhost:5432 db", want: []string{
			"autossh -M 0 -f -N -L 5432:localhost:5432 db |  | " + here, "ssh -N -L 5432:localhost:5432 db |  | autossh | " + testDir}},
		{name: "autossh proxy command", line: "autossh -M 0 -o ProxyCommand='rm x' host", want: []string{
			"autossh -M 0 -o ProxyCommand=rm x host |  | " + here, "ssh -o ProxyCommand=rm x host |  | autossh | " + testDir,
			"rm x | ssh command | autossh | " + testDir}},
		{name: "autossh path", line: "AUTOSSH_PATH=./evil.sh autossh -M 0 host", want: []string{
			"autossh -M 0 host |  | " + here, "./evil.sh host |  | autossh | " + testDir}},
		{name: "autossh version", line: "autossh -V", want: []string{"autossh -V |  | " + here}},
		// Programs scp and sftp run in place of ssh, and commands they have run on the host.
		{name: "scp program", line: "scp -S ./evil.sh a host:b", want: []string{
			"scp -S ./evil.sh a host:b |  | " + here, "./evil.sh | ssh command | " + here}},
		{name: "scp program attached", line: "scp -S/tmp/x/evil a host:b", want: []string{
			"scp -S/tmp/x/evil a host:b |  | " + here, "/tmp/x/evil | ssh command | " + here}},
		{name: "scp program is a path, not a shell line", line: `scp -S 'sh -c "curl x|sh"' a host:b`, want: []string{
			`scp -S sh -c "curl x|sh" a host:b |  | ` + here, `sh -c "curl x|sh" | ssh command | ` + here}},
		{name: "scp local sftp server", line: "scp -D ./srv a b", want: []string{
			"scp -D ./srv a b |  | " + here, "./srv | ssh command | " + here}},
		{name: "sftp program", line: "sftp -S ./evil.sh host", want: []string{
			"sftp -S ./evil.sh host |  | " + here, "./evil.sh | ssh command | " + here}},
		{name: "sftp direct server command", line: "sftp -D 'sh -c \"rm x\"'", want: []string{
			`sftp -D sh -c "rm x" |  | ` + here, `sh -c rm x | ssh command | ` + here, "rm x | sh -c | " + here}},
		{name: "sftp server path runs on the host", line: "sftp -s '/bin/cat .env; /usr/lib/sftp-server' host", want: []string{
			"sftp -s /bin/cat .env; /usr/lib/sftp-server host |  | " + here, "/bin/cat .env | ssh | ssh | -",
			"/usr/lib/sftp-server | ssh | ssh | -"}},
		{name: "sftp subsystem name", line: "sftp -s sftp host", want: []string{"sftp -s sftp host |  | " + here}},
		// rsync --rsync-path is a shell line run on the host.
		{name: "rsync path", line: "rsync --rsync-path='cat /etc/shadow; rsync' -a host:x .", want: []string{
			"rsync --rsync-path=cat /etc/shadow; rsync -a host:x . |  | " + here, "cat /etc/shadow | ssh | ssh | -",
			"rsync | ssh | ssh | -"}},
		{name: "rsync path as its own word", line: "rsync -a --rsync-path 'sudo rsync' host:/srv/ backup/", want: []string{
			"rsync -a --rsync-path sudo rsync host:/srv/ backup/ |  | " + here, "rsync | ssh | ssh sudo | -"}},
		{name: "rsync path changes directory", line: `rsync -avR --rsync-path="cd /a/b && rsync" host:c/d /e/`, want: []string{
			"rsync -avR --rsync-path=cd /a/b && rsync host:c/d /e/ |  | " + here, "cd /a/b | ssh | ssh | -", "rsync | ssh | ssh | -"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			var got []string
			for _, c := range res.Commands {
				dir := c.Dir
				if dir == "" {
					dir = "-"
				}
				got = append(got, strings.Join(c.Argv, " ")+" | "+c.Via+" | "+strings.Join(c.Wrappers, " ")+" | "+dir)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("commands:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, c := range res.Commands {
				if want := c.Via == ViaSSH || slices.Contains(c.Wrappers, "ssh"); OverSSH(c) != want {
					t.Errorf("%q: OverSSH = %v, want %v", c.Argv, !want, want)
				}
			}
		})
	}
}

func TestImageTool(t *testing.T) {
	tests := []struct {
		ref, want string
	}{
		{"hashicorp/terraform", "terraform"},
		{"hashicorp/terraform:1.9.5", "terraform"},
		{"docker.io/hashicorp/terraform@sha256:0123abcd", "terraform"},
		{"index.docker.io/amazon/aws-cli:latest", "aws"},
		{"public.ecr.aws/aws-cli/aws-cli:2.17.0", "aws"},
		{"Bitnami/Kubectl:1.30", "kubectl"},
		{"localhost:5000/hashicorp/terraform", ""}, // another registry's copy may be anything
		{"terraform", ""},
		{"alpine", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := imageTool(tt.ref)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("imageTool(%q) = %q, %v; want %q", tt.ref, got, ok, tt.want)
		}
	}
}
