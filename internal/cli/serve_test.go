package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/client"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/testenv"
)

// liveServer is a `cavra serve` running in-process on a loopback port.
type liveServer struct {
	url    string
	env    map[string]string
	admin  string
	stderr *syncBuffer
	stop   func() int
}

var listenLine = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

func startServe(t *testing.T, env map[string]string, args ...string) *liveServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errb := &syncBuffer{}
	rt := &runtime{stdin: strings.NewReader(""), stdout: io.Discard, stderr: errb, getenv: func(k string) string { return env[k] }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--expiry-sweep", "200ms"}, args...), rt)
	}()
	s := &liveServer{env: env, stderr: errb}
	var code int
	stopped := false
	s.stop = func() int {
		if !stopped {
			cancel()
			code, stopped = <-done, true
		}
		return code
	}
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(errb.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited %d before listening: %s", c, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s.url == "" {
		t.Fatalf("serve did not start: %s", errb.String())
	}
	admin, err := os.ReadFile(filepath.Join(env["CAVRA_HOME"], AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	s.admin = strings.TrimSpace(string(admin))
	return s
}

func (s *liveServer) token(t *testing.T, name, role string, extra ...string) string {
	t.Helper()
	r := runCLI(t, s.env, "", append([]string{"token", "create", "--name", name, "--role", role}, extra...)...)
	if r.code != 0 {
		t.Fatalf("token create: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return lines[len(lines)-1]
}

func (s *liveServer) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(s.url, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func shellAction(line string) cavra.Action {
	return cavra.Action{Kind: cavra.KindCommandExec, Cwd: "/srv/app", Command: &cavra.Command{Line: line}}
}

// TestServeEndToEnd runs the control plane on embedded defaults and uses it as a team would:
// tokens, decisions, an approval that gates, a remote-mode hook, events, then a graceful stop
// after which the audit log verifies and holds every acknowledged decision.
func TestServeEndToEnd(t *testing.T) {
	env := map[string]string{"CAVRA_HOME": t.TempDir()}
	srv := startServe(t, env)
	info, err := os.Stat(filepath.Join(env["CAVRA_HOME"], AdminTokenFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v, mode %v", err, info.Mode())
	}
	if !strings.Contains(srv.stderr.String(), "admin API token") {
		t.Fatalf("serve did not say where the admin token is: %s", srv.stderr.String())
	}
	ctx := context.Background()
	agentSecret := srv.token(t, "alice", "agent")
	agent := srv.client(t, agentSecret)
	approver := srv.client(t, srv.token(t, "bob", "approver"))
	admin := srv.client(t, srv.admin)

	// Events are followed from the start, over the API, while the rest happens.
	evCtx, stopEvents := context.WithCancel(ctx)
	var (
		evMu   sync.Mutex
		events []cavra.Event
		evDone = make(chan error, 1)
	)
	go func() {
		evDone <- admin.Events(evCtx, "", true, func(e cavra.Event) error {
			evMu.Lock()
			events = append(events, e)
			evMu.Unlock()
			return nil
		})
	}()

	var acked []string
	decide := func(c *client.Client, a cavra.Action) cavra.Decision {
		t.Helper()
		d, err := c.Decide(ctx, a)
		if err != nil {
			t.Fatalf("decide %q: %v", a.Command.Line, err)
		}
		acked = append(acked, d.ID)
		return d
	}
	if d := decide(agent, shellAction("go test ./...")); d.Outcome != cavra.Allow {
		t.Fatalf("everyday command: %s", d.Outcome)
	}
	if d := decide(agent, shellAction("git push --force origin main")); d.Outcome != cavra.Block {
		t.Fatalf("force push: %s", d.Outcome)
	}

	// An agent cannot act as someone else: the server sets the principal from the token.
	spoof := shellAction("terraform apply")
	spoof.Principal = "bob"
	gated := decide(agent, spoof)
	if gated.Outcome != cavra.RequireApproval || gated.ApprovalID == "" {
		t.Fatalf("terraform apply: %s, approval %q", gated.Outcome, gated.ApprovalID)
	}
	ap, err := approver.Approval(ctx, gated.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if ap.Requester != "alice" {
		t.Fatalf("requester %q, want alice (the token's principal, not the claimed bob)", ap.Requester)
	}
	if _, err := agent.Approve(ctx, gated.ApprovalID, "self"); cavra.Code(err) != cavra.ErrForbidden {
		t.Fatalf("agent approving: err = %v, want forbidden", err)
	}
	if _, err := approver.Approve(ctx, gated.ApprovalID, "reviewed"); err != nil {
		t.Fatal(err)
	}
	if d := decide(agent, shellAction("terraform apply")); d.Outcome != cavra.Allow || d.ApprovalID != gated.ApprovalID {
		t.Fatalf("approved retry: %s (approval %q)", d.Outcome, d.ApprovalID)
	}
	if d := decide(agent, shellAction("terraform apply -target=module.db")); d.Outcome != cavra.RequireApproval {
		t.Fatalf("a different action after the grant: %s", d.Outcome)
	}
	if d := decide(agent, shellAction("terraform apply")); d.Outcome != cavra.RequireApproval {
		t.Fatalf("second retry of a single-use grant: %s", d.Outcome)
	}

	// Break glass on the pending request, by its requester.
	pending, err := approver.Approvals(ctx, cavra.ApprovalPending)
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending approvals: %v (%d)", err, len(pending))
	}
	bg := runCLI(t, map[string]string{"CAVRA_SERVER": srv.url, "CAVRA_TOKEN": agentSecret}, "",
		"approvals", "break-glass", pending[0].ID, "--justification", "prod outage, fixing the db now", "--ttl", "10m")
	if bg.code != 0 {
		t.Fatalf("break-glass: exit %d: %s", bg.code, bg.stderr)
	}

	// A remote-mode hook: the Claude Code payload goes to the server, its answer comes back.
	hookEnv := map[string]string{"CAVRA_SERVER": srv.url, "CAVRA_TOKEN": agentSecret, "CAVRA_HOME": t.TempDir()}
	r := runCLI(t, hookEnv, bashPayload("git push --force origin main"), "hook", "claude-code")
	if r.code != 0 {
		t.Fatalf("remote hook: exit %d: %s", r.code, r.stderr)
	}
	var answer claudecode.Answer
	if err := json.Unmarshal([]byte(r.stdout), &answer); err != nil {
		t.Fatalf("hook answer %q: %v", r.stdout, err)
	}
	if answer.HookSpecificOutput.PermissionDecision != "deny" {
		t.Fatalf("hook answer %s, want deny", r.stdout)
	}
	// Revoked tokens are refused (the server's token cache lives a second).
	if r := runCLI(t, srv.env, "", "token", "revoke", "alice"); r.code != 0 {
		t.Fatalf("token revoke: %d %s", r.code, r.stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := agent.Decide(ctx, shellAction("ls"))
		if cavra.Code(err) == cavra.ErrUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked token still accepted: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = runCLI(t, hookEnv, bashPayload("ls"), "hook", "claude-code")
	if r.code != 2 || !strings.Contains(r.stderr, "token") {
		t.Fatalf("hook with a revoked token: exit %d, stderr %q; want a fail-closed block naming the token", r.code, r.stderr)
	}

	// Every state change reached the bus.
	want := []cavra.EventType{cavra.EventDecisionMade, cavra.EventApprovalRequested, cavra.EventApprovalGranted, cavra.EventBreakGlassUsed}
	deadline = time.Now().Add(10 * time.Second)
	for {
		evMu.Lock()
		seen := map[cavra.EventType]bool{}
		ids := map[string]bool{}
		dup := ""
		for _, e := range events {
			seen[e.Type] = true
			if ids[e.ID] {
				dup = e.ID
			}
			ids[e.ID] = true
		}
		evMu.Unlock()
		if dup != "" {
			t.Fatalf("event id %s delivered twice", dup)
		}
		missing := ""
		for _, w := range want {
			if !seen[w] {
				missing = string(w)
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event among %d", missing, len(events))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopEvents()
	if err := <-evDone; err != nil {
		t.Fatalf("events stream: %v", err)
	}

	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, srv.stderr.String())
	}
	v := runCLI(t, env, "", "audit", "verify")
	if v.code != 0 || !strings.HasPrefix(v.stdout, "ok:") {
		t.Fatalf("audit verify after stop: exit %d: %s %s", v.code, v.stdout, v.stderr)
	}
	list := runCLI(t, env, "", "audit", "list", "--json")
	for _, id := range acked {
		if !strings.Contains(list.stdout, id) {
			t.Fatalf("acknowledged decision %s is not in the audit log", id)
		}
	}
}

// TestServeExternalServices runs the control plane on the machine's PostgreSQL and NATS.
func TestServeExternalServices(t *testing.T) {
	dsn := testenv.Postgres(t)
	natsURL := testenv.NATS(t)
	schema := fmt.Sprintf("cavra_serve_%d", time.Now().UnixNano())
	env := map[string]string{"CAVRA_HOME": t.TempDir(), "CAVRA_POSTGRES": dsn, "CAVRA_POSTGRES_SCHEMA": schema}
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	srv := startServe(t, env, "--nats", natsURL)
	agent := srv.client(t, srv.token(t, "ci-bot", "agent"))
	approver := srv.client(t, srv.token(t, "carol", "approver"))
	ctx := context.Background()
	d, err := agent.Decide(ctx, shellAction("helm upgrade api ./chart --kube-context prod"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != cavra.RequireApproval {
		t.Fatalf("outcome %s", d.Outcome)
	}
	if _, err := approver.Approve(ctx, d.ApprovalID, "ok"); err != nil {
		t.Fatal(err)
	}
	if d2, err := agent.Decide(ctx, shellAction("helm upgrade api ./chart --kube-context prod")); err != nil || d2.Outcome != cavra.Allow {
		t.Fatalf("approved retry: %v %s", err, d2.Outcome)
	}
	// The event went through the external NATS: follow it back from there.
	got := make(chan cavra.Event, 1)
	evCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go srv.client(t, srv.admin).Events(evCtx, cavra.EventApprovalGranted, true, func(e cavra.Event) error {
		if strings.Contains(string(e.Data), d.ApprovalID) {
			got <- e
			cancel()
		}
		return nil
	})
	select {
	case <-got:
	case <-evCtx.Done():
		t.Fatal("approval.granted for the approval never arrived from NATS")
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, srv.stderr.String())
	}
}

func dropSchema(t *testing.T, dsn, schema string) {
	t.Helper()
	st, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{SkipMigrate: true})
	if err != nil {
		t.Logf("drop schema %s: %v", schema, err)
		return
	}
	defer st.Close()
	if _, err := st.SQL().Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
		t.Logf("drop schema %s: %v", schema, err)
	}
}

// The raw HTTP checks below speak to the server as a hand-written client would.
func TestServeRejectsBadInputWithoutStateChange(t *testing.T) {
	env := map[string]string{"CAVRA_HOME": t.TempDir()}
	srv := startServe(t, env)
	agent := srv.token(t, "alice", "agent")
	cases := []struct {
		name   string
		token  string
		body   string
		status int
	}{
		{"no token", "", `{"kind":"command.exec","command":{"line":"ls"}}`, 401},
		{"bad token", "cavra_nope", `{"kind":"command.exec","command":{"line":"ls"}}`, 401},
		{"malformed json", agent, `{"kind":`, 400},
		{"unknown field", agent, `{"kind":"command.exec","command":{"line":"ls"},"sudo":true}`, 422},
		{"wrong type", agent, `{"kind":42}`, 422},
		{"oversized", agent, `{"kind":"command.exec","command":{"line":"` + strings.Repeat("a", 2<<20) + `"}}`, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.url+"/v1/decisions", strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("status %d %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
			}
		})
	}
	srv.stop()
	v := runCLI(t, env, "", "audit", "verify")
	if !strings.Contains(v.stdout, "ok: 0 entries") {
		t.Fatalf("bad requests changed the log: %s %s", v.stdout, v.stderr)
	}
}
