package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/engine/secrets"
	"github.com/cavra-dev/cavra/internal/mcpgw"
)

// newMCPCmd is `cavra mcp`: the MCP governance gateway.
func newMCPCmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Govern Model Context Protocol servers: every tool call judged and recorded",
	}
	cmd.AddCommand(newMCPWrapCmd(rt), newMCPServeCmd(rt), newMCPPinsCmd(rt))
	return cmd
}

// mcpFlags are the flags both transports share.
type mcpFlags struct {
	name        string
	logPath     string
	onSecret    string
	onInjection string
	remote      remoteFlags
}

func (f *mcpFlags) add(cmd *cobra.Command) {
	addPolicyFlag(cmd)
	cmd.Flags().StringVar(&f.name, "name", "", "server name used in rules (mcp.servers), pins and evidence")
	cmd.Flags().StringVar(&f.logPath, "decision-log", "", "append each decision as a JSON line to this file (env CAVRA_DECISION_LOG; default $CAVRA_HOME/decisions.jsonl)")
	cmd.Flags().StringVar(&f.onSecret, "on-secret", string(mcpgw.Redact), "what to do with a tool result holding a live secret: redact, flag or block")
	cmd.Flags().StringVar(&f.onInjection, "on-injection", string(mcpgw.Flag), "what to do with a tool result holding prompt-injection text: redact (same as flag), flag or block")
	addMCPRemoteFlags(cmd, &f.remote)
}

// mcpGovernor is the local decide-and-record path of governLocal, with the policy loaded once
// for the life of the gateway instead of once per hook process.
type mcpGovernor struct {
	eng *engine.Engine
	log *evidence
}

func (g *mcpGovernor) Decide(ctx context.Context, a cavra.Action) (cavra.Action, cavra.Decision, error) {
	normalized, err := g.eng.Normalize(a)
	if err != nil {
		return a, cavra.Decision{}, err
	}
	d, err := g.eng.DecideNormalized(ctx, normalized)
	if err != nil {
		return normalized, cavra.Decision{}, fmt.Errorf("decide: %w", err)
	}
	return normalized, d, nil
}

func (g *mcpGovernor) Record(ctx context.Context, a cavra.Action, d cavra.Decision) error {
	if d.Outcome == cavra.AllowWithAttestation {
		// The call goes through only with its signed attestation made, as for every hook.
		_, _, err := g.log.RecordAttested(ctx, a, d, nil)
		return err
	}
	return g.log.RecordDecision(ctx, a, d)
}

// newGatewayHere is newGateway for the process's working directory, against which path
// arguments of tool calls resolve.
func newGatewayHere(cmd *cobra.Command, rt *runtime, f mcpFlags) (*mcpgw.Gateway, io.Closer, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, withExit(exitUsage, fmt.Errorf("find the working directory: %w", err))
	}
	return newGateway(cmd, rt, f, cwd)
}

// newGateway wires the engine, the audit log (decisions and result records), the pin store and the
// secret scanner. The returned closer closes the audit log.
func newGateway(cmd *cobra.Command, rt *runtime, f mcpFlags, cwd string) (*mcpgw.Gateway, io.Closer, error) {
	onSecret, err := mcpgw.ParseResultHandling(f.onSecret)
	if err != nil {
		return nil, nil, usageError("--on-secret: %v", err)
	}
	onInjection, err := mcpgw.ParseResultHandling(f.onInjection)
	if err != nil {
		return nil, nil, usageError("--on-injection: %v", err)
	}
	if onInjection == mcpgw.Redact {
		// Instruction-like text has no exact extent to cut out; flag it instead.
		onInjection = mcpgw.Flag
	}
	remote, isRemote, err := resolveRemote(cmd, rt, &f.remote)
	if err != nil {
		return nil, nil, withExit(exitUsage, err)
	}
	var eng *engine.Engine
	if isRemote {
		if cmd.Flags().Changed("policy") {
			return nil, nil, usageError("--policy has no effect with --server: the control plane's policy decides")
		}
		if remote.FailOpen {
			fmt.Fprintln(rt.stderr, "cavra: warning: CAVRA_FAIL_OPEN does not apply to the MCP gateway: a call the control plane does not decide is refused")
		}
	} else if eng, err = newEngine(cmd, rt); err != nil {
		return nil, nil, withExit(exitUsage, fmt.Errorf("load policy: %w", err))
	}
	home, err := dataHome(rt)
	if err != nil {
		return nil, nil, withExit(exitUsage, err)
	}
	// In remote mode the local audit log still holds the result records and the gateway's own
	// decisions (pin blocks), which are also reported to the control plane.
	ev, err := openEvidence(cmd.Context(), rt, f.logPath)
	if err != nil {
		return nil, nil, withExit(exitUsage, fmt.Errorf("open the audit log: %w", err))
	}
	var (
		gov          mcpgw.Governor = &mcpGovernor{eng: eng, log: ev}
		controlPlane string
	)
	if isRemote {
		rg, err := newRemoteMCPGovernor(remote, f.name, ev, rt.logger)
		if err != nil {
			ev.Close()
			return nil, nil, withExit(exitUsage, err)
		}
		gov, controlPlane = rg, rg.server
	}
	gw, err := mcpgw.New(mcpgw.Config{
		Server:       f.name,
		Cwd:          cwd,
		Governor:     gov,
		ControlPlane: controlPlane,
		Pins:         mcpgw.NewPinStore(filepath.Join(home, "mcp", "pins"), nil),
		Evidence:     ev,
		Secrets:      secretSpans(),
		OnSecret:     onSecret,
		OnInjection:  onInjection,
		Logger:       rt.logger,
	})
	if err != nil {
		ev.Close()
		return nil, nil, withExit(exitUsage, err)
	}
	return gw, ev, nil
}

