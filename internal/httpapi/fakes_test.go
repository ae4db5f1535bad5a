package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cavra-dev/cavra"
)

// These are in-memory doubles of CAVRA's own interfaces (not of external services): the
// lead's end-to-end test drives the real govern, store and audit implementations.

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Bearer secrets of the fake authenticator.
const (
	agentSecret    = "agent-secret"
	adminSecret    = "admin-secret"
	auditorSecret  = "auditor-secret"
	approverSecret = "approver-secret"
	revokedSecret  = "revoked-secret"
	brokenSecret   = "broken-store-secret" // the authenticator's store fails
)

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, secret string) (cavra.Token, error) {
	switch secret {
	case agentSecret:
		return cavra.Token{ID: "tok-agent", Tenant: "t1", Name: "agent-1", Role: cavra.RoleAgent}, nil
	case adminSecret:
		return cavra.Token{ID: "tok-admin", Tenant: "t1", Name: "alice", Role: cavra.RoleAdmin}, nil
	case auditorSecret:
		return cavra.Token{ID: "tok-auditor", Tenant: "t1", Name: "audrey", Role: cavra.RoleAuditor}, nil
	case approverSecret:
		return cavra.Token{ID: "tok-approver", Tenant: "t1", Name: "bob", Role: cavra.RoleApprover}, nil
	case brokenSecret:
		return cavra.Token{}, cavra.Errorf(cavra.ErrUnavailable, "token store: connection refused")
	}
	return cavra.Token{}, cavra.Errorf(cavra.ErrUnauthorized, "invalid token")
}

// fakeGovernor records what it was asked and answers a fixed decision or error.
type fakeGovernor struct {
	mu       sync.Mutex
	decision cavra.Decision
	err      error
	decided  []decided
	reported []decided
	answers  []string // "approve:id:reason:principal", ...
}

type decided struct {
	action    cavra.Action
	tenant    string
	workspace string
	principal cavra.Principal
}

func (g *fakeGovernor) Decide(ctx context.Context, a cavra.Action) (cavra.Decision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return cavra.Decision{}, g.err
	}
	p, _ := cavra.PrincipalFrom(ctx)
	g.decided = append(g.decided, decided{action: a, tenant: cavra.TenantFrom(ctx), workspace: cavra.WorkspaceFrom(ctx), principal: p})
	return g.decision, nil
}

// Report keeps the real governor's contract: only a gateway's block is recorded.
func (g *fakeGovernor) Report(ctx context.Context, a cavra.Action, d cavra.Decision) (cavra.Decision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return cavra.Decision{}, g.err
	}
	if d.Outcome != cavra.Block || !strings.HasPrefix(d.RuleID, "mcpgw.") || (a.Kind != cavra.KindMCPList && a.Kind != cavra.KindMCPCall) {
		return cavra.Decision{}, cavra.Errorf(cavra.ErrInvalid, "report decision: only a gateway's block of an MCP tool can be reported")
	}
	p, _ := cavra.PrincipalFrom(ctx)
	g.reported = append(g.reported, decided{action: a, tenant: cavra.TenantFrom(ctx), workspace: cavra.WorkspaceFrom(ctx), principal: p})
	d.ID, d.Policy, d.DecidedAt = "d-reported", "mcpgw (reported by "+p.ID+")", testNow
	return d, nil
}

func (g *fakeGovernor) answer(ctx context.Context, verb, id, text string) (cavra.Approval, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch id {
	case "missing":
		return cavra.Approval{}, cavra.Errorf(cavra.ErrNotFound, "approval %s not found", id)
	case "decided":
		return cavra.Approval{}, cavra.Errorf(cavra.ErrConflict, "approval %s is already decided", id)
	case "mine":
		if verb != "break-glass" {
			return cavra.Approval{}, cavra.Errorf(cavra.ErrForbidden, "approval %s: cannot approve your own request", id)
		}
	case "broken":
		return cavra.Approval{}, errors.New("store: disk on fire at /var/lib/secret")
	}
	p, _ := cavra.PrincipalFrom(ctx)
	g.answers = append(g.answers, verb+":"+id+":"+text+":"+p.ID)
	return cavra.Approval{ID: id, Tenant: cavra.TenantFrom(ctx), State: cavra.ApprovalGranted, Requester: "agent-1"}, nil
}

