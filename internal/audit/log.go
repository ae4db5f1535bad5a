// Package audit is CAVRA's evidence log: an append-only, per-tenant Merkle log of canonical
// JSON records (see Canonicalize and Record) kept in a cavra.Store.
//
// Each record's leaf hash is the RFC 6962 leaf hash SHA-256(0x00 || record); the tree is the
// RFC 6962 tree (github.com/transparency-dev/merkle). Every perfect subtree hash above the
// leaves is stored as a tree node when it completes, so an inclusion or consistency proof
// needs O(log n) node reads (one query), and a cache keeps hot nodes in memory. Leaves are
// not duplicated in the node table: the store serves level-0 nodes from the entries.
//
// Checkpoints are C2SP tlog-checkpoint signed notes (golang.org/x/mod/sumdb/note), numbered
// without gaps, cut when the log has grown by CheckpointEvery entries or CheckpointInterval has
// passed since the last one (checked on append), and on demand.
//
// Appends are group-committed: concurrent callers for the same tenant share one transaction,
// and a call returns only after that transaction has committed.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

// Defaults for Options.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = 5 * time.Minute
	DefaultOriginPrefix       = "cavra.local/audit"
	defaultMaxBatch           = 1024
	defaultNodeCache          = 1 << 16
)

var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// Options configure a Log. The zero value appends without ever signing checkpoints.
type Options struct {
	Logger *slog.Logger
	// Clock stamps records and checkpoints; nil means time.Now.
	Clock func() time.Time
	// Signer opens the checkpoint signer; it is called only when a checkpoint is cut, so a
	// process that never cuts one never loads a key. Nil: checkpoints cannot be cut.
	Signer func(ctx context.Context) (cavra.Signer, error)
	// OriginPrefix names the log in checkpoints: the origin line is OriginPrefix/<tenant>.
	OriginPrefix string
	// CheckpointEvery cuts a checkpoint after an append leaves this many entries unsigned;
	// zero means DefaultCheckpointEvery.
	CheckpointEvery uint64
	// CheckpointInterval cuts a checkpoint on the first append this long after the last one;
	// zero means DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// ManualCheckpoints turns off the size and time triggers: checkpoints are cut only by
	// Checkpoint.
	ManualCheckpoints bool
	// MaxBatch caps how many appends share one transaction; zero means 1024.
	MaxBatch int
	// NewID makes entry ids; nil means UUIDv7 (time-ordered).
	NewID func() string
	// BackgroundCheckpoints cuts triggered checkpoints on a goroutine of their own, so that the
	// group commit does not pause for them; Close waits for one in flight. Long-lived servers
	// set it; a process that appends once and exits should not.
	BackgroundCheckpoints bool
	// OnCheckpoint is told of each checkpoint this Log cuts, after it commits (the server
	// publishes checkpoint.signed from it). It must not block.
	OnCheckpoint func(ctx context.Context, cp cavra.Checkpoint)
}

// Log is a tenant-partitioned audit log over a store. It is safe for concurrent use.
type Log struct {
	store cavra.Store
	opts  Options

	mu      sync.Mutex
	tenants map[string]*tenantLog

	cacheMu sync.Mutex
	nodes   map[nodeKey][]byte

	background sync.WaitGroup
}

type nodeKey struct {
	tenant string
	id     compact.NodeID
}

// tenantLog is one tenant's group-commit queue and cached right edge of its tree.
type tenantLog struct {
	mu         sync.Mutex
	queue      []*pending
	committing bool
	// rng is the compact range [0, size) as of the last commit by this process; nil when
	// unknown. Only the current group-commit leader touches it.
	rng *compact.Range
	// known is the largest log size this process has seen: the log only grows, so proofs for
	// sizes up to it need not read the head again.
	known atomic.Uint64
	// cutting is set while a background checkpoint of this tenant runs.
	cutting atomic.Bool
}

