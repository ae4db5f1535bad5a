package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// writeAndWatch writes about 2 MiB and returns a function reporting the main database file's
// size: committed pages reach that file only through a checkpoint, so its growth shows one ran.
func writeAndWatch(t *testing.T, interval time.Duration) (size func() int64, closeDB func()) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cavra.db")
	s, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{CheckpointInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SQL().ExecContext(ctx, "CREATE TABLE blob_test (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if _, err := s.SQL().ExecContext(ctx, "INSERT INTO blob_test VALUES (?)", []byte(strings.Repeat("x", 256<<10))); err != nil {
			t.Fatal(err)
		}
	}
	return func() int64 {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}, func() { s.Close() }
}

func TestBackgroundCheckpoint(t *testing.T) {
	size, closeDB := writeAndWatch(t, 5*time.Millisecond)
	defer closeDB()
	// Liveness, not speed: the checkpointer runs every 5 ms; give a loaded machine ample time.
	deadline := time.Now().Add(30 * time.Second)
	for size() < 2<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint reached the database file (size %d)", size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCommitsLeaveCheckpointsToTheBackground(t *testing.T) {
	size, closeDB := writeAndWatch(t, -1)
	// With the checkpointer off and SQLite's own trigger far away, the pages stay in the WAL
	// until the last connection closes.
	time.Sleep(50 * time.Millisecond)
	if got := size(); got >= 2<<20 {
		t.Fatalf("commits checkpointed on their own: main file is %d bytes", got)
	}
	closeDB()
	if got := size(); got < 2<<20 {
		t.Fatalf("closing did not checkpoint: main file is %d bytes", got)
	}
}