func (g *fakeGovernor) Approve(ctx context.Context, id, reason string) (cavra.Approval, error) {
	return g.answer(ctx, "approve", id, reason)
}

func (g *fakeGovernor) Deny(ctx context.Context, id, reason string) (cavra.Approval, error) {
	return g.answer(ctx, "deny", id, reason)
}

func (g *fakeGovernor) BreakGlass(ctx context.Context, id, justification string, ttl time.Duration) (cavra.Approval, error) {
	return g.answer(ctx, "break-glass", id, justification+"/"+ttl.String())
}

func (g *fakeGovernor) changes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.decided) + len(g.reported) + len(g.answers)
}

// fakeReader serves a few fixed records of tenant t1.
type fakeReader struct {
	mu      sync.Mutex
	queries []any
}

var testApprovals = []cavra.Approval{
	{ID: "ap-agent", Tenant: "t1", State: cavra.ApprovalPending, Requester: "agent-1"},
	{ID: "ap-called", Tenant: "t1", State: cavra.ApprovalPending, Requester: "carol", Caller: "agent-1"},
	{ID: "ap-other", Tenant: "t1", State: cavra.ApprovalPending, Requester: "dave"},
}

func (r *fakeReader) Decision(_ context.Context, id string) (cavra.DecisionRecord, error) {
	if id != "d-1" {
		return cavra.DecisionRecord{}, cavra.Errorf(cavra.ErrNotFound, "decision %s not found", id)
	}
	return cavra.DecisionRecord{ID: "d-1", Tenant: "t1", Workspace: "default", Action: cavra.Action{Kind: cavra.KindCommandExec},
		Decision: cavra.Decision{ID: "d-1", Outcome: cavra.Allow, DecidedAt: testNow}, AuditIndex: 3, RecordedAt: testNow}, nil
}

func (r *fakeReader) Decisions(_ context.Context, q cavra.DecisionQuery) ([]cavra.DecisionRecord, error) {
	r.mu.Lock()
	r.queries = append(r.queries, q)
	r.mu.Unlock()
	d, _ := r.Decision(context.Background(), "d-1")
	return []cavra.DecisionRecord{d}, nil
}

func (r *fakeReader) Approval(_ context.Context, id string) (cavra.Approval, error) {
	for _, ap := range testApprovals {
		if ap.ID == id {
			return ap, nil
		}
	}
	return cavra.Approval{}, cavra.Errorf(cavra.ErrNotFound, "approval %s not found", id)
}

func (r *fakeReader) Approvals(_ context.Context, q cavra.ApprovalQuery) ([]cavra.Approval, error) {
	r.mu.Lock()
	r.queries = append(r.queries, q)
	r.mu.Unlock()
	return append([]cavra.Approval(nil), testApprovals...), nil
}

// fakeAudit is a log of 8 entries with one checkpoint unless empty is set.
type fakeAudit struct {
	mu      sync.Mutex
	empty   bool
	cut     int
	exports [][2]uint64
}

func (a *fakeAudit) Head(context.Context) (cavra.AuditHead, error) {
	return cavra.AuditHead{Size: 8, CheckpointSeq: 1, CheckpointSize: 8, CheckpointAt: testNow}, nil
}

func (a *fakeAudit) LatestCheckpoint(context.Context) (cavra.Checkpoint, error) {
	if a.empty {
		return cavra.Checkpoint{}, cavra.Errorf(cavra.ErrNotFound, "no checkpoint yet")
	}
	return cavra.Checkpoint{Tenant: "t1", Seq: 1, Size: 8, RootHash: []byte{1, 2, 3}, Note: []byte("note\n"), CreatedAt: testNow}, nil
}

func (a *fakeAudit) Checkpoint(ctx context.Context) (cavra.Checkpoint, error) {
	a.mu.Lock()
	a.cut++
	a.mu.Unlock()
	return cavra.Checkpoint{Tenant: "t1", Seq: 2, Size: 8, RootHash: []byte{1, 2, 3}, CreatedAt: testNow}, nil
}

