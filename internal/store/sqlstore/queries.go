package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cavra-dev/cavra"
)

// maxLevel bounds tree levels so that level<<56|index packs into a non-negative int64.
const (
	levelShift = 56
	maxIndex   = 1<<levelShift - 1
	maxLevel   = 63
	// rowsPerInsert keeps multi-row inserts well under both backends' parameter limits.
	rowsPerInsert = 250
)

func packNode(id cavra.TreeNodeID) (int64, error) {
	if id.Level > maxLevel || id.Index > maxIndex {
		return 0, cavra.Errorf(cavra.ErrInvalid, "tree node (%d, %d) out of range", id.Level, id.Index)
	}
	return int64(id.Level)<<levelShift | int64(id.Index), nil
}

func unpackNode(v int64) cavra.TreeNodeID {
	return cavra.TreeNodeID{Level: uint(v >> levelShift), Index: uint64(v) & maxIndex}
}

// conn runs one store operation's queries for one tenant.
type conn struct {
	q       execQuerier
	dialect Dialect
	tenant  string
	inTx    bool
	tx      *sql.Tx // inside Update
	db      *DB
}

// rebind turns ? placeholders into PostgreSQL's $n. No query here has a ? inside a literal.
func (c *conn) rebind(query string) string {
	if c.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stmt returns a cached prepared statement for query on SQLite, bound to the transaction
// when there is one; nil when the query should run unprepared (PostgreSQL, whose driver keeps
// its own statement cache, or a full cache).
func (c *conn) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.dialect != SQLite || c.db == nil {
		return nil
	}
	st, err := c.db.prepared(ctx, query)
	if err != nil || st == nil {
		return nil // the unprepared path reports the error with its context
	}
	if c.tx != nil {
		return c.tx.StmtContext(ctx, st) // closed with the transaction
	}
	return st
}

func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, c.rebind(query), args...)
}

func (c *conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.q.QueryContext(ctx, c.rebind(query), args...)
}

