package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// Destination is where to restore.
type Destination struct {
	// Home is the data home that receives keys/ and config.yaml, and cavra.db unless
	// PostgresDSN is set.
	Home string
	// PostgresDSN, when set, loads the database into that PostgreSQL database instead.
	PostgresDSN string
	// PostgresSchema is the PostgreSQL schema (sqlstore.Options.Schema), created and migrated
	// when missing; empty uses the DSN's search_path.
	PostgresSchema string
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force restores over an existing installation: the data home's cavra.db, keys and
	// config.yaml are moved aside (renamed with a .bak-<time> suffix), never deleted, and a
	// PostgreSQL destination's tables are truncated inside the loading transaction.
	Force bool
	// Clock dates the moved-aside names; nil means time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
	// MovedAside, when set, is told of each existing file or directory Force moved aside.
	MovedAside func(from, to string)
}

// dbSidecars are SQLite's files beside a database: they belong to it and move with it.
var dbSidecars = []string{"", "-wal", "-shm", "-journal"}

// Restore restores the archive read from r into dst and returns its manifest.
//
// The whole archive is read and checked before the destination changes: it is staged in a
// temporary directory inside the data home, every file's size and SHA-256 must match the
// manifest, and the gzip stream's own checksum must hold, so a corrupted or truncated archive
// changes nothing. Entries with absolute paths, "..", links or names the format does not know
// are rejected. The staged database is then opened, which migrates an older snapshot forward
// and refuses one newer than this build.
//
// A destination that already holds a database, keys or a configuration (or, for PostgreSQL,
// tables with rows) is refused unless opts.Force. Restoring into PostgreSQL needs a role that
// bypasses row-level security, like backing up from it, and loads every table in one
// transaction. Stop other cavra processes using the destination first.
func Restore(ctx context.Context, r io.Reader, dst Destination, opts RestoreOptions) (m Manifest, err error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if dst.Home == "" {
		return m, cavra.Errorf(cavra.ErrInvalid, "restore: no data home")
	}
	toPG := dst.PostgresDSN != ""
	occupied, err := occupiedPaths(dst.Home, toPG)
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if len(occupied) > 0 && !opts.Force {
		return m, cavra.Errorf(cavra.ErrConflict, "restore: %s already holds %s: restore into an empty data home, or pass --force to move them aside",
			dst.Home, strings.Join(occupied, ", "))
	}
	if _, serr := os.Stat(dst.Home); errors.Is(serr, fs.ErrNotExist) {
		if err := os.MkdirAll(dst.Home, 0o700); err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
		defer func() {
			if err != nil {
				os.Remove(dst.Home) //nolint:errcheck // only if still empty: leave no trace of a failed restore
			}
		}()
	}
	staging, err := os.MkdirTemp(dst.Home, ".restore-*")
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(staging)
	if m, err = extract(ctx, r, staging); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := checkSnapshotVersion(ctx, filepath.Join(staging, DBName), m.SchemaVersion); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	lite, err := sqlstore.OpenSQLite(ctx, filepath.Join(staging, DBName), sqlstore.Options{Logger: opts.Logger, Synchronous: "NORMAL", CheckpointInterval: -1})
	if err != nil {
		return m, fmt.Errorf("restore: open the archived database: %w", err)
	}
	if toPG {
		err = restorePostgres(ctx, lite, dst, opts)
	}
	if cerr := lite.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the archived database: %w", cerr)
	}
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := install(dst.Home, staging, !toPG, opts); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	return m, nil
}

func restorePostgres(ctx context.Context, lite *sqlstore.DB, dst Destination, opts RestoreOptions) error {
	pg, err := sqlstore.OpenPostgres(ctx, dst.PostgresDSN, sqlstore.Options{Logger: opts.Logger, Schema: dst.PostgresSchema})
	if err != nil {
		return err
	}
	defer pg.Close()
	return loadPostgres(ctx, lite, pg, opts.Force)
}

