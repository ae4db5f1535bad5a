package govern

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cavra-dev/cavra"
)

// mcpBlock is what the MCP gateway reports when a pinned tool's definition changed.
func mcpBlock(kind cavra.Kind) (cavra.Action, cavra.Decision) {
	a := cavra.Action{Kind: kind, Effect: cavra.EffectRead, Principal: "mallory", Tenant: "other",
		Source: cavra.Source{Host: "mcp", Tool: "mcp__up__deploy", Event: "tools/list"},
		MCP:    &cavra.MCPCall{Server: "up", Tool: "deploy", Method: "tools/list"}}
	d := cavra.Decision{ID: "gateway-id", Outcome: cavra.Block, RuleID: "mcpgw.tool-definition-changed", Severity: cavra.SeverityHigh,
		Reason: `the definition of tool "deploy" changed since it was pinned`, Policy: "mcpgw", PolicyRevision: "sha256:forged",
		Fingerprint: "forged", ApprovalID: "ap-forged",
		Matches: []cavra.Match{{RuleID: "mcpgw.tool-definition-changed", Outcome: cavra.Block}}}
	return a, d
}

func TestReportRecordsGatewayBlock(t *testing.T) {
	tests := []struct {
		name        string
		kind        cavra.Kind
		rule        string
		toolChanged bool
	}{
		{name: "rug pull on list", kind: cavra.KindMCPList, rule: "mcpgw.tool-definition-changed", toolChanged: true},
		{name: "poisoned tool on call", kind: cavra.KindMCPCall, rule: "mcpgw.tool-poisoned", toolChanged: true},
		{name: "other gateway rule", kind: cavra.KindMCPCall, rule: "mcpgw.result"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a, d := mcpBlock(tc.kind)
			d.RuleID = tc.rule
			ctx := cavra.WithWorkspace(as("gw-agent"), "payments")
			got, err := f.svc.Report(ctx, a, d)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == "" || got.ID == d.ID {
				t.Errorf("id = %q, want a fresh server id", got.ID)
			}
			if got.Outcome != cavra.Block || got.RuleID != tc.rule || got.Reason != d.Reason || got.Severity != cavra.SeverityHigh {
				t.Errorf("decision = %+v", got)
			}
			if got.Policy != "mcpgw (reported by gw-agent)" || got.PolicyRevision != "" || got.ApprovalID != "" {
				t.Errorf("policy %q, revision %q, approval %q", got.Policy, got.PolicyRevision, got.ApprovalID)
			}
			if !got.DecidedAt.Equal(f.clock.Now()) {
				t.Errorf("decided at %v, want the server clock %v", got.DecidedAt, f.clock.Now())
			}
			rec, err := f.log.Store().Decision(ctx, got.ID)
			if err != nil {
				t.Fatalf("reported decision not stored: %v", err)
			}
			if rec.Action.Principal != "gw-agent" || rec.Action.Tenant != cavra.TenantFrom(ctx) || rec.Workspace != "payments" {
				t.Errorf("stored action principal %q tenant %q workspace %q", rec.Action.Principal, rec.Action.Tenant, rec.Workspace)
			}
			if got.Fingerprint != rec.Action.Fingerprint() {
				t.Errorf("fingerprint %q, want the server's %q", got.Fingerprint, rec.Action.Fingerprint())
			}
			f.svc.Close()
			f.verifyLog(t)

			var made, changed []cavra.Event
			for _, e := range f.events.events {
				switch e.Type {
				case cavra.EventDecisionMade:
					made = append(made, e)
				case cavra.EventToolDefinitionDiff:
					changed = append(changed, e)
				}
			}
			if len(made) != 1 {
				t.Fatalf("decision.made events = %d, want 1", len(made))
			}
			var dm decisionEvent
			if err := json.Unmarshal(made[0].Data, &dm); err != nil || dm.DecisionID != got.ID || dm.Outcome != cavra.Block || dm.Principal != "gw-agent" {
				t.Errorf("decision.made = %s (%v)", made[0].Data, err)
			}
			if !tc.toolChanged {
				if len(changed) != 0 {
					t.Fatalf("mcp.tool_changed raised for rule %s", tc.rule)
				}
				return
			}
			if len(changed) != 1 {
				t.Fatalf("mcp.tool_changed events = %d, want 1", len(changed))
			}
			if changed[0].Workspace != "payments" {
				t.Errorf("event workspace %q", changed[0].Workspace)
			}
			var tcEv map[string]any
			if err := json.Unmarshal(changed[0].Data, &tcEv); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"server": "up", "tool": "deploy", "kind": string(tc.kind), "rule_id": tc.rule,
				"reason": d.Reason, "decision_id": got.ID, "principal": "gw-agent"}
			for k, v := range want {
				if tcEv[k] != v {
					t.Errorf("mcp.tool_changed %s = %v, want %v", k, tcEv[k], v)
				}
			}
		})
	}
}

