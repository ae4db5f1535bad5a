package cli

import "github.com/spf13/cobra"

// extraCommands lists the commands of the evidence and scanner planes.
func extraCommands(rt *runtime) []*cobra.Command {
	return []*cobra.Command{
		newModelCmd(rt),
		newBOMCmd(rt),
	}
}
