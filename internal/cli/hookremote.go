package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/client"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/codex"
	"github.com/cavra-dev/cavra/internal/hooks/cursor"
	"github.com/cavra-dev/cavra/internal/hooks/gemini"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// FailOpenRule is the rule id of the local decision that records a hook let through by
// --fail-open because the control plane gave no answer.
const FailOpenRule = "remote.fail-open"

// defaultRemoteTimeout is how long a remote hook waits for the control plane.
const defaultRemoteTimeout = 2 * time.Second

// remoteFlags are the remote-mode flags every agent-host hook has. Each falls back to its
// environment variable when not given, so hosts configured once with `cavra hook <host>` switch
// to remote mode by the environment alone.
type remoteFlags struct {
	server    string
	token     string
	tokenFile string
	timeout   time.Duration
	failOpen  bool
}

func addRemoteFlags(cmd *cobra.Command, f *remoteFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "ask the CAVRA control plane at this URL instead of deciding locally (env CAVRA_SERVER)")
	// No default from the environment: help output would print the secret.
	fl.StringVar(&f.token, "token", "", "API token for --server (env CAVRA_TOKEN; prefer the environment or --token-file: arguments are visible to other users)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the API token for --server (env CAVRA_TOKEN_FILE)")
	fl.DurationVar(&f.timeout, "timeout", defaultRemoteTimeout, "how long to wait for --server before failing (env CAVRA_TIMEOUT)")
	fl.BoolVar(&f.failOpen, "fail-open", false, "when --server gives no answer, let the host's own flow proceed and record that locally, instead of blocking (env CAVRA_FAIL_OPEN=1)")
}

// remoteConfig is remote mode resolved from flags and environment.
type remoteConfig struct {
	server   string
	token    string
	timeout  time.Duration
	failOpen bool
}

// resolveRemote returns the remote-mode settings, or ok false when no server is set (local
// mode). A server without a usable token, or a bad timeout, is an error: the hook must block.
func resolveRemote(cmd *cobra.Command, rt *runtime, f *remoteFlags) (cfg remoteConfig, ok bool, err error) {
	cfg.server = strings.TrimSpace(hookio.FirstNonEmpty(f.server, rt.getenv("CAVRA_SERVER")))
	if cfg.server == "" {
		return cfg, false, nil
	}
	cfg.timeout = f.timeout
	if !cmd.Flags().Changed("timeout") {
		if v := strings.TrimSpace(rt.getenv("CAVRA_TIMEOUT")); v != "" {
			if cfg.timeout, err = parseTimeout(v); err != nil {
				return cfg, true, fmt.Errorf("CAVRA_TIMEOUT: %w", err)
			}
		}
	}
	if cfg.timeout <= 0 {
		return cfg, true, fmt.Errorf("--timeout must be positive, not %s", cfg.timeout)
	}
	cfg.failOpen = f.failOpen
	if !cmd.Flags().Changed("fail-open") {
		if v := strings.TrimSpace(rt.getenv("CAVRA_FAIL_OPEN")); v != "" {
			if cfg.failOpen, err = strconv.ParseBool(v); err != nil {
				return cfg, true, fmt.Errorf("CAVRA_FAIL_OPEN=%q: want 1, true, 0 or false", v)
			}
		}
	}
	cfg.token, err = resolveToken(rt, f)
	if err != nil {
		return cfg, true, err
	}
	return cfg, true, nil
}

