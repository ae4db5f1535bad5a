// Package govern is CAVRA's one use case: normalise an action, decide it with the active
// policy, hold what needs a human until one approves that exact action, record every
// decision and approval change as evidence, and publish what happened.
//
// A require_approval decision opens a pending approval bound to the action's fingerprint (who
// asks, what, where). Approvers vote; when enough have granted, the same action retried is
// allowed: once (single use), or until the rule's approval_ttl runs out. Any other action is
// not. The requester can never approve their own request, but may break the glass: a
// time-boxed self-grant that needs a justification, is flagged in the evidence and raises a
// break_glass.used event. Every state change is an audit-log entry written in the same
// transaction as the change.
package govern

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
)

// Engine is the policy engine: the normaliser and the decider.
type Engine interface {
	Normalize(a cavra.Action) (cavra.Action, error)
	DecideNormalized(ctx context.Context, a cavra.Action) (cavra.Decision, error)
}

// Defaults for Config's durations.
const (
	DefaultPendingTTL        = 24 * time.Hour
	DefaultGrantTTL          = 24 * time.Hour
	DefaultBreakGlassTTL     = time.Hour
	DefaultMaxBreakGlassTTL  = 4 * time.Hour
	MinJustificationLength   = 10
	maxApprovalsPerLookup    = 50
	defaultEventQueue        = 1 << 14
	defaultEventWorkers      = 4
	eventPublishRetries      = 3
	eventPublishRetryBackoff = 100 * time.Millisecond
)

// Config wires a Service.
type Config struct {
	Engine Engine
	// Log is the audit log; decisions and approval changes are written to it and to its store.
	Log *audit.Log
	// Publisher receives events; nil publishes nothing.
	Publisher cavra.Publisher
	Logger    *slog.Logger
	Clock     func() time.Time
	NewID     func() string
	// PendingTTL is how long a request waits for approvers before it expires.
	PendingTTL time.Duration
	// GrantTTL is how long a single-use grant stays usable before its action is retried.
	GrantTTL time.Duration
	// MaxBreakGlassTTL caps a break-glass self-grant.
	MaxBreakGlassTTL time.Duration
	// EventQueue bounds the events waiting to be published; a full queue makes callers wait.
	EventQueue int
}

// Service governs actions. It is safe for concurrent use; Close drains its event queue.
type Service struct {
	cfg   Config
	store cavra.Store

	events  chan cavra.Event
	workers sync.WaitGroup
	// closeMu guards closed: an emit after Close is dropped, not sent on a closed channel.
	closeMu sync.RWMutex
	closed  bool
	metrics Metrics
}

// Metrics counts what the service did; the server exports them.
type Metrics struct {
	// OnDecision is called with each recorded decision's outcome.
	OnDecision func(cavra.Outcome)
	// OnApprovalChange is called with each approval change ("requested", "granted", ...).
	OnApprovalChange func(change string)
	// OnEventDropped is called when an event could not be published.
	OnEventDropped func(cavra.EventType)
}

// New returns a Service.
func New(cfg Config, m Metrics) (*Service, error) {
	if cfg.Engine == nil || cfg.Log == nil {
		return nil, fmt.Errorf("govern: engine and audit log are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = newID
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = DefaultPendingTTL
	}
	if cfg.GrantTTL <= 0 {
		cfg.GrantTTL = DefaultGrantTTL
	}
	if cfg.MaxBreakGlassTTL <= 0 {
		cfg.MaxBreakGlassTTL = DefaultMaxBreakGlassTTL
	}
	if cfg.EventQueue <= 0 {
		cfg.EventQueue = defaultEventQueue
	}
	s := &Service{cfg: cfg, store: cfg.Log.Store(), metrics: m}
	if cfg.Publisher != nil {
		s.events = make(chan cavra.Event, cfg.EventQueue)
		for range defaultEventWorkers {
			s.workers.Add(1)
			go s.publishLoop()
		}
	}
	return s, nil
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Close stops accepting events and waits until the queued ones are published.
func (s *Service) Close() {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return
	}
	s.closed = true
	if s.events != nil {
		close(s.events)
	}
	s.closeMu.Unlock()
	s.workers.Wait()
}

// BatchPublisher publishes several events at once; errs[i] is events[i]'s fate. The bus
// implements it so that a burst of decisions does not wait for one acknowledgement at a time.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, events []cavra.Event) []error
}

