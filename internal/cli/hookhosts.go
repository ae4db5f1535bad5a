package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/codex"
	"github.com/cavra-dev/cavra/internal/hooks/cursor"
	"github.com/cavra-dev/cavra/internal/hooks/gemini"
)

// hostHookCommands are the `cavra hook` subcommands beside claude-code: the other agent hosts,
// Claude Code's output and prompt scan, and the git hooks.
func hostHookCommands(rt *runtime) []*cobra.Command {
	return []*cobra.Command{
		newCodexHookCmd(rt),
		newCursorHookCmd(rt),
		newGeminiHookCmd(rt),
		newClaudeCodeScanHookCmd(rt),
		newGitPreCommitHookCmd(rt),
		newGitPrePushHookCmd(rt),
	}
}

// hookFailClosed is how every host here is told "no": exit 2 with the reason on stderr. Codex,
// Gemini CLI, Cursor and Claude Code all treat exit 2 from a hook as a block.
func hookFailClosed(err error) error {
	return withExit(exitUsage, fmt.Errorf("blocked by CAVRA (fail closed): %w", err))
}

// runHostHook reads the payload, lets answer turn it into the host's answer and prints that as
// one JSON line. Any error blocks.
func runHostHook(rt *runtime, answer func(data []byte) (any, error)) error {
	data, err := io.ReadAll(io.LimitReader(rt.stdin, maxHookPayload+1))
	if err != nil {
		return hookFailClosed(fmt.Errorf("read stdin: %w", err))
	}
	if len(data) > maxHookPayload {
		return hookFailClosed(fmt.Errorf("hook payload larger than %d bytes", maxHookPayload))
	}
	out, err := answer(data)
	if err != nil {
		return hookFailClosed(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return hookFailClosed(err)
	}
	_, err = fmt.Fprintf(rt.stdout, "%s\n", b)
	return err
}

func addDecisionLogFlag(cmd *cobra.Command, logPath *string) {
	cmd.Flags().StringVar(logPath, "decision-log", "", "append each decision as a JSON line to this file (env CAVRA_DECISION_LOG; default $CAVRA_HOME/decisions.jsonl)")
}

func newCodexHookCmd(rt *runtime) *cobra.Command {
	var (
		logPath string
		remote  remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "codex",
		Short: "OpenAI Codex CLI hook: PreToolUse (Bash, apply_patch, MCP), PostToolUse, UserPromptSubmit",
		Long: `Reads a Codex hook payload on stdin and prints an answer that fits Codex's strict output schema.

PreToolUse: {} allows; a deny carries the reason and rule. Codex hooks cannot ask, so
require_approval is a deny whose message says how to get the action approved. apply_patch
patches are parsed for every added, updated, moved and deleted path and the added lines.
PostToolUse and UserPromptSubmit: secrets in the tool output or prompt are answered with
"decision":"block" and a reason. Malformed input exits 2, which Codex treats as a block.

Configure it with: cavra init codex`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteOrLocal(cmd, rt, &remote, codex.Host, logPath, codexFailOpen, func() error {
				return runHostHook(rt, func(data []byte) (any, error) {
					p, err := codex.Parse(data)
					if err != nil {
						return nil, err
					}
					if p.HookEventName != codex.EventPreToolUse {
						findings, _ := secretFindings(rt, codex.Inspected(p))
						return codex.RenderFindings(p, findings), nil
					}
					action, err := codex.ToAction(p)
					if err != nil {
						return nil, err
					}
					decision, err := governLocal(cmd, rt, logPath, action)
					if err != nil {
						return nil, err
					}
					return codex.Render(decision), nil
				})
			})
		},
	}
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	addRemoteFlags(cmd, &remote)
	return cmd
}

func newCursorHookCmd(rt *runtime) *cobra.Command {
	var (
		logPath string
		remote  remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "cursor",
		Short: "Cursor hook: beforeShellExecution, beforeMCPExecution, beforeReadFile, after* and beforeSubmitPrompt",
		Long: `Reads a Cursor hook payload on stdin and prints {"permission":"allow|deny|ask",...}.

require_approval asks, except on beforeReadFile, whose answer has no ask: there it denies
and the reason goes to stderr. afterShellExecution and afterMCPExecution cannot change
anything in Cursor: secrets found in the output are reported on stderr. A prompt holding a
secret is stopped ({"continue":false}). Malformed input exits 2, which Cursor treats as a deny.

Configure it with: cavra init cursor`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteOrLocal(cmd, rt, &remote, cursor.Host, logPath, cursorFailOpen, func() error {
				return runHostHook(rt, func(data []byte) (any, error) {
					p, err := cursor.Parse(data)
					if err != nil {
						return nil, err
					}
					if !cursor.IsDecision(p) {
						findings, _ := secretFindings(rt, cursor.Inspected(p))
						if findings != "" && p.HookEventName != cursor.EventBeforeSubmitPrompt {
							fmt.Fprintf(rt.stderr, "CAVRA: the output of %s holds %s Rotate these secrets.\n", p.HookEventName, findings)
						}
						return cursor.RenderFindings(p, findings), nil
					}
					action, err := cursor.ToAction(p)
					if err != nil {
						return nil, err
					}
					decision, err := governLocal(cmd, rt, logPath, action)
					if err != nil {
						return nil, err
					}
					answer := cursor.Render(p, decision)
					if p.HookEventName == cursor.EventBeforeReadFile && answer.Permission == "deny" {
						fmt.Fprintln(rt.stderr, cursor.ReadDenialReason(decision))
					}
					return answer, nil
				})
			})
		},
	}
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	addRemoteFlags(cmd, &remote)
	return cmd
}

