package codex

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

func readPayload(t *testing.T, name string) Payload {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return p
}

func TestToAction(t *testing.T) {
	tests := []struct {
		file string
		want cavra.Action
	}{
		{file: "bash.json", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Command: &cavra.Command{Line: "go test ./..."}}},
		{file: "bash-force-push.json", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Command: &cavra.Command{Line: "git push --force origin main"}}},
		{file: "apply-patch.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite, Files: []cavra.FileOp{
			{Op: cavra.FileWrite, Path: "docs/notes.md", Raw: "docs/notes.md", Content: "# Notes\nfirst line"},
			{Op: cavra.FileMove, Path: "src/app.py", Raw: "src/app.py", To: "src/main.py"},
			{Op: cavra.FileWrite, Path: "src/main.py", Raw: "src/main.py", Content: `    print("hello")`},
			{Op: cavra.FileDelete, Path: "old.txt", Raw: "old.txt"},
		}}},
		{file: "apply-patch-env.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite, Files: []cavra.FileOp{
			{Op: cavra.FileWrite, Path: "config/.env", Raw: "config/.env", Content: "LOG_LEVEL=info"},
		}}},
		{file: "mcp.json", want: cavra.Action{Kind: cavra.KindMCPCall, MCP: &cavra.MCPCall{Server: "filesystem", Tool: "read_text_file", Method: "tools/call",
			Arguments: map[string]any{"path": "/repo/README.md"}}}},
		{file: "unknown-tool.json", want: cavra.Action{Kind: "tool.call"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := readPayload(t, tt.file)
			got, err := ToAction(p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source.Host != Host || got.Source.Tool != p.ToolName || got.Source.ToolUseID != p.ToolUseID || got.Cwd != "/repo" {
				t.Fatalf("source not carried: %+v cwd %q", got.Source, got.Cwd)
			}
			got.Source, got.Cwd, got.Version = cavra.Source{}, "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDeleteOnlyPatchIsDelete(t *testing.T) {
	in, _ := json.Marshal(map[string]string{"command": "*** Begin Patch\n*** Delete File: a.txt\n*** End Patch\n"})
	a, err := ToAction(Payload{HookEventName: EventPreToolUse, ToolName: ToolApplyPatch, ToolInput: in})
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != cavra.KindFileDelete || a.Effect != cavra.EffectDelete {
		t.Fatalf("got %s/%s", a.Kind, a.Effect)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{name: "empty", payload: "  ", want: "empty"},
		{name: "array", payload: `[]`, want: "not a JSON object"},
		{name: "trailing", payload: `{"hook_event_name":"UserPromptSubmit","prompt":"x"} {}`, want: "trailing"},
		{name: "no event", payload: `{"tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "no hook_event_name"},
		{name: "other event", payload: `{"hook_event_name":"Stop"}`, want: "not handled"},
		{name: "no tool", payload: `{"hook_event_name":"PreToolUse","tool_input":{}}`, want: "no tool_name"},
		{name: "input not object", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":"ls"}`, want: "JSON object"},
		{name: "prompt missing", payload: `{"hook_event_name":"UserPromptSubmit"}`, want: "no prompt"},
		{name: "relative cwd", payload: `{"hook_event_name":"PreToolUse","cwd":"repo","tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "not absolute"},
		{name: "wrong type", payload: `{"hook_event_name":"PreToolUse","tool_name":["Bash"],"tool_input":{}}`, want: "decode hook payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestToActionRejectsBadInputs(t *testing.T) {
	tests := []struct{ name, tool, input string }{
		{name: "bash without command", tool: "Bash", input: `{}`},
		{name: "bash number", tool: "Bash", input: `{"command":7}`},
		{name: "bash empty argv", tool: "Bash", input: `{"command":[]}`},
		{name: "patch not a patch", tool: ToolApplyPatch, input: `{"command":"rm -rf /"}`},
		{name: "patch without end", tool: ToolApplyPatch, input: `{"command":"*** Begin Patch\n*** Add File: a\n+x\n"}`},
		{name: "patch empty", tool: ToolApplyPatch, input: `{"command":"*** Begin Patch\n*** End Patch\n"}`},
		{name: "mcp args not object", tool: "mcp__fs__write", input: `{"path":}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Payload{HookEventName: EventPreToolUse, ToolName: tt.tool, ToolInput: json.RawMessage(tt.input)}
			if _, err := ToAction(p); err == nil {
				t.Fatal("bad tool_input accepted")
			}
		})
	}
	if _, err := ToAction(Payload{HookEventName: EventPostToolUse, ToolName: "Bash", ToolInput: json.RawMessage(`{"command":"ls"}`)}); err == nil {
		t.Fatal("a PostToolUse payload is not a decision")
	}
}

func TestBashArgvIsQuoted(t *testing.T) {
	p := Payload{HookEventName: EventPreToolUse, ToolName: "Bash", ToolInput: json.RawMessage(`{"command":["bash","-lc","rm -rf /tmp/x"]}`)}
	a, err := ToAction(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Command.Line != "bash -lc 'rm -rf /tmp/x'" {
		t.Fatalf("line %q", a.Command.Line)
	}
}

// allowedKeys is Codex's PreToolUse output schema (additionalProperties:false at both levels).
var allowedKeys = map[string]bool{"continue": true, "stopReason": true, "suppressOutput": true, "systemMessage": true, "hookSpecificOutput": true}
var allowedSpecific = map[string]bool{"hookEventName": true, "permissionDecision": true, "permissionDecisionReason": true, "additionalContext": true, "updatedInput": true}

func checkSchema(t *testing.T, a Answer) map[string]any {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		if !allowedKeys[k] {
			t.Fatalf("field %q is not in Codex's PreToolUse schema: %s", k, b)
		}
		if k == "hookSpecificOutput" {
			for sk := range v.(map[string]any) {
				if !allowedSpecific[sk] {
					t.Fatalf("field %q is not in Codex's PreToolUse schema: %s", sk, b)
				}
			}
		}
	}
	return m
}

func TestRender(t *testing.T) {
	base := cavra.Decision{RuleID: "r.1", Reason: "because", Remediation: "do this", Policy: "baseline", PolicyRevision: "sha256:0123456789abcdef"}
	tests := []struct {
		outcome cavra.Outcome
		json    string // exact output, or "" to check deny
		deny    bool
		help    bool
	}{
		{outcome: cavra.Allow, json: `{}`},
		{outcome: cavra.AuditOnly, json: `{}`},
		{outcome: cavra.AllowWithAttestation, json: `{}`},
		{outcome: cavra.Warn},
		{outcome: cavra.RequireApproval, deny: true, help: true},
		{outcome: cavra.Block, deny: true},
		{outcome: "something-new", deny: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			d := base
			d.Outcome = tt.outcome
			a := Render(d)
			m := checkSchema(t, a)
			b, _ := json.Marshal(a)
			if tt.json != "" && string(b) != tt.json {
				t.Fatalf("got %s, want %s", b, tt.json)
			}
			if tt.deny {
				if a.HookSpecificOutput == nil || a.HookSpecificOutput.PermissionDecision != "deny" || a.HookSpecificOutput.HookEventName != EventPreToolUse ||
					!strings.Contains(a.HookSpecificOutput.PermissionDecisionReason, "[r.1]") || !strings.Contains(a.HookSpecificOutput.PermissionDecisionReason, "do this") {
					t.Fatalf("not a deny with the reason: %s", b)
				}
				if strings.Contains(a.HookSpecificOutput.PermissionDecisionReason, "cannot ask for approval") != tt.help {
					t.Fatalf("approval help presence wrong: %s", b)
				}
			}
			if tt.outcome == cavra.Warn && (a.HookSpecificOutput != nil || !strings.Contains(m["systemMessage"].(string), "[r.1]")) {
				t.Fatalf("warn must allow with a message: %s", b)
			}
			if strings.Contains(string(b), `"ask"`) {
				t.Fatal("Codex must never be answered ask")
			}
		})
	}
	d := base
	d.Outcome = cavra.AuditOnly
	d.Matches = []cavra.Match{{RuleID: "a.1", Outcome: cavra.AuditOnly}, {RuleID: "w.1", Outcome: cavra.Warn, Message: "careful"}}
	if a := Render(d); !strings.Contains(a.SystemMessage, "careful") {
		t.Fatalf("a lower-ranked warning must still be shown: %+v", a)
	}
}

