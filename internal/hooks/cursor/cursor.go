// Package cursor speaks Cursor's agent hook protocol (.cursor/hooks.json): beforeShellExecution,
// beforeMCPExecution and beforeReadFile payloads become canonical actions and decisions become
// {permission, user_message, agent_message}; afterShellExecution, afterMCPExecution and
// beforeSubmitPrompt yield the text to scan for secrets.
package cursor

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// Host is the source host name of actions from Cursor.
const Host = "cursor"

// The events this adapter answers.
const (
	EventBeforeShellExecution = "beforeShellExecution"
	EventBeforeMCPExecution   = "beforeMCPExecution"
	EventBeforeReadFile       = "beforeReadFile"
	EventAfterShellExecution  = "afterShellExecution"
	EventAfterMCPExecution    = "afterMCPExecution"
	EventBeforeSubmitPrompt   = "beforeSubmitPrompt"
)

// Payload is what Cursor writes to a hook's stdin: the common fields and those of each event.
type Payload struct {
	HookEventName  string   `json:"hook_event_name"`
	ConversationID string   `json:"conversation_id"`
	GenerationID   string   `json:"generation_id"`
	WorkspaceRoots []string `json:"workspace_roots"`
	Model          string   `json:"model"`
	CursorVersion  string   `json:"cursor_version"`
	UserEmail      string   `json:"user_email"`

	// Shell events.
	Command *string `json:"command"`
	Cwd     string  `json:"cwd"`
	Output  string  `json:"output"`
	// MCP events. tool_input is an object, or the object as a JSON string in some builds;
	// command (stdio) or url (HTTP) says which server.
	ToolName   string          `json:"tool_name"`
	ToolInput  json.RawMessage `json:"tool_input"`
	URL        string          `json:"url"`
	ResultJSON json.RawMessage `json:"result_json"`
	// beforeReadFile.
	FilePath string `json:"file_path"`
	Content  string `json:"content"`
	// beforeSubmitPrompt.
	Prompt *string `json:"prompt"`
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
	for _, r := range p.WorkspaceRoots {
		if !strings.HasPrefix(r, "/") {
			return p, fmt.Errorf("hook payload workspace root %q is not absolute", r)
		}
	}
	switch p.HookEventName {
	case "":
		return p, fmt.Errorf("hook payload has no hook_event_name")
	case EventBeforeShellExecution, EventAfterShellExecution:
		if p.Command == nil {
			return p, fmt.Errorf("%s payload has no command", p.HookEventName)
		}
	case EventBeforeMCPExecution, EventAfterMCPExecution:
		if p.ToolName == "" {
			return p, fmt.Errorf("%s payload has no tool_name", p.HookEventName)
		}
	case EventBeforeReadFile:
		if p.FilePath == "" {
			return p, fmt.Errorf("beforeReadFile payload has no file_path")
		}
	case EventBeforeSubmitPrompt:
		if p.Prompt == nil {
			return p, fmt.Errorf("beforeSubmitPrompt payload has no prompt")
		}
	default:
		return p, fmt.Errorf("hook event %q is not handled: configure cavra for %s, %s, %s, %s, %s and %s", p.HookEventName,
			EventBeforeShellExecution, EventBeforeMCPExecution, EventBeforeReadFile, EventAfterShellExecution, EventAfterMCPExecution, EventBeforeSubmitPrompt)
	}
	return p, nil
}

// IsDecision reports whether the payload asks for a decision on an action (the before* tool events).
func IsDecision(p Payload) bool {
	switch p.HookEventName {
	case EventBeforeShellExecution, EventBeforeMCPExecution, EventBeforeReadFile:
		return true
	}
	return false
}

func (p Payload) cwd() string {
	if p.Cwd != "" {
		return p.Cwd
	}
	if len(p.WorkspaceRoots) > 0 {
		return p.WorkspaceRoots[0]
	}
	return ""
}

// ToAction maps a before* payload to a canonical action.
func ToAction(p Payload) (cavra.Action, error) {
	a := cavra.Action{
		Version: cavra.TaxonomyVersion,
		Cwd:     p.cwd(),
		Source:  cavra.Source{Host: Host, Event: p.HookEventName, SessionID: p.ConversationID, ToolUseID: p.GenerationID},
	}
	switch p.HookEventName {
	case EventBeforeShellExecution:
		a.Source.Tool = "Shell"
		a.Kind, a.Effect = cavra.KindCommandExec, cavra.EffectExecute
		a.Command = &cavra.Command{Line: *p.Command}
	case EventBeforeReadFile:
		a.Source.Tool = "Read"
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: p.FilePath}}
	case EventBeforeMCPExecution:
		a.Source.Tool = p.ToolName
		args, err := mcpArguments(p.ToolInput)
		if err != nil {
			return a, fmt.Errorf("beforeMCPExecution tool_input: %w", err)
		}
		server, tool := p.mcpNames()
		a.Kind = cavra.KindMCPCall
		a.MCP = &cavra.MCPCall{Server: server, Tool: tool, Method: "tools/call", Arguments: args}
	default:
		return a, fmt.Errorf("%s payloads are not decisions", p.HookEventName)
	}
	return a, nil
}