// secretSpans adapts the secret scanner to byte offsets, which the result redactor needs.
func secretSpans() mcpgw.SecretFinder {
	s := secrets.New()
	return func(text string) []mcpgw.SecretSpan {
		found := s.Scan(text)
		if len(found) == 0 {
			return nil
		}
		// Line starts, so that a finding's line and column become a byte offset.
		starts := []int{0}
		for i := 0; i < len(text); i++ {
			if text[i] == '\n' {
				starts = append(starts, i+1)
			}
		}
		spans := make([]mcpgw.SecretSpan, 0, len(found))
		for _, f := range found {
			if f.Line < 1 || f.Line > len(starts) {
				continue
			}
			off := starts[f.Line-1] + f.Column - 1
			if off < 0 || off > len(text) {
				off = starts[f.Line-1]
			}
			spans = append(spans, mcpgw.SecretSpan{RuleID: f.RuleID, Start: off, End: off})
		}
		return spans
	}
}

// launchers run a server package rather than being the server; the name comes from the package.
var launchers = map[string]bool{"npx": true, "node": true, "uvx": true, "uv": true, "python": true,
	"python3": true, "bunx": true, "bun": true, "deno": true, "docker": true, "pipx": true, "pnpm": true, "yarn": true}

// serverName derives a default server name from its command line.
func serverName(argv []string) string {
	name := filepath.Base(argv[0])
	if launchers[name] {
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "-") || a == "run" || a == "exec" || a == "dlx" || a == "tool" {
				continue
			}
			a = filepath.Base(a)
			if at := strings.LastIndex(a, "@"); at > 0 {
				a = a[:at]
			}
			return strings.TrimSuffix(strings.TrimPrefix(a, "server-"), ".js")
		}
	}
	return name
}

func newMCPWrapCmd(rt *runtime) *cobra.Command {
	var f mcpFlags
	cmd := &cobra.Command{
		Use:   "wrap [--name NAME] -- CMD [ARGS...]",
		Short: "Run an MCP server over stdio behind the gateway",
		Long: `Starts the MCP server command and relays its stdio JSON-RPC through CAVRA. Put it in an
agent's MCP configuration in place of the server command (cavra init mcp does that for you).
Every tools/call is judged by the policy and recorded; tools/list is filtered and pinned; tool
results are scanned, and each result's hash, findings and handling go to the audit log (a
result that cannot be recorded is withheld). The server's stderr passes through; its exit code is cavra's exit code.
` + mcpRemoteHelp,
		Example: `  cavra mcp wrap --name fs -- npx -y @modelcontextprotocol/server-filesystem /repo`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.name == "" {
				f.name = serverName(args)
			}
			gw, ev, err := newGatewayHere(cmd, rt, f)
			if err != nil {
				return err
			}
			defer ev.Close()
			return runWrapped(cmd.Context(), rt, gw, args)
		},
	}
	f.add(cmd)
	return cmd
}

// stdioGracePeriod is how long a server may take to exit after its stdin closes, and after
// SIGTERM, before the next signal.
const stdioGracePeriod = 5 * time.Second

// runWrapped starts the server and proxies until it exits; its exit code becomes ours.
func runWrapped(ctx context.Context, rt *runtime, gw *mcpgw.Gateway, argv []string) error {
	server := exec.CommandContext(ctx, argv[0], argv[1:]...)
	server.Stderr = rt.stderr
	// On cancellation (SIGINT/SIGTERM to cavra) the server gets SIGTERM and time to finish.
	server.Cancel = func() error { return server.Process.Signal(syscall.SIGTERM) }
	server.WaitDelay = 5 * time.Second
	serverIn, err := server.StdinPipe()
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("connect server stdin: %w", err))
	}
	serverOut, err := server.StdoutPipe()
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("connect server stdout: %w", err))
	}
	if err := server.Start(); err != nil {
		return withExit(exitUsage, fmt.Errorf("start MCP server %q: %w", argv[0], err))
	}
	exited := make(chan struct{})
	// The stdio shutdown of the MCP spec: once the client is gone and the server's stdin is
	// closed, the server has a grace period to exit, then SIGTERM, then SIGKILL.
	clientDone := func() {
		go func() {
			for _, sig := range []os.Signal{syscall.SIGTERM, os.Kill} {
				select {
				case <-exited:
					return
				case <-time.After(stdioGracePeriod):
					_ = server.Process.Signal(sig)
				}
			}
		}()
	}
	proxyErr := gw.NewSession().Proxy(ctx, mcpgw.Pipes{ClientIn: rt.stdin, ClientOut: rt.stdout, ServerIn: serverIn, ServerOut: serverOut, ClientDone: clientDone})
	waitErr := server.Wait()
	close(exited)
	var exitErr *exec.ExitError
	switch {
	case errors.As(waitErr, &exitErr):
		if code := exitErr.ExitCode(); code >= 0 {
			return silentExit(code)
		}
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// The shell's convention: killed by signal N exits 128+N.
			return withExit(128+int(ws.Signal()), fmt.Errorf("MCP server killed by %s", ws.Signal()))
		}
		return withExit(exitFailure, fmt.Errorf("MCP server %s", exitErr.ProcessState))
	case waitErr != nil:
		return withExit(exitFailure, fmt.Errorf("wait for MCP server: %w", waitErr))
	case proxyErr != nil:
		return withExit(exitFailure, proxyErr)
	}
	return nil
}

