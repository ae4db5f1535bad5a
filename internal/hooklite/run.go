package hooklite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Hosts are the agent hosts whose remote mode cavra-hook answers itself.
var Hosts = []string{"claude-code", "codex", "cursor", "gemini"}

// cavraName is the full binary, found beside cavra-hook first and then in PATH.
const cavraName = "cavra"

// exitBlock is the exit code every host treats as a block.
const exitBlock = 2

// Proc is what Run needs from the process, passed in so tests can run it in-process.
type Proc struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Environ is the environment handed to the full binary.
	Environ []string
	// Executable returns this binary's path; the full cavra is looked for beside it first.
	Executable func() (string, error)
	// LookPath finds a program in PATH.
	LookPath func(string) (string, error)
	// Exec replaces the process with path; it returns only when that fails.
	Exec func(path string, argv, env []string) error
	// Getwd is the working directory, handed to the hook daemon.
	Getwd func() (string, error)
	// Spawn starts cmd in the background, detached from this process and its streams.
	Spawn func(cmd *exec.Cmd) error
}

// OSProc is the running process.
func OSProc() Proc {
	return Proc{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		Environ:    os.Environ(),
		Executable: os.Executable,
		LookPath:   exec.LookPath,
		Exec:       syscall.Exec,
		Getwd:      os.Getwd,
		Spawn:      spawnDetached,
	}
}

// Run is `cavra-hook <host> [flags]` and returns the exit code. It behaves as
// `cavra hook <host> [flags]`: in remote mode it forwards the payload itself; in local mode it
// asks the local decision daemon (see runLocal), which runs that same command warm. Everything
// else is handed to the full cavra binary: other hook subcommands, flags it does not know and
// help replace this process with `cavra hook ...` before stdin is read, so the full binary sees
// exactly what the host sent. A fail-open in remote mode, whose audit record needs
// the full binary, runs `cavra hook ...` as a child with the payload and RemoteFailedVar.
func Run(ctx context.Context, args []string, p Proc) int {
	if len(args) == 0 || !isHost(args[0]) {
		return handOver(p, args)
	}
	host := args[0]
	flags, ok := parseFlags(args[1:])
	if !ok {
		return handOver(p, args)
	}
	cfg, remote, err := Resolve(flags, p.Getenv)
	if err != nil {
		return failClosed(p, err)
	}
	if !remote {
		return runLocal(ctx, p, args)
	}
	data, err := ReadPayload(p.Stdin)
	if err != nil {
		return failClosed(p, err)
	}
	if !ServerAnswers(host, EventOf(data)) {
		// A tool's output or a prompt: the full binary's local secret check answers it.
		code, err := runCavra(ctx, p, args, data, nil)
		if err != nil {
			return failClosed(p, err)
		}
		return code
	}
	ans, err := Ask(ctx, cfg, host, data)
	if err == nil {
		if _, err := fmt.Fprintf(p.Stdout, "%s\n", ans); err != nil {
			fmt.Fprintln(p.Stderr, "cavra:", err)
			return exitBlock
		}
		return 0
	}
	var f *Failure
	if !errors.As(err, &f) {
		f = &Failure{Cause: err}
	}
	if !cfg.FailOpen || !f.NoAnswer {
		return failClosed(p, f.Cause)
	}
	return failOpenByCavra(ctx, p, args, data, f.Cause)
}

func isHost(s string) bool {
	for _, h := range Hosts {
		if s == h {
			return true
		}
	}
	return false
}

// failClosed blocks the action the way the full binary does: its words on stderr, exit 2.
func failClosed(p Proc, err error) int {
	fmt.Fprintln(p.Stderr, "cavra:", FailClosedPrefix+err.Error())
	return exitBlock
}

// handOver replaces this process with `cavra hook <args>`. Should that fail, the hook blocks.
func handOver(p Proc, args []string) int {
	path, err := findCavra(p)
	if err != nil {
		return failClosed(p, err)
	}
	return handOverTo(p, path, args)
}