func (t *tenantLog) sawSize(size uint64) {
	for {
		cur := t.known.Load()
		if size <= cur || t.known.CompareAndSwap(cur, size) {
			return
		}
	}
}

type pending struct {
	workspace string
	typ       cavra.RecordType
	id        string
	body      []byte
	decision  *cavra.DecisionRecord
	done      chan struct{}
	entry     cavra.AuditEntry
	err       error
}

// New returns a Log over store.
func New(store cavra.Store, opts Options) *Log {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.OriginPrefix == "" {
		opts.OriginPrefix = DefaultOriginPrefix
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.NewID == nil {
		opts.NewID = newUUIDv7
	}
	return &Log{store: store, opts: opts, tenants: map[string]*tenantLog{}, nodes: map[nodeKey][]byte{}}
}

func newUUIDv7() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a random v4 is still unique.
		return uuid.NewString()
	}
	return id.String()
}

// Store returns the store the log writes to.
func (l *Log) Store() cavra.Store { return l.store }

// Origin is the checkpoint origin line of tenant's log.
func (l *Log) Origin(tenant string) string { return l.opts.OriginPrefix + "/" + tenant }

var _ cavra.DecisionRecorder = (*Log)(nil)

// RecordDecision appends the decision row and its audit entry in one transaction. The tenant
// and workspace come from ctx; a decision without an id gets one.
func (l *Log) RecordDecision(ctx context.Context, a cavra.Action, d cavra.Decision) error {
	_, err := l.AppendDecision(ctx, a, d)
	return err
}

// AppendDecision is RecordDecision returning the audit entry written.
func (l *Log) AppendDecision(ctx context.Context, a cavra.Action, d cavra.Decision) (cavra.AuditEntry, error) {
	if d.ID == "" {
		d.ID = l.opts.NewID()
	}
	if !d.Outcome.Valid() {
		return cavra.AuditEntry{}, cavra.Errorf(cavra.ErrInvalid, "record decision %s: invalid outcome %q", d.ID, d.Outcome)
	}
	body, err := MarshalCanonical(cavra.DecisionEvidence{Action: a, Decision: d})
	if err != nil {
		return cavra.AuditEntry{}, cavra.Errorf(cavra.ErrInvalid, "record decision %s: %w", d.ID, err)
	}
	ws := cavra.WorkspaceFrom(ctx)
	rec := &cavra.DecisionRecord{ID: d.ID, Tenant: cavra.TenantFrom(ctx), Workspace: ws, Action: a, Decision: d}
	return l.append(ctx, &pending{workspace: ws, typ: cavra.RecordDecision, id: d.ID, body: body, decision: rec})
}

// Append adds a record of type typ whose body is v (encoded as canonical JSON).
func (l *Log) Append(ctx context.Context, typ cavra.RecordType, v any) (cavra.AuditEntry, error) {
	if typ == "" {
		return cavra.AuditEntry{}, cavra.Errorf(cavra.ErrInvalid, "append: empty record type")
	}
	body, err := MarshalCanonical(v)
	if err != nil {
		return cavra.AuditEntry{}, cavra.Errorf(cavra.ErrInvalid, "append %s: %w", typ, err)
	}
	return l.append(ctx, &pending{workspace: cavra.WorkspaceFrom(ctx), typ: typ, id: l.opts.NewID(), body: body})
}

func (l *Log) tenantLog(tenant string) *tenantLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.tenants[tenant]
	if !ok {
		t = &tenantLog{}
		l.tenants[tenant] = t
	}
	return t
}

