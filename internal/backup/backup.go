// Package backup writes and restores consistent, online backups of a CAVRA installation: the
// store (SQLite or PostgreSQL), the keyring and the configuration, in one gzip'd tar archive.
//
// An archive holds, in this order:
//
//	manifest.json  format version, cavra version, creation time, schema version, every file's
//	               size and SHA-256, and each tenant's audit head (size, latest checkpoint)
//	cavra.db       a SQLite snapshot of the whole store, every tenant
//	keys/...       the keyring directory's files (private keys included)
//	config.yaml    the data home's configuration, when there is one
//
// The database is always carried as a SQLite snapshot, whatever the source, so one archive can
// be restored into either backend. Tables are copied generically, listed from the schema
// catalogue, so a table added by a later migration is backed up without code changes.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, for opening a source without migrating it

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// FormatVersion is the archive format this build writes; Restore reads it and older ones.
const FormatVersion = 1

// Names inside an archive.
const (
	ManifestName = "manifest.json"
	DBName       = home.DBFile
	ConfigName   = home.ConfigFile
	KeysPrefix   = home.KeysDir + "/"
)

// Keyring files that are never copied: the lock file is empty and per-host, and temporary
// files are half-written keyrings (see keys.Keyring.save).
const (
	keyringJSON = "keyring.json"
	keyringLock = "keyring.lock"
)

// maxManifestSize bounds the manifest read into memory.
const maxManifestSize = 1 << 20

// isKeyFileName reports what a file directly inside keys/ may be called: an ASCII letter or
// digit, then up to 127 letters, digits, dots, underscores and hyphens. (A function, not a
// regexp: package initialisers run in every hook process.)
func isKeyFileName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// Manifest describes an archive.
type Manifest struct {
	Format        int       `json:"format"`
	CavraVersion  string    `json:"cavra_version"`
	CreatedAt     time.Time `json:"created_at"`
	SchemaVersion int       `json:"schema_version"`
	// Source is the backend the snapshot was taken from: "sqlite" or "postgres".
	Source  string   `json:"source"`
	Files   []File   `json:"files"`
	Tenants []Tenant `json:"tenants"`
}

// File is one file of an archive.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Mode   uint32 `json:"mode"`
}

// Tenant is one tenant's audit head at the moment of the snapshot.
type Tenant struct {
	Tenant         string `json:"tenant"`
	Entries        uint64 `json:"entries"`
	CheckpointSeq  uint64 `json:"checkpoint_seq"`
	CheckpointSize uint64 `json:"checkpoint_size"`
}

// Totals sums the tenants' entries and checkpoints (checkpoints are numbered 1, 2, 3... without
// gaps, so a tenant's latest seq is its count).
func (m Manifest) Totals() (tenants int, entries, checkpoints uint64) {
	for _, t := range m.Tenants {
		entries += t.Entries
		checkpoints += t.CheckpointSeq
	}
	return len(m.Tenants), entries, checkpoints
}

// Source is what to back up.
type Source struct {
	// Home is the data home: its keys/ and config.yaml are always copied, and its cavra.db
	// unless PostgresDSN is set.
	Home string
	// PostgresDSN, when set, backs up that PostgreSQL database instead of the home's SQLite.
	PostgresDSN string
	// PostgresSchema is the PostgreSQL schema (sqlstore.Options.Schema); empty uses the DSN's
	// search_path.
	PostgresSchema string
}

// CreateOptions tune Create.
type CreateOptions struct {
	// CavraVersion is recorded in the manifest.
	CavraVersion string
	// Clock stamps the manifest; nil means time.Now.
	Clock func() time.Time
	// TempDir holds the snapshot while it is archived; empty means the OS default.
	TempDir string
	Logger  *slog.Logger
}

