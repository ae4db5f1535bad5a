// Package storetest is the conformance suite every cavra.Store backend passes.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

// RunTests runs the suite. newStore returns an empty store that lives until t ends (the
// caller registers its cleanup).
func RunTests(t *testing.T, newStore func(t *testing.T) cavra.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s cavra.Store)
	}{
		{"DecisionRoundTrip", testDecisionRoundTrip},
		{"DecisionQueries", testDecisionQueries},
		{"DecisionErrors", testDecisionErrors},
		{"AuditAppendAndRead", testAuditAppendAndRead},
		{"AuditAppendRejectsGaps", testAuditAppendRejectsGaps},
		{"UpdateIsAtomic", testUpdateIsAtomic},
		{"Checkpoints", testCheckpoints},
		{"TenantIsolation", testTenantIsolation},
		{"ConcurrentAppends", testConcurrentAppends},
		{"BadInput", testBadInput},
		{"ApprovalRoundTrip", testApprovalRoundTrip},
		{"ApprovalQueries", testApprovalQueries},
		{"ApprovalTenantIsolation", testApprovalTenantIsolation},
		{"ApprovalBadInput", testApprovalBadInput},
		{"TokenRoundTrip", testTokenRoundTrip},
		{"TokenConflicts", testTokenConflicts},
		{"TokenBadInput", testTokenBadInput},
		{"TokenRevoke", testTokenRevoke},
		{"TokenTenants", testTokenTenants},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func tenantCtx(tenant, workspace string) context.Context {
	return cavra.WithWorkspace(cavra.WithTenant(context.Background(), tenant), workspace)
}

func decision(id, workspace string, outcome cavra.Outcome, at time.Time, index uint64) cavra.DecisionRecord {
	return cavra.DecisionRecord{
		ID: id, Workspace: workspace, AuditIndex: index, RecordedAt: at,
		Action: cavra.Action{Kind: cavra.KindCommandExec, Principal: "alice", Command: &cavra.Command{Line: "rm -rf /tmp/x"},
			Attributes: map[string]any{"n": 1.5}},
		Decision: cavra.Decision{ID: id, Outcome: outcome, RuleID: "r1", Reason: "because", Policy: "baseline",
			PolicyRevision: "sha256:00", DecidedAt: at, Compliance: []string{"x:1"}},
	}
}

// AppendDecisions writes decision rows together with the audit entries that hold them, as
// the audit log does: each decision's AuditIndex is set to its entry's index.
func AppendDecisions(ctx context.Context, tx cavra.StoreTx, ds ...cavra.DecisionRecord) error {
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return err
	}
	es := make([]cavra.AuditEntry, len(ds))
	rows := make([]cavra.DecisionRecord, len(ds))
	for i, d := range ds {
		rec, err := json.Marshal(map[string]any{"body": cavra.DecisionEvidence{Action: d.Action, Decision: d.Decision}, "id": d.ID})
		if err != nil {
			return err
		}
		idx := head.Size + uint64(i)
		es[i] = cavra.AuditEntry{Index: idx, ID: "entry-" + d.ID, Workspace: d.Workspace, Type: cavra.RecordDecision,
			Time: d.RecordedAt, Record: rec, LeafHash: leafOf(rec)}
		d.AuditIndex = idx
		rows[i] = d
	}
	if err := tx.PutDecisions(ctx, rows); err != nil {
		return err
	}
	if len(es) > 0 && es[0].Workspace == "" {
		return nil // PutDecisions has refused these already; keep the caller's error
	}
	return tx.AppendAuditEntries(ctx, es, nil)
}

