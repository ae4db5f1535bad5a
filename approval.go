package cavra

import (
	"context"
	"time"
)

// ApprovalState is where an approval request stands.
type ApprovalState string

// Approval states. Pending moves to exactly one of the others; Granted may further become
// Used (a single-use grant consumed by its action) or Expired (its TTL ran out).
const (
	ApprovalPending ApprovalState = "pending"
	ApprovalGranted ApprovalState = "granted"
	ApprovalDenied  ApprovalState = "denied"
	ApprovalExpired ApprovalState = "expired"
	ApprovalUsed    ApprovalState = "used"
)

// Valid reports whether s is a known state.
func (s ApprovalState) Valid() bool {
	switch s {
	case ApprovalPending, ApprovalGranted, ApprovalDenied, ApprovalExpired, ApprovalUsed:
		return true
	}
	return false
}

// Approval is a human's answer to a require_approval decision. It is bound to the action's
// fingerprint (who asks, what, where): a grant lets that same action through, never another.
type Approval struct {
	ID        string        `json:"id"`
	Tenant    string        `json:"tenant"`
	Workspace string        `json:"workspace"`
	State     ApprovalState `json:"state"`
	// Fingerprint is Action.Fingerprint() of the action the request is for.
	Fingerprint string `json:"fingerprint"`
	// Action and DecisionID are what was asked and the require_approval decision that asked.
	Action     Action `json:"action"`
	DecisionID string `json:"decision_id"`
	RuleID     string `json:"rule_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Requester is the principal the action is for; Caller is the token's principal that sent
	// it, when different. Neither may approve the request.
	Requester string `json:"requester"`
	Caller    string `json:"caller,omitempty"`
	// Required is how many distinct approvers must grant; at least 1.
	Required int    `json:"required"`
	Votes    []Vote `json:"votes,omitempty"`
	// TTL is how long a grant lasts once given; zero means single use: the grant lets the
	// action through once and is then Used.
	TTL Duration `json:"ttl,omitempty"`
	// BreakGlass marks a time-boxed self-grant made without approvers, with a justification.
	BreakGlass    bool   `json:"break_glass,omitempty"`
	Justification string `json:"justification,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt ends a pending request, or a granted TTL; the server enforces it.
	ExpiresAt time.Time `json:"expires_at"`
	// DecidedAt is when the request was granted, denied or expired.
	DecidedAt time.Time `json:"decided_at,omitzero"`
	// UsedBy is the decision that consumed a single-use grant.
	UsedBy    string    `json:"used_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Vote is one approver's answer.
type Vote struct {
	Principal string    `json:"principal"`
	Granted   bool      `json:"granted"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// ApprovalQuery filters approvals. Zero fields do not filter.
type ApprovalQuery struct {
	State       ApprovalState
	Fingerprint string
	Workspace   string
	// ExpiresBefore selects approvals whose ExpiresAt is before it (the expiry sweep).
	ExpiresBefore time.Time
	// Limit caps the result; zero means 100.
	Limit int
}

// ApprovalEvidence is the body of an approval audit record: the approval after the change,
// and what changed.
type ApprovalEvidence struct {
	// Change is "requested", "vote", "granted", "denied", "expired", "used" or "break_glass".
	Change   string   `json:"change"`
	By       string   `json:"by,omitempty"`
	Approval Approval `json:"approval"`
}

// Approver decides on approval requests for the principal in ctx.
type Approver interface {
	Approve(ctx context.Context, id, reason string) (Approval, error)
	Deny(ctx context.Context, id, reason string) (Approval, error)
	BreakGlass(ctx context.Context, id, justification string, ttl time.Duration) (Approval, error)
}
