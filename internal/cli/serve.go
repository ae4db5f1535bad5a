package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/bundle"
	"github.com/cavra-dev/cavra/internal/bus"
	"github.com/cavra-dev/cavra/internal/govern"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/httpapi"
	"github.com/cavra-dev/cavra/internal/identity"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// AdminTokenFile is where `cavra serve` writes the first admin token, in the data home.
const AdminTokenFile = "admin.token"

// serveOptions are the flags of `cavra serve`.
type serveOptions struct {
	listen          string
	postgres        string
	postgresSchema  string
	natsURL         string
	synchronous     string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	pendingTTL      time.Duration
	sweepInterval   time.Duration
	cpuProfile      string
}

func newServeCmd(rt *runtime) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the CAVRA control plane: REST API, approvals, evidence and events",
		Long: `Runs the control plane. With no flags it keeps everything in the data home ($CAVRA_HOME):
SQLite, the signing keys and an embedded NATS JetStream event bus, and listens on
127.0.0.1:8080. On first start it writes an admin API token to $CAVRA_HOME/admin.token
(mode 0600). --postgres and --nats switch to an external PostgreSQL and NATS cluster.

The API is under /v1, described by /openapi.json; /healthz, /readyz and /metrics are beside it.
Agents' hooks ask it when CAVRA_SERVER and CAVRA_TOKEN are set. SIGINT or SIGTERM stops it
gracefully: requests in flight finish, and every decision acknowledged is in the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, rt, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", envOr(rt, "CAVRA_LISTEN", "127.0.0.1:8080"), "address to listen on (env CAVRA_LISTEN)")
	f.StringVar(&o.postgres, "postgres", rt.getenv("CAVRA_POSTGRES"), "PostgreSQL DSN instead of the data home's SQLite (env CAVRA_POSTGRES)")
	f.StringVar(&o.postgresSchema, "postgres-schema", rt.getenv("CAVRA_POSTGRES_SCHEMA"), "PostgreSQL schema to use, created when missing (env CAVRA_POSTGRES_SCHEMA)")
	f.StringVar(&o.natsURL, "nats", rt.getenv("CAVRA_NATS"), "external NATS URL instead of the embedded server (env CAVRA_NATS)")
	f.StringVar(&o.synchronous, "synchronous", "FULL", "SQLite durability: FULL fsyncs each group commit (survives power loss), NORMAL survives a killed process only")
	f.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long a graceful stop waits for requests in flight")
	f.DurationVar(&o.pendingTTL, "pending-ttl", govern.DefaultPendingTTL, "how long an approval request waits before it expires")
	f.DurationVar(&o.sweepInterval, "expiry-sweep", 10*time.Second, "how often expired approvals are closed and announced")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for performance work)")
	_ = f.MarkHidden("cpuprofile")
	addPolicyFlag(cmd)
	return cmd
}

func envOr(rt *runtime, name, def string) string {
	if v := rt.getenv(name); v != "" {
		return v
	}
	return def
}

func serveLogger(rt *runtime, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(rt.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(rt.stderr, opts)), nil
	}
	return nil, usageError("--log-format must be json or text, not %q", format)
}

func runServe(cmd *cobra.Command, rt *runtime, o serveOptions) error {
	ctx := cmd.Context()
	logger, err := serveLogger(rt, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	if rt.getenv("GOGC") == "" {
		// The server's live heap is small and its garbage is per-request: collecting less
		// often trades a little memory for CPU that answers requests. The soft limit keeps a
		// burst from growing the heap without bound.
		debug.SetGCPercent(serverGCPercent)
		debug.SetMemoryLimit(serverMemoryLimit)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return withExit(exitUsage, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return withExit(exitUsage, err)
		}
		defer pprof.StopCPUProfile()
	}
	root, err := dataHome(rt)
	if err != nil {
		return withExit(exitUsage, err)
	}
	if _, err := home.Init(ctx, root, time.Now, logger); err != nil {
		return withExit(exitUsage, err)
	}
	layout := home.Layout{Root: root}
	cfg, err := home.LoadConfig(layout)
	if err != nil {
		return withExit(exitUsage, err)
	}
	st, err := openServeStore(ctx, layout, o, logger)
	if err != nil {
		return withExit(exitUsage, err)
	}
	defer st.Close()

	busCfg := bus.Config{URL: o.natsURL, Logger: logger}
	if o.natsURL == "" {
		busCfg.StoreDir = filepath.Join(root, "nats")
	}
	events, err := bus.Open(ctx, busCfg)
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("open event bus: %w", err))
	}
	defer events.Close()

	eng, err := newEngine(cmd, rt)
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("load policy: %w", err))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newServeMetrics(reg)

	var svc *govern.Service
	log := audit.New(st, audit.Options{
		Logger:                logger,
		Signer:                audit.KeyringSigner(layout.KeysDir(), logger),
		CheckpointEvery:       cfg.Audit.CheckpointEvery,
		CheckpointInterval:    cfg.Audit.CheckpointInterval,
		BackgroundCheckpoints: true,
		OnCheckpoint: func(ctx context.Context, cp cavra.Checkpoint) {
			if svc != nil {
				svc.EmitCheckpoint(ctx, cp)
			}
		},
	})
	svc, err = govern.New(govern.Config{Engine: eng, Log: log, Publisher: events, Logger: logger, PendingTTL: o.pendingTTL}, m.govern())
	if err != nil {
		return err
	}
	defer svc.Close()

	tokenPath := filepath.Join(root, AdminTokenFile)
	created, err := ensureAdminToken(ctx, st, tokenPath, logger)
	if err != nil {
		return withExit(exitUsage, err)
	}
	api, err := httpapi.New(httpapi.Config{
		Logger:   logger,
		Version:  buildVersion(),
		Auth:     identity.NewAuthenticator(st, time.Now, 0),
		Governor: svc,
		Reader:   st,
		Audit:    &serverAudit{log: log, keysDir: layout.KeysDir(), logger: logger},
		Events:   busEvents{events},
		Ready: func(ctx context.Context) error {
			if err := st.SQL().PingContext(ctx); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			return events.Ready()
		},
		Registry: reg,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("listen on %s: %w", o.listen, err))
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	storeKind := "sqlite " + layout.DBPath()
	if o.postgres != "" {
		storeKind = "postgres"
	}
	busKind := "embedded NATS JetStream in " + busCfg.StoreDir
	if o.natsURL != "" {
		busKind = "NATS " + o.natsURL
	}
	logger.Info("cavra serve listening", "addr", ln.Addr().String(), "store", storeKind, "events", busKind,
		"policy", eng.Policy().Name, "admin_token_file", tokenPath)
	if created {
		fmt.Fprintf(rt.stderr, "cavra serve: wrote the first admin API token to %s (mode 0600); keep it secret\n", tokenPath)
	}
	fmt.Fprintf(rt.stderr, "cavra serve: listening on http://%s (data home %s)\n", ln.Addr(), root)

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		replayEvents(sweepCtx, st, svc, logger)
		sweepApprovals(sweepCtx, st, svc, o.sweepInterval, logger)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		stopSweep()
		<-sweepDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("cavra serve stopping: finishing requests in flight", "timeout", o.shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	// Shutdown returns once every request in flight has been answered; each answered decision
	// was committed to the audit log before its answer, so none acknowledged is lost.
	err = srv.Shutdown(shutdownCtx)
	stopSweep()
	<-sweepDone
	log.Close() // a checkpoint being cut finishes, and its event is queued
	svc.Close() // publish the events still queued
	if err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	logger.Info("cavra serve stopped")
	return nil
}

// Garbage collector settings of `cavra serve` when GOGC is not set.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 2 << 30
)

// serverCacheKiB is the server's SQLite page cache per connection: the audit log's indexes
// and tree nodes of a few million entries stay in memory.
const serverCacheKiB = 64 << 10

// serverWALCheckpointInterval is how often the server copies its WAL into the database. Under
// load, frequent small checkpoints beat rare large ones: each fsyncs the database file, and a
// long one delays the commit fsyncs queued behind it (measured: 2 s gave p99 14 ms, 250 ms
// 10.3-10.9 ms, 100 ms 9.2-9.7 ms at 5,100-5,600 decisions/s).
const serverWALCheckpointInterval = 100 * time.Millisecond

func openServeStore(ctx context.Context, layout home.Layout, o serveOptions, logger *slog.Logger) (*sqlstore.DB, error) {
	if o.postgres != "" {
		return sqlstore.OpenPostgres(ctx, o.postgres, sqlstore.Options{Logger: logger, Schema: o.postgresSchema})
	}
	return sqlstore.OpenSQLite(ctx, layout.DBPath(), sqlstore.Options{Logger: logger, Synchronous: o.synchronous, CacheKiB: serverCacheKiB, CheckpointInterval: serverWALCheckpointInterval})
}

// ensureAdminToken creates the first admin token when the data home has no admin.token file,
// writing its secret there (0600). It reports whether it made one.
func ensureAdminToken(ctx context.Context, st cavra.TokenStore, path string, logger *slog.Logger) (bool, error) {
	if b, err := os.ReadFile(path); err == nil {
		// The file may belong to another store (the data home's SQLite before --postgres).
		if _, err := st.TokenByHash(ctx, identity.HashSecret(strings.TrimSpace(string(b)))); cavra.Code(err) == cavra.ErrNotFound {
			logger.Warn("the admin token file matches no token of this store; remove it and restart to have a new one made", "file", path)
		}
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("admin token file: %w", err)
	}
	secret, tok, err := identity.NewToken(cavra.DefaultTenant, "admin", cavra.RoleAdmin, time.Now(), 0)
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("write admin token: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return false, fmt.Errorf("write admin token: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return false, fmt.Errorf("write admin token: %w", err)
	}
	if err := st.PutToken(cavra.WithTenant(ctx, tok.Tenant), tok); err != nil {
		os.Remove(path)
		return false, fmt.Errorf("store admin token: %w", err)
	}
	return true, nil
}

// replayEvents announces again the events of the last duplicate window (see govern.Replay):
// what a previous process recorded but had not published when it stopped is delivered, and the
// bus drops what it already holds.
func replayEvents(ctx context.Context, st cavra.TokenStore, svc *govern.Service, logger *slog.Logger) {
	since := time.Now().Add(-bus.DefaultDuplicateWindow)
	for _, tenant := range serverTenants(ctx, st, logger) {
		n, err := svc.Replay(cavra.WithTenant(ctx, tenant), since)
		if err != nil {
			logger.Warn("replaying recent events", "tenant", tenant, "err", err)
			continue
		}
		logger.Info("replayed recent events; the bus drops those it already holds", "tenant", tenant, "events", n, "since", since)
	}
}

// serverTenants are the tenants that hold a token, and the default one.
func serverTenants(ctx context.Context, st cavra.TokenStore, logger *slog.Logger) []string {
	tenants, err := st.TokenTenants(ctx)
	if err != nil {
		logger.Warn("list tenants", "err", err)
	}
	if !slices.Contains(tenants, cavra.DefaultTenant) {
		tenants = append(tenants, cavra.DefaultTenant)
	}
	return tenants
}

// sweepApprovals closes approvals whose time ran out, for every tenant that holds a token (and
// the default one), so that approval.expired is announced even when nobody retries.
func sweepApprovals(ctx context.Context, st cavra.TokenStore, svc *govern.Service, every time.Duration, logger *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, tenant := range serverTenants(ctx, st, logger) {
			if n, err := svc.ExpireDue(cavra.WithTenant(ctx, tenant)); err != nil && ctx.Err() == nil {
				logger.Warn("approval expiry sweep", "tenant", tenant, "err", err)
			} else if n > 0 {
				logger.Info("approvals expired", "tenant", tenant, "count", n)
			}
		}
	}
}

// serverAudit gives the API the audit log's reads and bundle export, with the keyring for
// signing bundles and naming trusted keys.
type serverAudit struct {
	log     *audit.Log
	keysDir string
	logger  *slog.Logger
}

func (a *serverAudit) Head(ctx context.Context) (cavra.AuditHead, error) { return a.log.Head(ctx) }
func (a *serverAudit) LatestCheckpoint(ctx context.Context) (cavra.Checkpoint, error) {
	return a.log.Store().LatestCheckpoint(ctx)
}
func (a *serverAudit) Checkpoint(ctx context.Context) (cavra.Checkpoint, error) {
	return a.log.Checkpoint(ctx)
}
func (a *serverAudit) Entry(ctx context.Context, index uint64) (cavra.AuditEntry, error) {
	return a.log.Entry(ctx, index)
}
func (a *serverAudit) EntryByID(ctx context.Context, id string) (cavra.AuditEntry, error) {
	return a.log.EntryByID(ctx, id)
}
func (a *serverAudit) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	return a.log.InclusionProof(ctx, index, size)
}
func (a *serverAudit) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	return a.log.ConsistencyProof(ctx, size1, size2)
}

// ExportBundle is `cavra audit export` over the API: a checkpoint of the whole log (cut now if
// it grew), entries [from, to) with proofs, the keyring's keys, signed with the active key.
func (a *serverAudit) ExportBundle(ctx context.Context, from, to uint64) ([]byte, error) {
	kr, err := keys.Load(ctx, a.keysDir, keys.WithLogger(a.logger))
	if err != nil {
		return nil, fmt.Errorf("export bundle: %w", err)
	}
	cp, err := a.log.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("export bundle: %w", err)
	}
	if to == 0 || to > cp.Size {
		to = cp.Size
	}
	if from > to {
		return nil, cavra.Errorf(cavra.ErrInvalid, "export bundle: from %d is after to %d", from, to)
	}
	in, err := a.log.ExportInput(ctx, cp, from, to, kr.Keys())
	if err != nil {
		return nil, fmt.Errorf("export bundle: %w", err)
	}
	signer, err := kr.Active(ctx)
	if err != nil {
		return nil, fmt.Errorf("export bundle: %w", err)
	}
	return bundle.Build(ctx, signer, in)
}

// busEvents adapts the bus to the API's event source.
type busEvents struct{ b *bus.Bus }

func (e busEvents) Tail(ctx context.Context, f httpapi.EventFilter, fn func(cavra.Event) error) error {
	return e.b.Tail(ctx, bus.Filter{Tenant: f.Tenant, Type: f.Type, FromStart: f.FromStart}, fn)
}

// serveMetrics are the control plane's own Prometheus series.
type serveMetrics struct {
	decisions     *prometheus.CounterVec
	approvals     *prometheus.CounterVec
	eventsDropped *prometheus.CounterVec
}

func newServeMetrics(reg prometheus.Registerer) *serveMetrics {
	m := &serveMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cavra_decisions_total",
			Help: "Decisions recorded, by outcome."}, []string{"outcome"}),
		approvals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cavra_approval_changes_total",
			Help: "Approval state changes recorded, by change."}, []string{"change"}),
		eventsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cavra_events_dropped_total",
			Help: "Events that could not be published after retries, by type."}, []string{"type"}),
	}
	reg.MustRegister(m.decisions, m.approvals, m.eventsDropped)
	return m
}

func (m *serveMetrics) govern() govern.Metrics {
	return govern.Metrics{
		OnDecision:       func(o cavra.Outcome) { m.decisions.WithLabelValues(string(o)).Inc() },
		OnApprovalChange: func(c string) { m.approvals.WithLabelValues(c).Inc() },
		OnEventDropped:   func(t cavra.EventType) { m.eventsDropped.WithLabelValues(string(t)).Inc() },
	}
}