// parseTimeout reads a Go duration ("1500ms", "2s") or a number of seconds ("2", "0.5").
func parseTimeout(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 3600 {
		return time.Duration(s * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%q is not a duration (e.g. 2s, 500ms)", v)
}

// resolveToken takes the token from --token, --token-file, CAVRA_TOKEN, CAVRA_TOKEN_FILE, in
// that order: flags before the environment.
func resolveToken(rt *runtime, f *remoteFlags) (string, error) {
	if f.token != "" {
		return strings.TrimSpace(f.token), nil
	}
	file := f.tokenFile
	if file == "" {
		if t := strings.TrimSpace(rt.getenv("CAVRA_TOKEN")); t != "" {
			return t, nil
		}
		file = rt.getenv("CAVRA_TOKEN_FILE")
	}
	if file == "" {
		return "", errors.New("CAVRA_SERVER is set but CAVRA_TOKEN is not set: set CAVRA_TOKEN or CAVRA_TOKEN_FILE (or --token, --token-file)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return t, nil
}

// hostFailOpen describes what a host's payload asks for and the answer that lets the host's own
// flow go on when the control plane cannot be asked: nil prints nothing. An error means the
// payload is malformed, which blocks in fail-open mode as it does locally.
type hostFailOpen func(data []byte, note string) (cavra.Action, []byte, error)

// runRemoteHook is remote mode: forward the raw payload to the control plane and print its
// answer. It loads no policy and opens no store unless the control plane fails and fail-open is
// on. Every other failure blocks.
func runRemoteHook(cmd *cobra.Command, rt *runtime, cfg remoteConfig, host, logPath string, failOpen hostFailOpen) error {
	if rt.exitsAfter {
		shortLivedGC()
	}
	data, err := io.ReadAll(io.LimitReader(rt.stdin, maxHookPayload+1))
	if err != nil {
		return hookFailClosed(fmt.Errorf("read stdin: %w", err))
	}
	if len(data) > maxHookPayload {
		return hookFailClosed(fmt.Errorf("hook payload larger than %d bytes", maxHookPayload))
	}
	c, err := client.New(cfg.server, cfg.token, client.WithTimeout(cfg.timeout), client.WithUserAgent("cavra-hook/"+host))
	if err != nil {
		return hookFailClosed(fmt.Errorf("CAVRA_SERVER: %w", err))
	}
	ans, err := c.Hook(cmd.Context(), host, data)
	if err == nil {
		_, err = fmt.Fprintf(rt.stdout, "%s\n", strings.TrimSpace(string(ans.Body)))
		return err
	}
	cause := remoteFailure(cfg.server, err)
	if !cfg.failOpen || !failOpenApplies(err) {
		return hookFailClosed(cause)
	}
	note := fmt.Sprintf("CAVRA could not be asked (%v); fail-open let this proceed without a CAVRA decision.", cause)
	action, out, perr := failOpen(data, note)
	if perr != nil {
		return hookFailClosed(errors.Join(cause, fmt.Errorf("fail-open: %w", perr)))
	}
	id, rerr := recordFailOpen(cmd.Context(), rt, logPath, action, cfg.server, cause)
	if rerr != nil {
		return hookFailClosed(errors.Join(cause, fmt.Errorf("fail-open could not be recorded locally: %w", rerr)))
	}
	fmt.Fprintf(rt.stderr, "cavra: warning: %v; --fail-open let the host's own flow proceed, recorded as decision %s (%s) in the local audit log\n", cause, id, FailOpenRule)
	if out == nil {
		return nil
	}
	_, err = fmt.Fprintf(rt.stdout, "%s\n", out)
	return err
}

// remoteFailure says what went wrong with the control plane, in words an agent's user can act on.
func remoteFailure(server string, err error) error {
	switch cavra.Code(err) {
	case cavra.ErrUnauthorized, cavra.ErrForbidden:
		return fmt.Errorf("the CAVRA control plane at %s refused the token (check CAVRA_TOKEN): %w", server, err)
	case cavra.ErrInvalid, cavra.ErrConflict:
		return fmt.Errorf("the CAVRA control plane at %s rejected the hook payload: %w", server, err)
	case cavra.ErrUnavailable:
		return fmt.Errorf("the CAVRA control plane at %s is unreachable: %w", server, err)
	}
	return fmt.Errorf("the CAVRA control plane at %s failed to answer: %w", server, err)
}

// failOpenApplies reports whether err means the control plane gave no answer (down, slow,
// broken), the only case fail-open covers. A refused token or a rejected payload is the control
// plane's answer: a revoked token must stop the agent even in fail-open mode.
func failOpenApplies(err error) bool {
	switch cavra.Code(err) {
	case cavra.ErrUnauthorized, cavra.ErrForbidden, cavra.ErrInvalid, cavra.ErrConflict:
		return false
	}
	return true
}

// recordFailOpen appends the audit_only decision that says fail-open let the action through.
func recordFailOpen(ctx context.Context, rt *runtime, logPath string, a cavra.Action, server string, cause error) (string, error) {
	d := cavra.Decision{
		Outcome:     cavra.AuditOnly,
		RuleID:      FailOpenRule,
		Severity:    cavra.SeverityHigh,
		Reason:      fmt.Sprintf("fail-open: the CAVRA control plane at %s gave no decision (%v); the host's own flow decided", server, cause),
		Remediation: "Check that `cavra serve` is running and reachable, then review this action.",
		Policy:      FailOpenRule,
		DecidedAt:   time.Now().UTC(),
	}
	if a.Kind != "" {
		d.Fingerprint = a.Fingerprint()
	}
	ev, err := openEvidence(ctx, rt, logPath)
	if err != nil {
		return "", err
	}
	entry, err := ev.log.AppendDecision(ctx, a, d)
	if err == nil && ev.mirror != nil {
		d.ID = entry.ID
		err = ev.mirror.RecordDecision(ctx, a, d)
	}
	if cerr := ev.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return entry.ID, nil
}

// The fail-open answers of each host. Claude Code, Codex and Gemini CLI go on with their own
// permission flow when a hook prints nothing and exits 0. Cursor gets an explicit answer:
// "ask" where its answer has one (shell and MCP calls) so the user decides, "allow" for file
// reads (allow or deny only), {"continue":true} for prompts, {} for the observe-only events.

func claudeCodeFailOpen(data []byte, _ string) (cavra.Action, []byte, error) {
	p, err := claudecode.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	a, err := claudecode.ToAction(p)
	return a, nil, err
}

func codexFailOpen(data []byte, _ string) (cavra.Action, []byte, error) {
	p, err := codex.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	if p.HookEventName != codex.EventPreToolUse {
		return observedAction(codex.Host, p.HookEventName, p.ToolName, p.Cwd, p.SessionID), nil, nil
	}
	a, err := codex.ToAction(p)
	return a, nil, err
}

func geminiFailOpen(data []byte, _ string) (cavra.Action, []byte, error) {
	p, err := gemini.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	if p.HookEventName != gemini.EventBeforeTool {
		return observedAction(gemini.Host, p.HookEventName, p.ToolName, p.Cwd, p.SessionID), nil, nil
	}
	a, err := gemini.ToAction(p)
	return a, nil, err
}

func cursorFailOpen(data []byte, note string) (cavra.Action, []byte, error) {
	p, err := cursor.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	var ans cursor.Answer
	var a cavra.Action
	switch {
	case cursor.IsDecision(p):
		if a, err = cursor.ToAction(p); err != nil {
			return a, nil, err
		}
		ans = cursor.Answer{Permission: "ask", UserMessage: note, AgentMessage: note}
		if p.HookEventName == cursor.EventBeforeReadFile {
			ans = cursor.Answer{Permission: "allow"}
		}
	case p.HookEventName == cursor.EventBeforeSubmitPrompt:
		a = observedAction(cursor.Host, p.HookEventName, "", p.Cwd, p.ConversationID)
		ok := true
		ans = cursor.Answer{Continue: &ok}
	default:
		a = observedAction(cursor.Host, p.HookEventName, p.ToolName, p.Cwd, p.ConversationID)
	}
	out, err := json.Marshal(ans)
	return a, out, err
}

// observedAction describes an event that is not a decision on an action (a tool's output, a
// prompt), whose secret scan fail-open skipped.
func observedAction(host, event, tool, cwd, session string) cavra.Action {
	return cavra.Action{
		Version: cavra.TaxonomyVersion,
		Cwd:     cwd,
		Source:  cavra.Source{Host: host, Event: event, Tool: tool, SessionID: session},
	}
}

// remoteOrLocal runs the hook in remote mode when a server is set, and local otherwise.
func remoteOrLocal(cmd *cobra.Command, rt *runtime, f *remoteFlags, host, logPath string, failOpen hostFailOpen, local func() error) error {
	cfg, remote, err := resolveRemote(cmd, rt, f)
	if err != nil {
		return hookFailClosed(err)
	}
	if !remote {
		return local()
	}
	return runRemoteHook(cmd, rt, cfg, host, logPath, failOpen)
}
