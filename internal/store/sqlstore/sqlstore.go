// Package sqlstore implements cavra.Store on SQLite (modernc.org/sqlite, pure Go) and on
// PostgreSQL (pgx v5 through database/sql), with the schema in embedded SQL migrations.
//
// SQLite runs in WAL mode with a busy timeout, and writers take the database lock when their
// transaction begins (BEGIN IMMEDIATE) so two processes never interleave an audit append.
// Durability is chosen by Options.Synchronous: FULL (the default) fsyncs the WAL at every
// commit, so an acknowledged decision survives power loss as well as a killed process; NORMAL
// skips that fsync and survives a killed process (the WAL is in the OS page cache) but may lose
// the last commits on power loss. Group commit in the audit log amortises the fsync.
//
// PostgreSQL enables row-level security on every tenant-scoped table, keyed by the session
// setting app.tenant, which the store sets at the start of each transaction.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cavra-dev/cavra"
)

//go:embed migrations
var migrationFiles embed.FS

// Dialect names a SQL backend.
type Dialect string

// The supported backends.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options tune a store. The zero value is usable.
type Options struct {
	// Logger receives migration and diagnostic messages; nil discards them.
	Logger *slog.Logger
	// Synchronous is SQLite's synchronous pragma: "FULL" (default) or "NORMAL".
	Synchronous string
	// Schema is the PostgreSQL schema to use (created when missing); empty uses the DSN's
	// search_path. Tests use one schema per run.
	Schema string
	// SkipMigrate opens the database without applying migrations; a database whose schema is
	// older than this build then fails to open.
	SkipMigrate bool
	// CacheKiB is SQLite's page cache per connection in KiB; zero keeps SQLite's 2 MiB. A
	// long-lived server gives it more so that index pages stay cached.
	CacheKiB int
	// CheckpointInterval is how often a background goroutine checkpoints SQLite's WAL into the
	// database; zero means DefaultCheckpointInterval, negative disables it.
	CheckpointInterval time.Duration
}

// DefaultCheckpointInterval keeps the WAL short in long-lived processes without putting a
// checkpoint (and its fsync) inside a writer's commit.
const DefaultCheckpointInterval = 250 * time.Millisecond

// walAutocheckpointPages is SQLite's own checkpoint trigger, left only as a backstop for
// processes that die before closing: commits then rarely pay for a checkpoint.
const walAutocheckpointPages = 10000

// DB is a cavra.Store over a SQL database.
type DB struct {
	db      *sql.DB
	dialect Dialect
	logger  *slog.Logger
	// writeMu serialises this process's SQLite writers, so they queue on a mutex rather than
	// spinning in SQLite's busy handler; other processes still wait on the database lock.
	writeMu sync.Mutex
	// stmts caches prepared statements by query text: SQLite parses a statement in
	// microseconds per row of VALUES, more than it takes to insert the row.
	stmts     sync.Map
	stmtCount atomic.Int64
	// stopCheckpoints ends the background WAL checkpointer and waits for it (SQLite only).
	stopCheckpoints func()
}

const maxCachedStmts = 512

// prepared returns the cached prepared statement for query.
func (s *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	if s.stmtCount.Load() >= maxCachedStmts {
		return nil, nil // queries with varying text (limits, IN lists) must not grow it forever
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	s.stmtCount.Add(1)
	return st, nil
}

var _ cavra.Store = (*DB)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path.
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, cavra.Errorf(cavra.ErrInvalid, "open sqlite: empty path")
	}
	sync := strings.ToUpper(opts.Synchronous)
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, cavra.Errorf(cavra.ErrInvalid, "open sqlite: synchronous must be FULL or NORMAL, not %q", opts.Synchronous)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(walAutocheckpointPages)+")")
	if opts.CacheKiB > 0 {
		q.Add("_pragma", "cache_size(-"+strconv.Itoa(opts.CacheKiB)+")")
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := &DB{db: db, dialect: SQLite, logger: loggerOr(opts.Logger)}
	if err := s.init(ctx, opts); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	interval := opts.CheckpointInterval
	if interval == 0 {
		interval = DefaultCheckpointInterval
	}
	if interval > 0 {
		s.startCheckpoints(interval)
	}
	return s, nil
}

// startCheckpoints runs PASSIVE checkpoints every interval: they copy committed WAL frames into
// the database beside running writers, so no commit waits for a checkpoint's fsync. A process
// that lives shorter than one interval (a hook) never runs one; closing its last connection
// checkpoints anyway.
func (s *DB) startCheckpoints(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
					s.logger.Debug("wal checkpoint", "err", err)
				}
			}
		}
	}()
	s.stopCheckpoints = func() { cancel(); <-done }
}

