package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/decisionlog"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
	"github.com/cavra-dev/cavra/internal/mcpgw"
)

// evidence records decisions in the data home's signed audit log, in the same transaction as
// the decision row, and mirrors each as a JSON line when asked (--decision-log or
// $CAVRA_DECISION_LOG), for tools that tail a file. It also records what MCP tool calls
// returned, as the gateway's mcpgw.Evidence.
type evidence struct {
	root     string // the data home
	rt       *runtime
	log      *audit.Log
	closeLog func() error
	mirror   *decisionlog.Log
}

// openEvidence opens the audit log of the data home, creating the home on first use.
func openEvidence(ctx context.Context, rt *runtime, mirrorFlag string) (*evidence, error) {
	mirror := rt.path(hookio.FirstNonEmpty(mirrorFlag, rt.getenv("CAVRA_DECISION_LOG")))
	if rt.hookCache != nil {
		// The hook daemon's log stays open from call to call; Close leaves it so.
		ev := *rt.hookCache.evidence
		ev.rt = rt
		if mirror != "" {
			ev.mirror = decisionlog.New(mirror)
		}
		return &ev, nil
	}
	root, err := dataHome(rt)
	if err != nil {
		return nil, err
	}
	log, closeLog, err := audit.OpenLocal(ctx, root, rt.logger)
	if err != nil {
		return nil, err
	}
	ev := &evidence{root: root, rt: rt, log: log, closeLog: closeLog}
	if mirror != "" {
		ev.mirror = decisionlog.New(mirror)
	}
	return ev, nil
}

// RecordDecision appends the decision to the audit log, then to the mirror.
func (e *evidence) RecordDecision(ctx context.Context, a cavra.Action, d cavra.Decision) error {
	if err := e.log.RecordDecision(ctx, a, d); err != nil {
		return err
	}
	if e.mirror != nil {
		return e.mirror.RecordDecision(ctx, a, d)
	}
	return nil
}

var _ mcpgw.Evidence = (*evidence)(nil)

// RecordResult appends the evidence of one MCP tool result (the decision it follows, the
// result's hash, findings and handling) to the audit log. The gateway withholds the result
// when this fails.
func (e *evidence) RecordResult(ctx context.Context, r mcpgw.ResultRecord) error {
	if _, err := e.log.Append(ctx, cavra.RecordMCPResult, r); err != nil {
		return fmt.Errorf("record mcp result of %s/%s: %w", r.Server, r.Tool, err)
	}
	return nil
}

// Close closes the audit log's database.
func (e *evidence) Close() error { return e.closeLog() }

// dataHome is the data home: $CAVRA_HOME, else cavra under the user's data directory.
func dataHome(rt *runtime) (string, error) {
	dir, err := home.Dir(rt.getenv)
	if err != nil {
		return "", errors.Join(err, errors.New("set CAVRA_HOME to choose the data home"))
	}
	return dir, nil
}
