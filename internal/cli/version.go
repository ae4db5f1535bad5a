package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
)

func newVersionCmd(rt *runtime) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the build version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(rt.stdout, "cavra %s (action taxonomy v%s)\n", buildVersion(), cavra.TaxonomyVersion)
			return err
		},
	}
}

// buildVersion is the module version of this binary, "(devel)" for a source build.
func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
