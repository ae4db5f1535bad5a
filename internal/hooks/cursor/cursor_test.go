package cursor

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
		tool string
		want cavra.Action
	}{
		{file: "shell.json", tool: "Shell", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Command: &cavra.Command{Line: "npm test"}}},
		{file: "shell-force-push.json", tool: "Shell", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Command: &cavra.Command{Line: "git push --force origin main"}}},
		{file: "mcp.json", tool: "write_file", want: cavra.Action{Kind: cavra.KindMCPCall, MCP: &cavra.MCPCall{Server: "server-filesystem", Tool: "write_file", Method: "tools/call",
			Arguments: map[string]any{"path": "/repo/.github/workflows/ci.yml", "content": "on: push"}}}},
		{file: "mcp-string-input.json", tool: "MCP:github:create_issue", want: cavra.Action{Kind: cavra.KindMCPCall, MCP: &cavra.MCPCall{Server: "github", Tool: "create_issue", Method: "tools/call",
			Arguments: map[string]any{"title": "bug", "body": "x"}}}},
		{file: "read-env.json", tool: "Read", want: cavra.Action{Kind: cavra.KindFileRead, Effect: cavra.EffectRead, Files: []cavra.FileOp{{Op: cavra.FileRead, Path: "/repo/config/.env"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := readPayload(t, tt.file)
			if !IsDecision(p) {
				t.Fatal("a before* event is a decision")
			}
			got, err := ToAction(p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source.Host != Host || got.Source.Tool != tt.tool || got.Source.SessionID != p.ConversationID || got.Cwd != "/repo" {
				t.Fatalf("source not carried: %+v cwd %q", got.Source, got.Cwd)
			}
			got.Source, got.Cwd, got.Version = cavra.Source{}, "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMCPServerNames(t *testing.T) {
	cmd := func(s string) *string { return &s }
	tests := []struct {
		name   string
		p      Payload
		server string
		tool   string
	}{
		{name: "prefixed", p: Payload{ToolName: "MCP:db:query"}, server: "db", tool: "query"},
		{name: "double underscore", p: Payload{ToolName: "mcp__db__query"}, server: "db", tool: "query"},
		{name: "url", p: Payload{ToolName: "query", URL: "http://127.0.0.1:3000/mcp"}, server: "127.0.0.1:3000", tool: "query"},
		{name: "command", p: Payload{ToolName: "query", Command: cmd("/usr/local/bin/dbserver --ro")}, server: "dbserver", tool: "query"},
		{name: "nothing", p: Payload{ToolName: "query"}, server: "unknown", tool: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tool := tt.p.mcpNames()
			if s != tt.server || tool != tt.tool {
				t.Fatalf("got %q %q", s, tool)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{name: "empty", payload: "", want: "empty"},
		{name: "no event", payload: `{"command":"ls"}`, want: "no hook_event_name"},
		{name: "other event", payload: `{"hook_event_name":"stop"}`, want: "not handled"},
		{name: "shell without command", payload: `{"hook_event_name":"beforeShellExecution","cwd":"/r"}`, want: "no command"},
		{name: "mcp without tool", payload: `{"hook_event_name":"beforeMCPExecution"}`, want: "no tool_name"},
		{name: "read without path", payload: `{"hook_event_name":"beforeReadFile"}`, want: "no file_path"},
		{name: "prompt missing", payload: `{"hook_event_name":"beforeSubmitPrompt"}`, want: "no prompt"},
		{name: "relative cwd", payload: `{"hook_event_name":"beforeShellExecution","command":"ls","cwd":"r"}`, want: "not absolute"},
		{name: "relative root", payload: `{"hook_event_name":"beforeShellExecution","command":"ls","workspace_roots":["r"]}`, want: "not absolute"},
		{name: "command not string", payload: `{"hook_event_name":"beforeShellExecution","command":["ls"]}`, want: "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
	bad := Payload{HookEventName: EventBeforeMCPExecution, ToolName: "x", ToolInput: json.RawMessage(`"not json"`)}
	if _, err := ToAction(bad); err == nil {
		t.Fatal("tool_input that is not an object accepted")
	}
	if _, err := ToAction(Payload{HookEventName: EventAfterShellExecution}); err == nil {
		t.Fatal("an after* payload is not a decision")
	}
}

func TestRender(t *testing.T) {
	base := cavra.Decision{RuleID: "r.1", Reason: "because", Remediation: "do this", Policy: "baseline", PolicyRevision: "sha256:01234567"}
	shell := Payload{HookEventName: EventBeforeShellExecution}
	read := Payload{HookEventName: EventBeforeReadFile}
	tests := []struct {
		name       string
		p          Payload
		outcome    cavra.Outcome
		permission string
		message    bool
	}{
		{name: "shell allow", p: shell, outcome: cavra.Allow, permission: "allow"},
		{name: "shell audit", p: shell, outcome: cavra.AuditOnly, permission: "allow"},
		{name: "shell attest", p: shell, outcome: cavra.AllowWithAttestation, permission: "allow"},
		{name: "shell warn", p: shell, outcome: cavra.Warn, permission: "allow", message: true},
		{name: "shell approval", p: shell, outcome: cavra.RequireApproval, permission: "ask", message: true},
		{name: "shell block", p: shell, outcome: cavra.Block, permission: "deny", message: true},
		{name: "shell unknown", p: shell, outcome: "new", permission: "deny", message: true},
		{name: "read allow", p: read, outcome: cavra.Allow, permission: "allow"},
		{name: "read warn", p: read, outcome: cavra.Warn, permission: "allow"},
		{name: "read approval", p: read, outcome: cavra.RequireApproval, permission: "deny"},
		{name: "read block", p: read, outcome: cavra.Block, permission: "deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			d.Outcome = tt.outcome
			a := Render(tt.p, d)
			if a.Permission != tt.permission || a.Continue != nil {
				t.Fatalf("got %+v", a)
			}
			if (a.UserMessage != "") != tt.message || (a.AgentMessage != "") != tt.message {
				t.Fatalf("message presence wrong: %+v", a)
			}
			if tt.message && !strings.Contains(a.AgentMessage, "[r.1]") {
				t.Fatalf("agent message lacks the rule: %+v", a)
			}
		})
	}
	d := base
	d.Outcome = cavra.RequireApproval
	if r := ReadDenialReason(d); !strings.Contains(r, "cannot ask before a file read") || !strings.Contains(r, "[r.1]") {
		t.Fatalf("read denial reason %q", r)
	}
}

func TestInspectedAndRenderFindings(t *testing.T) {
	tests := []struct {
		file      string
		inspected string
		findings  string
		json      string
	}{
		{file: "after-shell-secret.json", inspected: "deploying\nGITHUB_TOKEN=@@FAKE_GITHUB_PAT@@\ndone\n", findings: "1 live secret.", json: `{}`},
		{file: "after-mcp.json", inspected: "# Project\ntext", json: `{}`},
		{file: "prompt.json", inspected: "refactor the parser", json: `{"continue":true}`},
		{file: "prompt-secret.json", inspected: "use this token to open the PR: @@FAKE_GITHUB_PAT@@", findings: "1 live secret: github-pat at line 1.",
			json: `{"user_message":"CAVRA blocked this prompt: 1 live secret: github-pat at line 1. Remove the secret and send the prompt again.","continue":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := readPayload(t, tt.file)
			if IsDecision(p) {
				t.Fatal("not a decision event")
			}
			if got := Inspected(p); got != tt.inspected {
				t.Fatalf("inspected %q, want %q", got, tt.inspected)
			}
			b, _ := json.Marshal(RenderFindings(p, tt.findings))
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
		if !IsDecision(p) {
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
		if a.MCP != nil && (a.MCP.Server == "" || a.MCP.Tool == "") {
			t.Fatalf("MCP call without a server or tool: %+v", a.MCP)
		}
		_ = Render(p, cavra.Decision{Outcome: cavra.RequireApproval})
	})
}
