package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
)

// keepAlive is how often an idle event stream gets a comment line, so that proxies and load
// balancers do not close it.
const keepAlive = 20 * time.Second

type eventsInput struct {
	Type      string `query:"type" maxLength:"64" pattern:"^[a-z0-9_]+\\.[a-z0-9_]+$" doc:"Only events of this type (e.g. approval.requested)."`
	FromStart bool   `query:"from_start" doc:"Replay the retained events first, then follow."`
}

func (s *Server) registerEvents() {
	// huma's sse package names events by Go type and numbers ids; CAVRA's events carry their
	// own type and string id, so the stream is written here.
	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "events",
		Method:      http.MethodGet,
		Path:        "/v1/events",
		Summary:     "Follow the tenant's events",
		Description: "Server-Sent Events: each event has `event: <type>`, `id: <event id>` and `data: <the event as JSON>`. " +
			"Comment lines keep an idle stream open. 503 when the server has no event stream.",
		Tags:   []string{"events"},
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
		Responses: map[string]*huma.Response{"200": {
			Description: "The event stream.",
			Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: huma.TypeString,
				Description: "A stream of events; the data line of each is an Event."}}},
		}},
	}, cavra.RoleAdmin, cavra.RoleAuditor, cavra.RoleApprover), func(ctx context.Context, in *eventsInput) (*huma.StreamResponse, error) {
		if s.cfg.Events == nil {
			return nil, huma.Error503ServiceUnavailable(errNoEvents.Error())
		}
		f := EventFilter{Tenant: cavra.TenantFrom(ctx), Type: cavra.EventType(in.Type), FromStart: in.FromStart}
		return &huma.StreamResponse{Body: func(hctx huma.Context) { s.streamEvents(hctx, f) }}, nil
	})
}

// streamEvents writes the tail of the event stream until the client goes or the tail ends.
func (s *Server) streamEvents(hctx huma.Context, f EventFilter) {
	ctx, cancel := context.WithCancel(hctx.Context())
	defer cancel()
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-cache")
	hctx.SetHeader("X-Accel-Buffering", "no")
	hctx.SetStatus(http.StatusOK)
	w := hctx.BodyWriter()
	flush := func() {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	var mu sync.Mutex // the tail and the keep-alive write to the same stream
	write := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if _, err := w.Write(b); err != nil {
			return err
		}
		flush()
		return nil
	}
	if write([]byte(": cavra events\n\n")) != nil {
		return
	}
	go func() {
		t := time.NewTicker(keepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if write([]byte(": keep-alive\n\n")) != nil {
					cancel()
					return
				}
			}
		}
	}()
	err := s.cfg.Events.Tail(ctx, f, func(e cavra.Event) error {
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		// Ids and types are single tokens; newlines are stripped so that a bad one cannot
		// inject fields. JSON has no raw newlines.
		msg := make([]byte, 0, len(data)+len(e.ID)+len(e.Type)+32)
		msg = append(msg, "id: "...)
		msg = append(msg, oneLine(e.ID)...)
		msg = append(msg, "\nevent: "...)
		msg = append(msg, oneLine(string(e.Type))...)
		msg = append(msg, "\ndata: "...)
		msg = append(msg, data...)
		msg = append(msg, "\n\n"...)
		return write(msg)
	})
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "httpapi: event stream ended", "error", err)
	}
}

func oneLine(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' && s[i] != '\r' {
			b = append(b, s[i])
		}
	}
	return b
}