func mustUpdate(t *testing.T, ctx context.Context, s cavra.Store, fn func(ctx context.Context, tx cavra.StoreTx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func wantCode(t *testing.T, err error, code cavra.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := cavra.Code(err); got != code {
		t.Fatalf("got error code %s (%v), want %s", got, err, code)
	}
}

func testDecisionRoundTrip(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	want := decision("d1", "repo1", cavra.Block, base, 7)
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error {
		return AppendDecisions(ctx, tx, want)
	})
	got, err := s.Decision(ctx, "d1")
	if err != nil {
		t.Fatalf("get decision: %v", err)
	}
	want.Tenant = "acme"
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Workspace != want.Workspace || got.AuditIndex != 0 ||
		!got.RecordedAt.Equal(base) || got.Decision.Outcome != cavra.Block || got.Decision.Reason != "because" ||
		!got.Decision.DecidedAt.Equal(base) || got.Action.Command == nil || got.Action.Command.Line != "rm -rf /tmp/x" ||
		got.Action.Attributes["n"] != 1.5 || len(got.Decision.Compliance) != 1 {
		t.Fatalf("decision round trip:\n got %+v\nwant %+v", got, want)
	}
}

func testDecisionQueries(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	var ds []cavra.DecisionRecord
	for i := range 10 {
		ws := "repo1"
		if i%2 == 1 {
			ws = "repo2"
		}
		out := cavra.Allow
		if i%3 == 0 {
			out = cavra.Block
		}
		ds = append(ds, decision(fmt.Sprintf("d%02d", i), ws, out, base.Add(time.Duration(i)*time.Minute), uint64(i)))
	}
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error { return AppendDecisions(ctx, tx, ds...) })
	tests := []struct {
		name string
		q    cavra.DecisionQuery
		want []string
	}{
		{"all newest first", cavra.DecisionQuery{}, []string{"d09", "d08", "d07", "d06", "d05", "d04", "d03", "d02", "d01", "d00"}},
		{"limit", cavra.DecisionQuery{Limit: 2}, []string{"d09", "d08"}},
		{"workspace", cavra.DecisionQuery{Workspace: "repo2"}, []string{"d09", "d07", "d05", "d03", "d01"}},
		{"outcome", cavra.DecisionQuery{Outcome: cavra.Block}, []string{"d09", "d06", "d03", "d00"}},
		{"window", cavra.DecisionQuery{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, []string{"d03", "d02"}},
		{"nothing", cavra.DecisionQuery{Workspace: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Decisions(ctx, tc.q)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
		})
	}
}

func testDecisionErrors(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	_, err := s.Decision(ctx, "missing")
	wantCode(t, err, cavra.ErrNotFound)
	d := decision("dup", "repo1", cavra.Allow, base, 0)
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error {
		return AppendDecisions(ctx, tx, d)
	})
	err = s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		return AppendDecisions(ctx, tx, d)
	})
	wantCode(t, err, cavra.ErrConflict)
	_, err = s.Decisions(ctx, cavra.DecisionQuery{Limit: 1 << 20})
	wantCode(t, err, cavra.ErrInvalid)
	// A row whose audit entry never came cannot be read as a decision: it has no evidence.
	orphan := decision("orphan", "repo1", cavra.Allow, base, 99)
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error {
		return tx.PutDecisions(ctx, []cavra.DecisionRecord{orphan})
	})
	_, err = s.Decision(ctx, "orphan")
	wantCode(t, err, cavra.ErrInternal)
}

func leafOf(rec []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, rec...))
	return h[:]
}

func entries(from, n uint64, workspace string) []cavra.AuditEntry {
	var out []cavra.AuditEntry
	for i := from; i < from+n; i++ {
		rec := []byte(fmt.Sprintf(`{"i":%d}`, i))
		out = append(out, cavra.AuditEntry{Index: i, ID: fmt.Sprintf("e%d", i), Workspace: workspace, Type: cavra.RecordDecision,
			Time: base.Add(time.Duration(i) * time.Second), Record: rec, LeafHash: leafOf(rec)})
	}
	return out
}

func node(level uint, index uint64) cavra.TreeNode {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d/%d", level, index)))
	return cavra.TreeNode{ID: cavra.TreeNodeID{Level: level, Index: index}, Hash: h[:]}
}

func appendEntries(t *testing.T, ctx context.Context, s cavra.Store, es []cavra.AuditEntry, nodes []cavra.TreeNode) {
	t.Helper()
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error {
		return tx.AppendAuditEntries(ctx, es, nodes)
	})
}

