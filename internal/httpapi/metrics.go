package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestMetrics are the API's own series. Routes are the mux patterns, so the label set stays
// bounded whatever paths clients send.
type requestMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRequestMetrics(reg *prometheus.Registry) (*requestMetrics, error) {
	m := &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cavra_http_requests_total",
			Help: "HTTP requests answered, by route and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cavra_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route (event streams count until they end).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("httpapi: request metrics are already registered on this registry: %w", err)
			}
			return nil, fmt.Errorf("httpapi: register request metrics: %w", err)
		}
	}
	return m, nil
}

// observe logs and counts one answered request.
func (s *Server) observe(r *http.Request, w *statusWriter, info *requestInfo, d time.Duration) {
	status := w.status
	if !w.wroteHeader {
		status = http.StatusOK
	}
	route := r.Pattern
	if route == "" || route == "/" {
		route = "unmatched"
	}
	s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(route).Observe(d.Seconds())

	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, "http request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("tenant", info.tenant))
}
