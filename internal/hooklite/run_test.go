package hooklite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "cavra_test_token"

const testPayload = `{"session_id":"s","cwd":"/repo","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"git push --force origin main"}}`

// decisionPayload is a payload of host's decision event (a tool about to run).
func decisionPayload(host string) string {
	event := map[string]string{"claude-code": "PreToolUse", "codex": "PreToolUse", "cursor": "beforeShellExecution", "gemini": "BeforeTool"}[host]
	return strings.Replace(testPayload, `"PreToolUse"`, `"`+event+`"`, 1)
}

type cpRequest struct {
	method, path, auth, contentType string
	body                            []byte
}

// controlPlane is the hook part of the `cavra serve` contract: POST /v1/hooks/{host} with a
// bearer token, answered by respond (nil: never answers).
type controlPlane struct {
	url  string
	mu   sync.Mutex
	reqs []cpRequest
}

func newControlPlane(t *testing.T, respond func(w http.ResponseWriter, host string)) *controlPlane {
	t.Helper()
	cp := &controlPlane{}
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
		case respond == nil:
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			respond(w, host)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: hung handlers return before Close waits
	cp.url = srv.URL
	return cp
}

func (cp *controlPlane) requests() []cpRequest {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]cpRequest(nil), cp.reqs...)
}

func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}

