package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cavra-dev/cavra"
)

// StatusBody is the answer of the health and readiness probes.
type StatusBody struct {
	Status string `json:"status" enum:"ok,ready" doc:"ok for liveness, ready for readiness."`
}

type statusOutput struct {
	Body StatusBody
}

func (s *Server) registerHealth() {
	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "healthz",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness",
		Description: "Always 200 while the process serves HTTP.",
		Tags:        []string{"operations"},
	}), func(context.Context, *struct{}) (*statusOutput, error) {
		return &statusOutput{Body: StatusBody{Status: "ok"}}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "readyz",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness",
		Description: "200 when the store and the event bus answer, else a 503 problem.",
		Tags:        []string{"operations"},
		Errors:      []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(ctx); err != nil {
				s.log.WarnContext(ctx, "httpapi: not ready", "error", err)
				return nil, huma.Error503ServiceUnavailable("not ready: " + err.Error())
			}
		}
		return &statusOutput{Body: StatusBody{Status: "ready"}}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "openapi",
		Method:      http.MethodGet,
		Path:        "/openapi.json",
		Summary:     "This OpenAPI 3.1 document",
		Tags:        []string{"operations"},
		Responses: map[string]*huma.Response{"200": {
			Description: "The OpenAPI document.",
			Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Type: huma.TypeObject}}},
		}},
	}), func(context.Context, *struct{}) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "application/json")
			hctx.SetStatus(http.StatusOK)
			_, _ = hctx.BodyWriter().Write(s.spec)
		}}, nil
	})

	metrics := promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{ErrorLog: promLogger{s}})
	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "metrics",
		Method:      http.MethodGet,
		Path:        "/metrics",
		Summary:     "Prometheus metrics",
		Description: "The server's metrics in the Prometheus text exposition format.",
		Tags:        []string{"operations"},
		Responses: map[string]*huma.Response{"200": {
			Description: "Metrics.",
			Content:     map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}},
		}},
	}, cavra.RoleAdmin, cavra.RoleAuditor), func(context.Context, *struct{}) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			r, w := humago.Unwrap(hctx)
			metrics.ServeHTTP(w, r)
		}}, nil
	})
}

// promLogger sends promhttp's errors to the server's log.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Error("httpapi: serve metrics", "error", v) }
