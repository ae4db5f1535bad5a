package cli

import "github.com/spf13/cobra"

// extraCommands lists the commands beyond the decision engine's own: other entry points,
// evidence, and the model scanner.
func extraCommands(rt *runtime) []*cobra.Command {
	return []*cobra.Command{
		newInitCmd(rt),
		newExecCmd(rt),
		newMCPCmd(rt),
		newCICmd(rt),
		newAuditCmd(rt),
		newKeysCmd(rt),
		newBackupCmd(rt),
		newRestoreCmd(rt),
		newVerifyCmd(rt),
		newScanCmd(rt),
		newModelCmd(rt),
		newBOMCmd(rt),
		newAttestCmd(rt),
		newServeCmd(rt),
		newTokenCmd(rt),
		newApprovalsCmd(rt),
		newEventsCmd(rt),
	}
}