func newGeminiHookCmd(rt *runtime) *cobra.Command {
	var (
		logPath string
		remote  remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "gemini",
		Short: "Gemini CLI hook: BeforeTool, AfterTool, BeforeAgent",
		Long: `Reads a Gemini CLI hook payload on stdin and prints {"decision":"allow|deny","reason":...}.

Gemini CLI hooks cannot ask, so require_approval denies with a message that says how to get
approval. AfterTool: a tool output holding secrets is replaced by a copy with those lines
redacted. BeforeAgent: a prompt holding a secret is denied. Malformed input exits 2, which
Gemini CLI treats as a block.

Configure it with: cavra init gemini`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteOrLocal(cmd, rt, &remote, gemini.Host, logPath, geminiFailOpen, func() error {
				return runHostHook(rt, func(data []byte) (any, error) {
					p, err := gemini.Parse(data)
					if err != nil {
						return nil, err
					}
					if p.HookEventName != gemini.EventBeforeTool {
						text := gemini.Inspected(p)
						findings, hits := secretFindings(rt, text)
						return gemini.RenderFindings(p, findings, redactSecretLines(text, hits)), nil
					}
					action, err := gemini.ToAction(p)
					if err != nil {
						return nil, err
					}
					decision, err := governLocal(cmd, rt, logPath, action)
					if err != nil {
						return nil, err
					}
					return gemini.Render(decision), nil
				})
			})
		},
	}
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	addRemoteFlags(cmd, &remote)
	return cmd
}

func newClaudeCodeScanHookCmd(rt *runtime) *cobra.Command {
	return &cobra.Command{
		Use:   "claude-code-scan",
		Short: "Claude Code PostToolUse and UserPromptSubmit hook: flag secrets in tool output and prompts",
		Long: `Reads a Claude Code PostToolUse or UserPromptSubmit payload on stdin. Secrets in a tool's
output are answered with "decision":"block" and a reason for the model; a prompt holding a
secret is blocked before it reaches the model. No secret: {}.

Configure it with: cavra init claude-code`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHostHook(rt, func(data []byte) (any, error) {
				p, err := claudecode.ParseContent(data)
				if err != nil {
					return nil, err
				}
				findings, _ := secretFindings(rt, claudecode.Inspected(p))
				return claudecode.RenderFindings(p, findings), nil
			})
		},
	}
}

// secretFindings scans text with the engine's secret scanner and summarises what it found for
// the agent: how many, which kinds, where, and the masked match. Empty when nothing is found.
func secretFindings(rt *runtime, text string) (string, []engine.SecretHit) {
	if text == "" {
		return "", nil
	}
	hits := rt.scanSecrets()(text)
	if len(hits) == 0 {
		return "", nil
	}
	parts := make([]string, len(hits))
	for i, h := range hits {
		parts[i] = fmt.Sprintf("%s at line %d (%s)", h.RuleID, h.Line, h.Redacted)
	}
	noun := "secret"
	if len(hits) > 1 {
		noun = "secrets"
	}
	return fmt.Sprintf("%d live %s: %s.", len(hits), noun, strings.Join(parts, ", ")), hits
}

// redactSecretLines replaces every line of text that holds a secret with a marker naming its
// kind. Whole lines go: the scanner reports where a match starts, and a partial mask could
// leave part of a multi-line key behind.
func redactSecretLines(text string, hits []engine.SecretHit) string {
	if len(hits) == 0 {
		return text
	}
	lines := strings.Split(text, "\n")
	for _, h := range hits {
		if h.Line < 1 || h.Line > len(lines) {
			continue
		}
		first := h.Line - 1
		// A PEM block is one secret over many lines: mask it to its END line.
		last := first
		if strings.Contains(lines[first], "-----BEGIN") {
			for j := first; j < len(lines); j++ {
				if strings.Contains(lines[j], "-----END") {
					last = j
					break
				}
				if j == len(lines)-1 {
					last = j
				}
			}
		}
		for j := first; j <= last; j++ {
			lines[j] = "[CAVRA redacted a " + h.RuleID + "]"
		}
	}
	return strings.Join(lines, "\n")
}
