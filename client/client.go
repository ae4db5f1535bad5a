// Package client is the Go client of the CAVRA REST API (`cavra serve`, under /v1). The CLI's
// remote-mode hooks use it, and so do tests and programs that ask CAVRA for decisions.
//
// Every method takes a context first and applies the client's per-call timeout on top of it.
// Errors are classified with cavra error codes: a problem+json answer becomes a *Problem wrapped
// in a *cavra.Error whose code follows the HTTP status (400/422 invalid, 401 unauthorized, 403
// forbidden, 404 not found, 409 conflict, 5xx unavailable); connection errors and timeouts are
// unavailable too, so callers can tell "the control plane said no" from "no answer".
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cavra-dev/cavra"
)

// Defaults.
const (
	// DefaultTimeout bounds each call: a hook waits on it before the agent may act.
	DefaultTimeout = 2 * time.Second
	// DefaultMaxBody caps how much of a successful answer is read. Hook answers can carry a
	// redacted copy of a tool's output, which is as large as the hook payload (32 MiB).
	DefaultMaxBody = 64 << 20
	// DefaultUserAgent is sent unless WithUserAgent says otherwise.
	DefaultUserAgent = "cavra-client"
	// maxProblemBody caps how much of an error answer is read.
	maxProblemBody = 64 << 10
)

// Client talks to one CAVRA server. It is safe for concurrent use; its connections are kept
// alive and reused between calls.
type Client struct {
	base    *url.URL
	token   string
	hc      *http.Client
	timeout time.Duration
	ua      string
	maxBody int64
	headers http.Header
}