// occupiedPaths lists what the data home already holds that a restore would replace.
func occupiedPaths(root string, toPG bool) ([]string, error) {
	names := []string{home.KeysDir, home.ConfigFile}
	if !toPG {
		for _, s := range dbSidecars {
			names = append(names, home.DBFile+s)
		}
	}
	var out []string
	for _, n := range names {
		_, err := os.Lstat(filepath.Join(root, n))
		switch {
		case err == nil:
			out = append(out, n)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	return out, nil
}

// checkSnapshotVersion checks the archived database says what the manifest says.
func checkSnapshotVersion(ctx context.Context, path string, want int) error {
	db, err := openRawSQLite(path)
	if err != nil {
		return fmt.Errorf("open the archived database: %w", err)
	}
	defer db.Close()
	var have int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return cavra.Errorf(cavra.ErrInvalid, "the archived database is not readable: %w", err)
	}
	if have != want {
		return cavra.Errorf(cavra.ErrInvalid, "the archived database has schema version %d but the manifest says %d", have, want)
	}
	return nil
}

// extract reads the archive into dir, checking every file against the manifest.
func extract(ctx context.Context, r io.Reader, dir string) (Manifest, error) {
	var m Manifest
	gz, err := gzip.NewReader(r)
	if err != nil {
		return m, cavra.Errorf(cavra.ErrInvalid, "not a cavra backup (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	if err != nil {
		return m, cavra.Errorf(cavra.ErrInvalid, "read archive: %w", err)
	}
	if hdr.Name != ManifestName || !isRegular(hdr) || hdr.Size > maxManifestSize {
		return m, cavra.Errorf(cavra.ErrInvalid, "not a cavra backup: the first entry is %q, not a %s", hdr.Name, ManifestName)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return m, cavra.Errorf(cavra.ErrInvalid, "read manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, cavra.Errorf(cavra.ErrInvalid, "parse manifest: %w", err)
	}
	want, err := checkManifest(m)
	if err != nil {
		return m, err
	}
	if err := os.Mkdir(filepath.Join(dir, home.KeysDir), 0o700); err != nil {
		return m, err
	}
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, cavra.Errorf(cavra.ErrInvalid, "read archive: %w", err)
		}
		if err := checkEntryName(hdr.Name); err != nil {
			return m, err
		}
		if !isRegular(hdr) {
			return m, cavra.Errorf(cavra.ErrInvalid, "archive entry %q is not a regular file", hdr.Name)
		}
		f, ok := want[hdr.Name]
		if !ok || seen[hdr.Name] {
			return m, cavra.Errorf(cavra.ErrInvalid, "archive entry %q is not in the manifest, or appears twice", hdr.Name)
		}
		seen[hdr.Name] = true
		if hdr.Size != f.Size {
			return m, cavra.Errorf(cavra.ErrInvalid, "archive entry %q is %d bytes but the manifest says %d", hdr.Name, hdr.Size, f.Size)
		}
		if err := stageFile(ctx, tr, filepath.Join(dir, filepath.FromSlash(hdr.Name)), f); err != nil {
			return m, err
		}
	}
	// The gzip trailer's CRC and length are checked only when the stream is read to its end.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return m, cavra.Errorf(cavra.ErrInvalid, "read archive: %w", err)
	}
	for _, name := range sortedNames(want) {
		if !seen[name] {
			return m, cavra.Errorf(cavra.ErrInvalid, "archive lacks %s, which the manifest lists: it is truncated", name)
		}
	}
	return m, nil
}

// isRegular: the reader already reports old writers' TypeRegA entries as TypeReg.
func isRegular(h *tar.Header) bool { return h.Typeflag == tar.TypeReg }

