package gemini

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
		cwd  string
		want cavra.Action
	}{
		{file: "shell.json", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Command: &cavra.Command{Line: "go test ./..."}}},
		{file: "shell-force-push.json", cwd: "/repo/sub", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Command: &cavra.Command{Line: "git push --force origin main"}}},
		{file: "write-file.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite,
			Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/src/app.ts", Content: "export const x = 1;\n"}}}},
		{file: "replace.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite, Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/main.go", Content: "b"}}}},
		{file: "read-env.json", want: cavra.Action{Kind: cavra.KindFileRead, Effect: cavra.EffectRead, Files: []cavra.FileOp{{Op: cavra.FileRead, Path: "/repo/config/.env"}}}},
		{file: "read-many.json", want: cavra.Action{Kind: cavra.KindFileRead, Effect: cavra.EffectRead,
			Files: []cavra.FileOp{{Op: cavra.FileRead, Path: "src/a.go"}, {Op: cavra.FileRead, Path: "README.md"}}}},
		{file: "list-directory.json", want: cavra.Action{Kind: cavra.KindFileRead, Effect: cavra.EffectRead, Files: []cavra.FileOp{{Op: cavra.FileRead, Path: "/repo/src"}}}},
		{file: "web-fetch.json", want: cavra.Action{Kind: cavra.KindNetworkFetch, Effect: cavra.EffectRead,
			Network: []cavra.NetworkRequest{{URL: "http://169.254.169.254/latest/meta-data/iam/", Method: "GET"}}}},
		{file: "mcp.json", want: cavra.Action{Kind: cavra.KindMCPCall, MCP: &cavra.MCPCall{Server: "filesystem", Tool: "write_file", Method: "tools/call",
			Arguments: map[string]any{"path": "/repo/.github/workflows/ci.yml", "content": "on: push"}}}},
		{file: "todos.json", want: cavra.Action{Kind: "agent.tool"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := readPayload(t, tt.file)
			got, err := ToAction(p)
			if err != nil {
				t.Fatal(err)
			}
			wantCwd := "/repo"
			if tt.cwd != "" {
				wantCwd = tt.cwd
			}
			if got.Source.Host != Host || got.Source.Tool != p.ToolName || got.Source.SessionID != p.SessionID || got.Cwd != wantCwd {
				t.Fatalf("source not carried: %+v cwd %q", got.Source, got.Cwd)
			}
			got.Source, got.Cwd, got.Version = cavra.Source{}, "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{name: "empty", payload: "", want: "empty"},
		{name: "no event", payload: `{"tool_name":"read_file","tool_input":{}}`, want: "no hook_event_name"},
		{name: "other event", payload: `{"hook_event_name":"SessionStart"}`, want: "not handled"},
		{name: "no tool", payload: `{"hook_event_name":"BeforeTool","tool_input":{}}`, want: "no tool_name"},
		{name: "input not object", payload: `{"hook_event_name":"BeforeTool","tool_name":"read_file","tool_input":null}`, want: "JSON object"},
		{name: "prompt missing", payload: `{"hook_event_name":"BeforeAgent"}`, want: "no prompt"},
		{name: "relative cwd", payload: `{"hook_event_name":"BeforeAgent","prompt":"x","cwd":"."}`, want: "not absolute"},
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
	tests := []struct{ tool, input string }{
		{tool: "run_shell_command", input: `{}`},
		{tool: "run_shell_command", input: `{"command":1}`},
		{tool: "write_file", input: `{"content":"x"}`},
		{tool: "replace", input: `{"new_string":"x"}`},
		{tool: "read_file", input: `{}`},
		{tool: "read_many_files", input: `{}`},
		{tool: "read_many_files", input: `{"paths":[""]}`},
		{tool: "list_directory", input: `{}`},
		{tool: "mcp__fs__write", input: `{"path":3`},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.input, func(t *testing.T) {
			p := Payload{HookEventName: EventBeforeTool, ToolName: tt.tool, ToolInput: json.RawMessage(tt.input)}
			if _, err := ToAction(p); err == nil {
				t.Fatal("bad tool_input accepted")
			}
		})
	}
}

func TestRender(t *testing.T) {
	base := cavra.Decision{RuleID: "r.1", Reason: "because", Remediation: "do this", Policy: "baseline", PolicyRevision: "sha256:0123"}
	tests := []struct {
		outcome  cavra.Outcome
		decision string
		reason   bool
		message  bool
		help     bool
	}{
		{outcome: cavra.Allow, decision: "allow"},
		{outcome: cavra.AuditOnly, decision: "allow"},
		{outcome: cavra.AllowWithAttestation, decision: "allow"},
		{outcome: cavra.Warn, decision: "allow", message: true},
		{outcome: cavra.RequireApproval, decision: "deny", reason: true, help: true},
		{outcome: cavra.Block, decision: "deny", reason: true},
		{outcome: "new", decision: "deny", reason: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			d := base
			d.Outcome = tt.outcome
			a := Render(d)
			if a.Decision != tt.decision || (a.Reason != "") != tt.reason || (a.SystemMessage != "") != tt.message || a.HookSpecificOutput != nil {
				t.Fatalf("got %+v", a)
			}
			if tt.reason && !strings.Contains(a.Reason, "[r.1]") {
				t.Fatalf("reason lacks the rule: %q", a.Reason)
			}
			if strings.Contains(a.Reason, "cannot ask for approval") != tt.help {
				t.Fatalf("approval help presence wrong: %q", a.Reason)
			}
		})
	}
}

func TestInspectedAndRenderFindings(t *testing.T) {
	tests := []struct {
		file      string
		inspected string
		findings  string
		redacted  string
		json      string
	}{
		{file: "after-tool-clean.json", inspected: "# Project\n", json: `{}`},
		{file: "after-tool-secret.json", inspected: "deploying\nGITHUB_TOKEN=@@FAKE_GITHUB_PAT@@\ndone\ndeploying", findings: "1 live secret: github-pat at line 2.",
			redacted: "deploying\n[CAVRA redacted a github-pat]\ndone\ndeploying",
			json: `{"systemMessage":"CAVRA redacted the output of run_shell_command: it held 1 live secret: github-pat at line 2.","hookSpecificOutput":{"hookEventName":"AfterTool",` +
				`"additionalContext":"CAVRA redacted the output of run_shell_command: it held 1 live secret: github-pat at line 2. Do not try to recover these values; tell the user to rotate them.",` +
				`"tool_output":"deploying\n[CAVRA redacted a github-pat]\ndone\ndeploying"}}`},
		{file: "before-agent.json", inspected: "refactor the parser", json: `{}`},
		{file: "before-agent-secret.json", inspected: "use this token to open the PR: @@FAKE_GITHUB_PAT@@", findings: "1 live secret.",
			json: `{"decision":"deny","reason":"CAVRA blocked this prompt: 1 live secret. Remove the secret and send the prompt again."}`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := readPayload(t, tt.file)
			if got := Inspected(p); got != tt.inspected {
				t.Fatalf("inspected %q, want %q", got, tt.inspected)
			}
			b, _ := json.Marshal(RenderFindings(p, tt.findings, tt.redacted))
			if string(b) != tt.json {
				t.Fatalf("got  %s\nwant %s", b, tt.json)
			}
		})
	}
}

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
		if p.HookEventName != EventBeforeTool {
			_ = Inspected(p)
			_ = RenderFindings(p, "x", "y")
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
				t.Fatalf("file op without a path: %+v", a)
			}
		}
	})
}
