package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra/internal/scan"
)

// runScan runs the scan command in-process and returns the exit code run() would give.
func runScan(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	rt := &runtime{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errOut,
		getenv: func(string) string { return "" },
		logger: slog.New(slog.NewTextHandler(&errOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	cmd := newScanCmd(rt)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case err == nil:
		code = exitOK
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = exitUsage
	}
	return code, out.String(), errOut.String()
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	maliciousPickle  = "cos\nsystem\n(S'echo pwned'\ntR."
	suspiciousPickle = "\x80\x02cmy_pkg.layers\nCustomLayer\n)R."
	benignPickle     = "\x80\x04]\x94(K\x01K\x02e."
)

func TestScanCommandExitCodes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"bad/evil.pkl":       maliciousPickle,
		"odd/custom.pkl":     suspiciousPickle,
		"good/list.pkl":      benignPickle,
		"good/README.md":     "# card\n",
		"rules/allow.json":   `{"safe": {"my_pkg.layers": ["CustomLayer"]}}`,
		"rules/broken.json":  `{"safe": [`,
		"rules/unknown.json": `{"allow": {}}`,
	})
	p := func(rel string) string { return filepath.Join(dir, rel) }
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"malicious fails by default", []string{"scan", p("bad")}, exitFailure},
		{"clean passes", []string{"scan", p("good")}, exitOK},
		{"suspicious passes the default threshold", []string{"scan", p("odd")}, exitOK},
		{"suspicious fails at --fail-on suspicious", []string{"scan", "--fail-on", "suspicious", p("odd")}, exitFailure},
		{"severity threshold", []string{"scan", "--fail-on", "medium", p("odd")}, exitFailure},
		{"severity threshold above findings", []string{"scan", "--fail-on", "high", p("odd")}, exitOK},
		{"clean threshold trips on any file", []string{"scan", "--fail-on", "clean", p("good")}, exitFailure},
		{"rules file allows the import", []string{"scan", "--fail-on", "suspicious", "--rules", p("rules/allow.json"), p("odd")}, exitOK},
		{"broken rules file", []string{"scan", "--rules", p("rules/broken.json"), p("odd")}, exitUsage},
		{"unknown rules field", []string{"scan", "--rules", p("rules/unknown.json"), p("odd")}, exitUsage},
		{"bad --fail-on", []string{"scan", "--fail-on", "bad", p("good")}, exitUsage},
		{"bad --format", []string{"scan", "--format", "xml", p("good")}, exitUsage},
		{"missing path", []string{"scan", p("nope")}, exitUsage},
		{"no path", []string{"scan"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runScan(t, tc.args[1:]...)
			if code != tc.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.want, stderr)
			}
		})
	}
}

func TestScanCommandJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{"evil.pkl": maliciousPickle, "list.pkl": benignPickle})
	code, stdout, _ := runScan(t, dir)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
	var report scan.Report
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("output (json is the default off a terminal) does not parse: %v\n%s", err, stdout)
	}
	if report.Schema != scan.ReportSchema || report.Summary.Files != 2 || report.Summary.Malicious != 1 || report.Summary.Clean != 1 {
		t.Fatalf("report: %+v", report)
	}
	for _, f := range report.Files {
		if f.SHA256 == "" || f.Format != "pickle" {
			t.Errorf("file %s: sha256 %q format %q", f.Path, f.SHA256, f.Format)
		}
	}
}

func TestScanCommandFormats(t *testing.T) {
	dir := writeFiles(t, map[string]string{"evil.pkl": maliciousPickle})
	_, table, stderr := runScan(t, "--format", "table", dir)
	if !strings.Contains(table, "malicious") || !strings.Contains(table, "pickle.dangerous-import") || !strings.Contains(table, "1 malicious") {
		t.Errorf("table output:\n%s", table)
	}
	if strings.Contains(stderr, "[=") {
		t.Errorf("progress bar drawn on a non-terminal stderr: %q", stderr)
	}
	_, sarif, _ := runScan(t, "--format", "sarif", dir)
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
				Level  string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(sarif), &log); err != nil {
		t.Fatalf("sarif: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 1 || log.Runs[0].Results[0].Level != "error" {
		t.Errorf("sarif: %+v", log)
	}
}
