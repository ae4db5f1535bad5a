// Package claudecode speaks Claude Code's hook protocol: it turns a PreToolUse payload into a
// canonical action and a decision into the hook's answer.
package claudecode

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// Host is the source host name of actions from Claude Code.
const Host = "claude-code"

// EventPreToolUse is the only event this adapter answers.
const EventPreToolUse = "PreToolUse"

// Payload is what Claude Code writes to a hook's stdin. Fields Claude Code adds in newer builds
// are ignored; the fields CAVRA relies on must be present and well typed.
type Payload struct {
	SessionID      string          `json:"session_id"`
	TranscriptPath string          `json:"transcript_path"`
	Cwd            string          `json:"cwd"`
	PermissionMode string          `json:"permission_mode"`
	HookEventName  string          `json:"hook_event_name"`
	ToolName       string          `json:"tool_name"`
	ToolInput      json.RawMessage `json:"tool_input"`
	ToolUseID      string          `json:"tool_use_id"`
	AgentID        string          `json:"agent_id"`
	AgentType      string          `json:"agent_type"`
	// ToolResponse is the tool's result, on PostToolUse.
	ToolResponse json.RawMessage `json:"tool_response"`
	// Prompt is the user's prompt, on UserPromptSubmit.
	Prompt *string `json:"prompt"`
}

// Parse decodes and checks a PreToolUse payload.
func Parse(data []byte) (Payload, error) {
	var p Payload
	if err := hookio.DecodeObject(data, &p); err != nil {
		return p, err
	}
	switch p.HookEventName {
	case "":
		return p, fmt.Errorf("hook payload has no hook_event_name")
	case EventPreToolUse:
	default:
		return p, fmt.Errorf("hook event %q is not handled: configure cavra for PreToolUse", p.HookEventName)
	}
	if err := hookio.CheckToolCall(p.ToolName, p.ToolInput); err != nil {
		return p, err
	}
	return p, hookio.CheckCwd(p.Cwd)
}

// The tool inputs CAVRA reads. Decoding is by field; other fields are ignored.
type (
	bashInput struct {
		Command *string `json:"command"`
	}
	writeInput struct {
		FilePath *string `json:"file_path"`
		Content  *string `json:"content"`
	}
	editInput struct {
		FilePath  *string `json:"file_path"`
		NewString *string `json:"new_string"`
	}
	multiEditInput struct {
		FilePath *string `json:"file_path"`
		Edits    []struct {
			NewString string `json:"new_string"`
		} `json:"edits"`
	}
	notebookEditInput struct {
		NotebookPath *string `json:"notebook_path"`
		NewSource    string  `json:"new_source"`
		EditMode     string  `json:"edit_mode"`
	}
	readInput struct {
		FilePath *string `json:"file_path"`
	}
	searchInput struct {
		Path string `json:"path"`
	}
	notebookReadInput struct {
		NotebookPath *string `json:"notebook_path"`
	}
	fetchInput struct {
		URL *string `json:"url"`
	}
	searchWebInput struct {
		Query string `json:"query"`
	}
)

// harmlessTools do nothing outside the conversation: planning, todo lists, asking the user.
var harmlessTools = map[string]bool{
	"TodoWrite": true, "TodoRead": true, "ExitPlanMode": true, "EnterPlanMode": true, "AskUserQuestion": true,
	"BashOutput": true, "KillShell": true, "KillBash": true, "Task": true, "Agent": true, "TaskOutput": true,
	"TaskStop": true, "ListMcpResourcesTool": true, "SlashCommand": true, "Skill": true,
}

