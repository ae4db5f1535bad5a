package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine"
)

// maxActionJSON bounds an action read from stdin.
const maxActionJSON = 32 << 20

func newEvalCmd(rt *runtime) *cobra.Command {
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Decide one canonical Action (JSON on stdin) and print the Decision as JSON",
		Long: `Reads one canonical Action as JSON on stdin, decides it with the chosen policy, and prints
the Decision as JSON. With --exit-code the exit status says the outcome: 0 when the action may run
(allow, warn, audit_only, allow_with_attestation), 1 when it may not (block, require_approval).`,
		Example: `  echo '{"kind":"command.exec","cwd":"/repo","command":{"line":"rm -rf /"}}' | cavra eval`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			action, err := readAction(rt.stdin)
			if err != nil {
				return withExit(exitUsage, err)
			}
			eng, err := newEngine(cmd, rt)
			if err != nil {
				return withExit(exitUsage, err)
			}
			d, err := eng.Decide(cmd.Context(), action)
			if err != nil {
				return withExit(exitUsage, err)
			}
			if err := writeJSON(rt.stdout, d); err != nil {
				return err
			}
			if exitCode && !d.Outcome.Permits() {
				return silentExit(exitFailure)
			}
			return nil
		},
	}
	addPolicyFlag(cmd)
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the outcome does not let the action run")
	return cmd
}

func readAction(r io.Reader) (cavra.Action, error) {
	var a cavra.Action
	data, err := io.ReadAll(io.LimitReader(r, maxActionJSON+1))
	if err != nil {
		return a, fmt.Errorf("read stdin: %w", err)
	}
	if len(data) > maxActionJSON {
		return a, fmt.Errorf("action larger than %d bytes", maxActionJSON)
	}
	if err := engine.DecodeAction(data, &a); err != nil {
		return a, err
	}
	return a, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
