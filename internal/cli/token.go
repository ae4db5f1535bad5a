package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/identity"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// tokenFlags say which store holds the tokens: the data home's SQLite database, which
// `cavra serve` uses by default, or the server's PostgreSQL.
type tokenFlags struct {
	postgres       string
	postgresSchema string
	tenant         string
}

func (f *tokenFlags) add(cmd *cobra.Command, rt *runtime) {
	cmd.PersistentFlags().StringVar(&f.postgres, "postgres", rt.getenv("CAVRA_POSTGRES"), "the server's PostgreSQL DSN (env CAVRA_POSTGRES); default: the data home's database")
	cmd.PersistentFlags().StringVar(&f.postgresSchema, "postgres-schema", rt.getenv("CAVRA_POSTGRES_SCHEMA"), "PostgreSQL schema (env CAVRA_POSTGRES_SCHEMA)")
	cmd.PersistentFlags().StringVar(&f.tenant, "tenant", cavra.DefaultTenant, "tenant the token belongs to")
}

func (f *tokenFlags) open(cmd *cobra.Command, rt *runtime) (context.Context, *sqlstore.DB, error) {
	if err := identity.ValidName(f.tenant); err != nil {
		return nil, nil, withExit(exitUsage, fmt.Errorf("--tenant: %w", err))
	}
	ctx := cavra.WithTenant(cmd.Context(), f.tenant)
	if f.postgres != "" {
		st, err := sqlstore.OpenPostgres(ctx, f.postgres, sqlstore.Options{Logger: rt.logger, Schema: f.postgresSchema})
		if err != nil {
			return nil, nil, withExit(exitUsage, err)
		}
		return ctx, st, nil
	}
	root, err := dataHome(rt)
	if err != nil {
		return nil, nil, withExit(exitUsage, err)
	}
	if _, err := home.Init(ctx, root, time.Now, rt.logger); err != nil {
		return nil, nil, withExit(exitUsage, err)
	}
	st, err := sqlstore.OpenSQLite(ctx, home.Layout{Root: root}.DBPath(), sqlstore.Options{Logger: rt.logger})
	if err != nil {
		return nil, nil, withExit(exitUsage, err)
	}
	return ctx, st, nil
}

func newTokenCmd(rt *runtime) *cobra.Command {
	var flags tokenFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens of `cavra serve`",
		Long: `API tokens authenticate callers of the control plane's REST API. Each carries a name (the
principal it acts as), a tenant and a role:
  agent     asks for decisions (hooks, MCP gateway, CI)
  approver  answers approval requests, reads decisions
  auditor   reads decisions, approvals and the audit log, exports evidence bundles
  admin     all of the above
Only a SHA-256 hash of each token is stored; the secret is shown once, by create.
These commands act on the store directly: run them where the server's data home (or its
PostgreSQL) is. A running server notices a revocation within a second.`,
	}
	flags.add(cmd, rt)
	cmd.AddCommand(newTokenCreateCmd(rt, &flags), newTokenListCmd(rt, &flags), newTokenRevokeCmd(rt, &flags))
	return cmd
}

func newTokenCreateCmd(rt *runtime, flags *tokenFlags) *cobra.Command {
	var (
		name string
		role string
		ttl  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create a token and print it once (alone on the last line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || role == "" {
				return usageError("--name and --role are required")
			}
			secret, tok, err := identity.NewToken(flags.tenant, name, cavra.Role(role), time.Now(), ttl)
			if err != nil {
				return withExit(exitUsage, err)
			}
			ctx, st, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.PutToken(ctx, tok); err != nil {
				return withExit(exitUsage, fmt.Errorf("store token: %w", err))
			}
			expires := "never"
			if !tok.ExpiresAt.IsZero() {
				expires = tok.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(rt.stdout, "created token %s for %s (role %s, tenant %s, expires %s)\n", tok.ID, tok.Name, tok.Role, tok.Tenant, expires)
			fmt.Fprintln(rt.stdout, "the secret below is shown only now:")
			_, err = fmt.Fprintln(rt.stdout, secret)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the principal the token acts as (a person, an agent or a service)")
	cmd.Flags().StringVar(&role, "role", "", "agent, approver, auditor or admin")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 720h (default: does not expire)")
	return cmd
}

func newTokenListCmd(rt *runtime, flags *tokenFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tenant's tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, st, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer st.Close()
			toks, err := st.Tokens(ctx)
			if err != nil {
				return withExit(exitUsage, err)
			}
			w := tabwriter.NewWriter(rt.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tCREATED\tSTATE")
			now := time.Now()
			for _, t := range toks {
				state := "active"
				switch {
				case !t.RevokedAt.IsZero():
					state = "revoked " + t.RevokedAt.Format(time.RFC3339)
				case !t.Active(now):
					state = "expired " + t.ExpiresAt.Format(time.RFC3339)
				case !t.ExpiresAt.IsZero():
					state = "active until " + t.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedAt.Format(time.RFC3339), state)
			}
			return w.Flush()
		},
	}
}

func newTokenRevokeCmd(rt *runtime, flags *tokenFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a token by id, or by name when one active token has it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, st, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, err := st.RevokeToken(ctx, args[0], time.Now().UTC())
			if err != nil {
				if cavra.Code(err) == cavra.ErrNotFound {
					return withExit(exitFailure, fmt.Errorf("no token %q in tenant %s", args[0], flags.tenant))
				}
				return withExit(exitUsage, err)
			}
			_, err = fmt.Fprintf(rt.stdout, "revoked token %s (%s, role %s) at %s\n", tok.ID, tok.Name, tok.Role, tok.RevokedAt.Format(time.RFC3339))
			return err
		},
	}
}
