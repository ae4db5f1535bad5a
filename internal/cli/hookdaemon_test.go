package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra/internal/hooklite"
)

// testDaemon is a hook daemon running in-process on a data home of its own.
type testDaemon struct {
	home, socket string
	binary       hooklite.Stamp
	done         chan error
	log          *bytes.Buffer
}

func startTestDaemon(t *testing.T, idle time.Duration) *testDaemon {
	t.Helper()
	home := t.TempDir()
	d := &testDaemon{home: home, socket: hooklite.SocketPath(home), done: make(chan error, 1), log: &bytes.Buffer{}}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if d.binary, err = hooklite.StampOf(exe); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runtime{stdout: &bytes.Buffer{}, stderr: d.log, getenv: func(k string) string { return map[string]string{"CAVRA_HOME": home}[k] }}
	go func() { d.done <- runHookDaemon(ctx, rt, home, d.socket, idle, "") }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			t.Error("the daemon did not stop")
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(d.socket); err == nil {
			break
		}
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited: %v: %s", err, d.log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return d
}

func (d *testDaemon) call(t *testing.T, req hooklite.DaemonRequest) hooklite.DaemonResponse {
	t.Helper()
	conn, err := hooklite.DialDaemon(context.Background(), d.socket)
	if err != nil {
		t.Fatalf("dial the daemon: %v", err)
	}
	defer conn.Close()
	resp, err := hooklite.Exchange(conn, req, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatalf("call the daemon: %v", err)
	}
	return resp
}

// hook is a hook call of host with payload, from a caller in dir with env.
func (d *testDaemon) hook(t *testing.T, dir string, env []string, payload string, args ...string) hooklite.DaemonResponse {
	t.Helper()
	return d.call(t, hooklite.DaemonRequest{
		Args:    args,
		Env:     append([]string{"CAVRA_HOME=" + d.home}, env...),
		Dir:     dir,
		Binary:  d.binary,
		Payload: []byte(payload),
	})
}

