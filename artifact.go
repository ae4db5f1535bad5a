package cavra

import "fmt"

// Verdict is the scanner's classification of one model or artifact file.
type Verdict string

// Verdicts, least worrying first.
const (
	VerdictClean      Verdict = "clean"
	VerdictSuspicious Verdict = "suspicious"
	VerdictMalicious  Verdict = "malicious"
)

var verdicts = []Verdict{VerdictClean, VerdictSuspicious, VerdictMalicious}

// Rank orders verdicts (clean 1, suspicious 2, malicious 3); an unknown verdict ranks 0.
func (v Verdict) Rank() int {
	for i, k := range verdicts {
		if v == k {
			return i + 1
		}
	}
	return 0
}

// ParseVerdict checks s against the known verdicts.
func ParseVerdict(s string) (Verdict, error) {
	v := Verdict(s)
	if v.Rank() == 0 {
		return "", fmt.Errorf("unknown verdict %q (want one of clean, suspicious, malicious)", s)
	}
	return v, nil
}

// VerdictFor maps the worst severity among a file's findings to a verdict: critical and high
// findings (code that runs on load, hostile containers) make a file malicious; medium and low
// findings (unknown imports, malformed headers) make it suspicious; info findings leave it clean.
func VerdictFor(findings []Finding) Verdict {
	worst := 0
	for _, f := range findings {
		worst = max(worst, f.Severity.Rank())
	}
	switch {
	case worst >= SeverityHigh.Rank():
		return VerdictMalicious
	case worst >= SeverityLow.Rank():
		return VerdictSuspicious
	default:
		return VerdictClean
	}
}

// Finding is one thing the scanner noticed in a file.
type Finding struct {
	RuleID   string   `json:"rule_id"`
	Severity Severity `json:"severity"`
	Detail   string   `json:"detail"`
	// Location points inside the file: "offset 1234", "member archive/data.pkl offset 52",
	// "tensor weight", "metadata tokenizer.chat_template".
	Location string `json:"location,omitempty"`
}

// FileResult is the scan of one file. Findings is never nil in results the scanner returns, so
// JSON output always carries an array.
type FileResult struct {
	Path     string    `json:"path"`
	Format   string    `json:"format"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Verdict  Verdict   `json:"verdict"`
	Findings []Finding `json:"findings"`
	// Error is set when the file could not be read; such a file has no verdict of its own.
	Error string `json:"error,omitempty"`
}

// ScanSummary counts a scan's results.
type ScanSummary struct {
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
	Clean      int   `json:"clean"`
	Suspicious int   `json:"suspicious"`
	Malicious  int   `json:"malicious"`
	Errors     int   `json:"errors"`
	Findings   int   `json:"findings"`
}

// Summarize counts results.
func Summarize(results []FileResult) ScanSummary {
	var s ScanSummary
	for _, r := range results {
		s.Files++
		s.Bytes += r.Size
		s.Findings += len(r.Findings)
		if r.Error != "" {
			s.Errors++
			continue
		}
		switch r.Verdict {
		case VerdictClean:
			s.Clean++
		case VerdictSuspicious:
			s.Suspicious++
		case VerdictMalicious:
			s.Malicious++
		}
	}
	return s
}
