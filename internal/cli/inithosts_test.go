package cli

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var updateGolden = flag.Bool("update-init-golden", false, "rewrite testdata/init/*.golden.json")

// initHostCmd picks one `cavra init <host>` command by name.
func initHostCmd(name string) func(*runtime) *cobra.Command {
	return func(rt *runtime) *cobra.Command {
		for _, c := range initHostCommands(rt) {
			if c.Name() == name {
				return c
			}
		}
		panic("no init command " + name)
	}
}

// existingConfigs are what a user already has: other settings and another tool's hook on an
// event CAVRA also uses.
var existingConfigs = map[string]string{
	"claude-code": `{"model":"opus","permissions":{"allow":["Bash(go test:*)"]},"hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"./scripts/lint-hook.sh"}]}],"Stop":[{"hooks":[{"type":"command","command":"notify-send done"}]}]}}`,
	"codex":       `{"hooks":{"PreToolUse":[{"matcher":"^Bash$","hooks":[{"type":"command","command":"/usr/local/bin/audit-log"}]}]}}`,
	"cursor":      `{"version":1,"hooks":{"afterFileEdit":[{"command":"./hooks/format.sh"}],"beforeShellExecution":[{"command":"./hooks/audit.sh"}]}}`,
	"gemini":      `{"theme":"GitHub","hooks":{"BeforeTool":[{"matcher":"write_file","hooks":[{"type":"command","command":"./check.sh"}]}]}}`,
}

func TestInitHosts(t *testing.T) {
	for _, hc := range hostHookConfigs {
		t.Run(hc.host, func(t *testing.T) {
			project := t.TempDir()
			path := filepath.Join(project, hc.projectFile)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(existingConfigs[hc.host]), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{hc.host, "--project", project, "--command", "/opt/cavra/bin/cavra"}
			r := runCommand(t, nil, "", initHostCmd(hc.host), args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "init", hc.host+".golden.json")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("merged config differs from %s:\n%s", golden, got)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Fatalf("file mode changed to %v", st.Mode().Perm())
			}

			// Idempotent: a second run changes nothing.
			r = runCommand(t, nil, "", initHostCmd(hc.host), args...)
			again, _ := os.ReadFile(path)
			if r.code != 0 || string(again) != string(got) || !strings.Contains(r.stdout, "already up to date") {
				t.Fatalf("second run changed the file or said so: %q", r.stdout)
			}
			// A moved binary replaces the entries instead of adding more.
			r = runCommand(t, nil, "", initHostCmd(hc.host), hc.host, "--project", project, "--command", "/usr/bin/cavra")
			moved, _ := os.ReadFile(path)
			if r.code != 0 || strings.Contains(string(moved), "/opt/cavra") || strings.Count(string(moved), "/usr/bin/cavra hook") != strings.Count(string(got), "/opt/cavra/bin/cavra hook") {
				t.Fatalf("re-init with a new command did not replace the entries:\n%s", moved)
			}

			// Reversible: --remove gives back the user's configuration.
			r = runCommand(t, nil, "", initHostCmd(hc.host), hc.host, "--project", project, "--remove")
			if r.code != 0 {
				t.Fatalf("remove: exit %d: %s", r.code, r.stderr)
			}
			removed, _ := os.ReadFile(path)
			if !jsonEqual(removed, []byte(existingConfigs[hc.host])) {
				t.Fatalf("remove did not restore the original:\n%s\nwant\n%s", removed, existingConfigs[hc.host])
			}
		})
	}
}

