package audit

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavra-dev/cavra"
)

// tamper is one way of corrupting a stored log; it reports what it did.
type tamper struct {
	name  string
	apply func(db *sql.DB, rng *rand.Rand, size int64) (string, error)
}

// flipByte xors one random byte of a blob or text column of one row with a non-zero value.
func flipByte(table, col, where string, args ...any) func(db *sql.DB, rng *rand.Rand) (string, error) {
	return func(db *sql.DB, rng *rand.Rand) (string, error) {
		var v []byte
		if err := db.QueryRow("SELECT CAST("+col+" AS BLOB) FROM "+table+" WHERE "+where, args...).Scan(&v); err != nil {
			return "", err
		}
		if len(v) == 0 {
			return "", fmt.Errorf("empty %s.%s", table, col)
		}
		i := rng.IntN(len(v))
		v[i] ^= byte(1 + rng.IntN(255))
		_, err := db.Exec("UPDATE "+table+" SET "+col+" = ? WHERE "+where, append([]any{v}, args...)...)
		return fmt.Sprintf("flipped byte %d of %s.%s where %s %v", i, table, col, where, args), err
	}
}

func truncateCol(table, col, where string, args ...any) func(db *sql.DB, rng *rand.Rand) (string, error) {
	return func(db *sql.DB, rng *rand.Rand) (string, error) {
		var v []byte
		if err := db.QueryRow("SELECT CAST("+col+" AS BLOB) FROM "+table+" WHERE "+where, args...).Scan(&v); err != nil {
			return "", err
		}
		cut := 1 + rng.IntN(len(v))
		_, err := db.Exec("UPDATE "+table+" SET "+col+" = ? WHERE "+where, append([]any{v[:len(v)-cut]}, args...)...)
		return fmt.Sprintf("cut %d bytes off %s.%s where %s %v", cut, table, col, where, args), err
	}
}

func execTamper(db *sql.DB, what, query string, args ...any) (string, error) {
	res, err := db.Exec(query, args...)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("%s changed no rows", what)
	}
	return what, nil
}

