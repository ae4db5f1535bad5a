package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/attest"
	"github.com/cavra-dev/cavra/internal/hooklite"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
)

// maxHookPayload bounds what a hook reads from stdin; Claude Code payloads are far smaller,
// but a Write of a large file carries its whole content.
const maxHookPayload = hooklite.MaxPayload

func newHookCmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Answer an agent host's hook: read its payload on stdin, decide, print its answer",
		Long: `Answers an agent host's hook: reads its payload on stdin, decides, prints the host's answer.

Local mode (the default) decides in-process with the chosen policy and records the decision
in the data home's audit log. Remote mode asks the CAVRA control plane (` + "`cavra serve`" + `) instead:
set CAVRA_SERVER (or --server) and CAVRA_TOKEN (or CAVRA_TOKEN_FILE, --token, --token-file) and
the claude-code, codex, cursor and gemini hooks forward the payload as is and print the server's
answer. When the server does not answer within --timeout (CAVRA_TIMEOUT, default 2s), is down or
fails, the hook blocks (exit 2). With --fail-open (CAVRA_FAIL_OPEN=1) it instead lets the host's
own flow proceed (Cursor: asks the user; file reads allowed) and records an audit_only decision
with rule ` + FailOpenRule + ` in the local audit log; a refused token blocks even then.`,
	}
	cmd.AddCommand(append([]*cobra.Command{newClaudeCodeHookCmd(rt)}, hostHookCommands(rt)...)...)
	cmd.AddCommand(newHookDaemonCmd(rt))
	return cmd
}

func newClaudeCodeHookCmd(rt *runtime) *cobra.Command {
	var (
		logPath string
		remote  remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "claude-code",
		Short: "Claude Code PreToolUse hook",
		Long: `Reads a Claude Code PreToolUse payload on stdin and prints the hook answer:
allow, deny or ask, with the reason and the rule id. Malformed input fails closed: the
reason goes to stderr and the exit code is 2, which Claude Code treats as a block.

Configure it in .claude/settings.json:
  {"hooks":{"PreToolUse":[{"matcher":"*","hooks":[{"type":"command","command":"cavra hook claude-code","timeout":10}]}]}}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteOrLocal(cmd, rt, &remote, claudecode.Host, logPath, claudeCodeFailOpen, func() error {
				return runClaudeCodeHook(cmd, rt, logPath)
			})
		},
	}
	addPolicyFlag(cmd)
	cmd.Flags().StringVar(&logPath, "decision-log", "", "also append each decision as a JSON line to this file (env CAVRA_DECISION_LOG)")
	addRemoteFlags(cmd, &remote)
	return cmd
}

// runClaudeCodeHook is the local Claude Code hook: decide in-process and record the evidence.
func runClaudeCodeHook(cmd *cobra.Command, rt *runtime, logPath string) error {
	// Every failure below is a block: exit 2 with the reason on stderr.
	data, err := io.ReadAll(io.LimitReader(rt.stdin, maxHookPayload+1))
	if err != nil {
		return hookFailClosed(fmt.Errorf("read stdin: %w", err))
	}
	if len(data) > maxHookPayload {
		return hookFailClosed(fmt.Errorf("hook payload larger than %d bytes", maxHookPayload))
	}
	payload, err := claudecode.Parse(data)
	if err != nil {
		return hookFailClosed(err)
	}
	action, err := claudecode.ToAction(payload)
	if err != nil {
		return hookFailClosed(err)
	}
	decision, err := governLocal(cmd, rt, logPath, action)
	if err != nil {
		return hookFailClosed(err)
	}
	out, err := json.Marshal(claudecode.Render(decision))
	if err != nil {
		return hookFailClosed(err)
	}
	_, err = fmt.Fprintf(rt.stdout, "%s\n", out)
	return err
}

// governLocal is the one path every local hook adapter takes: normalise, decide with the chosen
// policy, record the decision as evidence, and attest it when the outcome is
// allow_with_attestation. Any error means the action must not run.
func governLocal(cmd *cobra.Command, rt *runtime, logPath string, action cavra.Action) (cavra.Decision, error) {
	d, _, err := governAttested(cmd, rt, logPath, action, attestRequest{})
	return d, err
}

// attestRequest asks governAttested for an attestation beyond what the outcome calls for.
type attestRequest struct {
	// always attests any permitted outcome, not only allow_with_attestation.
	always bool
	// subjects replaces the subjects derived from the action (e.g. commit ids).
	subjects []attest.Subject
}

// governAttested is governLocal returning the attestation, if one was made.
func governAttested(cmd *cobra.Command, rt *runtime, logPath string, action cavra.Action, req attestRequest) (cavra.Decision, *attestation, error) {
	if rt.exitsAfter {
		shortLivedGC()
	}
	eng, err := newEngine(cmd, rt)
	if err != nil {
		return cavra.Decision{}, nil, fmt.Errorf("load policy: %w", err)
	}
	normalized, err := eng.Normalize(action)
	if err != nil {
		return cavra.Decision{}, nil, err
	}
	decision, err := eng.DecideNormalized(cmd.Context(), normalized)
	if err != nil {
		return cavra.Decision{}, nil, fmt.Errorf("decide: %w", err)
	}
	// Evidence that cannot be written is an action that cannot be allowed.
	ev, err := openEvidence(cmd.Context(), rt, logPath)
	if err != nil {
		return cavra.Decision{}, nil, fmt.Errorf("record decision: %w", err)
	}
	var att *attestation
	if decision.Outcome == cavra.AllowWithAttestation || (req.always && decision.Outcome.Permits()) {
		// An attestation that cannot be made is an act that cannot be allowed either.
		d, a, err := ev.RecordAttested(cmd.Context(), normalized, decision, req.subjects)
		if err != nil {
			ev.Close()
			return cavra.Decision{}, nil, fmt.Errorf("record decision: %w", err)
		}
		decision, att = d, &a
	} else if err := ev.RecordDecision(cmd.Context(), normalized, decision); err != nil {
		ev.Close()
		return cavra.Decision{}, nil, fmt.Errorf("record decision: %w", err)
	}
	if err := ev.Close(); err != nil {
		return cavra.Decision{}, nil, fmt.Errorf("record decision: %w", err)
	}
	return decision, att, nil
}

// shortLivedGC turns the garbage collector off for a process that decides once and exits: a
// hook allocates a few megabytes at most, and collecting them costs more than the process's
// whole decision. The memory limit keeps a runaway input from growing without bound.
func shortLivedGC() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
}
