// Package gemini speaks Gemini CLI's hook protocol (settings.json "hooks"): BeforeTool payloads
// become canonical actions and decisions become {"decision":"allow|deny","reason":...};
// AfterTool and BeforeAgent payloads yield the text to scan for secrets, and an AfterTool answer
// can replace the tool's output with a redacted copy.
package gemini

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// Host is the source host name of actions from Gemini CLI.
const Host = "gemini"

// The events this adapter answers.
const (
	EventBeforeTool  = "BeforeTool"
	EventAfterTool   = "AfterTool"
	EventBeforeAgent = "BeforeAgent"
)

// MCPContext identifies the MCP server of an MCP tool call.
type MCPContext struct {
	ServerName string   `json:"server_name"`
	ToolName   string   `json:"tool_name"`
	Command    string   `json:"command"`
	Args       []string `json:"args"`
	URL        string   `json:"url"`
}

// Payload is what Gemini CLI writes to a hook's stdin.
type Payload struct {
	SessionID      string          `json:"session_id"`
	TranscriptPath string          `json:"transcript_path"`
	Cwd            string          `json:"cwd"`
	HookEventName  string          `json:"hook_event_name"`
	Timestamp      string          `json:"timestamp"`
	ToolName       string          `json:"tool_name"`
	ToolInput      json.RawMessage `json:"tool_input"`
	ToolResponse   json.RawMessage `json:"tool_response"`
	MCPContext     *MCPContext     `json:"mcp_context"`
	Prompt         *string         `json:"prompt"`
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
	case EventBeforeTool, EventAfterTool:
		if err := hookio.CheckToolCall(p.ToolName, p.ToolInput); err != nil {
			return p, err
		}
	case EventBeforeAgent:
		if p.Prompt == nil {
			return p, fmt.Errorf("BeforeAgent payload has no prompt")
		}
	default:
		return p, fmt.Errorf("hook event %q is not handled: configure cavra for BeforeTool, AfterTool and BeforeAgent", p.HookEventName)
	}
	return p, nil
}

// toolInput is the union of the built-in tools' arguments CAVRA reads. Gemini CLI has renamed
// some of them across releases (absolute_path -> file_path, path -> dir_path); both are read.
type toolInput struct {
	Command      *string  `json:"command"`
	DirPath      string   `json:"dir_path"`
	Directory    string   `json:"directory"`
	FilePath     string   `json:"file_path"`
	AbsolutePath string   `json:"absolute_path"`
	Path         string   `json:"path"`
	Content      *string  `json:"content"`
	NewString    *string  `json:"new_string"`
	Paths        []string `json:"paths"`
	Include      []string `json:"include"`
	Prompt       string   `json:"prompt"`
	URL          string   `json:"url"`
	Query        string   `json:"query"`
}

func (in toolInput) file() string { return hookio.FirstNonEmpty(in.FilePath, in.AbsolutePath, in.Path) }
func (in toolInput) dir() string  { return hookio.FirstNonEmpty(in.DirPath, in.Directory, in.Path) }

// harmlessTools act only on the conversation or the agent's own plan.
var harmlessTools = map[string]bool{"write_todos": true, "save_memory": true, "activate_skill": true, "complete_task": true, "ask_user": true}

// urlPattern is compiled on first use: every hook process links this package, few need it.
var urlPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`https?://[^\s"'<>]+`) })

// ToAction maps a BeforeTool payload to a canonical action.
func ToAction(p Payload) (cavra.Action, error) {
	a := cavra.Action{
		Version: cavra.TaxonomyVersion,
		Cwd:     p.Cwd,
		Source:  cavra.Source{Host: Host, Tool: p.ToolName, Event: p.HookEventName, SessionID: p.SessionID},
	}
	if p.HookEventName != EventBeforeTool {
		return a, fmt.Errorf("only BeforeTool payloads are decisions, not %s", p.HookEventName)
	}
	if server, tool, ok := p.mcpNames(); ok {
		var args map[string]any
		if err := json.Unmarshal(p.ToolInput, &args); err != nil {
			return a, fmt.Errorf("%s tool_input: %w", p.ToolName, err)
		}
		a.Kind = cavra.KindMCPCall
		a.MCP = &cavra.MCPCall{Server: server, Tool: tool, Method: "tools/call", Arguments: args}
		return a, nil
	}
	var in toolInput
	if err := json.Unmarshal(p.ToolInput, &in); err != nil {
		return a, fmt.Errorf("%s tool_input: %w", p.ToolName, err)
	}
	switch p.ToolName {
	case "run_shell_command":
		if in.Command == nil {
			return a, fmt.Errorf("run_shell_command tool_input has no command")
		}
		if d := in.dir(); d != "" {
			if filepath.IsAbs(d) {
				a.Cwd = filepath.Clean(d)
			} else if a.Cwd != "" {
				a.Cwd = filepath.Join(a.Cwd, d)
			}
		}
		a.Kind, a.Effect = cavra.KindCommandExec, cavra.EffectExecute
		a.Command = &cavra.Command{Line: *in.Command}
	case "write_file":
		if in.file() == "" {
			return a, fmt.Errorf("write_file tool_input has no file_path")
		}
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: in.file(), Content: hookio.Deref(in.Content)}}
	case "replace", "edit":
		if in.file() == "" {
			return a, fmt.Errorf("%s tool_input has no file_path", p.ToolName)
		}
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: in.file(), Content: hookio.Deref(in.NewString)}}
	case "read_file":
		if in.file() == "" {
			return a, fmt.Errorf("read_file tool_input has no file_path")
		}
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: in.file()}}
	case "read_many_files":
		paths := append(append([]string{}, in.Paths...), in.Include...)
		if len(paths) == 0 {
			return a, fmt.Errorf("read_many_files tool_input has no paths")
		}
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		for _, path := range paths {
			if path == "" {
				return a, fmt.Errorf("read_many_files tool_input has an empty path")
			}
			a.Files = append(a.Files, cavra.FileOp{Op: cavra.FileRead, Path: path})
		}
	case "list_directory", "glob", "search_file_content", "grep_search", "grep":
		dir := in.dir()
		if dir == "" {
			dir = p.Cwd
		}
		if dir == "" {
			return a, fmt.Errorf("%s tool_input has no directory and the payload no cwd", p.ToolName)
		}
		a.Kind, a.Effect = cavra.KindFileRead, cavra.EffectRead
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: dir}}
	case "web_fetch":
		urls := urlPattern().FindAllString(in.Prompt, -1)
		if in.URL != "" {
			urls = append([]string{in.URL}, urls...)
		}
		if len(urls) == 0 {
			// Nothing to judge the fetch by: the unknown-tool setting decides.
			a.Kind = "tool.call"
			return a, nil
		}
		a.Kind, a.Effect = cavra.KindNetworkFetch, cavra.EffectRead
		for _, u := range urls {
			a.Network = append(a.Network, cavra.NetworkRequest{URL: u, Method: "GET"})
		}
	case "google_web_search":
		a.Kind, a.Effect = "network.search", cavra.EffectRead
		a.Attributes = map[string]any{"query": in.Query}
	default:
		if harmlessTools[p.ToolName] {
			a.Kind = "agent.tool"
			return a, nil
		}
		a.Kind = "tool.call"
	}
	return a, nil
}