// maxEventBatch bounds how many queued events one publish call carries.
const maxEventBatch = 256

func (s *Service) publishLoop() {
	defer s.workers.Done()
	batcher, _ := s.cfg.Publisher.(BatchPublisher)
	batch := make([]cavra.Event, 0, maxEventBatch)
	for e := range s.events {
		batch = append(batch[:0], e)
	fill:
		for len(batch) < maxEventBatch {
			select {
			case next, ok := <-s.events:
				if !ok {
					break fill
				}
				batch = append(batch, next)
			default:
				break fill
			}
		}
		if batcher != nil && len(batch) > 1 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			errs := batcher.PublishBatch(ctx, batch)
			cancel()
			for i, err := range errs {
				if err != nil {
					s.publishOne(batch[i]) // retried one by one, with backoff
				}
			}
			continue
		}
		for _, e := range batch {
			s.publishOne(e)
		}
	}
}

func (s *Service) publishOne(e cavra.Event) {
	var err error
	for attempt := range eventPublishRetries {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.cfg.Publisher.Publish(ctx, e)
		cancel()
		if err == nil || cavra.Code(err) == cavra.ErrInvalid {
			break
		}
		time.Sleep(eventPublishRetryBackoff * time.Duration(attempt+1))
	}
	if err != nil {
		s.cfg.Logger.Warn("event not published", "type", e.Type, "id", e.ID, "err", err)
		if s.metrics.OnEventDropped != nil {
			s.metrics.OnEventDropped(e.Type)
		}
	}
}

// emit queues an event. The facts it reports are already committed evidence; the event is
// their notification, so a full queue makes the caller wait rather than drop it.
func (s *Service) emit(ctx context.Context, id string, typ cavra.EventType, data any) {
	if s.events == nil {
		return
	}
	raw, err := json.Marshal(data)
	if err != nil {
		s.cfg.Logger.Warn("event not encoded", "type", typ, "err", err)
		return
	}
	e := cavra.Event{ID: id, Type: typ, Tenant: cavra.TenantFrom(ctx), Workspace: cavra.WorkspaceFrom(ctx),
		Time: s.cfg.Clock().UTC(), Data: raw}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		s.cfg.Logger.Warn("event dropped: the service is closed", "type", typ, "id", id)
		if s.metrics.OnEventDropped != nil {
			s.metrics.OnEventDropped(typ)
		}
		return
	}
	select {
	case s.events <- e:
	case <-ctx.Done():
		s.cfg.Logger.Warn("event dropped: request ended while the queue was full", "type", typ, "id", id)
		if s.metrics.OnEventDropped != nil {
			s.metrics.OnEventDropped(typ)
		}
	}
}

// EmitCheckpoint publishes checkpoint.signed; wire it as the audit log's OnCheckpoint.
func (s *Service) EmitCheckpoint(ctx context.Context, cp cavra.Checkpoint) {
	s.emit(cavra.WithTenant(context.WithoutCancel(ctx), cp.Tenant), fmt.Sprintf("checkpoint/%s/%d", cp.Tenant, cp.Seq),
		cavra.EventCheckpointSigned, checkpointEvent{Seq: cp.Seq, Size: cp.Size, RootHash: cp.RootHash, KeyID: cp.KeyID, Origin: cp.Origin})
}

type checkpointEvent struct {
	Seq      uint64 `json:"seq"`
	Size     uint64 `json:"size"`
	RootHash []byte `json:"root_hash"`
	KeyID    string `json:"key_id"`
	Origin   string `json:"origin"`
}

// decisionEvent is the data of decision.made: the facts a consumer routes on, not the action.
type decisionEvent struct {
	DecisionID  string         `json:"decision_id"`
	Outcome     cavra.Outcome  `json:"outcome"`
	RuleID      string         `json:"rule_id,omitempty"`
	Severity    cavra.Severity `json:"severity,omitempty"`
	Kind        cavra.Kind     `json:"kind"`
	Host        string         `json:"host,omitempty"`
	Principal   string         `json:"principal,omitempty"`
	Fingerprint string         `json:"fingerprint"`
	ApprovalID  string         `json:"approval_id,omitempty"`
	AuditIndex  uint64         `json:"audit_index"`
}

// approvalEvent is the data of approval.* and break_glass.used events.
type approvalEvent struct {
	Change   string         `json:"change"`
	By       string         `json:"by,omitempty"`
	Approval cavra.Approval `json:"approval"`
}

