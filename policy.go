package cavra

import "context"

// Decider judges an action. Every adapter calls one; none contains policy logic itself.
type Decider interface {
	Decide(ctx context.Context, a Action) (Decision, error)
}

// DecisionRecorder keeps decisions as evidence.
type DecisionRecorder interface {
	RecordDecision(ctx context.Context, a Action, d Decision) error
}