// Create writes a backup archive of src to w and returns its manifest.
//
// A SQLite source is copied with VACUUM INTO, which reads one consistent snapshot while other
// processes keep appending. A PostgreSQL source is copied table by table inside one REPEATABLE
// READ READ ONLY transaction, which likewise sees one point in time, into a fresh SQLite
// snapshot made by sqlstore.OpenSQLite; the database's schema version must equal this build's.
// Row-level security hides every tenant's rows from a plain role, so a PostgreSQL backup needs a
// role that bypasses it (a superuser or one with BYPASSRLS); Create refuses any other role
// rather than write an archive that silently lacks tenants.
//
// The keyring is copied after the database, and keyring.json before the key files: keys are
// only ever added, so every key that signed a checkpoint in the snapshot is in the archive and
// every key keyring.json names has its file.
func Create(ctx context.Context, w io.Writer, src Source, opts CreateOptions) (Manifest, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := Manifest{Format: FormatVersion, CavraVersion: opts.CavraVersion, CreatedAt: opts.Clock().UTC(), Source: string(sqlstore.SQLite)}
	if src.Home == "" {
		return m, cavra.Errorf(cavra.ErrInvalid, "backup: no data home")
	}
	layout := home.Layout{Root: src.Home}
	tmp, err := os.MkdirTemp(opts.TempDir, "cavra-backup-*")
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, DBName)
	if src.PostgresDSN != "" {
		m.Source = string(sqlstore.Postgres)
		err = snapshotPostgres(ctx, src, tmp, snap, opts.Logger)
	} else {
		err = snapshotSQLite(ctx, layout.DBPath(), snap)
	}
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if m.SchemaVersion, m.Tenants, err = describeSnapshot(ctx, snap); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	keyFiles, err := readKeys(layout.KeysDir())
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	var config *memFile
	if data, err := os.ReadFile(layout.ConfigPath()); err == nil {
		config = &memFile{name: ConfigName, data: data, mode: 0o600}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("backup: read config: %w", err)
	}

	dbFile, err := hashFile(snap)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	dbFile.Name, dbFile.Mode = DBName, 0o600
	m.Files = append(m.Files, dbFile)
	for _, f := range keyFiles {
		m.Files = append(m.Files, f.entry())
	}
	if config != nil {
		m.Files = append(m.Files, config.entry())
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("backup: encode manifest: %w", err)
	}

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	header := func(name string, size int64, mode uint32) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: int64(mode), ModTime: m.CreatedAt, Format: tar.FormatPAX})
	}
	if err := header(ManifestName, int64(len(manifest)), 0o600); err != nil {
		return m, fmt.Errorf("backup: write archive: %w", err)
	}
	if _, err := tw.Write(manifest); err != nil {
		return m, fmt.Errorf("backup: write archive: %w", err)
	}
	if err := header(DBName, dbFile.Size, dbFile.Mode); err != nil {
		return m, fmt.Errorf("backup: write archive: %w", err)
	}
	if err := copySnapshot(ctx, tw, snap, dbFile); err != nil {
		return m, fmt.Errorf("backup: write archive: %w", err)
	}
	if config != nil {
		keyFiles = append(keyFiles, *config)
	}
	for _, f := range keyFiles {
		if err := header(f.name, int64(len(f.data)), f.mode); err != nil {
			return m, fmt.Errorf("backup: write archive: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return m, fmt.Errorf("backup: write archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return m, fmt.Errorf("backup: write archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return m, fmt.Errorf("backup: write archive: %w", err)
	}
	return m, nil
}

// memFile is a small file held in memory (a key, the keyring, the config).
type memFile struct {
	name string
	data []byte
	mode uint32
}

func (f memFile) entry() File {
	sum := sha256.Sum256(f.data)
	return File{Name: f.name, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:]), Mode: f.mode}
}

// openRawSQLite opens a SQLite file without sqlstore's migrations, so a backup never changes
// the database it copies, whatever its schema version.
func openRawSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	return sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
}

// snapshotSQLite copies the database at path into snap with VACUUM INTO: one read transaction,
// so writers in other connections and processes carry on and the copy is a single point in time.
func snapshotSQLite(ctx context.Context, path, snap string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return cavra.Errorf(cavra.ErrNotFound, "no database at %s (run cavra init)", path)
	} else if err != nil {
		return err
	}
	db, err := openRawSQLite(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", snap); err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	return nil
}

// describeSnapshot reads the snapshot's schema version and its tenants' audit heads.
func describeSnapshot(ctx context.Context, snap string) (int, []Tenant, error) {
	db, err := openRawSQLite(snap)
	if err != nil {
		return 0, nil, fmt.Errorf("open snapshot: %w", err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, nil, fmt.Errorf("read snapshot schema version: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT tenant, size, cp_seq, cp_size FROM audit_heads ORDER BY tenant")
	if err != nil {
		return 0, nil, fmt.Errorf("read audit heads: %w", err)
	}
	defer rows.Close()
	tenants := []Tenant{}
	for rows.Next() {
		var t Tenant
		if err := rows.Scan(&t.Tenant, &t.Entries, &t.CheckpointSeq, &t.CheckpointSize); err != nil {
			return 0, nil, fmt.Errorf("read audit heads: %w", err)
		}
		tenants = append(tenants, t)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("read audit heads: %w", err)
	}
	return version, tenants, nil
}

// readKeys reads the keyring directory: keyring.json first, then the key files (see Create).
func readKeys(dir string) ([]memFile, error) {
	first, err := os.ReadFile(filepath.Join(dir, keyringJSON))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, cavra.Errorf(cavra.ErrNotFound, "no keyring in %s (run cavra init)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	out := []memFile{{name: KeysPrefix + keyringJSON, data: first, mode: 0o600}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if name == keyringJSON || name == keyringLock || strings.Contains(name, ".tmp-") {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, cavra.Errorf(cavra.ErrInvalid, "keyring %s holds %s, which is not a regular file", dir, name)
		}
		if !isKeyFileName(name) {
			return nil, cavra.Errorf(cavra.ErrInvalid, "keyring %s holds a file with an unexpected name %q", dir, name)
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("read keyring: %w", err)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read keyring: %w", err)
		}
		out = append(out, memFile{name: KeysPrefix + name, data: data, mode: uint32(info.Mode().Perm())})
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].name < out[1+j].name })
	return out, nil
}

// hashFile returns a file's size and SHA-256.
func hashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// copySnapshot writes the snapshot into the archive, checking it is still what was hashed.
func copySnapshot(ctx context.Context, w io.Writer, path string, want File) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(ctxReader{ctx, f}, want.Size))
	if err != nil {
		return err
	}
	if n != want.Size || hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		return errors.New("the snapshot changed while it was archived")
	}
	return nil
}

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
