package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooklite"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/codex"
	"github.com/cavra-dev/cavra/internal/hooks/cursor"
	"github.com/cavra-dev/cavra/internal/hooks/gemini"
)

// FailOpenRule is the rule id of the local decision that records a hook let through by
// --fail-open because the control plane gave no answer.
const FailOpenRule = "remote.fail-open"

// remoteFlags are the remote-mode flags every agent-host hook has. Each falls back to its
// environment variable when not given, so hosts configured once with `cavra hook <host>` switch
// to remote mode by the environment alone. Resolution, forwarding and failure wording live in
// internal/hooklite, shared with the lean cavra-hook binary.
type remoteFlags struct {
	server    string
	token     string
	tokenFile string
	timeout   time.Duration
	failOpen  bool
}

func addRemoteFlags(cmd *cobra.Command, f *remoteFlags) {
	addServerFlags(cmd, f, "ask the CAVRA control plane at this URL instead of deciding locally (env CAVRA_SERVER)",
		"how long to wait for --server before failing (env CAVRA_TIMEOUT)")
	cmd.Flags().BoolVar(&f.failOpen, "fail-open", false, "when --server gives no answer, let the host's own flow proceed and record that locally, instead of blocking (env CAVRA_FAIL_OPEN=1)")
}

// addServerFlags adds --server, --token, --token-file and --timeout, shared by the hooks and the
// MCP gateway; serverHelp and timeoutHelp say what the command does with them.
func addServerFlags(cmd *cobra.Command, f *remoteFlags, serverHelp, timeoutHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", serverHelp)
	// No default from the environment: help output would print the secret.
	fl.StringVar(&f.token, "token", "", "API token for --server (env CAVRA_TOKEN; prefer the environment or --token-file: arguments are visible to other users)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the API token for --server (env CAVRA_TOKEN_FILE)")
	fl.DurationVar(&f.timeout, "timeout", hooklite.DefaultTimeout, timeoutHelp)
}

// resolveRemote returns the remote-mode settings, or ok false when no server is set (local
// mode). A server without a usable token, or a bad timeout, is an error: the hook (or the MCP
// gateway, which has no --fail-open flag but sees CAVRA_FAIL_OPEN) must refuse.
func resolveRemote(cmd *cobra.Command, rt *runtime, f *remoteFlags) (hooklite.Config, bool, error) {
	return hooklite.Resolve(hooklite.Flags{
		Server:      f.server,
		Token:       f.token,
		TokenFile:   f.tokenFile,
		Timeout:     f.timeout,
		TimeoutSet:  cmd.Flags().Changed("timeout"),
		FailOpen:    f.failOpen,
		FailOpenSet: cmd.Flags().Changed("fail-open"),
	}, rt.getenv)
}

// resolveToken takes the token from --token, --token-file, CAVRA_TOKEN, CAVRA_TOKEN_FILE, in
// that order: flags before the environment.
func resolveToken(rt *runtime, f *remoteFlags) (string, error) {
	return hooklite.ResolveToken(f.token, f.tokenFile, rt.getenv)
}

// hostFailOpen describes what a host's payload asks for and the answer that lets the host's own
// flow go on when the control plane cannot be asked: nil prints nothing. An error means the
// payload is malformed, which blocks in fail-open mode as it does locally.
type hostFailOpen func(data []byte, note string) (cavra.Action, []byte, error)

// runRemoteHook is remote mode: forward the raw payload to the control plane and print its
// answer. It loads no policy and opens no store unless the control plane fails and fail-open is
// on. Every other failure blocks.
//
// With fail-open on and hooklite.RemoteFailedVar set (by cavra-hook, which asked the control
// plane and got no answer) it does not ask again: it takes the variable as the cause and goes
// straight to the fail-open path, which needs the local audit log cavra-hook does not link.
func runRemoteHook(cmd *cobra.Command, rt *runtime, cfg hooklite.Config, host, logPath string, failOpen hostFailOpen, local func() error) error {
	if rt.exitsAfter {
		shortLivedGC()
	}
	data, err := hooklite.ReadPayload(rt.stdin)
	if err != nil {
		return hookFailClosed(err)
	}
	if !hooklite.ServerAnswers(host, hooklite.EventOf(data)) {
		// A tool's output or a prompt: the local secret check answers, as in local mode.
		rt.stdin = bytes.NewReader(data)
		return local()
	}
	var cause error
	if failed := strings.TrimSpace(rt.getenv(hooklite.RemoteFailedVar)); failed != "" && cfg.FailOpen {
		cause = errors.New(failed)
	} else {
		ans, err := hooklite.Ask(cmd.Context(), cfg, host, data)
		if err == nil {
			_, err = fmt.Fprintf(rt.stdout, "%s\n", ans)
			return err
		}
		var f *hooklite.Failure
		if !errors.As(err, &f) || !cfg.FailOpen || !f.NoAnswer {
			return hookFailClosed(err)
		}
		cause = f.Cause
	}
	note := fmt.Sprintf("CAVRA could not be asked (%v); fail-open let this proceed without a CAVRA decision.", cause)
	action, out, perr := failOpen(data, note)
	if perr != nil {
		return hookFailClosed(errors.Join(cause, fmt.Errorf("fail-open: %w", perr)))
	}
	id, rerr := recordFailOpen(cmd.Context(), rt, logPath, action, cfg.Server, cause)
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

// The fail-open renderers below see decision events only: content events (a tool's output, a
// prompt) are answered locally before the server is asked (hooklite.ServerAnswers).

func codexFailOpen(data []byte, _ string) (cavra.Action, []byte, error) {
	p, err := codex.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	a, err := codex.ToAction(p)
	return a, nil, err
}

func geminiFailOpen(data []byte, _ string) (cavra.Action, []byte, error) {
	p, err := gemini.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	a, err := gemini.ToAction(p)
	return a, nil, err
}

func cursorFailOpen(data []byte, note string) (cavra.Action, []byte, error) {
	p, err := cursor.Parse(data)
	if err != nil {
		return cavra.Action{}, nil, err
	}
	a, err := cursor.ToAction(p)
	if err != nil {
		return a, nil, err
	}
	ans := cursor.Answer{Permission: "ask", UserMessage: note, AgentMessage: note}
	if p.HookEventName == cursor.EventBeforeReadFile {
		// A read's answer has no "ask".
		ans = cursor.Answer{Permission: "allow"}
	}
	out, err := json.Marshal(ans)
	return a, out, err
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
	return runRemoteHook(cmd, rt, cfg, host, logPath, failOpen, local)
}
