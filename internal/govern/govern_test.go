package govern

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/testenv"
)

const testPack = `
name: govern-test
settings: {default: allow}
rules:
  - id: deploy.prod
    match: {programs: [kubectl], args: [prod]}
    outcome: require_approval
    severity: high
    message: Production deploys need a human.
  - id: db.drop
    match: {programs: [dropdb]}
    outcome: require_approval
    severity: high
    message: Dropping a database needs a human.
    approval_ttl: 15m
  - id: release.publish
    match: {programs: [npm], subcommands: [publish]}
    outcome: require_approval
    severity: high
    message: Publishing needs two people.
    approvers: 2
  - id: wipe
    match: {programs: [mkfs]}
    outcome: block
    message: no.
`

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu     sync.Mutex
	events []cavra.Event
}

func (r *recorder) Publish(_ context.Context, e cavra.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) types() []cavra.EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []cavra.EventType
	for _, e := range r.events {
		ts = append(ts, e.Type)
	}
	return ts
}

type fixture struct {
	svc    *Service
	log    *audit.Log
	clock  *clock
	events *recorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cavra.db"), sqlstore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureOn(t, st)
}

// newPostgresFixture runs the service on the machine's PostgreSQL, in a schema of its own.
func newPostgresFixture(t *testing.T) *fixture {
	t.Helper()
	dsn := testenv.Postgres(t)
	schema := fmt.Sprintf("cavra_govern_test_%d", time.Now().UnixNano())
	st, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := st.SQL().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		st.Close()
	})
	return newFixtureOn(t, st)
}