var tampers = []tamper{
	{"flip record byte", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return flipByte("audit_entries", "record", "idx = ?", rng.Int64N(size))(db, rng)
	}},
	{"flip leaf hash byte", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return flipByte("audit_entries", "leaf_hash", "idx = ?", rng.Int64N(size))(db, rng)
	}},
	{"flip entry id byte", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return flipByte("audit_entries", "id", "idx = ?", rng.Int64N(size))(db, rng)
	}},
	{"flip entry workspace byte", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return flipByte("audit_entries", "workspace", "idx = ?", rng.Int64N(size))(db, rng)
	}},
	{"shift entry time", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		i := rng.Int64N(size)
		return execTamper(db, fmt.Sprintf("shifted time of entry %d", i), "UPDATE audit_entries SET time_ns = time_ns + ? WHERE idx = ?", 1+rng.Int64N(1e9), i)
	}},
	{"truncate record", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return truncateCol("audit_entries", "record", "idx = ?", rng.Int64N(size))(db, rng)
	}},
	{"delete entry", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		i := rng.Int64N(size)
		return execTamper(db, fmt.Sprintf("deleted entry %d", i), "DELETE FROM audit_entries WHERE idx = ?", i)
	}},
	{"swap entries", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		i := rng.Int64N(size)
		j := (i + 1 + rng.Int64N(size-1)) % size
		// Move i out of the way, then exchange positions: a reorder of two stored rows.
		for _, q := range []struct {
			from, to int64
		}{{i, -1}, {j, i}, {-1, j}} {
			if _, err := db.Exec("UPDATE audit_entries SET idx = ? WHERE idx = ?", q.to, q.from); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("swapped entries %d and %d", i, j), nil
	}},
	{"truncate log", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		k := rng.Int64N(size)
		return execTamper(db, fmt.Sprintf("deleted entries from %d", k), "DELETE FROM audit_entries WHERE idx >= ?", k)
	}},
	{"truncate log and head", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		k := rng.Int64N(size)
		if _, err := db.Exec("DELETE FROM audit_entries WHERE idx >= ?", k); err != nil {
			return "", err
		}
		return execTamper(db, fmt.Sprintf("deleted entries from %d and shrank the head", k), "UPDATE audit_heads SET size = ?", k)
	}},
	{"flip checkpoint note byte", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return flipByte("checkpoints", "note", "seq = ?", 1+rng.Int64N(checkpointCount(db)))(db, rng)
	}},
	{"truncate checkpoint note", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return truncateCol("checkpoints", "note", "seq = ?", 1+rng.Int64N(checkpointCount(db)))(db, rng)
	}},
	{"flip checkpoint root column", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return flipByte("checkpoints", "root_hash", "seq = ?", 1+rng.Int64N(checkpointCount(db)))(db, rng)
	}},
	{"change checkpoint size column", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		seq := 1 + rng.Int64N(checkpointCount(db))
		return execTamper(db, fmt.Sprintf("changed size of checkpoint %d", seq), "UPDATE checkpoints SET size = size + ? WHERE seq = ?", 1+rng.Int64N(3), seq)
	}},
	{"delete checkpoint", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		seq := 1 + rng.Int64N(checkpointCount(db))
		return execTamper(db, fmt.Sprintf("deleted checkpoint %d", seq), "DELETE FROM checkpoints WHERE seq = ?", seq)
	}},
	{"swap checkpoint notes", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		n := checkpointCount(db)
		a := 1 + rng.Int64N(n)
		b := 1 + (a+rng.Int64N(n-1))%n
		_, err := db.Exec(`UPDATE checkpoints SET note = (SELECT note FROM checkpoints c WHERE c.seq = CASE checkpoints.seq WHEN ? THEN ? ELSE ? END)
			WHERE seq IN (?, ?)`, a, b, a, a, b)
		return fmt.Sprintf("swapped notes of checkpoints %d and %d", a, b), err
	}},
	{"flip tree node byte", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		var node int64
		if err := db.QueryRow("SELECT node FROM tree_nodes ORDER BY random() LIMIT 1").Scan(&node); err != nil {
			return "", err
		}
		return flipByte("tree_nodes", "hash", "node = ?", node)(db, rng)
	}},
	{"delete tree node", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return execTamper(db, "deleted a tree node", "DELETE FROM tree_nodes WHERE node = (SELECT node FROM tree_nodes ORDER BY random() LIMIT 1)")
	}},
	{"change head size", func(db *sql.DB, rng *rand.Rand, size int64) (string, error) {
		return execTamper(db, "changed the head size", "UPDATE audit_heads SET size = ?", rng.Int64N(size))
	}},
}

func checkpointCount(db *sql.DB) int64 {
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM checkpoints").Scan(&n); err != nil || n < 2 {
		return 2
	}
	return n
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTamperIsDetected makes 1,000 random single corruptions of a fully checkpointed log and
// requires Verify to reject every one.
func TestTamperIsDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("tamper run takes a few seconds")
	}
	ctx := testCtx()
	tl := newTestLog(t, Options{CheckpointEvery: 8})
	const size = 40
	appendN(t, ctx, tl.log, size)
	if _, err := tl.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	trusted := []cavra.KeyInfo{tl.signer.info}
	if _, err := tl.log.Verify(ctx, trusted); err != nil {
		t.Fatalf("pristine log does not verify: %v", err)
	}
	if _, err := tl.store.SQL().Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	pristine := filepath.Join(t.TempDir(), "pristine.db")
	copyFile(t, tl.path, pristine)

	rng := rand.New(rand.NewPCG(2026, 1125))
	dir := t.TempDir()
	detected := map[string]int{}
	for i := range 1000 {
		tm := tampers[rng.IntN(len(tampers))]
		path := filepath.Join(dir, fmt.Sprintf("t%d.db", i))
		copyFile(t, pristine, path)
		st := openTestStore(t, path)
		what, err := tm.apply(st.SQL(), rng, size)
		if err != nil {
			t.Fatalf("tamper %d (%s): %v", i, tm.name, err)
		}
		_, err = New(st, Options{}).Verify(ctx, trusted)
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("tamper %d (%s: %s) not detected: verify returned %v", i, tm.name, what, err)
		}
		detected[tm.name]++
		st.Close()
		os.Remove(path)
	}
	for _, tm := range tampers {
		if detected[tm.name] == 0 {
			t.Errorf("tamper kind %q never ran", tm.name)
		}
	}
	t.Logf("detected: %v", detected)
}