func (c *conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.q.QueryRowContext(ctx, c.rebind(query), args...)
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func checkIndex(i uint64) (int64, error) {
	if i > 1<<62 {
		return 0, cavra.Errorf(cavra.ErrInvalid, "index %d out of range", i)
	}
	return int64(i), nil
}

// decisionCols reads a decision row with the record of its audit entry, which holds the action
// and the decision (see cavra.DecisionRecord).
const decisionCols = "d.id, d.workspace, d.audit_index, d.recorded_at_ns, e.record"

const decisionFrom = " FROM decisions d LEFT JOIN audit_entries e ON e.tenant = d.tenant AND e.idx = d.audit_index"

func (c *conn) scanDecision(sc interface{ Scan(...any) error }) (cavra.DecisionRecord, error) {
	var (
		r                    cavra.DecisionRecord
		auditIndex, recorded int64
		record               []byte
	)
	if err := sc.Scan(&r.ID, &r.Workspace, &auditIndex, &recorded, &record); err != nil {
		return r, err
	}
	r.Tenant = c.tenant
	r.AuditIndex = uint64(auditIndex)
	r.RecordedAt = fromNanos(recorded)
	if record == nil {
		return r, cavra.Errorf(cavra.ErrInternal, "decision %s: its audit entry %d is missing", r.ID, auditIndex)
	}
	var env struct {
		Body *cavra.DecisionEvidence `json:"body"`
	}
	if err := json.Unmarshal(record, &env); err != nil || env.Body == nil {
		return r, cavra.Errorf(cavra.ErrInternal, "decision %s: audit entry %d does not hold a decision", r.ID, auditIndex)
	}
	r.Action, r.Decision = env.Body.Action, env.Body.Decision
	return r, nil
}

func (c *conn) Decision(ctx context.Context, id string) (cavra.DecisionRecord, error) {
	row := c.queryRow(ctx, "SELECT "+decisionCols+decisionFrom+" WHERE d.tenant = ? AND d.id = ?", c.tenant, id)
	r, err := c.scanDecision(row)
	if err != nil {
		return r, classify(err, "get decision %q", id)
	}
	return r, nil
}

func (c *conn) Decisions(ctx context.Context, q cavra.DecisionQuery) ([]cavra.DecisionRecord, error) {
	where := []string{"d.tenant = ?"}
	args := []any{c.tenant}
	if q.Workspace != "" {
		where, args = append(where, "d.workspace = ?"), append(args, q.Workspace)
	}
	if q.Outcome != "" {
		where, args = append(where, "d.outcome = ?"), append(args, string(q.Outcome))
	}
	if !q.Since.IsZero() {
		where, args = append(where, "d.recorded_at_ns >= ?"), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "d.recorded_at_ns < ?"), append(args, q.Until.UnixNano())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 10000 {
		return nil, cavra.Errorf(cavra.ErrInvalid, "list decisions: limit %d above 10000", limit)
	}
	rows, err := c.query(ctx, "SELECT "+decisionCols+decisionFrom+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY d.recorded_at_ns DESC, d.audit_index DESC LIMIT "+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, classify(err, "list decisions")
	}
	defer rows.Close()
	var out []cavra.DecisionRecord
	for rows.Next() {
		r, err := c.scanDecision(rows)
		if err != nil {
			return nil, classify(err, "list decisions")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "list decisions")
	}
	return out, nil
}

func (c *conn) AuditHead(ctx context.Context) (cavra.AuditHead, error) {
	var h cavra.AuditHead
	query := "SELECT size, cp_seq, cp_size, cp_at_ns FROM audit_heads WHERE tenant = ?"
	if c.inTx && c.dialect == Postgres {
		// Lock the head so that concurrent appenders of this tenant queue here.
		if _, err := c.exec(ctx, "INSERT INTO audit_heads (tenant, size, cp_seq, cp_size, cp_at_ns) VALUES (?, 0, 0, 0, 0) ON CONFLICT (tenant) DO NOTHING", c.tenant); err != nil {
			return h, classify(err, "lock audit head")
		}
		query += " FOR UPDATE"
	}
	var size, seq, cpSize, cpAt int64
	err := c.queryRow(ctx, query, c.tenant).Scan(&size, &seq, &cpSize, &cpAt)
	if err == sql.ErrNoRows {
		return h, nil
	}
	if err != nil {
		return h, classify(err, "read audit head")
	}
	return cavra.AuditHead{Size: uint64(size), CheckpointSeq: uint64(seq), CheckpointSize: uint64(cpSize), CheckpointAt: fromNanos(cpAt)}, nil
}

const entryCols = "idx, id, workspace, type, time_ns, record, leaf_hash"

func (c *conn) scanEntry(sc interface{ Scan(...any) error }) (cavra.AuditEntry, error) {
	var (
		e       cavra.AuditEntry
		idx, ts int64
		typ     string
	)
	if err := sc.Scan(&idx, &e.ID, &e.Workspace, &typ, &ts, &e.Record, &e.LeafHash); err != nil {
		return e, err
	}
	e.Index, e.Type, e.Time, e.Tenant = uint64(idx), cavra.RecordType(typ), fromNanos(ts), c.tenant
	return e, nil
}

func (c *conn) AuditEntry(ctx context.Context, index uint64) (cavra.AuditEntry, error) {
	i, err := checkIndex(index)
	if err != nil {
		return cavra.AuditEntry{}, err
	}
	e, err := c.scanEntry(c.queryRow(ctx, "SELECT "+entryCols+" FROM audit_entries WHERE tenant = ? AND idx = ?", c.tenant, i))
	if err != nil {
		return e, classify(err, "get audit entry %d", index)
	}
	return e, nil
}

func (c *conn) AuditEntryByID(ctx context.Context, id string) (cavra.AuditEntry, error) {
	e, err := c.scanEntry(c.queryRow(ctx, "SELECT "+entryCols+" FROM audit_entries WHERE tenant = ? AND id = ?", c.tenant, id))
	if err != nil {
		return e, classify(err, "get audit entry %q", id)
	}
	return e, nil
}

func (c *conn) ScanAuditEntries(ctx context.Context, from, to uint64, fn func(cavra.AuditEntry) error) error {
	f, err := checkIndex(from)
	if err != nil {
		return err
	}
	t, err := checkIndex(min(to, 1<<62))
	if err != nil {
		return err
	}
	rows, err := c.query(ctx, "SELECT "+entryCols+" FROM audit_entries WHERE tenant = ? AND idx >= ? AND idx < ? ORDER BY idx", c.tenant, f, t)
	if err != nil {
		return classify(err, "scan audit entries")
	}
	defer rows.Close()
	for rows.Next() {
		e, err := c.scanEntry(rows)
		if err != nil {
			return classify(err, "scan audit entries")
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "scan audit entries")
	}
	return nil
}

func (c *conn) TreeNodes(ctx context.Context, ids []cavra.TreeNodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]int64, len(ids))
	args := make([]any, 0, len(ids)+1)
	args = append(args, c.tenant)
	for i, id := range ids {
		k, err := packNode(id)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		args = append(args, k)
	}
	// Level-0 nodes are the leaves: their hashes live in audit_entries, whose idx equals the
	// packed id of a level-0 node. One query serves both, keeping a proof to one round trip.
	var leafArgs []any
	for _, k := range keys {
		if k>>levelShift == 0 {
			leafArgs = append(leafArgs, k)
		}
	}
	query := "SELECT node, hash FROM tree_nodes WHERE tenant = ? AND node IN (" + placeholders(len(ids)) + ")"
	if len(leafArgs) > 0 {
		query += " UNION ALL SELECT idx, leaf_hash FROM audit_entries WHERE tenant = ? AND idx IN (" + placeholders(len(leafArgs)) + ")"
		args = append(append(args, c.tenant), leafArgs...)
	}
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, classify(err, "read tree nodes")
	}
	defer rows.Close()
	found := make(map[int64][]byte, len(ids))
	for rows.Next() {
		var k int64
		var h []byte
		if err := rows.Scan(&k, &h); err != nil {
			return nil, classify(err, "read tree nodes")
		}
		found[k] = h
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "read tree nodes")
	}
	out := make([][]byte, len(ids))
	for i, k := range keys {
		h, ok := found[k]
		if !ok {
			return nil, cavra.Errorf(cavra.ErrNotFound, "tree node (level %d, index %d) is missing", ids[i].Level, ids[i].Index)
		}
		out[i] = h
	}
	return out, nil
}

