package shell

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

const (
	testDir  = "/work/repo"
	testHome = "/home/dev"
)

// wantCmd is the expected form of one SimpleCommand. dir "" means the line's directory (testDir)
// and "-" means none (an ssh remote command); span is the text the command's Span covers.
type wantCmd struct {
	argv     []string
	program  string
	wrappers []string
	via      string
	dir      string
	env      map[string]string
	dynamic  bool
	span     string
}

func parseForTest(t *testing.T, line string) Result {
	t.Helper()
	res, err := Parse(line, Options{Dir: testDir, Home: testHome})
	if err != nil {
		t.Fatalf("Parse(%q): %v", line, err)
	}
	return res
}

func checkCommands(t *testing.T, line string, got []cavra.SimpleCommand, want []wantCmd) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d commands, want %d:\n%s", len(got), len(want), describe(line, got))
		return
	}
	for i, w := range want {
		g := got[i]
		dir := w.dir
		switch dir {
		case "":
			dir = testDir
		case "-":
			dir = ""
		}
		if !slices.Equal(g.Argv, w.argv) {
			t.Errorf("command %d: argv %q, want %q", i, g.Argv, w.argv)
		}
		if g.Program != w.program {
			t.Errorf("command %d: program %q, want %q", i, g.Program, w.program)
		}
		if !slices.Equal(g.Wrappers, w.wrappers) {
			t.Errorf("command %d: wrappers %q, want %q", i, g.Wrappers, w.wrappers)
		}
		if g.Via != w.via {
			t.Errorf("command %d: via %q, want %q", i, g.Via, w.via)
		}
		if g.Dir != dir {
			t.Errorf("command %d: dir %q, want %q", i, g.Dir, dir)
		}
		if !maps.Equal(g.Env, w.env) {
			t.Errorf("command %d: env %v, want %v", i, g.Env, w.env)
		}
		if g.Dynamic != w.dynamic {
			t.Errorf("command %d: dynamic %v, want %v", i, g.Dynamic, w.dynamic)
		}
		if span := spanText(t, line, g.Span); span != w.span {
			t.Errorf("command %d: span %q, want %q", i, span, w.span)
		}
	}
}

func spanText(t *testing.T, line string, s cavra.Span) string {
	t.Helper()
	if s.Start < 0 || s.End < s.Start || s.End > len(line) {
		t.Fatalf("span %+v out of bounds of %d-byte line", s, len(line))
	}
	return line[s.Start:s.End]
}

func describe(line string, cmds []cavra.SimpleCommand) string {
	var b strings.Builder
	for _, c := range cmds {
		span := "?"
		if c.Span.Start >= 0 && c.Span.End <= len(line) && c.Span.Start <= c.Span.End {
			span = line[c.Span.Start:c.Span.End]
		}
		b.WriteString("  argv=" + strings.Join(c.Argv, "|") + " program=" + c.Program + " via=" + c.Via +
			" wrappers=" + strings.Join(c.Wrappers, ",") + " dir=" + c.Dir + " span=" + span + "\n")
	}
	return b.String()
}

