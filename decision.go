package cavra

import (
	"fmt"
	"time"
)

// Outcome is what policy says about an action.
type Outcome string

// The six outcomes.
const (
	// Allow lets the action run.
	Allow Outcome = "allow"
	// Block refuses it.
	Block Outcome = "block"
	// RequireApproval holds it until a human approves this exact action.
	RequireApproval Outcome = "require_approval"
	// Warn lets it run and tells the agent why it is risky.
	Warn Outcome = "warn"
	// AuditOnly lets it run and records that a rule in audit mode matched.
	AuditOnly Outcome = "audit_only"
	// AllowWithAttestation lets it run and produces a signed attestation of the act.
	AllowWithAttestation Outcome = "allow_with_attestation"
)

// Outcomes lists every outcome, least restrictive first.
var Outcomes = []Outcome{Allow, AuditOnly, Warn, AllowWithAttestation, RequireApproval, Block}

// Rank orders outcomes by restrictiveness; when several rules match, the highest rank wins.
// An unknown outcome ranks above Block so that it can never be mistaken for permission.
func (o Outcome) Rank() int {
	for i, k := range Outcomes {
		if o == k {
			return i
		}
	}
	return len(Outcomes)
}

// Valid reports whether o is one of the six outcomes.
func (o Outcome) Valid() bool { return o.Rank() < len(Outcomes) }

// Permits reports whether the action may run now without a human.
func (o Outcome) Permits() bool {
	switch o {
	case Allow, Warn, AuditOnly, AllowWithAttestation:
		return true
	}
	return false
}

// ParseOutcome validates s.
func ParseOutcome(s string) (Outcome, error) {
	o := Outcome(s)
	if !o.Valid() {
		return "", fmt.Errorf("unknown outcome %q (want one of allow, block, require_approval, warn, audit_only, allow_with_attestation)", s)
	}
	return o, nil
}

// Severity grades a rule, a finding or an action's risk.
type Severity string

// Severities, least first.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

var severities = []Severity{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank orders severities; an empty severity ranks lowest.
func (s Severity) Rank() int {
	for i, k := range severities {
		if s == k {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether s is empty or a known severity.
func (s Severity) Valid() bool { return s == "" || s.Rank() > 0 }

// Decision is the answer for one action.
type Decision struct {
	ID       string   `json:"id,omitempty"`
	Outcome  Outcome  `json:"outcome"`
	RuleID   string   `json:"rule_id,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	// Reason says why, in words an agent can act on.
	Reason string `json:"reason"`
	// Remediation says how to proceed: the safe alternative, or how to get approval.
	Remediation string `json:"remediation,omitempty"`
	// Compliance lists framework control ids the deciding rule maps to ("owasp-agentic-top10-2026:ASI02").
	Compliance []string `json:"compliance,omitempty"`
	Policy     string   `json:"policy"`
	// PolicyRevision is the content address of the policy that decided ("sha256:...").
	PolicyRevision string `json:"policy_revision"`
	// Matches lists every rule that matched, most restrictive first; the first one decided.
	Matches     []Match   `json:"matches,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	DecidedAt   time.Time `json:"decided_at"`
	// ApprovalTTL is how long a granted approval of this action lasts, when the rule sets one.
	ApprovalTTL Duration `json:"approval_ttl,omitempty"`
	// Approvers is how many distinct people must grant a require_approval decision, when the
	// rule asks for more than one.
	Approvers int `json:"approvers,omitempty"`
	// ApprovalID names the approval this decision requested (require_approval) or was let
	// through by (a granted approval of the same action).
	ApprovalID string `json:"approval_id,omitempty"`
}

// Match is one rule that matched an action, with what it matched.
type Match struct {
	RuleID      string   `json:"rule_id"`
	Outcome     Outcome  `json:"outcome"`
	Severity    Severity `json:"severity,omitempty"`
	Message     string   `json:"message"`
	Remediation string   `json:"remediation,omitempty"`
	Compliance  []string `json:"compliance,omitempty"`
	// Subject says what matched: "command", "file", "git", "mcp", "network", "content", "action".
	Subject string `json:"subject,omitempty"`
	// Text is the matched span of the command line or the matched path or value.
	Text string `json:"text,omitempty"`
	// Span locates Text in the command line, when the subject is a command.
	Span *Span `json:"span,omitempty"`
}

// Duration is a time.Duration that reads and writes as Go duration text ("15m").
type Duration time.Duration

// MarshalText writes the duration as text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