// append queues p and either leads a group commit or waits for the leader's.
func (l *Log) append(ctx context.Context, p *pending) (cavra.AuditEntry, error) {
	p.done = make(chan struct{})
	tenant := cavra.TenantFrom(ctx)
	t := l.tenantLog(tenant)
	t.mu.Lock()
	t.queue = append(t.queue, p)
	if t.committing {
		t.mu.Unlock()
		select {
		case <-p.done:
			return p.entry, p.err
		case <-ctx.Done():
			// The leader may still commit p; the caller learns only that it was not confirmed.
			return cavra.AuditEntry{}, fmt.Errorf("append audit entry: %w", ctx.Err())
		}
	}
	t.committing = true
	// Lead: commit batches until the queue is empty. The commit outlives this caller's
	// cancellation because other callers' entries ride in the same transaction.
	commitCtx := context.WithoutCancel(ctx)
	for {
		n := min(len(t.queue), l.opts.MaxBatch)
		batch := t.queue[:n:n]
		t.queue = t.queue[n:]
		t.mu.Unlock()
		l.commit(commitCtx, tenant, t, batch)
		t.mu.Lock()
		if len(t.queue) == 0 {
			t.committing = false
			t.mu.Unlock()
			break
		}
	}
	<-p.done
	return p.entry, p.err
}

// commit writes one batch in one transaction and completes every pending append in it.
func (l *Log) commit(ctx context.Context, tenant string, t *tenantLog, batch []*pending) {
	var head cavra.AuditHead
	err := l.store.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		var err error
		head, err = tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if t.rng == nil || t.rng.End() != head.Size {
			// Another process appended since, or this is the first append: reload the right
			// edge of the tree, O(log n) nodes.
			if t.rng, err = l.loadRange(ctx, tx, head.Size); err != nil {
				return err
			}
		}
		entries, err := l.appendEntries(ctx, tx, tenant, t.rng, head.Size, batch)
		if err != nil {
			return err
		}
		for i, p := range batch {
			p.entry = entries[i]
		}
		return nil
	})
	if err != nil {
		t.rng = nil // the range may hold entries that did not commit
		err = fmt.Errorf("append audit entries: %w", err)
	}
	for _, p := range batch {
		p.err = err
		close(p.done)
	}
	if err == nil {
		size := head.Size + uint64(len(batch))
		t.sawSize(size)
		l.maybeCheckpoint(ctx, head, size)
	}
}

// appendEntries encodes batch as the entries from index size on, extends rng (the compact
// range [0, size)) with their leaves, and writes entries, completed tree nodes and decision rows
// in tx.
func (l *Log) appendEntries(ctx context.Context, tx cavra.StoreTx, tenant string, rng *compact.Range, size uint64, batch []*pending) ([]cavra.AuditEntry, error) {
	now := l.opts.Clock().UTC()
	entries := make([]cavra.AuditEntry, len(batch))
	var nodes []cavra.TreeNode
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level > 0 {
			nodes = append(nodes, cavra.TreeNode{ID: cavra.TreeNodeID{Level: id.Level, Index: id.Index}, Hash: hash})
		}
	}
	var decisions []cavra.DecisionRecord
	for i, p := range batch {
		idx := size + uint64(i)
		if idx > maxSafeIndex {
			return nil, cavra.Errorf(cavra.ErrUnavailable, "audit log of tenant %s is full", tenant)
		}
		rec := encodeRecord(Record{Body: p.body, ID: p.id, Index: idx, Tenant: tenant, Time: formatTime(now),
			Type: p.typ, V: RecordVersion, Workspace: p.workspace})
		leaf := hasher.HashLeaf(rec)
		if err := rng.Append(leaf, visit); err != nil {
			return nil, fmt.Errorf("extend merkle tree: %w", err)
		}
		entries[i] = cavra.AuditEntry{Index: idx, ID: p.id, Tenant: tenant, Workspace: p.workspace, Type: p.typ,
			Time: now, Record: rec, LeafHash: leaf}
		if p.decision != nil {
			d := *p.decision
			d.AuditIndex, d.RecordedAt = idx, now
			decisions = append(decisions, d)
		}
	}
	if len(decisions) > 0 {
		if err := tx.PutDecisions(ctx, decisions); err != nil {
			return nil, err
		}
	}
	if err := tx.AppendAuditEntries(ctx, entries, nodes); err != nil {
		return nil, err
	}
	return entries, nil
}

