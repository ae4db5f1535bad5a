package httpapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

func TestHookClaudeCode(t *testing.T) {
	payload := readTestdata(t, "../hooks/claudecode/testdata/bash-force-push.json")
	block := cavra.Decision{ID: "d-9", Outcome: cavra.Block, RuleID: "git.force-push", Reason: "force push rewrites history",
		Remediation: "push without --force", Policy: "baseline", PolicyRevision: "sha256:0123456789abcdef0123"}
	tests := []struct {
		name       string
		decision   cavra.Decision
		err        error
		wantAnswer string // permissionDecision
		wantReason string
		wantID     string
		wantOut    string
	}{
		{name: "allow", decision: cavra.Decision{ID: "d-1", Outcome: cavra.Allow, Policy: "baseline"}, wantAnswer: "allow", wantID: "d-1", wantOut: "allow"},
		{name: "block", decision: block, wantAnswer: "deny", wantReason: "CAVRA block [git.force-push]: force push rewrites history", wantID: "d-9", wantOut: "block"},
		{name: "require approval", decision: cavra.Decision{ID: "d-2", Outcome: cavra.RequireApproval, RuleID: "r", Reason: "ask"}, wantAnswer: "ask", wantID: "d-2", wantOut: "require_approval"},
		{name: "store down fails closed", err: cavra.Errorf(cavra.ErrUnavailable, "record decision: database is locked"), wantAnswer: "deny", wantReason: "CAVRA could not record the decision", wantOut: "block"},
		{name: "internal error fails closed", err: errors.New("boom"), wantAnswer: "deny", wantReason: "could not record the decision", wantOut: "block"},
		{name: "invalid action fails closed", err: cavra.Errorf(cavra.ErrInvalid, "normalise action: path is not absolute"), wantAnswer: "deny", wantReason: "could not judge this action", wantOut: "block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			env.gov.decision, env.gov.err = tc.decision, tc.err
			rec := env.do(t, "POST", "/v1/hooks/claude-code", agentSecret, payload)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
			var ans struct {
				HookSpecificOutput struct {
					HookEventName            string `json:"hookEventName"`
					PermissionDecision       string `json:"permissionDecision"`
					PermissionDecisionReason string `json:"permissionDecisionReason"`
				} `json:"hookSpecificOutput"`
			}
			dec := json.NewDecoder(rec.Body)
			dec.DisallowUnknownFields() // no "$schema" or other members the host does not know
			if err := dec.Decode(&ans); err != nil {
				t.Fatalf("answer is not Claude Code's: %v", err)
			}
			out := ans.HookSpecificOutput
			if out.HookEventName != "PreToolUse" || out.PermissionDecision != tc.wantAnswer || !strings.Contains(out.PermissionDecisionReason, tc.wantReason) {
				t.Errorf("answer = %+v, want %s with %q", out, tc.wantAnswer, tc.wantReason)
			}
			if got := rec.Header().Get("X-Cavra-Decision-Id"); got != tc.wantID {
				t.Errorf("X-Cavra-Decision-Id = %q, want %q", got, tc.wantID)
			}
			if got := rec.Header().Get("X-Cavra-Outcome"); got != tc.wantOut {
				t.Errorf("X-Cavra-Outcome = %q, want %q", got, tc.wantOut)
			}
			if tc.err != nil && strings.Contains(rec.Body.String(), "database is locked") {
				t.Errorf("deny leaks the internal error: %s", rec.Body.String())
			}
			if tc.err == nil {
				a := env.gov.decided[0].action
				if a.Kind != cavra.KindCommandExec || a.Command == nil || a.Command.Line != "git push --force origin main" ||
					a.Source.Host != "claude-code" || a.Principal != "agent-1" || a.Tenant != "t1" || a.Workspace != "default" {
					t.Errorf("action = %+v", a)
				}
			}
		})
	}
}

