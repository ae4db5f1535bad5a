package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/store/storetest"
	"github.com/cavra-dev/cavra/internal/testenv"
)

func newSQLite(t *testing.T) cavra.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cavra.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// uniqueSchema names a throwaway schema so that parallel runs never share tables.
func uniqueSchema(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "cavra_test_" + hex.EncodeToString(b)
}

// NewPostgres opens a store in a fresh schema of the test server and drops it at cleanup.
func newPostgres(t *testing.T) cavra.Store {
	t.Helper()
	dsn := testenv.Postgres(t)
	schema := uniqueSchema(t)
	ctx := context.Background()
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{Schema: schema})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.SQL().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		s.Close()
	})
	return s
}

func TestSQLiteConformance(t *testing.T) { storetest.RunTests(t, newSQLite) }

func TestPostgresConformance(t *testing.T) { storetest.RunTests(t, newPostgres) }
