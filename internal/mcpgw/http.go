package mcpgw

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// HTTPConfig configures the Streamable HTTP reverse proxy.
type HTTPConfig struct {
	// Upstream is the MCP endpoint of the server, e.g. http://127.0.0.1:3001/mcp.
	Upstream *url.URL
	// AllowedOrigins lists the Origin values browsers may send (scheme://host[:port]). Requests
	// from loopback origins are allowed as well; any other Origin is refused with 403, which the
	// spec requires against DNS rebinding.
	AllowedOrigins []string
	// Client sends requests upstream; http.DefaultClient when nil.
	Client *http.Client
}

// Handler is a Streamable HTTP reverse proxy that governs every message through a Gateway.
type Handler struct {
	g   *Gateway
	cfg HTTPConfig
}

// NewHandler returns the proxy handler.
func NewHandler(g *Gateway, cfg HTTPConfig) (*Handler, error) {
	if cfg.Upstream == nil || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https") || cfg.Upstream.Host == "" {
		return nil, errors.New("mcp gateway: the upstream must be an http(s) URL")
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return &Handler{g: g, cfg: cfg}, nil
}

// forwardedHeaders are the request headers passed upstream; hop-by-hop and Host are not.
var forwardedHeaders = []string{"Accept", "Content-Type", "Authorization", "Mcp-Session-Id",
	"Mcp-Protocol-Version", "Last-Event-Id", "Mcp-Method", "Mcp-Name", "User-Agent"}

// returnedHeaders are the upstream response headers passed back to the client.
var returnedHeaders = []string{"Content-Type", "Mcp-Session-Id", "Cache-Control", "Www-Authenticate"}

func (h *Handler) originAllowed(origin string) bool {
	if origin == "" {
		return true // not a browser: Origin checks guard against web pages, not local agents
	}
	for _, o := range h.cfg.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP implements the Streamable HTTP transport towards the client.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r.Header.Get("Origin")) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.post(w, r)
	case http.MethodGet, http.MethodDelete:
		h.relay(w, r, nil, h.g.NewSession())
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageSize+1))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > MaxMessageSize {
		http.Error(w, "message larger than the limit", http.StatusRequestEntityTooLarge)
		return
	}
	// Each POST carries one message whose answer comes back on this response, so a session per
	// POST holds exactly the state needed to judge that answer.
	sess := h.g.NewSession()
	v, gerr := sess.FromClient(r.Context(), body)
	if gerr != nil {
		h.g.cfg.Logger.Error("mcp gateway error", "server", h.g.cfg.Server, "err", gerr)
	}
	if v.Message != nil {
		if err := checkStatelessHeaders(r.Header, v.Message); err != nil {
			writeJSON(w, http.StatusBadRequest, errorResponse(v.Message.ID, CodeInvalidRequest, "CAVRA gateway: "+err.Error()))
			return
		}
	}
	if v.Reply != nil {
		status := http.StatusOK
		if v.Message == nil {
			status = http.StatusBadRequest
		}
		writeJSON(w, status, v.Reply)
		return
	}
	h.relay(w, r, v.Forward, sess)
}

// checkStatelessHeaders enforces that the 2026-07-28 routing headers agree with the body: a
// gateway or load balancer in front of us may route or authorise on them, so a request whose
// headers say one tool and whose body calls another is refused.
func checkStatelessHeaders(hd http.Header, m *Message) error {
	method, name := hd.Get("Mcp-Method"), hd.Get("Mcp-Name")
	version := hd.Get("Mcp-Protocol-Version")
	required := version >= "2026-07-28"
	if method == "" && name == "" && !required {
		return nil
	}
	if !m.IsRequest() && !m.IsNotification() {
		return nil
	}
	if method == "" && required {
		return errors.New("missing Mcp-Method header")
	}
	if method != "" && method != m.Method {
		return fmt.Errorf("Mcp-Method header %q does not match the body's method %q", method, m.Method)
	}
	var bodyName string
	switch m.Method {
	case "tools/call", "prompts/get":
		var p struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m.Params, &p)
		bodyName = p.Name
	case "resources/read":
		var p struct {
			URI string `json:"uri"`
		}
		_ = json.Unmarshal(m.Params, &p)
		bodyName = p.URI
	default:
		return nil
	}
	if name == "" && required {
		return fmt.Errorf("missing Mcp-Name header for %s", m.Method)
	}
	if name != "" && name != bodyName {
		return fmt.Errorf("Mcp-Name header %q does not match the body's %q", name, bodyName)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// relay sends the request upstream (with body, for a POST) and streams the answer back, passing
// every message through the session.
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, body []byte, sess *Session) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, h.cfg.Upstream.String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, "build upstream request: "+err.Error(), http.StatusBadGateway)
		return
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for _, k := range forwardedHeaders {
		for _, v := range r.Header.Values(k) {
			req.Header.Add(k, v)
		}
	}
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		h.g.cfg.Logger.Error("mcp upstream unreachable", "server", h.g.cfg.Server, "err", err)
		http.Error(w, "upstream MCP server unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, k := range returnedHeaders {
		for _, v := range resp.Header.Values(k) {
			w.Header().Add(k, v)
		}
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxMessageSize+1))
		if err != nil || len(data) > MaxMessageSize {
			http.Error(w, "read upstream answer failed", http.StatusBadGateway)
			return
		}
		out, gerr := sess.FromServer(r.Context(), bytes.TrimSpace(data))
		if gerr != nil {
			h.g.cfg.Logger.Error("mcp gateway error", "server", h.g.cfg.Server, "err", gerr)
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	case "text/event-stream":
		w.WriteHeader(resp.StatusCode)
		if err := relaySSE(r.Context(), w, resp.Body, sess); err != nil && r.Context().Err() == nil {
			h.g.cfg.Logger.Warn("mcp SSE stream ended", "server", h.g.cfg.Server, "err", err)
		}
	default:
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, MaxMessageSize))
	}
}

// relaySSE copies a server-sent event stream, passing the data of every event through the
// session. Event ids, names and retry fields are kept, so resumption with Last-Event-ID works
// through the gateway.
func relaySSE(ctx context.Context, w http.ResponseWriter, body io.Reader, sess *Session) error {
	flusher, _ := w.(http.Flusher)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), MaxMessageSize)
	var fields []string
	var data []string
	flush := func() error {
		if len(fields) == 0 && len(data) == 0 {
			return nil
		}
		var b strings.Builder
		for _, f := range fields {
			b.WriteString(f + "\n")
		}
		if len(data) > 0 {
			payload := []byte(strings.Join(data, "\n"))
			out, gerr := sess.FromServer(ctx, payload)
			if gerr != nil {
				sess.g.cfg.Logger.Error("mcp gateway error", "server", sess.g.cfg.Server, "err", gerr)
			}
			if out != nil {
				// Our own encoding has no newlines; data from the server that we pass unchanged
				// keeps its line structure as separate data fields.
				for _, line := range strings.Split(string(out), "\n") {
					b.WriteString("data: " + line + "\n")
				}
			}
		}
		b.WriteString("\n")
		fields, data = fields[:0], data[:0]
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			if err := flush(); err != nil {
				return err
			}
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		default:
			fields = append(fields, line)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return sc.Err()
}
