package hooklite

import (
	"encoding/json"

	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/codex"
	"github.com/cavra-dev/cavra/internal/hooks/cursor"
	"github.com/cavra-dev/cavra/internal/hooks/gemini"
)

// ServerAnswers reports whether the control plane decides this event of host: a tool about to
// run. The other events (a tool's output, a prompt) are content checks for secrets that the
// local hook answers in remote mode too, as it does in local mode. An empty event (a payload
// that does not say) goes to the server, which judges the payload.
func ServerAnswers(host, event string) bool {
	if event == "" {
		return true
	}
	switch host {
	case claudecode.Host:
		return event == claudecode.EventPreToolUse
	case codex.Host:
		return event == codex.EventPreToolUse
	case cursor.Host:
		return cursor.IsDecision(cursor.Payload{HookEventName: event})
	case gemini.Host:
		return event == gemini.EventBeforeTool
	}
	return true
}

// EventOf peeks at a hook payload's hook_event_name; "" when it has none or is not JSON.
func EventOf(data []byte) string {
	var p struct {
		HookEventName string `json:"hook_event_name"`
	}
	if json.Unmarshal(data, &p) != nil {
		return ""
	}
	return p.HookEventName
}