func TestInitHostUserScopeAndNewFile(t *testing.T) {
	home := t.TempDir()
	r := runCommand(t, map[string]string{"HOME": home}, "", initHostCmd("claude-code"), "claude-code", "--user", "--command", "cavra")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(home, ".claude", "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Hooks map[string][]struct {
			Matcher string           `json:"matcher"`
			Hooks   []map[string]any `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	pre := cfg.Hooks["PreToolUse"]
	if len(pre) != 1 || pre[0].Matcher != "*" || pre[0].Hooks[0]["command"] != "cavra hook claude-code" || pre[0].Hooks[0]["onFailure"] != "block" {
		t.Fatalf("PreToolUse entry %+v: a crashing or timed-out hook must block", pre)
	}
	// Removing everything CAVRA added from a file CAVRA created leaves an empty object.
	r = runCommand(t, map[string]string{"HOME": home}, "", initHostCmd("claude-code"), "claude-code", "--user", "--remove")
	data, _ = os.ReadFile(filepath.Join(home, ".claude", "settings.json"))
	if r.code != 0 || strings.TrimSpace(string(data)) != "{}" {
		t.Fatalf("got %q", data)
	}
}

func TestInitHostRefusesToClobber(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{name: "not json", body: "{ // comment\n}", want: "not a JSON object"},
		{name: "array", body: "[]", want: "not a JSON object"},
		{name: "hooks not object", body: `{"hooks":[]}`, want: `"hooks" is not an object`},
		{name: "event not list", body: `{"hooks":{"PreToolUse":{"matcher":"*"}}}`, want: "hooks.PreToolUse is not a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := t.TempDir()
			path := filepath.Join(project, ".claude", "settings.json")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runCommand(t, nil, "", initHostCmd("claude-code"), "claude-code", "--project", project, "--command", "cavra")
			after, _ := os.ReadFile(path)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || string(after) != tt.body {
				t.Fatalf("exit %d stderr %q, file now %q", r.code, r.stderr, after)
			}
		})
	}
}

// TestInitThenHook is the new user's path: init in a scratch project, then the host's payload
// through exactly the command written into the config, by a real shell.
func TestInitThenHook(t *testing.T) {
	bin := buildCavra(t)
	tests := []struct {
		host, file, event, payloadHost, payload string
		want                                    string
	}{
		{host: "codex", file: ".codex/hooks.json", event: "PreToolUse", payloadHost: "codex", payload: "bash-force-push.json", want: `"permissionDecision":"deny"`},
		{host: "cursor", file: ".cursor/hooks.json", event: "beforeShellExecution", payloadHost: "cursor", payload: "shell-force-push.json", want: `{"permission":"deny"`},
		{host: "gemini", file: ".gemini/settings.json", event: "BeforeTool", payloadHost: "gemini", payload: "shell-force-push.json", want: `{"decision":"deny"`},
		{host: "claude-code", file: ".claude/settings.json", event: "PreToolUse", payloadHost: "claudecode", payload: "bash-force-push.json", want: `"permissionDecision":"deny"`},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			project := t.TempDir()
			r := runCommand(t, nil, "", initHostCmd(tt.host), tt.host, "--project", project, "--command", bin)
			if r.code != 0 {
				t.Fatalf("init: %s", r.stderr)
			}
			data, err := os.ReadFile(filepath.Join(project, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			command := configuredCommand(t, data, tt.event)
			sh := exec.Command("sh", "-c", command)
			sh.Dir = project
			sh.Env = append(os.Environ(), "CAVRA_HOME="+t.TempDir())
			sh.Stdin = strings.NewReader(hostPayload(t, tt.payloadHost, tt.payload))
			out, err := sh.Output()
			if err != nil {
				t.Fatalf("%s: %v", command, err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("%s answered %s", command, out)
			}
		})
	}
}

// configuredCommand finds the command of the first hook of event in a host config.
func configuredCommand(t *testing.T, data []byte, event string) string {
	t.Helper()
	var cfg struct {
		Hooks map[string][]struct {
			Command string `json:"command"`
			Hooks   []struct {
				Command string `json:"command"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	groups := cfg.Hooks[event]
	if len(groups) == 0 {
		t.Fatalf("no %s hooks in %s", event, data)
	}
	if groups[0].Command != "" {
		return groups[0].Command
	}
	return groups[0].Hooks[0].Command
}

// buildCavra builds the cavra binary once per test binary run.
func buildCavra(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cavra")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/cavra-dev/cavra/cmd/cavra")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cavra: %v\n%s", err, out)
	}
	return bin
}

func TestInitHostRemote(t *testing.T) {
	const full, lean = "/opt/cavra/bin/cavra", "/opt/cavra/bin/cavra-hook"
	tests := []struct {
		host, event string
		want        string // the command of event's first hook
		other       string // an event whose hooks stay on the full binary, if any
	}{
		{host: "claude-code", event: "PreToolUse", want: lean + " claude-code", other: "PostToolUse"},
		{host: "codex", event: "PreToolUse", want: lean + " codex"},
		{host: "cursor", event: "beforeShellExecution", want: lean + " cursor"},
		{host: "gemini", event: "BeforeTool", want: lean + " gemini"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			var hc hostHookConfig
			for _, c := range hostHookConfigs {
				if c.host == tt.host {
					hc = c
				}
			}
			project := t.TempDir()
			path := filepath.Join(project, hc.projectFile)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(existingConfigs[tt.host]), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{tt.host, "--project", project, "--command", full}
			r := runCommand(t, nil, "", initHostCmd(tt.host), append(args, "--remote", "--hook-command", lean)...)
			data, _ := os.ReadFile(path)
			if r.code != 0 || !strings.Contains(r.stdout, "now call "+tt.want) {
				t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			// The user's own hook on the event comes first when they had one: look at CAVRA's.
			if got := cavraCommandOf(t, data, tt.event); got != tt.want {
				t.Fatalf("%s runs %q, want %q:\n%s", tt.event, got, tt.want, data)
			}
			if tt.other != "" {
				if got := cavraCommandOf(t, data, tt.other); got != full+" hook claude-code-scan" {
					t.Fatalf("%s runs %q: cavra-hook does not answer it", tt.other, got)
				}
			}
			// Switching back replaces the lean entries instead of adding to them, and back again.
			r = runCommand(t, nil, "", initHostCmd(tt.host), args...)
			back, _ := os.ReadFile(path)
			if r.code != 0 || strings.Contains(string(back), "cavra-hook") || strings.Count(string(back), full) != strings.Count(string(data), "/opt/cavra/bin/cavra") {
				t.Fatalf("re-init without --remote:\n%s", back)
			}
			r = runCommand(t, nil, "", initHostCmd(tt.host), append(args, "--remote", "--hook-command", lean)...)
			again, _ := os.ReadFile(path)
			if r.code != 0 || string(again) != string(data) {
				t.Fatalf("re-init with --remote:\n%s\nwant\n%s", again, data)
			}
			r = runCommand(t, nil, "", initHostCmd(tt.host), tt.host, "--project", project, "--remove")
			removed, _ := os.ReadFile(path)
			if r.code != 0 || !jsonEqual(removed, []byte(existingConfigs[tt.host])) {
				t.Fatalf("remove did not restore the original:\n%s", removed)
			}
		})
	}
}

// cavraCommandOf is the command of the CAVRA hook (the one not from existingConfigs) of event.
func cavraCommandOf(t *testing.T, data []byte, event string) string {
	t.Helper()
	var cfg struct {
		Hooks map[string][]struct {
			Command string `json:"command"`
			Hooks   []struct {
				Command string `json:"command"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, g := range cfg.Hooks[event] {
		cmds := []string{g.Command}
		for _, h := range g.Hooks {
			cmds = append(cmds, h.Command)
		}
		for _, c := range cmds {
			if strings.Contains(c, "/opt/cavra/") {
				return c
			}
		}
	}
	return ""
}

func TestInitHostRemoteNeedsCavraHook(t *testing.T) {
	// The test binary has no cavra-hook beside it.
	project := t.TempDir()
	r := runCommand(t, nil, "", initHostCmd("codex"), "codex", "--project", project, "--remote")
	if r.code != 2 || !strings.Contains(r.stderr, "no cavra-hook beside") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(project, ".codex", "hooks.json")); !os.IsNotExist(err) {
		t.Fatalf("config written: %v", err)
	}
}

func TestIsCavraCommand(t *testing.T) {
	subs := []string{"claude-code", "claude-code-scan"}
	tests := []struct {
		cmd  string
		want bool
	}{
		{"cavra hook claude-code", true},
		{"/usr/bin/cavra hook claude-code-scan", true},
		{"/usr/bin/cavra-hook claude-code", true},
		{"'/Applications/My Tools/cavra-hook' claude-code", true},
		{"cavra-hook claude-code", true},
		{"cavra-hook codex", false},
		{"hook claude-code", false},
		{"./lint-hook claude-code", false},
		{"claude-code", false},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			if got := isCavraCommand(tt.cmd, subs); got != tt.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}
