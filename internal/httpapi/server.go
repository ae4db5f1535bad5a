// Package httpapi is the REST API of `cavra serve`: decisions, host hooks, approvals, audit
// evidence and events over HTTP, described by an OpenAPI 3.1 document and answering errors as
// RFC 9457 problem details. It takes the control plane as interfaces so that only internal/cli
// wires concrete implementations.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cavra-dev/cavra"
)

// Default body limits: API requests are small; a hook payload may carry a whole file the agent
// is about to write.
const (
	DefaultMaxBodyBytes = 1 << 20
	MaxHookBodyBytes    = 32 << 20
)

// Config is what the API needs from the control plane.
type Config struct {
	Logger  *slog.Logger
	Version string
	// Auth resolves bearer secrets to tokens.
	Auth Authenticator
	// Governor decides actions and answers approvals.
	Governor Governor
	// Reader reads decisions and approvals of the tenant in ctx.
	Reader Reader
	// Audit serves the tenant's audit log.
	Audit AuditAPI
	// Events may be nil: then /v1/events answers 503.
	Events EventSource
	// Ready reports readiness: nil means ready. A nil Ready is always ready.
	Ready func(ctx context.Context) error
	// Registry is the server's metrics registry; the API registers its request metrics on it
	// and serves it at /metrics. Nil means a private registry.
	Registry *prometheus.Registry
	// MaxBodyBytes limits request bodies; zero means DefaultMaxBodyBytes. The hooks endpoint
	// takes up to MaxHookBodyBytes whatever this says.
	MaxBodyBytes int64
	// Clock is used for request durations; nil means time.Now.
	Clock func() time.Time
}

// Authenticator resolves a bearer secret to its token: ErrUnauthorized for an unknown,
// revoked or expired one.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (cavra.Token, error)
}

// Governor decides actions (normalise, decide, record evidence, handle approvals), records
// the blocks an adapter made itself, and answers approval requests for the principal in ctx.
type Governor interface {
	Decide(ctx context.Context, a cavra.Action) (cavra.Decision, error)
	// Report records a decision an adapter made itself; only a block of one of its own rules
	// is accepted (anything else is cavra.ErrInvalid).
	Report(ctx context.Context, a cavra.Action, d cavra.Decision) (cavra.Decision, error)
	cavra.Approver
}

// Reader reads decisions and approvals of the tenant in ctx.
type Reader interface {
	Decision(ctx context.Context, id string) (cavra.DecisionRecord, error)
	Decisions(ctx context.Context, q cavra.DecisionQuery) ([]cavra.DecisionRecord, error)
	Approval(ctx context.Context, id string) (cavra.Approval, error)
	Approvals(ctx context.Context, q cavra.ApprovalQuery) ([]cavra.Approval, error)
}

// AuditAPI is the tenant's audit log as the API serves it.
type AuditAPI interface {
	Head(ctx context.Context) (cavra.AuditHead, error)
	// LatestCheckpoint returns ErrNotFound when there is none.
	LatestCheckpoint(ctx context.Context) (cavra.Checkpoint, error)
	// Checkpoint cuts a checkpoint now if the log grew, and returns the latest.
	Checkpoint(ctx context.Context) (cavra.Checkpoint, error)
	Entry(ctx context.Context, index uint64) (cavra.AuditEntry, error)
	EntryByID(ctx context.Context, id string) (cavra.AuditEntry, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error)
	// ExportBundle returns a DSSE evidence bundle (JSON) of entries [from, to); to 0 means all.
	ExportBundle(ctx context.Context, from, to uint64) ([]byte, error)
}

// EventFilter selects the events a tail delivers.
type EventFilter struct {
	Tenant string
	// Type, when set, delivers only events of that type.
	Type cavra.EventType
	// FromStart replays the retained events before following new ones.
	FromStart bool
}

// EventSource follows the event stream, calling fn for each event until ctx ends or fn fails.
type EventSource interface {
	Tail(ctx context.Context, f EventFilter, fn func(cavra.Event) error) error
}

// Server is the REST API; it implements http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	mux     *http.ServeMux
	api     huma.API
	metrics *requestMetrics
	spec    []byte
}

var _ http.Handler = (*Server)(nil)

