package sqlstore_test

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/store/storetest"
	"github.com/cavra-dev/cavra/internal/testenv"
)

// TestPostgresRowLevelSecurity connects as a plain role (superusers bypass row-level
// security) and checks that raw SQL sees only the rows of the tenant the session names.
func TestPostgresRowLevelSecurity(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	schema := uniqueSchema(t)
	admin, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{Schema: schema})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	role := schema + "_app"
	t.Cleanup(func() {
		for _, q := range []string{"DROP SCHEMA " + schema + " CASCADE", "DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.SQL().ExecContext(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		admin.Close()
	})
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN NOSUPERUSER NOBYPASSRLS",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := admin.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	app, err := sqlstore.OpenPostgres(ctx, u.String(), sqlstore.Options{Schema: schema, SkipMigrate: true})
	if err != nil {
		t.Fatalf("open postgres as %s: %v", role, err)
	}
	defer app.Close()

	a := cavra.WithTenant(ctx, "tenant-a")
	b := cavra.WithTenant(ctx, "tenant-b")
	for _, c := range []context.Context{a, b} {
		tenant := cavra.TenantFrom(c)
		err := app.Update(c, func(ctx context.Context, tx cavra.StoreTx) error {
			return storetest.AppendDecisions(ctx, tx, cavra.DecisionRecord{ID: "d-" + tenant, Workspace: "ws",
				Decision: cavra.Decision{Outcome: cavra.Allow}})
		})
		if err != nil {
			t.Fatalf("put decision for %s: %v", tenant, err)
		}
		err = app.Update(c, func(ctx context.Context, tx cavra.StoreTx) error {
			if err := tx.PutApproval(ctx, cavra.Approval{ID: "ap-" + tenant, Workspace: "ws", State: cavra.ApprovalPending, Fingerprint: "fp"}); err != nil {
				return err
			}
			// Again, so that the upsert's update path runs under the policy too.
			return tx.PutApproval(ctx, cavra.Approval{ID: "ap-" + tenant, Workspace: "ws", State: cavra.ApprovalDenied, Fingerprint: "fp"})
		})
		if err != nil {
			t.Fatalf("put approval for %s: %v", tenant, err)
		}
	}

	count := func(t *testing.T, table, tenant string) int {
		t.Helper()
		tx, err := app.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if tenant != "" {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant', $1, true)", tenant); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		// No tenant filter: only the policy stands between the session and other tenants' rows.
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name   string
		table  string
		tenant string
		want   int
	}{
		{"tenant a sees its decision", "decisions", "tenant-a", 1},
		{"tenant b sees its decision", "decisions", "tenant-b", 1},
		{"unknown tenant sees no decision", "decisions", "tenant-c", 0},
		{"no tenant set sees no decision", "decisions", "", 0},
		{"tenant a sees its approval", "approvals", "tenant-a", 1},
		{"tenant b sees its approval", "approvals", "tenant-b", 1},
		{"unknown tenant sees no approval", "approvals", "tenant-c", 0},
		{"no tenant set sees no approval", "approvals", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(t, tc.table, tc.tenant); got != tc.want {
				t.Fatalf("saw %d rows of %s, want %d", got, tc.table, tc.want)
			}
		})
	}
	forged := []struct {
		name  string
		query string
	}{
		{"decision insert for another tenant is refused", `INSERT INTO decisions (tenant, workspace, id, kind, principal, outcome, rule_id,
			fingerprint, decided_at_ns, recorded_at_ns, audit_index)
			VALUES ('tenant-b', 'ws', 'forged', '', '', 'allow', '', '', 0, 0, 0)`},
		{"approval insert for another tenant is refused", `INSERT INTO approvals (tenant, workspace, id, state, fingerprint,
			created_at_ns, expires_at_ns, updated_at_ns, body)
			VALUES ('tenant-b', 'ws', 'forged', 'granted', 'fp', 0, 0, 0, '{}')`},
		{"approval moved to another tenant is refused", `UPDATE approvals SET tenant = 'tenant-b' WHERE id = 'ap-tenant-a'`},
	}
	for _, tc := range forged {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := app.SQL().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant', 'tenant-a', true)"); err != nil {
				t.Fatal(err)
			}
			if _, err = tx.ExecContext(ctx, tc.query); err == nil {
				t.Fatal("row-level security let tenant a write a row for tenant b")
			}
		})
	}
	t.Run("approval updated by another tenant is untouched", func(t *testing.T) {
		tx, err := app.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant', 'tenant-a', true)"); err != nil {
			t.Fatal(err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE approvals SET state = 'granted' WHERE id = 'ap-tenant-b'")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 0 {
			t.Fatalf("tenant a updated %d of tenant b's approvals (%v)", n, err)
		}
	})
	if _, err := app.Approval(b, "ap-tenant-a"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("store as plain role: tenant b reads tenant a's approval: %v", err)
	}
	if ap, err := app.Approval(a, "ap-tenant-a"); err != nil || ap.State != cavra.ApprovalDenied {
		t.Fatalf("store as plain role: tenant a's approval = %s, %v; want denied", ap.State, err)
	}
	// Tokens have no row-level security: the plain role finds any tenant's token by hash,
	// which is how the server learns the caller's tenant.
	hash := bytes.Repeat([]byte{7}, 32)
	if err := app.PutToken(a, cavra.Token{ID: "tok-a", Name: "alice", Role: cavra.RoleAgent, Hash: hash}); err != nil {
		t.Fatalf("store as plain role: put token: %v", err)
	}
	if tok, err := app.TokenByHash(b, hash); err != nil || tok.Tenant != "tenant-a" {
		t.Fatalf("store as plain role: token by hash = %+v, %v; want tenant a's", tok, err)
	}
	if toks, err := app.Tokens(b); err != nil || len(toks) != 0 {
		t.Fatalf("store as plain role: tenant b lists tokens %+v, %v", toks, err)
	}
	if _, err := app.RevokeToken(b, "tok-a", time.Unix(1, 0)); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("store as plain role: tenant b revokes tenant a's token: %v", err)
	}
	if _, err := app.Decision(b, "d-tenant-a"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("store as plain role: tenant b reads tenant a's decision: %v", err)
	}
}
