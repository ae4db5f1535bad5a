package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
	"github.com/cavra-dev/cavra/internal/scan"
)

// failThreshold is --fail-on: a verdict or a finding severity.
type failThreshold struct {
	verdict  cavra.Verdict
	severity cavra.Severity
}

func parseFailOn(s string) (failThreshold, error) {
	if v, err := cavra.ParseVerdict(s); err == nil {
		return failThreshold{verdict: v}, nil
	}
	if sev := cavra.Severity(s); s != "" && sev.Valid() {
		return failThreshold{severity: sev}, nil
	}
	return failThreshold{}, fmt.Errorf("--fail-on %q: want clean, suspicious, malicious or a severity (info, low, medium, high, critical)", s)
}

// trips reports whether a result reaches the threshold.
func (f failThreshold) trips(r cavra.FileResult) bool {
	if r.Error != "" {
		return false
	}
	if f.verdict != "" {
		return r.Verdict.Rank() >= f.verdict.Rank()
	}
	for _, fd := range r.Findings {
		if fd.Severity.Rank() >= f.severity.Rank() {
			return true
		}
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newScanCmd(rt *runtime) *cobra.Command {
	var (
		format     string
		failOn     string
		rulesFile  string
		workers    int
		noProgress bool
		noEvidence bool
		reportTo   string
		token      string
	)
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Scan model files and artifacts for code that runs when they are loaded",
		Long: `Scan walks files and directories and classifies each file as clean, suspicious or
malicious without unpickling, importing or executing anything. It reads pickles (all
protocols), PyTorch, NumPy, joblib, Keras, TensorFlow SavedModel, safetensors, GGUF, ONNX and
zip containers (by content, not extension).

When the data home exists (cavra init), each file's result (path, format, sha256, size,
verdict, findings; never its content) and a summary are appended to the signed audit log;
--no-evidence skips that. A scan never creates a data home.

--report-to URL sends the same metadata, digests, verdicts and findings to a CAVRA server
(bearer token from --token or CAVRA_TOKEN); no byte of any scanned file leaves the machine.

Exit status: 0 when nothing reaches --fail-on, 1 when something does, 2 on usage or I/O errors.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			threshold, err := parseFailOn(failOn)
			if err != nil {
				return usageError("%v", err)
			}
			if format == "" {
				format = "json"
				if isTerminal(rt.stdout) {
					format = "table"
				}
			}
			if format != "table" && format != "json" && format != "sarif" {
				return usageError("--format %q: want table, json or sarif", format)
			}
			opts := scan.Options{Logger: rt.logger, Workers: workers}
			if rulesFile != "" {
				rules, err := scan.LoadRules(rulesFile)
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("--rules: %w", err))
				}
				opts.Rules = rules
			}
			showProgress := !noProgress && isTerminal(rt.stderr)
			if showProgress {
				opts.Progress = func(done, total int, doneBytes, totalBytes int64) {
					fmt.Fprint(rt.stderr, progressLine(done, total, doneBytes, totalBytes))
				}
			}
			results, err := scan.New(opts).Scan(cmd.Context(), args)
			if showProgress {
				fmt.Fprint(rt.stderr, "\r\033[K")
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			report := scan.NewReport(results)
			switch format {
			case "table":
				err = scan.WriteTable(rt.stdout, report)
			case "json":
				err = scan.WriteJSON(rt.stdout, report)
			case "sarif":
				err = scan.WriteSARIF(rt.stdout, report, toolVersion())
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			if !noEvidence {
				if _, err := recordScan(cmd.Context(), rt, args, results); err != nil {
					return withExit(exitUsage, err)
				}
			}
			if reportTo != "" {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				err := scan.Send(ctx, nil, reportTo, hookio.FirstNonEmpty(token, rt.getenv("CAVRA_TOKEN")), report)
				cancel()
				if err != nil {
					return withExit(exitUsage, err)
				}
			}
			var tripped, failed int
			for _, r := range results {
				if r.Error != "" {
					failed++
				}
				if threshold.trips(r) {
					tripped++
				}
			}
			if failed > 0 {
				return withExit(exitUsage, fmt.Errorf("%d file(s) could not be scanned", failed))
			}
			if tripped > 0 {
				return withExit(exitFailure, fmt.Errorf("%d file(s) at or above --fail-on %s", tripped, failOn))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "output format: table, json or sarif (default table on a terminal, json otherwise)")
	f.StringVar(&failOn, "fail-on", string(cavra.VerdictMalicious), "exit 1 when a file reaches this verdict (clean, suspicious, malicious) or has a finding of this severity (info, low, medium, high, critical)")
	f.StringVar(&rulesFile, "rules", "", "JSON file of import rules merged over the built-in lists (\"replace\": true replaces them)")
	f.IntVar(&workers, "workers", 0, "files scanned at once (default: one per CPU)")
	f.BoolVar(&noProgress, "no-progress", false, "do not draw a progress bar on a terminal")
	f.BoolVar(&noEvidence, "no-evidence", false, "do not record the results in the data home's audit log")
	f.StringVar(&reportTo, "report-to", "", "send the results (metadata, digests, verdicts, findings; never file content) to this CAVRA server")
	f.StringVar(&token, "token", "", "bearer token for --report-to (env CAVRA_TOKEN)")
	return cmd
}

func progressLine(done, total int, doneBytes, totalBytes int64) string {
	const width = 30
	filled := width
	if totalBytes > 0 {
		filled = int(int64(width) * doneBytes / totalBytes)
	}
	return fmt.Sprintf("\r[%s%s] %d/%d files, %d/%d MiB", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		done, total, doneBytes>>20, totalBytes>>20)
}

func toolVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
