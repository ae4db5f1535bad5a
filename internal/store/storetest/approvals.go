package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

// approval returns a pending request created at created, expiring an hour later.
func approval(id, workspace, fingerprint string, created time.Time) cavra.Approval {
	return cavra.Approval{
		ID: id, Workspace: workspace, State: cavra.ApprovalPending, Fingerprint: fingerprint,
		Action: cavra.Action{Kind: cavra.KindCommandExec, Principal: "alice", Command: &cavra.Command{Line: "git push --force"},
			Attributes: map[string]any{"n": 1.5}},
		DecisionID: "d-" + id, RuleID: "r1", Reason: "force push", Requester: "alice", Caller: "ci-bot",
		Required: 2, TTL: cavra.Duration(10 * time.Minute),
		CreatedAt: created, ExpiresAt: created.Add(time.Hour), UpdatedAt: created,
	}
}

func putApprovals(t *testing.T, ctx context.Context, s cavra.Store, as ...cavra.Approval) {
	t.Helper()
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error {
		for _, a := range as {
			if err := tx.PutApproval(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameApproval compares through JSON, the form the store keeps, so that time zones and nil
// versus empty collections do not count as differences.
func sameApproval(t *testing.T, got, want cavra.Approval) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Fatalf("approval round trip:\n got %s\nwant %s", g, w)
	}
}

func approvalIDs(as []cavra.Approval) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func testApprovalRoundTrip(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	_, err := s.Approval(ctx, "ap1")
	wantCode(t, err, cavra.ErrNotFound)

	want := approval("ap1", "repo1", "fp1", base)
	putApprovals(t, ctx, s, want)
	want.Tenant = "acme"
	got, err := s.Approval(ctx, "ap1")
	if err != nil {
		t.Fatalf("get approval: %v", err)
	}
	sameApproval(t, got, want)

	// Replacing by id: a grant with votes, read back inside the writing transaction too.
	granted := want
	granted.State = cavra.ApprovalGranted
	granted.Votes = []cavra.Vote{{Principal: "bob", Granted: true, Reason: "ok", At: base.Add(time.Minute)},
		{Principal: "carol", Granted: true, At: base.Add(2 * time.Minute)}}
	granted.DecidedAt = base.Add(2 * time.Minute)
	granted.ExpiresAt = base.Add(12 * time.Minute)
	granted.UpdatedAt = base.Add(2 * time.Minute)
	mustUpdate(t, ctx, s, func(ctx context.Context, tx cavra.StoreTx) error {
		if err := tx.PutApproval(ctx, granted); err != nil {
			return err
		}
		in, err := tx.Approval(ctx, "ap1")
		if err != nil {
			return err
		}
		if in.State != cavra.ApprovalGranted {
			return fmt.Errorf("inside the transaction the approval is %s, want granted", in.State)
		}
		return nil
	})
	got, err = s.Approval(ctx, "ap1")
	if err != nil {
		t.Fatalf("get replaced approval: %v", err)
	}
	sameApproval(t, got, granted)
	all, err := s.Approvals(ctx, cavra.ApprovalQuery{})
	if err != nil || len(all) != 1 {
		t.Fatalf("after replacing, the tenant lists %v, %v; want one approval", approvalIDs(all), err)
	}
	// The queryable columns follow the replacement.
	if pending, err := s.Approvals(ctx, cavra.ApprovalQuery{State: cavra.ApprovalPending}); err != nil || len(pending) != 0 {
		t.Fatalf("replaced approval still listed as pending: %v, %v", approvalIDs(pending), err)
	}

	// A rolled-back write leaves no trace.
	boom := errors.New("boom")
	err = s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		used := granted
		used.State = cavra.ApprovalUsed
		if err := tx.PutApproval(ctx, used); err != nil {
			return err
		}
		if err := tx.PutApproval(ctx, approval("ap2", "repo1", "fp2", base)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update returned %v, want the callback's error", err)
	}
	if got, err := s.Approval(ctx, "ap1"); err != nil || got.State != cavra.ApprovalGranted {
		t.Fatalf("rolled-back change is visible: %s, %v", got.State, err)
	}
	_, err = s.Approval(ctx, "ap2")
	wantCode(t, err, cavra.ErrNotFound)
}

func testApprovalQueries(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	mk := func(id, ws, fp string, state cavra.ApprovalState, created, expires time.Time) cavra.Approval {
		a := approval(id, ws, fp, created)
		a.State, a.ExpiresAt = state, expires
		return a
	}
	putApprovals(t, ctx, s,
		mk("a0", "repo1", "fp1", cavra.ApprovalDenied, at(0), at(60)),
		mk("a1", "repo1", "fp1", cavra.ApprovalPending, at(1), at(30)),
		mk("a2", "repo2", "fp2", cavra.ApprovalPending, at(2), at(10)),
		mk("a3", "repo1", "fp1", cavra.ApprovalGranted, at(3), at(20)),
		// a4 and a5 share a creation time: the id breaks the tie, newest (largest) first.
		mk("a5", "repo2", "fp3", cavra.ApprovalGranted, at(4), at(5)),
		mk("a4", "repo1", "fp2", cavra.ApprovalPending, at(4), at(40)),
	)
	tests := []struct {
		name string
		q    cavra.ApprovalQuery
		want []string
	}{
		{"all newest first", cavra.ApprovalQuery{}, []string{"a5", "a4", "a3", "a2", "a1", "a0"}},
		{"limit", cavra.ApprovalQuery{Limit: 3}, []string{"a5", "a4", "a3"}},
		{"state", cavra.ApprovalQuery{State: cavra.ApprovalPending}, []string{"a4", "a2", "a1"}},
		{"fingerprint", cavra.ApprovalQuery{Fingerprint: "fp1"}, []string{"a3", "a1", "a0"}},
		{"fingerprint and state", cavra.ApprovalQuery{Fingerprint: "fp1", State: cavra.ApprovalGranted}, []string{"a3"}},
		{"workspace", cavra.ApprovalQuery{Workspace: "repo2"}, []string{"a5", "a2"}},
		// Strictly before: a3 expires exactly at minute 20 and is not due yet.
		{"expires before", cavra.ApprovalQuery{ExpiresBefore: at(20)}, []string{"a5", "a2"}},
		{"due pending", cavra.ApprovalQuery{State: cavra.ApprovalPending, ExpiresBefore: at(31)}, []string{"a2", "a1"}},
		{"due with limit", cavra.ApprovalQuery{ExpiresBefore: at(100), Limit: 1}, []string{"a5"}},
		{"nothing", cavra.ApprovalQuery{Fingerprint: "nope"}, nil},
		{"expired state", cavra.ApprovalQuery{State: cavra.ApprovalExpired}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Approvals(ctx, tc.q)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if ids := approvalIDs(got); fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
			for _, a := range got {
				if a.Tenant != "acme" {
					t.Fatalf("approval %s has tenant %q", a.ID, a.Tenant)
				}
			}
		})
	}
	t.Run("default limit is 100", func(t *testing.T) {
		var many []cavra.Approval
		for i := range 105 {
			many = append(many, approval(fmt.Sprintf("m%03d", i), "repo3", "fpm", at(100+i)))
		}
		putApprovals(t, ctx, s, many...)
		got, err := s.Approvals(ctx, cavra.ApprovalQuery{Workspace: "repo3"})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(got) != 100 || got[0].ID != "m104" || got[99].ID != "m005" {
			t.Fatalf("got %d approvals from %v; want 100, m104 to m005", len(got), approvalIDs(got[:min(len(got), 2)]))
		}
	})
	t.Run("limit too large", func(t *testing.T) {
		_, err := s.Approvals(ctx, cavra.ApprovalQuery{Limit: 1 << 20})
		wantCode(t, err, cavra.ErrInvalid)
	})
}

func testApprovalTenantIsolation(t *testing.T, s cavra.Store) {
	a := tenantCtx("tenant-a", "ws")
	b := tenantCtx("tenant-b", "ws")
	putApprovals(t, a, s, approval("shared-id", "ws", "fp1", base))
	if _, err := s.Approval(b, "shared-id"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("tenant b reads tenant a's approval: %v", err)
	}
	for _, q := range []cavra.ApprovalQuery{{}, {Fingerprint: "fp1"}, {ExpiresBefore: base.Add(24 * time.Hour)}} {
		if as, err := s.Approvals(b, q); err != nil || len(as) != 0 {
			t.Fatalf("tenant b lists %v with %+v, %v", approvalIDs(as), q, err)
		}
	}
	// The same id is free in another tenant, and writing it leaves tenant a's alone.
	other := approval("shared-id", "ws", "fp1", base)
	other.State = cavra.ApprovalDenied
	putApprovals(t, b, s, other)
	got, err := s.Approval(a, "shared-id")
	if err != nil || got.State != cavra.ApprovalPending || got.Tenant != "tenant-a" {
		t.Fatalf("tenant a's approval changed: %s %q, %v", got.State, got.Tenant, err)
	}
	got, err = s.Approval(b, "shared-id")
	if err != nil || got.State != cavra.ApprovalDenied || got.Tenant != "tenant-b" {
		t.Fatalf("tenant b's approval: %s %q, %v", got.State, got.Tenant, err)
	}
}

func testApprovalBadInput(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "repo1")
	tests := []struct {
		name   string
		change func(a *cavra.Approval)
		code   cavra.ErrorCode
	}{
		{"no id", func(a *cavra.Approval) { a.ID = "" }, cavra.ErrInvalid},
		{"no workspace", func(a *cavra.Approval) { a.Workspace = "" }, cavra.ErrInvalid},
		{"unknown state", func(a *cavra.Approval) { a.State = "maybe" }, cavra.ErrInvalid},
		{"no fingerprint", func(a *cavra.Approval) { a.Fingerprint = "" }, cavra.ErrInvalid},
		{"another tenant", func(a *cavra.Approval) { a.Tenant = "other" }, cavra.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := approval("bad", "repo1", "fp1", base)
			tc.change(&a)
			wantCode(t, s.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error { return tx.PutApproval(ctx, a) }), tc.code)
		})
	}
	if as, err := s.Approvals(ctx, cavra.ApprovalQuery{}); err != nil || len(as) != 0 {
		t.Fatalf("rejected approvals were stored: %v, %v", approvalIDs(as), err)
	}
}
