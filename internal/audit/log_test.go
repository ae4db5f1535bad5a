package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

func TestRecordDecisionWritesRowAndEntry(t *testing.T) {
	tl := newTestLog(t, Options{ManualCheckpoints: true})
	ctx := cavra.WithWorkspace(cavra.WithTenant(context.Background(), "acme"), "payments")
	a, d := testDecision(1)
	d.ID = "dec-1"
	if err := tl.log.RecordDecision(ctx, a, d); err != nil {
		t.Fatalf("record: %v", err)
	}
	row, err := tl.store.Decision(ctx, "dec-1")
	if err != nil {
		t.Fatalf("decision row: %v", err)
	}
	if row.Tenant != "acme" || row.Workspace != "payments" || row.AuditIndex != 0 || row.Decision.RuleID != "git.force-push" {
		t.Fatalf("decision row = %+v", row)
	}
	e, err := tl.log.EntryByID(ctx, "dec-1")
	if err != nil {
		t.Fatalf("entry: %v", err)
	}
	rec, err := ParseRecord(e.Record)
	if err != nil {
		t.Fatalf("parse record: %v", err)
	}
	if rec.Tenant != "acme" || rec.Workspace != "payments" || rec.Type != cavra.RecordDecision || rec.Index != 0 {
		t.Fatalf("record = %+v", rec)
	}
	var body cavra.DecisionEvidence
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if body.Decision.ID != "dec-1" || body.Action.Command.Line != a.Command.Line {
		t.Fatalf("body = %+v", body)
	}
	if !bytes.Equal(e.LeafHash, rfc6962.DefaultHasher.HashLeaf(e.Record)) {
		t.Fatal("leaf hash is not the RFC 6962 leaf hash of the record")
	}
}

func TestRecordDecisionRejectsBadInput(t *testing.T) {
	tl := newTestLog(t, Options{ManualCheckpoints: true})
	tests := []struct {
		name string
		ctx  context.Context
		a    cavra.Action
		d    cavra.Decision
		code cavra.ErrorCode
	}{
		{"unknown outcome", testCtx(), cavra.Action{Kind: cavra.KindFileRead}, cavra.Decision{Outcome: "maybe"}, cavra.ErrInvalid},
		{"unencodable attribute", testCtx(), cavra.Action{Kind: cavra.KindFileRead, Attributes: map[string]any{"f": func() {}}},
			cavra.Decision{Outcome: cavra.Allow}, cavra.ErrInvalid},
		{"tenant with newline", cavra.WithTenant(context.Background(), "a\nb"), cavra.Action{Kind: cavra.KindFileRead},
			cavra.Decision{Outcome: cavra.Allow}, cavra.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tl.log.RecordDecision(tc.ctx, tc.a, tc.d)
			if cavra.Code(err) != tc.code {
				t.Fatalf("got %v (%s), want %s", err, cavra.Code(err), tc.code)
			}
		})
	}
	if head, _ := tl.log.Head(testCtx()); head.Size != 0 {
		t.Fatalf("rejected records were appended: size %d", head.Size)
	}
}

func TestInclusionAndConsistencyProofs(t *testing.T) {
	tl := newTestLog(t, Options{ManualCheckpoints: true})
	ctx := testCtx()
	const n = 70
	entries := appendN(t, ctx, tl.log, n)
	roots := map[uint64][]byte{}
	for size := uint64(1); size <= n; size++ {
		root, err := tl.log.rootAt(ctx, tl.store, size)
		if err != nil {
			t.Fatalf("root at %d: %v", size, err)
		}
		roots[size] = root
	}
	for size := uint64(1); size <= n; size += 7 {
		for i := uint64(0); i < size; i++ {
			p, err := tl.log.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatalf("prove %d in %d: %v", i, size, err)
			}
			if err := VerifyInclusion(entries[i].Record, i, size, p, roots[size]); err != nil {
				t.Fatalf("inclusion of %d in %d does not verify: %v", i, size, err)
			}
			if i == 0 && size > 1 {
				if err := VerifyInclusion(entries[1].Record, 0, size, p, roots[size]); err == nil {
					t.Fatalf("inclusion proof of entry 0 verifies for entry 1's record")
				}
			}
		}
		for s1 := uint64(1); s1 <= size; s1 += 3 {
			p, err := tl.log.ConsistencyProof(ctx, s1, size)
			if err != nil {
				t.Fatalf("consistency %d..%d: %v", s1, size, err)
			}
			if err := VerifyConsistency(s1, size, p, roots[s1], roots[size]); err != nil {
				t.Fatalf("consistency %d..%d does not verify: %v", s1, size, err)
			}
		}
	}
	tests := []struct {
		name        string
		index, size uint64
	}{
		{"index at size", 5, 5},
		{"size beyond log", 1, n + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tl.log.InclusionProof(ctx, tc.index, tc.size); cavra.Code(err) != cavra.ErrInvalid {
				t.Fatalf("got %v, want an invalid-input error", err)
			}
		})
	}
	if _, err := tl.log.ConsistencyProof(ctx, 9, 8); cavra.Code(err) != cavra.ErrInvalid {
		t.Fatalf("consistency 9..8: got %v", err)
	}
}