// waitStopped waits for the daemon to exit on its own.
func (d *testDaemon) waitStopped(t *testing.T) {
	t.Helper()
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon: %v", err)
		}
		d.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	if _, err := os.Stat(d.socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// TestHookDaemonAnswersAsTheHook runs the parity corpus through the daemon and through
// `cavra hook` in-process: the answers are the same, byte for byte, and every call is in the
// daemon's audit log.
func TestHookDaemonAnswersAsTheHook(t *testing.T) {
	d := startTestDaemon(t, time.Minute)
	calls := 0
	for _, tc := range parityCorpus {
		for _, host := range hooklite.Hosts {
			payload, ok := hostPayloadFor(t, host, tc.act)
			if !ok {
				continue
			}
			want := runCLI(t, hookEnv(t), payload, "hook", host)
			got := d.hook(t, "/", nil, payload, host)
			calls++
			if got.Stale != "" || got.Code != want.code || string(got.Stdout) != want.stdout || string(got.Stderr) != want.stderr {
				t.Fatalf("%s %s:\ndaemon  exit %d stdout %q stderr %q stale %q\nin-proc exit %d stdout %q stderr %q",
					tc.name, host, got.Code, got.Stdout, got.Stderr, got.Stale, want.code, want.stdout, want.stderr)
			}
		}
	}
	if n := len(readDecisions(t, d.home)); n != calls {
		t.Fatalf("%d decisions recorded for %d calls", n, calls)
	}
	st := d.call(t, hooklite.DaemonRequest{Op: hooklite.OpStatus}).Status
	if st == nil || st.Calls != int64(calls) || st.Home != d.home || st.PID != os.Getpid() {
		t.Fatalf("status %+v after %d calls", st, calls)
	}
	if r := runCLI(t, map[string]string{"CAVRA_HOME": d.home}, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("audit verify: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
}

// TestHookDaemonCallerContext checks that relative --policy and --decision-log paths are the
// caller's, and that an edited policy file is reloaded.
func TestHookDaemonCallerContext(t *testing.T) {
	d := startTestDaemon(t, time.Minute)
	project := t.TempDir()
	pack := func(outcome string) {
		t.Helper()
		putFile(t, filepath.Join(project, "team.yaml"), "name: team\nextends: [baseline]\nrules:\n  - id: team.no-echo\n    match:\n      programs: [echo]\n    outcome: "+outcome+"\n    message: no echo here\n")
	}
	pack("block")
	payload := bashPayload("echo hello")
	r := d.hook(t, project, nil, payload, "claude-code", "--policy", "team.yaml", "--decision-log", "out/decisions.jsonl")
	if r.Code != 0 || !strings.Contains(string(r.Stdout), `"permissionDecision":"deny"`) || !strings.Contains(string(r.Stdout), "team.no-echo") {
		t.Fatalf("exit %d stdout %s stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(project, "out", "decisions.jsonl")); err != nil || !bytes.Contains(b, []byte("team.no-echo")) {
		t.Fatalf("decision log in the caller's directory: %v %s", err, b)
	}
	pack("warn")
	r = d.hook(t, "/", []string{"CAVRA_POLICY=" + filepath.Join(project, "team.yaml")}, payload, "claude-code")
	if r.Code != 0 || !strings.Contains(string(r.Stdout), `"permissionDecision":"allow"`) || !strings.Contains(string(r.Stdout), "team.no-echo") {
		t.Fatalf("after the edit: exit %d stdout %s stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	// A policy that cannot be loaded blocks, as the hook does, and is not cached.
	putFile(t, filepath.Join(project, "team.yaml"), "rules: [")
	r = d.hook(t, project, nil, payload, "claude-code", "--policy", "team.yaml")
	if r.Code != 2 || !strings.Contains(string(r.Stderr), "blocked by CAVRA (fail closed): load policy") {
		t.Fatalf("broken policy: exit %d stdout %s stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	pack("block")
	if r = d.hook(t, project, nil, payload, "claude-code", "--policy", "team.yaml"); !strings.Contains(string(r.Stdout), `"permissionDecision":"deny"`) {
		t.Fatalf("repaired policy: exit %d stdout %s stderr %s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestHookDaemonHandsBack checks the calls the daemon refuses to run, and that a changed
// binary or data home also stops it.
func TestHookDaemonHandsBack(t *testing.T) {
	payload := bashPayload("ls")
	t.Run("not a host", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		for _, args := range [][]string{nil, {"daemon"}, {"git-pre-push"}, {"claude-code-scan"}} {
			if r := d.hook(t, "/", nil, payload, args...); r.Stale == "" {
				t.Fatalf("%q answered: %+v", args, r)
			}
		}
	})
	t.Run("another data home", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		r := d.call(t, hooklite.DaemonRequest{Args: []string{"codex"}, Env: []string{"CAVRA_HOME=" + t.TempDir()}, Binary: d.binary, Payload: []byte(payload)})
		if r.Stale != "another data home" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("another binary", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		other := d.binary
		other.Path = putFile(t, filepath.Join(t.TempDir(), "cavra"), "#!/bin/sh\n")
		if r := d.hook(t, "/", nil, payload, "claude-code"); r.Stale != "" {
			t.Fatalf("first call: %+v", r)
		}
		r := d.call(t, hooklite.DaemonRequest{Args: []string{"claude-code"}, Env: []string{"CAVRA_HOME=" + d.home}, Binary: other, Payload: []byte(payload)})
		if r.Stale != "the cavra binary changed" {
			t.Fatalf("%+v", r)
		}
		d.waitStopped(t)
	})
	t.Run("configuration changed", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		putFile(t, filepath.Join(d.home, "config.yaml"), "audit:\n  checkpoint_every: 5\n")
		if r := d.hook(t, "/", nil, payload, "gemini"); r.Stale != "the data home changed" {
			t.Fatalf("%+v", r)
		}
		d.waitStopped(t)
	})
	t.Run("keys rotated", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		if r := runCLI(t, map[string]string{"CAVRA_HOME": d.home}, "", "keys", "rotate"); r.code != 0 {
			t.Fatalf("keys rotate: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
		if r := d.hook(t, "/", nil, payload, "cursor"); r.Stale != "the data home changed" {
			t.Fatalf("%+v", r)
		}
		d.waitStopped(t)
	})
}

func TestHookDaemonLifecycle(t *testing.T) {
	t.Run("stop signs the calls", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		for _, line := range []string{"ls", "go test ./...", "rm -rf /"} {
			if r := d.hook(t, "/", nil, bashPayload(line), "claude-code"); r.Code != 0 || r.Stale != "" {
				t.Fatalf("%s: %+v", line, r)
			}
		}
		d.call(t, hooklite.DaemonRequest{Op: hooklite.OpStop})
		d.waitStopped(t)
		r := runCLI(t, map[string]string{"CAVRA_HOME": d.home}, "", "audit", "verify")
		if r.code != 0 || !strings.Contains(r.stdout, "ok: 3 entries") || !strings.Contains(r.stdout, ", 3 entries signed") {
			t.Fatalf("audit verify: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("idle", func(t *testing.T) {
		d := startTestDaemon(t, 200*time.Millisecond)
		d.waitStopped(t)
	})
	t.Run("one per data home", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		var log bytes.Buffer
		rt := &runtime{stdout: &bytes.Buffer{}, stderr: &log, getenv: func(string) string { return "" }}
		if err := runHookDaemon(context.Background(), rt, d.home, d.socket, time.Minute, ""); err != nil {
			t.Fatalf("second daemon: %v", err)
		}
		if r := d.hook(t, "/", nil, bashPayload("ls"), "claude-code"); r.Stale != "" || r.Code != 0 {
			t.Fatalf("the first daemon stopped answering: %+v", r)
		}
	})
	t.Run("control commands", func(t *testing.T) {
		d := startTestDaemon(t, time.Minute)
		env := map[string]string{"CAVRA_HOME": d.home}
		if r := runCLI(t, env, "", "hook", "daemon", "--status"); r.code != 0 || !strings.Contains(r.stdout, "calls 0") || !strings.Contains(r.stdout, "socket "+d.socket) {
			t.Fatalf("status: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
		if r := runCLI(t, env, "", "hook", "daemon", "--stop"); r.code != 0 {
			t.Fatalf("stop: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
		d.waitStopped(t)
		if r := runCLI(t, env, "", "hook", "daemon", "--status"); r.code != 1 || !strings.Contains(r.stderr, "no hook daemon answers") {
			t.Fatalf("status without a daemon: exit %d %s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// putFile writes body to path and returns path.
func putFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
