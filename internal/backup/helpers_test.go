package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/keys"
)

// testClock is an injected clock that moves a millisecond per reading.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func tenantCtx(tenant string) context.Context {
	return cavra.WithWorkspace(cavra.WithTenant(context.Background(), tenant), "repo")
}

// newHome makes a data home as cavra init does.
func newHome(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	if _, err := home.Init(context.Background(), dir, time.Now, nil); err != nil {
		t.Fatalf("init home: %v", err)
	}
	return dir
}

func testDecision(i int) (cavra.Action, cavra.Decision) {
	a := cavra.Action{Kind: cavra.KindCommandExec, Principal: "agent-7", Cwd: "/work/repo",
		Command:    &cavra.Command{Line: fmt.Sprintf("rm -rf build/%d", i)},
		Attributes: map[string]any{"attempt": i}}
	d := cavra.Decision{ID: fmt.Sprintf("dec-%d", i), Outcome: cavra.Block, RuleID: "fs.rm-rf", Severity: cavra.SeverityHigh,
		Reason: "no", Policy: "baseline", Fingerprint: a.Fingerprint(), DecidedAt: time.Date(2026, 11, 25, 12, 0, 0, i, time.UTC)}
	return a, d
}

// record appends n decisions (ids from first) to tenant's log in the home and, with cut,
// signs a checkpoint.
func record(t *testing.T, dir, tenant string, first, n int, cut bool) {
	t.Helper()
	ctx := tenantCtx(tenant)
	l, closeFn, err := audit.OpenLocal(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	for i := first; i < first+n; i++ {
		a, d := testDecision(i)
		if err := l.RecordDecision(ctx, a, d); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if cut {
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
	}
}

// trusted is the home's keyring's keys.
func trusted(t *testing.T, dir string) []cavra.KeyInfo {
	t.Helper()
	kr, err := keys.Load(context.Background(), home.Layout{Root: dir}.KeysDir())
	if err != nil {
		t.Fatalf("load keyring: %v", err)
	}
	return kr.Keys()
}

// verifyLog verifies tenant's log and returns the report and every entry.
func verifyLog(t *testing.T, l *audit.Log, tenant string, trustedKeys []cavra.KeyInfo) (audit.VerifyReport, []cavra.AuditEntry) {
	t.Helper()
	ctx := tenantCtx(tenant)
	rep, err := l.Verify(ctx, trustedKeys)
	if err != nil {
		t.Fatalf("verify tenant %s: %v", tenant, err)
	}
	var out []cavra.AuditEntry
	if err := l.Store().ScanAuditEntries(ctx, 0, rep.Size, func(e cavra.AuditEntry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return rep, out
}

// verifyHome verifies tenant's log in a data home against the home's own keyring.
func verifyHome(t *testing.T, dir, tenant string) (audit.VerifyReport, []cavra.AuditEntry) {
	t.Helper()
	l, closeFn, err := audit.OpenLocal(tenantCtx(tenant), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	return verifyLog(t, l, tenant, trusted(t, dir))
}

func sameEntries(t *testing.T, got, want []cavra.AuditEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Index != w.Index || g.ID != w.ID || g.Workspace != w.Workspace || g.Type != w.Type || !g.Time.Equal(w.Time) ||
			!bytes.Equal(g.Record, w.Record) || !bytes.Equal(g.LeafHash, w.LeafHash) {
			t.Fatalf("entry %d differs:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func backupHome(t *testing.T, dir string) ([]byte, Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := Create(context.Background(), &buf, Source{Home: dir}, CreateOptions{CavraVersion: "test", Clock: newTestClock().Now, TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return buf.Bytes(), m
}

// dumpTables renders every row of every table (listed from the schema, as backup does) as
// text, sorted, so two databases of either dialect can be compared.
func dumpTables(t *testing.T, db *sql.DB, postgres bool) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var tables []string
	var err error
	if postgres {
		tables, err = pgTables(ctx, db)
	} else {
		tables, err = sqliteTables(ctx, db)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+quoteIdent(table))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		sort.Strings(cols) // column order may differ between dialects
		rows.Close()
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = quoteIdent(c)
		}
		rows, err = db.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+quoteIdent(table))
		if err != nil {
			t.Fatal(err)
		}
		lines := []string{}
		for rows.Next() {
			vals, ptrs := make([]any, len(cols)), make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if x, ok := v.([]byte); ok {
					v = "0x" + hex.EncodeToString(x)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		sort.Strings(lines)
		out[table] = lines
	}
	return out
}

func sameDump(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("tables %v, want %v", keysOf(got), keysOf(want))
	}
	for table, w := range want {
		g, ok := got[table]
		if !ok {
			t.Fatalf("table %s missing", table)
		}
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Fatalf("table %s differs:\n got %v\nwant %v", table, g, w)
		}
	}
}

func keysOf(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func openSQL(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := openRawSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// treeState fingerprints a directory tree: every path with its mode and content hash. A
// missing directory yields nil.
func treeState(t *testing.T, root string) map[string]string {
	t.Helper()
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			v += " " + hex.EncodeToString(sum[:])
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tarEntry is one entry of an archive, for tests that rewrite archives.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func readArchive(t *testing.T, archive []byte) []tarEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: *hdr, data: data})
	}
}

func writeArchive(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.data))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