func (c *conn) ScanTreeNodes(ctx context.Context, level uint, from, to uint64, fn func(cavra.TreeNode) error) error {
	if from >= to {
		return nil
	}
	lo, err := packNode(cavra.TreeNodeID{Level: level, Index: from})
	if err != nil {
		return err
	}
	hi, err := packNode(cavra.TreeNodeID{Level: level, Index: min(to-1, maxIndex)})
	if err != nil {
		return err
	}
	rows, err := c.query(ctx, "SELECT node, hash FROM tree_nodes WHERE tenant = ? AND node >= ? AND node <= ? ORDER BY node", c.tenant, lo, hi)
	if err != nil {
		return classify(err, "scan tree nodes")
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		var h []byte
		if err := rows.Scan(&k, &h); err != nil {
			return classify(err, "scan tree nodes")
		}
		if err := fn(cavra.TreeNode{ID: unpackNode(k), Hash: h}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "scan tree nodes")
	}
	return nil
}

const checkpointCols = "seq, origin, size, root_hash, note, key_id, created_at_ns"

func (c *conn) scanCheckpoint(sc interface{ Scan(...any) error }) (cavra.Checkpoint, error) {
	var (
		cp            cavra.Checkpoint
		seq, size, at int64
	)
	if err := sc.Scan(&seq, &cp.Origin, &size, &cp.RootHash, &cp.Note, &cp.KeyID, &at); err != nil {
		return cp, err
	}
	cp.Tenant, cp.Seq, cp.Size, cp.CreatedAt = c.tenant, uint64(seq), uint64(size), fromNanos(at)
	return cp, nil
}

func (c *conn) LatestCheckpoint(ctx context.Context) (cavra.Checkpoint, error) {
	cp, err := c.scanCheckpoint(c.queryRow(ctx, "SELECT "+checkpointCols+" FROM checkpoints WHERE tenant = ? ORDER BY seq DESC LIMIT 1", c.tenant))
	if err != nil {
		return cp, classify(err, "latest checkpoint")
	}
	return cp, nil
}

