package cli

import (
	"bytes"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/mlbom"
)

func newBOMCmd(rt *runtime) *cobra.Command {
	var (
		outPath string
		ignore  []string
	)
	cmd := &cobra.Command{
		Use:   "bom DIR [-o FILE]",
		Short: "Write a CycloneDX 1.6 ML-BOM for a model directory",
		Long: `Lists every model in DIR (DIR itself and each subdirectory with its own config.json) as a
machine-learning-model component with the SHA-256 of each file, a model card taken from
config.json and the README.md front matter (license, datasets, language, tags, base_model,
pipeline_tag), and a data component per declared dataset. Nothing is loaded or executed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			version := "(devel)"
			if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
				version = info.Main.Version
			}
			doc, err := mlbom.Generate(cmd.Context(), args[0], mlbom.Options{ToolVersion: version, IgnorePaths: ignore})
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("bom %s: %w", args[0], err))
			}
			var buf bytes.Buffer
			if err := doc.WriteJSON(&buf); err != nil {
				return withExit(exitUsage, err)
			}
			if outPath == "" || outPath == "-" {
				_, err = rt.stdout.Write(buf.Bytes())
				return err
			}
			if err := os.WriteFile(outPath, buf.Bytes(), 0o644); err != nil {
				return usageError("write BOM: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "write the BOM to FILE instead of stdout")
	cmd.Flags().StringSliceVar(&ignore, "ignore-paths", nil, "files or directories to leave out, relative to DIR (repeatable)")
	return cmd
}
