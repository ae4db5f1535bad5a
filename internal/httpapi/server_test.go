package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

func readTestdata(t testing.TB, path string) []byte {
	t.Helper()
	b, err := osReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoutes(t *testing.T) {
	env := newTestEnv(t)
	hook := readTestdata(t, "../hooks/claudecode/testdata/bash-force-push.json")
	postHook := readTestdata(t, "../hooks/claudecode/testdata/post-tool-use-secret.json")
	big := []byte(`{"kind":"file.write","attributes":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`)
	hugeHook := []byte(`{"hook_event_name":"PreToolUse","tool_name":"Write","cwd":"/r","tool_input":{"file_path":"/r/a","content":"` + strings.Repeat("x", 32<<20) + `"}}`)
	action := `{"kind":"command.exec","command":{"line":"ls -la"},"cwd":"/repo"}`
	reported := `{"action":{"kind":"mcp.list","mcp":{"server":"up","tool":"deploy","method":"tools/list"}},` +
		`"decision":{"outcome":"block","rule_id":"mcpgw.tool-definition-changed","severity":"high","reason":"the definition changed","policy":"mcpgw"}}`

	tests := []struct {
		name   string
		method string
		path   string
		secret string
		body   string
		raw    []byte
		status int
		change bool
	}{
		// operations
		{name: "healthz", method: "GET", path: "/healthz", status: 200},
		{name: "readyz", method: "GET", path: "/readyz", status: 200},
		{name: "openapi", method: "GET", path: "/openapi.json", status: 200},
		{name: "metrics admin", method: "GET", path: "/metrics", secret: adminSecret, status: 200},
		{name: "metrics auditor", method: "GET", path: "/metrics", secret: auditorSecret, status: 200},
		{name: "metrics agent", method: "GET", path: "/metrics", secret: agentSecret, status: 403},
		{name: "metrics no token", method: "GET", path: "/metrics", status: 401},

		// decide
		{name: "decide agent", method: "POST", path: "/v1/decisions", secret: agentSecret, body: action, status: 200, change: true},
		{name: "decide admin", method: "POST", path: "/v1/decisions", secret: adminSecret, body: action, status: 200, change: true},
		{name: "decide no token", method: "POST", path: "/v1/decisions", body: action, status: 401},
		{name: "decide bad token", method: "POST", path: "/v1/decisions", secret: "nope", body: action, status: 401},
		{name: "decide revoked token", method: "POST", path: "/v1/decisions", secret: revokedSecret, body: action, status: 401},
		{name: "decide auth store down", method: "POST", path: "/v1/decisions", secret: brokenSecret, body: action, status: 503},
		{name: "decide auditor", method: "POST", path: "/v1/decisions", secret: auditorSecret, body: action, status: 403},
		{name: "decide approver", method: "POST", path: "/v1/decisions", secret: approverSecret, body: action, status: 403},
		{name: "decide malformed", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"kind":`, status: 400},
		{name: "decide not json", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `kind=command.exec`, status: 400},
		{name: "decide trailing data", method: "POST", path: "/v1/decisions", secret: agentSecret, body: action + ` {}`, status: 400},
		{name: "decide empty body", method: "POST", path: "/v1/decisions", secret: agentSecret, body: ``, status: 400},
		{name: "decide unknown field", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"kind":"command.exec","bogus":1}`, status: 422},
		{name: "decide unknown nested field", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"kind":"command.exec","command":{"line":"ls","shell":"zsh"}}`, status: 422},
		{name: "decide wrong type", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"kind":5}`, status: 422},
		{name: "decide wrong nested type", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"kind":"file.read","files":{"path":"/x"}}`, status: 422},
		{name: "decide array", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `[]`, status: 422},
		{name: "decide null", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `null`, status: 422},
		{name: "decide no kind", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"cwd":"/repo"}`, status: 422},
		{name: "decide bad kind", method: "POST", path: "/v1/decisions", secret: agentSecret, body: `{"kind":"Command"}`, status: 422},
		{name: "decide oversized", method: "POST", path: "/v1/decisions", secret: agentSecret, raw: big, status: 413},

		// report a gateway-made decision
		{name: "report agent", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: reported, status: 200, change: true},
		{name: "report admin", method: "POST", path: "/v1/decisions/reported", secret: adminSecret, body: reported, status: 200, change: true},
		{name: "report no token", method: "POST", path: "/v1/decisions/reported", body: reported, status: 401},
		{name: "report auditor", method: "POST", path: "/v1/decisions/reported", secret: auditorSecret, body: reported, status: 403},
		{name: "report approver", method: "POST", path: "/v1/decisions/reported", secret: approverSecret, body: reported, status: 403},
		{name: "report malformed", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: `{"action":`, status: 400},
		{name: "report empty body", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: ``, status: 400},
		{name: "report unknown field", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: `{"action":{"kind":"mcp.list"},"decision":{"outcome":"block"},"bogus":1}`, status: 422},
		{name: "report unknown nested field", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: `{"action":{"kind":"mcp.list","mcp":{"server":"up","tool":"t","evil":1}},"decision":{"outcome":"block"}}`, status: 422},
		{name: "report allow outcome", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: strings.Replace(reported, `"block"`, `"allow"`, 1), status: 422},
		{name: "report require approval", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: strings.Replace(reported, `"block"`, `"require_approval"`, 1), status: 422},
		{name: "report policy rule", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: strings.Replace(reported, `mcpgw.tool-definition-changed`, `deploy.prod`, 1), status: 422},
		{name: "report command", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: strings.Replace(reported, `"mcp.list"`, `"command.exec"`, 1), status: 422},
		{name: "report no kind", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, body: `{"decision":{"outcome":"block","rule_id":"mcpgw.tool-poisoned"}}`, status: 422},
		{name: "report oversized", method: "POST", path: "/v1/decisions/reported", secret: agentSecret, raw: big, status: 413},
		{name: "report wrong method", method: "PUT", path: "/v1/decisions/reported", secret: agentSecret, body: reported, status: 405},

		// decision reads
		{name: "list decisions auditor", method: "GET", path: "/v1/decisions?workspace=w&outcome=block&since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z&limit=10", secret: auditorSecret, status: 200},
		{name: "list decisions admin", method: "GET", path: "/v1/decisions", secret: adminSecret, status: 200},
		{name: "list decisions approver", method: "GET", path: "/v1/decisions", secret: approverSecret, status: 200},
		{name: "list decisions agent", method: "GET", path: "/v1/decisions", secret: agentSecret, status: 403},
		{name: "list decisions no token", method: "GET", path: "/v1/decisions", status: 401},
		{name: "list decisions limit too big", method: "GET", path: "/v1/decisions?limit=5000", secret: auditorSecret, status: 422},
		{name: "list decisions limit negative", method: "GET", path: "/v1/decisions?limit=-1", secret: auditorSecret, status: 422},
		{name: "list decisions limit not a number", method: "GET", path: "/v1/decisions?limit=ten", secret: auditorSecret, status: 422},
		{name: "list decisions bad outcome", method: "GET", path: "/v1/decisions?outcome=maybe", secret: auditorSecret, status: 422},
		{name: "list decisions bad since", method: "GET", path: "/v1/decisions?since=yesterday", secret: auditorSecret, status: 422},
		{name: "list decisions since after until", method: "GET", path: "/v1/decisions?since=2026-12-01T00:00:00Z&until=2026-01-01T00:00:00Z", secret: auditorSecret, status: 422},
		{name: "get decision", method: "GET", path: "/v1/decisions/d-1", secret: approverSecret, status: 200},
		{name: "get decision missing", method: "GET", path: "/v1/decisions/d-404", secret: approverSecret, status: 404},
		{name: "get decision agent", method: "GET", path: "/v1/decisions/d-1", secret: agentSecret, status: 403},

		// hooks
		{name: "hook claude-code", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, raw: hook, status: 200, change: true},
		{name: "hook admin", method: "POST", path: "/v1/hooks/claude-code", secret: adminSecret, raw: hook, status: 200, change: true},
		{name: "hook no token", method: "POST", path: "/v1/hooks/claude-code", raw: hook, status: 401},
		{name: "hook auditor", method: "POST", path: "/v1/hooks/claude-code", secret: auditorSecret, raw: hook, status: 403},
		{name: "hook unknown host", method: "POST", path: "/v1/hooks/vim", secret: agentSecret, raw: hook, status: 422},
		{name: "hook malformed", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, body: `{"hook_event_name":`, status: 400},
		{name: "hook not an object", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, body: `[1,2]`, status: 422},
		{name: "hook missing fields", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, body: `{"hook_event_name":"PreToolUse"}`, status: 422},
		{name: "hook wrong type", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, body: `{"hook_event_name":"PreToolUse","tool_name":7,"cwd":"/r","tool_input":{}}`, status: 422},
		{name: "hook post tool use", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, raw: postHook, status: 422},
		{name: "hook empty", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, body: ``, status: 400},
		{name: "hook oversized", method: "POST", path: "/v1/hooks/claude-code", secret: agentSecret, raw: hugeHook, status: 413},

		// approvals
		{name: "list approvals agent", method: "GET", path: "/v1/approvals", secret: agentSecret, status: 200},
		{name: "list approvals approver", method: "GET", path: "/v1/approvals?state=pending&workspace=w&limit=5", secret: approverSecret, status: 200},
		{name: "list approvals auditor", method: "GET", path: "/v1/approvals", secret: auditorSecret, status: 200},
		{name: "list approvals bad state", method: "GET", path: "/v1/approvals?state=maybe", secret: approverSecret, status: 422},
		{name: "list approvals bad limit", method: "GET", path: "/v1/approvals?limit=1001", secret: approverSecret, status: 422},
		{name: "list approvals no token", method: "GET", path: "/v1/approvals", status: 401},
		{name: "get approval own", method: "GET", path: "/v1/approvals/ap-agent", secret: agentSecret, status: 200},
		{name: "get approval as caller", method: "GET", path: "/v1/approvals/ap-called", secret: agentSecret, status: 200},
		{name: "get approval someone else's", method: "GET", path: "/v1/approvals/ap-other", secret: agentSecret, status: 404},
		{name: "get approval admin", method: "GET", path: "/v1/approvals/ap-other", secret: adminSecret, status: 200},
		{name: "get approval missing", method: "GET", path: "/v1/approvals/nope", secret: adminSecret, status: 404},
		{name: "approve", method: "POST", path: "/v1/approvals/ap-1/approve", secret: approverSecret, body: `{"reason":"looks fine"}`, status: 200, change: true},
		{name: "approve without body", method: "POST", path: "/v1/approvals/ap-1/approve", secret: adminSecret, status: 200, change: true},
		{name: "approve agent", method: "POST", path: "/v1/approvals/ap-1/approve", secret: agentSecret, body: `{}`, status: 403},
		{name: "approve auditor", method: "POST", path: "/v1/approvals/ap-1/approve", secret: auditorSecret, body: `{}`, status: 403},
		{name: "approve no token", method: "POST", path: "/v1/approvals/ap-1/approve", body: `{}`, status: 401},
		{name: "approve missing", method: "POST", path: "/v1/approvals/missing/approve", secret: approverSecret, body: `{}`, status: 404},
		{name: "approve decided", method: "POST", path: "/v1/approvals/decided/approve", secret: approverSecret, body: `{}`, status: 409},
		{name: "approve self", method: "POST", path: "/v1/approvals/mine/approve", secret: approverSecret, body: `{}`, status: 403},
		{name: "approve store broken", method: "POST", path: "/v1/approvals/broken/approve", secret: approverSecret, body: `{}`, status: 500},
		{name: "approve unknown field", method: "POST", path: "/v1/approvals/ap-1/approve", secret: approverSecret, body: `{"reason":"x","extra":1}`, status: 422},
		{name: "approve wrong type", method: "POST", path: "/v1/approvals/ap-1/approve", secret: approverSecret, body: `{"reason":5}`, status: 422},
		{name: "approve malformed", method: "POST", path: "/v1/approvals/ap-1/approve", secret: approverSecret, body: `{"reason"`, status: 400},
		{name: "approve oversized", method: "POST", path: "/v1/approvals/ap-1/approve", secret: approverSecret, raw: big, status: 413},
		{name: "deny", method: "POST", path: "/v1/approvals/ap-1/deny", secret: approverSecret, body: `{"reason":"not on a Friday"}`, status: 200, change: true},
		{name: "deny empty reason", method: "POST", path: "/v1/approvals/ap-1/deny", secret: approverSecret, body: `{"reason":""}`, status: 422},
		{name: "deny blank reason", method: "POST", path: "/v1/approvals/ap-1/deny", secret: approverSecret, body: `{"reason":"   "}`, status: 422},
		{name: "deny no reason", method: "POST", path: "/v1/approvals/ap-1/deny", secret: approverSecret, body: `{}`, status: 422},
		{name: "deny no body", method: "POST", path: "/v1/approvals/ap-1/deny", secret: approverSecret, status: 400},
		{name: "deny agent", method: "POST", path: "/v1/approvals/ap-1/deny", secret: agentSecret, body: `{"reason":"x"}`, status: 403},
		{name: "break glass", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: agentSecret, body: `{"justification":"production is down","ttl":"30m"}`, status: 200, change: true},
		{name: "break glass default ttl", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: auditorSecret, body: `{"justification":"production is down"}`, status: 200, change: true},
		{name: "break glass short", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: agentSecret, body: `{"justification":"because"}`, status: 422},
		{name: "break glass padded short", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: agentSecret, body: `{"justification":"  because      "}`, status: 422},
		{name: "break glass bad ttl", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: agentSecret, body: `{"justification":"production is down","ttl":"forever"}`, status: 422},
		{name: "break glass negative ttl", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: agentSecret, body: `{"justification":"production is down","ttl":"-5m"}`, status: 422},
		{name: "break glass ttl number", method: "POST", path: "/v1/approvals/ap-1/break-glass", secret: agentSecret, body: `{"justification":"production is down","ttl":30}`, status: 422},
		{name: "break glass no token", method: "POST", path: "/v1/approvals/ap-1/break-glass", body: `{"justification":"production is down"}`, status: 401},

		// audit
		{name: "audit head", method: "GET", path: "/v1/audit/head", secret: auditorSecret, status: 200},
		{name: "audit head agent", method: "GET", path: "/v1/audit/head", secret: agentSecret, status: 403},
		{name: "audit head approver", method: "GET", path: "/v1/audit/head", secret: approverSecret, status: 403},
		{name: "audit head no token", method: "GET", path: "/v1/audit/head", status: 401},
		{name: "latest checkpoint", method: "GET", path: "/v1/audit/checkpoint", secret: auditorSecret, status: 200},
		{name: "cut checkpoint", method: "POST", path: "/v1/audit/checkpoint", secret: adminSecret, status: 200, change: true},
		{name: "cut checkpoint agent", method: "POST", path: "/v1/audit/checkpoint", secret: agentSecret, status: 403},
		{name: "entry", method: "GET", path: "/v1/audit/entries/3", secret: auditorSecret, status: 200},
		{name: "entry missing", method: "GET", path: "/v1/audit/entries/99", secret: auditorSecret, status: 404},
		{name: "entry not a number", method: "GET", path: "/v1/audit/entries/three", secret: auditorSecret, status: 422},
		{name: "entry negative", method: "GET", path: "/v1/audit/entries/-1", secret: auditorSecret, status: 422},
		{name: "entry by id", method: "GET", path: "/v1/audit/entries/by-id/e-1", secret: adminSecret, status: 200},
		{name: "entry by id missing", method: "GET", path: "/v1/audit/entries/by-id/e-404", secret: adminSecret, status: 404},
		{name: "inclusion proof", method: "GET", path: "/v1/audit/proofs/inclusion?index=0&size=8", secret: auditorSecret, status: 200},
		{name: "inclusion proof no size", method: "GET", path: "/v1/audit/proofs/inclusion?index=1", secret: auditorSecret, status: 422},
		{name: "inclusion proof index past size", method: "GET", path: "/v1/audit/proofs/inclusion?index=8&size=8", secret: auditorSecret, status: 422},
		{name: "inclusion proof beyond log", method: "GET", path: "/v1/audit/proofs/inclusion?index=1&size=99", secret: auditorSecret, status: 422},
		{name: "inclusion proof bad number", method: "GET", path: "/v1/audit/proofs/inclusion?index=x&size=8", secret: auditorSecret, status: 422},
		{name: "consistency proof", method: "GET", path: "/v1/audit/proofs/consistency?from=2&to=8", secret: auditorSecret, status: 200},
		{name: "consistency proof reversed", method: "GET", path: "/v1/audit/proofs/consistency?from=9&to=8", secret: auditorSecret, status: 422},
		{name: "consistency proof zero", method: "GET", path: "/v1/audit/proofs/consistency?from=0&to=8", secret: auditorSecret, status: 422},
		{name: "bundle", method: "GET", path: "/v1/audit/bundle?from=0&to=8", secret: auditorSecret, status: 200},
		{name: "bundle whole log", method: "GET", path: "/v1/audit/bundle", secret: adminSecret, status: 200},
		{name: "bundle reversed", method: "GET", path: "/v1/audit/bundle?from=5&to=2", secret: auditorSecret, status: 422},
		{name: "bundle agent", method: "GET", path: "/v1/audit/bundle", secret: agentSecret, status: 403},

		// events
		{name: "events", method: "GET", path: "/v1/events?type=decision.made&from_start=true", secret: auditorSecret, status: 200},
		{name: "events agent", method: "GET", path: "/v1/events", secret: agentSecret, status: 403},
		{name: "events bad type", method: "GET", path: "/v1/events?type=DROP%20TABLE", secret: auditorSecret, status: 422},
		{name: "events bad from_start", method: "GET", path: "/v1/events?from_start=maybe", secret: auditorSecret, status: 422},

		// routing
		{name: "unknown route", method: "GET", path: "/v1/nothing", secret: adminSecret, status: 404},
		{name: "unknown route no token", method: "GET", path: "/nothing", status: 404},
		{name: "wrong method", method: "DELETE", path: "/v1/decisions", secret: adminSecret, status: 405},
		{name: "wrong method on item", method: "PUT", path: "/v1/approvals/ap-1/approve", secret: adminSecret, body: `{}`, status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.raw
			if body == nil && tc.body != "" {
				body = []byte(tc.body)
			}
			if body == nil && tc.method == "POST" && tc.body == "" && strings.Contains(tc.name, "empty") {
				body = []byte{}
			}
			before := env.changes()
			rec := env.do(t, tc.method, tc.path, tc.secret, body)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body: %.400s", rec.Code, tc.status, rec.Body.String())
			}
			ct := rec.Header().Get("Content-Type")
			if rec.Code >= 400 {
				if ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				var p struct {
					Status int    `json:"status"`
					Title  string `json:"title"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tc.status || p.Title == "" {
					t.Errorf("problem body = %s (err %v), want status %d and a title", rec.Body.String(), err, tc.status)
				}
			} else if !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "text/") && !strings.HasPrefix(ct, "application/openapi") {
				t.Errorf("Content-Type = %q", ct)
			}
			if rec.Code == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", rec.Header().Get("WWW-Authenticate"))
			}
			if rec.Code == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			if rec.Code == http.StatusInternalServerError && strings.Contains(rec.Body.String(), "disk on fire") {
				t.Errorf("500 leaks the internal error: %s", rec.Body.String())
			}
			changed := env.changes() != before
			if changed != tc.change {
				t.Errorf("state changed = %v, want %v", changed, tc.change)
			}
		})
	}
}

func TestDecideIdentity(t *testing.T) {
	tests := []struct {
		name          string
		secret        string
		body          string
		wantPrincipal string
		wantWorkspace string
		wantHost      string
	}{
		{name: "agent gets its own name", secret: agentSecret, body: `{"kind":"command.exec","principal":"alice","tenant":"t9"}`, wantPrincipal: "agent-1", wantWorkspace: "default", wantHost: "api"},
		{name: "admin may name a principal", secret: adminSecret, body: `{"kind":"command.exec","principal":"carol","workspace":"payments","source":{"host":"ci"}}`, wantPrincipal: "carol", wantWorkspace: "payments", wantHost: "ci"},
		{name: "admin without principal", secret: adminSecret, body: `{"kind":"command.exec","tenant":"t9"}`, wantPrincipal: "alice", wantWorkspace: "default", wantHost: "api"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			rec := env.do(t, "POST", "/v1/decisions", tc.secret, []byte(tc.body))
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			var d cavra.Decision
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.ID != "d-new" || d.Outcome != cavra.Allow {
				t.Fatalf("decision = %+v, err %v", d, err)
			}
			got := env.gov.decided[0]
			if got.action.Tenant != "t1" || got.tenant != "t1" {
				t.Errorf("tenant = %q (ctx %q), want the token's t1", got.action.Tenant, got.tenant)
			}
			if got.action.Principal != tc.wantPrincipal {
				t.Errorf("principal = %q, want %q", got.action.Principal, tc.wantPrincipal)
			}
			if got.action.Workspace != tc.wantWorkspace || got.workspace != tc.wantWorkspace {
				t.Errorf("workspace = %q (ctx %q), want %q", got.action.Workspace, got.workspace, tc.wantWorkspace)
			}
			if got.action.Source.Host != tc.wantHost {
				t.Errorf("source host = %q, want %q", got.action.Source.Host, tc.wantHost)
			}
			tok, _ := fakeAuth{}.Authenticate(context.Background(), tc.secret)
			if got.principal.ID != tok.Name || got.principal.Tenant != "t1" || len(got.principal.Roles) != 1 || got.principal.Roles[0] != string(tok.Role) {
				t.Errorf("ctx principal = %+v, want the token's", got.principal)
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{name: "invalid", err: cavra.Errorf(cavra.ErrInvalid, "normalise action: bad path"), status: 422},
		{name: "unavailable", err: cavra.Errorf(cavra.ErrUnavailable, "store down"), status: 503},
		{name: "internal", err: errors.New("record decision: disk full"), status: 500},
		{name: "canceled", err: context.Canceled, status: 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			env.gov.err = tc.err
			rec := env.do(t, "POST", "/v1/decisions", agentSecret, []byte(`{"kind":"command.exec"}`))
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d %q, want %d problem: %s", rec.Code, rec.Header().Get("Content-Type"), tc.status, rec.Body.String())
			}
			if tc.status == 500 && strings.Contains(rec.Body.String(), "disk full") {
				t.Errorf("500 leaks the error: %s", rec.Body.String())
			}
		})
	}
}

func TestApprovalsAgentSeesOwn(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		secret string
		want   []string
	}{
		{agentSecret, []string{"ap-agent", "ap-called"}},
		{approverSecret, []string{"ap-agent", "ap-called", "ap-other"}},
	}
	for _, tc := range tests {
		t.Run(tc.secret, func(t *testing.T) {
			rec := env.do(t, "GET", "/v1/approvals", tc.secret, nil)
			var list ApprovalList
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, ap := range list.Approvals {
				ids = append(ids, ap.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("approvals = %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestApprovalAnswersReachGovernor(t *testing.T) {
	env := newTestEnv(t)
	env.do(t, "POST", "/v1/approvals/ap-1/approve", approverSecret, []byte(`{"reason":" ok "}`))
	env.do(t, "POST", "/v1/approvals/ap-1/deny", adminSecret, []byte(`{"reason":"no"}`))
	env.do(t, "POST", "/v1/approvals/ap-1/break-glass", agentSecret, []byte(`{"justification":"production is down","ttl":"45m"}`))
	want := []string{"approve:ap-1:ok:bob", "deny:ap-1:no:alice", "break-glass:ap-1:production is down/45m0s:agent-1"}
	if strings.Join(env.gov.answers, "|") != strings.Join(want, "|") {
		t.Errorf("answers = %q, want %q", env.gov.answers, want)
	}
}

func TestListDecisionsQuery(t *testing.T) {
	env := newTestEnv(t)
	rec := env.do(t, "GET", "/v1/decisions?workspace=w&outcome=block&limit=7&since=2026-01-01T00:00:00Z", auditorSecret, nil)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	q := env.reader.queries[0].(cavra.DecisionQuery)
	if q.Workspace != "w" || q.Outcome != cavra.Block || q.Limit != 7 || q.Since.Year() != 2026 || !q.Until.IsZero() {
		t.Errorf("query = %+v", q)
	}
	var list DecisionList
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Decisions) != 1 || list.Decisions[0].ID != "d-1" {
		t.Errorf("list = %s (%v)", rec.Body.String(), err)
	}
}

func TestAuditAnswers(t *testing.T) {
	env := newTestEnv(t)
	rec := env.do(t, "GET", "/v1/audit/proofs/inclusion?index=0&size=8", auditorSecret, nil)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"index":0,"size":8,"hashes":["AQ==","Ag=="]}` {
		t.Errorf("inclusion proof = %s", got)
	}
	rec = env.do(t, "GET", "/v1/audit/entries/3", auditorSecret, nil)
	var e cavra.AuditEntry
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || string(e.Record) != `{"a":1}` || e.Index != 3 {
		t.Errorf("entry = %s (%v)", rec.Body.String(), err)
	}
	if !strings.Contains(rec.Body.String(), `"leaf_hash":"/wA="`) {
		t.Errorf("leaf hash not std base64: %s", rec.Body.String())
	}
	rec = env.do(t, "GET", "/v1/audit/bundle?from=2", auditorSecret, nil)
	if rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) || env.audit.exports[0] != [2]uint64{2, 0} {
		t.Errorf("bundle: %q %s %v", rec.Header().Get("Content-Type"), rec.Body.String(), env.audit.exports)
	}

	empty := newTestEnv(t)
	empty.audit.empty = true
	if rec := empty.do(t, "GET", "/v1/audit/checkpoint", auditorSecret, nil); rec.Code != 404 {
		t.Errorf("no checkpoint: status %d", rec.Code)
	}
}

func TestReadiness(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Ready = func(context.Context) error { return errors.New("store: ping: connection refused") }
	})
	rec := env.do(t, "GET", "/readyz", "", nil)
	if rec.Code != 503 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("readyz = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := env.do(t, "GET", "/healthz", "", nil); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", rec.Code, rec.Body.String())
	}
}