func (c *conn) CheckpointBySeq(ctx context.Context, seq uint64) (cavra.Checkpoint, error) {
	s, err := checkIndex(seq)
	if err != nil {
		return cavra.Checkpoint{}, err
	}
	cp, err := c.scanCheckpoint(c.queryRow(ctx, "SELECT "+checkpointCols+" FROM checkpoints WHERE tenant = ? AND seq = ?", c.tenant, s))
	if err != nil {
		return cp, classify(err, "get checkpoint %d", seq)
	}
	return cp, nil
}

func (c *conn) ScanCheckpoints(ctx context.Context, fn func(cavra.Checkpoint) error) error {
	rows, err := c.query(ctx, "SELECT "+checkpointCols+" FROM checkpoints WHERE tenant = ? ORDER BY seq", c.tenant)
	if err != nil {
		return classify(err, "scan checkpoints")
	}
	defer rows.Close()
	for rows.Next() {
		cp, err := c.scanCheckpoint(rows)
		if err != nil {
			return classify(err, "scan checkpoints")
		}
		if err := fn(cp); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "scan checkpoints")
	}
	return nil
}

// ---- writes (inside Update only) ----

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// insertRows writes rows. On PostgreSQL it sends multi-row INSERT statements: one round trip
// per chunk, where a row per statement would cap appends at the network's round-trip rate. On
// SQLite, which has no round trips, it runs one cached prepared single-row statement per row.
func (c *conn) insertRows(ctx context.Context, table, cols string, ncols int, rows [][]any) error {
	row := "(" + placeholders(ncols) + ")"
	if c.dialect == SQLite && c.tx != nil {
		query := "INSERT INTO " + table + " (" + cols + ") VALUES " + row
		for _, r := range rows {
			if _, err := c.exec(ctx, query, r...); err != nil {
				return err
			}
		}
		return nil
	}
	for start := 0; start < len(rows); start += rowsPerInsert {
		chunk := rows[start:min(start+rowsPerInsert, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
		args := make([]any, 0, len(chunk)*ncols)
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			args = append(args, r...)
		}
		if _, err := c.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) checkWorkspace(ws string) error {
	if ws == "" {
		return cavra.Errorf(cavra.ErrInvalid, "workspace is empty")
	}
	return nil
}

func (c *conn) PutDecisions(ctx context.Context, ds []cavra.DecisionRecord) error {
	rows := make([][]any, 0, len(ds))
	for _, d := range ds {
		if d.ID == "" {
			return cavra.Errorf(cavra.ErrInvalid, "put decision: empty id")
		}
		if d.Tenant != "" && d.Tenant != c.tenant {
			return cavra.Errorf(cavra.ErrForbidden, "put decision %s: tenant %q differs from the context's %q", d.ID, d.Tenant, c.tenant)
		}
		if err := c.checkWorkspace(d.Workspace); err != nil {
			return fmt.Errorf("put decision %s: %w", d.ID, err)
		}
		ai, err := checkIndex(d.AuditIndex)
		if err != nil {
			return err
		}
		rows = append(rows, []any{c.tenant, d.Workspace, d.ID, string(d.Action.Kind), d.Action.Principal,
			string(d.Decision.Outcome), d.Decision.RuleID, d.Decision.Fingerprint, toNanos(d.Decision.DecidedAt),
			toNanos(d.RecordedAt), ai})
	}
	err := c.insertRows(ctx, "decisions", "tenant, workspace, id, kind, principal, outcome, rule_id, fingerprint, decided_at_ns, recorded_at_ns, audit_index", 11, rows)
	return classify(err, "put decisions")
}

func (c *conn) AppendAuditEntries(ctx context.Context, entries []cavra.AuditEntry, nodes []cavra.TreeNode) error {
	if len(entries) == 0 {
		if len(nodes) > 0 {
			return cavra.Errorf(cavra.ErrInvalid, "append audit entries: tree nodes without entries")
		}
		return nil
	}
	erows := make([][]any, len(entries))
	first := entries[0].Index
	for i, e := range entries {
		if e.Index != first+uint64(i) {
			return cavra.Errorf(cavra.ErrConflict, "append audit entries: entry index %d does not follow %d", e.Index, first+uint64(i)-1)
		}
		if e.ID == "" || e.Type == "" || len(e.Record) == 0 || len(e.LeafHash) == 0 {
			return cavra.Errorf(cavra.ErrInvalid, "append audit entry %d: id, type, record and leaf hash are required", e.Index)
		}
		if e.Tenant != "" && e.Tenant != c.tenant {
			return cavra.Errorf(cavra.ErrForbidden, "append audit entry %d: tenant %q differs from the context's %q", e.Index, e.Tenant, c.tenant)
		}
		if err := c.checkWorkspace(e.Workspace); err != nil {
			return fmt.Errorf("append audit entry %d: %w", e.Index, err)
		}
		idx, err := checkIndex(e.Index)
		if err != nil {
			return err
		}
		erows[i] = []any{c.tenant, idx, e.ID, e.Workspace, string(e.Type), toNanos(e.Time), e.Record, e.LeafHash}
	}
	nrows := make([][]any, len(nodes))
	for i, n := range nodes {
		k, err := packNode(n.ID)
		if err != nil {
			return err
		}
		nrows[i] = []any{c.tenant, k, n.Hash}
	}
	// Advance the head only from the size the entries continue: one statement both checks
	// that no other writer got there first and moves the head.
	start, err := checkIndex(first)
	if err != nil {
		return err
	}
	newSize := start + int64(len(entries))
	var res sql.Result
	if first == 0 {
		res, err = c.exec(ctx, "INSERT INTO audit_heads (tenant, size, cp_seq, cp_size, cp_at_ns) VALUES (?, ?, 0, 0, 0) "+
			"ON CONFLICT (tenant) DO UPDATE SET size = excluded.size WHERE audit_heads.size = 0", c.tenant, newSize)
	} else {
		res, err = c.exec(ctx, "UPDATE audit_heads SET size = ? WHERE tenant = ? AND size = ?", newSize, c.tenant, start)
	}
	if err != nil {
		return classify(err, "advance audit head")
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return cavra.Errorf(cavra.ErrConflict, "append audit entries: entry %d does not continue the log", first)
	}
	if err := c.insertRows(ctx, "audit_entries", "tenant, idx, id, workspace, type, time_ns, record, leaf_hash", 8, erows); err != nil {
		return classify(err, "append audit entries")
	}
	if err := c.insertRows(ctx, "tree_nodes", "tenant, node, hash", 3, nrows); err != nil {
		return classify(err, "append tree nodes")
	}
	return nil
}

func (c *conn) PutCheckpoint(ctx context.Context, cp cavra.Checkpoint) error {
	head, err := c.AuditHead(ctx)
	if err != nil {
		return err
	}
	if cp.Tenant != "" && cp.Tenant != c.tenant {
		return cavra.Errorf(cavra.ErrForbidden, "put checkpoint: tenant %q differs from the context's %q", cp.Tenant, c.tenant)
	}
	if cp.Seq != head.CheckpointSeq+1 {
		return cavra.Errorf(cavra.ErrConflict, "put checkpoint: seq %d does not follow %d", cp.Seq, head.CheckpointSeq)
	}
	if cp.Size < head.CheckpointSize || cp.Size > head.Size {
		return cavra.Errorf(cavra.ErrConflict, "put checkpoint: size %d outside [%d, %d]", cp.Size, head.CheckpointSize, head.Size)
	}
	if len(cp.Note) == 0 || cp.Origin == "" {
		return cavra.Errorf(cavra.ErrInvalid, "put checkpoint: origin and note are required")
	}
	seq, _ := checkIndex(cp.Seq)
	size, _ := checkIndex(cp.Size)
	if _, err := c.exec(ctx, "INSERT INTO checkpoints ("+checkpointCols+", tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		seq, cp.Origin, size, cp.RootHash, cp.Note, cp.KeyID, toNanos(cp.CreatedAt), c.tenant); err != nil {
		return classify(err, "put checkpoint %d", cp.Seq)
	}
	_, err = c.exec(ctx, "INSERT INTO audit_heads (tenant, size, cp_seq, cp_size, cp_at_ns) VALUES (?, ?, ?, ?, ?) "+
		"ON CONFLICT (tenant) DO UPDATE SET cp_seq = excluded.cp_seq, cp_size = excluded.cp_size, cp_at_ns = excluded.cp_at_ns",
		c.tenant, int64(head.Size), seq, size, toNanos(cp.CreatedAt))
	return classify(err, "advance checkpoint head")
}
