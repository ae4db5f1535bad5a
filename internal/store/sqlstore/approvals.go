package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cavra-dev/cavra"
)

// Approvals are stored whole as JSON in body; the other columns repeat the facts that queries
// filter and sort on, so the body is never parsed in SQL.

func (s *DB) Approval(ctx context.Context, id string) (a cavra.Approval, err error) {
	err = s.read(ctx, func(c *conn) error { a, err = c.Approval(ctx, id); return err })
	return a, err
}

func (s *DB) Approvals(ctx context.Context, q cavra.ApprovalQuery) (as []cavra.Approval, err error) {
	err = s.read(ctx, func(c *conn) error { as, err = c.Approvals(ctx, q); return err })
	return as, err
}

func (c *conn) decodeApproval(body string) (cavra.Approval, error) {
	var a cavra.Approval
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return a, cavra.Errorf(cavra.ErrInternal, "decode approval: %w", err)
	}
	a.Tenant = c.tenant
	return a, nil
}

func (c *conn) Approval(ctx context.Context, id string) (cavra.Approval, error) {
	var body string
	if err := c.queryRow(ctx, "SELECT body FROM approvals WHERE tenant = ? AND id = ?", c.tenant, id).Scan(&body); err != nil {
		return cavra.Approval{}, classify(err, "get approval %q", id)
	}
	a, err := c.decodeApproval(body)
	if err != nil {
		return a, fmt.Errorf("get approval %q: %w", id, err)
	}
	return a, nil
}

func (c *conn) Approvals(ctx context.Context, q cavra.ApprovalQuery) ([]cavra.Approval, error) {
	where := []string{"tenant = ?"}
	args := []any{c.tenant}
	if q.State != "" {
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	if q.Fingerprint != "" {
		where, args = append(where, "fingerprint = ?"), append(args, q.Fingerprint)
	}
	if q.Workspace != "" {
		where, args = append(where, "workspace = ?"), append(args, q.Workspace)
	}
	if !q.ExpiresBefore.IsZero() {
		where, args = append(where, "expires_at_ns < ?"), append(args, q.ExpiresBefore.UnixNano())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 10000 {
		return nil, cavra.Errorf(cavra.ErrInvalid, "list approvals: limit %d above 10000", limit)
	}
	rows, err := c.query(ctx, "SELECT body FROM approvals WHERE "+strings.Join(where, " AND ")+
		" ORDER BY created_at_ns DESC, id DESC LIMIT "+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, classify(err, "list approvals")
	}
	defer rows.Close()
	var out []cavra.Approval
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, classify(err, "list approvals")
		}
		a, err := c.decodeApproval(body)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "list approvals")
	}
	return out, nil
}

func (c *conn) PutApproval(ctx context.Context, a cavra.Approval) error {
	if a.ID == "" {
		return cavra.Errorf(cavra.ErrInvalid, "put approval: empty id")
	}
	if a.Tenant != "" && a.Tenant != c.tenant {
		return cavra.Errorf(cavra.ErrForbidden, "put approval %s: tenant %q differs from the context's %q", a.ID, a.Tenant, c.tenant)
	}
	if err := c.checkWorkspace(a.Workspace); err != nil {
		return fmt.Errorf("put approval %s: %w", a.ID, err)
	}
	if !a.State.Valid() {
		return cavra.Errorf(cavra.ErrInvalid, "put approval %s: unknown state %q", a.ID, a.State)
	}
	// An approval without a fingerprint would be bound to no action, and a lookup by an empty
	// fingerprint does not filter: refuse it rather than store a grant that matches anything.
	if a.Fingerprint == "" {
		return cavra.Errorf(cavra.ErrInvalid, "put approval %s: empty fingerprint", a.ID)
	}
	a.Tenant = c.tenant
	body, err := json.Marshal(a)
	if err != nil {
		return cavra.Errorf(cavra.ErrInvalid, "put approval %s: encode: %w", a.ID, err)
	}
	_, err = c.exec(ctx, "INSERT INTO approvals (tenant, workspace, id, state, fingerprint, created_at_ns, expires_at_ns, updated_at_ns, body) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET workspace = excluded.workspace, "+
		"state = excluded.state, fingerprint = excluded.fingerprint, created_at_ns = excluded.created_at_ns, "+
		"expires_at_ns = excluded.expires_at_ns, updated_at_ns = excluded.updated_at_ns, body = excluded.body",
		c.tenant, a.Workspace, a.ID, string(a.State), a.Fingerprint, toNanos(a.CreatedAt), toNanos(a.ExpiresAt),
		toNanos(a.UpdatedAt), string(body))
	return classify(err, "put approval %s", a.ID)
}
