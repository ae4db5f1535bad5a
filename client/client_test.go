package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

// newServer serves h and returns a client of it with token "tok".
func newServer(t *testing.T, h http.HandlerFunc, opts ...Option) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "tok", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "https://cavra.dev/problems/x", Title: title, Status: status, Detail: detail})
}

func TestNewValidatesBaseURL(t *testing.T) {
	tests := []struct {
		name, url, token string
		ok               bool
	}{
		{name: "http", url: "http://127.0.0.1:8080", ok: true},
		{name: "https with path prefix", url: "https://cavra.example.com/api/", ok: true},
		{name: "empty", url: ""},
		{name: "no scheme", url: "127.0.0.1:8080"},
		{name: "host and port only", url: "localhost:8080"},
		{name: "ftp", url: "ftp://example.com"},
		{name: "unix", url: "unix:///run/cavra.sock"},
		{name: "no host", url: "http://"},
		{name: "port only", url: "http://:8080"},
		{name: "credentials", url: "http://user:secret@127.0.0.1:8080"},
		{name: "query", url: "http://127.0.0.1:8080/?token=x"},
		{name: "fragment", url: "http://127.0.0.1:8080/#x"},
		{name: "bad port", url: "http://127.0.0.1:99999"},
		{name: "unparseable", url: "http://[::1"},
		{name: "token with newline", url: "http://127.0.0.1:8080", token: "abc\nX-Evil: 1"},
		{name: "token with space", url: "http://127.0.0.1:8080", token: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, tt.token)
			if tt.ok {
				if err != nil || c == nil {
					t.Fatalf("New(%q) = %v", tt.url, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%q) accepted a bad URL or token", tt.url)
			}
			if cavra.Code(err) != cavra.ErrInvalid {
				t.Fatalf("code %s, want invalid: %v", cavra.Code(err), err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error prints the URL's password: %v", err)
			}
		})
	}
}

func TestStatusToCode(t *testing.T) {
	tests := []struct {
		status int
		want   cavra.ErrorCode
	}{
		{http.StatusBadRequest, cavra.ErrInvalid},
		{http.StatusUnprocessableEntity, cavra.ErrInvalid},
		{http.StatusRequestEntityTooLarge, cavra.ErrInvalid},
		{http.StatusUnauthorized, cavra.ErrUnauthorized},
		{http.StatusForbidden, cavra.ErrForbidden},
		{http.StatusNotFound, cavra.ErrNotFound},
		{http.StatusConflict, cavra.ErrConflict},
		{http.StatusTooManyRequests, cavra.ErrUnavailable},
		{http.StatusInternalServerError, cavra.ErrUnavailable},
		{http.StatusBadGateway, cavra.ErrUnavailable},
		{http.StatusServiceUnavailable, cavra.ErrUnavailable},
		{http.StatusGatewayTimeout, cavra.ErrUnavailable},
		{http.StatusTeapot, cavra.ErrInternal},
		// Redirects are not followed: a POST must not turn into a GET elsewhere.
		{http.StatusFound, cavra.ErrInternal},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusFound {
					http.Redirect(w, r, "/elsewhere", tt.status)
					return
				}
				writeProblem(w, tt.status, http.StatusText(tt.status), "because")
			})
			_, err := c.Decide(context.Background(), cavra.Action{Kind: cavra.KindCommandExec})
			if err == nil {
				t.Fatal("no error")
			}
			if got := cavra.Code(err); got != tt.want {
				t.Fatalf("code %s, want %s: %v", got, tt.want, err)
			}
			var p *Problem
			if !errors.As(err, &p) || p.Status != tt.status {
				t.Fatalf("problem %+v in %v", p, err)
			}
		})
	}
}