// AgentHomeHeader carries the home directory of the user an agent runs as, so that the server
// resolves "~" in that agent's commands and paths against it rather than its own.
const AgentHomeHeader = "X-Cavra-Agent-Home"

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc instead of the client's own (then hc's transport, redirect policy and
// timeouts apply).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithTimeout bounds each call; zero or less means calls are bounded by their context only.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithHeader adds a header to every request (e.g. AgentHomeHeader).
func WithHeader(name, value string) Option {
	return func(c *Client) {
		if c.headers == nil {
			c.headers = http.Header{}
		}
		c.headers.Set(name, value)
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// WithMaxBodySize caps how many bytes of a successful answer are read (default DefaultMaxBody);
// a larger answer is an error.
func WithMaxBodySize(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// New returns a client of the server at baseURL (http or https, an optional path prefix, no
// credentials, query or fragment) that authenticates with token as a bearer token. An empty
// token sends no Authorization header (enough for Health).
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "server URL %q: %w", baseURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, cavra.Errorf(cavra.ErrInvalid, "server URL %q: want an http or https URL", baseURL)
	case u.Host == "" || u.Hostname() == "":
		return nil, cavra.Errorf(cavra.ErrInvalid, "server URL %q has no host", baseURL)
	case u.User != nil:
		// Credentials travel in the token; a URL with them would print them in every error.
		return nil, cavra.Errorf(cavra.ErrInvalid, "server URL %s must not hold credentials: use the token", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, cavra.Errorf(cavra.ErrInvalid, "server URL %q must not have a query or fragment", baseURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, cavra.Errorf(cavra.ErrInvalid, "server URL %q: bad port %q", baseURL, p)
		}
	}
	for _, r := range token {
		if r <= ' ' || r == 0x7f {
			return nil, cavra.Errorf(cavra.ErrInvalid, "token holds whitespace or control characters")
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, token: token, timeout: DefaultTimeout, ua: DefaultUserAgent, maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{
			Transport: newTransport(),
			// A redirect would replay a POST as a GET, or carry the token elsewhere: none is followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

// newTransport is one connection pool per Client, sized for many concurrent calls to one
// (often loopback) server, so calls reuse warm connections instead of dialling.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// BaseURL is the server's URL as given (without a trailing slash).
func (c *Client) BaseURL() string { return c.base.String() }

// HookAnswer is the server's answer to a host's hook payload: the JSON the host expects on the
// hook's stdout, and which decision it carries.
type HookAnswer struct {
	Body       []byte
	DecisionID string
	Outcome    string
}

// Hook forwards a host's raw hook payload (claude-code, codex, cursor, gemini) and returns the
// host's answer. An answer that is not one JSON object is an error.
func (c *Client) Hook(ctx context.Context, host string, payload []byte) (HookAnswer, error) {
	if host == "" || strings.ContainsAny(host, "/?#%") {
		return HookAnswer{}, cavra.Errorf(cavra.ErrInvalid, "hook host %q is not a host name", host)
	}
	body, h, err := c.do(ctx, http.MethodPost, "/v1/hooks/"+host, nil, payload)
	if err != nil {
		return HookAnswer{}, err
	}
	if err := checkObject(body); err != nil {
		return HookAnswer{}, cavra.Errorf(cavra.ErrInternal, "%s hook answer from %s: %w", host, c.base, err)
	}
	return HookAnswer{Body: body, DecisionID: h.Get("X-Cavra-Decision-Id"), Outcome: h.Get("X-Cavra-Outcome")}, nil
}

// checkObject requires data to be exactly one JSON object.
func checkObject(data []byte) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return errors.New("not a JSON object")
	}
	return nil
}

// Decide asks for a decision on a.
func (c *Client) Decide(ctx context.Context, a cavra.Action) (cavra.Decision, error) {
	var d cavra.Decision
	return d, c.call(ctx, http.MethodPost, "/v1/decisions", nil, a, &d)
}

// Report records a decision the caller made itself, not the control plane's policy (POST
// /v1/decisions/reported): the MCP gateway's block of a tool whose definition changed or looks
// poisoned. The server accepts only such blocks and answers the decision as it recorded it,
// with its own id and time.
func (c *Client) Report(ctx context.Context, a cavra.Action, d cavra.Decision) (cavra.Decision, error) {
	body := struct {
		Action   cavra.Action   `json:"action"`
		Decision cavra.Decision `json:"decision"`
	}{a, d}
	var rec cavra.Decision
	return rec, c.call(ctx, http.MethodPost, "/v1/decisions/reported", nil, body, &rec)
}

// Decision returns a recorded decision by id: the decision, and the action and audit index
// when the server includes them.
func (c *Client) Decision(ctx context.Context, id string) (cavra.DecisionRecord, error) {
	var raw json.RawMessage
	if err := c.call(ctx, http.MethodGet, "/v1/decisions/"+url.PathEscape(id), nil, nil, &raw); err != nil {
		return cavra.DecisionRecord{}, err
	}
	// The answer is a DecisionRecord, or the bare Decision.
	var probe struct {
		Decision json.RawMessage `json:"decision"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return cavra.DecisionRecord{}, cavra.Errorf(cavra.ErrInternal, "decode decision %s from %s: %w", id, c.base, err)
	}
	var rec cavra.DecisionRecord
	if len(probe.Decision) > 0 {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return rec, cavra.Errorf(cavra.ErrInternal, "decode decision %s from %s: %w", id, c.base, err)
		}
		return rec, nil
	}
	if err := json.Unmarshal(raw, &rec.Decision); err != nil {
		return rec, cavra.Errorf(cavra.ErrInternal, "decode decision %s from %s: %w", id, c.base, err)
	}
	rec.ID = rec.Decision.ID
	return rec, nil
}

// Approvals lists approval requests in state (all states when empty), newest first.
func (c *Client) Approvals(ctx context.Context, state cavra.ApprovalState) ([]cavra.Approval, error) {
	var q url.Values
	if state != "" {
		q = url.Values{"state": {string(state)}}
	}
	var raw json.RawMessage
	if err := c.call(ctx, http.MethodGet, "/v1/approvals", q, nil, &raw); err != nil {
		return nil, err
	}
	// The list is either a bare array or wrapped in {"approvals": [...]}.
	var list []cavra.Approval
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var wrapped struct {
			Approvals []cavra.Approval `json:"approvals"`
		}
		if err := json.Unmarshal(t, &wrapped); err != nil {
			return nil, cavra.Errorf(cavra.ErrInternal, "decode approvals from %s: %w", c.base, err)
		}
		return wrapped.Approvals, nil
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, cavra.Errorf(cavra.ErrInternal, "decode approvals from %s: %w", c.base, err)
	}
	return list, nil
}

// Approval returns an approval request by id.
func (c *Client) Approval(ctx context.Context, id string) (cavra.Approval, error) {
	var a cavra.Approval
	return a, c.call(ctx, http.MethodGet, "/v1/approvals/"+url.PathEscape(id), nil, nil, &a)
}

// Approve grants the approval request id with a reason.
func (c *Client) Approve(ctx context.Context, id, reason string) (cavra.Approval, error) {
	var a cavra.Approval
	return a, c.call(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/approve", nil, map[string]string{"reason": reason}, &a)
}

// Deny refuses the approval request id with a reason.
func (c *Client) Deny(ctx context.Context, id, reason string) (cavra.Approval, error) {
	var a cavra.Approval
	return a, c.call(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/deny", nil, map[string]string{"reason": reason}, &a)
}

// BreakGlass grants the approval request id to its own requester for ttl, with a justification.
func (c *Client) BreakGlass(ctx context.Context, id, justification string, ttl time.Duration) (cavra.Approval, error) {
	body := struct {
		Justification string         `json:"justification"`
		TTL           cavra.Duration `json:"ttl"`
	}{justification, cavra.Duration(ttl)}
	var a cavra.Approval
	return a, c.call(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/break-glass", nil, body, &a)
}

// AuditHead returns where the tenant's audit log stands.
func (c *Client) AuditHead(ctx context.Context) (cavra.AuditHead, error) {
	var h cavra.AuditHead
	return h, c.call(ctx, http.MethodGet, "/v1/audit/head", nil, nil, &h)
}

// Bundle returns the evidence bundle of audit entries [from, to) as the server encodes it (a
// DSSE envelope), for `cavra verify`.
func (c *Client) Bundle(ctx context.Context, from, to uint64) ([]byte, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	b, _, err := c.do(ctx, http.MethodGet, "/v1/audit/bundle", q, nil)
	return b, err
}

// Health reports whether the server is up (GET /healthz answers 200).
func (c *Client) Health(ctx context.Context) error {
	_, _, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil)
	return err
}

// call sends in (when not nil) as JSON and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return cavra.Errorf(cavra.ErrInvalid, "%s %s: encode request: %w", method, path, err)
		}
	}
	b, _, err := c.do(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return cavra.Errorf(cavra.ErrInternal, "%s %s%s: decode answer: %w", method, c.base, path, err)
	}
	return nil
}

// do sends one request and returns the body of a 2xx answer; any other answer is an error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, http.Header, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	// path arrives escaped (ids through url.PathEscape): join strings, not URL.Path, so it is
	// not escaped twice.
	target := c.base.String() + path
	if q != nil {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, cavra.Errorf(cavra.ErrInvalid, "%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.ua)
	for name, values := range c.headers {
		req.Header[name] = values
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, cavra.Errorf(cavra.ErrUnavailable, "%s %s%s: %w", method, c.base, path, transportCause(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
		p := decodeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), b)
		return nil, resp.Header, cavra.Errorf(codeOf(resp.StatusCode), "%s %s%s: %w", method, c.base, path, p)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, nil, cavra.Errorf(cavra.ErrUnavailable, "%s %s%s: read answer: %w", method, c.base, path, transportCause(ctx, err))
	}
	if int64(len(b)) > c.maxBody {
		return nil, nil, cavra.Errorf(cavra.ErrUnavailable, "%s %s%s: answer larger than %d bytes", method, c.base, path, c.maxBody)
	}
	return b, resp.Header, nil
}

// transportCause names a timeout plainly: net/http's own text for it is long and varies.
func transportCause(ctx context.Context, err error) error {
	// *url.Error repeats the method and URL the caller's message already names.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer in time: %w", context.DeadlineExceeded)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no answer in time: %w", err)
	}
	return err
}

// codeOf maps an HTTP status to the cavra error code of the failure it reports.
func codeOf(status int) cavra.ErrorCode {
	switch {
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity, status == http.StatusRequestEntityTooLarge:
		return cavra.ErrInvalid
	case status == http.StatusUnauthorized:
		return cavra.ErrUnauthorized
	case status == http.StatusForbidden:
		return cavra.ErrForbidden
	case status == http.StatusNotFound:
		return cavra.ErrNotFound
	case status == http.StatusConflict:
		return cavra.ErrConflict
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return cavra.ErrUnavailable
	}
	return cavra.ErrInternal
}

// Problem is an RFC 9457 problem detail, the body of every error answer of the API.
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (p *Problem) Error() string {
	s := strconv.Itoa(p.Status)
	if p.Title != "" {
		s += " " + p.Title
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// decodeProblem reads an error answer. A body that is not problem+json (a proxy's HTML page)
// still yields a Problem: the status, its text, and the start of the body as detail.
func decodeProblem(status int, contentType string, body []byte) *Problem {
	p := &Problem{}
	decoded := strings.Contains(contentType, "json") && json.Unmarshal(body, p) == nil
	if !decoded {
		p = &Problem{Detail: snippet(body)}
	}
	// The status line is the truth; a body claiming another status does not change the code.
	p.Status = status
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	return p
}

// snippet is the start of a non-problem body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
