package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/engine"
)

// fakeGitHubPAT builds a token of GitHub's classic PAT shape at run time, so that no
// secret-shaped string is committed to the repository.
func fakeGitHubPAT() string {
	const alnum = "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA2cD4"
	return "gh" + "p_" + alnum[:36]
}

// hostPayload reads an adapter's testdata payload and fills in the fake secret.
func hostPayload(t *testing.T, host, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "hooks", host, "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(data), "@@FAKE_GITHUB_PAT@@", fakeGitHubPAT())
}

// runCommand runs one command that is not (yet) attached to the root, the way run does.
func runCommand(t *testing.T, env map[string]string, stdin string, newCmd func(*runtime) *cobra.Command, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	rt := &runtime{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	root := &cobra.Command{Use: "cavra", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newCmd(rt))
	root.SetArgs(args)
	root.SetIn(rt.stdin)
	root.SetOut(rt.stdout)
	root.SetErr(rt.stderr)
	code := exitOK
	if err := root.ExecuteContext(context.Background()); err != nil {
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(&errb, "cavra:", msg)
		}
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestHookHosts(t *testing.T) {
	tests := []struct {
		name, host, file string
		// want is the exact stdout, or, when it starts with "~", a fragment it must contain.
		want string
		rule string
	}{
		{name: "codex bash allowed", host: "codex", file: "bash.json", want: "{}\n"},
		{name: "codex force push denied", host: "codex", file: "bash-force-push.json", rule: "git.force-push-protected",
			want: `~{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"CAVRA block [git.force-push-protected]`},
		{name: "codex apply_patch", host: "codex", file: "apply-patch.json", want: "{}\n", rule: "engine.default"},
		{name: "codex apply_patch workflow needs approval", host: "codex", file: "apply-patch-workflow.json", rule: "cicd.pipeline-change",
			want: "~Codex hooks cannot ask for approval"},
		{name: "codex unknown tool", host: "codex", file: "unknown-tool.json", rule: "engine.unknown-tool", want: `~"permissionDecision":"deny"`},
		{name: "codex output secret", host: "codex", file: "post-tool-use-secret.json", want: `~{"decision":"block","reason":"CAVRA: the output of Bash holds 1 live secret: github-pat at line 2`},
		{name: "codex output clean", host: "codex", file: "post-tool-use-clean.json", want: "{}\n"},
		{name: "codex prompt secret", host: "codex", file: "user-prompt-secret.json", want: `~{"decision":"block","reason":"CAVRA blocked this prompt`},
		{name: "codex prompt clean", host: "codex", file: "user-prompt.json", want: "{}\n"},
		{name: "cursor shell allowed", host: "cursor", file: "shell.json", want: `{"permission":"allow"}` + "\n"},
		{name: "cursor force push denied", host: "cursor", file: "shell-force-push.json", rule: "git.force-push-protected", want: `~{"permission":"deny","user_message":"CAVRA block`},
		{name: "cursor mcp allowed", host: "cursor", file: "mcp.json", want: `{"permission":"allow"}` + "\n"},
		{name: "cursor push to main asks", host: "cursor", file: "shell-push-main.json", rule: "git.push-protected", want: `~{"permission":"ask","user_message":"CAVRA require_approval [git.push-protected]`},
		{name: "cursor read env denied", host: "cursor", file: "read-env.json", rule: "secrets.dotenv", want: `{"permission":"deny"}` + "\n"},
		{name: "cursor after shell", host: "cursor", file: "after-shell-secret.json", want: "{}\n"},
		{name: "cursor prompt secret", host: "cursor", file: "prompt-secret.json", want: `~"continue":false`},
		{name: "cursor prompt clean", host: "cursor", file: "prompt.json", want: `{"continue":true}` + "\n"},
		{name: "gemini shell allowed", host: "gemini", file: "shell.json", want: `{"decision":"allow"}` + "\n"},
		{name: "gemini force push denied", host: "gemini", file: "shell-force-push.json", rule: "git.force-push-protected", want: `~{"decision":"deny","reason":"CAVRA block [git.force-push-protected]`},
		{name: "gemini metadata fetch denied", host: "gemini", file: "web-fetch.json", rule: "exfil.cloud-metadata", want: `~{"decision":"deny"`},
		{name: "gemini read env denied", host: "gemini", file: "read-env.json", rule: "secrets.dotenv", want: `~{"decision":"deny"`},
		{name: "gemini output redacted", host: "gemini", file: "after-tool-secret.json", want: `~"tool_output":"deploying\n[CAVRA redacted a github-pat]\ndone\ndeploying"`},
		{name: "gemini prompt secret", host: "gemini", file: "before-agent-secret.json", want: `~{"decision":"deny","reason":"CAVRA blocked this prompt`},
		{name: "claude output secret", host: "claudecode", file: "post-tool-use-secret.json", want: `~{"decision":"block","reason":"CAVRA: the output of Bash holds 1 live secret`},
		{name: "claude prompt secret", host: "claudecode", file: "user-prompt-secret.json", want: `~{"decision":"block","reason":"CAVRA blocked this prompt`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hookEnv(t)
			sub := tt.host
			if sub == "claudecode" {
				sub = "claude-code-scan"
			}
			r := runCLI(t, env, hostPayload(t, tt.host, tt.file), "hook", sub)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			if frag, ok := strings.CutPrefix(tt.want, "~"); ok {
				if !strings.Contains(r.stdout, frag) {
					t.Fatalf("stdout %s lacks %s", r.stdout, frag)
				}
			} else if r.stdout != tt.want {
				t.Fatalf("stdout %q, want %q", r.stdout, tt.want)
			}
			if strings.Contains(r.stdout, fakeGitHubPAT()) || strings.Contains(r.stderr, fakeGitHubPAT()) {
				t.Fatal("the secret itself was echoed")
			}
			if !json.Valid([]byte(r.stdout)) {
				t.Fatalf("stdout is not one JSON value: %q", r.stdout)
			}
			if tt.rule != "" {
				records := readDecisions(t, env["CAVRA_HOME"])
				if len(records) != 1 || records[0].Decision.RuleID != tt.rule {
					t.Fatalf("decision log %+v, want one record by %s", records, tt.rule)
				}
				if records[0].Action.Source.Host == "" {
					t.Fatal("the record does not say which host asked")
				}
			}
		})
	}
}

func TestHookHostsFailClosed(t *testing.T) {
	tests := []struct{ name, host, payload, want string }{
		{name: "codex garbage", host: "codex", payload: "not json", want: "decode hook payload"},
		{name: "codex empty", host: "codex", payload: "", want: "empty hook payload"},
		{name: "codex bad patch", host: "codex", payload: `{"hook_event_name":"PreToolUse","cwd":"/repo","tool_name":"apply_patch","tool_input":{"command":"*** Begin Patch\n*** Frobnicate: x\n*** End Patch"}}`, want: "apply_patch"},
		{name: "cursor unknown event", host: "cursor", payload: `{"hook_event_name":"beforeTabFileRead"}`, want: "not handled"},
		{name: "gemini missing input", host: "gemini", payload: `{"hook_event_name":"BeforeTool","tool_name":"run_shell_command"}`, want: "tool_input"},
		{name: "claude scan pre tool use", host: "claude-code-scan", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "not handled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, hookEnv(t), tt.payload, "hook", tt.host)
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "blocked by CAVRA (fail closed)") || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("got exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
	// An unwritable decision log is an action that cannot be allowed.
	env := hookEnv(t)
	env["CAVRA_DECISION_LOG"] = "/proc/cavra-cannot-write/decisions.jsonl"
	r := runCLI(t, env, hostPayload(t, "codex", "bash.json"), "hook", "codex")
	if r.code != 2 || !strings.Contains(r.stderr, "record decision") {
		t.Fatalf("got exit %d stderr %q", r.code, r.stderr)
	}
}

func TestCursorReadDenialOnStderr(t *testing.T) {
	r := runCLI(t, hookEnv(t), hostPayload(t, "cursor", "read-env.json"), "hook", "cursor")
	if r.code != 0 || !strings.Contains(r.stderr, "[secrets.dotenv]") {
		t.Fatalf("got exit %d stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, hookEnv(t), hostPayload(t, "cursor", "after-shell-secret.json"), "hook", "cursor")
	if r.code != 0 || !strings.Contains(r.stderr, "github-pat at line 2") {
		t.Fatalf("after-shell findings not reported: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestRedactSecretLines(t *testing.T) {
	text := "a\nkey: X\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\nz"
	hits := secretHitsAt(map[int]string{2: "generic", 3: "private-key"})
	got := redactSecretLines(text, hits)
	want := "a\n[CAVRA redacted a generic]\n[CAVRA redacted a private-key]\n[CAVRA redacted a private-key]\n[CAVRA redacted a private-key]\n[CAVRA redacted a private-key]\nz"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := redactSecretLines("x", secretHitsAt(map[int]string{9: "r"})); got != "x" {
		t.Fatalf("out-of-range line changed the text: %q", got)
	}
}

func secretHitsAt(lines map[int]string) []engine.SecretHit {
	var hits []engine.SecretHit
	for line, rule := range lines {
		hits = append(hits, engine.SecretHit{Line: line, RuleID: rule})
	}
	return hits
}