// mcpNames finds the server and tool. Cursor names tools "MCP:server:tool" in newer builds and
// by the bare tool name in older ones, with the server's url or launch command beside it.
func (p Payload) mcpNames() (server, tool string) {
	if rest, ok := strings.CutPrefix(p.ToolName, "MCP:"); ok {
		if s, t, ok := strings.Cut(rest, ":"); ok && s != "" && t != "" {
			return s, t
		}
	}
	if s, t, ok := hookio.SplitMCP(p.ToolName); ok {
		return s, t
	}
	switch {
	case p.URL != "":
		if u, err := url.Parse(p.URL); err == nil && u.Host != "" {
			return u.Host, p.ToolName
		}
		return p.URL, p.ToolName
	case p.Command != nil && len(strings.Fields(*p.Command)) > 0:
		fields := strings.Fields(*p.Command)
		// "npx -y @scope/server" names the server by its package, not by npx.
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				return path.Base(f), p.ToolName
			}
		}
		return path.Base(fields[0]), p.ToolName
	}
	return "unknown", p.ToolName
}

// mcpArguments reads tool_input: an object, a JSON string holding an object, or absent.
func mcpArguments(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		raw = json.RawMessage(s)
	}
	var args map[string]any
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	return args, nil
}

// Inspected is the text of an after* or beforeSubmitPrompt payload to scan for secrets.
func Inspected(p Payload) string {
	switch p.HookEventName {
	case EventBeforeSubmitPrompt:
		return *p.Prompt
	case EventAfterShellExecution:
		return p.Output
	case EventAfterMCPExecution:
		var s string
		if err := json.Unmarshal(p.ResultJSON, &s); err == nil {
			// result_json is the MCP result serialised as a string: scan what it holds.
			return hookio.Text(json.RawMessage(s))
		}
		return hookio.Text(p.ResultJSON)
	}
	return ""
}

// Answer is the hook's stdout.
type Answer struct {
	Permission   string `json:"permission,omitempty"`
	UserMessage  string `json:"user_message,omitempty"`
	AgentMessage string `json:"agent_message,omitempty"`
	// Continue answers beforeSubmitPrompt.
	Continue *bool `json:"continue,omitempty"`
}

// ApprovalHelp tells the agent what to do when a read needs approval: Cursor's beforeReadFile
// answer has no "ask".
const ApprovalHelp = "Cursor cannot ask before a file read, so CAVRA denied it: ask the user to review this read and provide what is needed."

// Render maps a decision on a before* payload to Cursor's answer: allow, audit_only and
// allow_with_attestation allow; warn allows with messages; require_approval asks (deny for
// beforeReadFile, whose answer is allow or deny only); block denies.
func Render(p Payload, d cavra.Decision) Answer {
	reason := claudecode.Reason(d)
	read := p.HookEventName == EventBeforeReadFile
	switch d.Outcome {
	case cavra.Allow, cavra.AuditOnly, cavra.AllowWithAttestation:
		if w := hookio.LowerWarnings(d); w != "" && !read {
			return Answer{Permission: "allow", UserMessage: w, AgentMessage: w}
		}
		return Answer{Permission: "allow"}
	case cavra.Warn:
		if read {
			return Answer{Permission: "allow"}
		}
		return Answer{Permission: "allow", UserMessage: "CAVRA warning: " + reason, AgentMessage: "CAVRA warning: " + reason}
	case cavra.RequireApproval:
		if read {
			return Answer{Permission: "deny"}
		}
		return Answer{Permission: "ask", UserMessage: reason, AgentMessage: reason}
	default:
		if read {
			return Answer{Permission: "deny"}
		}
		return Answer{Permission: "deny", UserMessage: reason, AgentMessage: reason}
	}
}

// ReadDenialReason is what the stderr of a denied read says; beforeReadFile answers carry no
// message, so the reason is written to the hook's stderr for the Hooks output channel.
func ReadDenialReason(d cavra.Decision) string {
	if d.Outcome == cavra.RequireApproval {
		return claudecode.Reason(d) + " " + ApprovalHelp
	}
	return claudecode.Reason(d)
}

// RenderFindings answers an after* or beforeSubmitPrompt payload. A prompt with a secret is
// stopped (continue:false) with a message to the user; the after* events are observe-only in
// Cursor, so their answer is {} and the caller reports findings on stderr.
func RenderFindings(p Payload, findings string) Answer {
	if p.HookEventName != EventBeforeSubmitPrompt {
		return Answer{}
	}
	ok := findings == ""
	if ok {
		return Answer{Continue: &ok}
	}
	return Answer{Continue: &ok, UserMessage: "CAVRA blocked this prompt: " + findings + " Remove the secret and send the prompt again."}
}
