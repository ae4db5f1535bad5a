package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// putToken adds a row to a table the audit log does not use, so the generic table copy is
// exercised beyond the audit tables.
func putToken(t *testing.T, dir, tenant string) {
	t.Helper()
	ctx := tenantCtx(tenant)
	st, err := sqlstore.OpenSQLite(ctx, home.Layout{Root: dir}.DBPath(), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum := sha256.Sum256([]byte("secret-" + tenant))
	tok := cavra.Token{ID: "tok-" + tenant, Name: "ci", Role: cavra.RoleAgent, Hash: sum[:], CreatedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	if err := st.PutToken(ctx, tok); err != nil {
		t.Fatalf("put token: %v", err)
	}
}

func TestRoundTripSQLite(t *testing.T) {
	ctx := context.Background()
	src := newHome(t)
	record(t, src, "acme", 0, 40, true)
	record(t, src, "acme", 40, 3, false) // an unsigned tail
	record(t, src, "beta", 100, 7, true)
	putToken(t, src, "acme")

	archive, m := backupHome(t, src)
	tenants, entries, cps := m.Totals()
	if tenants != 2 || entries != 50 {
		t.Fatalf("totals = %d tenants, %d entries; manifest %+v", tenants, entries, m)
	}
	if m.Format != FormatVersion || m.CavraVersion != "test" || m.Source != "sqlite" || m.SchemaVersion < 1 {
		t.Fatalf("manifest = %+v", m)
	}
	names := map[string]bool{}
	var pem bool
	for _, f := range m.Files {
		names[f.Name] = true
		pem = pem || strings.HasSuffix(f.Name, ".pem")
	}
	if !names[DBName] || !names["keys/keyring.json"] || !names[ConfigName] || !pem || names["keys/keyring.lock"] {
		t.Fatalf("manifest files = %+v", m.Files)
	}

	dst := filepath.Join(t.TempDir(), "restored")
	got, err := Restore(ctx, bytes.NewReader(archive), Destination{Home: dst}, RestoreOptions{})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !got.CreatedAt.Equal(m.CreatedAt) || len(got.Files) != len(m.Files) || len(got.Tenants) != 2 {
		t.Fatalf("restore returned manifest %+v, want %+v", got, m)
	}
	var srcCheckpoints int
	for _, tenant := range []string{"acme", "beta"} {
		wantRep, want := verifyHome(t, src, tenant)
		srcCheckpoints += wantRep.Checkpoints
		gotRep, entries := verifyHome(t, dst, tenant)
		sameEntries(t, entries, want)
		if gotRep.Size != wantRep.Size || gotRep.Checkpoints != wantRep.Checkpoints || !bytes.Equal(gotRep.RootHash, wantRep.RootHash) {
			t.Fatalf("tenant %s: restored report %+v, source %+v", tenant, gotRep, wantRep)
		}
	}
	if int(cps) != srcCheckpoints {
		t.Fatalf("manifest counts %d checkpoints, the source log %d", cps, srcCheckpoints)
	}
	sameDump(t, dumpTables(t, openSQL(t, filepath.Join(dst, DBName)), false), dumpTables(t, openSQL(t, filepath.Join(src, DBName)), false))

	for path, want := range map[string]os.FileMode{
		filepath.Join(dst, "keys"):                 os.ModeDir | 0o700,
		filepath.Join(dst, "keys", "keyring.json"): 0o600,
		filepath.Join(dst, DBName):                 0o600,
		filepath.Join(dst, ConfigName):             0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode(), want)
		}
	}
	ents, _ := os.ReadDir(dst)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".restore-") {
			t.Errorf("restore left its staging directory %s", e.Name())
		}
	}
}