// handOverTo is handOver to the full binary at path.
func handOverTo(p Proc, path string, args []string) int {
	argv := append([]string{path, "hook"}, args...)
	if err := p.Exec(path, argv, p.Environ); err != nil {
		return failClosed(p, fmt.Errorf("run %s: %w", path, err))
	}
	return 0 // only an injected Exec returns on success
}

// failOpenByCavra runs `cavra hook <args>` with RemoteFailedVar set, so the full binary
// answers the host and records the fail-open in the local audit log.
func failOpenByCavra(ctx context.Context, p Proc, args []string, data []byte, cause error) int {
	code, err := runCavra(ctx, p, args, data, []string{RemoteFailedVar + "=" + causeForEnv(cause)})
	if err != nil {
		return failClosed(p, errors.Join(cause, fmt.Errorf("fail-open could not be recorded locally: %w", err)))
	}
	return code
}

// runCavra runs `cavra hook <args>` as a child with the payload on its stdin and extraEnv
// added; its output and exit code become this process's. It is for payloads already read,
// which an exec hand-over could no longer pass on.
func runCavra(ctx context.Context, p Proc, args []string, data []byte, extraEnv []string) (int, error) {
	path, err := findCavra(p)
	if err != nil {
		return 0, err
	}
	return runCavraAt(ctx, p, path, args, data, extraEnv)
}

// runCavraAt is runCavra with the full binary at path.
func runCavraAt(ctx context.Context, p Proc, path string, args []string, data []byte, extraEnv []string) (int, error) {
	cmd := exec.CommandContext(ctx, path, append([]string{"hook"}, args...)...)
	cmd.Env = append(withoutVar(p.Environ, RemoteFailedVar), extraEnv...)
	cmd.Stdin = bytes.NewReader(data)
	cmd.Stdout = p.Stdout
	cmd.Stderr = p.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("run %s: %w", path, err)
}

func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// findCavra locates the full binary: beside this one (how `make build` and releases lay them
// out), else in PATH. This binary itself never counts, or a hand-over would loop.
func findCavra(p Proc) (string, error) {
	self, selfErr := p.Executable()
	var selfInfo os.FileInfo
	if selfErr == nil {
		selfInfo, _ = os.Stat(self)
		cand := filepath.Join(filepath.Dir(self), cavraName)
		if isOtherExecutable(cand, selfInfo) {
			return cand, nil
		}
	}
	if path, err := p.LookPath(cavraName); err == nil {
		if abs, aerr := filepath.Abs(path); aerr == nil {
			path = abs
		}
		if isOtherExecutable(path, selfInfo) {
			return path, nil
		}
	}
	return "", errors.New("the full cavra binary, which local mode and fail-open need, is neither beside cavra-hook nor in PATH")
}

func isOtherExecutable(path string, self os.FileInfo) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return false
	}
	return self == nil || !os.SameFile(st, self)
}

// parseFlags reads the flags of `cavra hook <host>` the way the full binary's flag parser
// does. ok is false for anything else (unknown flags, arguments, help, bad values): the full
// binary then answers, with its own words.
func parseFlags(args []string) (f Flags, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || a == "--" {
			return f, false
		}
		name, value, hasValue := strings.Cut(a[2:], "=")
		switch name {
		case "fail-open":
			f.FailOpen, f.FailOpenSet = true, true
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					return f, false
				}
				f.FailOpen = b
			}
			continue
		case "server", "token", "token-file", "timeout", "policy", "decision-log":
		default:
			return f, false
		}
		if !hasValue {
			if i+1 >= len(args) {
				return f, false
			}
			i++
			value = args[i]
		}
		switch name {
		case "server":
			f.Server = value
		case "token":
			f.Token = value
		case "token-file":
			f.TokenFile = value
		case "timeout":
			d, err := time.ParseDuration(value)
			if err != nil {
				return f, false
			}
			f.Timeout, f.TimeoutSet = d, true
		}
		// --policy and --decision-log matter only to the full binary, which gets the same args.
	}
	return f, true
}