func TestInspectedAndRenderFindings(t *testing.T) {
	post := readPayload(t, "post-tool-use-secret.json")
	if got := Inspected(post); !strings.Contains(got, "GITHUB_TOKEN=@@FAKE_GITHUB_PAT@@") {
		t.Fatalf("inspected %q", got)
	}
	prompt := readPayload(t, "user-prompt-secret.json")
	if got := Inspected(prompt); !strings.HasPrefix(got, "use this token") {
		t.Fatalf("inspected %q", got)
	}
	tests := []struct {
		name     string
		p        Payload
		findings string
		json     string
	}{
		{name: "clean output", p: post, json: `{}`},
		{name: "secret in output", p: post, findings: "1 live secret: github-pat at line 2.",
			json: `{"decision":"block","reason":"CAVRA: the output of Bash holds 1 live secret: github-pat at line 2. Do not repeat, store or use these values; tell the user to rotate them."}`},
		{name: "secret in prompt", p: prompt, findings: "1 live secret: github-pat at line 1.",
			json: `{"decision":"block","reason":"CAVRA blocked this prompt: 1 live secret: github-pat at line 1. Remove the secret and send the prompt again."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := json.Marshal(RenderFindings(tt.p, tt.findings))
			if string(b) != tt.json {
				t.Fatalf("got  %s\nwant %s", b, tt.json)
			}
		})
	}
}

// FuzzParse feeds arbitrary payloads through the adapter: it must never panic, and whatever it
// accepts must map to an action of a valid kind or a clear error.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			data, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if p.HookEventName != EventPreToolUse {
			_ = Inspected(p)
			_ = RenderFindings(p, "x")
			return
		}
		a, err := ToAction(p)
		if err != nil {
			return
		}
		if !a.Kind.Valid() {
			t.Fatalf("accepted payload mapped to kind %q", a.Kind)
		}
		for _, op := range a.Files {
			if op.Path == "" {
				t.Fatalf("file op without a path: %+v", op)
			}
		}
	})
}
