package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/cavra-dev/cavra"
)

// Tokens are looked up by hash before the caller's tenant is known, so the tokens table has no
// row-level security on PostgreSQL and these methods run outside the tenant-scoped read
// transaction. Every query other than the lookup by hash (and the list of tenants) names the
// context's tenant in its WHERE clause.

const tokenCols = "id, tenant, name, role, hash, created_at_ns, expires_at_ns, revoked_at_ns"

func scanToken(sc interface{ Scan(...any) error }) (cavra.Token, error) {
	var (
		t                     cavra.Token
		role                  string
		created, exp, revoked int64
	)
	if err := sc.Scan(&t.ID, &t.Tenant, &t.Name, &role, &t.Hash, &created, &exp, &revoked); err != nil {
		return t, err
	}
	t.Role, t.CreatedAt, t.ExpiresAt, t.RevokedAt = cavra.Role(role), fromNanos(created), fromNanos(exp), fromNanos(revoked)
	return t, nil
}

// pool returns a conn that runs single statements on the pool, outside any transaction.
func (s *DB) pool(tenant string) *conn {
	return &conn{q: s.db, dialect: s.dialect, tenant: tenant, db: s}
}

// tokenWrite runs fn in a transaction for token writes. It sets no app.tenant: the tokens
// table is not under row-level security, and the queries filter by tenant themselves.
func (s *DB) tokenWrite(ctx context.Context, tenant string, fn func(c *conn) error) error {
	if s.dialect == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err, "begin")
	}
	defer tx.Rollback()
	if err := fn(&conn{q: tx, dialect: s.dialect, tenant: tenant, inTx: true, tx: tx, db: s}); err != nil {
		return err
	}
	return classify(tx.Commit(), "commit")
}

// PutToken implements cavra.TokenStore.
func (s *DB) PutToken(ctx context.Context, t cavra.Token) error {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	switch {
	case t.ID == "":
		return cavra.Errorf(cavra.ErrInvalid, "put token: empty id")
	case t.Tenant != "" && t.Tenant != tenant:
		return cavra.Errorf(cavra.ErrForbidden, "put token %s: tenant %q differs from the context's %q", t.ID, t.Tenant, tenant)
	case t.Name == "":
		return cavra.Errorf(cavra.ErrInvalid, "put token %s: empty name", t.ID)
	case !t.Role.Valid():
		return cavra.Errorf(cavra.ErrInvalid, "put token %s: unknown role %q", t.ID, t.Role)
	case len(t.Hash) != sha256.Size:
		return cavra.Errorf(cavra.ErrInvalid, "put token %s: hash is %d bytes, want a %d-byte SHA-256", t.ID, len(t.Hash), sha256.Size)
	}
	return s.tokenWrite(ctx, tenant, func(c *conn) error {
		_, err := c.exec(ctx, "INSERT INTO tokens ("+tokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			t.ID, tenant, t.Name, string(t.Role), t.Hash, toNanos(t.CreatedAt), toNanos(t.ExpiresAt), toNanos(t.RevokedAt))
		return classify(err, "put token %s", t.ID)
	})
}

// TokenByHash implements cavra.TokenStore. It ignores the tenant in ctx.
func (s *DB) TokenByHash(ctx context.Context, hash []byte) (cavra.Token, error) {
	if len(hash) == 0 {
		return cavra.Token{}, cavra.Errorf(cavra.ErrInvalid, "look up token: empty hash")
	}
	c := s.pool("")
	t, err := scanToken(c.queryRow(ctx, "SELECT "+tokenCols+" FROM tokens WHERE hash = ?", hash))
	if err != nil {
		return t, classify(err, "look up token")
	}
	return t, nil
}

// Tokens implements cavra.TokenStore.
func (s *DB) Tokens(ctx context.Context) ([]cavra.Token, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	return s.pool(tenant).tokensWhere(ctx, "tenant = ?", tenant)
}

func (c *conn) tokensWhere(ctx context.Context, where string, args ...any) ([]cavra.Token, error) {
	rows, err := c.query(ctx, "SELECT "+tokenCols+" FROM tokens WHERE "+where+" ORDER BY created_at_ns, id", args...)
	if err != nil {
		return nil, classify(err, "list tokens")
	}
	defer rows.Close()
	var out []cavra.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, classify(err, "list tokens")
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "list tokens")
	}
	return out, nil
}

// RevokeToken implements cavra.TokenStore. An id wins over a name. A name must pick one of the
// tenant's tokens that are not revoked; when none is, a name that belongs to exactly one
// revoked token returns it unchanged, so revoking twice by name is harmless.
func (s *DB) RevokeToken(ctx context.Context, idOrName string, at time.Time) (cavra.Token, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return cavra.Token{}, err
	}
	if idOrName == "" {
		return cavra.Token{}, cavra.Errorf(cavra.ErrInvalid, "revoke token: empty id or name")
	}
	if at.IsZero() {
		return cavra.Token{}, cavra.Errorf(cavra.ErrInvalid, "revoke token %q: zero revocation time", idOrName)
	}
	var out cavra.Token
	err = s.tokenWrite(ctx, tenant, func(c *conn) error {
		id, err := c.resolveToken(ctx, idOrName)
		if err != nil {
			return err
		}
		// revoked_at_ns = 0 keeps the first revocation time when two revocations race.
		if _, err := c.exec(ctx, "UPDATE tokens SET revoked_at_ns = ? WHERE tenant = ? AND id = ? AND revoked_at_ns = 0",
			toNanos(at), tenant, id); err != nil {
			return classify(err, "revoke token %q", idOrName)
		}
		out, err = scanToken(c.queryRow(ctx, "SELECT "+tokenCols+" FROM tokens WHERE tenant = ? AND id = ?", tenant, id))
		return classify(err, "revoke token %q", idOrName)
	})
	return out, err
}

// resolveToken returns the id of the tenant's token named by idOrName.
func (c *conn) resolveToken(ctx context.Context, idOrName string) (string, error) {
	var id string
	err := c.queryRow(ctx, "SELECT id FROM tokens WHERE tenant = ? AND id = ?", c.tenant, idOrName).Scan(&id)
	if err == nil {
		return id, nil
	}
	if err != sql.ErrNoRows {
		return "", classify(err, "revoke token %q", idOrName)
	}
	named, err := c.tokensWhere(ctx, "tenant = ? AND name = ?", c.tenant, idOrName)
	if err != nil {
		return "", fmt.Errorf("revoke token %q: %w", idOrName, err)
	}
	var active []cavra.Token
	for _, t := range named {
		if t.RevokedAt.IsZero() {
			active = append(active, t)
		}
	}
	if len(active) == 0 {
		active = named
	}
	switch len(active) {
	case 0:
		return "", cavra.Errorf(cavra.ErrNotFound, "revoke token %q: no such token", idOrName)
	case 1:
		return active[0].ID, nil
	}
	return "", cavra.Errorf(cavra.ErrInvalid, "revoke token %q: %d tokens have this name; revoke one by id", idOrName, len(active))
}

// TokenTenants implements cavra.TokenStore. It ignores the tenant in ctx.
func (s *DB) TokenTenants(ctx context.Context) ([]string, error) {
	rows, err := s.pool("").query(ctx, "SELECT DISTINCT tenant FROM tokens")
	if err != nil {
		return nil, classify(err, "list token tenants")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, classify(err, "list token tenants")
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "list token tenants")
	}
	// Sorted here, not in SQL: PostgreSQL's collation need not order bytes as Go does.
	sort.Strings(out)
	return out, nil
}
