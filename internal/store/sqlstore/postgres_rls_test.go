package sqlstore_test

import (
	"context"
	"net/url"
	"testing"

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
	}

	count := func(t *testing.T, tenant string) int {
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
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM decisions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name   string
		tenant string
		want   int
	}{
		{"tenant a sees its row", "tenant-a", 1},
		{"tenant b sees its row", "tenant-b", 1},
		{"unknown tenant sees nothing", "tenant-c", 0},
		{"no tenant set sees nothing", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(t, tc.tenant); got != tc.want {
				t.Fatalf("saw %d rows, want %d", got, tc.want)
			}
		})
	}
	t.Run("insert for another tenant is refused", func(t *testing.T) {
		tx, err := app.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.tenant', 'tenant-a', true)"); err != nil {
			t.Fatal(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO decisions (tenant, workspace, id, kind, principal, outcome, rule_id,
			fingerprint, decided_at_ns, recorded_at_ns, audit_index)
			VALUES ('tenant-b', 'ws', 'forged', '', '', 'allow', '', '', 0, 0, 0)`)
		if err == nil {
			t.Fatal("row-level security let tenant a insert a row for tenant b")
		}
	})
	if _, err := app.Decision(b, "d-tenant-a"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("store as plain role: tenant b reads tenant a's decision: %v", err)
	}
}
