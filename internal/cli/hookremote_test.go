package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooklite"
	"github.com/cavra-dev/cavra/internal/hooks/cursor"
)

const testToken = "cavra_test_token"

// cpRequest is one request the fake control plane received.
type cpRequest struct {
	method, path, auth, contentType string
	body                            []byte
}

// fakeControlPlane implements the hook part of the `cavra serve` contract: POST
// /v1/hooks/{host} with a bearer token, answered by respond.
type fakeControlPlane struct {
	url  string
	mu   sync.Mutex
	reqs []cpRequest
}

func newFakeControlPlane(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, host string)) *fakeControlPlane {
	t.Helper()
	cp := &fakeControlPlane{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cp.mu.Lock()
		cp.reqs = append(cp.reqs, cpRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
		cp.mu.Unlock()
		host, ok := strings.CutPrefix(r.URL.Path, "/v1/hooks/")
		switch {
		case !ok || r.Method != http.MethodPost:
			problem(w, http.StatusNotFound, "Not Found", r.URL.Path)
		case r.Header.Get("Authorization") != "Bearer "+testToken:
			problem(w, http.StatusUnauthorized, "Unauthorized", "token unknown or revoked")
		default:
			if respond == nil {
				// Hang until the client gives up or the test ends.
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			respond(w, r, host)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets hung handlers return before Close waits on them
	cp.url = srv.URL
	return cp
}

func (cp *fakeControlPlane) requests() []cpRequest {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]cpRequest(nil), cp.reqs...)
}

func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}

// answerFor is what the fake control plane answers each host.
var answerFor = map[string]string{
	"claude-code": `{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"CAVRA block [remote.rule]: from the server"}}`,
	"codex":       `{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"from the server"}}`,
	"cursor":      `{"permission":"ask","user_message":"from the server","agent_message":"from the server"}`,
	"gemini":      `{"decision":"deny","reason":"from the server"}`,
}

func answerHost(w http.ResponseWriter, _ *http.Request, host string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Cavra-Decision-Id", "dec-1")
	w.Header().Set("X-Cavra-Outcome", "block")
	_, _ = io.WriteString(w, answerFor[host]+"\n")
}

// remoteHostPayloads are a decision payload of each host, from the adapters' testdata.
var remoteHostPayloads = []struct{ host, dir, file string }{
	{"claude-code", "claudecode", "bash-force-push.json"},
	{"codex", "codex", "bash-force-push.json"},
	{"cursor", "cursor", "shell-force-push.json"},
	{"gemini", "gemini", "shell-force-push.json"},
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func remoteEnv(t *testing.T, server string) map[string]string {
	t.Helper()
	return map[string]string{"CAVRA_HOME": t.TempDir(), "CAVRA_SERVER": server, "CAVRA_TOKEN": testToken}
}

func TestRemoteHookPassesAnswerThrough(t *testing.T) {
	for _, h := range remoteHostPayloads {
		t.Run(h.host, func(t *testing.T) {
			cp := newFakeControlPlane(t, answerHost)
			env := remoteEnv(t, cp.url)
			payload := hostPayload(t, h.dir, h.file)
			r := runCLI(t, env, payload, "hook", h.host)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			if r.stdout != answerFor[h.host]+"\n" {
				t.Fatalf("stdout %q, want the server's answer", r.stdout)
			}
			if r.stderr != "" {
				t.Fatalf("stderr %q", r.stderr)
			}
			reqs := cp.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			if got.method != http.MethodPost || got.path != "/v1/hooks/"+h.host || got.auth != "Bearer "+testToken || got.contentType != "application/json" {
				t.Fatalf("request %s %s auth %q content-type %q", got.method, got.path, got.auth, got.contentType)
			}
			if string(got.body) != payload {
				t.Fatalf("payload not forwarded as the host sent it:\n%s\nwant\n%s", got.body, payload)
			}
			// Remote mode decides nothing locally: no policy, no store, no audit log.
			if entries, err := os.ReadDir(env["CAVRA_HOME"]); err != nil || len(entries) != 0 {
				t.Fatalf("data home touched in remote mode: %v %v", entries, err)
			}
		})
	}
}

func TestRemoteHookSettings(t *testing.T) {
	cp := newFakeControlPlane(t, answerHost)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	payload := hostPayload(t, "claudecode", "bash-force-push.json")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stdout when code is 0, else in stderr
	}{
		{name: "flags instead of env", args: []string{"--server", cp.url, "--token", testToken}, want: "from the server"},
		{name: "token file by env", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN_FILE": tokenFile}, want: "from the server"},
		{name: "token file by flag", env: map[string]string{"CAVRA_SERVER": cp.url}, args: []string{"--token-file", tokenFile}, want: "from the server"},
		{name: "token flag beats env", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": "wrong"}, args: []string{"--token", testToken}, want: "from the server"},
		{name: "timeout in seconds", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": testToken, "CAVRA_TIMEOUT": "1.5"}, want: "from the server"},
		{name: "missing token", env: map[string]string{"CAVRA_SERVER": cp.url}, code: exitUsage, want: "CAVRA_TOKEN is not set"},
		{name: "missing token even with fail-open", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_FAIL_OPEN": "1"}, code: exitUsage, want: "CAVRA_TOKEN is not set"},
		{name: "missing token file", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN_FILE": tokenFile + ".nope"}, code: exitUsage, want: "read token file"},
		{name: "bad timeout", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": testToken, "CAVRA_TIMEOUT": "soon"}, code: exitUsage, want: "CAVRA_TIMEOUT"},
		{name: "zero timeout", args: []string{"--server", cp.url, "--token", testToken, "--timeout", "0s"}, code: exitUsage, want: "must be positive"},
		{name: "bad fail-open", env: map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": testToken, "CAVRA_FAIL_OPEN": "maybe"}, code: exitUsage, want: "CAVRA_FAIL_OPEN"},
		{name: "not an http URL", env: map[string]string{"CAVRA_SERVER": "ftp://127.0.0.1", "CAVRA_TOKEN": testToken}, code: exitUsage, want: "http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CAVRA_HOME": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, env, payload, append([]string{"hook", "claude-code"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code == 0 {
				if !strings.Contains(r.stdout, tt.want) {
					t.Fatalf("stdout %q", r.stdout)
				}
				return
			}
			if r.stdout != "" || !strings.Contains(r.stderr, "blocked by CAVRA (fail closed)") || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stdout %q stderr %q, want a block naming %q", r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestRemoteHookFailsClosed(t *testing.T) {
	serverError := func(w http.ResponseWriter, _ *http.Request, _ string) {
		problem(w, http.StatusInternalServerError, "Internal Server Error", "the store is down")
	}
	notObject := func(w http.ResponseWriter, _ *http.Request, _ string) { _, _ = io.WriteString(w, `["allow"]`) }
	invalid := func(w http.ResponseWriter, _ *http.Request, _ string) {
		problem(w, http.StatusBadRequest, "Invalid hook payload", "tool_input must be a JSON object")
	}
	tests := []struct {
		name    string
		server  func(t *testing.T) string
		env     map[string]string
		args    []string
		payload string
		want    []string
	}{
		{name: "server error", server: func(t *testing.T) string { return newFakeControlPlane(t, serverError).url },
			want: []string{"control plane at http://127.0.0.1:", "is unreachable", "500 Internal Server Error: the store is down"}},
		{name: "token refused", server: func(t *testing.T) string { return newFakeControlPlane(t, answerHost).url },
			env: map[string]string{"CAVRA_TOKEN": "revoked"}, want: []string{"refused the token", "401 Unauthorized: token unknown or revoked"}},
		{name: "token refused even with fail-open", server: func(t *testing.T) string { return newFakeControlPlane(t, answerHost).url },
			env: map[string]string{"CAVRA_TOKEN": "revoked", "CAVRA_FAIL_OPEN": "1"}, want: []string{"refused the token"}},
		{name: "payload rejected even with fail-open", server: func(t *testing.T) string { return newFakeControlPlane(t, invalid).url },
			args: []string{"--fail-open"}, want: []string{"rejected the hook payload", "tool_input must be a JSON object"}},
		{name: "timeout", server: func(t *testing.T) string { return newFakeControlPlane(t, nil).url },
			args: []string{"--timeout", "200ms"}, want: []string{"is unreachable", "no answer in time"}},
		{name: "timeout by env", server: func(t *testing.T) string { return newFakeControlPlane(t, nil).url },
			env: map[string]string{"CAVRA_TIMEOUT": "200ms"}, want: []string{"is unreachable", "no answer in time"}},
		{name: "closed port", server: closedPort, want: []string{"is unreachable", "connection refused"}},
		{name: "answer not a JSON object", server: func(t *testing.T) string { return newFakeControlPlane(t, notObject).url },
			want: []string{"failed to answer", "not a JSON object"}},
		{name: "fail-open with a malformed payload", server: closedPort, args: []string{"--fail-open"}, payload: "not json",
			want: []string{"is unreachable", "fail-open: decode hook payload"}},
		{name: "fail-open off by env", server: closedPort, env: map[string]string{"CAVRA_FAIL_OPEN": "0"}, want: []string{"is unreachable"}},
		{name: "fail-open flag beats env", server: closedPort, env: map[string]string{"CAVRA_FAIL_OPEN": "1"}, args: []string{"--fail-open=false"}, want: []string{"is unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := remoteEnv(t, tt.server(t))
			for k, v := range tt.env {
				env[k] = v
			}
			payload := tt.payload
			if payload == "" {
				payload = hostPayload(t, "claudecode", "bash-force-push.json")
			}
			r := runCLI(t, env, payload, append([]string{"hook", "claude-code"}, tt.args...)...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want 2 (block); stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			if r.stdout != "" {
				t.Fatalf("stdout %q on a block", r.stdout)
			}
			for _, w := range append([]string{"blocked by CAVRA (fail closed)"}, tt.want...) {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr %q does not say %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, testToken) {
				t.Fatalf("stderr prints the token: %q", r.stderr)
			}
			if len(readDecisionsIfAny(t, env["CAVRA_HOME"])) != 0 {
				t.Fatal("a blocked remote hook recorded a local decision")
			}
		})
	}
}

// readDecisionsIfAny is readDecisions for a data home that may not have been created.
func readDecisionsIfAny(t *testing.T, root string) []cavra.DecisionRecord {
	t.Helper()
	if entries, err := os.ReadDir(root); err != nil || len(entries) == 0 {
		return nil
	}
	return readDecisions(t, root)
}

func TestRemoteHookFailOpen(t *testing.T) {
	unavailable := func(w http.ResponseWriter, _ *http.Request, _ string) {
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", "shutting down")
	}
	tests := []struct {
		name, host, dir, file string
		server                func(t *testing.T) string
		stdout                string // exact; "" means nothing printed
		cursorPermission      string
		kind                  cavra.Kind
		event                 string
	}{
		{name: "claude-code prints nothing", host: "claude-code", dir: "claudecode", file: "bash-force-push.json", server: closedPort, kind: cavra.KindCommandExec},
		{name: "codex prints nothing", host: "codex", dir: "codex", file: "bash-force-push.json", server: closedPort, kind: cavra.KindCommandExec},
		{name: "gemini prints nothing", host: "gemini", dir: "gemini", file: "shell-force-push.json", server: closedPort, kind: cavra.KindCommandExec},
		{name: "gemini on 503", host: "gemini", dir: "gemini", file: "read-env.json",
			server: func(t *testing.T) string { return newFakeControlPlane(t, unavailable).url }, kind: cavra.KindFileRead},
		{name: "cursor shell asks", host: "cursor", dir: "cursor", file: "shell-force-push.json", server: closedPort, cursorPermission: "ask", kind: cavra.KindCommandExec},
		{name: "cursor read allows", host: "cursor", dir: "cursor", file: "read-env.json", server: closedPort, stdout: `{"permission":"allow"}` + "\n", kind: cavra.KindFileRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := tt.server(t)
			env := remoteEnv(t, server)
			env["CAVRA_FAIL_OPEN"] = "1"
			mirror := filepath.Join(t.TempDir(), "decisions.jsonl")
			env["CAVRA_DECISION_LOG"] = mirror
			r := runCLI(t, env, hostPayload(t, tt.dir, tt.file), "hook", tt.host)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			if tt.cursorPermission != "" {
				var ans cursor.Answer
				if err := json.Unmarshal([]byte(r.stdout), &ans); err != nil || ans.Permission != tt.cursorPermission || !strings.Contains(ans.UserMessage, "fail-open") {
					t.Fatalf("stdout %q: %v", r.stdout, err)
				}
			} else if r.stdout != tt.stdout {
				t.Fatalf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			for _, w := range []string{"warning", "control plane at " + server, "fail-open", FailOpenRule} {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr %q does not say %q", r.stderr, w)
				}
			}

			recs := readDecisions(t, env["CAVRA_HOME"])
			if len(recs) != 1 {
				t.Fatalf("%d decisions recorded, want 1", len(recs))
			}
			d, a := recs[0].Decision, recs[0].Action
			if d.Outcome != cavra.AuditOnly || d.RuleID != FailOpenRule || !strings.Contains(d.Reason, server) {
				t.Fatalf("recorded decision %+v", d)
			}
			if a.Source.Host != tt.host || a.Kind != tt.kind || (tt.event != "" && a.Source.Event != tt.event) {
				t.Fatalf("recorded action %+v", a)
			}
			if !strings.Contains(r.stderr, recs[0].ID) {
				t.Fatalf("stderr %q does not name decision %s", r.stderr, recs[0].ID)
			}
			if b, err := os.ReadFile(mirror); err != nil || !strings.Contains(string(b), FailOpenRule) {
				t.Fatalf("decision log mirror: %q %v", b, err)
			}
			if r := runCLI(t, env, "", "audit", "verify"); r.code != 0 {
				t.Fatalf("audit verify after fail-open: exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestRemoteHookFailOpenNeedsLocalEvidence(t *testing.T) {
	// A data home that cannot be created: fail-open cannot be recorded, so the hook blocks.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := remoteEnv(t, closedPort(t))
	env["CAVRA_HOME"] = filepath.Join(blocker, "home")
	r := runCLI(t, env, hostPayload(t, "claudecode", "bash-force-push.json"), "hook", "claude-code", "--fail-open")
	if r.code != exitUsage || r.stdout != "" {
		t.Fatalf("exit %d stdout %q, want a block", r.code, r.stdout)
	}
	for _, w := range []string{"blocked by CAVRA (fail closed)", "is unreachable", "fail-open could not be recorded locally"} {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr %q does not say %q", r.stderr, w)
		}
	}
}

func TestRemoteHookPayloadLimit(t *testing.T) {
	cp := newFakeControlPlane(t, answerHost)
	r := runCLI(t, remoteEnv(t, cp.url), strings.Repeat(" ", maxHookPayload+1), "hook", "cursor")
	if r.code != exitUsage || !strings.Contains(r.stderr, "larger than") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if n := len(cp.requests()); n != 0 {
		t.Fatalf("an oversize payload was forwarded (%d requests)", n)
	}
}

func TestRemoteHookFailedByCavraHook(t *testing.T) {
	const cause = "the CAVRA control plane at http://cp.test is unreachable: connection refused"
	tests := []struct {
		name     string
		failOpen string
		asked    bool // the control plane is asked and its answer printed
	}{
		// cavra-hook got no answer and hands the fail-open over: no second attempt.
		{name: "fail-open on skips the control plane", failOpen: "1"},
		// Without fail-open the variable grants nothing: the control plane decides.
		{name: "fail-open off ignores it", failOpen: "0", asked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := newFakeControlPlane(t, answerHost)
			env := remoteEnv(t, cp.url)
			env["CAVRA_FAIL_OPEN"] = tt.failOpen
			env[hooklite.RemoteFailedVar] = cause
			r := runCLI(t, env, hostPayload(t, "claudecode", "bash-force-push.json"), "hook", "claude-code")
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			if n := len(cp.requests()); (n == 1) != tt.asked {
				t.Fatalf("%d requests to the control plane, asked %v", n, tt.asked)
			}
			if tt.asked {
				if r.stdout != answerFor["claude-code"]+"\n" || len(readDecisionsIfAny(t, env["CAVRA_HOME"])) != 0 {
					t.Fatalf("stdout %q; want the server's answer and no local record", r.stdout)
				}
				return
			}
			if r.stdout != "" || !strings.Contains(r.stderr, "warning: "+cause) || !strings.Contains(r.stderr, FailOpenRule) {
				t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
			}
			recs := readDecisions(t, env["CAVRA_HOME"])
			if len(recs) != 1 || recs[0].Decision.RuleID != FailOpenRule || !strings.Contains(recs[0].Decision.Reason, cause) {
				t.Fatalf("recorded %+v", recs)
			}
		})
	}
}

// TestRemoteHookContentEventsStayLocal checks that in remote mode a tool's output or a prompt
// is answered by the local secret check, exactly as in local mode, and never sent to the server
// (which answers only decision events).
func TestRemoteHookContentEventsStayLocal(t *testing.T) {
	cases := []struct{ host, dir, file string }{
		{"codex", "codex", "post-tool-use-secret.json"},
		{"codex", "codex", "user-prompt-secret.json"},
		{"codex", "codex", "user-prompt.json"},
		{"cursor", "cursor", "after-shell-secret.json"},
		{"cursor", "cursor", "prompt-secret.json"},
		{"cursor", "cursor", "prompt.json"},
		{"gemini", "gemini", "after-tool-secret.json"},
		{"gemini", "gemini", "before-agent-secret.json"},
		{"gemini", "gemini", "after-tool-clean.json"},
	}
	for _, tc := range cases {
		t.Run(tc.host+"/"+tc.file, func(t *testing.T) {
			payload := hostPayload(t, tc.dir, tc.file)
			local := runCLI(t, hookEnv(t), payload, "hook", tc.host)
			cp := newFakeControlPlane(t, answerHost)
			remote := runCLI(t, remoteEnv(t, cp.url), payload, "hook", tc.host)
			if remote.code != local.code || remote.stdout != local.stdout {
				t.Fatalf("remote mode: exit %d stdout %q; local mode: exit %d stdout %q", remote.code, remote.stdout, local.code, local.stdout)
			}
			if n := len(cp.requests()); n != 0 {
				t.Fatalf("%d requests reached the control plane for a content event", n)
			}
		})
	}
}
