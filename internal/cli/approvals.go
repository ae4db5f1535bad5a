package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/client"
)

// serverFlags name the control plane a client command talks to; the token is resolved as the
// remote hooks resolve it (--token, --token-file, CAVRA_TOKEN, CAVRA_TOKEN_FILE).
type serverFlags struct {
	remote  remoteFlags
	timeout time.Duration
}

func (f *serverFlags) add(cmd *cobra.Command, rt *runtime) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.remote.server, "server", rt.getenv("CAVRA_SERVER"), "control plane URL (env CAVRA_SERVER), e.g. http://127.0.0.1:8080")
	// No default from the environment: help output would print the secret.
	fl.StringVar(&f.remote.token, "token", "", "API token (env CAVRA_TOKEN)")
	fl.StringVar(&f.remote.tokenFile, "token-file", "", "file holding the API token (env CAVRA_TOKEN_FILE)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "time limit of each request")
}

func (f *serverFlags) client(rt *runtime) (*client.Client, error) {
	if f.remote.server == "" {
		return nil, usageError("no control plane: set --server or CAVRA_SERVER")
	}
	token, err := resolveToken(rt, &f.remote)
	if err != nil {
		return nil, withExit(exitUsage, err)
	}
	c, err := client.New(f.remote.server, token, client.WithTimeout(f.timeout))
	if err != nil {
		return nil, withExit(exitUsage, err)
	}
	return c, nil
}

// apiError maps a control-plane refusal to the CLI's exit codes: "no" (forbidden, conflict,
// not found) is 1, everything else (unreachable, bad input, bad token) is 2.
func apiError(err error) error {
	switch cavra.Code(err) {
	case cavra.ErrForbidden, cavra.ErrConflict, cavra.ErrNotFound:
		return withExit(exitFailure, err)
	}
	return withExit(exitUsage, err)
}

func newApprovalsCmd(rt *runtime) *cobra.Command {
	var flags serverFlags
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "List and answer approval requests on the control plane",
		Long: `A require_approval decision made by ` + "`cavra serve`" + ` opens an approval request bound to that exact
action. Approvers answer it here; once granted, the agent's retry of the same action is allowed
(once, or within the rule's approval_ttl). The requester cannot approve their own request but
may break the glass: a time-boxed self-grant with a justification, flagged in the evidence.`,
	}
	flags.add(cmd, rt)
	var state string
	list := &cobra.Command{
		Use:   "list",
		Short: "List approvals (default: pending)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(rt)
			if err != nil {
				return err
			}
			aps, err := c.Approvals(cmd.Context(), cavra.ApprovalState(state))
			if err != nil {
				return apiError(err)
			}
			w := tabwriter.NewWriter(rt.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSTATE\tREQUESTER\tRULE\tVOTES\tEXPIRES\tACTION")
			for _, ap := range aps {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", ap.ID, ap.State, ap.Requester, ap.RuleID,
					granted(ap), ap.Required, ap.ExpiresAt.Local().Format(time.DateTime), describeAction(ap.Action))
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&state, "state", string(cavra.ApprovalPending), "pending, granted, denied, expired, used, or empty for all")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Print one approval as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client(rt)
			if err != nil {
				return err
			}
			ap, err := c.Approval(cmd.Context(), args[0])
			if err != nil {
				return apiError(err)
			}
			return printJSON(rt, ap)
		},
	}
	var reason string
	approve := &cobra.Command{
		Use:   "approve ID [--reason TEXT]",
		Short: "Grant a request (a rule may need more than one approver)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client(rt)
			if err != nil {
				return err
			}
			ap, err := c.Approve(cmd.Context(), args[0], reason)
			if err != nil {
				return apiError(err)
			}
			_, err = fmt.Fprintf(rt.stdout, "approval %s: %s (%d of %d approvers)\n", ap.ID, ap.State, granted(ap), ap.Required)
			return err
		},
	}
	approve.Flags().StringVar(&reason, "reason", "", "why")
	var denyReason string
	deny := &cobra.Command{
		Use:   "deny ID --reason TEXT",
		Short: "Refuse a request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(denyReason) == "" {
				return usageError("--reason is required")
			}
			c, err := flags.client(rt)
			if err != nil {
				return err
			}
			ap, err := c.Deny(cmd.Context(), args[0], denyReason)
			if err != nil {
				return apiError(err)
			}
			_, err = fmt.Fprintf(rt.stdout, "approval %s: %s\n", ap.ID, ap.State)
			return err
		},
	}
	deny.Flags().StringVar(&denyReason, "reason", "", "why (required)")
	var (
		justification string
		ttl           time.Duration
	)
	breakGlass := &cobra.Command{
		Use:   "break-glass ID --justification TEXT [--ttl 30m]",
		Short: "Self-grant your own request for a short time, with a justification (alerts are raised)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client(rt)
			if err != nil {
				return err
			}
			ap, err := c.BreakGlass(cmd.Context(), args[0], justification, ttl)
			if err != nil {
				return apiError(err)
			}
			_, err = fmt.Fprintf(rt.stdout, "approval %s: break-glass grant until %s; this is flagged in the evidence and announced\n",
				ap.ID, ap.ExpiresAt.Local().Format(time.DateTime))
			return err
		},
	}
	breakGlass.Flags().StringVar(&justification, "justification", "", "why the normal approval cannot wait (required)")
	breakGlass.Flags().DurationVar(&ttl, "ttl", 0, "how long the grant lasts (default 1h, at most the server's cap)")
	cmd.AddCommand(list, show, approve, deny, breakGlass)
	return cmd
}

func granted(ap cavra.Approval) int {
	n := 0
	for _, v := range ap.Votes {
		if v.Granted {
			n++
		}
	}
	return n
}

// describeAction is a one-line summary of what an approval is for.
func describeAction(a cavra.Action) string {
	switch {
	case a.Command != nil:
		return a.Command.Line
	case a.MCP != nil:
		return "mcp " + a.MCP.Server + "/" + a.MCP.Tool
	case len(a.Files) > 0:
		return string(a.Kind) + " " + a.Files[0].Path
	case len(a.Git) > 0:
		return "git " + a.Git[0].Subcommand + " " + strings.Join(a.Git[0].Refs, " ")
	}
	return string(a.Kind)
}

func printJSON(rt *runtime, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(rt.stdout, "%s\n", b)
	return err
}