func newFixtureOn(t *testing.T, st cavra.Store) *fixture {
	t.Helper()
	pack, err := engine.Parse("govern-test.yaml", []byte(testPack))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := engine.Compile(pack)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	log := audit.New(st, audit.Options{Clock: clk.Now, ManualCheckpoints: true})
	rec := &recorder{}
	svc, err := New(Config{Engine: engine.New(pol, engine.Options{Now: clk.Now}), Log: log, Publisher: rec, Clock: clk.Now}, Metrics{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &fixture{svc: svc, log: log, clock: clk, events: rec}
}

func as(name string) context.Context {
	return cavra.WithPrincipal(context.Background(), cavra.Principal{ID: name})
}

func command(principal, line string) cavra.Action {
	return cavra.Action{Kind: cavra.KindCommandExec, Principal: principal, Cwd: "/work/app",
		Command: &cavra.Command{Line: line}, Source: cavra.Source{Host: "api", SessionID: time.Now().String()}}
}

func (f *fixture) decide(t *testing.T, a cavra.Action) cavra.Decision {
	t.Helper()
	d, err := f.svc.Decide(as(a.Principal), a)
	if err != nil {
		t.Fatalf("decide %q: %v", a.Command.Line, err)
	}
	return d
}

func wantOutcome(t *testing.T, d cavra.Decision, want cavra.Outcome) {
	t.Helper()
	if d.Outcome != want {
		t.Fatalf("outcome = %s (%s), want %s", d.Outcome, d.Reason, want)
	}
}

func TestSingleUseApproval(t *testing.T) {
	f := newFixture(t)
	deploy := command("alice", "kubectl apply -f app.yaml --context prod")

	first := f.decide(t, deploy)
	wantOutcome(t, first, cavra.RequireApproval)
	if first.ApprovalID == "" {
		t.Fatal("require_approval decision names no approval")
	}
	// Retrying before anyone answers joins the same request.
	again := f.decide(t, deploy)
	wantOutcome(t, again, cavra.RequireApproval)
	if again.ApprovalID != first.ApprovalID {
		t.Fatalf("retry opened approval %s, want the pending %s", again.ApprovalID, first.ApprovalID)
	}
	// A different action is a different request.
	other := f.decide(t, command("alice", "kubectl delete ns payments --context prod"))
	if other.ApprovalID == first.ApprovalID {
		t.Fatal("a different action joined the first action's approval")
	}

	if _, err := f.svc.Approve(as("alice"), first.ApprovalID, "me"); cavra.Code(err) != cavra.ErrForbidden {
		t.Fatalf("self-approval: err = %v, want forbidden", err)
	}
	ap, err := f.svc.Approve(as("bob"), first.ApprovalID, "looks fine")
	if err != nil {
		t.Fatal(err)
	}
	if ap.State != cavra.ApprovalGranted {
		t.Fatalf("state = %s, want granted", ap.State)
	}
	if _, err := f.svc.Approve(as("carol"), first.ApprovalID, ""); cavra.Code(err) != cavra.ErrConflict {
		t.Fatalf("approving a granted approval: err = %v, want conflict", err)
	}

	// The approved action from someone else, or somewhere else, is still gated.
	wantOutcome(t, f.decide(t, command("mallory", "kubectl apply -f app.yaml --context prod")), cavra.RequireApproval)
	moved := deploy
	moved.Cwd = "/work/other"
	wantOutcome(t, f.decide(t, moved), cavra.RequireApproval)

	allowed := f.decide(t, deploy)
	wantOutcome(t, allowed, cavra.Allow)
	if allowed.ApprovalID != first.ApprovalID || allowed.RuleID != "deploy.prod" {
		t.Fatalf("allowed decision: approval %q rule %q", allowed.ApprovalID, allowed.RuleID)
	}
	// Single use: the next retry asks again, under a new request.
	next := f.decide(t, deploy)
	wantOutcome(t, next, cavra.RequireApproval)
	if next.ApprovalID == first.ApprovalID {
		t.Fatal("a used single-use approval let a second retry through")
	}
	used, err := f.log.Store().Approval(context.Background(), first.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if used.State != cavra.ApprovalUsed || used.UsedBy != allowed.ID {
		t.Fatalf("approval after use: state %s used_by %q, want used by %s", used.State, used.UsedBy, allowed.ID)
	}
	f.verifyLog(t)
}

func TestTTLApprovalAndExpiry(t *testing.T) {
	f := newFixture(t)
	drop := command("alice", "dropdb staging_copy")
	d := f.decide(t, drop)
	wantOutcome(t, d, cavra.RequireApproval)
	if _, err := f.svc.Approve(as("bob"), d.ApprovalID, "ok"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := f.decide(t, drop); got.Outcome != cavra.Allow {
			t.Fatalf("retry %d within the ttl: %s", i, got.Outcome)
		}
		f.clock.Advance(4 * time.Minute)
	}
	f.clock.Advance(4 * time.Minute) // 16 minutes after the grant
	after := f.decide(t, drop)
	wantOutcome(t, after, cavra.RequireApproval)
	old, err := f.log.Store().Approval(context.Background(), d.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if old.State != cavra.ApprovalExpired {
		t.Fatalf("grant after its ttl: %s, want expired", old.State)
	}

	// A pending request expires too, and cannot be approved afterwards.
	f.clock.Advance(DefaultPendingTTL + time.Minute)
	if _, err := f.svc.Approve(as("bob"), after.ApprovalID, "late"); cavra.Code(err) != cavra.ErrConflict {
		t.Fatalf("approving an expired request: err = %v, want conflict", err)
	}
	ap, err := f.log.Store().Approval(context.Background(), after.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if ap.State != cavra.ApprovalExpired {
		t.Fatalf("state = %s, want expired", ap.State)
	}
	f.verifyLog(t)
}

func TestExpireDue(t *testing.T) {
	f := newFixture(t)
	d := f.decide(t, command("alice", "kubectl rollout restart deploy/api --context prod"))
	ctx := context.Background()
	if n, err := f.svc.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireDue before the deadline = %d, %v", n, err)
	}
	f.clock.Advance(DefaultPendingTTL)
	if n, err := f.svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue after the deadline = %d, %v; want 1", n, err)
	}
	ap, err := f.log.Store().Approval(ctx, d.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if ap.State != cavra.ApprovalExpired {
		t.Fatalf("state = %s", ap.State)
	}
	f.svc.Close()
	if !slices.Contains(f.events.types(), cavra.EventApprovalExpired) {
		t.Fatalf("events %v lack approval.expired", f.events.types())
	}
}

func TestTwoApprovers(t *testing.T) {
	f := newFixture(t)
	publish := command("alice", "npm publish")
	d := f.decide(t, publish)
	ap, err := f.svc.Approve(as("bob"), d.ApprovalID, "one")
	if err != nil {
		t.Fatal(err)
	}
	if ap.State != cavra.ApprovalPending || ap.Required != 2 {
		t.Fatalf("after one of two approvers: state %s required %d", ap.State, ap.Required)
	}
	wantOutcome(t, f.decide(t, publish), cavra.RequireApproval)
	if _, err := f.svc.Approve(as("bob"), d.ApprovalID, "again"); cavra.Code(err) != cavra.ErrConflict {
		t.Fatalf("same approver twice: err = %v, want conflict", err)
	}
	if ap, err = f.svc.Approve(as("carol"), d.ApprovalID, "two"); err != nil || ap.State != cavra.ApprovalGranted {
		t.Fatalf("second approver: %v, state %s", err, ap.State)
	}
	wantOutcome(t, f.decide(t, publish), cavra.Allow)
}

func TestDeny(t *testing.T) {
	f := newFixture(t)
	deploy := command("alice", "kubectl scale deploy/api --replicas 0 --context prod")
	d := f.decide(t, deploy)
	if _, err := f.svc.Deny(as("bob"), d.ApprovalID, " "); cavra.Code(err) != cavra.ErrInvalid {
		t.Fatalf("deny without reason: err = %v, want invalid", err)
	}
	ap, err := f.svc.Deny(as("bob"), d.ApprovalID, "not during the freeze")
	if err != nil || ap.State != cavra.ApprovalDenied {
		t.Fatalf("deny: %v, state %s", err, ap.State)
	}
	if _, err := f.svc.Approve(as("carol"), d.ApprovalID, "overrule"); cavra.Code(err) != cavra.ErrConflict {
		t.Fatalf("approving a denied request: err = %v, want conflict", err)
	}
	retry := f.decide(t, deploy)
	wantOutcome(t, retry, cavra.RequireApproval)
	if retry.ApprovalID == d.ApprovalID {
		t.Fatal("a retry after denial reused the denied request")
	}
	if _, err := f.svc.Deny(as("nobody"), "no-such-id", "x"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("unknown approval: err = %v, want not found", err)
	}
}

func TestBreakGlass(t *testing.T) {
	f := newFixture(t)
	deploy := command("alice", "kubectl apply -f hotfix.yaml --context prod")
	d := f.decide(t, deploy)
	cases := []struct {
		name string
		who  string
		just string
		ttl  time.Duration
		code cavra.ErrorCode
	}{
		{"someone else's request", "bob", "production is down, fixing now", 0, cavra.ErrForbidden},
		{"no justification", "alice", "", 0, cavra.ErrInvalid},
		{"short justification", "alice", "urgent", 0, cavra.ErrInvalid},
		{"ttl above the cap", "alice", "production is down, fixing now", 24 * time.Hour, cavra.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.svc.BreakGlass(as(tc.who), d.ApprovalID, tc.just, tc.ttl); cavra.Code(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	ap, err := f.svc.BreakGlass(as("alice"), d.ApprovalID, "production is down, fixing now", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !ap.BreakGlass || ap.State != cavra.ApprovalGranted {
		t.Fatalf("break glass: %+v", ap)
	}
	wantOutcome(t, f.decide(t, deploy), cavra.Allow)
	wantOutcome(t, f.decide(t, deploy), cavra.Allow)
	f.clock.Advance(31 * time.Minute)
	wantOutcome(t, f.decide(t, deploy), cavra.RequireApproval)
	f.svc.Close()
	if !slices.Contains(f.events.types(), cavra.EventBreakGlassUsed) {
		t.Fatalf("events %v lack break_glass.used", f.events.types())
	}
	// The self-grant is flagged in the evidence.
	flagged := false
	err = f.log.Store().ScanAuditEntries(context.Background(), 0, 1<<20, func(e cavra.AuditEntry) error {
		if e.Type != cavra.RecordApproval {
			return nil
		}
		var rec struct {
			Body cavra.ApprovalEvidence `json:"body"`
		}
		if err := json.Unmarshal(e.Record, &rec); err != nil {
			return err
		}
		if rec.Body.Change == "break_glass" && rec.Body.Approval.BreakGlass && rec.Body.Approval.Justification != "" {
			flagged = true
		}
		return nil
	})
	if err != nil || !flagged {
		t.Fatalf("no break_glass approval record in the audit log (err %v)", err)
	}
}

func TestEveryChangeIsEvidence(t *testing.T) {
	f := newFixture(t)
	d := f.decide(t, command("alice", "kubectl apply -f a.yaml --context prod"))
	if _, err := f.svc.Approve(as("bob"), d.ApprovalID, "ok"); err != nil {
		t.Fatal(err)
	}
	f.decide(t, command("alice", "kubectl apply -f a.yaml --context prod"))
	wantOutcome(t, f.decide(t, command("alice", "mkfs /dev/sda")), cavra.Block)
	f.svc.Close()

	var changes []string
	var outcomes []cavra.Outcome
	err := f.log.Store().ScanAuditEntries(context.Background(), 0, 1<<20, func(e cavra.AuditEntry) error {
		var rec struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(e.Record, &rec); err != nil {
			return err
		}
		switch e.Type {
		case cavra.RecordApproval:
			var ev cavra.ApprovalEvidence
			if err := json.Unmarshal(rec.Body, &ev); err != nil {
				return err
			}
			changes = append(changes, ev.Change)
		case cavra.RecordDecision:
			var ev cavra.DecisionEvidence
			if err := json.Unmarshal(rec.Body, &ev); err != nil {
				return err
			}
			outcomes = append(outcomes, ev.Decision.Outcome)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []string{"requested", "granted", "used"}
	if !equal(changes, wantChanges) {
		t.Fatalf("approval records %v, want %v", changes, wantChanges)
	}
	wantOutcomes := []cavra.Outcome{cavra.RequireApproval, cavra.Allow, cavra.Block}
	if !equal(outcomes, wantOutcomes) {
		t.Fatalf("decision records %v, want %v", outcomes, wantOutcomes)
	}
	types := f.events.types()
	for _, want := range []cavra.EventType{cavra.EventDecisionMade, cavra.EventApprovalRequested, cavra.EventApprovalGranted} {
		if !slices.Contains(types, want) {
			t.Fatalf("events %v lack %s", types, want)
		}
	}
	seen := map[string]bool{}
	for _, e := range f.events.events {
		if seen[e.ID] {
			t.Fatalf("event id %s used twice", e.ID)
		}
		seen[e.ID] = true
	}
	f.verifyLog(t)
}

// TestConcurrentRetriesUseOnce races retries of one approved single-use action: exactly one
// may be allowed, on either backend.
func TestConcurrentRetriesUseOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testConcurrentRetriesUseOnce(t, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) { testConcurrentRetriesUseOnce(t, newPostgresFixture(t)) })
}

func testConcurrentRetriesUseOnce(t *testing.T, f *fixture) {
	deploy := command("alice", "kubectl apply -f race.yaml --context prod")
	d := f.decide(t, deploy)
	if _, err := f.svc.Approve(as("bob"), d.ApprovalID, "ok"); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := f.svc.Decide(as("alice"), deploy)
			if err != nil {
				t.Error(err)
				return
			}
			if got.Outcome == cavra.Allow {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 1 {
		t.Fatalf("%d concurrent retries were allowed by one single-use approval, want 1", allowed)
	}
}

func (f *fixture) verifyLog(t *testing.T) {
	t.Helper()
	if _, err := f.log.Verify(context.Background(), nil); err != nil {
		t.Fatalf("audit log does not verify: %v", err)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEmitAfterCloseIsDropped(t *testing.T) {
	f := newFixture(t)
	f.svc.Close()
	// A decision after Close still decides and records; its event is dropped, not a panic.
	wantOutcome(t, f.decide(t, command("alice", "go test ./...")), cavra.Allow)
	f.svc.Close() // idempotent
}

// TestReplayRepeatsTheSameEvents restarts the service over the same audit log and replays: the
// replayed events are the ones first announced, with the same ids, so the bus can drop those it
// already holds and deliver the ones a dead process never published.
func TestReplayRepeatsTheSameEvents(t *testing.T) {
	f := newFixture(t)
	start := f.clock.Now()
	deploy := command("alice", "kubectl apply -f a.yaml --context prod")
	d := f.decide(t, deploy)
	if _, err := f.svc.Approve(as("bob"), d.ApprovalID, "ok"); err != nil {
		t.Fatal(err)
	}
	f.decide(t, deploy)
	gated := f.decide(t, command("alice", "kubectl delete ns x --context prod"))
	if _, err := f.svc.BreakGlass(as("alice"), gated.ApprovalID, "prod is down, fixing it now", time.Minute); err != nil {
		t.Fatal(err)
	}
	f.decide(t, command("alice", "mkfs /dev/sda"))
	rugPull := cavra.Action{Kind: cavra.KindMCPList, MCP: &cavra.MCPCall{Server: "up", Tool: "deploy", Method: "tools/list"}}
	if _, err := f.svc.Report(as("gateway"), rugPull, cavra.Decision{Outcome: cavra.Block, RuleID: "mcpgw.tool-definition-changed", Reason: "the definition changed"}); err != nil {
		t.Fatal(err)
	}
	f.svc.Close()
	first := map[string]cavra.EventType{}
	for _, e := range f.events.events {
		first[e.ID] = e.Type
	}

	again := &recorder{}
	svc, err := New(Config{Engine: f.svc.cfg.Engine, Log: f.log, Publisher: again, Clock: f.clock.Now}, Metrics{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := svc.Replay(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	replayed := map[string]cavra.EventType{}
	for _, e := range again.events {
		replayed[e.ID] = e.Type
	}
	if len(replayed) != len(first) || n == 0 {
		t.Fatalf("replayed %d events (%d queued), first announced %d:\n%v\n%v", len(replayed), n, len(first), replayed, first)
	}
	if !slices.Contains(f.events.types(), cavra.EventToolDefinitionDiff) || !slices.Contains(f.events.types(), cavra.EventBreakGlassUsed) {
		t.Fatalf("the scenario should announce mcp.tool_changed and break_glass.used: %v", f.events.types())
	}
	for id, typ := range first {
		if replayed[id] != typ {
			t.Fatalf("event %s (%s) was not replayed as it was first announced (got %q)", id, typ, replayed[id])
		}
	}

	// Nothing recorded after since: nothing replayed.
	later := &recorder{}
	svc2, _ := New(Config{Engine: f.svc.cfg.Engine, Log: f.log, Publisher: later, Clock: f.clock.Now}, Metrics{})
	f.clock.Advance(time.Hour)
	if n, err := svc2.Replay(context.Background(), f.clock.Now()); err != nil || n != 0 {
		t.Fatalf("replay after the last entry: %d, %v", n, err)
	}
	svc2.Close()
}
