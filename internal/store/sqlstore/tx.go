package sqlstore

import (
	"context"
	"database/sql"

	"github.com/cavra-dev/cavra"
)

// tenantOf validates the tenant in ctx: ids become note text and path-like names, so they must
// be printable and short.
func tenantOf(ctx context.Context) (string, error) {
	t := cavra.TenantFrom(ctx)
	if len(t) > 128 {
		return "", cavra.Errorf(cavra.ErrInvalid, "tenant id longer than 128 bytes")
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f {
			return "", cavra.Errorf(cavra.ErrInvalid, "tenant id %q contains a space or control character", t)
		}
	}
	return t, nil
}

// read runs fn outside Update. SQLite reads run on the pool directly; PostgreSQL reads run in
// a read-only transaction so that app.tenant (and with it row-level security) applies.
func (s *DB) read(ctx context.Context, fn func(c *conn) error) error {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	if s.dialect == SQLite {
		return fn(&conn{q: s.db, dialect: s.dialect, tenant: tenant, db: s})
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return classify(err, "begin read")
	}
	defer tx.Rollback()
	c := &conn{q: tx, dialect: s.dialect, tenant: tenant}
	if _, err := c.exec(ctx, "SELECT set_config('app.tenant', ?, true)", tenant); err != nil {
		return classify(err, "set tenant")
	}
	if err := fn(c); err != nil {
		return err
	}
	return classify(tx.Commit(), "end read")
}

// Update implements cavra.Store.
func (s *DB) Update(ctx context.Context, fn func(ctx context.Context, tx cavra.StoreTx) error) error {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	if s.dialect == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err, "begin")
	}
	defer tx.Rollback()
	c := &conn{q: tx, dialect: s.dialect, tenant: tenant, inTx: true, tx: tx, db: s}
	if s.dialect == Postgres {
		if _, err := c.exec(ctx, "SELECT set_config('app.tenant', ?, true)", tenant); err != nil {
			return classify(err, "set tenant")
		}
	}
	if err := fn(ctx, c); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return classify(err, "commit")
	}
	return nil
}

func (s *DB) Decision(ctx context.Context, id string) (r cavra.DecisionRecord, err error) {
	err = s.read(ctx, func(c *conn) error { r, err = c.Decision(ctx, id); return err })
	return r, err
}

func (s *DB) Decisions(ctx context.Context, q cavra.DecisionQuery) (r []cavra.DecisionRecord, err error) {
	err = s.read(ctx, func(c *conn) error { r, err = c.Decisions(ctx, q); return err })
	return r, err
}

func (s *DB) AuditHead(ctx context.Context) (h cavra.AuditHead, err error) {
	err = s.read(ctx, func(c *conn) error { h, err = c.AuditHead(ctx); return err })
	return h, err
}

func (s *DB) AuditEntry(ctx context.Context, index uint64) (e cavra.AuditEntry, err error) {
	err = s.read(ctx, func(c *conn) error { e, err = c.AuditEntry(ctx, index); return err })
	return e, err
}

func (s *DB) AuditEntryByID(ctx context.Context, id string) (e cavra.AuditEntry, err error) {
	err = s.read(ctx, func(c *conn) error { e, err = c.AuditEntryByID(ctx, id); return err })
	return e, err
}

func (s *DB) ScanAuditEntries(ctx context.Context, from, to uint64, fn func(cavra.AuditEntry) error) error {
	return s.read(ctx, func(c *conn) error { return c.ScanAuditEntries(ctx, from, to, fn) })
}

func (s *DB) TreeNodes(ctx context.Context, ids []cavra.TreeNodeID) (h [][]byte, err error) {
	err = s.read(ctx, func(c *conn) error { h, err = c.TreeNodes(ctx, ids); return err })
	return h, err
}

func (s *DB) ScanTreeNodes(ctx context.Context, level uint, from, to uint64, fn func(cavra.TreeNode) error) error {
	return s.read(ctx, func(c *conn) error { return c.ScanTreeNodes(ctx, level, from, to, fn) })
}

func (s *DB) LatestCheckpoint(ctx context.Context) (cp cavra.Checkpoint, err error) {
	err = s.read(ctx, func(c *conn) error { cp, err = c.LatestCheckpoint(ctx); return err })
	return cp, err
}

func (s *DB) CheckpointBySeq(ctx context.Context, seq uint64) (cp cavra.Checkpoint, err error) {
	err = s.read(ctx, func(c *conn) error { cp, err = c.CheckpointBySeq(ctx, seq); return err })
	return cp, err
}

func (s *DB) ScanCheckpoints(ctx context.Context, fn func(cavra.Checkpoint) error) error {
	return s.read(ctx, func(c *conn) error { return c.ScanCheckpoints(ctx, fn) })
}
