package govern

import (
	"context"
	"fmt"
	"strings"

	"github.com/cavra-dev/cavra"
)

// Rule-id prefixes of decisions an adapter may report. They are the MCP gateway's own rule ids
// (mcpgw.RuleRugPull "mcpgw.tool-definition-changed", mcpgw.RulePoisoned "mcpgw.tool-poisoned"),
// matched by prefix because the use case does not import an adapter.
const (
	ReportedRulePrefix       = "mcpgw."
	ToolDefinitionRulePrefix = "mcpgw.tool-"
	// reportedPolicyPrefix starts the Policy of a reported decision, which tells it from one
	// the engine made.
	reportedPolicyPrefix = "mcpgw (reported by "
)

// toolChangedEvent is the data of mcp.tool_changed: which tool of which server the gateway
// blocked because its definition changed since it was pinned or looks poisoned.
type toolChangedEvent struct {
	Server     string     `json:"server"`
	Tool       string     `json:"tool"`
	Kind       cavra.Kind `json:"kind"`
	RuleID     string     `json:"rule_id"`
	Reason     string     `json:"reason"`
	DecisionID string     `json:"decision_id"`
	Principal  string     `json:"principal"`
}

// Report records a decision an adapter made itself rather than the policy engine: today the
// MCP gateway's block of a tool whose definition changed or looks poisoned. Only blocks of
// mcp.list and mcp.call actions under an "mcpgw." rule are accepted, so a report can never let
// anything through. The principal is the caller's, the id and time the server's; the decision
// is appended to the audit log and announced as decision.made, and a tool-definition block
// also as mcp.tool_changed.
func (s *Service) Report(ctx context.Context, a cavra.Action, d cavra.Decision) (cavra.Decision, error) {
	p, ok := cavra.PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		return cavra.Decision{}, cavra.Errorf(cavra.ErrUnauthorized, "report decision: no principal")
	}
	if err := checkReport(a, d); err != nil {
		return cavra.Decision{}, err
	}
	// Who reported it is the token's business, not the body's.
	a.Principal = p.ID
	a.Tenant = cavra.TenantFrom(ctx)
	if a.Workspace == "" {
		a.Workspace = cavra.WorkspaceFrom(ctx)
	}
	ctx = cavra.WithWorkspace(ctx, a.Workspace)
	normalized, err := s.cfg.Engine.Normalize(a)
	if err != nil {
		return cavra.Decision{}, cavra.Errorf(cavra.ErrInvalid, "report decision: normalise action: %w", err)
	}
	rec := cavra.Decision{
		ID:          s.cfg.NewID(),
		Outcome:     cavra.Block,
		RuleID:      d.RuleID,
		Severity:    d.Severity,
		Reason:      d.Reason,
		Remediation: d.Remediation,
		Compliance:  d.Compliance,
		Policy:      reportedPolicyPrefix + p.ID + ")",
		Matches:     d.Matches,
		Fingerprint: normalized.Fingerprint(),
		DecidedAt:   s.cfg.Clock().UTC(),
	}
	entry, err := s.cfg.Log.AppendDecision(ctx, normalized, rec)
	if err != nil {
		return cavra.Decision{}, fmt.Errorf("record reported decision: %w", err)
	}
	s.decided(ctx, normalized, rec, entry.Index) // decision.made, and mcp.tool_changed for a tool-definition block
	return rec, nil
}

// checkReport refuses anything but a gateway-made block of an MCP tool.
func checkReport(a cavra.Action, d cavra.Decision) error {
	switch {
	case d.Outcome != cavra.Block:
		return cavra.Errorf(cavra.ErrInvalid, "report decision: outcome %q: only a block can be reported", d.Outcome)
	case a.Kind != cavra.KindMCPList && a.Kind != cavra.KindMCPCall:
		return cavra.Errorf(cavra.ErrInvalid, "report decision: kind %q: only %s and %s decisions can be reported", a.Kind, cavra.KindMCPList, cavra.KindMCPCall)
	case !strings.HasPrefix(d.RuleID, ReportedRulePrefix) || len(d.RuleID) == len(ReportedRulePrefix):
		return cavra.Errorf(cavra.ErrInvalid, "report decision: rule %q: only the MCP gateway's own rules (%s*) can be reported", d.RuleID, ReportedRulePrefix)
	case a.MCP == nil || a.MCP.Server == "" || a.MCP.Tool == "":
		return cavra.Errorf(cavra.ErrInvalid, "report decision: the action needs mcp.server and mcp.tool")
	case !d.Severity.Valid():
		return cavra.Errorf(cavra.ErrInvalid, "report decision: unknown severity %q", d.Severity)
	case strings.TrimSpace(d.Reason) == "":
		return cavra.Errorf(cavra.ErrInvalid, "report decision: a reason is required")
	}
	return nil
}
