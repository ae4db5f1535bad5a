package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/hooklite"
)

// defaultDaemonIdle is how long the hook daemon waits for a call before it exits.
const defaultDaemonIdle = 30 * time.Minute

// daemonCheckpointAfter is the quiet after calls at which the daemon signs a checkpoint over
// them, so the evidence of a burst of tool calls is signed soon after it, not only once the
// data home's checkpoint_every or checkpoint_interval comes round.
const daemonCheckpointAfter = 2 * time.Second

// maxDaemonLog is the size past which the daemon's log is started afresh.
const maxDaemonLog = 1 << 20

func newHookDaemonCmd(rt *runtime) *cobra.Command {
	var (
		idle         time.Duration
		logFile      string
		stop, status bool
	)
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the local decision daemon that answers cavra-hook in local mode",
		Long: `Runs the local decision daemon of the data home. cavra-hook, the lean hook binary that
cavra init writes into the agent hosts' configuration, asks it over a Unix socket (hookd.sock in
the data home) instead of starting the full binary for every tool call: the daemon keeps the
policies loaded and the audit log open, and runs the very "cavra hook <host>" command the call
would have run, with the call's payload, environment and working directory.

cavra-hook starts the daemon itself when none answers, and answers that call through the full
binary; the daemon exits after --idle without calls, when the cavra binary is replaced, when
the data home's configuration or keys change, or on SIGTERM. --stop stops it, --status
describes it. One daemon runs per data home.
Set CAVRA_HOOKD=off to keep cavra-hook from using or starting it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v := rt.getenv(hooklite.DaemonIdleVar); v != "" && !cmd.Flags().Changed("idle") {
				d, err := time.ParseDuration(v)
				if err != nil {
					return usageError("%s: %v", hooklite.DaemonIdleVar, err)
				}
				idle = d
			}
			root, err := dataHome(rt)
			if err != nil {
				return withExit(exitUsage, err)
			}
			socket := hooklite.SocketPath(root)
			switch {
			case stop:
				return daemonControl(cmd.Context(), rt, socket, hooklite.OpStop)
			case status:
				return daemonControl(cmd.Context(), rt, socket, hooklite.OpStatus)
			}
			return runHookDaemon(cmd.Context(), rt, root, socket, idle, logFile)
		},
	}
	cmd.Flags().DurationVar(&idle, "idle", defaultDaemonIdle, "exit after this long without a call (env "+hooklite.DaemonIdleVar+")")
	cmd.Flags().StringVar(&logFile, "log-file", "", "append the daemon's log to this file instead of stderr")
	cmd.Flags().BoolVar(&stop, "stop", false, "stop the running daemon of the data home")
	cmd.Flags().BoolVar(&status, "status", false, "print the running daemon's status")
	return cmd
}

// daemonControl sends a stop or status request to the running daemon.
func daemonControl(ctx context.Context, rt *runtime, socket, op string) error {
	dialCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := hooklite.DialDaemon(dialCtx, socket)
	if err != nil {
		return withExit(exitFailure, fmt.Errorf("no hook daemon answers on %s", socket))
	}
	defer conn.Close()
	resp, err := hooklite.Exchange(conn, hooklite.DaemonRequest{Op: op}, time.Now().Add(10*time.Second))
	if err != nil {
		return withExit(exitFailure, err)
	}
	if op == hooklite.OpStop {
		fmt.Fprintln(rt.stdout, "hook daemon stopping")
		return nil
	}
	if s := resp.Status; s != nil {
		fmt.Fprintf(rt.stdout, "pid %d\nhome %s\nbinary %s\nstarted %s\ncalls %d\nsocket %s\n",
			s.PID, s.Home, s.Binary.Path, s.Started.Format(time.RFC3339), s.Calls, socket)
	}
	return nil
}

// hookDaemon is the running daemon of one data home.
type hookDaemon struct {
	root    string
	socket  string
	logger  *slog.Logger
	cache   *hookCache
	self    os.FileInfo
	selfAt  string
	home    homeStamp
	started time.Time
	calls   atomic.Int64

	activity chan struct{}
	// unsigned is set by a call that recorded evidence, cleared by the checkpoint over it.
	unsigned atomic.Bool
	// homeChanged stops the daemon from signing anything more: its key may be retired.
	homeChanged atomic.Bool
	log         *audit.Log
	stopOnce    sync.Once
	stopped     chan struct{}
}

func runHookDaemon(ctx context.Context, rt *runtime, root, socket string, idle time.Duration, logFile string) error {
	if idle <= 0 {
		return usageError("--idle must be positive")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("create data home: %w", err)
	}
	logger := rt.logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(rt.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if logFile != "" {
		f, err := openDaemonLog(logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if dir := filepath.Dir(socket); dir != root {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create hook daemon directory: %w", err)
		}
	}
	lock, err := lockDaemon(hooklite.LockPath(socket))
	if errors.Is(err, errDaemonRunning) {
		logger.Info("a hook daemon already runs for this data home", "home", root)
		return nil
	}
	if err != nil {
		return err
	}
	defer lock.Close()

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	self, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	log, closeStore, err := audit.OpenLocal(ctx, root, logger)
	if err != nil {
		return err
	}
	d := &hookDaemon{
		root:     root,
		socket:   socket,
		logger:   logger,
		self:     self,
		selfAt:   exe,
		started:  time.Now(),
		activity: make(chan struct{}, 1),
		stopped:  make(chan struct{}),
		log:      log,
		cache: &hookCache{
			policies: map[string]*cachedPolicy{},
			secrets:  scanSecrets(),
			evidence: &evidence{root: root, log: log, closeLog: func() error { return nil }},
		},
	}
	defer func() {
		log.Close()
		if err := closeStore(); err != nil {
			logger.Warn("closing the audit log", "err", err)
		}
	}()
	// Make the keys now if the home has none, so that their creation does not read as a change
	// of the home at the first call.
	if _, err := audit.KeyringSigner(home.Layout{Root: root}.KeysDir(), logger)(ctx); err != nil {
		return fmt.Errorf("open signing key: %w", err)
	}
	if d.home, err = stampHome(root); err != nil {
		return err
	}
	// We hold the lock, so a socket file left here is a dead daemon's.
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale hook daemon socket: %w", err)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", socket, err)
	}
	defer os.Remove(socket)
	if err := os.Chmod(socket, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("restrict hook daemon socket: %w", err)
	}
	logger.Info("hook daemon started", "pid", os.Getpid(), "home", root, "socket", socket, "binary", exe)
	err = d.serve(ctx, ln, idle)
	d.checkpoint(context.WithoutCancel(ctx))
	return err
}

// checkpoint signs a checkpoint over the calls recorded since the last one, unless the data
// home changed under the daemon.
func (d *hookDaemon) checkpoint(ctx context.Context) {
	if d.homeChanged.Load() || !d.unsigned.Swap(false) {
		return
	}
	if now, err := stampHome(d.root); err != nil || !now.same(d.home) {
		d.homeChanged.Store(true)
		return
	}
	if _, err := d.log.Checkpoint(ctx); err != nil {
		d.logger.Warn("signing a checkpoint", "err", err)
	}
}

// serve accepts calls until idle passes without one, a stop request, a stale call or ctx ends;
// then it waits for the calls in flight.
func (d *hookDaemon) serve(ctx context.Context, ln net.Listener, idle time.Duration) error {
	var inFlight sync.WaitGroup
	go func() {
		timer := time.NewTimer(idle)
		defer timer.Stop()
		quiet := time.NewTimer(daemonCheckpointAfter)
		defer quiet.Stop()
		for {
			select {
			case <-d.activity:
				// Since Go 1.23 a reset timer delivers no stale tick.
				timer.Reset(idle)
				quiet.Reset(daemonCheckpointAfter)
			case <-quiet.C:
				d.checkpoint(ctx)
			case <-timer.C:
				d.logger.Info("hook daemon idle, exiting", "idle", idle)
				d.stop()
			case <-ctx.Done():
				d.stop()
			case <-d.stopped:
			}
			select {
			case <-d.stopped:
				ln.Close()
				return
			default:
			}
		}
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-d.stopped:
				inFlight.Wait()
				d.logger.Info("hook daemon stopped", "calls", d.calls.Load())
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			d.stop()
			inFlight.Wait()
			return fmt.Errorf("accept hook call: %w", err)
		}
		select {
		case d.activity <- struct{}{}:
		default:
		}
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			d.handle(ctx, conn)
		}()
	}
}

func (d *hookDaemon) stop() { d.stopOnce.Do(func() { close(d.stopped) }) }

// handle answers one connection's request.
func (d *hookDaemon) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	if uid, ok, err := hooklite.PeerUID(conn); err != nil || (ok && uid != os.Getuid()) {
		d.logger.Warn("refused a hook call from another user", "uid", uid, "err", err)
		return
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req hooklite.DaemonRequest
	if err := hooklite.ReadMessage(conn, &req); err != nil {
		d.logger.Warn("unreadable hook call", "err", err)
		return
	}
	var resp hooklite.DaemonResponse
	switch req.Op {
	case hooklite.OpStop:
		d.logger.Info("stop requested")
		d.stop()
	case hooklite.OpStatus:
		resp.Status = &hooklite.DaemonStatus{PID: os.Getpid(), Home: d.root, Started: d.started, Calls: d.calls.Load(),
			Binary: hooklite.Stamp{Path: d.selfAt, Size: d.self.Size(), ModTime: d.self.ModTime().UnixNano()}}
	case hooklite.OpHook:
		resp = d.hook(ctx, req)
	default:
		resp.Stale = fmt.Sprintf("unknown request %q", req.Op)
	}
	if err := hooklite.WriteMessage(conn, resp); err != nil {
		d.logger.Warn("answering a hook call", "err", err)
	}
}

// hook runs `cavra hook <args>` for the call, unless the call is not this daemon's to answer.
func (d *hookDaemon) hook(ctx context.Context, req hooklite.DaemonRequest) hooklite.DaemonResponse {
	if reason := d.staleFor(req); reason != "" {
		d.logger.Info("handing a call back", "reason", reason)
		return hooklite.DaemonResponse{Stale: reason}
	}
	d.calls.Add(1)
	var stdout, stderr bytes.Buffer
	env := req.Env
	code := runHookCommand(ctx, req.Args, &runtime{
		stdin:     bytes.NewReader(req.Payload),
		stdout:    &stdout,
		stderr:    &stderr,
		getenv:    func(k string) string { return lookupEnv(env, k) },
		dir:       req.Dir,
		hookCache: d.cache,
	})
	d.unsigned.Store(true)
	return hooklite.DaemonResponse{Code: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
}

// staleFor says why req is not this daemon's to answer, or "". A changed binary or data home
// also stops the daemon, so the next call starts a fresh one.
func (d *hookDaemon) staleFor(req hooklite.DaemonRequest) string {
	if len(req.Args) == 0 || !slices.Contains(hooklite.Hosts, req.Args[0]) {
		return "not an agent host's hook"
	}
	root, err := home.Dir(func(k string) string { return lookupEnv(req.Env, k) })
	if err != nil || root != d.root {
		return "another data home"
	}
	if st, err := os.Stat(req.Binary.Path); err != nil || !os.SameFile(st, d.self) || !st.ModTime().Equal(d.self.ModTime()) || st.Size() != d.self.Size() {
		d.stop()
		return "the cavra binary changed"
	}
	if now, err := stampHome(d.root); err != nil || !now.same(d.home) {
		d.homeChanged.Store(true)
		d.stop()
		return "the data home changed"
	}
	return ""
}

// runHookCommand runs `cavra hook <args>` in-process with rt and returns its exit code.
func runHookCommand(ctx context.Context, args []string, rt *runtime) int {
	return runWithRoot(ctx, append([]string{"hook"}, args...), rt, func(rt *runtime) *cobra.Command {
		root := newBareRootCmd()
		root.AddCommand(newHookCmd(rt))
		return root
	})
}

func lookupEnv(env []string, key string) string {
	// The last assignment wins, as in the process environment.
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// homeStamp is what the daemon must not outlive a change of: the configuration, the keys (a
// rotation makes another key active) and the database file itself (a restore replaces it).
type homeStamp struct {
	db     os.FileInfo
	digest [32]byte
}

func stampHome(root string) (homeStamp, error) {
	var s homeStamp
	db, err := os.Stat(filepath.Join(root, home.DBFile))
	if err != nil {
		return s, fmt.Errorf("stamp data home: %w", err)
	}
	s.db = db
	h := sha256.New()
	if st, err := os.Stat(filepath.Join(root, home.ConfigFile)); err == nil {
		fmt.Fprintf(h, "config %d %d\n", st.Size(), st.ModTime().UnixNano())
	}
	entries, err := os.ReadDir(filepath.Join(root, home.KeysDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, fmt.Errorf("stamp data home: %w", err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(h, "key %s %d %d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	h.Sum(s.digest[:0])
	return s, nil
}

func (s homeStamp) same(o homeStamp) bool {
	return s.digest == o.digest && os.SameFile(s.db, o.db)
}

// hookCache is what the hook daemon keeps from one call to the next.
type hookCache struct {
	mu       sync.Mutex
	policies map[string]*cachedPolicy
	secrets  func(string) []engine.SecretHit
	evidence *evidence
}

// cachedPolicy is a loaded policy and the digests of the files it was read from.
type cachedPolicy struct {
	policy  *engine.Policy
	sources map[string][32]byte
}

// policy loads ref, or returns it from the cache when none of its files has changed since.
func (c *hookCache) policy(ref string) (*engine.Policy, error) {
	c.mu.Lock()
	cp := c.policies[ref]
	c.mu.Unlock()
	if cp != nil && cp.fresh() {
		return cp.policy, nil
	}
	sources := map[string][32]byte{}
	loader := newLoader()
	loader.ReadFile = func(name string) ([]byte, error) {
		b, err := os.ReadFile(name)
		if err == nil {
			sources[name] = sha256.Sum256(b)
		}
		return b, err
	}
	pol, err := loader.Load(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.policies[ref] = &cachedPolicy{policy: pol, sources: sources}
	c.mu.Unlock()
	return pol, nil
}

func (cp *cachedPolicy) fresh() bool {
	for name, sum := range cp.sources {
		b, err := os.ReadFile(name)
		if err != nil || sha256.Sum256(b) != sum {
			return false
		}
	}
	return true
}

// openDaemonLog opens the daemon's log for appending, starting it afresh once it is large.
func openDaemonLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if st, err := os.Stat(path); err == nil && st.Size() > maxDaemonLog {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}
