package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
)

// statusOf maps an error to its HTTP status. It is the one place where CAVRA's error codes
// become statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	switch cavra.Code(err) {
	case cavra.ErrInvalid:
		return http.StatusUnprocessableEntity
	case cavra.ErrNotFound:
		return http.StatusNotFound
	case cavra.ErrConflict:
		return http.StatusConflict
	case cavra.ErrUnauthorized:
		return http.StatusUnauthorized
	case cavra.ErrForbidden:
		return http.StatusForbidden
	case cavra.ErrUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problem turns a control-plane error into a problem huma writes. A server-side failure is
// logged and answered without its text, which may name internals.
func (s *Server) problem(ctx context.Context, what string, err error) error {
	status := statusOf(err)
	detail := err.Error()
	if status >= http.StatusInternalServerError {
		s.log.ErrorContext(ctx, "httpapi: "+what+" failed", "error", err, "status", status)
		detail = what + " failed: " + http.StatusText(status)
	}
	e := huma.NewError(status, detail)
	if status == http.StatusUnauthorized {
		return huma.ErrorWithHeaders(e, http.Header{"WWW-Authenticate": {wwwAuthenticate(err)}})
	}
	return e
}

// invalid is a 422 problem for input the handler itself rejects; location names the field
// ("body.kind", "query.size").
func invalid(location, msg string) error {
	return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: location, Message: msg})
}

// wwwAuthenticate is the RFC 6750 challenge for a refused request: no token at all gets the
// bare challenge, a bad one says invalid_token.
func wwwAuthenticate(err error) string {
	if errors.Is(err, errNoToken) {
		return `Bearer realm="cavra"`
	}
	return `Bearer realm="cavra", error="invalid_token"`
}

// writeProblem writes a problem outside huma's handlers (unmatched routes, panics).
func writeProblem(w http.ResponseWriter, status int, detail string, header http.Header) {
	for k, v := range header {
		w.Header()[k] = v
	}
	b, err := json.Marshal(&huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail})
	if err != nil {
		b = []byte(`{"title":"Internal Server Error","status":500}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