func TestReportRefusesAnythingButAGatewayBlock(t *testing.T) {
	tests := []struct {
		name   string
		ctx    context.Context
		modify func(a *cavra.Action, d *cavra.Decision)
		code   cavra.ErrorCode
	}{
		{name: "allow", modify: func(_ *cavra.Action, d *cavra.Decision) { d.Outcome = cavra.Allow }},
		{name: "require approval", modify: func(_ *cavra.Action, d *cavra.Decision) { d.Outcome = cavra.RequireApproval }},
		{name: "warn", modify: func(_ *cavra.Action, d *cavra.Decision) { d.Outcome = cavra.Warn }},
		{name: "no outcome", modify: func(_ *cavra.Action, d *cavra.Decision) { d.Outcome = "" }},
		{name: "policy rule", modify: func(_ *cavra.Action, d *cavra.Decision) { d.RuleID = "deploy.prod" }},
		{name: "rule prefix only", modify: func(_ *cavra.Action, d *cavra.Decision) { d.RuleID = "mcpgw." }},
		{name: "no rule", modify: func(_ *cavra.Action, d *cavra.Decision) { d.RuleID = "" }},
		{name: "command kind", modify: func(a *cavra.Action, _ *cavra.Decision) {
			a.Kind, a.Command = cavra.KindCommandExec, &cavra.Command{Line: "mkfs /dev/sda"}
		}},
		{name: "resource read kind", modify: func(a *cavra.Action, _ *cavra.Decision) { a.Kind = cavra.KindFileRead }},
		{name: "no mcp", modify: func(a *cavra.Action, _ *cavra.Decision) { a.MCP = nil }},
		{name: "no tool", modify: func(a *cavra.Action, _ *cavra.Decision) { a.MCP.Tool = "" }},
		{name: "bad severity", modify: func(_ *cavra.Action, d *cavra.Decision) { d.Severity = "dire" }},
		{name: "blank reason", modify: func(_ *cavra.Action, d *cavra.Decision) { d.Reason = "  " }},
		{name: "bad effect", modify: func(a *cavra.Action, _ *cavra.Decision) { a.Effect = "explode" }},
		{name: "no principal", ctx: context.Background(), modify: func(*cavra.Action, *cavra.Decision) {}, code: cavra.ErrUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a, d := mcpBlock(cavra.KindMCPList)
			tc.modify(&a, &d)
			ctx := tc.ctx
			if ctx == nil {
				ctx = as("gw-agent")
			}
			want := tc.code
			if want == "" {
				want = cavra.ErrInvalid
			}
			got, err := f.svc.Report(ctx, a, d)
			if cavra.Code(err) != want {
				t.Fatalf("Report = %+v, %v; want a %s error", got, err, want)
			}
			if got.Outcome != "" || got.ID != "" {
				t.Errorf("a refused report answered a decision: %+v", got)
			}
			head, err := f.log.Store().AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if head.Size != 0 {
				t.Errorf("a refused report was recorded: log size %d", head.Size)
			}
			f.svc.Close()
			if n := len(f.events.types()); n != 0 {
				t.Errorf("a refused report raised %d events: %v", n, f.events.types())
			}
		})
	}
}
