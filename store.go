package cavra

import (
	"context"
	"time"
)

// Store is CAVRA's state. Every method acts for the tenant in ctx (TenantFrom); rows carry the
// tenant and workspace they were written for, and one tenant never reads another's rows.
//
// Reads outside Update see committed data. Errors are classified: a missing row is ErrNotFound,
// a lost race with another writer (an audit index already taken) is ErrConflict.
type Store interface {
	StoreReader
	TokenStore
	// Update runs fn in one transaction: all of its writes commit together or none do. Writers
	// are serialised per database (SQLite) or per tenant's audit head (Postgres), so the audit
	// head read inside fn stays current until fn returns.
	Update(ctx context.Context, fn func(ctx context.Context, tx StoreTx) error) error
	// Close releases the store's connections.
	Close() error
}

// StoreReader is the read side of a Store.
type StoreReader interface {
	// Decision returns a decision by id.
	Decision(ctx context.Context, id string) (DecisionRecord, error)
	// Decisions lists decisions, newest first.
	Decisions(ctx context.Context, q DecisionQuery) ([]DecisionRecord, error)

	// AuditHead returns the audit log's size and latest checkpoint; an empty log has a zero head.
	// Inside Update it also locks the head until the transaction ends.
	AuditHead(ctx context.Context) (AuditHead, error)
	// AuditEntry returns the entry at index.
	AuditEntry(ctx context.Context, index uint64) (AuditEntry, error)
	// AuditEntryByID returns the entry with the given id.
	AuditEntryByID(ctx context.Context, id string) (AuditEntry, error)
	// ScanAuditEntries calls fn for the entries with from <= index < to, in index order, and
	// stops at fn's first error, which it returns.
	ScanAuditEntries(ctx context.Context, from, to uint64, fn func(AuditEntry) error) error
	// TreeNodes returns the hashes of the given nodes, in order; a missing node is ErrNotFound.
	// Level-0 nodes are the entries' leaf hashes; higher levels are the stored tree nodes.
	TreeNodes(ctx context.Context, ids []TreeNodeID) ([][]byte, error)
	// ScanTreeNodes calls fn for every stored node of the given level with index in [from, to),
	// in index order.
	ScanTreeNodes(ctx context.Context, level uint, from, to uint64, fn func(TreeNode) error) error

	// LatestCheckpoint returns the newest checkpoint; ErrNotFound when there is none.
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)
	// CheckpointBySeq returns checkpoint seq.
	CheckpointBySeq(ctx context.Context, seq uint64) (Checkpoint, error)
	// ScanCheckpoints calls fn for every checkpoint in seq order.
	ScanCheckpoints(ctx context.Context, fn func(Checkpoint) error) error

	// Approval returns an approval by id.
	Approval(ctx context.Context, id string) (Approval, error)
	// Approvals lists approvals, newest first.
	Approvals(ctx context.Context, q ApprovalQuery) ([]Approval, error)
}

// StoreTx is what a transaction may do.
type StoreTx interface {
	StoreReader
	// PutDecisions inserts decision rows; an existing id is ErrConflict. Each row points at
	// its audit entry (AuditIndex), whose record body holds the action and decision: append
	// that entry in the same transaction. Action and Decision are not stored a second time.
	PutDecisions(ctx context.Context, ds []DecisionRecord) error
	// AppendAuditEntries appends entries, whose indexes must continue the log without gaps,
	// together with the tree nodes they complete, and advances the head.
	AppendAuditEntries(ctx context.Context, entries []AuditEntry, nodes []TreeNode) error
	// PutCheckpoint stores the next checkpoint: its Seq must be the head's CheckpointSeq+1, and
	// its Size must lie between the previous checkpoint's size and the log's size.
	PutCheckpoint(ctx context.Context, c Checkpoint) error
	// PutApproval inserts an approval, or replaces the one with its id. Callers serialise
	// changes to one approval by holding the audit head (AuditHead inside Update) first.
	PutApproval(ctx context.Context, a Approval) error
}

// TokenStore keeps API tokens. Tokens are looked up by hash before the tenant is known, so
// TokenByHash searches every tenant; the other methods act for the tenant in ctx.
type TokenStore interface {
	// PutToken inserts a token; an existing id or hash is ErrConflict.
	PutToken(ctx context.Context, t Token) error
	// TokenByHash returns the token whose secret hashes to hash, of any tenant.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// Tokens lists the tenant's tokens, revoked ones included, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token with the given id or name revoked at at; ErrNotFound when
	// the tenant has no such token. Revoking a revoked token keeps the first time.
	RevokeToken(ctx context.Context, idOrName string, at time.Time) (Token, error)
	// TokenTenants lists, sorted, the tenants that hold at least one token, of every tenant:
	// background work that runs per tenant (the approval-expiry sweep) walks them.
	TokenTenants(ctx context.Context) ([]string, error)
}

// DecisionQuery filters decisions. Zero fields do not filter.
type DecisionQuery struct {
	Workspace string
	Outcome   Outcome
	Since     time.Time
	Until     time.Time
	// Limit caps the result; zero means 100.
	Limit int
}