func newMCPServeCmd(rt *runtime) *cobra.Command {
	var (
		f        mcpFlags
		upstream string
		listen   string
		origins  []string
	)
	cmd := &cobra.Command{
		Use:   "serve --upstream URL [--listen 127.0.0.1:PORT]",
		Short: "Run a Streamable HTTP reverse proxy in front of an MCP server",
		Long: `Listens for MCP Streamable HTTP (protocol revisions 2025-06-18, 2025-11-25 and the stateless
2026-07-28 form with Mcp-Method/Mcp-Name headers) and relays it to the upstream MCP endpoint,
governing every message. Sessions (Mcp-Session-Id) and SSE streams pass through; requests with an
Origin that is neither loopback nor listed in --allow-origin are refused.
` + mcpRemoteHelp,
		Example: `  cavra mcp serve --upstream http://127.0.0.1:3001/mcp --listen 127.0.0.1:8931 --name everything`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			up, err := url.Parse(upstream)
			if err != nil || up.Host == "" || (up.Scheme != "http" && up.Scheme != "https") {
				return usageError("--upstream must be an http(s) URL, got %q", upstream)
			}
			if f.name == "" {
				f.name = up.Hostname()
			}
			gw, ev, err := newGatewayHere(cmd, rt, f)
			if err != nil {
				return err
			}
			defer ev.Close()
			h, err := mcpgw.NewHandler(gw, mcpgw.HTTPConfig{Upstream: up, AllowedOrigins: origins})
			if err != nil {
				return usageError("%v", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("listen on %s: %w", listen, err))
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(rt.stderr, "cavra mcp gateway for %s listening on http://%s\n", upstream, ln.Addr())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return withExit(exitFailure, fmt.Errorf("serve: %w", err))
			case <-cmd.Context().Done():
				shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(shutdownCtx); err != nil {
					return withExit(exitFailure, fmt.Errorf("shut down: %w", err))
				}
				return nil
			}
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&upstream, "upstream", "", "the MCP endpoint to protect, e.g. http://127.0.0.1:3001/mcp")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8931", "address to listen on")
	cmd.Flags().StringSliceVar(&origins, "allow-origin", nil, "an Origin browsers may use besides loopback (repeatable)")
	_ = cmd.MarkFlagRequired("upstream")
	return cmd
}

func newMCPPinsCmd(rt *runtime) *cobra.Command {
	var server, tool string
	pinStore := func() (*mcpgw.PinStore, error) {
		home, err := dataHome(rt)
		if err != nil {
			return nil, withExit(exitUsage, err)
		}
		return mcpgw.NewPinStore(filepath.Join(home, "mcp", "pins"), nil), nil
	}
	cmd := &cobra.Command{
		Use:   "pins",
		Short: "Inspect and approve pinned MCP tool definitions",
	}
	list := &cobra.Command{
		Use:   "list --server NAME",
		Short: "Print the pinned tools of a server as JSON, with pending changes and findings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := pinStore()
			if err != nil {
				return err
			}
			pins, err := s.List(server)
			if err != nil {
				return withExit(exitUsage, err)
			}
			return writeJSON(rt.stdout, pins)
		},
	}
	list.Flags().StringVar(&server, "server", "", "server name")
	_ = list.MarkFlagRequired("server")
	approve := &cobra.Command{
		Use:   "approve --server NAME --tool TOOL",
		Short: "Accept a tool's changed or flagged definition so that calls to it are judged by policy again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := pinStore()
			if err != nil {
				return err
			}
			p, err := s.Approve(server, tool)
			if errors.Is(err, mcpgw.ErrNoPin) {
				return withExit(exitFailure, err)
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			fmt.Fprintf(rt.stdout, "approved %s/%s at %s\n", server, p.Tool, p.Hash)
			return nil
		},
	}
	approve.Flags().StringVar(&server, "server", "", "server name")
	approve.Flags().StringVar(&tool, "tool", "", "tool name")
	_ = approve.MarkFlagRequired("server")
	_ = approve.MarkFlagRequired("tool")
	cmd.AddCommand(list, approve)
	return cmd
}
