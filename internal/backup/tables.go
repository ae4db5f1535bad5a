package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// pgVersionTable is the PostgreSQL migration bookkeeping (SQLite keeps it in PRAGMA
// user_version): never copied, each side records its own.
const pgVersionTable = "schema_version"

// quoteIdent quotes an SQL identifier for both dialects.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// sqliteTables lists a SQLite database's own tables, sorted.
func sqliteTables(ctx context.Context, q querier) ([]string, error) {
	ts, err := queryStrings(ctx, q, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list sqlite tables: %w", err)
	}
	return ts, nil
}

func sqliteColumns(ctx context.Context, q querier, table string) ([]string, error) {
	cs, err := queryStrings(ctx, q, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil || len(cs) == 0 {
		return nil, fmt.Errorf("list columns of %s: %v", table, errOr(err, "no columns"))
	}
	return cs, nil
}

// pgTables lists the current schema's tables, sorted, without the migration bookkeeping.
func pgTables(ctx context.Context, q querier) ([]string, error) {
	ts, err := queryStrings(ctx, q, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> $1 ORDER BY table_name`, pgVersionTable)
	if err != nil {
		return nil, fmt.Errorf("list postgres tables: %w", err)
	}
	return ts, nil
}

// pgColumns maps a table's column names to their data types.
func pgColumns(ctx context.Context, q querier, table string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return nil, fmt.Errorf("list columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("list columns of %s: %w", table, err)
		}
		out[name] = typ
	}
	return out, rows.Err()
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// sameTables fails unless both sides hold the same tables: the schema versions match, so a
// difference means a hand-made change that a copy would silently drop.
func sameTables(lite, pg []string) error {
	if slices.Equal(lite, pg) {
		return nil
	}
	return cavra.Errorf(cavra.ErrConflict, "the SQLite snapshot has tables %v but PostgreSQL has %v", lite, pg)
}

// checkBypassRLS fails unless the session's role sees every tenant's rows.
func checkBypassRLS(ctx context.Context, q querier, what string) error {
	var bypass bool
	err := q.QueryRowContext(ctx, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&bypass)
	if err != nil {
		return fmt.Errorf("check the postgres role: %w", err)
	}
	if !bypass {
		return cavra.Errorf(cavra.ErrForbidden, "%s PostgreSQL needs a role that bypasses row-level security (a superuser or BYPASSRLS), or it would see only some tenants' rows", what)
	}
	return nil
}

func pgSchemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "SELECT version FROM "+pgVersionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read postgres schema version: %w", err)
	}
	return v, nil
}

// snapshotPostgres copies every table of the PostgreSQL source, in one REPEATABLE READ READ ONLY
// transaction, into a SQLite database made by sqlstore (same schema version), then compacts that
// into snap with VACUUM INTO so the archive holds one self-contained file.
func snapshotPostgres(ctx context.Context, src Source, tmp, snap string, logger *slog.Logger) error {
	pg, err := sqlstore.OpenPostgres(ctx, src.PostgresDSN, sqlstore.Options{Logger: logger, Schema: src.PostgresSchema, SkipMigrate: true})
	if err != nil {
		return err
	}
	defer pg.Close()
	build := filepath.Join(tmp, "build.db")
	lite, err := sqlstore.OpenSQLite(ctx, build, sqlstore.Options{Logger: logger, Synchronous: "NORMAL", CheckpointInterval: -1})
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	defer lite.Close()
	want, err := lite.SchemaVersion()
	if err != nil {
		return err
	}

	tx, err := pg.SQL().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin postgres snapshot: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	if err := checkBypassRLS(ctx, tx, "backing up"); err != nil {
		return err
	}
	have, err := pgSchemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if have != want {
		return cavra.Errorf(cavra.ErrConflict, "postgres schema version %d differs from this build's %d: back up with the cavra that matches the database", have, want)
	}
	liteTables, err := sqliteTables(ctx, lite.SQL())
	if err != nil {
		return err
	}
	pgTabs, err := pgTables(ctx, tx)
	if err != nil {
		return err
	}
	if err := sameTables(liteTables, pgTabs); err != nil {
		return err
	}
	ltx, err := lite.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin snapshot write: %w", err)
	}
	defer ltx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, table := range liteTables {
		if err := copyPGTable(ctx, tx, ltx, table); err != nil {
			return err
		}
	}
	if err := ltx.Commit(); err != nil {
		return fmt.Errorf("commit snapshot: %w", err)
	}
	if _, err := lite.SQL().ExecContext(ctx, "VACUUM INTO ?", snap); err != nil {
		return fmt.Errorf("compact snapshot: %w", err)
	}
	return nil
}

// copyPGTable copies one table's rows from PostgreSQL into the SQLite snapshot.
func copyPGTable(ctx context.Context, from *sql.Tx, to *sql.Tx, table string) error {
	cols, err := sqliteColumns(ctx, to, table)
	if err != nil {
		return err
	}
	pgCols, err := pgColumns(ctx, from, table)
	if err != nil {
		return err
	}
	if len(pgCols) != len(cols) {
		return cavra.Errorf(cavra.ErrConflict, "table %s has columns %v in SQLite but %d in PostgreSQL", table, cols, len(pgCols))
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		if _, ok := pgCols[c]; !ok {
			return cavra.Errorf(cavra.ErrConflict, "table %s: PostgreSQL has no column %s", table, c)
		}
		quoted[i] = quoteIdent(c)
	}
	list := strings.Join(quoted, ", ")
	rows, err := from.QueryContext(ctx, "SELECT "+list+" FROM "+quoteIdent(table))
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	ins, err := to.PrepareContext(ctx, "INSERT INTO "+quoteIdent(table)+" ("+list+") VALUES (?"+strings.Repeat(", ?", len(cols)-1)+")")
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	defer ins.Close()
	vals, ptrs := make([]any, len(cols)), make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	return nil
}

// loadPostgres copies every table of the SQLite snapshot into the PostgreSQL store in one
// transaction. The schema must be empty unless force, which truncates it first.
func loadPostgres(ctx context.Context, lite, pg *sqlstore.DB, force bool) error {
	if err := checkBypassRLS(ctx, pg.SQL(), "restoring into"); err != nil {
		return err
	}
	tables, err := sqliteTables(ctx, lite.SQL())
	if err != nil {
		return err
	}
	conn, err := pg.SQL().Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres driver connection is a %T", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin restore: %w", err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		if err := loadPGTx(ctx, lite.SQL(), tx, tables, force); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit restore: %w", err)
		}
		return nil
	})
}

func loadPGTx(ctx context.Context, lite *sql.DB, tx pgx.Tx, tables []string, force bool) error {
	pgTabs, err := pgxStrings(ctx, tx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> $1 ORDER BY table_name`, pgVersionTable)
	if err != nil {
		return fmt.Errorf("list postgres tables: %w", err)
	}
	if err := sameTables(tables, pgTabs); err != nil {
		return err
	}
	var occupied []string
	for _, t := range tables {
		var has bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+quoteIdent(t)+")").Scan(&has); err != nil {
			return fmt.Errorf("check %s is empty: %w", t, err)
		}
		if has {
			occupied = append(occupied, t)
		}
	}
	if len(occupied) > 0 {
		if !force {
			return cavra.Errorf(cavra.ErrConflict, "postgres tables %s already hold rows: restore into an empty schema, or force to replace them", strings.Join(occupied, ", "))
		}
		quoted := make([]string, len(tables))
		for i, t := range tables {
			quoted[i] = quoteIdent(t)
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(quoted, ", ")); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	for _, t := range tables {
		if err := copyToPG(ctx, lite, tx, t); err != nil {
			return err
		}
	}
	return nil
}

func pgxStrings(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// copyToPG streams one table from the snapshot into PostgreSQL with COPY.
func copyToPG(ctx context.Context, lite *sql.DB, tx pgx.Tx, table string) error {
	cols, err := sqliteColumns(ctx, lite, table)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return fmt.Errorf("list columns of %s: %w", table, err)
	}
	types := map[string]string{}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error { types[name] = typ; return nil }); err != nil {
		return fmt.Errorf("list columns of %s: %w", table, err)
	}
	if len(types) != len(cols) {
		return cavra.Errorf(cavra.ErrConflict, "table %s has columns %v in the snapshot but %d in PostgreSQL", table, cols, len(types))
	}
	colTypes := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		t, ok := types[c]
		if !ok {
			return cavra.Errorf(cavra.ErrConflict, "table %s: PostgreSQL has no column %s", table, c)
		}
		colTypes[i], quoted[i] = t, quoteIdent(c)
	}
	src, err := lite.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+quoteIdent(table))
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", table, err)
	}
	defer src.Close()
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, &liteRows{rows: src, types: colTypes}); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// liteRows feeds SQLite rows to COPY, converting what SQLite's loose typing allows (text in a
// BLOB column, bytes in a TEXT one) to the PostgreSQL column's type.
type liteRows struct {
	rows  *sql.Rows
	types []string
	vals  []any
	err   error
}

func (r *liteRows) Next() bool {
	if !r.rows.Next() {
		return false
	}
	vals, ptrs := make([]any, len(r.types)), make([]any, len(r.types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if r.err = r.rows.Scan(ptrs...); r.err != nil {
		return false
	}
	for i, v := range vals {
		switch x := v.(type) {
		case string:
			if r.types[i] == "bytea" {
				vals[i] = []byte(x)
			}
		case []byte:
			if r.types[i] == "text" || r.types[i] == "character varying" || r.types[i] == "character" {
				vals[i] = string(x)
			}
		case int64:
			if r.types[i] == "boolean" {
				vals[i] = x != 0
			}
		}
	}
	r.vals = vals
	return true
}

func (r *liteRows) Values() ([]any, error) { return r.vals, nil }

func (r *liteRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

// sortedNames returns m's file names in order, for messages.
func sortedNames(m map[string]File) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