// Decide normalises and decides a, records the decision, and applies approvals: a
// require_approval decision either opens (or joins) a pending approval or, when one was
// granted for this exact action, is let through as allow. The action may run only if the
// returned decision's outcome permits it and err is nil.
func (s *Service) Decide(ctx context.Context, a cavra.Action) (cavra.Decision, error) {
	normalized, err := s.cfg.Engine.Normalize(a)
	if err != nil {
		return cavra.Decision{}, cavra.Errorf(cavra.ErrInvalid, "normalise action: %w", err)
	}
	d, err := s.cfg.Engine.DecideNormalized(ctx, normalized)
	if err != nil {
		return cavra.Decision{}, fmt.Errorf("decide: %w", err)
	}
	if d.Outcome == cavra.RequireApproval {
		return s.decideGated(ctx, normalized, d)
	}
	entry, err := s.cfg.Log.AppendDecision(ctx, normalized, d)
	if err != nil {
		return cavra.Decision{}, fmt.Errorf("record decision: %w", err)
	}
	s.decided(ctx, normalized, d, entry.Index)
	return d, nil
}

func (s *Service) decided(ctx context.Context, a cavra.Action, d cavra.Decision, index uint64) {
	if s.metrics.OnDecision != nil {
		s.metrics.OnDecision(d.Outcome)
	}
	s.emitDecision(ctx, a, d, index)
}

// emitDecision announces a recorded decision: decision.made, and mcp.tool_changed for a
// reported block of a tool definition.
func (s *Service) emitDecision(ctx context.Context, a cavra.Action, d cavra.Decision, index uint64) {
	s.emit(ctx, "decision/"+d.ID, cavra.EventDecisionMade, decisionEvent{DecisionID: d.ID, Outcome: d.Outcome,
		RuleID: d.RuleID, Severity: d.Severity, Kind: a.Kind, Host: a.Source.Host, Principal: a.Principal,
		Fingerprint: d.Fingerprint, ApprovalID: d.ApprovalID, AuditIndex: index})
	if strings.HasPrefix(d.RuleID, ToolDefinitionRulePrefix) && d.Outcome == cavra.Block && a.MCP != nil &&
		strings.HasPrefix(d.Policy, reportedPolicyPrefix) {
		s.emit(ctx, "tool_changed/"+d.ID, cavra.EventToolDefinitionDiff, toolChangedEvent{
			Server: a.MCP.Server, Tool: a.MCP.Tool, Kind: a.Kind, RuleID: d.RuleID,
			Reason: d.Reason, DecisionID: d.ID, Principal: a.Principal})
	}
}

// change is an approval state change to record and announce.
type change struct {
	name     string
	by       string
	approval cavra.Approval
}

// approvalEventTypes maps the approval changes that are announced to their event; votes and
// the use of a grant are evidence only.
var approvalEventTypes = map[string]cavra.EventType{
	"requested":   cavra.EventApprovalRequested,
	"granted":     cavra.EventApprovalGranted,
	"break_glass": cavra.EventApprovalGranted,
	"denied":      cavra.EventApprovalDenied,
	"expired":     cavra.EventApprovalExpired,
}

