package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/store/storetest"
)

func TestSQLiteMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.SchemaVersion()
	if err != nil || want < 1 {
		t.Fatalf("schema version %d, %v", want, err)
	}
	var have, walMode, syncMode string
	s.SQL().QueryRow("PRAGMA user_version").Scan(&have)
	s.SQL().QueryRow("PRAGMA journal_mode").Scan(&walMode)
	s.SQL().QueryRow("PRAGMA synchronous").Scan(&syncMode)
	if walMode != "wal" || syncMode != "2" { // 2 is FULL
		t.Fatalf("journal_mode %s, synchronous %s; want wal and FULL (2)", walMode, syncMode)
	}
	s.Close()

	// Reopening a current database migrates nothing and keeps the data.
	s, err = sqlstore.OpenSQLite(ctx, path, sqlstore.Options{SkipMigrate: true})
	if err != nil {
		t.Fatalf("reopen current database with migrations disabled: %v", err)
	}
	if _, err := s.SQL().Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	if cavra.Code(err) != cavra.ErrUnavailable {
		t.Fatalf("opening a database from a newer build: %v, want unavailable", err)
	}

	tests := []struct {
		name string
		path string
		opts sqlstore.Options
	}{
		{"empty path", "", sqlstore.Options{}},
		{"bad synchronous", filepath.Join(t.TempDir(), "x.db"), sqlstore.Options{Synchronous: "OFF"}},
		{"fresh database with migrations disabled", filepath.Join(t.TempDir(), "y.db"), sqlstore.Options{SkipMigrate: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := sqlstore.OpenSQLite(ctx, tc.path, tc.opts); err == nil {
				s.Close()
				t.Fatal("opened")
			}
		})
	}
}

func TestPostgresRejectsBadSchemaName(t *testing.T) {
	_, err := sqlstore.OpenPostgres(context.Background(), "postgres://127.0.0.1:1/x", sqlstore.Options{Schema: "bad; drop"})
	if cavra.Code(err) != cavra.ErrInvalid {
		t.Fatalf("got %v, want invalid", err)
	}
}

// TestSQLiteUpgradeKeepsData turns a current database back into a version-1 one (the tables of
// later migrations dropped) and checks that reopening applies the rest without touching data.
func TestSQLiteUpgradeKeepsData(t *testing.T) {
	ctx := cavra.WithTenant(context.Background(), "acme")
	path := filepath.Join(t.TempDir(), "u.db")
	s, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.SchemaVersion()
	if err != nil || want < 2 {
		t.Fatalf("schema version %d, %v; want at least 2", want, err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		return storetest.AppendDecisions(ctx, tx, cavra.DecisionRecord{ID: "d1", Workspace: "ws", Decision: cavra.Decision{Outcome: cavra.Allow}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TABLE approvals", "DROP TABLE tokens", "PRAGMA user_version = 1"} {
		if _, err := s.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()

	if _, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{SkipMigrate: true}); cavra.Code(err) != cavra.ErrUnavailable {
		t.Fatalf("opening a version-1 database with migrations disabled: %v, want unavailable", err)
	}
	s, err = sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer s.Close()
	var have int
	if err := s.SQL().QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil || have != want {
		t.Fatalf("user_version after upgrade = %d, %v; want %d", have, err, want)
	}
	if _, err := s.Decision(ctx, "d1"); err != nil {
		t.Fatalf("decision written before the upgrade: %v", err)
	}
	if err := s.PutToken(ctx, cavra.Token{ID: "t1", Name: "alice", Role: cavra.RoleAgent, Hash: make([]byte, 32)}); err != nil {
		t.Fatalf("put token after upgrade: %v", err)
	}
	if _, err := s.Approvals(ctx, cavra.ApprovalQuery{}); err != nil {
		t.Fatalf("list approvals after upgrade: %v", err)
	}
}