func testAuditAppendAndRead(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	head, err := s.AuditHead(ctx)
	if err != nil || head != (cavra.AuditHead{}) {
		t.Fatalf("empty head = %+v, %v; want zero", head, err)
	}
	appendEntries(t, ctx, s, entries(0, 3, "repo1"), []cavra.TreeNode{node(1, 0)})
	appendEntries(t, ctx, s, entries(3, 600, "repo2"), []cavra.TreeNode{node(1, 1), node(2, 0), node(40, 3)})
	head, err = s.AuditHead(ctx)
	if err != nil || head.Size != 603 {
		t.Fatalf("head = %+v, %v; want size 603", head, err)
	}
	e, err := s.AuditEntry(ctx, 4)
	if err != nil {
		t.Fatalf("entry 4: %v", err)
	}
	want := entries(4, 1, "repo2")[0]
	if e.ID != want.ID || e.Tenant != "acme" || e.Workspace != "repo2" || e.Type != cavra.RecordDecision ||
		!e.Time.Equal(want.Time) || !bytes.Equal(e.Record, want.Record) || !bytes.Equal(e.LeafHash, want.LeafHash) {
		t.Fatalf("entry 4 = %+v, want %+v", e, want)
	}
	byID, err := s.AuditEntryByID(ctx, "e2")
	if err != nil || byID.Index != 2 || byID.Workspace != "repo1" {
		t.Fatalf("entry e2 = %+v, %v", byID, err)
	}
	_, err = s.AuditEntry(ctx, 603)
	wantCode(t, err, cavra.ErrNotFound)
	_, err = s.AuditEntryByID(ctx, "nope")
	wantCode(t, err, cavra.ErrNotFound)

	var seen []uint64
	if err := s.ScanAuditEntries(ctx, 1, 5, func(e cavra.AuditEntry) error { seen = append(seen, e.Index); return nil }); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if fmt.Sprint(seen) != "[1 2 3 4]" {
		t.Fatalf("scan 1..5 saw %v", seen)
	}
	stop := errors.New("stop")
	n := 0
	err = s.ScanAuditEntries(ctx, 0, 1000, func(cavra.AuditEntry) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("scan did not stop at the callback's error: n=%d err=%v", n, err)
	}

	hashes, err := s.TreeNodes(ctx, []cavra.TreeNodeID{{Level: 2, Index: 0}, {Level: 1, Index: 0}, {Level: 40, Index: 3}})
	if err != nil {
		t.Fatalf("tree nodes: %v", err)
	}
	if !bytes.Equal(hashes[0], node(2, 0).Hash) || !bytes.Equal(hashes[1], node(1, 0).Hash) || !bytes.Equal(hashes[2], node(40, 3).Hash) {
		t.Fatalf("tree nodes came back wrong or out of order")
	}
	_, err = s.TreeNodes(ctx, []cavra.TreeNodeID{{Level: 1, Index: 0}, {Level: 3, Index: 0}})
	wantCode(t, err, cavra.ErrNotFound)
	leaves, err := s.TreeNodes(ctx, []cavra.TreeNodeID{{Level: 0, Index: 5}, {Level: 1, Index: 1}, {Level: 0, Index: 0}})
	if err != nil {
		t.Fatalf("level-0 tree nodes: %v", err)
	}
	if !bytes.Equal(leaves[0], entries(5, 1, "")[0].LeafHash) || !bytes.Equal(leaves[1], node(1, 1).Hash) || !bytes.Equal(leaves[2], entries(0, 1, "")[0].LeafHash) {
		t.Fatalf("level-0 nodes are not the entries' leaf hashes")
	}
	_, err = s.TreeNodes(ctx, []cavra.TreeNodeID{{Level: 0, Index: 603}})
	wantCode(t, err, cavra.ErrNotFound)
	var lvl1 []uint64
	if err := s.ScanTreeNodes(ctx, 1, 0, 100, func(n cavra.TreeNode) error {
		if n.ID.Level != 1 {
			return fmt.Errorf("node of level %d in a level-1 scan", n.ID.Level)
		}
		lvl1 = append(lvl1, n.ID.Index)
		return nil
	}); err != nil {
		t.Fatalf("scan nodes: %v", err)
	}
	if fmt.Sprint(lvl1) != "[0 1]" {
		t.Fatalf("level 1 nodes = %v", lvl1)
	}
}

func testAuditAppendRejectsGaps(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	appendEntries(t, ctx, s, entries(0, 2, "repo1"), nil)
	tests := []struct {
		name string
		es   []cavra.AuditEntry
	}{
		{"gap", entries(3, 1, "repo1")},
		{"overwrite", entries(1, 1, "repo1")},
		{"hole inside batch", append(entries(2, 1, "repo1"), entries(4, 1, "repo1")...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
				return tx.AppendAuditEntries(ctx, tc.es, nil)
			})
			wantCode(t, err, cavra.ErrConflict)
			head, err := s.AuditHead(ctx)
			if err != nil || head.Size != 2 {
				t.Fatalf("head after rejected append = %+v, %v; want size 2", head, err)
			}
		})
	}
}

