// Package codex speaks the OpenAI Codex CLI hook protocol: PreToolUse payloads (Bash,
// apply_patch and MCP tools) become canonical actions; decisions become answers that fit
// Codex's strict output schema; PostToolUse and UserPromptSubmit payloads yield the text to
// scan for secrets.
//
// Codex validates a hook's stdout against a schema with additionalProperties:false, and an
// answer it cannot use counts as a failed hook, after which the tool runs. So this adapter
// emits only fields of that schema: {} to allow, a PreToolUse deny, a systemMessage for a
// warning, and "decision":"block" with a reason on PostToolUse and UserPromptSubmit.
package codex

import (
	"encoding/json"
	"fmt"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine/patch"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// Host is the source host name of actions from Codex.
const Host = "codex"

// The events this adapter answers.
const (
	EventPreToolUse       = "PreToolUse"
	EventPostToolUse      = "PostToolUse"
	EventUserPromptSubmit = "UserPromptSubmit"
)

// ToolApplyPatch is Codex's file-editing tool; its tool_input.command is the raw patch.
const ToolApplyPatch = "apply_patch"

// Payload is what Codex writes to a hook's stdin.
type Payload struct {
	SessionID      string          `json:"session_id"`
	TurnID         string          `json:"turn_id"`
	TranscriptPath *string         `json:"transcript_path"`
	Cwd            string          `json:"cwd"`
	HookEventName  string          `json:"hook_event_name"`
	Model          string          `json:"model"`
	PermissionMode string          `json:"permission_mode"`
	ToolName       string          `json:"tool_name"`
	ToolInput      json.RawMessage `json:"tool_input"`
	ToolResponse   json.RawMessage `json:"tool_response"`
	ToolUseID      string          `json:"tool_use_id"`
	Prompt         *string         `json:"prompt"`
	AgentID        string          `json:"agent_id"`
	AgentType      string          `json:"agent_type"`
}

// Parse decodes and checks a payload of one of the handled events.
func Parse(data []byte) (Payload, error) {
	var p Payload
	if err := hookio.DecodeObject(data, &p); err != nil {
		return p, err
	}
	if err := hookio.CheckCwd(p.Cwd); err != nil {
		return p, err
	}
	switch p.HookEventName {
	case "":
		return p, fmt.Errorf("hook payload has no hook_event_name")
	case EventPreToolUse, EventPostToolUse:
		if err := hookio.CheckToolCall(p.ToolName, p.ToolInput); err != nil {
			return p, err
		}
	case EventUserPromptSubmit:
		if p.Prompt == nil {
			return p, fmt.Errorf("UserPromptSubmit payload has no prompt")
		}
	default:
		return p, fmt.Errorf("hook event %q is not handled: configure cavra for PreToolUse, PostToolUse and UserPromptSubmit", p.HookEventName)
	}
	return p, nil
}

// commandInput is tool_input of Bash and apply_patch. Codex sends a string; older shell tools
// sent argv, which is accepted and quoted back into a line.
type commandInput struct {
	Command json.RawMessage `json:"command"`
}

func (in commandInput) line() (string, error) {
	var s string
	if err := json.Unmarshal(in.Command, &s); err == nil {
		return s, nil
	}
	var argv []string
	if err := json.Unmarshal(in.Command, &argv); err != nil || len(argv) == 0 {
		return "", fmt.Errorf("tool_input.command must be a string or a non-empty list of strings")
	}
	return hookio.ShellQuote(argv), nil
}

// ToAction maps a PreToolUse payload to a canonical action.
func ToAction(p Payload) (cavra.Action, error) {
	a := cavra.Action{
		Version: cavra.TaxonomyVersion,
		Cwd:     p.Cwd,
		Source: cavra.Source{Host: Host, Tool: p.ToolName, Event: p.HookEventName, SessionID: p.SessionID,
			ToolUseID: p.ToolUseID, Agent: hookio.FirstNonEmpty(p.AgentID, p.AgentType), PermissionMode: p.PermissionMode},
	}
	if p.HookEventName != EventPreToolUse {
		return a, fmt.Errorf("only PreToolUse payloads are decisions, not %s", p.HookEventName)
	}
	switch p.ToolName {
	case "Bash", "shell", "exec_command", "local_shell":
		line, err := decodeCommand(p)
		if err != nil {
			return a, err
		}
		a.Kind, a.Effect = cavra.KindCommandExec, cavra.EffectExecute
		a.Command = &cavra.Command{Line: line}
	case ToolApplyPatch:
		text, err := decodeCommand(p)
		if err != nil {
			return a, err
		}
		ops, err := patch.Parse(text)
		if err != nil {
			return a, fmt.Errorf("apply_patch: %w", err)
		}
		if len(ops) == 0 {
			return a, fmt.Errorf("apply_patch: the patch changes no file")
		}
		a.Kind, a.Effect = cavra.KindFileDelete, cavra.EffectDelete
		for _, op := range ops {
			if op.Op != cavra.FileDelete {
				a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
			}
		}
		a.Files = ops
	default:
		server, tool, ok := hookio.SplitMCP(p.ToolName)
		if !ok {
			// A tool CAVRA does not know: the policy's unknown_tool setting judges it.
			a.Kind = "tool.call"
			return a, nil
		}
		var args map[string]any
		if err := json.Unmarshal(p.ToolInput, &args); err != nil {
			return a, fmt.Errorf("%s tool_input: %w", p.ToolName, err)
		}
		a.Kind = cavra.KindMCPCall
		a.MCP = &cavra.MCPCall{Server: server, Tool: tool, Method: "tools/call", Arguments: args}
	}
	return a, nil
}

func decodeCommand(p Payload) (string, error) {
	var in commandInput
	if err := json.Unmarshal(p.ToolInput, &in); err != nil {
		return "", fmt.Errorf("%s tool_input: %w", p.ToolName, err)
	}
	if len(in.Command) == 0 {
		return "", fmt.Errorf("%s tool_input has no command", p.ToolName)
	}
	line, err := in.line()
	if err != nil {
		return "", fmt.Errorf("%s %w", p.ToolName, err)
	}
	return line, nil
}

// Inspected is the text of a PostToolUse or UserPromptSubmit payload to scan for secrets.
func Inspected(p Payload) string {
	if p.HookEventName == EventUserPromptSubmit {
		return *p.Prompt
	}
	return hookio.Text(p.ToolResponse)
}

// Answer is the hook's stdout. Every field is one of Codex's output schema; empty fields are
// left out, so an allow is exactly {}.
type Answer struct {
	SystemMessage      string      `json:"systemMessage,omitempty"`
	Decision           string      `json:"decision,omitempty"`
	Reason             string      `json:"reason,omitempty"`
	HookSpecificOutput *HookOutput `json:"hookSpecificOutput,omitempty"`
}

// HookOutput is the event-specific part of the answer.
type HookOutput struct {
	HookEventName            string `json:"hookEventName"`
	PermissionDecision       string `json:"permissionDecision,omitempty"`
	PermissionDecisionReason string `json:"permissionDecisionReason,omitempty"`
	AdditionalContext        string `json:"additionalContext,omitempty"`
}

// ApprovalHelp tells the agent how to get approval, since a Codex hook cannot ask the user.
const ApprovalHelp = "Codex hooks cannot ask for approval, so CAVRA denied it: stop and ask the user to review this exact action; " +
	"the user can run it themselves, or run it through a host that can ask (Claude Code or Cursor), or change the CAVRA policy."

// Render maps a decision on a PreToolUse payload to Codex's answer. allow, audit_only and
// allow_with_attestation answer {} so Codex's own approval settings still apply; warn allows
// with a systemMessage; require_approval and block deny.
func Render(d cavra.Decision) Answer {
	switch d.Outcome {
	case cavra.Allow, cavra.AuditOnly, cavra.AllowWithAttestation:
		if w := hookio.LowerWarnings(d); w != "" {
			return Answer{SystemMessage: w}
		}
		return Answer{}
	case cavra.Warn:
		return Answer{SystemMessage: "CAVRA warning: " + claudecode.Reason(d)}
	case cavra.RequireApproval:
		return deny(claudecode.Reason(d) + " " + ApprovalHelp)
	default:
		return deny(claudecode.Reason(d))
	}
}

func deny(reason string) Answer {
	return Answer{HookSpecificOutput: &HookOutput{HookEventName: EventPreToolUse, PermissionDecision: "deny", PermissionDecisionReason: reason}}
}

// RenderFindings answers a PostToolUse or UserPromptSubmit payload. No findings: {}. Secrets in
// a prompt block it, so that they never reach the model; secrets in a tool's output block with
// a reason that tells the model not to repeat or use them (Codex cannot replace the output of
// non-MCP tools).
func RenderFindings(p Payload, findings string) Answer {
	if findings == "" {
		return Answer{}
	}
	if p.HookEventName == EventUserPromptSubmit {
		return Answer{Decision: "block", Reason: "CAVRA blocked this prompt: " + findings + " Remove the secret and send the prompt again."}
	}
	return Answer{Decision: "block", Reason: "CAVRA: the output of " + p.ToolName + " holds " + findings +
		" Do not repeat, store or use these values; tell the user to rotate them."}
}
