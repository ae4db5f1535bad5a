package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

// VerifyError says what is wrong with a log, and where.
type VerifyError struct {
	// Index is the first bad entry, or -1 when the fault is not in one entry (a checkpoint,
	// the head, a tree node above several entries).
	Index int64
	// Checkpoint is the seq of the bad checkpoint, or 0.
	Checkpoint uint64
	Reason     string
}

func (e *VerifyError) Error() string {
	switch {
	case e.Index >= 0:
		return fmt.Sprintf("audit entry %d: %s", e.Index, e.Reason)
	case e.Checkpoint > 0:
		return fmt.Sprintf("checkpoint %d: %s", e.Checkpoint, e.Reason)
	default:
		return "audit log: " + e.Reason
	}
}

func entryError(i uint64, format string, args ...any) *VerifyError {
	return &VerifyError{Index: int64(i), Reason: fmt.Sprintf(format, args...)}
}

func checkpointError(seq uint64, format string, args ...any) *VerifyError {
	return &VerifyError{Index: -1, Checkpoint: seq, Reason: fmt.Sprintf(format, args...)}
}

func logError(format string, args ...any) *VerifyError {
	return &VerifyError{Index: -1, Reason: fmt.Sprintf(format, args...)}
}

// VerifyReport summarises a log that verified.
type VerifyReport struct {
	Size        uint64
	Checkpoints int
	// SignedSize is the size of the latest checkpoint: entries at or beyond it are hash-chained
	// into the tree but not yet covered by a signature.
	SignedSize uint64
	RootHash   []byte
	Elapsed    time.Duration
}

// Verify checks the whole log of the tenant in ctx against the trusted keys: every record is
// canonical and in its place, every leaf hash and stored tree node is recomputed, every
// checkpoint is numbered in sequence, signed by a trusted key inside its validity window, and
// commits to the root of the entries it covers. The first fault found is returned as a
// *VerifyError; storage failures are returned as they are.
//
// It holds the leaf hashes and the levels above them in memory: about 64 bytes per entry.
func (l *Log) Verify(ctx context.Context, trusted []cavra.KeyInfo) (VerifyReport, error) {
	start := time.Now()
	tenant := cavra.TenantFrom(ctx)
	var rep VerifyReport
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	cps, err := l.verifyCheckpointNotes(ctx, tenant, head, trusted)
	if err != nil {
		return rep, err
	}
	leaves, err := l.verifyEntries(ctx, tenant, head.Size)
	if err != nil {
		return rep, err
	}
	size := uint64(len(leaves) / hashSize)
	if size != head.Size {
		return rep, logError("the head says %d entries but the log holds %d", head.Size, size)
	}
	levels, err := l.verifyNodes(ctx, leaves, size)
	if err != nil {
		return rep, err
	}
	for _, cp := range cps {
		if cp.Size > size {
			return rep, checkpointError(cp.Seq, "covers %d entries but the log holds only %d: the log was truncated", cp.Size, size)
		}
		root, err := rootFromLevels(levels, cp.Size)
		if err != nil {
			return rep, checkpointError(cp.Seq, "%v", err)
		}
		if !bytes.Equal(root, cp.RootHash) {
			return rep, checkpointError(cp.Seq, "signed root hash does not match entries 0..%d", cp.Size-1)
		}
	}
	root, err := rootFromLevels(levels, size)
	if err != nil {
		return rep, logError("%v", err)
	}
	rep = VerifyReport{Size: size, Checkpoints: len(cps), RootHash: root, Elapsed: time.Since(start)}
	if len(cps) > 0 {
		rep.SignedSize = cps[len(cps)-1].Size
	}
	return rep, nil
}

const hashSize = 32