func TestProblemDecoding(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Problem
	}{
		{
			name: "problem json", contentType: "application/problem+json",
			body: `{"type":"https://cavra.dev/problems/invalid-action","title":"Invalid action","status":400,"detail":"kind is empty"}`,
			want: Problem{Type: "https://cavra.dev/problems/invalid-action", Title: "Invalid action", Status: 400, Detail: "kind is empty"},
		},
		{
			name: "status in body is ignored", contentType: "application/problem+json",
			body: `{"title":"Bad","status":200,"detail":"d"}`,
			want: Problem{Title: "Bad", Status: 400, Detail: "d"},
		},
		{
			name: "proxy html page", contentType: "text/html",
			body: "<html>\n<body>upstream   down</body></html>",
			want: Problem{Title: "Bad Request", Status: 400, Detail: "<html> <body>upstream down</body></html>"},
		},
		{
			name: "broken json", contentType: "application/problem+json",
			body: `{"title":`,
			want: Problem{Title: "Bad Request", Status: 400, Detail: `{"title":`},
		},
		{
			name: "long body is cut", contentType: "text/plain",
			body: strings.Repeat("x", 5000),
			want: Problem{Title: "Bad Request", Status: 400, Detail: strings.Repeat("x", 200) + "..."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := c.AuditHead(context.Background())
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("no *Problem in %v", err)
			}
			if *p != tt.want {
				t.Fatalf("problem = %+v, want %+v", *p, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want.Title) {
				t.Fatalf("error %q does not name the problem", err)
			}
		})
	}
}

func TestBodySizeCap(t *testing.T) {
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{name: "at the cap", size: 64, ok: true},
		{name: "one byte over", size: 65},
		{name: "far over", size: 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				// {"a":"xxx..."} padded to exactly tt.size bytes.
				_, _ = io.WriteString(w, `{"a":"`+strings.Repeat("x", tt.size-8)+`"}`)
			}, WithMaxBodySize(64))
			ans, err := c.Hook(context.Background(), "claude-code", []byte(`{}`))
			if tt.ok {
				if err != nil || len(ans.Body) != tt.size {
					t.Fatalf("answer of %d bytes: %v", len(ans.Body), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "larger than 64 bytes") {
				t.Fatalf("oversize answer: %v", err)
			}
			if cavra.Code(err) != cavra.ErrUnavailable {
				t.Fatalf("code %s", cavra.Code(err))
			}
		})
	}
}

func TestHook(t *testing.T) {
	payload := []byte(`{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}` + "\n")
	var gotPath, gotAuth, gotCT, gotUA, gotBody string
	c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotAuth, gotCT, gotUA, gotBody = r.Method+" "+r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), string(b)
		w.Header().Set("X-Cavra-Decision-Id", "dec-1")
		w.Header().Set("X-Cavra-Outcome", "allow")
		_, _ = io.WriteString(w, `{"hookSpecificOutput":{"permissionDecision":"allow"}}`)
	}, WithUserAgent("test-agent"))
	ans, err := c.Hook(context.Background(), "claude-code", payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(ans.Body) != `{"hookSpecificOutput":{"permissionDecision":"allow"}}` || ans.DecisionID != "dec-1" || ans.Outcome != "allow" {
		t.Fatalf("answer %+v", ans)
	}
	if gotPath != "POST /v1/hooks/claude-code" || gotAuth != "Bearer tok" || gotCT != "application/json" || gotUA != "test-agent" {
		t.Fatalf("request %q auth %q content-type %q user-agent %q", gotPath, gotAuth, gotCT, gotUA)
	}
	if gotBody != string(payload) {
		t.Fatalf("payload not forwarded byte for byte: %q", gotBody)
	}
	if _, err := c.Hook(context.Background(), "../decisions", payload); cavra.Code(err) != cavra.ErrInvalid {
		t.Fatalf("bad host: %v", err)
	}
}