func answer(w http.ResponseWriter, host string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"answer_for":"`+host+`"}`+"\n")
}

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

// untouchedStdin fails the test when read: a hand-over must leave stdin to the full binary.
type untouchedStdin struct{ t *testing.T }

func (u untouchedStdin) Read([]byte) (int, error) {
	u.t.Error("stdin read before the hand-over")
	return 0, io.EOF
}

type result struct {
	code           int
	stdout, stderr string
	execs          [][]string // argv of each Exec
}

// fakeInstall lays out dir/cavra-hook and dir/cavra as `make build` does; the files are never
// run (Exec is recorded, not performed).
func fakeInstall(t *testing.T, withCavra bool) string {
	t.Helper()
	dir := t.TempDir()
	names := []string{"cavra-hook"}
	if withCavra {
		names = append(names, "cavra")
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, dir string, env map[string]string, stdin io.Reader, args ...string) result {
	t.Helper()
	var r result
	var stdout, stderr bytes.Buffer
	p := Proc{
		Stdin:      stdin,
		Stdout:     &stdout,
		Stderr:     &stderr,
		Getenv:     func(k string) string { return env[k] },
		Environ:    []string{"A=1"},
		Executable: func() (string, error) { return filepath.Join(dir, "cavra-hook"), nil },
		LookPath:   func(string) (string, error) { return "", errors.New("not in PATH") },
		Exec: func(path string, argv, env []string) error {
			if path != argv[0] || !reflect.DeepEqual(env, []string{"A=1"}) {
				t.Errorf("exec %s argv %q env %q", path, argv, env)
			}
			r.execs = append(r.execs, argv)
			return nil
		},
	}
	r.code = Run(context.Background(), args, p)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

func TestRunPassesAnswerThrough(t *testing.T) {
	for _, host := range Hosts {
		t.Run(host, func(t *testing.T) {
			cp := newControlPlane(t, answer)
			env := map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": testToken}
			payload := decisionPayload(host)
			r := run(t, fakeInstall(t, true), env, strings.NewReader(payload), host)
			if r.code != 0 || r.stderr != "" || len(r.execs) != 0 {
				t.Fatalf("exit %d stderr %q execs %q", r.code, r.stderr, r.execs)
			}
			if want := `{"answer_for":"` + host + `"}` + "\n"; r.stdout != want {
				t.Fatalf("stdout %q, want %q", r.stdout, want)
			}
			reqs := cp.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			if got.method != http.MethodPost || got.path != "/v1/hooks/"+host || got.auth != "Bearer "+testToken || got.contentType != "application/json" || string(got.body) != payload {
				t.Fatalf("request %s %s auth %q content-type %q body %q", got.method, got.path, got.auth, got.contentType, got.body)
			}
		})
	}
}

func TestRunFailsClosed(t *testing.T) {
	notObject := func(w http.ResponseWriter, _ string) { _, _ = io.WriteString(w, `["allow"]`) }
	invalid := func(w http.ResponseWriter, _ string) {
		problem(w, http.StatusBadRequest, "Invalid hook payload", "tool_input must be a JSON object")
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		server  func(t *testing.T) string
		env     map[string]string
		args    []string
		payload string
		want    []string
	}{
		{name: "token refused", server: func(t *testing.T) string { return newControlPlane(t, answer).url },
			env: map[string]string{"CAVRA_TOKEN": "revoked"}, want: []string{"refused the token (check CAVRA_TOKEN)", "401 Unauthorized: token unknown or revoked"}},
		{name: "token refused even with fail-open", server: func(t *testing.T) string { return newControlPlane(t, answer).url },
			env: map[string]string{"CAVRA_TOKEN": "revoked"}, args: []string{"--fail-open"}, want: []string{"refused the token"}},
		{name: "payload rejected even with fail-open", server: func(t *testing.T) string { return newControlPlane(t, invalid).url },
			env: map[string]string{"CAVRA_FAIL_OPEN": "true"}, want: []string{"rejected the hook payload", "tool_input must be a JSON object"}},
		{name: "timeout", server: func(t *testing.T) string { return newControlPlane(t, nil).url },
			args: []string{"--timeout", "200ms"}, want: []string{"is unreachable", "no answer in time"}},
		{name: "timeout by env in seconds", server: func(t *testing.T) string { return newControlPlane(t, nil).url },
			env: map[string]string{"CAVRA_TIMEOUT": "0.2"}, want: []string{"is unreachable", "no answer in time"}},
		{name: "closed port", server: closedPort, want: []string{"is unreachable", "connection refused"}},
		{name: "closed port, fail-open off by flag", server: closedPort, env: map[string]string{"CAVRA_FAIL_OPEN": "1"}, args: []string{"--fail-open=false"}, want: []string{"connection refused"}},
		{name: "answer not a JSON object", server: func(t *testing.T) string { return newControlPlane(t, notObject).url },
			want: []string{"failed to answer", "not a JSON object"}},
		{name: "oversize payload", server: func(t *testing.T) string { return newControlPlane(t, answer).url },
			payload: strings.Repeat(" ", MaxPayload+1), want: []string{"hook payload larger than 33554432 bytes"}},
		{name: "missing token", server: closedPort, env: map[string]string{"CAVRA_TOKEN": ""}, want: []string{"CAVRA_TOKEN is not set"}},
		{name: "empty token file", server: closedPort, env: map[string]string{"CAVRA_TOKEN": ""}, args: []string{"--token-file", tokenFile}, want: []string{"token file " + tokenFile + " is empty"}},
		{name: "bad timeout", server: closedPort, env: map[string]string{"CAVRA_TIMEOUT": "soon"}, want: []string{`CAVRA_TIMEOUT: "soon" is not a duration`}},
		{name: "zero timeout", server: closedPort, args: []string{"--timeout=0s"}, want: []string{"--timeout must be positive"}},
		{name: "bad fail-open", server: closedPort, env: map[string]string{"CAVRA_FAIL_OPEN": "maybe"}, want: []string{`CAVRA_FAIL_OPEN="maybe"`}},
		{name: "not an http URL", server: func(*testing.T) string { return "ftp://127.0.0.1" }, want: []string{"CAVRA_SERVER: server URL", "http or https"}},
		{name: "fail-open without the full binary", server: closedPort, args: []string{"--fail-open"},
			want: []string{"is unreachable", "fail-open could not be recorded locally", "neither beside cavra-hook nor in PATH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := tt.server(t)
			env := map[string]string{"CAVRA_SERVER": server, "CAVRA_TOKEN": testToken}
			for k, v := range tt.env {
				env[k] = v
			}
			payload := tt.payload
			if payload == "" {
				payload = testPayload
			}
			r := run(t, fakeInstall(t, false), env, strings.NewReader(payload), append([]string{"claude-code"}, tt.args...)...)
			if r.code != 2 || r.stdout != "" || len(r.execs) != 0 {
				t.Fatalf("exit %d stdout %q execs %q, want a block", r.code, r.stdout, r.execs)
			}
			if !strings.HasPrefix(r.stderr, "cavra: blocked by CAVRA (fail closed): ") {
				t.Fatalf("stderr %q", r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr %q does not say %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, testToken) {
				t.Fatalf("stderr prints the token: %q", r.stderr)
			}
		})
	}
}

func TestRunOversizePayloadIsNotForwarded(t *testing.T) {
	cp := newControlPlane(t, answer)
	env := map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": testToken}
	r := run(t, fakeInstall(t, true), env, strings.NewReader(strings.Repeat(" ", MaxPayload+1)), "cursor")
	if r.code != 2 || len(cp.requests()) != 0 {
		t.Fatalf("exit %d, %d requests", r.code, len(cp.requests()))
	}
}

func TestRunHandsOver(t *testing.T) {
	remote := map[string]string{"CAVRA_SERVER": "http://127.0.0.1:1", "CAVRA_TOKEN": testToken}
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{name: "local mode", args: []string{"claude-code", "--policy", "strict", "--decision-log=/tmp/d.jsonl"}},
		{name: "local mode, every host", args: []string{"gemini", "--fail-open", "--timeout", "1s"}},
		{name: "no arguments", env: remote},
		{name: "another hook subcommand", env: remote, args: []string{"claude-code-scan"}},
		{name: "git hook", env: remote, args: []string{"git-pre-push", "origin", "git@example.test:x.git"}},
		{name: "unknown flag", env: remote, args: []string{"codex", "--bogus"}},
		{name: "help", env: remote, args: []string{"cursor", "-h"}},
		{name: "bad duration", env: remote, args: []string{"cursor", "--timeout", "soon"}},
		{name: "bad bool", env: remote, args: []string{"cursor", "--fail-open=maybe"}},
		{name: "flag without value", env: remote, args: []string{"cursor", "--server"}},
		{name: "stray argument", env: remote, args: []string{"cursor", "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeInstall(t, true)
			r := run(t, dir, tt.env, untouchedStdin{t}, tt.args...)
			if r.code != 0 || r.stdout != "" || r.stderr != "" {
				t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			want := append([]string{filepath.Join(dir, "cavra"), "hook"}, tt.args...)
			if len(r.execs) != 1 || !reflect.DeepEqual(r.execs[0], want) {
				t.Fatalf("execs %q, want %q", r.execs, want)
			}
		})
	}
}

func TestRunHandOverWithoutCavraFailsClosed(t *testing.T) {
	r := run(t, fakeInstall(t, false), nil, untouchedStdin{t}, "claude-code")
	if r.code != 2 || len(r.execs) != 0 || !strings.Contains(r.stderr, "cavra: blocked by CAVRA (fail closed): the full cavra binary") {
		t.Fatalf("exit %d execs %q stderr %q", r.code, r.execs, r.stderr)
	}
}

func TestFindCavra(t *testing.T) {
	beside := fakeInstall(t, true)
	alone := fakeInstall(t, false)
	inPath := filepath.Join(fakeInstall(t, true), "cavra")
	notExec := t.TempDir()
	if err := os.WriteFile(filepath.Join(notExec, "cavra"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notExec, "cavra-hook"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, self, path, want string
	}{
		{name: "beside first", self: filepath.Join(beside, "cavra-hook"), path: inPath, want: filepath.Join(beside, "cavra")},
		{name: "then PATH", self: filepath.Join(alone, "cavra-hook"), path: inPath, want: inPath},
		{name: "not executable beside", self: filepath.Join(notExec, "cavra-hook"), path: inPath, want: inPath},
		// cavra-hook installed as "cavra": handing over to itself would loop.
		{name: "never itself", self: filepath.Join(beside, "cavra"), path: filepath.Join(beside, "cavra")},
		{name: "nowhere", self: filepath.Join(alone, "cavra-hook")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Proc{
				Executable: func() (string, error) { return tt.self, nil },
				LookPath: func(string) (string, error) {
					if tt.path == "" {
						return "", errors.New("not found")
					}
					return tt.path, nil
				},
			}
			got, err := findCavra(p)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("found %s", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Flags
		ok   bool
	}{
		{name: "none", ok: true},
		{name: "all, both spellings", args: []string{"--server", "http://s", "--token=t", "--token-file", "/f", "--timeout=1500ms", "--fail-open", "--policy", "strict", "--decision-log=/d"},
			want: Flags{Server: "http://s", Token: "t", TokenFile: "/f", Timeout: 1500 * time.Millisecond, TimeoutSet: true, FailOpen: true, FailOpenSet: true}, ok: true},
		{name: "fail-open false", args: []string{"--fail-open=0"}, want: Flags{FailOpenSet: true}, ok: true},
		{name: "last wins", args: []string{"--server=a", "--server=b"}, want: Flags{Server: "b"}, ok: true},
		{name: "single dash", args: []string{"-server", "x"}},
		{name: "terminator", args: []string{"--", "x"}},
		{name: "bool with separate value", args: []string{"--fail-open", "false"}},
		{name: "timeout in seconds is not a flag value", args: []string{"--timeout", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseFlags(tt.args)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCauseForEnv(t *testing.T) {
	long := strings.Repeat("é", maxCauseEnv)
	tests := []struct {
		name, in, want string
	}{
		{name: "one line", in: "a\n  b\tc", want: "a b c"},
		{name: "empty", in: " ", want: "no answer"},
		{name: "bounded on a rune boundary", in: long, want: long[:maxCauseEnv] + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := causeForEnv(errors.New(tt.in)); got != tt.want {
				t.Fatalf("got %.80q, want %.80q", got, tt.want)
			}
		})
	}
}

// TestRunHandsContentEventsToCavra checks that a tool's output or a prompt goes to the full
// binary's local secret check (a child given the payload), never to the server.
func TestRunHandsContentEventsToCavra(t *testing.T) {
	for _, tc := range []struct{ host, event string }{
		{"claude-code", "PostToolUse"}, {"codex", "UserPromptSubmit"}, {"cursor", "afterShellExecution"}, {"gemini", "AfterTool"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			cp := newControlPlane(t, answer)
			env := map[string]string{"CAVRA_SERVER": cp.url, "CAVRA_TOKEN": testToken}
			payload := strings.Replace(testPayload, `"PreToolUse"`, `"`+tc.event+`"`, 1)
			r := run(t, fakeInstall(t, true), env, strings.NewReader(payload), tc.host)
			// The fake cavra exits 99: its exit code became this process's.
			if r.code != 99 || len(r.execs) != 0 {
				t.Fatalf("exit %d stderr %q execs %q, want the child's 99", r.code, r.stderr, r.execs)
			}
			if n := len(cp.requests()); n != 0 {
				t.Fatalf("%d requests reached the server", n)
			}
		})
	}
}