func TestHookOtherHosts(t *testing.T) {
	block := cavra.Decision{ID: "d-9", Outcome: cavra.Block, RuleID: "r", Reason: "no", Policy: "baseline"}
	tests := []struct {
		host    string
		file    string
		status  int
		want    string // a fragment of the answer
		kind    cavra.Kind
		blocked bool
	}{
		{host: "codex", file: "../hooks/codex/testdata/bash-force-push.json", status: 200, want: `"permissionDecision":"deny"`, kind: cavra.KindCommandExec},
		{host: "codex", file: "../hooks/codex/testdata/user-prompt.json", status: 422},
		{host: "codex", file: "../hooks/codex/testdata/post-tool-use-clean.json", status: 422},
		{host: "cursor", file: "../hooks/cursor/testdata/shell-force-push.json", status: 200, want: `"permission":"deny"`, kind: cavra.KindCommandExec},
		{host: "cursor", file: "../hooks/cursor/testdata/read-env.json", status: 200, want: `"permission":"deny"`, kind: cavra.KindFileRead},
		{host: "cursor", file: "../hooks/cursor/testdata/after-mcp.json", status: 422},
		{host: "cursor", file: "../hooks/cursor/testdata/prompt.json", status: 422},
		{host: "gemini", file: "../hooks/gemini/testdata/shell-force-push.json", status: 200, want: `"decision":"deny"`, kind: cavra.KindCommandExec},
		{host: "gemini", file: "../hooks/gemini/testdata/before-agent.json", status: 422},
		{host: "gemini", file: "../hooks/gemini/testdata/after-tool-clean.json", status: 422},
		{host: "codex", file: "../hooks/claudecode/testdata/user-prompt-secret.json", status: 422},
	}
	for _, tc := range tests {
		t.Run(tc.host+"/"+tc.file[strings.LastIndex(tc.file, "/")+1:], func(t *testing.T) {
			env := newTestEnv(t)
			env.gov.decision = block
			rec := env.do(t, "POST", "/v1/hooks/"+tc.host, agentSecret, readTestdata(t, tc.file))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status != 200 {
				if rec.Header().Get("Content-Type") != "application/problem+json" || env.gov.changes() != 0 {
					t.Errorf("refused payload: %q, %d decisions", rec.Header().Get("Content-Type"), env.gov.changes())
				}
				return
			}
			if !strings.Contains(rec.Body.String(), tc.want) || strings.Contains(rec.Body.String(), "$schema") {
				t.Errorf("answer = %s, want %s", rec.Body.String(), tc.want)
			}
			if a := env.gov.decided[0].action; a.Kind != tc.kind || a.Source.Host != tc.host {
				t.Errorf("action kind %q host %q", a.Kind, a.Source.Host)
			}
		})
	}
}

func TestHookUnsupportedEventMessage(t *testing.T) {
	env := newTestEnv(t)
	rec := env.do(t, "POST", "/v1/hooks/claude-code", agentSecret, readTestdata(t, "../hooks/claudecode/testdata/post-tool-use-secret.json"))
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "event not supported by the server yet") {
		t.Errorf("PostToolUse = %d %s", rec.Code, rec.Body.String())
	}
}

// A hook whose token cannot be checked (the token store is down) is denied in the host's
// protocol, not answered 5xx: Claude Code's http hooks run the action on a non-2xx answer.
func TestHookAuthUnavailableFailsClosed(t *testing.T) {
	for _, host := range hookHosts {
		t.Run(host, func(t *testing.T) {
			env := newTestEnv(t)
			rec := env.do(t, "POST", "/v1/hooks/"+host, brokenSecret, []byte(`{}`))
			if rec.Code != 200 || rec.Header().Get("X-Cavra-Outcome") != "block" || !strings.Contains(rec.Body.String(), "deny") {
				t.Errorf("status %d %q: %s", rec.Code, rec.Header().Get("X-Cavra-Outcome"), rec.Body.String())
			}
			if strings.Contains(rec.Body.String(), "connection refused") || env.gov.changes() != 0 {
				t.Errorf("leaked error or decided: %s", rec.Body.String())
			}
		})
	}
}

func TestHookAgentHome(t *testing.T) {
	payload := readTestdata(t, "../hooks/claudecode/testdata/read-env.json")
	cases := []struct {
		name   string
		header []string
		want   string
	}{
		{name: "absolute home is used", header: []string{"X-Cavra-Agent-Home", "/home/alice/"}, want: "/home/alice"},
		{name: "relative home is ignored", header: []string{"X-Cavra-Agent-Home", "alice"}, want: ""},
		{name: "no header", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			env.gov.decision = cavra.Decision{ID: "d", Outcome: cavra.Allow}
			rec := env.do(t, "POST", "/v1/hooks/claude-code", agentSecret, payload, tc.header...)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			env.gov.mu.Lock()
			defer env.gov.mu.Unlock()
			if n := len(env.gov.decided); n != 1 {
				t.Fatalf("%d decisions", n)
			}
			if got := env.gov.decided[0].action.Home; got != tc.want {
				t.Fatalf("action home %q, want %q", got, tc.want)
			}
		})
	}
}