func TestParseCommands(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []wantCmd
	}{
		{name: "backslash program", line: "\\rm -r -f /", want: []wantCmd{
			{argv: []string{"rm", "-r", "-f", "/"}, program: "rm", span: "\\rm -r -f /"},
		}},
		{name: "absolute program path", line: "/bin/rm -rf /", want: []wantCmd{
			{argv: []string{"/bin/rm", "-rf", "/"}, program: "rm", span: "/bin/rm -rf /"},
		}},
		{name: "quoted program pieces", line: "'r''m' -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "'r''m' -rf /"},
		}},
		{name: "double quoted program", line: "\"rm\" -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "\"rm\" -rf /"},
		}},
		{name: "ansi-c quoted program", line: "$'\\x72\\x6d' -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "$'\\x72\\x6d' -rf /"},
		}},
		{name: "env assignment wrapper", line: "env X=1 rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"env"}, env: map[string]string{"X": "1"}, span: "env X=1 rm -rf /"},
		}},
		{name: "prefix assignment", line: "X=1 Y=two rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", env: map[string]string{"X": "1", "Y": "two"}, span: "X=1 Y=two rm -rf /"},
		}},
		{name: "env ignore and unset", line: "A=1 env -i -u B C=3 rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"env"}, env: map[string]string{"C": "3"}, span: "A=1 env -i -u B C=3 rm x"},
		}},
		{name: "sudo", line: "sudo rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"sudo"}, span: "sudo rm -rf /"},
		}},
		{name: "sudo with options", line: "sudo -u root -E -- rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"sudo"}, span: "sudo -u root -E -- rm -rf /"},
		}},
		{name: "sudo with env", line: "sudo -H FOO=bar rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"sudo"}, env: map[string]string{"FOO": "bar"}, span: "sudo -H FOO=bar rm x"},
		}},
		{name: "sudo chdir", line: "sudo -D /srv rm -rf data", want: []wantCmd{
			{argv: []string{"rm", "-rf", "data"}, program: "rm", wrappers: []string{"sudo"}, dir: "/srv", span: "sudo -D /srv rm -rf data"},
		}},
		{name: "sudo alone is the program", line: "sudo -i", want: []wantCmd{
			{argv: []string{"sudo", "-i"}, program: "sudo", span: "sudo -i"},
		}},
		{name: "doas", line: "doas rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"doas"}, span: "doas rm -rf /"},
		}},
		{name: "stacked wrappers", line: "nohup timeout 5 nice -n 5 rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"nohup", "timeout", "nice"}, span: "nohup timeout 5 nice -n 5 rm -rf /"},
		}},
		{name: "timeout options", line: "timeout -s KILL --preserve-status 10s rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"timeout"}, span: "timeout -s KILL --preserve-status 10s rm x"},
		}},
		{name: "nice attached adjustment", line: "nice -10 rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"nice"}, span: "nice -10 rm x"},
		}},
		{name: "ionice", line: "ionice -c 3 -n7 rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"ionice"}, span: "ionice -c 3 -n7 rm x"},
		}},
		{name: "ionice pid runs nothing", line: "ionice -p 42", want: []wantCmd{
			{argv: []string{"ionice", "-p", "42"}, program: "ionice", span: "ionice -p 42"},
		}},
		{name: "stdbuf", line: "stdbuf -oL -e0 rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"stdbuf"}, span: "stdbuf -oL -e0 rm x"},
		}},
		{name: "setsid", line: "setsid -f rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"setsid"}, span: "setsid -f rm x"},
		}},
		{name: "time keyword", line: "time rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"time"}, span: "time rm -rf /"},
		}},
		{name: "time posix", line: "time -p rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"time"}, span: "time -p rm -rf /"},
		}},
		{name: "external time", line: "sudo time -f %e rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"sudo", "time"}, span: "sudo time -f %e rm x"},
		}},
		{name: "exec", line: "exec rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"exec"}, span: "exec rm -rf /"},
		}},
		{name: "exec alone", line: "exec >log 2>&1", want: []wantCmd{
			{argv: []string{"exec"}, program: "exec", span: "exec >log 2>&1"},
		}},
		{name: "command wrapper", line: "command rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"command"}, span: "command rm -rf /"},
		}},
		{name: "command lookup runs nothing", line: "command -v rm", want: []wantCmd{
			{argv: []string{"command", "-v", "rm"}, program: "command", span: "command -v rm"},
		}},
		{name: "builtin", line: "builtin cd /tmp && rm -rf x", want: []wantCmd{
			{argv: []string{"cd", "/tmp"}, program: "cd", wrappers: []string{"builtin"}, span: "builtin cd /tmp"},
			{argv: []string{"rm", "-rf", "x"}, program: "rm", dir: "/tmp", span: "rm -rf x"},
		}},
		{name: "busybox", line: "busybox rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"busybox"}, span: "busybox rm -rf /"},
		}},
		{name: "xargs", line: "xargs rm", want: []wantCmd{
			{argv: []string{"rm"}, program: "rm", wrappers: []string{"xargs"}, via: "xargs", span: "xargs rm"},
		}},
		{name: "xargs options", line: "find . -print0 | xargs -0 -I {} -n 1 -P 4 rm -rf {}", want: []wantCmd{
			{argv: []string{"find", ".", "-print0"}, program: "find", via: "pipeline", span: "find . -print0"},
			{argv: []string{"rm", "-rf", "{}"}, program: "rm", wrappers: []string{"xargs"}, via: "xargs", span: "xargs -0 -I {} -n 1 -P 4 rm -rf {}"},
		}},
		{name: "xargs alone", line: "ls | xargs", want: []wantCmd{
			{argv: []string{"ls"}, program: "ls", via: "pipeline", span: "ls"},
			{argv: []string{"xargs"}, program: "xargs", via: "pipeline", span: "xargs"},
		}},
		{name: "find exec", line: "find . -exec rm -rf {} \\;", want: []wantCmd{
			{argv: []string{"find", ".", "-exec", "rm", "-rf", "{}", ";"}, program: "find", span: "find . -exec rm -rf {} \\;"},
			{argv: []string{"rm", "-rf", "{}"}, program: "rm", via: "find -exec", span: "rm -rf {}"},
		}},
		{name: "find execdir plus and ok", line: "find / -name x -execdir rm {} + -ok shred -u {} \\;", want: []wantCmd{
			{argv: []string{"find", "/", "-name", "x", "-execdir", "rm", "{}", "+", "-ok", "shred", "-u", "{}", ";"}, program: "find", span: "find / -name x -execdir rm {} + -ok shred -u {} \\;"},
			{argv: []string{"rm", "{}"}, program: "rm", via: "find -exec", span: "rm {}"},
			{argv: []string{"shred", "-u", "{}"}, program: "shred", via: "find -exec", span: "shred -u {}"},
		}},
		{name: "find exec with wrapper", line: "find . -type f -exec sudo chmod 777 {} +", want: []wantCmd{
			{argv: []string{"find", ".", "-type", "f", "-exec", "sudo", "chmod", "777", "{}", "+"}, program: "find", span: "find . -type f -exec sudo chmod 777 {} +"},
			{argv: []string{"chmod", "777", "{}"}, program: "chmod", wrappers: []string{"sudo"}, via: "find -exec", span: "sudo chmod 777 {}"},
		}},
		{name: "find exec shell", line: "find . -exec sh -c 'rm \"$1\"' _ {} \\;", want: []wantCmd{
			{argv: []string{"find", ".", "-exec", "sh", "-c", "rm \"$1\"", "_", "{}", ";"}, program: "find", span: "find . -exec sh -c 'rm \"$1\"' _ {} \\;"},
			{argv: []string{"sh", "-c", "rm \"$1\"", "_", "{}"}, program: "sh", via: "find -exec", span: "sh -c 'rm \"$1\"' _ {}"},
			{argv: []string{"rm", "{}"}, program: "rm", via: "sh -c", span: "'rm \"$1\"'"},
		}},
		{name: "sh -c", line: "sh -c 'rm -rf /'", want: []wantCmd{
			{argv: []string{"sh", "-c", "rm -rf /"}, program: "sh", span: "sh -c 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "bash -c", line: "bash -c \"rm -rf /\"", want: []wantCmd{
			{argv: []string{"bash", "-c", "rm -rf /"}, program: "bash", span: "bash -c \"rm -rf /\""},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "\"rm -rf /\""},
		}},
		{name: "bash -lc", line: "bash -lc 'rm -rf /'", want: []wantCmd{
			{argv: []string{"bash", "-lc", "rm -rf /"}, program: "bash", span: "bash -lc 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "bash -e -c", line: "bash -e -c 'rm -rf /'", want: []wantCmd{
			{argv: []string{"bash", "-e", "-c", "rm -rf /"}, program: "bash", span: "bash -e -c 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "zsh -c", line: "zsh -c 'rm -rf /'", want: []wantCmd{
			{argv: []string{"zsh", "-c", "rm -rf /"}, program: "zsh", span: "zsh -c 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "dash with option value", line: "dash -o errexit -c 'rm -rf /'", want: []wantCmd{
			{argv: []string{"dash", "-o", "errexit", "-c", "rm -rf /"}, program: "dash", span: "dash -o errexit -c 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "sudo bash -c", line: "sudo bash -c 'rm -rf / && echo done'", want: []wantCmd{
			{argv: []string{"bash", "-c", "rm -rf / && echo done"}, program: "bash", wrappers: []string{"sudo"}, span: "sudo bash -c 'rm -rf / && echo done'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"sudo"}, via: "sh -c", span: "'rm -rf / && echo done'"},
			{argv: []string{"echo", "done"}, program: "echo", wrappers: []string{"sudo"}, via: "sh -c", span: "'rm -rf / && echo done'"},
		}},
		{name: "sh -c positional", line: "sh -c 'rm -rf \"$1\"' _ /", want: []wantCmd{
			{argv: []string{"sh", "-c", "rm -rf \"$1\"", "_", "/"}, program: "sh", span: "sh -c 'rm -rf \"$1\"' _ /"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf \"$1\"'"},
		}},
		{name: "bash script is not a payload", line: "bash script.sh -c x", want: []wantCmd{
			{argv: []string{"bash", "script.sh", "-c", "x"}, program: "bash", span: "bash script.sh -c x"},
		}},
		{name: "relative script", line: "./script.sh --fast", want: []wantCmd{
			{argv: []string{"./script.sh", "--fast"}, program: "script.sh", span: "./script.sh --fast"},
		}},
		{name: "su -c", line: "su -c 'rm -rf /' root", want: []wantCmd{
			{argv: []string{"su", "-c", "rm -rf /", "root"}, program: "su", span: "su -c 'rm -rf /' root"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "su user -c", line: "su - root -c 'rm -rf /'", want: []wantCmd{
			{argv: []string{"su", "-", "root", "-c", "rm -rf /"}, program: "su", span: "su - root -c 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "ssh remote", line: "ssh -p 22 host 'rm -rf /tmp/x'", want: []wantCmd{
			{argv: []string{"ssh", "-p", "22", "host", "rm -rf /tmp/x"}, program: "ssh", span: "ssh -p 22 host 'rm -rf /tmp/x'"},
			{argv: []string{"rm", "-rf", "/tmp/x"}, program: "rm", wrappers: []string{"ssh"}, via: "ssh", dir: "-", span: "'rm -rf /tmp/x'"},
		}},
		{name: "ssh without command", line: "ssh -i key host", want: []wantCmd{
			{argv: []string{"ssh", "-i", "key", "host"}, program: "ssh", span: "ssh -i key host"},
		}},
		{name: "sshpass runs ssh", line: "sshpass -p pw ssh host 'cat .env'", want: []wantCmd{
			{argv: []string{"ssh", "host", "cat .env"}, program: "ssh", wrappers: []string{"sshpass"}, span: "sshpass -p pw ssh host 'cat .env'"},
			{argv: []string{"cat", ".env"}, program: "cat", wrappers: []string{"sshpass", "ssh"}, via: "ssh", dir: "-", span: "'cat .env'"},
		}},
		{name: "autossh runs ssh", line: "autossh -M 0 host 'rm -rf /srv/x'", want: []wantCmd{
			{argv: []string{"autossh", "-M", "0", "host", "rm -rf /srv/x"}, program: "autossh", span: "autossh -M 0 host 'rm -rf /srv/x'"},
			{argv: []string{"ssh", "host", "rm -rf /srv/x"}, program: "ssh", wrappers: []string{"autossh"}, span: "autossh -M 0 host 'rm -rf /srv/x'"},
			{argv: []string{"rm", "-rf", "/srv/x"}, program: "rm", wrappers: []string{"autossh", "ssh"}, via: "ssh", dir: "-", span: "'rm -rf /srv/x'"},
		}},
		{name: "scp program", line: "scp -S ./bin/evil.sh a host:b", want: []wantCmd{
			{argv: []string{"scp", "-S", "./bin/evil.sh", "a", "host:b"}, program: "scp", span: "scp -S ./bin/evil.sh a host:b"},
			{argv: []string{"./bin/evil.sh"}, program: "evil.sh", via: "ssh command", span: "./bin/evil.sh"},
		}},
		{name: "scp program attached", line: "scp -qS./bin/evil.sh a host:b", want: []wantCmd{
			{argv: []string{"scp", "-qS./bin/evil.sh", "a", "host:b"}, program: "scp", span: "scp -qS./bin/evil.sh a host:b"},
			{argv: []string{"./bin/evil.sh"}, program: "evil.sh", via: "ssh command", span: "-qS./bin/evil.sh"},
		}},
		{name: "rsync path", line: "rsync --rsync-path='cat .env; rsync' host:x .", want: []wantCmd{
			{argv: []string{"rsync", "--rsync-path=cat .env; rsync", "host:x", "."}, program: "rsync", span: "rsync --rsync-path='cat .env; rsync' host:x ."},
			{argv: []string{"cat", ".env"}, program: "cat", wrappers: []string{"ssh"}, via: "ssh", dir: "-", span: "--rsync-path='cat .env; rsync'"},
			{argv: []string{"rsync"}, program: "rsync", wrappers: []string{"ssh"}, via: "ssh", dir: "-", span: "--rsync-path='cat .env; rsync'"},
		}},
		{name: "watch", line: "watch -n 5 'rm -rf /tmp/x; ls'", want: []wantCmd{
			{argv: []string{"watch", "-n", "5", "rm -rf /tmp/x; ls"}, program: "watch", span: "watch -n 5 'rm -rf /tmp/x; ls'"},
			{argv: []string{"rm", "-rf", "/tmp/x"}, program: "rm", via: "sh -c", span: "'rm -rf /tmp/x; ls'"},
			{argv: []string{"ls"}, program: "ls", via: "sh -c", span: "'rm -rf /tmp/x; ls'"},
		}},
		{name: "eval", line: "eval \"rm -rf /\"", want: []wantCmd{
			{argv: []string{"eval", "rm -rf /"}, program: "eval", span: "eval \"rm -rf /\""},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "eval", span: "\"rm -rf /\""},
		}},
		{name: "eval joins arguments", line: "eval rm '-rf' \"/\"", want: []wantCmd{
			{argv: []string{"eval", "rm", "-rf", "/"}, program: "eval", span: "eval rm '-rf' \"/\""},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "eval", span: "rm '-rf' \"/\""},
		}},
		{name: "eval in eval", line: "eval 'eval \"rm -rf /\"'", want: []wantCmd{
			{argv: []string{"eval", "eval \"rm -rf /\""}, program: "eval", span: "eval 'eval \"rm -rf /\"'"},
			{argv: []string{"eval", "rm -rf /"}, program: "eval", via: "eval", span: "'eval \"rm -rf /\"'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "eval", span: "'eval \"rm -rf /\"'"},
		}},
		{name: "eval keeps cd", line: "eval \"cd /tmp\"; rm -rf x", want: []wantCmd{
			{argv: []string{"eval", "cd /tmp"}, program: "eval", span: "eval \"cd /tmp\""},
			{argv: []string{"cd", "/tmp"}, program: "cd", via: "eval", span: "\"cd /tmp\""},
			{argv: []string{"rm", "-rf", "x"}, program: "rm", dir: "/tmp", span: "rm -rf x"},
		}},
		{name: "bash -c eval", line: "bash -c 'eval \"sudo rm -rf /\"'", want: []wantCmd{
			{argv: []string{"bash", "-c", "eval \"sudo rm -rf /\""}, program: "bash", span: "bash -c 'eval \"sudo rm -rf /\"'"},
			{argv: []string{"eval", "sudo rm -rf /"}, program: "eval", via: "sh -c", span: "'eval \"sudo rm -rf /\"'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"sudo"}, via: "eval", span: "'eval \"sudo rm -rf /\"'"},
		}},
		{name: "semicolon list", line: "pytest; rm -rf /", want: []wantCmd{
			{argv: []string{"pytest"}, program: "pytest", span: "pytest"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "rm -rf /"},
		}},
		{name: "and or list", line: "make || rm -rf build && make test", want: []wantCmd{
			{argv: []string{"make"}, program: "make", span: "make"},
			{argv: []string{"rm", "-rf", "build"}, program: "rm", span: "rm -rf build"},
			{argv: []string{"make", "test"}, program: "make", span: "make test"},
		}},
		{name: "background", line: "sleep 10 & rm -rf /", want: []wantCmd{
			{argv: []string{"sleep", "10"}, program: "sleep", span: "sleep 10"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "rm -rf /"},
		}},
		{name: "pipeline", line: "go test ./... 2>&1 | tee out.log", want: []wantCmd{
			{argv: []string{"go", "test", "./..."}, program: "go", via: "pipeline", span: "go test ./... 2>&1"},
			{argv: []string{"tee", "out.log"}, program: "tee", via: "pipeline", span: "tee out.log"},
		}},
		{name: "pipe all", line: "make |& grep error", want: []wantCmd{
			{argv: []string{"make"}, program: "make", via: "pipeline", span: "make"},
			{argv: []string{"grep", "error"}, program: "grep", via: "pipeline", span: "grep error"},
		}},
		{name: "negated", line: "! grep -q x file", want: []wantCmd{
			{argv: []string{"grep", "-q", "x", "file"}, program: "grep", span: "grep -q x file"},
		}},
		{name: "command substitution", line: "echo $(rm -rf /)", want: []wantCmd{
			{argv: []string{"echo", "$(rm -rf /)"}, program: "echo", dynamic: true, span: "echo $(rm -rf /)"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "substitution", span: "rm -rf /"},
		}},
		{name: "backticks", line: "echo `rm -rf /`", want: []wantCmd{
			{argv: []string{"echo", "`rm -rf /`"}, program: "echo", dynamic: true, span: "echo `rm -rf /`"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "substitution", span: "rm -rf /"},
		}},
		{name: "nested substitution", line: "echo \"$(ls $(pwd))\"", want: []wantCmd{
			{argv: []string{"echo", "$(ls $(pwd))"}, program: "echo", dynamic: true, span: "echo \"$(ls $(pwd))\""},
			{argv: []string{"ls", "$(pwd)"}, program: "ls", via: "substitution", dynamic: true, span: "ls $(pwd)"},
			{argv: []string{"pwd"}, program: "pwd", via: "substitution", span: "pwd"},
		}},
		{name: "process substitution", line: "diff <(ls a) >(tee b)", want: []wantCmd{
			{argv: []string{"diff", "<(ls a)", ">(tee b)"}, program: "diff", dynamic: true, span: "diff <(ls a) >(tee b)"},
			{argv: []string{"ls", "a"}, program: "ls", via: "substitution", span: "ls a"},
			{argv: []string{"tee", "b"}, program: "tee", via: "substitution", span: "tee b"},
		}},
		{name: "substitution in assignment", line: "X=$(rm -rf /)", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "substitution", span: "rm -rf /"},
		}},
		{name: "substitution in redirect", line: "echo hi > \"$(mktemp)\"", want: []wantCmd{
			{argv: []string{"echo", "hi"}, program: "echo", span: "echo hi > \"$(mktemp)\""},
			{argv: []string{"mktemp"}, program: "mktemp", via: "substitution", span: "mktemp"},
		}},
		{name: "arithmetic is not a command", line: "echo $((1 + 2)); (( i++ ))", want: []wantCmd{
			{argv: []string{"echo", "$((1 + 2))"}, program: "echo", dynamic: true, span: "echo $((1 + 2))"},
		}},
		{name: "arithmetic with substitution", line: "echo $(( $(wc -l < f) + 1 ))", want: []wantCmd{
			{argv: []string{"echo", "$(( $(wc -l < f) + 1 ))"}, program: "echo", dynamic: true, span: "echo $(( $(wc -l < f) + 1 ))"},
			{argv: []string{"wc", "-l"}, program: "wc", via: "substitution", span: "wc -l < f"},
		}},
		{name: "subshell", line: "(cd /tmp && rm -rf x); ls", want: []wantCmd{
			{argv: []string{"cd", "/tmp"}, program: "cd", via: "subshell", span: "cd /tmp"},
			{argv: []string{"rm", "-rf", "x"}, program: "rm", via: "subshell", dir: "/tmp", span: "rm -rf x"},
			{argv: []string{"ls"}, program: "ls", span: "ls"},
		}},
		{name: "block", line: "{ cd sub; make; }; ls", want: []wantCmd{
			{argv: []string{"cd", "sub"}, program: "cd", span: "cd sub"},
			{argv: []string{"make"}, program: "make", dir: "/work/repo/sub", span: "make"},
			{argv: []string{"ls"}, program: "ls", dir: "/work/repo/sub", span: "ls"},
		}},
		{name: "if all branches", line: "if test -f a; then rm a; elif test -f b; then rm b; else rm c; fi", want: []wantCmd{
			{argv: []string{"test", "-f", "a"}, program: "test", span: "test -f a"},
			{argv: []string{"rm", "a"}, program: "rm", span: "rm a"},
			{argv: []string{"test", "-f", "b"}, program: "test", span: "test -f b"},
			{argv: []string{"rm", "b"}, program: "rm", span: "rm b"},
			{argv: []string{"rm", "c"}, program: "rm", span: "rm c"},
		}},
		{name: "while loop", line: "while read -r f; do rm \"$f\"; done < list.txt", want: []wantCmd{
			{argv: []string{"read", "-r", "f"}, program: "read", span: "read -r f"},
			{argv: []string{"rm", "$f"}, program: "rm", dynamic: true, span: "rm \"$f\""},
		}},
		{name: "until loop", line: "until curl -s localhost; do sleep 1; done", want: []wantCmd{
			{argv: []string{"curl", "-s", "localhost"}, program: "curl", span: "curl -s localhost"},
			{argv: []string{"sleep", "1"}, program: "sleep", span: "sleep 1"},
		}},
		{name: "for loop", line: "for f in *.go; do gofmt -l \"$f\"; done", want: []wantCmd{
			{argv: []string{"gofmt", "-l", "$f"}, program: "gofmt", dynamic: true, span: "gofmt -l \"$f\""},
		}},
		{name: "c style for", line: "for ((i=0; i<3; i++)); do echo $i; done", want: []wantCmd{
			{argv: []string{"echo", "$i"}, program: "echo", dynamic: true, span: "echo $i"},
		}},
		{name: "case", line: "case \"$1\" in start) make run;; stop|halt) pkill app;; *) echo usage;; esac", want: []wantCmd{
			{argv: []string{"make", "run"}, program: "make", span: "make run"},
			{argv: []string{"pkill", "app"}, program: "pkill", span: "pkill app"},
			{argv: []string{"echo", "usage"}, program: "echo", span: "echo usage"},
		}},
		{name: "test clause", line: "[[ -f $(which rm) ]] && echo yes", want: []wantCmd{
			{argv: []string{"which", "rm"}, program: "which", via: "substitution", span: "which rm"},
			{argv: []string{"echo", "yes"}, program: "echo", span: "echo yes"},
		}},
		{name: "function body", line: "f(){ rm -rf /; }; f", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "function", span: "rm -rf /"},
			{argv: []string{"f"}, program: "f", span: "f"},
		}},
		{name: "function keyword", line: "function clean { rm -rf build; }", want: []wantCmd{
			{argv: []string{"rm", "-rf", "build"}, program: "rm", via: "function", span: "rm -rf build"},
		}},
		{name: "heredoc to bash", line: "bash <<EOF\nrm -rf /\nEOF", want: []wantCmd{
			{argv: []string{"bash"}, program: "bash", span: "bash <<EOF"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "heredoc", span: "rm -rf /"},
		}},
		{name: "quoted heredoc to sudo sh", line: "sudo sh <<'EOF'\nrm -rf /\nEOF", want: []wantCmd{
			{argv: []string{"sh"}, program: "sh", wrappers: []string{"sudo"}, span: "sudo sh <<'EOF'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"sudo"}, via: "heredoc", span: "rm -rf /"},
		}},
		{name: "dash heredoc", line: "bash <<-EOF\n\trm -rf /\n\tEOF", want: []wantCmd{
			{argv: []string{"bash"}, program: "bash", span: "bash <<-EOF"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "heredoc", span: "\trm -rf /"},
		}},
		{name: "here-string to sh", line: "sh <<< \"rm -rf /\"", want: []wantCmd{
			{argv: []string{"sh"}, program: "sh", span: "sh <<< \"rm -rf /\""},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "heredoc", span: "\"rm -rf /\""},
		}},
		{name: "python heredoc is not shell", line: "python3 - <<'EOF'\nimport os\nos.system(\"rm -rf /\")\nEOF", want: []wantCmd{
			{argv: []string{"python3", "-"}, program: "python3", span: "python3 - <<'EOF'"},
		}},
		{name: "heredoc substitution runs", line: "cat <<EOF > out.txt\n$(rm -rf /)\nEOF", want: []wantCmd{
			{argv: []string{"cat"}, program: "cat", span: "cat <<EOF > out.txt"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "substitution", span: "rm -rf /"},
		}},
		{name: "echo piped to sh", line: "echo \"rm -rf /\" | sh", want: []wantCmd{
			{argv: []string{"echo", "rm -rf /"}, program: "echo", via: "pipeline", span: "echo \"rm -rf /\""},
			{argv: []string{"sh"}, program: "sh", via: "pipeline", span: "sh"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "piped script", span: "echo \"rm -rf /\""},
		}},
		{name: "printf piped to bash", line: "printf 'rm -rf /\\n' | sudo bash", want: []wantCmd{
			{argv: []string{"printf", "rm -rf /\\n"}, program: "printf", via: "pipeline", span: "printf 'rm -rf /\\n'"},
			{argv: []string{"bash"}, program: "bash", wrappers: []string{"sudo"}, via: "pipeline", span: "sudo bash"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"sudo"}, via: "piped script", span: "printf 'rm -rf /\\n'"},
		}},
		{name: "declare with substitution", line: "declare -x X=$(rm -rf /)", want: []wantCmd{
			{argv: []string{"declare", "-x", "X=$(rm -rf /)"}, program: "declare", dynamic: true, span: "declare -x X=$(rm -rf /)"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "substitution", span: "rm -rf /"},
		}},
		{name: "export then use", line: "export T=/; rm -rf $T", want: []wantCmd{
			{argv: []string{"export", "T=/"}, program: "export", span: "export T=/"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "rm -rf $T"},
		}},
		{name: "local with substitution", line: "f() { local d=\"$(mktemp -d)\"; rm -rf \"$d\"; }", want: []wantCmd{
			{argv: []string{"local", "d=$(mktemp -d)"}, program: "local", via: "function", dynamic: true, span: "local d=\"$(mktemp -d)\""},
			{argv: []string{"mktemp", "-d"}, program: "mktemp", via: "substitution", span: "mktemp -d"},
			{argv: []string{"rm", "-rf", "$d"}, program: "rm", via: "function", dynamic: true, span: "rm -rf \"$d\""},
		}},
		{name: "variable program", line: "X=rm; $X -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "$X -rf /"},
		}},
		{name: "variable splits into words", line: "CMD=\"rm -rf\"; $CMD /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "$CMD /"},
		}},
		{name: "unknown variable", line: "rm -rf \"$TARGET\"", want: []wantCmd{
			{argv: []string{"rm", "-rf", "$TARGET"}, program: "rm", dynamic: true, span: "rm -rf \"$TARGET\""},
		}},
		{name: "home and pwd", line: "rm $HOME/x ${HOME}/y \"$PWD/z\" ~/w", want: []wantCmd{
			{argv: []string{"rm", "/home/dev/x", "/home/dev/y", "/work/repo/z", "~/w"}, program: "rm", span: "rm $HOME/x ${HOME}/y \"$PWD/z\" ~/w"},
		}},
		{name: "cd then command", line: "cd infra && terraform apply", want: []wantCmd{
			{argv: []string{"cd", "infra"}, program: "cd", span: "cd infra"},
			{argv: []string{"terraform", "apply"}, program: "terraform", dir: "/work/repo/infra", span: "terraform apply"},
		}},
		{name: "cd absolute", line: "cd /etc; cat passwd", want: []wantCmd{
			{argv: []string{"cd", "/etc"}, program: "cd", span: "cd /etc"},
			{argv: []string{"cat", "passwd"}, program: "cat", dir: "/etc", span: "cat passwd"},
		}},
		{name: "cd home and back", line: "cd; ls; cd -; ls", want: []wantCmd{
			{argv: []string{"cd"}, program: "cd", span: "cd"},
			{argv: []string{"ls"}, program: "ls", dir: "/home/dev", span: "ls"},
			{argv: []string{"cd", "-"}, program: "cd", dir: "/home/dev", span: "cd -"},
			{argv: []string{"ls"}, program: "ls", span: "ls"},
		}},
		{name: "pushd popd", line: "pushd sub; make; popd; ls", want: []wantCmd{
			{argv: []string{"pushd", "sub"}, program: "pushd", span: "pushd sub"},
			{argv: []string{"make"}, program: "make", dir: "/work/repo/sub", span: "make"},
			{argv: []string{"popd"}, program: "popd", dir: "/work/repo/sub", span: "popd"},
			{argv: []string{"ls"}, program: "ls", span: "ls"},
		}},
		{name: "subshell cd does not leak", line: "(cd /tmp); rm -rf x", want: []wantCmd{
			{argv: []string{"cd", "/tmp"}, program: "cd", via: "subshell", span: "cd /tmp"},
			{argv: []string{"rm", "-rf", "x"}, program: "rm", span: "rm -rf x"},
		}},
		{name: "pipeline cd does not leak", line: "cd /tmp | true; rm -rf x", want: []wantCmd{
			{argv: []string{"cd", "/tmp"}, program: "cd", via: "pipeline", span: "cd /tmp"},
			{argv: []string{"true"}, program: "true", via: "pipeline", span: "true"},
			{argv: []string{"rm", "-rf", "x"}, program: "rm", span: "rm -rf x"},
		}},
		{name: "cd in if branch unknown after", line: "if a; then cd x; fi; rm y", want: []wantCmd{
			{argv: []string{"a"}, program: "a", span: "a"},
			{argv: []string{"cd", "x"}, program: "cd", span: "cd x"},
			{argv: []string{"rm", "y"}, program: "rm", span: "rm y"},
		}},
		{name: "env chdir", line: "env -C /srv rm -rf data", want: []wantCmd{
			{argv: []string{"rm", "-rf", "data"}, program: "rm", wrappers: []string{"env"}, dir: "/srv", span: "env -C /srv rm -rf data"},
		}},
		{name: "git commit with substitution", line: "git commit -m \"fix: handle $(weird) text\"", want: []wantCmd{
			{argv: []string{"git", "commit", "-m", "fix: handle $(weird) text"}, program: "git", dynamic: true, span: "git commit -m \"fix: handle $(weird) text\""},
			{argv: []string{"weird"}, program: "weird", via: "substitution", span: "weird"},
		}},
		{name: "npm build and test", line: "npm run build && npm test", want: []wantCmd{
			{argv: []string{"npm", "run", "build"}, program: "npm", span: "npm run build"},
			{argv: []string{"npm", "test"}, program: "npm", span: "npm test"},
		}},
		{name: "make with flags", line: "make -j4 CFLAGS=\"-O2\"", want: []wantCmd{
			{argv: []string{"make", "-j4", "CFLAGS=-O2"}, program: "make", span: "make -j4 CFLAGS=\"-O2\""},
		}},
		{name: "docker with pwd", line: "docker run --rm -v \"$PWD:/src\" img", want: []wantCmd{
			{argv: []string{"docker", "run", "--rm", "-v", "/work/repo:/src", "img"}, program: "docker", span: "docker run --rm -v \"$PWD:/src\" img"},
		}},
		{name: "python heredoc", line: "python - <<'EOF'\nprint(1)\nEOF", want: []wantCmd{
			{argv: []string{"python", "-"}, program: "python", span: "python - <<'EOF'"},
		}},
		{name: "trap payload", line: "trap 'rm -rf /tmp/x' EXIT", want: []wantCmd{
			{argv: []string{"trap", "rm -rf /tmp/x", "EXIT"}, program: "trap", span: "trap 'rm -rf /tmp/x' EXIT"},
			{argv: []string{"rm", "-rf", "/tmp/x"}, program: "rm", via: "trap", span: "'rm -rf /tmp/x'"},
		}},
		{name: "alias payload", line: "alias ll='ls -la'", want: []wantCmd{
			{argv: []string{"alias", "ll=ls -la"}, program: "alias", span: "alias ll='ls -la'"},
			{argv: []string{"ls", "-la"}, program: "ls", via: "alias", span: "ll='ls -la'"},
		}},
		{name: "comments only", line: "# nothing to do here\n   # really", want: []wantCmd{}},
		{name: "empty line", line: "", want: []wantCmd{}},
		{name: "fork bomb", line: ":(){ :|:& };:", want: []wantCmd{
			{argv: []string{":"}, program: ":", via: "fork bomb", span: ":"},
			{argv: []string{":"}, program: ":", via: "fork bomb", span: ":"},
			{argv: []string{":"}, program: ":", span: ":"},
		}},
		{name: "env split string", line: "env -S 'rm -rf' /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"env"}, via: "env -S", span: "env -S 'rm -rf' /"},
		}},
		{name: "glob stays literal", line: "rm -rf *.o build/[ab]?", want: []wantCmd{
			{argv: []string{"rm", "-rf", "*.o", "build/[ab]?"}, program: "rm", span: "rm -rf *.o build/[ab]?"},
		}},
		{name: "tilde user", line: "ls ~root/.ssh", want: []wantCmd{
			{argv: []string{"ls", "~root/.ssh"}, program: "ls", span: "ls ~root/.ssh"},
		}},
		{name: "line continuation", line: "rm \\\n  -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "rm \\\n  -rf /"},
		}},
		{name: "escaped quotes", line: "echo \"a \\\"quoted\\\" \\$word\" 'single $x'", want: []wantCmd{
			{argv: []string{"echo", "a \"quoted\" $word", "single $x"}, program: "echo", span: "echo \"a \\\"quoted\\\" \\$word\" 'single $x'"},
		}},
		{name: "empty command name", line: "\"\" rm -rf /", want: []wantCmd{}},
		{name: "coproc", line: "coproc rm -rf /tmp/x", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/tmp/x"}, program: "rm", via: "subshell", span: "rm -rf /tmp/x"},
		}},
		{name: "brace expansion program", line: "{rm,-rf,/}", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", span: "{rm,-rf,/}"},
		}},
		{name: "brace expansion arguments", line: "cp file{,.bak}", want: []wantCmd{
			{argv: []string{"cp", "file", "file.bak"}, program: "cp", span: "cp file{,.bak}"},
		}},
		{name: "huge brace sequence stays as written", line: "echo {1..99999999}", want: []wantCmd{
			{argv: []string{"echo", "{1..99999999}"}, program: "echo", dynamic: true, span: "echo {1..99999999}"},
		}},
		{name: "env dash clears environment", line: "X=1 env - PATH=/x rm y", want: []wantCmd{
			{argv: []string{"rm", "y"}, program: "rm", wrappers: []string{"env"}, env: map[string]string{"PATH": "/x"}, span: "X=1 env - PATH=/x rm y"},
		}},
		{name: "home reassigned then cd", line: "HOME=/tmp; cd; rm x", want: []wantCmd{
			{argv: []string{"cd"}, program: "cd", span: "cd"},
			{argv: []string{"rm", "x"}, program: "rm", dir: "/tmp", span: "rm x"},
		}},
		{name: "pwd after cd", line: "cd /srv; echo $PWD $OLDPWD", want: []wantCmd{
			{argv: []string{"cd", "/srv"}, program: "cd", span: "cd /srv"},
			{argv: []string{"echo", "/srv", "/work/repo"}, program: "echo", dir: "/srv", span: "echo $PWD $OLDPWD"},
		}},
		{name: "ansi-c payload", line: "bash -c $'\\x72m -rf /'", want: []wantCmd{
			{argv: []string{"bash", "-c", "rm -rf /"}, program: "bash", span: "bash -c $'\\x72m -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "$'\\x72m -rf /'"},
		}},
		{name: "xargs into sh -c", line: "xargs sh -c 'rm -rf \"$@\"' _", want: []wantCmd{
			{argv: []string{"sh", "-c", "rm -rf \"$@\"", "_"}, program: "sh", wrappers: []string{"xargs"}, via: "xargs", span: "xargs sh -c 'rm -rf \"$@\"' _"},
			{argv: []string{"rm", "-rf", "$@"}, program: "rm", wrappers: []string{"xargs"}, via: "sh -c", dynamic: true, span: "'rm -rf \"$@\"'"},
		}},
		{name: "wrappers inside payload", line: "timeout 5 bash -c 'nice rm x'", want: []wantCmd{
			{argv: []string{"bash", "-c", "nice rm x"}, program: "bash", wrappers: []string{"timeout"}, span: "timeout 5 bash -c 'nice rm x'"},
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"timeout", "nice"}, via: "sh -c", span: "'nice rm x'"},
		}},
		{name: "command -V", line: "command -V rm", want: []wantCmd{
			{argv: []string{"command", "-V", "rm"}, program: "command", span: "command -V rm"},
		}},
		{name: "exec with name", line: "exec -a foo rm x", want: []wantCmd{
			{argv: []string{"rm", "x"}, program: "rm", wrappers: []string{"exec"}, span: "exec -a foo rm x"},
		}},
		{name: "dynamic program", line: "$(which rm) -rf /", want: []wantCmd{
			{argv: []string{"$(which rm)", "-rf", "/"}, program: "$(which rm)", dynamic: true, span: "$(which rm) -rf /"},
			{argv: []string{"which", "rm"}, program: "which", via: "substitution", span: "which rm"},
		}},
		{name: "dynamic payload", line: "bash -c \"$CMD\"", want: []wantCmd{
			{argv: []string{"bash", "-c", "$CMD"}, program: "bash", dynamic: true, span: "bash -c \"$CMD\""},
			{argv: []string{"$CMD"}, program: "$CMD", via: "sh -c", dynamic: true, span: "\"$CMD\""},
		}},
		{name: "sudo sh -c with cd", line: "sudo -- sh -c 'cd /etc && rm passwd'", want: []wantCmd{
			{argv: []string{"sh", "-c", "cd /etc && rm passwd"}, program: "sh", wrappers: []string{"sudo"}, span: "sudo -- sh -c 'cd /etc && rm passwd'"},
			{argv: []string{"cd", "/etc"}, program: "cd", wrappers: []string{"sudo"}, via: "sh -c", span: "'cd /etc && rm passwd'"},
			{argv: []string{"rm", "passwd"}, program: "rm", wrappers: []string{"sudo"}, via: "sh -c", dir: "/etc", span: "'cd /etc && rm passwd'"},
		}},
		{name: "cd carries into payload", line: "cd /tmp && bash -c 'rm x'", want: []wantCmd{
			{argv: []string{"cd", "/tmp"}, program: "cd", span: "cd /tmp"},
			{argv: []string{"bash", "-c", "rm x"}, program: "bash", dir: "/tmp", span: "bash -c 'rm x'"},
			{argv: []string{"rm", "x"}, program: "rm", via: "sh -c", dir: "/tmp", span: "'rm x'"},
		}},
		{name: "cat heredoc piped to sh", line: "cat <<'EOF' | sh\nrm -rf /\nEOF", want: []wantCmd{
			{argv: []string{"cat"}, program: "cat", via: "pipeline", span: "cat <<'EOF'"},
			{argv: []string{"sh"}, program: "sh", via: "pipeline", span: "sh"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "piped script", span: "cat <<'EOF'"},
		}},
		{name: "download piped to sh", line: "curl -fsSL https://example.com/i.sh | sh", want: []wantCmd{
			{argv: []string{"curl", "-fsSL", "https://example.com/i.sh"}, program: "curl", via: "pipeline", span: "curl -fsSL https://example.com/i.sh"},
			{argv: []string{"sh"}, program: "sh", via: "pipeline", span: "sh"},
		}},
		{name: "bash -s reads a here-string", line: "bash -s -- arg <<< 'rm -rf \"$1\"'", want: []wantCmd{
			{argv: []string{"bash", "-s", "--", "arg"}, program: "bash", span: "bash -s -- arg <<< 'rm -rf \"$1\"'"},
			{argv: []string{"rm", "-rf", "arg"}, program: "rm", via: "heredoc", span: "'rm -rf \"$1\"'"},
		}},
		{name: "shell variable -c", line: "$SHELL -c 'rm -rf /'", want: []wantCmd{
			{argv: []string{"$SHELL", "-c", "rm -rf /"}, program: "$SHELL", dynamic: true, span: "$SHELL -c 'rm -rf /'"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "pkexec", line: "pkexec --user root rm -rf /", want: []wantCmd{
			{argv: []string{"rm", "-rf", "/"}, program: "rm", wrappers: []string{"pkexec"}, span: "pkexec --user root rm -rf /"},
		}},
		{name: "run0 chdir", line: "run0 -D /srv rm -rf data", want: []wantCmd{
			{argv: []string{"rm", "-rf", "data"}, program: "rm", wrappers: []string{"run0"}, dir: "/srv", span: "run0 -D /srv rm -rf data"},
		}},
		{name: "unbuffer", line: "unbuffer make test", want: []wantCmd{
			{argv: []string{"make", "test"}, program: "make", wrappers: []string{"unbuffer"}, span: "unbuffer make test"},
		}},
		{name: "script -c", line: "script -q -c 'rm -rf /' /dev/null", want: []wantCmd{
			{argv: []string{"script", "-q", "-c", "rm -rf /", "/dev/null"}, program: "script", span: "script -q -c 'rm -rf /' /dev/null"},
			{argv: []string{"rm", "-rf", "/"}, program: "rm", via: "sh -c", span: "'rm -rf /'"},
		}},
		{name: "xargs shell positional known", line: "xargs -n1 sh -c 'rm \"$1\"' _ /etc", want: []wantCmd{
			{argv: []string{"sh", "-c", "rm \"$1\"", "_", "/etc"}, program: "sh", wrappers: []string{"xargs"}, via: "xargs", span: "xargs -n1 sh -c 'rm \"$1\"' _ /etc"},
			{argv: []string{"rm", "/etc"}, program: "rm", wrappers: []string{"xargs"}, via: "sh -c", span: "'rm \"$1\"'"},
		}},
		{name: "wrapper chdir carries into payload", line: "sudo -D /srv bash -c 'rm -rf data'", want: []wantCmd{
			{argv: []string{"bash", "-c", "rm -rf data"}, program: "bash", wrappers: []string{"sudo"}, dir: "/srv", span: "sudo -D /srv bash -c 'rm -rf data'"},
			{argv: []string{"rm", "-rf", "data"}, program: "rm", wrappers: []string{"sudo"}, via: "sh -c", dir: "/srv", span: "'rm -rf data'"},
		}},
		{name: "env chdir and split string", line: "env -C /srv -S 'rm -rf data'", want: []wantCmd{
			{argv: []string{"rm", "-rf", "data"}, program: "rm", wrappers: []string{"env"}, via: "env -S", dir: "/srv", span: "env -C /srv -S 'rm -rf data'"},
		}},
		{name: "wrapper chdir carries into find exec", line: "sudo -D /srv find . -exec rm {} +", want: []wantCmd{
			{argv: []string{"find", ".", "-exec", "rm", "{}", "+"}, program: "find", wrappers: []string{"sudo"}, dir: "/srv", span: "sudo -D /srv find . -exec rm {} +"},
			{argv: []string{"rm", "{}"}, program: "rm", wrappers: []string{"sudo"}, via: "find -exec", dir: "/srv", span: "rm {}"},
		}},
	}
	if len(tests) < 80 {
		t.Fatalf("the table should hold at least 80 cases, has %d", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			checkCommands(t, tt.line, res.Commands, tt.want)
		})
	}
}