// TxRecord is one record for AppendTx: a decision (Action and Decision set) or any other
// record (Type and Body).
type TxRecord struct {
	Type     cavra.RecordType
	Body     any
	Action   *cavra.Action
	Decision *cavra.Decision
}

// AppendTx appends recs inside tx, a transaction of the log's store opened with Update, so
// that they commit or fail together with the caller's other writes there (an approval's state
// and the record of its change). It reads the audit head first, which locks it until tx ends:
// call it, or tx.AuditHead, before reading the rows it guards. It bypasses group commit, so
// it suits rare writes; decisions at volume go through AppendDecision.
func (l *Log) AppendTx(ctx context.Context, tx cavra.StoreTx, recs ...TxRecord) ([]cavra.AuditEntry, error) {
	tenant := cavra.TenantFrom(ctx)
	ws := cavra.WorkspaceFrom(ctx)
	batch := make([]*pending, len(recs))
	for i, r := range recs {
		if r.Decision != nil {
			if r.Action == nil {
				return nil, cavra.Errorf(cavra.ErrInvalid, "append: decision record without its action")
			}
			d := *r.Decision
			if d.ID == "" {
				d.ID = l.opts.NewID()
			}
			if !d.Outcome.Valid() {
				return nil, cavra.Errorf(cavra.ErrInvalid, "record decision %s: invalid outcome %q", d.ID, d.Outcome)
			}
			*r.Decision = d
			body, err := MarshalCanonical(cavra.DecisionEvidence{Action: *r.Action, Decision: d})
			if err != nil {
				return nil, cavra.Errorf(cavra.ErrInvalid, "record decision %s: %w", d.ID, err)
			}
			batch[i] = &pending{workspace: ws, typ: cavra.RecordDecision, id: d.ID, body: body,
				decision: &cavra.DecisionRecord{ID: d.ID, Tenant: tenant, Workspace: ws, Action: *r.Action, Decision: d}}
			continue
		}
		if r.Type == "" {
			return nil, cavra.Errorf(cavra.ErrInvalid, "append: empty record type")
		}
		body, err := MarshalCanonical(r.Body)
		if err != nil {
			return nil, cavra.Errorf(cavra.ErrInvalid, "append %s: %w", r.Type, err)
		}
		batch[i] = &pending{workspace: ws, typ: r.Type, id: l.opts.NewID(), body: body}
	}
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	rng, err := l.loadRange(ctx, tx, head.Size)
	if err != nil {
		return nil, err
	}
	entries, err := l.appendEntries(ctx, tx, tenant, rng, head.Size, batch)
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// maybeCheckpoint cuts a checkpoint when a trigger fires. The appends it follows have
// committed already, so a failure here is logged rather than returned: the entries stay, and
// the next append or `cavra audit checkpoint` tries again.
func (l *Log) maybeCheckpoint(ctx context.Context, head cavra.AuditHead, size uint64) {
	if l.opts.ManualCheckpoints || l.opts.Signer == nil || size <= head.CheckpointSize {
		return
	}
	due := size-head.CheckpointSize >= l.opts.CheckpointEvery ||
		l.opts.Clock().Sub(head.CheckpointAt) >= l.opts.CheckpointInterval
	if !due {
		return
	}
	if !l.opts.BackgroundCheckpoints {
		l.cutCheckpoint(ctx)
		return
	}
	t := l.tenantLog(cavra.TenantFrom(ctx))
	if !t.cutting.CompareAndSwap(false, true) {
		return // one is being cut; the next append re-checks the trigger
	}
	l.background.Add(1)
	go func() {
		defer l.background.Done()
		defer t.cutting.Store(false)
		l.cutCheckpoint(context.WithoutCancel(ctx))
	}()
}

func (l *Log) cutCheckpoint(ctx context.Context) {
	if _, err := l.Checkpoint(ctx); err != nil {
		l.opts.Logger.WarnContext(ctx, "cutting audit checkpoint failed", "tenant", cavra.TenantFrom(ctx), "err", err)
	}
}

// Close waits for background checkpoints in flight. It does not close the store.
func (l *Log) Close() {
	l.background.Wait()
}

// loadRange rebuilds the compact range [0, size) from the stored nodes.
func (l *Log) loadRange(ctx context.Context, r cavra.StoreReader, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := l.readNodes(ctx, r, ids, false)
	if err != nil {
		return nil, fmt.Errorf("load tree edge at size %d: %w", size, err)
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("load tree edge at size %d: %w", size, err)
	}
	return rng, nil
}

// readNodes returns the hashes of ids (level 0: the entries' leaf hashes) in one store query,
// through the cache when useCache is set: nodes never change once written.
func (l *Log) readNodes(ctx context.Context, r cavra.StoreReader, ids []compact.NodeID, useCache bool) ([][]byte, error) {
	tenant := cavra.TenantFrom(ctx)
	out := make([][]byte, len(ids))
	var missIDs []cavra.TreeNodeID
	var missPos []int
	if useCache {
		l.cacheMu.Lock()
	}
	for i, id := range ids {
		if useCache {
			if h, ok := l.nodes[nodeKey{tenant, id}]; ok {
				out[i] = h
				continue
			}
		}
		missIDs = append(missIDs, cavra.TreeNodeID{Level: id.Level, Index: id.Index})
		missPos = append(missPos, i)
	}
	if useCache {
		l.cacheMu.Unlock()
	}
	if len(missIDs) > 0 {
		hashes, err := r.TreeNodes(ctx, missIDs)
		if err != nil {
			return nil, err
		}
		for j, h := range hashes {
			out[missPos[j]] = h
		}
	}
	for i, h := range out {
		if len(h) != sha256.Size {
			return nil, cavra.Errorf(cavra.ErrInternal, "tree node (%d, %d) has %d bytes", ids[i].Level, ids[i].Index, len(h))
		}
	}
	if useCache {
		l.cacheMu.Lock()
		if len(l.nodes)+len(ids) > defaultNodeCache {
			clear(l.nodes) // crude but bounded; proofs refill the hot top of the tree quickly
		}
		for i, id := range ids {
			l.nodes[nodeKey{tenant, id}] = out[i]
		}
		l.cacheMu.Unlock()
	}
	return out, nil
}

// rootAt computes the root hash of the tree of the given size from stored nodes.
func (l *Log) rootAt(ctx context.Context, r cavra.StoreReader, size uint64) ([]byte, error) {
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	rng, err := l.loadRange(ctx, r, size)
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}

// Head returns the log's size and checkpoint position for the tenant in ctx.
func (l *Log) Head(ctx context.Context) (cavra.AuditHead, error) { return l.store.AuditHead(ctx) }

// Checkpoint cuts a checkpoint of the whole log, or returns the latest one if the log has
// not grown since it was cut.
func (l *Log) Checkpoint(ctx context.Context) (cavra.Checkpoint, error) {
	if l.opts.Signer == nil {
		return cavra.Checkpoint{}, cavra.Errorf(cavra.ErrUnavailable, "cut checkpoint: no signing key configured")
	}
	tenant := cavra.TenantFrom(ctx)
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return cavra.Checkpoint{}, fmt.Errorf("cut checkpoint: %w", err)
	}
	if head.CheckpointSeq > 0 && head.CheckpointSize == head.Size {
		return l.store.LatestCheckpoint(ctx)
	}
	signer, err := l.opts.Signer(ctx)
	if err != nil {
		return cavra.Checkpoint{}, fmt.Errorf("cut checkpoint: open signer: %w", err)
	}
	ns, err := keys.NoteSigner(ctx, signer)
	if err != nil {
		return cavra.Checkpoint{}, fmt.Errorf("cut checkpoint: %w", err)
	}
	var (
		cp  cavra.Checkpoint
		cut bool
	)
	// Signing happens inside the transaction so that the checkpoint's sequence number and size
	// are those of the head it locked; file and HSM keys sign in microseconds to milliseconds.
	err = l.store.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if head.CheckpointSeq > 0 && head.CheckpointSize == head.Size {
			cp, err = tx.LatestCheckpoint(ctx)
			return err
		}
		root, err := l.rootAt(ctx, tx, head.Size)
		if err != nil {
			return err
		}
		now := l.opts.Clock().UTC()
		body := CheckpointBody{Origin: l.Origin(tenant), Size: head.Size, RootHash: root, Time: now}
		signed, err := note.Sign(&note.Note{Text: body.Text()}, ns)
		if err != nil {
			return fmt.Errorf("sign checkpoint: %w", err)
		}
		cp = cavra.Checkpoint{Tenant: tenant, Seq: head.CheckpointSeq + 1, Origin: body.Origin, Size: head.Size,
			RootHash: root, Note: signed, KeyID: signer.KeyID(), CreatedAt: now}
		cut = true
		return tx.PutCheckpoint(ctx, cp)
	})
	if err != nil {
		return cavra.Checkpoint{}, fmt.Errorf("cut checkpoint: %w", err)
	}
	if cut && l.opts.OnCheckpoint != nil {
		l.opts.OnCheckpoint(ctx, cp)
	}
	return cp, nil
}

