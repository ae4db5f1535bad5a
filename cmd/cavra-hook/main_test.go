package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra/internal/testenv"
)

// buildBoth builds cavra and cavra-hook side by side, as `make build` lays them out.
func buildBoth(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		testenv.Skip(t, "the go tool is not in PATH: %v", err)
	}
	dir := t.TempDir()
	for _, name := range []string{"cavra", "cavra-hook"} {
		cmd := exec.Command(gobin, "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = filepath.Join("..", "..")
		if name == "cavra-hook" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build links it
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, path string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(path, args...)
	// PATH is left out: the hand-over must find cavra beside cavra-hook.
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", path, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func payload(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "hooks", "claudecode", "testdata", "bash-force-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

// TestAgainstFullBinary checks that cavra-hook answers as `cavra hook` does: local mode by
// handing over to cavra, remote failures with the same words, fail-open through cavra's audit log.
func TestAgainstFullBinary(t *testing.T) {
	dir := buildBoth(t)
	cavra, hook := filepath.Join(dir, "cavra"), filepath.Join(dir, "cavra-hook")
	p := payload(t)

	t.Run("local mode without the daemon hands over", func(t *testing.T) {
		want := runBin(t, cavra, []string{"CAVRA_HOME=" + t.TempDir()}, p, "hook", "claude-code", "--policy", "strict")
		got := runBin(t, hook, []string{"CAVRA_HOME=" + t.TempDir(), "CAVRA_HOOKD=off"}, p, "claude-code", "--policy", "strict")
		if want.code != 0 || !strings.Contains(want.stdout, `"permissionDecision":"deny"`) {
			t.Fatalf("cavra hook: exit %d stdout %q stderr %q", want.code, want.stdout, want.stderr)
		}
		if got != want {
			t.Fatalf("cavra-hook %+v\ncavra hook %+v", got, want)
		}
	})

	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"title":"Unauthorized","status":401,"detail":"token unknown or revoked"}`))
	}))
	defer refuse.Close()
	for _, tc := range []struct{ name, server, want string }{
		{"closed port", closedPort(t), "connection refused"},
		{"token refused", refuse.URL, "refused the token"},
	} {
		t.Run("fails closed alike: "+tc.name, func(t *testing.T) {
			env := []string{"CAVRA_HOME=" + t.TempDir(), "CAVRA_SERVER=" + tc.server, "CAVRA_TOKEN=tok"}
			want := runBin(t, cavra, env, p, "hook", "claude-code")
			got := runBin(t, hook, env, p, "claude-code")
			if got.code != 2 || !strings.Contains(got.stderr, tc.want) {
				t.Fatalf("cavra-hook: exit %d stderr %q", got.code, got.stderr)
			}
			if got != want {
				t.Fatalf("cavra-hook %+v\ncavra hook %+v", got, want)
			}
		})
	}

	t.Run("fail-open hands over", func(t *testing.T) {
		home := t.TempDir()
		server := closedPort(t)
		env := []string{"CAVRA_HOME=" + home, "CAVRA_SERVER=" + server, "CAVRA_TOKEN=tok"}
		got := runBin(t, hook, env, p, "claude-code", "--fail-open")
		if got.code != 0 || got.stdout != "" {
			t.Fatalf("exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
		}
		for _, w := range []string{"cavra: warning: the CAVRA control plane at " + server + " is unreachable", "connection refused", "remote.fail-open"} {
			if !strings.Contains(got.stderr, w) {
				t.Fatalf("stderr %q does not say %q", got.stderr, w)
			}
		}
		list := runBin(t, cavra, []string{"CAVRA_HOME=" + home}, "", "audit", "list", "--json")
		var entries []struct {
			ID      string `json:"id"`
			Outcome string `json:"outcome"`
			Kind    string `json:"kind"`
			RuleID  string `json:"rule_id"`
		}
		if err := json.Unmarshal([]byte(list.stdout), &entries); err != nil {
			t.Fatalf("audit list: %v: %s%s", err, list.stdout, list.stderr)
		}
		if len(entries) != 1 || entries[0].RuleID != "remote.fail-open" || entries[0].Outcome != "audit_only" || entries[0].Kind != "command.exec" {
			t.Fatalf("audit entries %+v", entries)
		}
		if !strings.Contains(got.stderr, entries[0].ID) {
			t.Fatalf("stderr %q does not name decision %s", got.stderr, entries[0].ID)
		}
		if v := runBin(t, cavra, []string{"CAVRA_HOME=" + home}, "", "audit", "verify"); v.code != 0 {
			t.Fatalf("audit verify: exit %d %s%s", v.code, v.stdout, v.stderr)
		}
	})
}

// TestLocalDaemon runs local mode as a user's agent host does: the first call starts the
// daemon and is answered by the full binary, later calls by the daemon, all with the full
// binary's answer; replacing the binary retires the daemon and the next call starts another.
func TestLocalDaemon(t *testing.T) {
	dir := buildBoth(t)
	cavra, hook := filepath.Join(dir, "cavra"), filepath.Join(dir, "cavra-hook")
	p := payload(t)
	home := t.TempDir()
	env := []string{"CAVRA_HOME=" + home, "CAVRA_HOOKD_IDLE=2m"}
	t.Cleanup(func() { runBin(t, cavra, env, "", "hook", "daemon", "--stop") })

	want := runBin(t, cavra, []string{"CAVRA_HOME=" + t.TempDir()}, p, "hook", "claude-code")
	if want.code != 0 || !strings.Contains(want.stdout, `"permissionDecision":"deny"`) {
		t.Fatalf("cavra hook: %+v", want)
	}
	// runBin waits for the hook's output streams to close: a daemon that kept them would hang it.
	if got := runBin(t, hook, env, p, "claude-code"); got != want {
		t.Fatalf("first call %+v, want %+v", got, want)
	}
	pid := waitForDaemon(t, cavra, env, "")
	for i := 0; i < 3; i++ {
		if got := runBin(t, hook, env, p, "claude-code"); got != want {
			t.Fatalf("call %d: %+v, want %+v", i, got, want)
		}
	}
	if s := runBin(t, cavra, env, "", "hook", "daemon", "--status"); !strings.Contains(s.stdout, "\ncalls 3\n") {
		t.Fatalf("the daemon did not answer the three calls: %+v", s)
	}

	// A new build of cavra: the daemon hands the call back and exits; a later call starts a
	// daemon of the new binary.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(cavra, later, later); err != nil {
		t.Fatal(err)
	}
	if got := runBin(t, hook, env, p, "claude-code"); got != want {
		t.Fatalf("after the upgrade: %+v, want %+v", got, want)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := runBin(t, hook, env, p, "claude-code"); got != want {
			t.Fatalf("after the upgrade: %+v, want %+v", got, want)
		}
		if s := runBin(t, cavra, env, "", "hook", "daemon", "--status"); s.code == 0 && !strings.Contains(s.stdout, "pid "+pid+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new daemon after the upgrade")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := runBin(t, cavra, env, "", "audit", "verify"); v.code != 0 {
		t.Fatalf("audit verify: exit %d %s%s", v.code, v.stdout, v.stderr)
	}
}

// waitForDaemon waits for a daemon other than pid notPID to answer, and returns its pid.
func waitForDaemon(t *testing.T, cavra string, env []string, notPID string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := runBin(t, cavra, env, "", "hook", "daemon", "--status")
		if s.code == 0 {
			line, _, _ := strings.Cut(s.stdout, "\n")
			if pid, ok := strings.CutPrefix(line, "pid "); ok && pid != notPID {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hook daemon: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