func TestCheckpointTriggers(t *testing.T) {
	tests := []struct {
		name     string
		every    uint64
		interval time.Duration
		appends  int
		advance  time.Duration // before the last append
		wantSeqs uint64
		wantSize uint64
	}{
		{"size trigger", 10, time.Hour, 25, 0, 3, 21},
		{"time trigger", 1000, time.Minute, 5, 2 * time.Minute, 2, 5},
		{"neither", 1000, time.Hour, 5, 0, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTestLog(t, Options{CheckpointEvery: tc.every, CheckpointInterval: tc.interval})
			ctx := testCtx()
			appendN(t, ctx, tl.log, tc.appends-1)
			tl.clock.Advance(tc.advance)
			appendN(t, ctx, tl.log, 1)
			head, err := tl.log.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The first append always cuts (no checkpoint yet, so the interval has passed).
			if head.CheckpointSeq != tc.wantSeqs || head.CheckpointSize != tc.wantSize {
				t.Fatalf("head = %+v, want %d checkpoints, last at size %d", head, tc.wantSeqs, tc.wantSize)
			}
			if _, err := tl.log.Verify(ctx, []cavra.KeyInfo{tl.signer.info}); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

func TestCheckpointIsSignedNote(t *testing.T) {
	tl := newTestLog(t, Options{ManualCheckpoints: true})
	ctx := testCtx()
	appendN(t, ctx, tl.log, 3)
	cp, err := tl.log.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	vs, err := keys.NoteVerifiers([]cavra.KeyInfo{tl.signer.info})
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp.Note, vs)
	if err != nil {
		t.Fatalf("open note: %v", err)
	}
	body, err := ParseCheckpointBody(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	if body.Origin != "cavra.local/audit/acme" || body.Size != 3 || !bytes.Equal(body.RootHash, cp.RootHash) || cp.Seq != 1 {
		t.Fatalf("checkpoint body = %+v, stored %+v", body, cp)
	}
	again, err := tl.log.Checkpoint(ctx)
	if err != nil || again.Seq != 1 {
		t.Fatalf("checkpoint of an unchanged log = seq %d, %v; want the same checkpoint", again.Seq, err)
	}
	noKey := New(tl.store, Options{})
	if _, err := noKey.Checkpoint(ctx); cavra.Code(err) != cavra.ErrUnavailable {
		t.Fatalf("checkpoint without a signer: %v", err)
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	tl := newTestLog(t, Options{CheckpointEvery: 50})
	ctx := testCtx()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a, d := testDecision(w*1000 + i)
				errs <- tl.log.RecordDecision(ctx, a, d)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	rep, err := tl.log.Verify(ctx, []cavra.KeyInfo{tl.signer.info})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Size != writers*each || rep.Checkpoints == 0 {
		t.Fatalf("report = %+v", rep)
	}
	ds, err := tl.store.Decisions(ctx, cavra.DecisionQuery{Limit: 1000})
	if err != nil || len(ds) != writers*each {
		t.Fatalf("decision rows = %d, %v", len(ds), err)
	}
}

// TestTwoWritersShareOneDatabase stands for two hook processes: each Log caches its own tree
// edge and must notice the other's appends.
func TestTwoWritersShareOneDatabase(t *testing.T) {
	tl := newTestLog(t, Options{CheckpointEvery: 7})
	other := openTestStore(t, tl.path)
	second := New(other, Options{Clock: tl.clock.Now, Signer: tl.signer.open, CheckpointEvery: 7})
	ctx := testCtx()
	for i := range 30 {
		l := tl.log
		if i%3 == 0 {
			l = second
		}
		appendN(t, ctx, l, 1+i%2)
	}
	if _, err := tl.log.Verify(ctx, []cavra.KeyInfo{tl.signer.info}); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestVerifyRejectsUntrustedAndRevokedKeys(t *testing.T) {
	tl := newTestLog(t, Options{ManualCheckpoints: true})
	ctx := testCtx()
	appendN(t, ctx, tl.log, 4)
	cp, err := tl.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stranger := newTestSigner(t, time.Time{})
	revoked := tl.signer.info
	revoked.Status, revoked.RevokedAt = cavra.KeyRevoked, cp.CreatedAt.Add(-time.Second)
	late := tl.signer.info
	late.NotBefore = cp.CreatedAt.Add(time.Hour)
	tests := []struct {
		name string
		keys []cavra.KeyInfo
		want string
	}{
		{"no keys", nil, "not signed by a trusted key"},
		{"other key", []cavra.KeyInfo{stranger.info}, "not signed by a trusted key"},
		{"revoked before signing", []cavra.KeyInfo{revoked}, "revocation"},
		{"window not open", []cavra.KeyInfo{late}, "before its window"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tl.log.Verify(ctx, tc.keys)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Checkpoint != 1 || !bytes.Contains([]byte(ve.Reason), []byte(tc.want)) {
				t.Fatalf("got %v, want checkpoint 1 rejected for %q", err, tc.want)
			}
		})
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	tl := newTestLog(t, Options{})
	rep, err := tl.log.Verify(testCtx(), nil)
	if err != nil || rep.Size != 0 || !bytes.Equal(rep.RootHash, rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("verify empty log = %+v, %v", rep, err)
	}
}

func TestTenantsHaveSeparateLogs(t *testing.T) {
	tl := newTestLog(t, Options{CheckpointEvery: 3})
	a := cavra.WithTenant(context.Background(), "a")
	b := cavra.WithTenant(context.Background(), "b")
	appendN(t, a, tl.log, 5)
	appendN(t, b, tl.log, 2)
	for _, c := range []struct {
		ctx  context.Context
		size uint64
	}{{a, 5}, {b, 2}} {
		rep, err := tl.log.Verify(c.ctx, []cavra.KeyInfo{tl.signer.info})
		if err != nil || rep.Size != c.size {
			t.Fatalf("tenant %s: %+v, %v", cavra.TenantFrom(c.ctx), rep, err)
		}
	}
	cp, err := tl.store.LatestCheckpoint(b)
	if err != nil || cp.Origin != "cavra.local/audit/b" {
		t.Fatalf("tenant b checkpoint = %+v, %v", cp, err)
	}
	_ = fmt.Sprint()
}