func testUpdateIsAtomic(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	boom := errors.New("boom")
	err := s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		if err := AppendDecisions(ctx, tx, decision("d1", "repo1", cavra.Allow, base, 0)); err != nil {
			return err
		}
		if err := tx.AppendAuditEntries(ctx, entries(1, 1, "repo1"), []cavra.TreeNode{node(1, 0)}); err != nil {
			return err
		}
		head, err := tx.AuditHead(ctx)
		if err != nil || head.Size != 2 {
			return fmt.Errorf("head inside the transaction = %+v, %v; want size 2", head, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update returned %v, want the callback's error", err)
	}
	if _, err := s.Decision(ctx, "d1"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("decision of a rolled-back update is visible: %v", err)
	}
	if head, err := s.AuditHead(ctx); err != nil || head.Size != 0 {
		t.Fatalf("head after rollback = %+v, %v", head, err)
	}
	if _, err := s.TreeNodes(ctx, []cavra.TreeNodeID{{Level: 1, Index: 0}}); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("tree node of a rolled-back update is visible: %v", err)
	}
}

func checkpoint(seq, size uint64, at time.Time) cavra.Checkpoint {
	return cavra.Checkpoint{Seq: seq, Origin: "o", Size: size, RootHash: bytes.Repeat([]byte{byte(seq)}, 32),
		Note: []byte(fmt.Sprintf("o\n%d\n", size)), KeyID: "k+00000000", CreatedAt: at}
}

func testCheckpoints(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	_, err := s.LatestCheckpoint(ctx)
	wantCode(t, err, cavra.ErrNotFound)
	appendEntries(t, ctx, s, entries(0, 5, "repo1"), nil)
	put := func(cp cavra.Checkpoint) error {
		return s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error { return tx.PutCheckpoint(ctx, cp) })
	}
	if err := put(checkpoint(1, 3, base)); err != nil {
		t.Fatalf("checkpoint 1: %v", err)
	}
	if err := put(checkpoint(2, 5, base.Add(time.Minute))); err != nil {
		t.Fatalf("checkpoint 2: %v", err)
	}
	tests := []struct {
		name string
		cp   cavra.Checkpoint
		code cavra.ErrorCode
	}{
		{"seq gap", checkpoint(4, 5, base), cavra.ErrConflict},
		{"seq repeat", checkpoint(2, 5, base), cavra.ErrConflict},
		{"shrinks", checkpoint(3, 4, base), cavra.ErrConflict},
		{"beyond log", checkpoint(3, 6, base), cavra.ErrConflict},
		{"no note", cavra.Checkpoint{Seq: 3, Origin: "o", Size: 5}, cavra.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, put(tc.cp), tc.code) })
	}
	latest, err := s.LatestCheckpoint(ctx)
	if err != nil || latest.Seq != 2 || latest.Size != 5 || latest.Tenant != "acme" || !latest.CreatedAt.Equal(base.Add(time.Minute)) ||
		!bytes.Equal(latest.Note, checkpoint(2, 5, base).Note) || latest.KeyID != "k+00000000" {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	first, err := s.CheckpointBySeq(ctx, 1)
	if err != nil || first.Size != 3 || !bytes.Equal(first.RootHash, checkpoint(1, 3, base).RootHash) {
		t.Fatalf("checkpoint 1 = %+v, %v", first, err)
	}
	head, err := s.AuditHead(ctx)
	if err != nil || head.CheckpointSeq != 2 || head.CheckpointSize != 5 || !head.CheckpointAt.Equal(base.Add(time.Minute)) || head.Size != 5 {
		t.Fatalf("head = %+v, %v", head, err)
	}
	var seqs []uint64
	if err := s.ScanCheckpoints(ctx, func(cp cavra.Checkpoint) error { seqs = append(seqs, cp.Seq); return nil }); err != nil {
		t.Fatalf("scan checkpoints: %v", err)
	}
	if fmt.Sprint(seqs) != "[1 2]" {
		t.Fatalf("checkpoints = %v", seqs)
	}
}