// decideGated handles a require_approval decision in one transaction: find an approval of
// this action's fingerprint, use or join it or open a new one, and record the decision with
// every approval change.
func (s *Service) decideGated(ctx context.Context, a cavra.Action, d cavra.Decision) (cavra.Decision, error) {
	var (
		changes []change
		entries []cavra.AuditEntry
		final   cavra.Decision
	)
	err := s.store.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		changes, final = nil, d
		// The head lock serialises every approval change of the tenant, so two retries of one
		// action cannot both consume a single-use grant.
		if _, err := tx.AuditHead(ctx); err != nil {
			return err
		}
		now := s.cfg.Clock().UTC()
		found, err := tx.Approvals(ctx, cavra.ApprovalQuery{Fingerprint: d.Fingerprint, Limit: maxApprovalsPerLookup})
		if err != nil {
			return err
		}
		var use, join *cavra.Approval
		for i := range found {
			ap := &found[i]
			if ap.Fingerprint != d.Fingerprint {
				continue
			}
			switch ap.State {
			case cavra.ApprovalGranted, cavra.ApprovalPending:
				if !now.Before(ap.ExpiresAt) {
					changes = append(changes, s.expire(ap, now))
					continue
				}
				if ap.State == cavra.ApprovalGranted && use == nil {
					use = ap
				} else if ap.State == cavra.ApprovalPending && join == nil {
					join = ap
				}
			}
		}
		switch {
		case use != nil:
			final.Outcome = cavra.Allow
			final.ApprovalID = use.ID
			final.Reason = fmt.Sprintf("approved (approval %s, %s): %s", use.ID, grantedBy(*use), d.Reason)
			final.Remediation = ""
			if use.TTL == 0 && !use.BreakGlass {
				use.State, use.UsedBy, use.UpdatedAt = cavra.ApprovalUsed, d.ID, now
				changes = append(changes, change{name: "used", by: a.Principal, approval: *use})
			}
		case join != nil:
			final.ApprovalID = join.ID
			final.Remediation = pendingRemediation(*join)
		default:
			ap := cavra.Approval{
				ID: s.cfg.NewID(), Tenant: cavra.TenantFrom(ctx), Workspace: cavra.WorkspaceFrom(ctx),
				State: cavra.ApprovalPending, Fingerprint: d.Fingerprint, Action: a, DecisionID: d.ID,
				RuleID: d.RuleID, Reason: d.Reason, Requester: a.Principal, Required: max(1, d.Approvers),
				TTL: d.ApprovalTTL, CreatedAt: now, ExpiresAt: now.Add(s.cfg.PendingTTL), UpdatedAt: now,
			}
			if p, ok := cavra.PrincipalFrom(ctx); ok && p.ID != "" && p.ID != ap.Requester {
				ap.Caller = p.ID
			}
			if ap.Requester == "" {
				ap.Requester = ap.Caller
				ap.Caller = ""
			}
			final.ApprovalID = ap.ID
			final.Remediation = pendingRemediation(ap)
			changes = append(changes, change{name: "requested", by: ap.Requester, approval: ap})
		}
		recs := []audit.TxRecord{{Action: &a, Decision: &final}}
		for _, c := range changes {
			if err := tx.PutApproval(ctx, c.approval); err != nil {
				return err
			}
			recs = append(recs, audit.TxRecord{Type: cavra.RecordApproval,
				Body: cavra.ApprovalEvidence{Change: c.name, By: c.by, Approval: c.approval}})
		}
		entries, err = s.cfg.Log.AppendTx(ctx, tx, recs...)
		return err
	})
	if err != nil {
		return cavra.Decision{}, fmt.Errorf("record decision: %w", err)
	}
	s.decided(ctx, a, final, entries[0].Index)
	s.announce(ctx, changes, entries[1:])
	return final, nil
}

func grantedBy(ap cavra.Approval) string {
	if ap.BreakGlass {
		return "break-glass by " + ap.Requester
	}
	var names []string
	for _, v := range ap.Votes {
		if v.Granted {
			names = append(names, v.Principal)
		}
	}
	return "granted by " + strings.Join(names, ", ")
}

func pendingRemediation(ap cavra.Approval) string {
	need := "an approver"
	if ap.Required > 1 {
		need = fmt.Sprintf("%d approvers", ap.Required)
	}
	return fmt.Sprintf("Approval %s is pending: ask %s to run `cavra approvals approve %s`, then retry the same action unchanged.", ap.ID, need, ap.ID)
}

func (s *Service) expire(ap *cavra.Approval, now time.Time) change {
	ap.State, ap.DecidedAt, ap.UpdatedAt = cavra.ApprovalExpired, now, now
	return change{name: "expired", approval: *ap}
}

func (s *Service) announce(ctx context.Context, changes []change, entries []cavra.AuditEntry) {
	for i, c := range changes {
		if s.metrics.OnApprovalChange != nil {
			s.metrics.OnApprovalChange(c.name)
		}
		entryID := c.approval.ID + "/" + c.name
		if i < len(entries) {
			entryID = entries[i].ID
		}
		s.emitApproval(ctx, entryID, cavra.ApprovalEvidence{Change: c.name, By: c.by, Approval: c.approval})
	}
}