func TestBackupWhileAppending(t *testing.T) {
	src := newHome(t)
	// Small checkpoint intervals, so checkpoints are signed while the backup runs too.
	if err := os.WriteFile(filepath.Join(src, ConfigName), []byte("store:\n  synchronous: NORMAL\naudit:\n  checkpoint_every: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	record(t, src, "acme", 0, 20, true)
	ctx := tenantCtx("acme")
	l, closeFn, err := audit.OpenLocal(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()

	stop, started, errc := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		for i := 1000; ; i++ {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			a, d := testDecision(i)
			if err := l.RecordDecision(ctx, a, d); err != nil {
				errc <- err
				return
			}
			if i == 1010 {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("append: %v", err)
	}
	before, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	archive, m := backupHome(t, src)
	after, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatalf("append: %v", err)
	}
	t.Logf("log grew from %d to %d entries during the backup", before.Size, after.Size)

	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(context.Background(), bytes.NewReader(archive), Destination{Home: dst}, RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	rep, entries := verifyHome(t, dst, "acme")
	if rep.Size < before.Size || rep.Size > after.Size {
		t.Fatalf("snapshot holds %d entries, want between %d and %d", rep.Size, before.Size, after.Size)
	}
	if len(m.Tenants) != 1 || m.Tenants[0].Entries != rep.Size || int(m.Tenants[0].CheckpointSeq) != rep.Checkpoints {
		t.Fatalf("manifest tenants %+v, restored report %+v", m.Tenants, rep)
	}
	_, all := verifyHome(t, src, "acme")
	sameEntries(t, entries, all[:len(entries)])
}

func TestRestoreRejectsBadArchives(t *testing.T) {
	src := newHome(t)
	record(t, src, "acme", 0, 10, true)
	good, _ := backupHome(t, src)
	rewrite := func(change func([]tarEntry) []tarEntry) []byte {
		return writeArchive(t, change(readArchive(t, good)))
	}
	evil := func(h tar.Header, data string) []byte {
		return rewrite(func(es []tarEntry) []tarEntry {
			return append([]tarEntry{es[0], {hdr: h, data: []byte(data)}}, es[1:]...)
		})
	}
	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"flipped byte in cavra.db", rewrite(func(es []tarEntry) []tarEntry {
			for i := range es {
				if es[i].hdr.Name == DBName {
					es[i].data[len(es[i].data)/2] ^= 0x01
				}
			}
			return es
		}), "corrupt"},
		{"truncated in the middle", good[:len(good)/2], "read archive"},
		{"gzip trailer cut", good[:len(good)-4], "read archive"},
		{"dot-dot entry", evil(tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Mode: 0o600}, "x"), "leaves the data home"},
		{"dot-dot inside keys", evil(tar.Header{Name: "keys/../../evil", Typeflag: tar.TypeReg, Mode: 0o600}, "x"), "leaves the data home"},
		{"absolute path", evil(tar.Header{Name: "/tmp/evil", Typeflag: tar.TypeReg, Mode: 0o600}, "x"), "absolute"},
		{"symlink", evil(tar.Header{Name: "keys/link.pem", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, ""), "not a regular file"},
		{"unexpected name", evil(tar.Header{Name: "notes.txt", Typeflag: tar.TypeReg, Mode: 0o600}, "x"), "not a file a cavra backup holds"},
		{"nested key directory", evil(tar.Header{Name: "keys/sub/k.pem", Typeflag: tar.TypeReg, Mode: 0o600}, "x"), "not a file a cavra backup holds"},
		{"unlisted key", evil(tar.Header{Name: "keys/extra.pem", Typeflag: tar.TypeReg, Mode: 0o600}, "x"), "not in the manifest"},
		{"missing file", rewrite(func(es []tarEntry) []tarEntry {
			var out []tarEntry
			for _, e := range es {
				if e.hdr.Name != ConfigName {
					out = append(out, e)
				}
			}
			return out
		}), "lacks config.yaml"},
		{"manifest not first", rewrite(func(es []tarEntry) []tarEntry { return append(es[1:], es[0]) }), "first entry"},
		{"not gzip", []byte("hello, world"), "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fresh := filepath.Join(t.TempDir(), "fresh")
			_, err := Restore(ctx, bytes.NewReader(tc.archive), Destination{Home: fresh}, RestoreOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore into an empty home: error %v, want one saying %q", err, tc.want)
			}
			if cavra.Code(err) != cavra.ErrInvalid {
				t.Errorf("error code %s, want invalid", cavra.Code(err))
			}
			if _, serr := os.Stat(fresh); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("a failed restore left %s behind (%v)", fresh, serr)
			}

			existing := newHome(t)
			record(t, existing, "acme", 500, 3, true)
			before := treeState(t, existing)
			_, err = Restore(ctx, bytes.NewReader(tc.archive), Destination{Home: existing}, RestoreOptions{Force: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("forced restore: error %v, want one saying %q", err, tc.want)
			}
			after := treeState(t, existing)
			if len(after) != len(before) {
				t.Fatalf("a failed restore changed the home:\nbefore %v\nafter  %v", before, after)
			}
			for p, v := range before {
				if after[p] != v {
					t.Fatalf("a failed restore changed %s: %s -> %s", p, v, after[p])
				}
			}
		})
	}
}

func TestRestoreIntoNonEmptyHome(t *testing.T) {
	ctx := context.Background()
	src := newHome(t)
	record(t, src, "acme", 0, 12, true)
	archive, _ := backupHome(t, src)

	dst := newHome(t)
	record(t, dst, "acme", 900, 3, true)
	before := treeState(t, dst)
	_, err := Restore(ctx, bytes.NewReader(archive), Destination{Home: dst}, RestoreOptions{})
	if cavra.Code(err) != cavra.ErrConflict || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("restore into a non-empty home: %v, want a conflict", err)
	}
	after := treeState(t, dst)
	if len(after) != len(before) {
		t.Fatalf("a refused restore changed the home")
	}
	for p, v := range before {
		if after[p] != v {
			t.Fatalf("a refused restore changed %s", p)
		}
	}

	moved := map[string]string{}
	clock := func() time.Time { return time.Date(2026, 11, 25, 13, 14, 15, 0, time.UTC) }
	_, err = Restore(ctx, bytes.NewReader(archive), Destination{Home: dst}, RestoreOptions{Force: true, Clock: clock,
		MovedAside: func(from, to string) { moved[filepath.Base(from)] = filepath.Base(to) }})
	if err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	want := map[string]string{DBName: DBName + ".bak-20261125T131415Z", "keys": "keys.bak-20261125T131415Z", ConfigName: ConfigName + ".bak-20261125T131415Z"}
	for from, to := range want {
		if moved[from] != to {
			t.Errorf("moved aside %v, want %s -> %s", moved, from, to)
		}
	}
	_, wantEntries := verifyHome(t, src, "acme")
	_, gotEntries := verifyHome(t, dst, "acme")
	sameEntries(t, gotEntries, wantEntries)

	// The old installation is kept whole: its database and keys still verify its own log.
	var n int
	if err := openSQL(t, filepath.Join(dst, want[DBName])).QueryRow("SELECT COUNT(*) FROM audit_entries").Scan(&n); err != nil || n != 3 {
		t.Fatalf("moved-aside database holds %d entries (%v), want 3", n, err)
	}
	if _, err := os.Stat(filepath.Join(dst, want["keys"], "keyring.json")); err != nil {
		t.Fatalf("moved-aside keyring: %v", err)
	}

	// A second forced restore in the same second picks a fresh suffix.
	if _, err := Restore(ctx, bytes.NewReader(archive), Destination{Home: dst}, RestoreOptions{Force: true, Clock: clock}); err != nil {
		t.Fatalf("second forced restore: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, DBName+".bak-20261125T131415Z-2")); err != nil {
		t.Fatalf("second forced restore: %v", err)
	}
}

func TestBackupNeedsAnInitialisedHome(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{"no database", func(dir string) error { return os.MkdirAll(dir, 0o700) }, "run cavra init"},
		{"no keyring", func(dir string) error {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, DBName), sqlstore.Options{})
			if err != nil {
				return err
			}
			return st.Close()
		}, "no keyring"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "home")
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, err := Create(context.Background(), &buf, Source{Home: dir}, CreateOptions{})
			if cavra.Code(err) != cavra.ErrNotFound || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("backup: %v, want not found saying %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, DBName+"-wal")); err == nil && tc.name == "no database" {
				t.Fatal("backup created a database")
			}
		})
	}
}
