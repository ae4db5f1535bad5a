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

	t.Run("local mode hands over", func(t *testing.T) {
		want := runBin(t, cavra, []string{"CAVRA_HOME=" + t.TempDir()}, p, "hook", "claude-code", "--policy", "strict")
		got := runBin(t, hook, []string{"CAVRA_HOME=" + t.TempDir()}, p, "claude-code", "--policy", "strict")
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
