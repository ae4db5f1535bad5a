package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/home"
)

// homeDir is the data home: the --home flag if given, else $CAVRA_HOME or the user's data
// directory (see package home).
func homeDir(rt *runtime, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	dir, err := home.Dir(rt.getenv)
	if err != nil {
		return "", usageError("%v", err)
	}
	return dir, nil
}

func newInitCmd(rt *runtime) *cobra.Command {
	var homeFlag string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the data home: database, signing key and configuration",
		Long: `Create the data home ($CAVRA_HOME, else cavra under the user's data directory) with its
SQLite database, a first Ed25519 signing key in keys/, and config.yaml. Running it again is safe:
existing keys, configuration and data are kept, never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := homeDir(rt, homeFlag)
			if err != nil {
				return err
			}
			res, err := home.Init(cmd.Context(), dir, time.Now, rt.logger)
			if err != nil {
				return withExit(exitUsage, err)
			}
			config := "kept"
			if res.CreatedConfig {
				config = "created"
			}
			_, err = fmt.Fprintf(rt.stdout, "data home   %s\nconfig      %s (%s)\nsigning key %s (%s)\ndatabase    %s (schema v%d)\n",
				res.Root, home.Layout{Root: dir}.ConfigPath(), config, res.ActiveKey.ID, res.ActiveKey.Algorithm,
				home.Layout{Root: dir}.DBPath(), res.SchemaVersion)
			return err
		},
	}
	cmd.Flags().StringVar(&homeFlag, "home", "", "data home (default $CAVRA_HOME, else the user's data directory)")
	// `cavra init <host>` wires an agent host, git or MCP clients to CAVRA.
	cmd.AddCommand(initHostCommands(rt)...)
	cmd.AddCommand(newInitMCPCmd(rt))
	return cmd
}
