package claudecode

import (
	"bytes"
	"fmt"

	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// The events whose text CAVRA scans for secrets.
const (
	EventPostToolUse      = "PostToolUse"
	EventUserPromptSubmit = "UserPromptSubmit"
)

// ParseContent decodes and checks a PostToolUse or UserPromptSubmit payload. PreToolUse
// payloads go through Parse; the two are separate commands so that the decision path stays
// exactly as it is.
func ParseContent(data []byte) (Payload, error) {
	var p Payload
	if len(bytes.TrimSpace(data)) == 0 {
		return p, fmt.Errorf("empty hook payload on stdin")
	}
	if err := hookio.DecodeObject(data, &p); err != nil {
		return p, err
	}
	if err := hookio.CheckCwd(p.Cwd); err != nil {
		return p, err
	}
	switch p.HookEventName {
	case "":
		return p, fmt.Errorf("hook payload has no hook_event_name")
	case EventPostToolUse:
		if p.ToolName == "" {
			return p, fmt.Errorf("hook payload has no tool_name")
		}
	case EventUserPromptSubmit:
		if p.Prompt == nil {
			return p, fmt.Errorf("UserPromptSubmit payload has no prompt")
		}
	default:
		return p, fmt.Errorf("hook event %q is not handled here: configure `cavra hook claude-code-scan` for PostToolUse and UserPromptSubmit", p.HookEventName)
	}
	return p, nil
}

// Inspected is the text of a PostToolUse or UserPromptSubmit payload to scan for secrets.
func Inspected(p Payload) string {
	if p.HookEventName == EventUserPromptSubmit {
		if p.Prompt == nil {
			return ""
		}
		return *p.Prompt
	}
	return hookio.Text(p.ToolResponse)
}

// ContentAnswer is the answer to a PostToolUse or UserPromptSubmit payload.
type ContentAnswer struct {
	Decision           string         `json:"decision,omitempty"`
	Reason             string         `json:"reason,omitempty"`
	HookSpecificOutput *ContentOutput `json:"hookSpecificOutput,omitempty"`
}

// ContentOutput is the event-specific part of a ContentAnswer.
type ContentOutput struct {
	HookEventName     string `json:"hookEventName"`
	AdditionalContext string `json:"additionalContext,omitempty"`
}

// RenderFindings answers a PostToolUse or UserPromptSubmit payload. No findings: {}. A prompt
// holding a secret is blocked, which keeps it from the model and erases it from the context;
// a tool output holding one is answered "block" with the reason, which Claude Code feeds to the
// model, since the tool has already run and only MCP tool output could be replaced.
func RenderFindings(p Payload, findings string) ContentAnswer {
	if findings == "" {
		return ContentAnswer{}
	}
	if p.HookEventName == EventUserPromptSubmit {
		return ContentAnswer{Decision: "block", Reason: "CAVRA blocked this prompt: " + findings + " Remove the secret and send the prompt again."}
	}
	note := "CAVRA: the output of " + p.ToolName + " holds " + findings + " Do not repeat, store or use these values; tell the user to rotate them."
	return ContentAnswer{Decision: "block", Reason: note, HookSpecificOutput: &ContentOutput{HookEventName: EventPostToolUse, AdditionalContext: note}}
}
