// Package cli is the cavra command line. It is the only package that wires concrete
// implementations together.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and the answer is "no" (a finding, a failed check)
	exitUsage   = 2 // bad flags, bad input, I/O errors
)

// exitError carries a specific exit code up to Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExit attaches an exit code to err.
func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// silentExit ends the command with code and prints nothing more: the output already said it.
func silentExit(code int) error {
	return &exitError{code: code, err: errors.New("")}
}

// usageError is bad input from the caller: exit 2.
func usageError(format string, args ...any) error {
	return withExit(exitUsage, fmt.Errorf(format, args...))
}

// runtime is what every command needs from the process, passed in so tests can run commands
// in-process with their own streams and environment.
type runtime struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	logger *slog.Logger
	// exitsAfter is true when the process ends with the command (the binary, not a test), so
	// a once-per-process command may tune the runtime for a short life.
	exitsAfter bool
	// dir is the working directory that relative paths given to the command are resolved
	// against; empty is the process's own. The hook daemon runs each call with its caller's.
	dir string
	// hookCache, in the hook daemon, keeps policies, the secret scanner and the open audit log
	// from one call to the next.
	hookCache *hookCache
}

// path resolves a path the caller gave against the caller's working directory.
func (rt *runtime) path(p string) string {
	if rt.dir == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(rt.dir, p)
}

// Run executes the cavra command line and returns the process exit code.
func Run(ctx context.Context, args []string) int {
	return run(ctx, args, &runtime{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		exitsAfter: true,
	})
}

func run(ctx context.Context, args []string, rt *runtime) int {
	return runWithRoot(ctx, args, rt, newRootCmd)
}

// runWithRoot runs args against the command tree newRoot builds and returns the exit code.
func runWithRoot(ctx context.Context, args []string, rt *runtime, newRoot func(*runtime) *cobra.Command) int {
	if rt.logger == nil {
		rt.logger = slog.New(slog.NewTextHandler(rt.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	root := newRoot(rt)
	root.SetArgs(args)
	root.SetIn(rt.stdin)
	root.SetOut(rt.stdout)
	root.SetErr(rt.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(rt.stderr, "cavra:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(rt.stderr, "cavra:", err)
	// Cobra's own errors (unknown flag, wrong argument count) are usage errors.
	return exitUsage
}

func newRootCmd(rt *runtime) *cobra.Command {
	root := newBareRootCmd()
	root.AddCommand(
		newVersionCmd(rt),
		newHookCmd(rt),
		newEvalCmd(rt),
		newPolicyCmd(rt),
	)
	root.AddCommand(extraCommands(rt)...)
	return root
}

// newBareRootCmd is the root command without subcommands.
func newBareRootCmd() *cobra.Command {
	return &cobra.Command{
		Use:           "cavra",
		Short:         "CAVRA decides before an AI agent acts, and governs the models it is built from",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
}