// checkEntryName accepts only the names the format defines: nothing outside the data home,
// nothing nested below keys/.
func checkEntryName(name string) error {
	switch {
	case name == "" || strings.HasPrefix(name, "/") || filepath.IsAbs(name) || strings.Contains(name, `\`):
		return cavra.Errorf(cavra.ErrInvalid, "archive entry %q has an absolute or unsafe path", name)
	case name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
		return cavra.Errorf(cavra.ErrInvalid, "archive entry %q leaves the data home", name)
	case name == DBName || name == ConfigName || name == ManifestName:
		return nil
	case strings.HasPrefix(name, KeysPrefix) && isKeyFileName(strings.TrimPrefix(name, KeysPrefix)):
		return nil
	}
	return cavra.Errorf(cavra.ErrInvalid, "archive entry %q is not a file a cavra backup holds", name)
}

// checkManifest validates the manifest and indexes its files.
func checkManifest(m Manifest) (map[string]File, error) {
	if m.Format < 1 || m.Format > FormatVersion {
		return nil, cavra.Errorf(cavra.ErrInvalid, "backup format %d is not one this build reads (1..%d): upgrade cavra", m.Format, FormatVersion)
	}
	want := map[string]File{}
	for _, f := range m.Files {
		if err := checkEntryName(f.Name); err != nil || f.Name == ManifestName {
			return nil, cavra.Errorf(cavra.ErrInvalid, "manifest lists an unexpected file %q", f.Name)
		}
		if _, dup := want[f.Name]; dup {
			return nil, cavra.Errorf(cavra.ErrInvalid, "manifest lists %q twice", f.Name)
		}
		if sum, err := hex.DecodeString(f.SHA256); err != nil || len(sum) != sha256.Size || f.Size < 0 {
			return nil, cavra.Errorf(cavra.ErrInvalid, "manifest entry %q has a bad size or sha256", f.Name)
		}
		want[f.Name] = f
	}
	for _, required := range []string{DBName, KeysPrefix + keyringJSON} {
		if _, ok := want[required]; !ok {
			return nil, cavra.Errorf(cavra.ErrInvalid, "manifest lists no %s", required)
		}
	}
	return want, nil
}

// stageFile writes one entry to path (mode 0600) and checks its hash.
func stageFile(ctx context.Context, r io.Reader, path string, want File) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("stage %s: %w", want.Name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ctxReader{ctx, r})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cavra.Errorf(cavra.ErrInvalid, "read archive entry %s: %w", want.Name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != want.Size || got != want.SHA256 {
		return cavra.Errorf(cavra.ErrInvalid, "archive entry %s is corrupt: sha256 %s, the manifest says %s", want.Name, got, want.SHA256)
	}
	return nil
}

// install moves the staged files into the data home, first moving aside (Force) what is there.
// A failure part way undoes the renames already made.
func install(root, staging string, withDB bool, opts RestoreOptions) (err error) {
	type rename struct{ from, to string }
	var done []rename
	move := func(from, to string) error {
		if err := os.Rename(from, to); err != nil {
			return err
		}
		done = append(done, rename{from, to})
		return nil
	}
	defer func() {
		if err != nil {
			for i := len(done) - 1; i >= 0; i-- {
				os.Rename(done[i].to, done[i].from) //nolint:errcheck // best effort; the error reported is the first one
			}
		}
	}()
	occupied, err := occupiedPaths(root, !withDB)
	if err != nil {
		return err
	}
	if len(occupied) > 0 {
		if !opts.Force {
			return cavra.Errorf(cavra.ErrConflict, "%s now holds %s", root, strings.Join(occupied, ", "))
		}
		suffix := asideSuffix(root, occupied, opts.Clock())
		for _, n := range occupied {
			// cavra.db-wal becomes cavra.db.bak-T-wal, so the moved database opens with its WAL.
			aside := n + suffix
			if base, side, ok := cutSidecar(n); ok {
				aside = base + suffix + side
			}
			from, to := filepath.Join(root, n), filepath.Join(root, aside)
			if err := move(from, to); err != nil {
				return fmt.Errorf("move aside %s: %w", n, err)
			}
			if opts.MovedAside != nil {
				opts.MovedAside(from, to)
			}
		}
	}
	var names []string
	if withDB {
		for _, s := range dbSidecars {
			names = append(names, home.DBFile+s)
		}
	}
	names = append(names, home.KeysDir, home.ConfigFile)
	for _, n := range names {
		from := filepath.Join(staging, n)
		if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := move(from, filepath.Join(root, n)); err != nil {
			return fmt.Errorf("install %s: %w", n, err)
		}
	}
	if d, err := os.Open(root); err == nil {
		d.Sync() //nolint:errcheck // best effort: the renames are already visible
		d.Close()
	}
	return nil
}

// cutSidecar splits cavra.db-wal into cavra.db and -wal.
func cutSidecar(name string) (string, string, bool) {
	for _, s := range dbSidecars[1:] {
		if base, ok := strings.CutSuffix(name, s); ok && base == home.DBFile {
			return base, s, true
		}
	}
	return "", "", false
}

// asideSuffix is ".bak-<UTC time>", with a counter when that name is taken.
func asideSuffix(root string, names []string, now time.Time) string {
	base := ".bak-" + now.UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		suffix := base
		if i > 1 {
			suffix += "-" + strconv.Itoa(i)
		}
		free := true
		for _, n := range names {
			aside := n + suffix
			if b, side, ok := cutSidecar(n); ok {
				aside = b + suffix + side
			}
			if _, err := os.Lstat(filepath.Join(root, aside)); err == nil {
				free = false
				break
			}
		}
		if free {
			return suffix
		}
	}
}