// verifyCheckpointNotes checks every checkpoint's sequence, signature, key window and that its
// stored columns say what its signed text says.
func (l *Log) verifyCheckpointNotes(ctx context.Context, tenant string, head cavra.AuditHead, trusted []cavra.KeyInfo) ([]cavra.Checkpoint, error) {
	verifiers, err := keys.NoteVerifiers(trusted)
	if err != nil {
		return nil, fmt.Errorf("verify: trusted keys: %w", err)
	}
	byID := make(map[string]cavra.KeyInfo, len(trusted))
	for _, k := range trusted {
		byID[k.ID] = k
	}
	var cps []cavra.Checkpoint
	var prevSize uint64
	var prevTime time.Time
	origin := l.Origin(tenant)
	err = l.store.ScanCheckpoints(ctx, func(cp cavra.Checkpoint) error {
		want := uint64(len(cps)) + 1
		if cp.Seq != want {
			return checkpointError(want, "missing: the next stored checkpoint is %d", cp.Seq)
		}
		n, err := note.Open(cp.Note, verifiers)
		if err != nil {
			var unverified *note.UnverifiedNoteError
			if errors.As(err, &unverified) {
				return checkpointError(cp.Seq, "not signed by a trusted key")
			}
			return checkpointError(cp.Seq, "signature: %v", err)
		}
		body, err := ParseCheckpointBody(n.Text)
		if err != nil {
			return checkpointError(cp.Seq, "%v", err)
		}
		if body.Time.IsZero() {
			return checkpointError(cp.Seq, "no signing time line")
		}
		for _, sig := range n.Sigs {
			id := fmt.Sprintf("%s+%08x", sig.Name, sig.Hash)
			info, ok := byID[id]
			if !ok {
				return checkpointError(cp.Seq, "signed by unknown key %s", id)
			}
			if err := keys.Valid(info, body.Time); err != nil {
				return checkpointError(cp.Seq, "%v", err)
			}
		}
		switch {
		case body.Origin != origin:
			return checkpointError(cp.Seq, "origin %q, want %q", body.Origin, origin)
		case body.Origin != cp.Origin || body.Size != cp.Size || !bytes.Equal(body.RootHash, cp.RootHash):
			return checkpointError(cp.Seq, "stored origin, size or root hash differ from the signed text")
		case body.Size < prevSize:
			return checkpointError(cp.Seq, "size %d is below the previous checkpoint's %d", body.Size, prevSize)
		case body.Time.Before(prevTime):
			return checkpointError(cp.Seq, "signed before the previous checkpoint")
		}
		prevSize, prevTime = body.Size, body.Time
		cps = append(cps, cp)
		return nil
	})
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("verify: read checkpoints: %w", err)
	}
	if uint64(len(cps)) != head.CheckpointSeq {
		return nil, logError("the head says %d checkpoints but %d are stored", head.CheckpointSeq, len(cps))
	}
	if len(cps) > 0 && cps[len(cps)-1].Size != head.CheckpointSize {
		return nil, logError("the head's checkpoint size %d differs from the latest checkpoint's %d", head.CheckpointSize, cps[len(cps)-1].Size)
	}
	return cps, nil
}

// entryBatch is a run of entries checked by a worker; done closes when leaves is filled.
type entryBatch struct {
	entries []cavra.AuditEntry
	err     *VerifyError
	done    chan struct{}
}

const verifyBatch = 512