func testTenantIsolation(t *testing.T, s cavra.Store) {
	a := tenantCtx("tenant-a", "ws")
	b := tenantCtx("tenant-b", "ws")
	mustUpdate(t, a, s, func(ctx context.Context, tx cavra.StoreTx) error {
		if err := AppendDecisions(ctx, tx, decision("shared-id", "ws", cavra.Allow, base, 0)); err != nil {
			return err
		}
		if err := tx.AppendAuditEntries(ctx, entries(1, 1, "ws"), []cavra.TreeNode{node(1, 0)}); err != nil {
			return err
		}
		return tx.PutCheckpoint(ctx, checkpoint(1, 2, base))
	})
	if _, err := s.Decision(b, "shared-id"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("tenant b reads tenant a's decision: %v", err)
	}
	if ds, err := s.Decisions(b, cavra.DecisionQuery{}); err != nil || len(ds) != 0 {
		t.Fatalf("tenant b lists %d decisions, %v", len(ds), err)
	}
	if head, err := s.AuditHead(b); err != nil || head != (cavra.AuditHead{}) {
		t.Fatalf("tenant b head = %+v, %v", head, err)
	}
	if _, err := s.AuditEntryByID(b, "e1"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("tenant b reads tenant a's entry: %v", err)
	}
	if _, err := s.TreeNodes(b, []cavra.TreeNodeID{{Level: 1, Index: 0}}); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("tenant b reads tenant a's node: %v", err)
	}
	if _, err := s.LatestCheckpoint(b); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("tenant b reads tenant a's checkpoint: %v", err)
	}
	// The same ids and indexes are free in another tenant.
	mustUpdate(t, b, s, func(ctx context.Context, tx cavra.StoreTx) error {
		return AppendDecisions(ctx, tx, decision("shared-id", "ws", cavra.Block, base, 0))
	})
	da, err := s.Decision(a, "shared-id")
	if err != nil || da.Decision.Outcome != cavra.Allow || da.Tenant != "tenant-a" {
		t.Fatalf("tenant a's decision changed: %+v, %v", da, err)
	}
	if head, _ := s.AuditHead(a); head.Size != 2 {
		t.Fatalf("tenant a head size = %d, want 2", head.Size)
	}
}

func testConcurrentAppends(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
					head, err := tx.AuditHead(ctx)
					if err != nil {
						return err
					}
					return tx.AppendAuditEntries(ctx, entries(head.Size, 1, "repo1"), nil)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent append: %v", err)
		}
	}
	var next uint64
	if err := s.ScanAuditEntries(ctx, 0, 1<<40, func(e cavra.AuditEntry) error {
		if e.Index != next {
			return fmt.Errorf("index %d after %d", e.Index, next)
		}
		next++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if next != writers*each {
		t.Fatalf("log holds %d entries, want %d", next, writers*each)
	}
}

func testBadInput(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	tests := []struct {
		name string
		ctx  context.Context
		fn   func(ctx context.Context, tx cavra.StoreTx) error
		code cavra.ErrorCode
	}{
		{"decision without id", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			return tx.PutDecisions(ctx, []cavra.DecisionRecord{decision("", "repo1", cavra.Allow, base, 0)})
		}, cavra.ErrInvalid},
		{"decision without workspace", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			return tx.PutDecisions(ctx, []cavra.DecisionRecord{decision("x", "", cavra.Allow, base, 0)})
		}, cavra.ErrInvalid},
		{"decision of another tenant", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			d := decision("x", "repo1", cavra.Allow, base, 0)
			d.Tenant = "other"
			return AppendDecisions(ctx, tx, d)
		}, cavra.ErrForbidden},
		{"entry without record", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			e := entries(0, 1, "repo1")
			e[0].Record = nil
			return tx.AppendAuditEntries(ctx, e, nil)
		}, cavra.ErrInvalid},
		{"entry of another tenant", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			e := entries(0, 1, "repo1")
			e[0].Tenant = "other"
			return tx.AppendAuditEntries(ctx, e, nil)
		}, cavra.ErrForbidden},
		{"nodes without entries", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			return tx.AppendAuditEntries(ctx, nil, []cavra.TreeNode{node(1, 0)})
		}, cavra.ErrInvalid},
		{"node level out of range", ctx, func(ctx context.Context, tx cavra.StoreTx) error {
			return tx.AppendAuditEntries(ctx, entries(0, 1, "repo1"), []cavra.TreeNode{node(200, 0)})
		}, cavra.ErrInvalid},
		{"tenant with a space", tenantCtx("a b", "ws"), func(ctx context.Context, tx cavra.StoreTx) error { return nil }, cavra.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, s.Update(tc.ctx, tc.fn), tc.code) })
	}
	_, err := s.AuditEntry(ctx, 1<<63)
	wantCode(t, err, cavra.ErrInvalid)
	if head, err := s.AuditHead(ctx); err != nil || head.Size != 0 {
		t.Fatalf("rejected writes changed the head: %+v, %v", head, err)
	}
}