// mcpNames prefers mcp_context, which Gemini CLI sends for MCP tools, over the tool name.
func (p Payload) mcpNames() (server, tool string, ok bool) {
	if c := p.MCPContext; c != nil && c.ServerName != "" {
		tool = c.ToolName
		if tool == "" {
			_, tool, _ = hookio.SplitMCP(p.ToolName)
		}
		if tool == "" {
			tool = p.ToolName
		}
		return c.ServerName, tool, true
	}
	return hookio.SplitMCP(p.ToolName)
}

// Inspected is the text of an AfterTool or BeforeAgent payload to scan for secrets.
func Inspected(p Payload) string {
	if p.HookEventName == EventBeforeAgent {
		return *p.Prompt
	}
	return hookio.Text(p.ToolResponse)
}

// Answer is the hook's stdout.
type Answer struct {
	Decision           string      `json:"decision,omitempty"`
	Reason             string      `json:"reason,omitempty"`
	SystemMessage      string      `json:"systemMessage,omitempty"`
	HookSpecificOutput *HookOutput `json:"hookSpecificOutput,omitempty"`
}

// HookOutput is the event-specific part of the answer.
type HookOutput struct {
	HookEventName     string `json:"hookEventName,omitempty"`
	AdditionalContext string `json:"additionalContext,omitempty"`
	// ToolOutput replaces an AfterTool result before the model sees it.
	ToolOutput *string `json:"tool_output,omitempty"`
}

// ApprovalHelp tells the agent how to get approval: a Gemini CLI hook cannot ask the user.
const ApprovalHelp = "Gemini CLI hooks cannot ask for approval, so CAVRA denied it: stop and ask the user to review this exact action and run it themselves, or change the CAVRA policy."

// Render maps a decision on a BeforeTool payload: allow, audit_only and allow_with_attestation
// allow; warn allows with a systemMessage; require_approval and block deny with the reason,
// which Gemini CLI sends to the model as the tool's error.
func Render(d cavra.Decision) Answer {
	switch d.Outcome {
	case cavra.Allow, cavra.AuditOnly, cavra.AllowWithAttestation:
		return Answer{Decision: "allow", SystemMessage: hookio.LowerWarnings(d)}
	case cavra.Warn:
		return Answer{Decision: "allow", SystemMessage: "CAVRA warning: " + claudecode.Reason(d)}
	case cavra.RequireApproval:
		return Answer{Decision: "deny", Reason: claudecode.Reason(d) + " " + ApprovalHelp}
	default:
		return Answer{Decision: "deny", Reason: claudecode.Reason(d)}
	}
}

// RenderFindings answers an AfterTool or BeforeAgent payload. No findings: {}. A prompt with a
// secret is denied (Gemini CLI then discards it); a tool output with a secret is replaced by
// redacted, the same text with the secret lines masked, and the user is told.
func RenderFindings(p Payload, findings, redacted string) Answer {
	if findings == "" {
		return Answer{}
	}
	if p.HookEventName == EventBeforeAgent {
		return Answer{Decision: "deny", Reason: "CAVRA blocked this prompt: " + findings + " Remove the secret and send the prompt again."}
	}
	note := "CAVRA redacted the output of " + p.ToolName + ": it held " + findings
	return Answer{SystemMessage: note, HookSpecificOutput: &HookOutput{
		HookEventName:     EventAfterTool,
		ToolOutput:        &redacted,
		AdditionalContext: note + " Do not try to recover these values; tell the user to rotate them.",
	}}
}
