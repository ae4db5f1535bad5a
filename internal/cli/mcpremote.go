package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/client"
	"github.com/cavra-dev/cavra/internal/hooklite"
	"github.com/cavra-dev/cavra/internal/mcpgw"
)

// mcpRemoteHelp ends the long help of the gateway commands.
const mcpRemoteHelp = `
With --server (or CAVRA_SERVER) and a token, each call is decided and recorded by the control
plane (` + "`cavra serve`" + `) instead of the local policy. A call that needs approval is refused with
the approval request's id; once an approver runs ` + "`cavra approvals approve ID`" + `, the identical
call retried goes through (once, or within the rule's approval_ttl). When the control plane cannot
be asked in time, the call is refused. Result records and pin blocks go to the local audit log;
pin blocks (a tool whose definition changed or looks poisoned) are also reported to the control
plane, which raises an mcp.tool_changed event.`

// addMCPRemoteFlags adds the remote-mode flags of the hooks, without --fail-open: an MCP client
// has no permission flow of its own to fall back on, so the gateway always fails closed.
func addMCPRemoteFlags(cmd *cobra.Command, f *remoteFlags) {
	addServerFlags(cmd, f, "ask the CAVRA control plane at this URL to decide each call instead of the local policy (env CAVRA_SERVER)",
		"how long to wait for --server before refusing the call (env CAVRA_TIMEOUT)")
}

// remoteMCPGovernor asks the control plane to decide each call. The control plane records the
// decision, and opens an approval request when one is needed, so that an approver's grant lets
// the identical retried call through. Record receives only the gateway's own decisions (pin
// blocks): they go to the local audit log, as do the result records, and are reported to the
// control plane, so that its evidence and events show a rug pull too.
type remoteMCPGovernor struct {
	c      *client.Client
	server string
	log    *evidence
	logger *slog.Logger
}

var _ mcpgw.SelfRecording = (*remoteMCPGovernor)(nil)

func newRemoteMCPGovernor(cfg hooklite.Config, name string, log *evidence, logger *slog.Logger) (*remoteMCPGovernor, error) {
	c, err := client.New(cfg.Server, cfg.Token, client.WithTimeout(cfg.Timeout), client.WithUserAgent("cavra-mcp/"+name))
	if err != nil {
		return nil, fmt.Errorf("CAVRA_SERVER: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &remoteMCPGovernor{c: c, server: c.BaseURL(), log: log, logger: logger}, nil
}

// Decide returns the control plane's decision; any failure to get one is an error, on which
// the gateway refuses the call.
func (g *remoteMCPGovernor) Decide(ctx context.Context, a cavra.Action) (cavra.Action, cavra.Decision, error) {
	d, err := g.c.Decide(ctx, a)
	if err != nil {
		return a, cavra.Decision{}, mcpRemoteFailure(g.server, err)
	}
	if !d.Outcome.Valid() {
		return a, cavra.Decision{}, cavra.Errorf(cavra.ErrInternal, "the CAVRA control plane at %s answered an unknown outcome %q", g.server, d.Outcome)
	}
	return a, d, nil
}

// Record appends a decision the gateway made itself to the local audit log and reports it to the
// control plane. The local record is the evidence the gateway depends on; a report that fails
// is only a warning, since the block has happened either way and nothing is let through by it.
func (g *remoteMCPGovernor) Record(ctx context.Context, a cavra.Action, d cavra.Decision) error {
	if err := g.log.RecordDecision(ctx, a, d); err != nil {
		return err
	}
	rec, err := g.c.Report(ctx, a, d)
	if err != nil {
		g.logger.Warn("mcp gateway: the control plane did not record the gateway's block; it is in the local audit log only",
			"control_plane", g.server, "rule", d.RuleID, "decision", d.ID, "err", err)
		return nil
	}
	g.logger.Debug("mcp gateway: block reported to the control plane", "control_plane", g.server, "decision", d.ID, "recorded_as", rec.ID)
	return nil
}

// DecideRecords tells the gateway that the control plane records every decision it makes.
func (g *remoteMCPGovernor) DecideRecords() bool { return true }

// mcpRemoteFailure says why the control plane gave no decision, in words the agent's user can
// act on; the gateway puts it in the error the MCP client gets.
func mcpRemoteFailure(server string, err error) error {
	switch cavra.Code(err) {
	case cavra.ErrUnauthorized, cavra.ErrForbidden:
		return fmt.Errorf("the CAVRA control plane at %s refused the token (check CAVRA_TOKEN): %w", server, err)
	case cavra.ErrInvalid, cavra.ErrConflict:
		return fmt.Errorf("the CAVRA control plane at %s rejected the action: %w", server, err)
	case cavra.ErrUnavailable:
		return fmt.Errorf("the CAVRA control plane at %s is unreachable: %w", server, err)
	}
	return fmt.Errorf("the CAVRA control plane at %s failed to answer: %w", server, err)
}
