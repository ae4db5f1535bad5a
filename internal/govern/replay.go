package govern

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/cavra-dev/cavra"
)

// Replay announces again the events of the tenant's audit entries and checkpoints recorded
// at or after since. Events carry ids derived from their entries, the same as when they were
// first announced, so the bus drops those it already holds (within its duplicate window) and
// delivers those a previous process recorded but could not publish before it stopped. The
// audit log is the outbox. It returns how many events it queued.
func (s *Service) Replay(ctx context.Context, since time.Time) (int, error) {
	if s.events == nil {
		return 0, nil
	}
	head, err := s.store.AuditHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("replay events: %w", err)
	}
	// Entries are appended in time order: find the first one at or after since.
	var searchErr error
	from := uint64(sort.Search(int(head.Size), func(i int) bool {
		if searchErr != nil {
			return true
		}
		e, err := s.store.AuditEntry(ctx, uint64(i))
		if err != nil {
			searchErr = err
			return true
		}
		return !e.Time.Before(since)
	}))
	if searchErr != nil {
		return 0, fmt.Errorf("replay events: %w", searchErr)
	}
	n := 0
	err = s.store.ScanAuditEntries(ctx, from, head.Size, func(e cavra.AuditEntry) error {
		ectx := cavra.WithWorkspace(ctx, e.Workspace)
		var rec struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(e.Record, &rec); err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		switch e.Type {
		case cavra.RecordDecision:
			var ev cavra.DecisionEvidence
			if err := json.Unmarshal(rec.Body, &ev); err != nil {
				return fmt.Errorf("entry %d: %w", e.Index, err)
			}
			s.emitDecision(ectx, ev.Action, ev.Decision, e.Index)
			n++
		case cavra.RecordApproval:
			var ev cavra.ApprovalEvidence
			if err := json.Unmarshal(rec.Body, &ev); err != nil {
				return fmt.Errorf("entry %d: %w", e.Index, err)
			}
			s.emitApproval(ectx, e.ID, ev)
			n++
		}
		return ctx.Err()
	})
	if err != nil {
		return n, fmt.Errorf("replay events: %w", err)
	}
	err = s.store.ScanCheckpoints(ctx, func(cp cavra.Checkpoint) error {
		if !cp.CreatedAt.Before(since) {
			s.EmitCheckpoint(ctx, cp)
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("replay events: %w", err)
	}
	return n, nil
}