// isSchemaName reports whether s is a plain lower-case identifier: [a-z_][a-z0-9_]{0,62}. (A
// function, not a regexp: package initialisers run in every hook process.)
func isSchemaName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// OpenPostgres connects to the PostgreSQL server at dsn.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "open postgres: parse dsn: %w", err)
	}
	if opts.Schema != "" {
		if !isSchemaName(opts.Schema) {
			return nil, cavra.Errorf(cavra.ErrInvalid, "open postgres: schema %q is not a plain lower-case identifier", opts.Schema)
		}
		cfg.RuntimeParams["search_path"] = opts.Schema
	}
	db := stdlib.OpenDB(*cfg)
	s := &DB{db: db, dialect: Postgres, logger: loggerOr(opts.Logger)}
	if opts.Schema != "" && !opts.SkipMigrate {
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+opts.Schema); err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres: create schema %s: %w", opts.Schema, err)
		}
	}
	if err := s.init(ctx, opts); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Dialect reports the backend.
func (s *DB) Dialect() Dialect { return s.dialect }

// SQL exposes the underlying pool, for tests that tamper with rows and for administration.
func (s *DB) SQL() *sql.DB { return s.db }

// Close closes the pool.
func (s *DB) Close() error {
	if s.stopCheckpoints != nil {
		s.stopCheckpoints()
	}
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

type migration struct {
	version int
	name    string
	sql     string
}

func (s *DB) migrations() ([]migration, error) {
	dir := "migrations/" + string(s.dialect)
	ents, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must run 1, 2, 3... without gaps", m.name)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build expects.
func (s *DB) SchemaVersion() (int, error) {
	ms, err := s.migrations()
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

// init checks the schema version with one cheap query and migrates only when it is behind:
// the hook opens the store once per agent tool call.
func (s *DB) init(ctx context.Context, opts Options) error {
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	want := len(ms)
	have, err := s.currentVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if have == want {
		return nil
	}
	if have > want {
		return cavra.Errorf(cavra.ErrUnavailable, "database schema version %d is newer than this build's %d: upgrade cavra", have, want)
	}
	if opts.SkipMigrate {
		return cavra.Errorf(cavra.ErrUnavailable, "database schema version %d is older than this build's %d and migrations are disabled", have, want)
	}
	return s.migrate(ctx, ms)
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *DB) currentVersion(ctx context.Context, q execQuerier) (int, error) {
	var v int
	switch s.dialect {
	case SQLite:
		if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return 0, fmt.Errorf("read schema version: %w", err)
		}
	case Postgres:
		var exists bool
		if err := q.QueryRowContext(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
			return 0, fmt.Errorf("read schema version: %w", err)
		}
		if !exists {
			return 0, nil
		}
		if err := q.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("read schema version: %w", err)
		}
	}
	return v, nil
}

// migrate applies the missing migrations in one transaction, holding a lock so that two
// processes opening a fresh database do not both migrate.
func (s *DB) migrate(ctx context.Context, ms []migration) error {
	tx, err := s.db.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE takes the write lock
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if s.dialect == Postgres {
		// One lock id for every cavra migration in this database.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7243001)"); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
			return fmt.Errorf("migrate: create schema_version: %w", err)
		}
	}
	have, err := s.currentVersion(ctx, tx)
	if err != nil {
		return err
	}
	for _, m := range ms[min(have, len(ms)):] {
		s.logger.InfoContext(ctx, "applying migration", "dialect", s.dialect, "migration", m.name)
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}
	switch s.dialect {
	case SQLite:
		_, err = tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(ms)))
	case Postgres:
		if _, err = tx.ExecContext(ctx, "DELETE FROM schema_version"); err == nil {
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_version (version) VALUES ($1)", len(ms))
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: record version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// classify maps driver errors onto cavra error codes.
func classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	args = append(args, err)
	code := cavra.ErrInternal
	var pgErr *pgconn.PgError
	var liteErr *sqlite.Error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		code = cavra.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		code = cavra.ErrConflict
	case errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01"):
		code = cavra.ErrConflict
	case errors.As(err, &liteErr) && (liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		code = cavra.ErrConflict
	case errors.As(err, &liteErr) && (liteErr.Code()&0xff == sqlite3.SQLITE_BUSY):
		code = cavra.ErrUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = cavra.ErrUnavailable
	}
	if c := cavra.Code(err); c != cavra.ErrInternal {
		code = c
	}
	return cavra.Errorf(code, format+": %w", args...)
}
