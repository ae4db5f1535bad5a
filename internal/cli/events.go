package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/bus"
)

func newEventsCmd(rt *runtime) *cobra.Command {
	var flags serverFlags
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the control plane's events",
	}
	flags.add(cmd, rt)
	var (
		typ       string
		fromStart bool
		asJSON    bool
		natsURL   string
		tenant    string
	)
	tail := &cobra.Command{
		Use:   "tail [--type decision.made] [--from-start]",
		Short: "Print events as they happen: decisions, approvals, break-glass, checkpoints",
		Long: `Follows the events of your token's tenant through the server (GET /v1/events), or, with
--nats, straight from a NATS cluster's CAVRA stream (subjects cavra.<tenant>.<type>). Each event
has a unique id, also its Nats-Msg-Id, so consumers can drop duplicates. Stops on Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			print := func(e cavra.Event) error {
				if asJSON {
					b, err := json.Marshal(e)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(rt.stdout, "%s\n", b)
					return err
				}
				_, err := fmt.Fprintf(rt.stdout, "%s  %-20s %-10s %s  %s\n", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Type, e.Tenant, e.ID, e.Data)
				return err
			}
			if natsURL != "" {
				b, err := bus.Open(cmd.Context(), bus.Config{URL: natsURL, Logger: rt.logger})
				if err != nil {
					return withExit(exitUsage, err)
				}
				defer b.Close()
				if err := b.Tail(cmd.Context(), bus.Filter{Tenant: tenant, Type: cavra.EventType(typ), FromStart: fromStart}, print); err != nil {
					return withExit(exitUsage, err)
				}
				return nil
			}
			c, err := flags.client(rt)
			if err != nil {
				return err
			}
			if err := c.Events(cmd.Context(), cavra.EventType(typ), fromStart, print); err != nil {
				return apiError(err)
			}
			return nil
		},
	}
	tail.Flags().StringVar(&typ, "type", "", "only this event type, e.g. decision.made, approval.requested, break_glass.used")
	tail.Flags().BoolVar(&fromStart, "from-start", false, "replay the stored events first")
	tail.Flags().BoolVar(&asJSON, "json", false, "print each event as one JSON line")
	tail.Flags().StringVar(&natsURL, "nats", "", "read from this NATS server instead of the control plane")
	tail.Flags().StringVar(&tenant, "tenant", "", "with --nats: only this tenant's events (default: all)")
	cmd.AddCommand(tail)
	return cmd
}