// ToAction maps a payload to a canonical action.
func ToAction(p Payload) (cavra.Action, error) {
	a := cavra.Action{
		Version: cavra.TaxonomyVersion,
		Cwd:     p.Cwd,
		Source: cavra.Source{Host: Host, Tool: p.ToolName, Event: p.HookEventName, SessionID: p.SessionID,
			ToolUseID: p.ToolUseID, Agent: hookio.FirstNonEmpty(p.AgentID, p.AgentType), PermissionMode: p.PermissionMode},
	}
	input := p.ToolInput
	switch p.ToolName {
	case "Bash":
		var in bashInput
		if err := decode(input, &in); err != nil || in.Command == nil {
			return a, inputError(p.ToolName, "command", err)
		}
		a.Kind, a.Effect = cavra.KindCommandExec, cavra.EffectExecute
		a.Command = &cavra.Command{Line: *in.Command}
	case "Write":
		var in writeInput
		if err := decode(input, &in); err != nil || in.FilePath == nil || *in.FilePath == "" {
			return a, inputError(p.ToolName, "file_path", err)
		}
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: *in.FilePath, Content: hookio.Deref(in.Content)}}
	case "Edit":
		var in editInput
		if err := decode(input, &in); err != nil || in.FilePath == nil || *in.FilePath == "" {
			return a, inputError(p.ToolName, "file_path", err)
		}
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: *in.FilePath, Content: hookio.Deref(in.NewString)}}
	case "MultiEdit":
		var in multiEditInput
		if err := decode(input, &in); err != nil || in.FilePath == nil || *in.FilePath == "" {
			return a, inputError(p.ToolName, "file_path", err)
		}
		added := make([]string, len(in.Edits))
		for i, e := range in.Edits {
			added[i] = e.NewString
		}
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: *in.FilePath, Content: strings.Join(added, "\n")}}
	case "NotebookEdit":
		var in notebookEditInput
		if err := decode(input, &in); err != nil || in.NotebookPath == nil || *in.NotebookPath == "" {
			return a, inputError(p.ToolName, "notebook_path", err)
		}
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: *in.NotebookPath, Content: in.NewSource}}
	case "Read":
		var in readInput
		if err := decode(input, &in); err != nil || in.FilePath == nil || *in.FilePath == "" {
			return a, inputError(p.ToolName, "file_path", err)
		}
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: *in.FilePath}}
	case "NotebookRead":
		var in notebookReadInput
		if err := decode(input, &in); err != nil || in.NotebookPath == nil || *in.NotebookPath == "" {
			return a, inputError(p.ToolName, "notebook_path", err)
		}
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: *in.NotebookPath}}
	case "Glob", "Grep", "LS":
		var in searchInput
		if err := decode(input, &in); err != nil {
			return a, inputError(p.ToolName, "path", err)
		}
		path := in.Path
		if path == "" {
			path = p.Cwd
		}
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: path}}
	case "WebFetch":
		var in fetchInput
		if err := decode(input, &in); err != nil || in.URL == nil || *in.URL == "" {
			return a, inputError(p.ToolName, "url", err)
		}
		a.Kind, a.Effect = cavra.KindNetworkFetch, cavra.EffectRead
		a.Network = []cavra.NetworkRequest{{URL: *in.URL, Method: "GET"}}
	case "WebSearch":
		var in searchWebInput
		if err := decode(input, &in); err != nil {
			return a, inputError(p.ToolName, "query", err)
		}
		a.Kind, a.Effect = "network.search", cavra.EffectRead
		a.Attributes = map[string]any{"query": in.Query}
	default:
		if server, tool, ok := mcpTool(p.ToolName); ok {
			var args map[string]any
			if err := decode(input, &args); err != nil {
				return a, inputError(p.ToolName, "arguments", err)
			}
			a.Kind = cavra.KindMCPCall
			a.MCP = &cavra.MCPCall{Server: server, Tool: tool, Method: "tools/call", Arguments: args}
			return a, nil
		}
		if harmlessTools[p.ToolName] {
			a.Kind = "agent.tool"
			return a, nil
		}
		// A tool CAVRA does not know: the policy's unknown_tool setting judges it.
		a.Kind = "tool.call"
	}
	return a, nil
}

// mcpTool splits "mcp__server__tool".
func mcpTool(name string) (server, tool string, ok bool) {
	rest, ok := strings.CutPrefix(name, "mcp__")
	if !ok {
		return "", "", false
	}
	server, tool, ok = strings.Cut(rest, "__")
	return server, tool, ok && server != "" && tool != ""
}

func decode(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return err
	}
	return nil
}

func inputError(tool, field string, err error) error {
	if err != nil {
		return fmt.Errorf("%s tool_input: %w", tool, err)
	}
	return fmt.Errorf("%s tool_input has no %s", tool, field)
}

// Answer is the hook's stdout.
type Answer struct {
	HookSpecificOutput HookOutput `json:"hookSpecificOutput"`
}

// HookOutput is the PreToolUse part of the answer.
type HookOutput struct {
	HookEventName            string `json:"hookEventName"`
	PermissionDecision       string `json:"permissionDecision"`
	PermissionDecisionReason string `json:"permissionDecisionReason,omitempty"`
	AdditionalContext        string `json:"additionalContext,omitempty"`
}

// Render maps a decision to Claude Code's answer: allow, audit_only and allow_with_attestation
// allow; warn allows with context for the model; require_approval asks the user; block denies.
func Render(d cavra.Decision) Answer {
	out := HookOutput{HookEventName: EventPreToolUse}
	switch d.Outcome {
	case cavra.Allow, cavra.AuditOnly, cavra.AllowWithAttestation:
		out.PermissionDecision = "allow"
		if d.RuleID != "" && d.Outcome != cavra.Allow {
			out.PermissionDecisionReason = Reason(d)
		}
	case cavra.Warn:
		out.PermissionDecision = "allow"
		out.PermissionDecisionReason = Reason(d)
		out.AdditionalContext = Reason(d)
	case cavra.RequireApproval:
		out.PermissionDecision = "ask"
		out.PermissionDecisionReason = Reason(d)
	default: // block, and anything unknown
		out.PermissionDecision = "deny"
		out.PermissionDecisionReason = Reason(d)
	}
	// Warnings from lower-ranked rules still reach the model.
	if d.Outcome.Permits() && d.Outcome != cavra.Warn {
		out.AdditionalContext = hookio.LowerWarnings(d)
	}
	return Answer{HookSpecificOutput: out}
}

// Reason is the text an agent reads: what, why, how to proceed, and which rule and policy said so.
func Reason(d cavra.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CAVRA %s [%s]: %s", d.Outcome, d.RuleID, d.Reason)
	if d.Remediation != "" {
		b.WriteString(" How to proceed: ")
		b.WriteString(d.Remediation)
	}
	if len(d.Matches) > 0 && d.Matches[0].Text != "" && d.Matches[0].Subject == "command" {
		fmt.Fprintf(&b, " (matched: %q)", d.Matches[0].Text)
	}
	rev := d.PolicyRevision
	if len(rev) > 19 {
		rev = rev[:19]
	}
	fmt.Fprintf(&b, " [policy %s %s]", d.Policy, rev)
	return b.String()
}