// verifyEntries reads every entry in order, checking records on all CPUs while the store is
// read, and returns the concatenated leaf hashes.
func (l *Log) verifyEntries(ctx context.Context, tenant string, sizeHint uint64) ([]byte, error) {
	work := make(chan *entryBatch, 8)
	ordered := make(chan *entryBatch, 64)
	workers := max(1, runtime.GOMAXPROCS(0))
	for range workers {
		go func() {
			for b := range work {
				b.err = checkEntries(tenant, b.entries)
				close(b.done)
			}
		}()
	}
	scanErr := make(chan error, 1)
	go func() {
		defer close(work)
		defer close(ordered)
		newBatch := func() *entryBatch {
			return &entryBatch{done: make(chan struct{}), entries: make([]cavra.AuditEntry, 0, verifyBatch)}
		}
		cur := newBatch()
		var next uint64
		err := l.store.ScanAuditEntries(ctx, 0, 1<<62, func(e cavra.AuditEntry) error {
			if e.Index != next {
				b := &entryBatch{done: make(chan struct{}), err: entryError(next, "missing (the next stored entry is %d)", e.Index)}
				close(b.done)
				if len(cur.entries) > 0 {
					work <- cur
					ordered <- cur
				}
				ordered <- b
				return errStop
			}
			next++
			cur.entries = append(cur.entries, e)
			if len(cur.entries) == verifyBatch {
				work <- cur
				ordered <- cur
				cur = newBatch()
			}
			return ctx.Err()
		})
		if len(cur.entries) > 0 && err == nil {
			work <- cur
			ordered <- cur
		}
		if errors.Is(err, errStop) {
			err = nil
		}
		scanErr <- err
	}()
	// The head's size is only a hint (it may be tampered with): cap the up-front allocation.
	leaves := make([]byte, 0, min(sizeHint, 1<<26)*hashSize)
	var firstErr error
	for b := range ordered {
		<-b.done
		if firstErr != nil {
			continue
		}
		if b.err != nil {
			firstErr = b.err
			continue
		}
		for _, e := range b.entries {
			leaves = append(leaves, e.LeafHash...)
		}
	}
	if err := <-scanErr; err != nil {
		return nil, fmt.Errorf("verify: read entries: %w", err)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return leaves, nil
}

var errStop = errors.New("stop")

// checkEntries checks each entry's record against its row and its leaf hash.
func checkEntries(tenant string, entries []cavra.AuditEntry) *VerifyError {
	for _, e := range entries {
		if len(e.LeafHash) != hashSize || !leafHashOK(e) {
			return entryError(e.Index, "leaf hash does not match the record")
		}
		r, err := ParseRecord(e.Record)
		if err != nil {
			return entryError(e.Index, "%v", err)
		}
		switch {
		case r.Index != e.Index:
			return entryError(e.Index, "record says index %d: entries were reordered", r.Index)
		case r.Tenant != tenant:
			return entryError(e.Index, "record belongs to tenant %q", r.Tenant)
		case r.ID != e.ID || r.Type != e.Type || r.Workspace != e.Workspace || r.Time != formatTime(e.Time):
			return entryError(e.Index, "stored id, type, workspace or time differ from the record")
		}
	}
	return nil
}

// verifyNodes recomputes every level of the tree above the leaves and compares it with the
// stored nodes, which must be exactly the perfect subtrees of the tree of the given size.
func (l *Log) verifyNodes(ctx context.Context, leaves []byte, size uint64) ([][]byte, error) {
	levels := [][]byte{leaves}
	for level := uint(1); level <= 63; level++ {
		below := levels[level-1]
		count := uint64(len(below)/hashSize) / 2
		cur := make([]byte, 0, count*hashSize)
		for i := range count {
			left := below[2*i*hashSize : (2*i+1)*hashSize]
			right := below[(2*i+1)*hashSize : (2*i+2)*hashSize]
			cur = append(cur, hasher.HashChildren(left, right)...)
		}
		var next uint64
		err := l.store.ScanTreeNodes(ctx, level, 0, 1<<56, func(n cavra.TreeNode) error {
			id := compact.NewNodeID(n.ID.Level, n.ID.Index)
			begin, end := id.Coverage()
			switch {
			case n.ID.Index >= count:
				return logError("stray tree node (level %d, index %d) beyond the tree of size %d", level, n.ID.Index, size)
			case n.ID.Index != next:
				id := compact.NewNodeID(level, next)
				b, e := id.Coverage()
				return logError("tree node (level %d, index %d) over entries %d..%d is missing", level, next, b, e-1)
			case !bytes.Equal(n.Hash, cur[n.ID.Index*hashSize:(n.ID.Index+1)*hashSize]):
				return logError("tree node (level %d, index %d) over entries %d..%d does not match them", level, n.ID.Index, begin, end-1)
			}
			next++
			return ctx.Err()
		})
		if err != nil {
			var ve *VerifyError
			if errors.As(err, &ve) {
				return nil, err
			}
			return nil, fmt.Errorf("verify: read tree nodes: %w", err)
		}
		if next != count {
			id := compact.NewNodeID(level, next)
			b, e := id.Coverage()
			return nil, logError("tree node (level %d, index %d) over entries %d..%d is missing", level, next, b, e-1)
		}
		levels = append(levels, cur)
		if count == 0 {
			break
		}
	}
	return levels, nil
}

// rootFromLevels computes the root of the tree of the given size from in-memory levels.
func rootFromLevels(levels [][]byte, size uint64) ([]byte, error) {
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		if int(id.Level) >= len(levels) || (id.Index+1)*hashSize > uint64(len(levels[id.Level])) {
			return nil, fmt.Errorf("tree node (level %d, index %d) is not in the tree", id.Level, id.Index)
		}
		hashes[i] = levels[id.Level][id.Index*hashSize : (id.Index+1)*hashSize]
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}