func TestEventsStream(t *testing.T) {
	env := newTestEnv(t)
	env.events.got = make(chan EventFilter, 1)
	rec := env.do(t, "GET", "/v1/events?type=decision.made&from_start=true", approverSecret, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	f := <-env.events.got
	if f != (EventFilter{Tenant: "t1", Type: cavra.EventDecisionMade, FromStart: true}) {
		t.Errorf("filter = %+v", f)
	}
	body := rec.Body.String()
	want := "id: ev-1\nevent: decision.made\ndata: {\"id\":\"ev-1\",\"type\":\"decision.made\",\"tenant\":\"t1\",\"time\":\"2026-11-25T12:00:00Z\",\"data\":{\"decision_id\":\"d-1\"}}\n\n"
	if !strings.Contains(body, want) {
		t.Errorf("stream = %q, want it to hold %q", body, want)
	}
	if strings.Contains(body, "ev-3") || strings.Contains(body, "ev-2") {
		t.Errorf("stream holds another tenant's or type's event: %q", body)
	}

	none := newTestEnv(t, func(c *Config) { c.Events = nil })
	if rec := none.do(t, "GET", "/v1/events", adminSecret, nil); rec.Code != 503 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("no event source: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestMetricsAndLog(t *testing.T) {
	env := newTestEnv(t)
	env.do(t, "POST", "/v1/decisions", agentSecret, []byte(`{"kind":"command.exec"}`))
	env.do(t, "GET", "/v1/zzz/"+strings.Repeat("a", 20), "", nil)
	rec := env.do(t, "GET", "/metrics", adminSecret, nil)
	body := rec.Body.String()
	for _, want := range []string{
		`cavra_http_requests_total{route="POST /v1/decisions",status="200"} 1`,
		`cavra_http_requests_total{route="unmatched",status="404"} 1`,
		`cavra_http_request_duration_seconds_count{route="POST /v1/decisions"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "method=POST path=/v1/decisions status=200") || !strings.Contains(logs, "tenant=t1") {
		t.Errorf("access log = %s", logs)
	}
}

func TestPanicBecomes500(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.Reader = panicReader{&fakeReader{}}
	})
	rec := env.do(t, "GET", "/v1/decisions/d-1", adminSecret, nil)
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic answered %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	if rec := env.do(t, "GET", "/healthz", "", nil); rec.Code != 200 {
		t.Errorf("server unusable after a panic: %d", rec.Code)
	}
}

type panicReader struct{ *fakeReader }

func (panicReader) Decision(context.Context, string) (cavra.DecisionRecord, error) {
	panic("reader bug")
}

func TestNewValidates(t *testing.T) {
	base := func() Config {
		return Config{Auth: fakeAuth{}, Governor: &fakeGovernor{}, Reader: &fakeReader{}, Audit: &fakeAudit{}}
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no auth", func(c *Config) { c.Auth = nil }},
		{"no governor", func(c *Config) { c.Governor = nil }},
		{"no reader", func(c *Config) { c.Reader = nil }},
		{"no audit", func(c *Config) { c.Audit = nil }},
		{"negative body limit", func(c *Config) { c.MaxBodyBytes = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mod(&c)
			if _, err := New(c); cavra.Code(err) != cavra.ErrInvalid {
				t.Errorf("New = %v, want an invalid-config error", err)
			}
		})
	}
	c := base()
	if _, err := New(c); err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	env := newTestEnv(t)
	c.Registry = env.reg
	if _, err := New(c); err == nil {
		t.Errorf("New registered its metrics twice on one registry without an error")
	}
}

func TestReportIdentity(t *testing.T) {
	env := newTestEnv(t)
	body := `{"action":{"kind":"mcp.list","principal":"carol","tenant":"t9","mcp":{"server":"up","tool":"deploy"}},` +
		`"decision":{"outcome":"block","rule_id":"mcpgw.tool-poisoned","reason":"looks poisoned","policy":"mcpgw"}}`
	rec := env.do(t, "POST", "/v1/decisions/reported", agentSecret, []byte(body))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	var d cavra.Decision
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.ID != "d-reported" || d.Outcome != cavra.Block || d.Policy != "mcpgw (reported by agent-1)" {
		t.Fatalf("decision = %+v, err %v", d, err)
	}
	if len(env.gov.reported) != 1 || len(env.gov.decided) != 0 {
		t.Fatalf("reported %d, decided %d; want one report and no policy decision", len(env.gov.reported), len(env.gov.decided))
	}
	got := env.gov.reported[0]
	if got.action.Tenant != "t1" || got.tenant != "t1" || got.principal.ID != "agent-1" || got.action.Principal != "agent-1" {
		t.Errorf("tenant %q (ctx %q), principal %q (ctx %q): want the token's t1 and agent-1", got.action.Tenant, got.tenant, got.action.Principal, got.principal.ID)
	}
	if got.action.Workspace != "default" || got.workspace != "default" || got.action.Source.Host != HostAPI {
		t.Errorf("workspace %q (ctx %q), host %q", got.action.Workspace, got.workspace, got.action.Source.Host)
	}
}
