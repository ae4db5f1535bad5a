package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/decisionlog"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
)

// maxHookPayload bounds what a hook reads from stdin; Claude Code payloads are far smaller,
// but a Write of a large file carries its whole content.
const maxHookPayload = 32 << 20

func newHookCmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Answer an agent host's hook: read its payload on stdin, decide, print its answer",
	}
	cmd.AddCommand(append([]*cobra.Command{newClaudeCodeHookCmd(rt)}, hostHookCommands(rt)...)...)
	return cmd
}

func newClaudeCodeHookCmd(rt *runtime) *cobra.Command {
	var logPath string
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
			// Every failure below is a block: exit 2 with the reason on stderr.
			failClosed := func(err error) error {
				return withExit(exitUsage, fmt.Errorf("blocked by CAVRA (fail closed): %w", err))
			}
			data, err := io.ReadAll(io.LimitReader(rt.stdin, maxHookPayload+1))
			if err != nil {
				return failClosed(fmt.Errorf("read stdin: %w", err))
			}
			if len(data) > maxHookPayload {
				return failClosed(fmt.Errorf("hook payload larger than %d bytes", maxHookPayload))
			}
			payload, err := claudecode.Parse(data)
			if err != nil {
				return failClosed(err)
			}
			action, err := claudecode.ToAction(payload)
			if err != nil {
				return failClosed(err)
			}
			decision, err := governLocal(cmd, rt, logPath, action)
			if err != nil {
				return failClosed(err)
			}
			out, err := json.Marshal(claudecode.Render(decision))
			if err != nil {
				return failClosed(err)
			}
			_, err = fmt.Fprintf(rt.stdout, "%s\n", out)
			return err
		},
	}
	addPolicyFlag(cmd)
	cmd.Flags().StringVar(&logPath, "decision-log", "", "append each decision as a JSON line to this file (env CAVRA_DECISION_LOG; default $CAVRA_HOME/decisions.jsonl)")
	return cmd
}

// governLocal is the one path every local hook adapter takes: normalise, decide with the chosen
// policy, record the decision as evidence. Any error means the action must not run.
func governLocal(cmd *cobra.Command, rt *runtime, logPath string, action cavra.Action) (cavra.Decision, error) {
	eng, err := newEngine(cmd, rt)
	if err != nil {
		return cavra.Decision{}, fmt.Errorf("load policy: %w", err)
	}
	normalized, err := eng.Normalize(action)
	if err != nil {
		return cavra.Decision{}, err
	}
	decision, err := eng.DecideNormalized(cmd.Context(), normalized)
	if err != nil {
		return cavra.Decision{}, fmt.Errorf("decide: %w", err)
	}
	if err := recordDecision(cmd, rt, logPath, normalized, decision); err != nil {
		// Evidence that cannot be written is an action that cannot be allowed.
		return cavra.Decision{}, fmt.Errorf("record decision: %w", err)
	}
	return decision, nil
}

// recordDecision appends the decision to the local decision log.
func recordDecision(cmd *cobra.Command, rt *runtime, path string, a cavra.Action, d cavra.Decision) error {
	if path == "" {
		path = rt.getenv("CAVRA_DECISION_LOG")
	}
	if path == "" {
		home, err := dataHome(rt)
		if err != nil {
			return err
		}
		path = filepath.Join(home, "decisions.jsonl")
	}
	return decisionlog.New(path).RecordDecision(cmd.Context(), a, d)
}

// dataHome is $CAVRA_HOME, or cavra under the user's data directory.
func dataHome(rt *runtime) (string, error) {
	if h := rt.getenv("CAVRA_HOME"); h != "" {
		return h, nil
	}
	if x := rt.getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "cavra"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the data home: set CAVRA_HOME: %w", err)
	}
	return filepath.Join(home, ".local", "share", "cavra"), nil
}
