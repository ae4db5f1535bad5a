package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// Exit codes of `cavra exec`, following the shell's conventions so that an agent reading them
// knows what happened: 126 "found but not run" for a refusal, 127 for a program not found.
const (
	exitRefused  = 126
	exitNotFound = 127
)

func newExecCmd(rt *runtime) *cobra.Command {
	var logPath string
	cmd := &cobra.Command{
		Use:   "exec -- CMD [ARGS...]",
		Short: "Decide on a command, then run it (exit code passed through) or refuse it (exit 126)",
		Long: `Judges CMD ARGS as one command.exec action (the argv shell-quoted into a line, in the
current directory) and, when policy permits, runs it directly (no shell) with stdin, stdout and
stderr passed through, exiting with its exit code (128+N when killed by signal N).

When policy does not permit it, nothing runs: the reason goes to stderr and the exit code is
126. require_approval refuses too: a human who has reviewed the command can run it. A program
that cannot be found exits 127. Errors (bad policy, unwritable decision log) exit 2.

Use it as an agent's shell wrapper: cavra exec -- git push origin main`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageError("put the command after --: cavra exec -- CMD ARGS...")
			}
			wd, err := os.Getwd()
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("find the working directory: %w", err))
			}
			action := cavra.Action{
				Version: cavra.TaxonomyVersion, Kind: cavra.KindCommandExec, Effect: cavra.EffectExecute, Cwd: wd,
				Source:  cavra.Source{Host: "exec", Tool: args[0]},
				Command: &cavra.Command{Line: hookio.ShellQuote(args)},
			}
			decision, err := governLocal(cmd, rt, logPath, action)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("refused (fail closed): %w", err))
			}
			if !decision.Outcome.Permits() {
				fmt.Fprintf(rt.stderr, "cavra: refused: %s\n", claudecode.Reason(decision))
				return silentExit(exitRefused)
			}
			if decision.Outcome == cavra.Warn {
				fmt.Fprintf(rt.stderr, "cavra: warning: %s\n", claudecode.Reason(decision))
			}
			return runPassthrough(cmd, rt, args)
		},
	}
	cmd.Flags().SetInterspersed(false)
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	return cmd
}

// runPassthrough runs argv with the runtime's streams and passes its exit status up.
func runPassthrough(cmd *cobra.Command, rt *runtime, argv []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return withExit(exitNotFound, fmt.Errorf("%s: %w", argv[0], err))
	}
	c := exec.CommandContext(cmd.Context(), path, argv[1:]...)
	c.Args[0] = argv[0]
	c.Stdin, c.Stdout, c.Stderr = rt.stdin, rt.stdout, rt.stderr
	err = c.Run()
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return silentExit(128 + int(ws.Signal()))
		}
		return silentExit(exitErr.ExitCode())
	}
	return withExit(exitRefused, fmt.Errorf("run %s: %w", argv[0], err))
}