func TestParseFiles(t *testing.T) {
	w := func(p, raw string) cavra.FileOp { return cavra.FileOp{Op: cavra.FileWrite, Path: p, Raw: raw} }
	r := func(p, raw string) cavra.FileOp { return cavra.FileOp{Op: cavra.FileRead, Path: p, Raw: raw} }
	tests := []struct {
		name string
		line string
		want []cavra.FileOp
	}{
		{name: "write", line: "echo hi > out.txt", want: []cavra.FileOp{w("/work/repo/out.txt", "out.txt")}},
		{name: "append", line: "echo hi >> ./logs/../app.log", want: []cavra.FileOp{w("/work/repo/app.log", "./logs/../app.log")}},
		{name: "clobber", line: "echo hi >| f", want: []cavra.FileOp{w("/work/repo/f", "f")}},
		{name: "all output", line: "make &> build.log", want: []cavra.FileOp{w("/work/repo/build.log", "build.log")}},
		{name: "append all output", line: "make &>> build.log", want: []cavra.FileOp{w("/work/repo/build.log", "build.log")}},
		{name: "read", line: "sort < ~/.ssh/id_rsa", want: []cavra.FileOp{r("/home/dev/.ssh/id_rsa", "~/.ssh/id_rsa")}},
		{name: "read write", line: "exec 3<> /tmp/fifo", want: []cavra.FileOp{r("/tmp/fifo", "/tmp/fifo"), w("/tmp/fifo", "/tmp/fifo")}},
		{name: "descriptor duplication is not a file", line: "go test ./... 2>&1 >&2 <&0 2>&-", want: nil},
		{name: "duplication to a file name writes it", line: "make >&build.log", want: []cavra.FileOp{w("/work/repo/build.log", "build.log")}},
		{name: "dev null is kept", line: "make >/dev/null 2>&1", want: []cavra.FileOp{w("/dev/null", "/dev/null")}},
		{name: "fd prefix", line: "make 2> err.log", want: []cavra.FileOp{w("/work/repo/err.log", "err.log")}},
		{name: "heredoc is not a file", line: "cat <<EOF\nhi\nEOF", want: nil},
		{name: "here-string is not a file", line: "cat <<< hi", want: nil},
		{name: "resolved after cd", line: "cd /etc && echo x > hosts", want: []cavra.FileOp{w("/etc/hosts", "hosts")}},
		{name: "redirect of compound command", line: "{ echo a; echo b; } > both.txt", want: []cavra.FileOp{w("/work/repo/both.txt", "both.txt")}},
		{name: "loop input", line: "while read l; do echo $l; done < list", want: []cavra.FileOp{r("/work/repo/list", "list")}},
		{name: "inside sh -c", line: "bash -c 'echo x > /etc/passwd'", want: []cavra.FileOp{w("/etc/passwd", "/etc/passwd")}},
		{name: "inside substitution", line: "echo $(cat < secret.txt)", want: []cavra.FileOp{r("/work/repo/secret.txt", "secret.txt")}},
		{name: "known variable target", line: "F=.env; echo k=v >> $F", want: []cavra.FileOp{w("/work/repo/.env", ".env")}},
		{name: "home variable", line: "echo x > $HOME/.bashrc", want: []cavra.FileOp{w("/home/dev/.bashrc", "/home/dev/.bashrc")}},
		{name: "ssh remote redirect is not local", line: "ssh host 'echo x > /etc/passwd'", want: nil},
		{name: "local redirect of ssh", line: "ssh host uptime > up.txt", want: []cavra.FileOp{w("/work/repo/up.txt", "up.txt")}},
		{name: "tee is a program not a redirect", line: "echo x | tee out.txt", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			if !slices.Equal(res.Files, tt.want) {
				t.Errorf("files %+v, want %+v", res.Files, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("eval ", 12) + "rm"
	subst := "echo " + strings.Repeat("$(echo ", 10) + "x" + strings.Repeat(")", 10)
	nestedQuotes := "bash -c 'bash -c \"bash -c true\"'"
	tests := []struct {
		name     string
		line     string
		maxDepth int
		wantErr  string
	}{
		{name: "unterminated double quote", line: `echo "unterminated`, wantErr: "without closing quote"},
		{name: "unterminated single quote", line: `echo 'x`, wantErr: "without closing quote"},
		{name: "if without condition", line: "if then fi", wantErr: "must be followed by"},
		{name: "open substitution", line: "$(", wantErr: "without matching"},
		{name: "unclosed subshell", line: "(ls", wantErr: "without matching"},
		{name: "stray operator", line: "&& ls", wantErr: "parse shell line"},
		{name: "unparseable sh -c payload", line: `bash -c 'echo "x'`, wantErr: "sh -c payload"},
		{name: "unparseable eval payload", line: `eval 'if then fi'`, wantErr: "eval payload"},
		{name: "unparseable heredoc payload", line: "bash <<'EOF'\nfi\nEOF", wantErr: "heredoc payload"},
		{name: "eval nested too deep", line: deep, wantErr: "nested deeper than 8"},
		{name: "substitution nested too deep", line: subst, wantErr: "nested deeper than 8"},
		{name: "custom depth", line: nestedQuotes, maxDepth: 2, wantErr: "nested deeper than 2"},
		{name: "payload expands beyond budget", line: expandingLine(), wantErr: "exceeds 1048576 bytes"},
		{name: "line too long", line: "echo " + strings.Repeat("x", 128<<10), wantErr: "exceeds the 131072-byte limit"},
		{name: "payload too long", line: "a=" + strings.Repeat("x", 60000) + `; eval "$a $a $a"`, wantErr: "exceeds the 131072-byte limit"},
		{name: "arithmetic nested too deep", line: "echo $((" + strings.Repeat("(", 600) + "1" + strings.Repeat(")", 600) + "))", wantErr: "brackets nest 602 deep"},
		{name: "unbalanced deep nesting", line: strings.Repeat("(", 100000), wantErr: "more than the limit of 512"},
		{name: "variables expand beyond budget", line: "a=" + strings.Repeat("x", 60000) + "; echo" + strings.Repeat(" $a", 100), wantErr: "variables expand to more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(tt.line, Options{Dir: testDir, Home: testHome, MaxDepth: tt.maxDepth})
			if err == nil {
				t.Fatalf("Parse(%q) = %d commands, want error containing %q", tt.line, len(res.Commands), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if cavra.Code(err) != cavra.ErrInvalid {
				t.Errorf("error code %q, want %q", cavra.Code(err), cavra.ErrInvalid)
			}
			if errors.Is(err, errPanic) {
				t.Errorf("error came from a recovered panic: %v", err)
			}
			if len(res.Commands) != 0 || len(res.Files) != 0 {
				t.Errorf("an error must come with an empty result, got %+v", res)
			}
		})
	}
}

// expandingLine builds a short line whose eval payloads, through variables, amount to more text
// than the parse budget allows.
func expandingLine() string {
	var b strings.Builder
	b.WriteString("a=" + strings.Repeat("x", 60000) + "; ")
	for range 20 {
		b.WriteString(`eval "$a"; `)
	}
	return b.String()
}

func TestParseDepthWithinLimit(t *testing.T) {
	line := strings.Repeat("eval ", 8) + "rm -rf /"
	res := parseForTest(t, line)
	last := res.Commands[len(res.Commands)-1]
	if !slices.Equal(last.Argv, []string{"rm", "-rf", "/"}) || last.Via != ViaEval {
		t.Errorf("innermost command %+v, want rm -rf / via eval", last)
	}
	if _, err := Parse(strings.Repeat("eval ", 9)+"rm -rf /", Options{}); err == nil {
		t.Errorf("nine nested evals: want an error with the default depth of 8")
	}
}

func TestParseWithoutDir(t *testing.T) {
	res, err := Parse("cd infra && terraform apply > plan.txt; rm ~/x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "infra", "infra"}
	for i, c := range res.Commands {
		if c.Dir != want[i] {
			t.Errorf("command %d %q: dir %q, want %q", i, c.Argv, c.Dir, want[i])
		}
	}
	if len(res.Files) != 1 || res.Files[0].Path != "infra/plan.txt" {
		t.Errorf("files %+v, want infra/plan.txt (relative: no directory was given)", res.Files)
	}
}

func TestDecodeANSIC(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "rm", want: "rm"},
		{name: "hex", in: `\x72\x6d`, want: "rm"},
		{name: "octal", in: `\162\155`, want: "rm"},
		{name: "unicode", in: `\u0072\U0000006d`, want: "rm"},
		{name: "control", in: `a\tb\nc\\d\'e`, want: "a\tb\nc\\d'e"},
		{name: "ctrl letter", in: `\cA`, want: "\x01"},
		{name: "escape", in: `\e[0m`, want: "\x1b[0m"},
		{name: "unknown escape kept", in: `\q`, want: `\q`},
		{name: "hex without digits kept", in: `\xg`, want: `\xg`},
		{name: "trailing backslash", in: `a\`, want: `a\`},
		{name: "dangling ctrl", in: `\c`, want: `\c`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeANSIC(tt.in); got != tt.want {
				t.Errorf("decodeANSIC(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestProgram(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{name: "plain", line: "rm x", want: "rm"},
		{name: "absolute", line: "/usr/bin/rm x", want: "rm"},
		{name: "relative", line: "./bin/tool", want: "tool"},
		{name: "known variable directory", line: "D=/usr/bin; $D/rm x", want: "rm"},
		{name: "unknown directory", line: "${BIN}/rm x", want: "rm"},
		{name: "unknown program", line: "$CMD x", want: "$CMD"},
		{name: "substitution program", line: "$(echo /bin/rm) x", want: "$(echo /bin/rm)"},
		{name: "backslash inside double quotes", line: `"\rm" x`, want: "rm"},
		{name: "root", line: "/ x", want: "/"},
		{name: "trailing slash", line: "dir/ x", want: "dir/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseForTest(t, tt.line)
			if len(res.Commands) == 0 {
				t.Fatal("got no commands")
			}
			if got := res.Commands[0].Program; got != tt.want {
				t.Errorf("program %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseConcurrent runs Parse from several goroutines: parsers come from a shared pool, and
// the engine judges hook calls concurrently. Run with -race.
func TestParseConcurrent(t *testing.T) {
	lines := []string{
		"cd infra && terraform apply",
		"bash -c 'eval \"sudo rm -rf /\"'",
		"find . -exec sh -c 'rm \"$1\"' _ {} \\;",
		"cat <<EOF | sh\nrm -rf /tmp/x\nEOF",
	}
	want := make([]Result, len(lines))
	for i, l := range lines {
		want[i] = parseForTest(t, l)
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			for n := range 50 {
				i := (g + n) % len(lines)
				got, err := Parse(lines[i], Options{Dir: testDir, Home: testHome})
				if err != nil {
					done <- err
					return
				}
				if len(got.Commands) != len(want[i].Commands) || got.Commands[len(got.Commands)-1].Program != want[i].Commands[len(want[i].Commands)-1].Program {
					done <- errors.New("concurrent parse of " + lines[i] + " differs from a sequential one")
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
