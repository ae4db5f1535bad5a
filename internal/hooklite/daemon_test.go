package hooklite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDaemon listens where the daemon of home would and answers with respond (nil: never).
type fakeDaemon struct {
	mu   sync.Mutex
	reqs []DaemonRequest
}

func newFakeDaemon(t *testing.T, home string, respond func(DaemonRequest) DaemonResponse) *fakeDaemon {
	t.Helper()
	ln, err := net.Listen("unix", SocketPath(home))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fd := &fakeDaemon{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var req DaemonRequest
				if err := ReadMessage(conn, &req); err != nil {
					t.Errorf("fake daemon: %v", err)
					return
				}
				fd.mu.Lock()
				fd.reqs = append(fd.reqs, req)
				fd.mu.Unlock()
				if respond == nil {
					_, _ = conn.Read(make([]byte, 1)) // until the caller gives up
					return
				}
				if err := WriteMessage(conn, respond(req)); err != nil {
					t.Errorf("fake daemon: %v", err)
				}
			}()
		}
	}()
	return fd
}

func (fd *fakeDaemon) requests() []DaemonRequest {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return append([]DaemonRequest(nil), fd.reqs...)
}

// localRun is run with a data home, a working directory and a recorded Spawn.
func localRun(t *testing.T, dir, home string, env map[string]string, stdin io.Reader, spawned *[]*exec.Cmd, args ...string) result {
	t.Helper()
	all := map[string]string{"CAVRA_HOME": home}
	for k, v := range env {
		all[k] = v
	}
	var r result
	var stdout, stderr bytes.Buffer
	p := Proc{
		Stdin:      stdin,
		Stdout:     &stdout,
		Stderr:     &stderr,
		Getenv:     func(k string) string { return all[k] },
		Environ:    []string{"A=1", "CAVRA_HOME=" + home},
		Executable: func() (string, error) { return filepath.Join(dir, "cavra-hook"), nil },
		LookPath:   func(string) (string, error) { return "", errors.New("not in PATH") },
		Exec: func(path string, argv, env []string) error {
			r.execs = append(r.execs, argv)
			return nil
		},
		Getwd: func() (string, error) { return "/work/project", nil },
		Spawn: func(cmd *exec.Cmd) error {
			*spawned = append(*spawned, cmd)
			return nil
		},
	}
	r.code = Run(context.Background(), args, p)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

func TestRunLocalAsksTheDaemon(t *testing.T) {
	dir, home := fakeInstall(t, true), t.TempDir()
	fd := newFakeDaemon(t, home, func(DaemonRequest) DaemonResponse {
		return DaemonResponse{Code: 2, Stdout: []byte("{\"answer\":1}\n"), Stderr: []byte("cavra: because\n")}
	})
	var spawned []*exec.Cmd
	r := localRun(t, dir, home, nil, strings.NewReader(testPayload), &spawned, "claude-code", "--policy", "strict")
	if r.code != 2 || r.stdout != "{\"answer\":1}\n" || r.stderr != "cavra: because\n" || len(r.execs) != 0 || len(spawned) != 0 {
		t.Fatalf("%+v spawned %d", r, len(spawned))
	}
	reqs := fd.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	req := reqs[0]
	want, _ := StampOf(filepath.Join(dir, "cavra"))
	if !reflect.DeepEqual(req.Args, []string{"claude-code", "--policy", "strict"}) || string(req.Payload) != testPayload ||
		req.Dir != "/work/project" || req.Binary != want || !reflect.DeepEqual(req.Env, []string{"A=1", "CAVRA_HOME=" + home}) {
		t.Fatalf("request %+v", req)
	}
}

func TestRunLocalStartsTheDaemon(t *testing.T) {
	dir, home := fakeInstall(t, true), t.TempDir()
	var spawned []*exec.Cmd
	r := run2(t, dir, home, nil, &spawned, "codex")
	if r.code != 0 || len(r.execs) != 1 || !reflect.DeepEqual(r.execs[0], []string{filepath.Join(dir, "cavra"), "hook", "codex"}) {
		t.Fatalf("%+v", r)
	}
	if len(spawned) != 1 {
		t.Fatalf("%d daemons started", len(spawned))
	}
	cmd := spawned[0]
	if !reflect.DeepEqual(cmd.Args, []string{filepath.Join(dir, "cavra"), "hook", "daemon", "--log-file", filepath.Join(home, DaemonLogFile)}) ||
		cmd.Dir != "/" || !reflect.DeepEqual(cmd.Env, []string{"A=1", "CAVRA_HOME=" + home}) {
		t.Fatalf("started %q in %s with %q", cmd.Args, cmd.Dir, cmd.Env)
	}
}

// run2 is localRun whose stdin must stay untouched: the call is handed over by exec.
func run2(t *testing.T, dir, home string, env map[string]string, spawned *[]*exec.Cmd, args ...string) result {
	t.Helper()
	return localRun(t, dir, home, env, untouchedStdin{t}, spawned, args...)
}

func TestRunLocalWithoutTheDaemon(t *testing.T) {
	t.Run("turned off", func(t *testing.T) {
		dir, home := fakeInstall(t, true), t.TempDir()
		fd := newFakeDaemon(t, home, func(DaemonRequest) DaemonResponse { return DaemonResponse{} })
		var spawned []*exec.Cmd
		r := run2(t, dir, home, map[string]string{DaemonVar: "off"}, &spawned, "gemini")
		if len(r.execs) != 1 || len(spawned) != 0 || len(fd.requests()) != 0 {
			t.Fatalf("%+v spawned %d asked %d", r, len(spawned), len(fd.requests()))
		}
	})
	t.Run("relative data home", func(t *testing.T) {
		var spawned []*exec.Cmd
		r := run2(t, fakeInstall(t, true), "relative/home", nil, &spawned, "gemini")
		if len(r.execs) != 1 || len(spawned) != 0 {
			t.Fatalf("%+v spawned %d", r, len(spawned))
		}
	})
	t.Run("socket directory others can write", func(t *testing.T) {
		dir, home := fakeInstall(t, true), t.TempDir()
		fd := newFakeDaemon(t, home, func(DaemonRequest) DaemonResponse { return DaemonResponse{} })
		if err := os.Chmod(home, 0o777); err != nil {
			t.Fatal(err)
		}
		var spawned []*exec.Cmd
		r := run2(t, dir, home, nil, &spawned, "cursor")
		if len(r.execs) != 1 || len(spawned) != 0 || len(fd.requests()) != 0 {
			t.Fatalf("%+v spawned %d asked %d", r, len(spawned), len(fd.requests()))
		}
	})
}

// TestRunLocalFallsBack checks that when the daemon hands a call back or does not answer, the
// full binary answers the payload (the fake cavra exits 99).
func TestRunLocalFallsBack(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		respond func(DaemonRequest) DaemonResponse
	}{
		{name: "stale", respond: func(DaemonRequest) DaemonResponse { return DaemonResponse{Stale: "the cavra binary changed"} }},
		{name: "no answer in time", env: map[string]string{DaemonTimeoutVar: "200ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, home := fakeInstall(t, true), t.TempDir()
			fd := newFakeDaemon(t, home, tt.respond)
			var spawned []*exec.Cmd
			r := localRun(t, dir, home, tt.env, strings.NewReader(testPayload), &spawned, "claude-code")
			if r.code != 99 || len(r.execs) != 0 || len(fd.requests()) != 1 {
				t.Fatalf("%+v asked %d", r, len(fd.requests()))
			}
		})
	}
}

