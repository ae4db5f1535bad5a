package cavra

import (
	"context"
	"encoding/json"
	"time"
)

// EventType names what happened, "noun.verb".
type EventType string

// The events the control plane publishes.
const (
	EventDecisionMade       EventType = "decision.made"
	EventApprovalRequested  EventType = "approval.requested"
	EventApprovalGranted    EventType = "approval.granted"
	EventApprovalDenied     EventType = "approval.denied"
	EventApprovalExpired    EventType = "approval.expired"
	EventBreakGlassUsed     EventType = "break_glass.used"
	EventCheckpointSigned   EventType = "checkpoint.signed"
	EventScanCompleted      EventType = "scan.completed"
	EventToolDefinitionDiff EventType = "mcp.tool_changed"
)

// Event is one fact published for connectors, monitors and the console. ID is unique per fact,
// so a consumer (and the bus) can drop a duplicate delivery.
type Event struct {
	ID        string          `json:"id"`
	Type      EventType       `json:"type"`
	Tenant    string          `json:"tenant"`
	Workspace string          `json:"workspace,omitempty"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Publisher sends events.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}