// emitApproval announces an approval change recorded as the audit entry entryID; the event ids
// derive from the entry, so a replay of the entry yields the same ids.
func (s *Service) emitApproval(ctx context.Context, entryID string, ev cavra.ApprovalEvidence) {
	typ, ok := approvalEventTypes[ev.Change]
	if !ok {
		return
	}
	id := "approval/" + entryID
	data := approvalEvent{Change: ev.Change, By: ev.By, Approval: ev.Approval}
	s.emit(ctx, id, typ, data)
	if ev.Change == "break_glass" {
		s.emit(ctx, id+"/alert", cavra.EventBreakGlassUsed, data)
	}
}

// Approve adds the approval of the principal in ctx to a pending request; enough grants make
// it granted.
func (s *Service) Approve(ctx context.Context, id, reason string) (cavra.Approval, error) {
	return s.answer(ctx, id, func(ap *cavra.Approval, who string, now time.Time) (change, error) {
		if isParty(*ap, who) {
			return change{}, cavra.Errorf(cavra.ErrForbidden, "approval %s: %s asked for this action and cannot approve it", ap.ID, who)
		}
		for _, v := range ap.Votes {
			if v.Principal == who {
				return change{}, cavra.Errorf(cavra.ErrConflict, "approval %s: %s has already approved it", ap.ID, who)
			}
		}
		ap.Votes = append(ap.Votes, cavra.Vote{Principal: who, Granted: true, Reason: reason, At: now})
		ap.UpdatedAt = now
		granted := 0
		for _, v := range ap.Votes {
			if v.Granted {
				granted++
			}
		}
		if granted < ap.Required {
			return change{name: "vote", by: who, approval: *ap}, nil
		}
		ap.State, ap.DecidedAt = cavra.ApprovalGranted, now
		if ap.TTL > 0 {
			ap.ExpiresAt = now.Add(time.Duration(ap.TTL))
		} else {
			ap.ExpiresAt = now.Add(s.cfg.GrantTTL)
		}
		return change{name: "granted", by: who, approval: *ap}, nil
	})
}

// Deny ends a pending request: one approver's refusal is enough.
func (s *Service) Deny(ctx context.Context, id, reason string) (cavra.Approval, error) {
	if strings.TrimSpace(reason) == "" {
		return cavra.Approval{}, cavra.Errorf(cavra.ErrInvalid, "deny approval %s: a reason is required", id)
	}
	return s.answer(ctx, id, func(ap *cavra.Approval, who string, now time.Time) (change, error) {
		if isParty(*ap, who) {
			return change{}, cavra.Errorf(cavra.ErrForbidden, "approval %s: %s asked for this action and cannot answer it", ap.ID, who)
		}
		ap.Votes = append(ap.Votes, cavra.Vote{Principal: who, Granted: false, Reason: reason, At: now})
		ap.State, ap.DecidedAt, ap.UpdatedAt = cavra.ApprovalDenied, now, now
		return change{name: "denied", by: who, approval: *ap}, nil
	})
}

// BreakGlass grants the requester's own pending request for ttl (capped), with a
// justification. It is flagged in the evidence and raises break_glass.used.
func (s *Service) BreakGlass(ctx context.Context, id, justification string, ttl time.Duration) (cavra.Approval, error) {
	justification = strings.TrimSpace(justification)
	if len(justification) < MinJustificationLength {
		return cavra.Approval{}, cavra.Errorf(cavra.ErrInvalid, "break glass on approval %s: a justification of at least %d characters is required", id, MinJustificationLength)
	}
	if ttl == 0 {
		ttl = DefaultBreakGlassTTL
	}
	if ttl < 0 || ttl > s.cfg.MaxBreakGlassTTL {
		return cavra.Approval{}, cavra.Errorf(cavra.ErrInvalid, "break glass on approval %s: ttl must be between 0 and %s", id, s.cfg.MaxBreakGlassTTL)
	}
	return s.answer(ctx, id, func(ap *cavra.Approval, who string, now time.Time) (change, error) {
		if !isParty(*ap, who) {
			return change{}, cavra.Errorf(cavra.ErrForbidden, "approval %s: break glass is a self-grant; only %s may use it", ap.ID, ap.Requester)
		}
		ap.State, ap.DecidedAt, ap.UpdatedAt = cavra.ApprovalGranted, now, now
		ap.BreakGlass, ap.Justification = true, justification
		ap.TTL, ap.ExpiresAt = cavra.Duration(ttl), now.Add(ttl)
		return change{name: "break_glass", by: who, approval: *ap}, nil
	})
}

func isParty(ap cavra.Approval, who string) bool {
	return who == ap.Requester || (ap.Caller != "" && who == ap.Caller)
}