func TestSocketPath(t *testing.T) {
	if got := SocketPath("/home/u/.local/share/cavra"); got != "/home/u/.local/share/cavra/hookd.sock" {
		t.Fatalf("short home: %s", got)
	}
	long := "/" + strings.Repeat("deep/", 30) + "cavra"
	got := SocketPath(long)
	if len(got) > maxSocketPath || filepath.Dir(got) != privateRunDir() || got == SocketPath(long+"2") {
		t.Fatalf("long home: %s", got)
	}
	if LockPath(got) != strings.TrimSuffix(got, ".sock")+".lock" {
		t.Fatalf("lock %s", LockPath(got))
	}
}

func TestMessages(t *testing.T) {
	req := DaemonRequest{Args: []string{"codex"}, Env: []string{"A=1"}, Dir: "/p", Binary: Stamp{Path: "/c", Size: 1, ModTime: 2}, Payload: []byte{0, 0xff, '{'}}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, req); err != nil {
		t.Fatal(err)
	}
	var got DaemonRequest
	if err := ReadMessage(&buf, &got); err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	frame := func(body string) *bytes.Reader {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		return bytes.NewReader(append(b, body...))
	}
	for name, r := range map[string]*bytes.Reader{
		"unknown field": frame(`{"op":"","argz":[]}`),
		"not json":      frame(`{`),
		"truncated":     bytes.NewReader([]byte{0, 0, 0, 9, '{'}),
		"over limit":    bytes.NewReader(binary.BigEndian.AppendUint32(nil, maxDaemonMessage+1)),
	} {
		if err := ReadMessage(r, &got); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestDaemonSettings(t *testing.T) {
	env := func(k, v string) func(string) string {
		return func(n string) string {
			if n == k {
				return v
			}
			return ""
		}
	}
	for _, v := range []string{"0", "off", "OFF", "false", "no"} {
		if !DaemonDisabled(env(DaemonVar, v)) {
			t.Errorf("%s=%s does not turn the daemon off", DaemonVar, v)
		}
	}
	for _, v := range []string{"", "1", "on"} {
		if DaemonDisabled(env(DaemonVar, v)) {
			t.Errorf("%s=%s turns the daemon off", DaemonVar, v)
		}
	}
	if d := DaemonTimeout(env(DaemonTimeoutVar, "250ms")); d != 250*time.Millisecond {
		t.Errorf("timeout %s", d)
	}
	for _, v := range []string{"", "soon", "-1s"} {
		if d := DaemonTimeout(env(DaemonTimeoutVar, v)); d != DefaultDaemonTimeout {
			t.Errorf("%q: timeout %s", v, d)
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteMessage(&buf, DaemonRequest{Args: []string{"claude-code"}, Env: []string{"A=1"}, Payload: []byte(testPayload)})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req DaemonRequest
		if err := ReadMessage(bytes.NewReader(data), &req); err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteMessage(&out, req); err != nil {
			t.Fatalf("a request read cannot be written: %v", err)
		}
	})
}
