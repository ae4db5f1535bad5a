package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
)

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line in-process with its own streams and environment.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	rt := &runtime{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return env[k] },
	}
	code := run(context.Background(), args, rt)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func hookEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{"CAVRA_HOME": t.TempDir()}
}

func bashPayload(command string) string {
	b, _ := json.Marshal(map[string]any{
		"session_id": "8c35", "transcript_path": "/home/u/.claude/projects/-repo/8c35.jsonl", "cwd": "/repo",
		"permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Bash",
		"tool_input": map[string]any{"command": command, "description": "d", "timeout": 120000}, "tool_use_id": "toolu_01ABC",
	})
	return string(b)
}

func TestHookClaudeCode(t *testing.T) {
	tests := []struct {
		name       string
		payload    string
		args       []string
		env        map[string]string
		permission string
		rule       string
		context    bool
	}{
		{name: "everyday command allowed", payload: bashPayload("go test ./..."), permission: "allow"},
		{name: "force push to main denied", payload: bashPayload("git push --force origin main"), permission: "deny", rule: "git.force-push-protected"},
		{name: "terraform apply asks", payload: bashPayload("cd infra && terraform apply"), permission: "ask", rule: "infra.apply"},
		{name: "warn allows with context", payload: bashPayload("git reset --hard HEAD~1"), permission: "allow", rule: "git.discard-work", context: true},
		{name: "read of .env denied", payload: `{"hook_event_name":"PreToolUse","cwd":"/repo","tool_name":"Read","tool_input":{"file_path":"config/.env"}}`, permission: "deny", rule: "secrets.dotenv"},
		{name: "unparseable asks", payload: bashPayload(`echo "unterminated`), permission: "ask", rule: "engine.unparseable"},
		{name: "strict by flag blocks unparseable", payload: bashPayload(`echo "unterminated`), args: []string{"--policy", "strict"}, permission: "deny", rule: "engine.unparseable"},
		{name: "strict by env blocks unparseable", payload: bashPayload(`echo "unterminated`), env: map[string]string{"CAVRA_POLICY": "strict"}, permission: "deny", rule: "engine.unparseable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hookEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, env, tt.payload, append([]string{"hook", "claude-code"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			var ans claudecode.Answer
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ans); err != nil {
				t.Fatalf("answer %q: %v", r.stdout, err)
			}
			out := ans.HookSpecificOutput
			if out.HookEventName != "PreToolUse" || out.PermissionDecision != tt.permission {
				t.Fatalf("answer %+v, want %s", out, tt.permission)
			}
			if tt.rule != "" && !strings.Contains(out.PermissionDecisionReason, "["+tt.rule+"]") {
				t.Fatalf("reason %q does not name rule %s", out.PermissionDecisionReason, tt.rule)
			}
			if (out.AdditionalContext != "") != tt.context {
				t.Fatalf("additionalContext = %q", out.AdditionalContext)
			}
			records := readDecisions(t, env["CAVRA_HOME"])
			if len(records) != 1 || records[0].Decision.ID == "" || records[0].Action.Source.Host != "claude-code" {
				t.Fatalf("decision log = %+v", records)
			}
			if r := runCLI(t, env, "", "audit", "verify"); r.code != 0 {
				t.Fatalf("audit verify after the hook: exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// readDecisions returns the decisions recorded in the data home's audit log, oldest first.
func readDecisions(t *testing.T, root string) []cavra.DecisionRecord {
	t.Helper()
	ctx := context.Background()
	log, closeLog, err := audit.OpenLocal(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	recs, err := log.Store().Decisions(ctx, cavra.DecisionQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs
}

func TestHookFailsClosed(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		payload string
		args    []string
		env     map[string]string
		want    string
	}{
		{name: "garbage", payload: "not json", want: "decode hook payload"},
		{name: "empty", payload: "", want: "empty hook payload"},
		{name: "wrong event", payload: `{"hook_event_name":"Stop"}`, want: "not handled"},
		{name: "bad tool input", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":7}}`, want: "tool_input"},
		{name: "unknown policy", payload: bashPayload("ls"), args: []string{"--policy", "nope"}, want: "load policy"},
		{name: "broken policy file", payload: bashPayload("ls"), args: []string{"--policy", writeFile(t, "bad.yaml", "name: [")}, want: "load policy"},
		{name: "unwritable decision log", payload: bashPayload("ls"), args: []string{"--decision-log", filepath.Join(blocker, "log.jsonl")}, want: "record decision"},
		{name: "relative cwd", payload: `{"hook_event_name":"PreToolUse","cwd":"repo","tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hookEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, env, tt.payload, append([]string{"hook", "claude-code"}, tt.args...)...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2 (Claude Code blocks on 2); stdout %q", r.code, r.stdout)
			}
			if r.stdout != "" {
				t.Fatalf("a failed hook must print no answer, printed %q", r.stdout)
			}
			if !strings.Contains(r.stderr, "fail closed") || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr %q, want it to say %q", r.stderr, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEval(t *testing.T) {
	r := runCLI(t, nil, `{"kind":"command.exec","cwd":"/repo","command":{"line":"rm -rf /"}}`, "eval")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var d cavra.Decision
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	if d.Outcome != cavra.Block || d.RuleID != "fs.rm-recursive-system" || d.Policy != "baseline" || !strings.HasPrefix(d.PolicyRevision, "sha256:") {
		t.Fatalf("decision %+v", d)
	}
	if r := runCLI(t, nil, `{"kind":"command.exec","cwd":"/repo","command":{"line":"rm -rf /"}}`, "eval", "--exit-code"); r.code != 1 {
		t.Fatalf("--exit-code on a block: exit %d", r.code)
	}
	if r := runCLI(t, nil, `{"kind":"command.exec","cwd":"/repo","command":{"line":"ls"}}`, "eval", "--exit-code"); r.code != 0 {
		t.Fatalf("--exit-code on an allow: exit %d", r.code)
	}
	for name, in := range map[string]string{
		"unknown field": `{"kind":"command.exec","comand":{"line":"ls"}}`,
		"no kind":       `{"command":{"line":"ls"}}`,
		"not json":      `rm -rf /`,
		"wrong type":    `{"kind":"command.exec","command":"ls"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if r := runCLI(t, nil, in, "eval"); r.code != 2 || r.stdout != "" {
				t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestPolicyCommands(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "name: x\nrules:\n  - id: r\n    match: {programz: [rm]}\n    outcome: block\n    message: m\n")
	r := runCLI(t, nil, "", "policy", "lint", bad)
	if r.code != 1 || !strings.Contains(r.stdout, bad+":4:13: unknown field \"programz\"") {
		t.Fatalf("lint: exit %d stdout %q", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "", "policy", "lint", "baseline", "strict", "regulated"); r.code != 0 {
		t.Fatalf("lint built-ins: exit %d %s", r.code, r.stdout)
	}
	pack := writeFile(t, "team.yaml", "name: team\nextends: [baseline]\nrules:\n  - id: team.no-npx\n    match: {programs: [npx]}\n    outcome: require_approval\n    message: ask first\n")
	suite := filepath.Join(filepath.Dir(pack), "team_test.yaml")
	if err := os.WriteFile(suite, []byte("policy: team.yaml\ncwd: /repo\ncases:\n  - {name: npx asks, command: npx cowsay, expect: require_approval, rule: team.no-npx}\n  - {name: inherited, command: rm -rf /, expect: block}\n  - {name: wrong on purpose, command: ls, expect: block}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "", "policy", "test", suite)
	if r.code != 1 || !strings.Contains(r.stdout, "2 passed, 1 failed") || !strings.Contains(r.stdout, "wrong on purpose: want block, got allow") {
		t.Fatalf("test: exit %d stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, nil, "", "policy", "explain", "--cwd", "/repo", "--command", "pytest; rm -rf /")
	if r.code != 0 || !strings.Contains(r.stdout, "fs.rm-recursive-system") || !strings.Contains(r.stdout, "         ^^^^^^^^") {
		t.Fatalf("explain: exit %d stdout %s", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "", "policy", "list"); r.code != 0 || !strings.Contains(r.stdout, "regulated") {
		t.Fatalf("list: %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "", "policy", "show", "strict"); r.code != 0 || !strings.Contains(r.stdout, "fs.rm-recursive-system") {
		t.Fatalf("show: %d", r.code)
	}
	if r := runCLI(t, nil, "", "policy", "lint"); r.code != 2 {
		t.Fatalf("lint without files: exit %d", r.code)
	}
}