// answer applies fn to a pending approval in one transaction with its audit record.
func (s *Service) answer(ctx context.Context, id string, fn func(ap *cavra.Approval, who string, now time.Time) (change, error)) (cavra.Approval, error) {
	p, ok := cavra.PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		return cavra.Approval{}, cavra.Errorf(cavra.ErrUnauthorized, "approval %s: no principal", id)
	}
	var (
		result  cavra.Approval
		changes []change
		entries []cavra.AuditEntry
		refused error
	)
	err := s.store.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		changes, refused = nil, nil
		if _, err := tx.AuditHead(ctx); err != nil {
			return err
		}
		ap, err := tx.Approval(ctx, id)
		if err != nil {
			return err
		}
		now := s.cfg.Clock().UTC()
		var c change
		switch {
		case ap.State == cavra.ApprovalPending && !now.Before(ap.ExpiresAt):
			// Expiry is enforced here too, not only by the sweeper: record it and refuse.
			c = s.expire(&ap, now)
			refused = cavra.Errorf(cavra.ErrConflict, "approval %s expired at %s", id, ap.ExpiresAt.Format(time.RFC3339))
		case ap.State != cavra.ApprovalPending:
			return cavra.Errorf(cavra.ErrConflict, "approval %s is %s, not pending", id, ap.State)
		default:
			if c, err = fn(&ap, p.ID, now); err != nil {
				return err
			}
		}
		ctx = cavra.WithWorkspace(ctx, ap.Workspace)
		if err := tx.PutApproval(ctx, c.approval); err != nil {
			return err
		}
		entries, err = s.cfg.Log.AppendTx(ctx, tx, audit.TxRecord{Type: cavra.RecordApproval,
			Body: cavra.ApprovalEvidence{Change: c.name, By: c.by, Approval: c.approval}})
		if err != nil {
			return err
		}
		result, changes = c.approval, []change{c}
		return nil
	})
	if err != nil {
		return cavra.Approval{}, err
	}
	s.announce(cavra.WithWorkspace(ctx, result.Workspace), changes, entries)
	if refused != nil {
		return result, refused
	}
	return result, nil
}

// ExpireDue moves the tenant's pending requests and granted approvals whose time has run
// out to expired, recording and announcing each. It returns how many it expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	now := s.cfg.Clock().UTC()
	total := 0
	for _, state := range []cavra.ApprovalState{cavra.ApprovalPending, cavra.ApprovalGranted} {
		// An approval is over at its ExpiresAt; the query's bound is exclusive.
		due, err := s.store.Approvals(ctx, cavra.ApprovalQuery{State: state, ExpiresBefore: now.Add(time.Nanosecond), Limit: 500})
		if err != nil {
			return total, fmt.Errorf("list due approvals: %w", err)
		}
		for _, candidate := range due {
			n, err := s.expireOne(ctx, candidate.ID, now)
			if err != nil {
				return total, err
			}
			total += n
		}
	}
	return total, nil
}

func (s *Service) expireOne(ctx context.Context, id string, now time.Time) (int, error) {
	var (
		changes []change
		entries []cavra.AuditEntry
	)
	err := s.store.Update(ctx, func(ctx context.Context, tx cavra.StoreTx) error {
		changes = nil
		if _, err := tx.AuditHead(ctx); err != nil {
			return err
		}
		ap, err := tx.Approval(ctx, id)
		if err != nil {
			return err
		}
		// Re-checked under the lock: an approver may have answered since the listing.
		if (ap.State != cavra.ApprovalPending && ap.State != cavra.ApprovalGranted) || now.Before(ap.ExpiresAt) {
			return nil
		}
		c := s.expire(&ap, now)
		ctx = cavra.WithWorkspace(ctx, ap.Workspace)
		if err := tx.PutApproval(ctx, c.approval); err != nil {
			return err
		}
		entries, err = s.cfg.Log.AppendTx(ctx, tx, audit.TxRecord{Type: cavra.RecordApproval,
			Body: cavra.ApprovalEvidence{Change: c.name, Approval: c.approval}})
		changes = []change{c}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire approval %s: %w", id, err)
	}
	if len(changes) == 0 {
		return 0, nil
	}
	s.announce(cavra.WithWorkspace(ctx, changes[0].approval.Workspace), changes, entries)
	return 1, nil
}