func TestHookAnswerMustBeObject(t *testing.T) {
	for _, body := range []string{"", "[]", "null", `"allow"`, "{", `{"a":1} {"b":2}`, "<html>"} {
		t.Run(body, func(t *testing.T) {
			c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
			_, err := c.Hook(context.Background(), "codex", []byte(`{}`))
			if err == nil || !strings.Contains(err.Error(), "not a JSON object") {
				t.Fatalf("answer %q accepted: %v", body, err)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}, WithTimeout(50*time.Millisecond))
		t.Cleanup(func() { close(release) })
		_, err := c.Hook(context.Background(), "gemini", []byte(`{}`))
		if cavra.Code(err) != cavra.ErrUnavailable || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("timeout: %v", err)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c, err := New("http://"+addr, "tok")
		if err != nil {
			t.Fatal(err)
		}
		err = c.Health(context.Background())
		if cavra.Code(err) != cavra.ErrUnavailable {
			t.Fatalf("closed port: %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.Health(ctx); cavra.Code(err) != cavra.ErrUnavailable {
			t.Fatalf("cancelled: %v", err)
		}
	})
}

func TestMethods(t *testing.T) {
	type seen struct{ method, path, query, body string }
	var got seen
	answers := map[string]string{
		"POST /v1/decisions":                `{"id":"d1","outcome":"block","rule_id":"r","reason":"no","policy":"baseline","policy_revision":"x","decided_at":"2026-01-02T03:04:05Z"}`,
		"POST /v1/decisions/reported":       `{"id":"d9","outcome":"block","rule_id":"mcpgw.tool-poisoned","reason":"poisoned","policy":"mcpgw (reported by gw)","policy_revision":"","decided_at":"2026-01-02T03:04:05Z"}`,
		"GET /v1/decisions/d1":              `{"id":"d1","audit_index":7,"decision":{"id":"d1","outcome":"allow","reason":"","policy":"p","policy_revision":"","decided_at":"2026-01-02T03:04:05Z"}}`,
		"GET /v1/decisions/d2":              `{"id":"d2","outcome":"warn","reason":"","policy":"p","policy_revision":"","decided_at":"2026-01-02T03:04:05Z"}`,
		"GET /v1/approvals":                 `[{"id":"a1","state":"pending"}]`,
		"GET /v1/approvals/a1":              `{"id":"a1","state":"pending"}`,
		"POST /v1/approvals/a1/approve":     `{"id":"a1","state":"granted"}`,
		"POST /v1/approvals/a1/deny":        `{"id":"a1","state":"denied"}`,
		"POST /v1/approvals/a1/break-glass": `{"id":"a1","state":"granted","break_glass":true}`,
		"GET /v1/audit/head":                `{"size":12,"checkpoint_seq":3,"checkpoint_size":10}`,
		"GET /v1/audit/bundle":              `{"payloadType":"application/vnd.in-toto+json"}`,
		"GET /healthz":                      `ok`,
	}
	c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)}
		a, ok := answers[r.Method+" "+r.URL.EscapedPath()]
		if !ok {
			writeProblem(w, http.StatusNotFound, "Not Found", r.URL.Path)
			return
		}
		_, _ = io.WriteString(w, a)
	})
	ctx := context.Background()
	check := func(t *testing.T, want seen) {
		t.Helper()
		if got != want {
			t.Fatalf("request %+v, want %+v", got, want)
		}
	}

	d, err := c.Decide(ctx, cavra.Action{Kind: cavra.KindCommandExec, Command: &cavra.Command{Line: "ls"}})
	if err != nil || d.Outcome != cavra.Block || d.ID != "d1" {
		t.Fatalf("Decide = %+v, %v", d, err)
	}
	if !strings.Contains(got.body, `"line":"ls"`) {
		t.Fatalf("Decide sent %s", got.body)
	}
	d, err = c.Report(ctx, cavra.Action{Kind: cavra.KindMCPList, MCP: &cavra.MCPCall{Server: "up", Tool: "t"}},
		cavra.Decision{Outcome: cavra.Block, RuleID: "mcpgw.tool-poisoned", Reason: "poisoned"})
	if err != nil || d.ID != "d9" || d.Policy != "mcpgw (reported by gw)" {
		t.Fatalf("Report = %+v, %v", d, err)
	}
	var sent struct {
		Action   cavra.Action   `json:"action"`
		Decision cavra.Decision `json:"decision"`
	}
	if got.method != "POST" || got.path != "/v1/decisions/reported" || json.Unmarshal([]byte(got.body), &sent) != nil ||
		sent.Action.MCP == nil || sent.Action.MCP.Tool != "t" || sent.Decision.RuleID != "mcpgw.tool-poisoned" {
		t.Fatalf("Report sent %+v", got)
	}
	rec, err := c.Decision(ctx, "d1")
	if err != nil || rec.AuditIndex != 7 || rec.Decision.Outcome != cavra.Allow {
		t.Fatalf("Decision(record) = %+v, %v", rec, err)
	}
	rec, err = c.Decision(ctx, "d2")
	if err != nil || rec.ID != "d2" || rec.Decision.Outcome != cavra.Warn {
		t.Fatalf("Decision(bare) = %+v, %v", rec, err)
	}
	list, err := c.Approvals(ctx, cavra.ApprovalPending)
	if err != nil || len(list) != 1 || list[0].ID != "a1" {
		t.Fatalf("Approvals = %+v, %v", list, err)
	}
	check(t, seen{"GET", "/v1/approvals", "state=pending", ""})
	answers["GET /v1/approvals"] = `{"approvals":[{"id":"a1"},{"id":"a2"}]}`
	if list, err = c.Approvals(ctx, ""); err != nil || len(list) != 2 {
		t.Fatalf("Approvals(wrapped) = %+v, %v", list, err)
	}
	check(t, seen{"GET", "/v1/approvals", "", ""})
	if a, err := c.Approval(ctx, "a1"); err != nil || a.State != cavra.ApprovalPending {
		t.Fatalf("Approval = %+v, %v", a, err)
	}
	if a, err := c.Approve(ctx, "a1", "looks fine"); err != nil || a.State != cavra.ApprovalGranted {
		t.Fatalf("Approve = %+v, %v", a, err)
	}
	check(t, seen{"POST", "/v1/approvals/a1/approve", "", `{"reason":"looks fine"}`})
	if a, err := c.Deny(ctx, "a1", "no"); err != nil || a.State != cavra.ApprovalDenied {
		t.Fatalf("Deny = %+v, %v", a, err)
	}
	check(t, seen{"POST", "/v1/approvals/a1/deny", "", `{"reason":"no"}`})
	if a, err := c.BreakGlass(ctx, "a1", "prod is down", time.Hour); err != nil || !a.BreakGlass {
		t.Fatalf("BreakGlass = %+v, %v", a, err)
	}
	check(t, seen{"POST", "/v1/approvals/a1/break-glass", "", `{"justification":"prod is down","ttl":"1h0m0s"}`})
	if h, err := c.AuditHead(ctx); err != nil || h.Size != 12 || h.CheckpointSeq != 3 {
		t.Fatalf("AuditHead = %+v, %v", h, err)
	}
	if b, err := c.Bundle(ctx, 2, 9); err != nil || !strings.Contains(string(b), "in-toto") {
		t.Fatalf("Bundle = %s, %v", b, err)
	}
	check(t, seen{"GET", "/v1/audit/bundle", "from=2&to=9", ""})
	if err := c.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	// An id is one path segment: it cannot reach another resource.
	if _, err := c.Approval(ctx, "a1/approve"); cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("Approval(a1/approve): %v", err)
	}
	check(t, seen{"GET", "/v1/approvals/a1%2Fapprove", "", ""})
	// A broken answer body is an error, not a zero value.
	answers["GET /v1/audit/head"] = `{"size":"twelve"}`
	if _, err := c.AuditHead(ctx); err == nil || cavra.Code(err) != cavra.ErrInternal {
		t.Fatalf("undecodable AuditHead: %v", err)
	}
}

func TestPathPrefixAndConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	var path string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		_, _ = io.WriteString(w, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/cavra/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := c.Hook(context.Background(), "cursor", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if path != "/cavra/v1/hooks/cursor" {
		t.Fatalf("path %q", path)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("5 sequential calls opened %d connections, want 1 kept alive", n)
	}
}
