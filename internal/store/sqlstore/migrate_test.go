package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
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
