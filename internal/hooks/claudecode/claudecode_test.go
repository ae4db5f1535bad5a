package claudecode

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
		{file: "bash-force-push.json", want: cavra.Action{Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute,
			Command: &cavra.Command{Line: "git push --force origin main"}}},
		{file: "write.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite,
			Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/src/app.ts", Content: "export const x = 1;\n"}}}},
		{file: "edit.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite,
			Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/main.go", Content: "b"}}}},
		{file: "multiedit.json", want: cavra.Action{Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite,
			Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/main.go", Content: "b\nd"}}}},
		{file: "read-env.json", want: cavra.Action{Kind: cavra.KindFileRead, Effect: cavra.EffectRead,
			Files: []cavra.FileOp{{Op: cavra.FileRead, Path: "/repo/config/.env"}}}},
		{file: "webfetch.json", want: cavra.Action{Kind: cavra.KindNetworkFetch, Effect: cavra.EffectRead,
			Network: []cavra.NetworkRequest{{URL: "http://169.254.169.254/latest/meta-data/iam/", Method: "GET"}}}},
		{file: "mcp.json", want: cavra.Action{Kind: cavra.KindMCPCall, MCP: &cavra.MCPCall{Server: "filesystem", Tool: "write_file",
			Method: "tools/call", Arguments: map[string]any{"path": "/repo/.github/workflows/ci.yml", "content": "on: push"}}}},
		{file: "grep.json", want: cavra.Action{Kind: cavra.KindFileRead, Effect: cavra.EffectRead,
			Files: []cavra.FileOp{{Op: cavra.FileRead, Path: "/repo"}}}},
		{file: "subagent-todo.json", want: cavra.Action{Kind: "agent.tool"}},
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
				t.Fatalf("source not carried: %+v", got.Source)
			}
			got.Source, got.Cwd, got.Version = cavra.Source{}, "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if p := readPayload(t, "subagent-todo.json"); p.AgentID != "a-1" {
		t.Fatal("agent id lost")
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, payload, want string
	}{
		{name: "empty", payload: "  ", want: "empty hook payload"},
		{name: "not json", payload: "rm -rf /", want: "decode hook payload"},
		{name: "array", payload: "[]", want: "decode hook payload"},
		{name: "trailing data", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{}} {}`, want: "trailing data"},
		{name: "no event", payload: `{"tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "no hook_event_name"},
		{name: "other event", payload: `{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "not handled"},
		{name: "no tool", payload: `{"hook_event_name":"PreToolUse","tool_input":{}}`, want: "no tool_name"},
		{name: "input not object", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":"ls"}`, want: "must be a JSON object"},
		{name: "input missing", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash"}`, want: "must be a JSON object"},
		{name: "wrong type", payload: `{"hook_event_name":"PreToolUse","tool_name":7,"tool_input":{}}`, want: "decode hook payload"},
		{name: "relative cwd", payload: `{"hook_event_name":"PreToolUse","cwd":"repo","tool_name":"Bash","tool_input":{"command":"ls"}}`, want: "not absolute"},
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
		{tool: "Bash", input: `{}`},
		{tool: "Bash", input: `{"command":["rm","-rf"]}`},
		{tool: "Write", input: `{"content":"x"}`},
		{tool: "Write", input: `{"file_path":""}`},
		{tool: "Edit", input: `{"file_path":3}`},
		{tool: "MultiEdit", input: `{"file_path":"/a","edits":"x"}`},
		{tool: "Read", input: `{}`},
		{tool: "WebFetch", input: `{"prompt":"x"}`},
		{tool: "NotebookEdit", input: `{}`},
		{tool: "mcp__fs__write", input: `{"path":` + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.input, func(t *testing.T) {
			p := Payload{HookEventName: EventPreToolUse, ToolName: tt.tool, ToolInput: json.RawMessage(tt.input)}
			if _, err := ToAction(p); err == nil {
				t.Fatal("bad tool_input accepted")
			}
		})
	}
}

func TestRender(t *testing.T) {
	base := cavra.Decision{RuleID: "r.1", Reason: "because", Remediation: "do this", Policy: "baseline", PolicyRevision: "sha256:0123456789abcdef0123"}
	tests := []struct {
		outcome    cavra.Outcome
		permission string
		reason     bool
		context    bool
	}{
		{outcome: cavra.Allow, permission: "allow"},
		{outcome: cavra.AuditOnly, permission: "allow", reason: true},
		{outcome: cavra.AllowWithAttestation, permission: "allow", reason: true},
		{outcome: cavra.Warn, permission: "allow", reason: true, context: true},
		{outcome: cavra.RequireApproval, permission: "ask", reason: true},
		{outcome: cavra.Block, permission: "deny", reason: true},
		{outcome: "something-new", permission: "deny", reason: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			d := base
			d.Outcome = tt.outcome
			out := Render(d).HookSpecificOutput
			if out.HookEventName != "PreToolUse" || out.PermissionDecision != tt.permission {
				t.Fatalf("got %+v", out)
			}
			if (out.PermissionDecisionReason != "") != tt.reason || (out.AdditionalContext != "") != tt.context {
				t.Fatalf("reason/context presence wrong: %+v", out)
			}
			if tt.reason && (!strings.Contains(out.PermissionDecisionReason, "[r.1]") || !strings.Contains(out.PermissionDecisionReason, "do this") ||
				!strings.Contains(out.PermissionDecisionReason, "baseline sha256:0123456789ab")) {
				t.Fatalf("reason lacks rule, remediation or policy: %q", out.PermissionDecisionReason)
			}
		})
	}
	d := base
	d.Outcome = cavra.RequireApproval
	d.Matches = []cavra.Match{{RuleID: "r.1", Outcome: cavra.RequireApproval}, {RuleID: "w.1", Outcome: cavra.Warn, Message: "careful"}}
	if out := Render(d).HookSpecificOutput; out.AdditionalContext != "" {
		t.Fatalf("ask carries no extra context: %+v", out)
	}
	d.Outcome = cavra.AuditOnly
	d.Matches[0].Outcome = cavra.AuditOnly
	if out := Render(d).HookSpecificOutput; !strings.Contains(out.AdditionalContext, "careful") {
		t.Fatalf("a lower-ranked warning must still reach the model: %+v", out)
	}
}

// FuzzParse feeds arbitrary payloads through the adapter: it must never panic, and whatever it
// accepts must map to an action or a clear error.
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
	f.Add([]byte(`{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":null}}`))
	f.Add([]byte(`{"hook_event_name":"PreToolUse","tool_name":"mcp____","tool_input":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		a, err := ToAction(p)
		if err != nil {
			return
		}
		if a.Kind == "" || !a.Kind.Valid() {
			t.Fatalf("accepted payload mapped to kind %q", a.Kind)
		}
		_ = Render(cavra.Decision{Outcome: cavra.Block})
	})
}