func (a *fakeAudit) Entry(_ context.Context, index uint64) (cavra.AuditEntry, error) {
	if index >= 8 {
		return cavra.AuditEntry{}, cavra.Errorf(cavra.ErrNotFound, "entry %d not found", index)
	}
	return cavra.AuditEntry{Index: index, ID: "e", Tenant: "t1", Record: []byte(`{"a":1}`), LeafHash: []byte{0xff, 0x00}}, nil
}

func (a *fakeAudit) EntryByID(ctx context.Context, id string) (cavra.AuditEntry, error) {
	if id != "e-1" {
		return cavra.AuditEntry{}, cavra.Errorf(cavra.ErrNotFound, "entry %s not found", id)
	}
	return a.Entry(ctx, 1)
}

func (a *fakeAudit) InclusionProof(_ context.Context, index, size uint64) ([][]byte, error) {
	if size > 8 {
		return nil, cavra.Errorf(cavra.ErrInvalid, "size %d is beyond the log", size)
	}
	return [][]byte{{1}, {2}}, nil
}

func (a *fakeAudit) ConsistencyProof(_ context.Context, size1, size2 uint64) ([][]byte, error) {
	return [][]byte{{3}}, nil
}

func (a *fakeAudit) ExportBundle(_ context.Context, from, to uint64) ([]byte, error) {
	a.mu.Lock()
	a.exports = append(a.exports, [2]uint64{from, to})
	a.mu.Unlock()
	return []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), nil
}

func (a *fakeAudit) changes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cut
}

// fakeEvents replays a fixed list of events that match the filter.
type fakeEvents struct {
	events []cavra.Event
	got    chan EventFilter
}

func (e *fakeEvents) Tail(ctx context.Context, f EventFilter, fn func(cavra.Event) error) error {
	if e.got != nil {
		e.got <- f
	}
	for _, ev := range e.events {
		if ev.Tenant != f.Tenant || (f.Type != "" && ev.Type != f.Type) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

type testEnv struct {
	srv    *Server
	gov    *fakeGovernor
	reader *fakeReader
	audit  *fakeAudit
	events *fakeEvents
	reg    *prometheus.Registry
	logs   *bytes.Buffer
}

func newTestEnv(t testing.TB, mod ...func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{
		gov:    &fakeGovernor{decision: cavra.Decision{ID: "d-new", Outcome: cavra.Allow, Reason: "no rule matched", Policy: "baseline", PolicyRevision: "sha256:abc", DecidedAt: testNow}},
		reader: &fakeReader{},
		audit:  &fakeAudit{},
		events: &fakeEvents{events: []cavra.Event{
			{ID: "ev-1", Type: cavra.EventDecisionMade, Tenant: "t1", Time: testNow, Data: []byte(`{"decision_id":"d-1"}`)},
			{ID: "ev-2", Type: cavra.EventApprovalRequested, Tenant: "t1", Time: testNow},
			{ID: "ev-3", Type: cavra.EventDecisionMade, Tenant: "t2", Time: testNow},
		}},
		reg:  prometheus.NewRegistry(),
		logs: &bytes.Buffer{},
	}
	cfg := Config{
		Logger:   slog.New(slog.NewTextHandler(&lockedWriter{w: env.logs}, nil)),
		Version:  "test",
		Auth:     fakeAuth{},
		Governor: env.gov,
		Reader:   env.reader,
		Audit:    env.audit,
		Events:   env.events,
		Ready:    func(context.Context) error { return nil },
		Registry: env.reg,
		Clock:    func() time.Time { return testNow },
	}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.srv = srv
	return env
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// do sends one request to the server and returns the recorded answer.
func (e *testEnv) do(t testing.TB, method, path, secret string, body []byte, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func (e *testEnv) changes() int { return e.gov.changes() + e.audit.changes() }

// compile-time checks that the doubles satisfy the interfaces.
var (
	_ Authenticator = fakeAuth{}
	_ Governor      = (*fakeGovernor)(nil)
	_ Reader        = (*fakeReader)(nil)
	_ AuditAPI      = (*fakeAudit)(nil)
	_ EventSource   = (*fakeEvents)(nil)
	_ http.Handler  = (*Server)(nil)
)

var osReadFile = os.ReadFile