// New builds the API and its OpenAPI document.
func New(cfg Config) (s *Server, err error) {
	switch {
	case cfg.Auth == nil:
		return nil, cavra.Errorf(cavra.ErrInvalid, "httpapi: Auth is required")
	case cfg.Governor == nil:
		return nil, cavra.Errorf(cavra.ErrInvalid, "httpapi: Governor is required")
	case cfg.Reader == nil:
		return nil, cavra.Errorf(cavra.ErrInvalid, "httpapi: Reader is required")
	case cfg.Audit == nil:
		return nil, cavra.Errorf(cavra.ErrInvalid, "httpapi: Audit is required")
	case cfg.MaxBodyBytes < 0:
		return nil, cavra.Errorf(cavra.ErrInvalid, "httpapi: MaxBodyBytes must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	m, err := newRequestMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s = &Server{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, mux: http.NewServeMux(), metrics: m}

	// huma panics on a malformed registration; that is a bug here, but New reports it rather
	// than taking the process down.
	defer func() {
		if v := recover(); v != nil {
			s, err = nil, fmt.Errorf("httpapi: register routes: %v", v)
		}
	}()
	s.api = humago.New(s.mux, s.humaConfig())
	s.registerHealth()
	s.registerDecisions()
	s.registerHooks()
	s.registerApprovals()
	s.registerAudit()
	s.registerEvents()
	s.mux.HandleFunc("/", s.unmatched)

	s.spec, err = json.Marshal(s.api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("httpapi: marshal OpenAPI document: %w", err)
	}
	return s, nil
}

// OpenAPI returns the OpenAPI 3.1 document as JSON.
func (s *Server) OpenAPI() ([]byte, error) {
	return append([]byte(nil), s.spec...), nil
}

// humaConfig is huma's DefaultConfig without what a control plane should not serve: no docs
// page (it loads scripts from a CDN), no schema link transformer (it adds "$schema" members to
// every answer, which the hook hosts' strict output schemas reject), JSON only.
func (s *Server) humaConfig() huma.Config {
	registry := huma.NewMapRegistry("#/components/schemas/", schemaNamer)
	return huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:       "CAVRA API",
				Version:     s.cfg.Version,
				Description: "The REST API of `cavra serve`: decide agent actions, answer host hooks, approve, and read the verifiable audit log.",
				License:     &huma.License{Name: "Apache-2.0", Identifier: "Apache-2.0"},
			},
			Servers: []*huma.Server{{URL: "/", Description: "the server this document was fetched from"}},
			Components: &huma.Components{
				Schemas: registry,
				SecuritySchemes: map[string]*huma.SecurityScheme{
					securityScheme: {Type: "http", Scheme: "bearer", Description: "A CAVRA API token (`cavra token create`)."},
				},
			},
			Security: []map[string][]string{{securityScheme: {}}},
			Tags: []*huma.Tag{
				{Name: "decisions", Description: "Decide actions and read past decisions."},
				{Name: "hooks", Description: "Agent hosts' own hook protocols."},
				{Name: "approvals", Description: "Human approval of require_approval decisions."},
				{Name: "audit", Description: "The append-only, Merkle-verifiable audit log."},
				{Name: "events", Description: "The tenant's event stream."},
				{Name: "operations", Description: "Health, readiness, metrics and this document."},
			},
		},
		Formats:       map[string]huma.Format{"application/json": huma.DefaultJSONFormat, "json": huma.DefaultJSONFormat},
		DefaultFormat: "application/json",
	}
}

// schemaNamer names schemas by type like huma's default, but prefixes the types of the hook
// adapter packages with their host, since every adapter has an Answer type.
func schemaNamer(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pkg, ok := strings.CutPrefix(t.PkgPath(), "github.com/cavra-dev/cavra/internal/hooks/"); ok && t.Name() != "" {
		return hostSchemaPrefix[pkg] + name
	}
	return name
}

var hostSchemaPrefix = map[string]string{"claudecode": "ClaudeCode", "codex": "Codex", "cursor": "Cursor", "gemini": "Gemini"}

// operation fills what every operation shares: the roles that may call it (none means public),
// the errors it documents, and the body limit.
func (s *Server) operation(op huma.Operation, roles ...cavra.Role) huma.Operation {
	if op.MaxBodyBytes == 0 {
		// huma answers 413 when it reads exactly MaxBodyBytes; one more lets the limit itself in.
		op.MaxBodyBytes = s.cfg.MaxBodyBytes + 1
	}
	if len(roles) == 0 {
		op.Security = []map[string][]string{}
		return op
	}
	op.Middlewares = append(huma.Middlewares{s.authenticate(roles, nil)}, op.Middlewares...)
	op.Errors = append([]int{http.StatusUnauthorized, http.StatusForbidden}, op.Errors...)
	op.Description = strings.TrimSpace(op.Description + "\n\nRoles: " + roleList(roles) + ".")
	return op
}

func roleList(roles []cavra.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// ServeHTTP routes the request, logging it, counting it and turning a panic into a 500 problem.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.clock()
	info := &requestInfo{}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "httpapi: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			if !sw.wroteHeader {
				writeProblem(sw, http.StatusInternalServerError, "internal error", nil)
			}
		}
		s.observe(r, sw, info, s.clock().Sub(start))
	}()
	s.mux.ServeHTTP(sw, r)
}

// unmatched answers requests that no route takes: 405 when the path exists for other methods,
// else 404, both as problems.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	probe := *r
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe.Method = m
		if _, pattern := s.mux.Handler(&probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		if contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path), nil)
		return
	}
	writeProblem(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), nil)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// requestInfo carries what the handlers learn about a request back to the access log.
type requestInfo struct {
	tenant string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	if i, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// statusWriter remembers the status written, and keeps flushing (SSE) and deadlines reachable.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming answers reach the client now.
func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SetWriteDeadline lets long streams extend their write deadline.
func (w *statusWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(w.ResponseWriter).SetWriteDeadline(t)
}

var errNoEvents = errors.New("the event stream is not configured on this server")