// InclusionProof returns the RFC 6962 audit path of entry index in the tree of the given size.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, cavra.Errorf(cavra.ErrInvalid, "inclusion proof: index %d is not below tree size %d", index, size)
	}
	if err := l.checkSize(ctx, size); err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "inclusion proof: %w", err)
	}
	return l.buildProof(ctx, nodes)
}

// ConsistencyProof proves that the tree of size1 is a prefix of the tree of size2.
func (l *Log) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 {
		return nil, cavra.Errorf(cavra.ErrInvalid, "consistency proof: size %d is above size %d", size1, size2)
	}
	if err := l.checkSize(ctx, size2); err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "consistency proof: %w", err)
	}
	return l.buildProof(ctx, nodes)
}

func (l *Log) checkSize(ctx context.Context, size uint64) error {
	t := l.tenantLog(cavra.TenantFrom(ctx))
	if size <= t.known.Load() {
		return nil
	}
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return err
	}
	t.sawSize(head.Size)
	if size > head.Size {
		return cavra.Errorf(cavra.ErrInvalid, "tree size %d is above the log's size %d", size, head.Size)
	}
	return nil
}

func (l *Log) buildProof(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := l.readNodes(ctx, l.store, nodes.IDs, true)
	if err != nil {
		return nil, err
	}
	p, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("rehash proof: %w", err)
	}
	return p, nil
}

// VerifyInclusion checks an inclusion proof of record at index against a root hash.
func VerifyInclusion(record []byte, index, size uint64, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(hasher, index, size, hasher.HashLeaf(record), p, root)
}

// VerifyConsistency checks a consistency proof between two roots.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(hasher, size1, size2, p, root1, root2)
}

// Entry returns an entry by index.
func (l *Log) Entry(ctx context.Context, index uint64) (cavra.AuditEntry, error) {
	return l.store.AuditEntry(ctx, index)
}

// EntryByID returns an entry by id.
func (l *Log) EntryByID(ctx context.Context, id string) (cavra.AuditEntry, error) {
	return l.store.AuditEntryByID(ctx, id)
}

// leafHashOK reports whether an entry's stored leaf hash is its record's.
func leafHashOK(e cavra.AuditEntry) bool { return bytes.Equal(hasher.HashLeaf(e.Record), e.LeafHash) }
