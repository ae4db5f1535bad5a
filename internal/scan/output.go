package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cavra-dev/cavra"
)

// ReportSchema names the JSON output's schema; it changes only when the shape does.
const ReportSchema = "cavra.scan/v1"

// Report is a whole scan as written by --format json.
type Report struct {
	Schema  string             `json:"schema"`
	Files   []cavra.FileResult `json:"files"`
	Summary cavra.ScanSummary  `json:"summary"`
}

// NewReport wraps results with their summary.
func NewReport(results []cavra.FileResult) Report {
	if results == nil {
		results = []cavra.FileResult{}
	}
	return Report{Schema: ReportSchema, Files: results, Summary: cavra.Summarize(results)}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// WriteTable writes a human-readable table: one line per file, its findings indented below.
func WriteTable(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tFORMAT\tSIZE\tPATH")
	for _, f := range r.Files {
		verdict := string(f.Verdict)
		if f.Error != "" {
			verdict = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", verdict, f.Format, humanSize(f.Size), f.Path)
		if f.Error != "" {
			fmt.Fprintf(tw, "  \t\t\t%s\n", f.Error)
		}
		for _, fd := range f.Findings {
			loc := ""
			if fd.Location != "" {
				loc = " [" + fd.Location + "]"
			}
			fmt.Fprintf(tw, "  %s\t%s\t\t%s%s\n", fd.Severity, fd.RuleID, fd.Detail, loc)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "\n%d files (%s): %d clean, %d suspicious, %d malicious, %d errors\n",
		s.Files, humanSize(s.Bytes), s.Clean, s.Suspicious, s.Malicious, s.Errors)
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ruleHelp describes rule families for SARIF's rule table.
var ruleHelp = map[string]string{
	"pickle":      "Pickle streams run code on load: imports are checked against dangerous and allowlisted callables.",
	"npy":         "NumPy arrays: object arrays are pickles; headers must match the data.",
	"zip":         "Archives: bombs, overlapping members and path traversal are refused.",
	"safetensors": "safetensors headers must stay within the file and describe each tensor exactly.",
	"gguf":        "GGUF metadata: chat templates are Jinja and can carry template injection.",
	"onnx":        "ONNX models: custom operator domains load native code; external data must stay in the model directory.",
	"savedmodel":  "TensorFlow graphs: file-system and Python ops run when the graph executes.",
	"keras":       "Keras configs: Lambda layers carry code; custom objects need code registered at load time.",
	"hdf5":        "HDF5 files.",
	"scan":        "Scanner limits and read errors.",
}

func sarifLevel(s cavra.Severity) string {
	switch s {
	case cavra.SeverityCritical, cavra.SeverityHigh:
		return "error"
	case cavra.SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

func sarifURI(p string) string {
	p = filepath.ToSlash(p)
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		return "file://" + p
	}
	return p
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Artifacts   []sarifArtifact   `json:"artifacts"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifArtifact struct {
	Location sarifArtifactLocation `json:"location"`
	Length   int64                 `json:"length"`
	Hashes   map[string]string     `json:"hashes,omitempty"`
}

type sarifArtifactLocation struct {
	URI   string `json:"uri"`
	Index *int   `json:"index,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical     `json:"physicalLocation"`
	LogicalLocations []sarifLogicalLoc `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
}

type sarifLogicalLoc struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties"`
}

// WriteSARIF writes the report as a SARIF 2.1.0 log.
func WriteSARIF(w io.Writer, r Report, toolVersion string) error {
	ruleIndex := map[string]int{}
	var ruleIDs []string
	for _, f := range r.Files {
		for _, fd := range f.Findings {
			if _, ok := ruleIndex[fd.RuleID]; !ok {
				ruleIndex[fd.RuleID] = 0
				ruleIDs = append(ruleIDs, fd.RuleID)
			}
		}
	}
	sort.Strings(ruleIDs)
	rules := make([]sarifRule, len(ruleIDs))
	for i, id := range ruleIDs {
		ruleIndex[id] = i
		family, _, _ := strings.Cut(id, ".")
		desc := ruleHelp[family]
		if desc == "" {
			desc = id
		}
		rules[i] = sarifRule{ID: id, ShortDescription: sarifMessage{Text: desc}}
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "cavra", Version: toolVersion,
			InformationURI: "https://github.com/cavra-dev/cavra", Rules: rules}},
		Artifacts: []sarifArtifact{},
		Results:   []sarifResult{},
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for i, f := range r.Files {
		idx := i
		art := sarifArtifactLocation{URI: sarifURI(f.Path), Index: &idx}
		a := sarifArtifact{Location: sarifArtifactLocation{URI: art.URI}, Length: f.Size}
		if f.SHA256 != "" {
			a.Hashes = map[string]string{"sha-256": f.SHA256}
		}
		run.Artifacts = append(run.Artifacts, a)
		if f.Error != "" {
			inv.ExecutionSuccessful = false
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level: "error", Message: sarifMessage{Text: f.Error},
				Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: art}}},
			})
		}
		for _, fd := range f.Findings {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: art}}
			if fd.Location != "" {
				loc.LogicalLocations = []sarifLogicalLoc{{FullyQualifiedName: fd.Location}}
			}
			run.Results = append(run.Results, sarifResult{
				RuleID: fd.RuleID, RuleIndex: ruleIndex[fd.RuleID], Level: sarifLevel(fd.Severity),
				Message:    sarifMessage{Text: fd.Detail},
				Locations:  []sarifLocation{loc},
				Properties: map[string]any{"severity": fd.Severity, "verdict": f.Verdict, "format": f.Format},
			})
		}
	}
	run.Invocations = []sarifInvocation{inv}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}
