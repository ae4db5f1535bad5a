package backup

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/testenv"
)

func randomSuffix(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 6)
	if _, err := crand.Read(buf); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(buf)
}

// pgSchema opens a fresh schema for this test run and drops it at the end.
func pgSchema(t *testing.T, dsn string) (string, *sqlstore.DB) {
	t.Helper()
	schema := "cavra_backup_test_" + randomSuffix(t)
	st, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{Schema: schema})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		if _, err := st.SQL().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		st.Close()
	})
	return schema, st
}

func TestRoundTripPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	src := newHome(t)
	record(t, src, "acme", 0, 30, true)
	record(t, src, "acme", 30, 2, false)
	record(t, src, "beta", 100, 9, true)
	putToken(t, src, "beta")
	archive, _ := backupHome(t, src)
	srcDump := dumpTables(t, openSQL(t, filepath.Join(src, DBName)), false)

	// SQLite home -> a fresh PostgreSQL schema, keys into a second home.
	schema, pg := pgSchema(t, dsn)
	pgHome := filepath.Join(t.TempDir(), "pghome")
	dst := Destination{Home: pgHome, PostgresDSN: dsn, PostgresSchema: schema}
	if _, err := Restore(ctx, bytes.NewReader(archive), dst, RestoreOptions{}); err != nil {
		t.Fatalf("restore into postgres: %v", err)
	}
	pgLog := audit.New(pg, audit.Options{})
	for _, tenant := range []string{"acme", "beta"} {
		_, want := verifyHome(t, src, tenant)
		_, got := verifyLog(t, pgLog, tenant, trusted(t, pgHome))
		sameEntries(t, got, want)
	}
	sameDump(t, dumpTables(t, pg.SQL(), true), srcDump)

	// A schema with rows is refused, even with the keys going into an empty home, unless forced.
	_, err := Restore(ctx, bytes.NewReader(archive), Destination{Home: filepath.Join(t.TempDir(), "h"), PostgresDSN: dsn, PostgresSchema: schema}, RestoreOptions{})
	if cavra.Code(err) != cavra.ErrConflict || !strings.Contains(err.Error(), "already hold rows") {
		t.Fatalf("restore into a schema with rows: %v, want a conflict", err)
	}
	if _, err := Restore(ctx, bytes.NewReader(archive), Destination{Home: filepath.Join(t.TempDir(), "h"), PostgresDSN: dsn, PostgresSchema: schema}, RestoreOptions{Force: true}); err != nil {
		t.Fatalf("forced restore into postgres: %v", err)
	}
	sameDump(t, dumpTables(t, pg.SQL(), true), srcDump)

	// PostgreSQL -> backup -> a SQLite home.
	var buf bytes.Buffer
	m, err := Create(ctx, &buf, Source{Home: pgHome, PostgresDSN: dsn, PostgresSchema: schema}, CreateOptions{CavraVersion: "test", TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("backup from postgres: %v", err)
	}
	if tenants, entries, _ := m.Totals(); m.Source != "postgres" || tenants != 2 || entries != 41 {
		t.Fatalf("manifest %+v", m)
	}
	back := filepath.Join(t.TempDir(), "back")
	if _, err := Restore(ctx, bytes.NewReader(buf.Bytes()), Destination{Home: back}, RestoreOptions{}); err != nil {
		t.Fatalf("restore the postgres backup: %v", err)
	}
	for _, tenant := range []string{"acme", "beta"} {
		_, want := verifyHome(t, src, tenant)
		_, got := verifyHome(t, back, tenant)
		sameEntries(t, got, want)
	}
	sameDump(t, dumpTables(t, openSQL(t, filepath.Join(back, DBName)), false), srcDump)
}

// TestPostgresNeedsBypassRLS: a plain role sees no tenant's rows through row-level security, so
// backing up or restoring as one must fail rather than produce an empty copy.
func TestPostgresNeedsBypassRLS(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	src := newHome(t)
	record(t, src, "acme", 0, 5, true)
	archive, _ := backupHome(t, src)
	schema, pg := pgSchema(t, dsn)
	if _, err := Restore(ctx, bytes.NewReader(archive), Destination{Home: filepath.Join(t.TempDir(), "h"), PostgresDSN: dsn, PostgresSchema: schema}, RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}

	role := "cavra_backup_role_" + randomSuffix(t)
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, TRUNCATE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := pg.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := pg.SQL().ExecContext(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	// The schema through search_path: naming it in Options would try to create it, which this
	// role may not.
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	plain := u.String()

	var buf bytes.Buffer
	_, err = Create(ctx, &buf, Source{Home: src, PostgresDSN: plain}, CreateOptions{TempDir: t.TempDir()})
	if cavra.Code(err) != cavra.ErrForbidden || !strings.Contains(err.Error(), "bypasses row-level security") {
		t.Fatalf("backup as a plain role: %v, want forbidden", err)
	}
	_, err = Restore(ctx, bytes.NewReader(archive), Destination{Home: filepath.Join(t.TempDir(), "h2"), PostgresDSN: plain}, RestoreOptions{Force: true})
	if cavra.Code(err) != cavra.ErrForbidden {
		t.Fatalf("restore as a plain role: %v, want forbidden", err)
	}
}
