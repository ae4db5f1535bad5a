package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/attest"
	"github.com/cavra-dev/cavra/internal/engine/patch"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
)

func newCICmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "Judge a change set in CI (pull requests)",
	}
	cmd.AddCommand(newCICheckCmd(rt))
	return cmd
}

// ciFinding is one judged file, or one AI-authored commit.
type ciFinding struct {
	Path     string        `json:"path,omitempty"`
	Commit   string        `json:"commit,omitempty"`
	Outcome  cavra.Outcome `json:"outcome"`
	RuleID   string        `json:"rule_id"`
	Severity string        `json:"severity,omitempty"`
	Message  string        `json:"message"`
}

// ciReport is what `cavra ci check` found.
type ciReport struct {
	Base, Head  string
	Top         string // the repository's top-level directory
	Policy      string
	Revision    string
	Files       int
	Findings    []ciFinding
	AICommits   []ciFinding
	WorstResult cavra.Outcome
}

// aiTrailer matches commit trailers and footers that mark a commit as written by an AI agent.
var aiTrailer = regexp.MustCompile(`(?im)^(co-authored-by:.*(claude|anthropic|codex|openai|copilot|cursor|gemini|devin|aider|\[bot\]).*|generated with \[?(claude code|codex|cursor|gemini).*|🤖 generated with.*)$`)

const ruleAIAuthored = "ci.ai-authored-commit"

func newCICheckCmd(rt *runtime) *cobra.Command {
	var (
		logPath, base, head, repo, markdownPath, sarifPath, failOn, attestPath string
	)
	cmd := &cobra.Command{
		Use:   "check --base REF",
		Short: "Judge the files a change touches and the commits that make it; write Markdown and SARIF",
		Long: `Judges every file the change from --base to --head touches (git diff base...head: added,
modified, renamed and deleted paths and the added lines, so workflows, IAM files and secrets
added are caught) with the chosen policy, one decision per file, and lists commits in
base..head that carry AI-authorship trailers (Co-Authored-By: Claude and the like).

Writes a Markdown summary (--markdown, e.g. $GITHUB_STEP_SUMMARY) and SARIF 2.1.0 for code
scanning (--sarif). Exits 1 when a file's outcome is at least --fail-on (block by default;
require_approval makes review-needing changes fail too), 0 otherwise, 2 on errors.

Files whose outcome is allow_with_attestation are attested in the data home like any other
decision. With --attest FILE, a change that passes is decided once more as the set of its
AI-authored commits (host ci, event attest) and, when policy permits it, a DSSE-signed in-toto
attestation whose subjects are those commits (gitCommit digests) is written to FILE, signed with
the data home's evidence key; check it with cavra attest verify FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if base == "" {
				return usageError("--base is required, e.g. --base origin/main")
			}
			threshold, err := cavra.ParseOutcome(failOn)
			if err != nil {
				return usageError("--fail-on: %v", err)
			}
			dir, err := repoDir(repo)
			if err != nil {
				return withExit(exitUsage, err)
			}
			report, err := ciCheck(cmd, rt, logPath, dir, base, head)
			if err != nil {
				return withExit(exitUsage, err)
			}
			md := ciMarkdown(report)
			if markdownPath != "" {
				if err := appendOrWrite(markdownPath, md); err != nil {
					return withExit(exitUsage, err)
				}
			} else {
				fmt.Fprint(rt.stdout, md)
			}
			if sarifPath != "" {
				b, err := json.MarshalIndent(ciSARIF(report), "", "  ")
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("encode SARIF: %w", err))
				}
				if err := os.WriteFile(sarifPath, append(b, '\n'), 0o644); err != nil {
					return withExit(exitUsage, fmt.Errorf("write SARIF: %w", err))
				}
			}
			if report.WorstResult != "" && report.WorstResult.Rank() >= threshold.Rank() {
				fmt.Fprintf(rt.stderr, "cavra: the change has %s findings\n", report.WorstResult)
				if attestPath != "" {
					fmt.Fprintf(rt.stderr, "cavra: a failing change is not attested; %s not written\n", attestPath)
				}
				return silentExit(exitFailure)
			}
			if attestPath != "" {
				return ciAttest(cmd, rt, logPath, report, attestPath)
			}
			return nil
		},
	}
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	cmd.Flags().StringVar(&base, "base", "", "the ref the change is judged against (required)")
	cmd.Flags().StringVar(&head, "head", "HEAD", "the ref of the change")
	cmd.Flags().StringVar(&repo, "repo", "", "the repository (default: the current directory)")
	cmd.Flags().StringVar(&markdownPath, "markdown", "", "append the Markdown summary to this file (default: stdout)")
	cmd.Flags().StringVar(&sarifPath, "sarif", "", "write SARIF 2.1.0 to this file")
	cmd.Flags().StringVar(&failOn, "fail-on", string(cavra.Block), "exit 1 when a finding's outcome is at least this")
	cmd.Flags().StringVar(&attestPath, "attest", "", "write a signed attestation of the change's AI-authored commits to this file")
	return cmd
}

// ciCheck decides on every file the change touches and finds AI-authored commits.
func ciCheck(cmd *cobra.Command, rt *runtime, logPath, dir, base, head string) (ciReport, error) {
	r := ciReport{Base: base, Head: head}
	top, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return r, err
	}
	top = strings.TrimSpace(top)
	r.Top = top
	diff, err := gitOutput(top, "-c", "core.quotePath=true", "diff", "--no-color", "--no-ext-diff", "--unified=0", "-M",
		"--src-prefix=a/", "--dst-prefix=b/", base+"..."+head)
	if err != nil {
		return r, err
	}
	var ops []cavra.FileOp
	if strings.TrimSpace(diff) != "" {
		if ops, err = patch.ParseUnified(diff); err != nil {
			return r, fmt.Errorf("read the change: %w", err)
		}
	}
	for _, op := range ops {
		path := op.Path
		if op.Op == cavra.FileMove {
			path = op.To
		}
		r.Files++
		action := cavra.Action{
			Version: cavra.TaxonomyVersion, Kind: cavra.KindGitCommit, Effect: cavra.EffectWrite, Cwd: top,
			Source: cavra.Source{Host: "ci", Tool: "git", Event: "check"},
			Files:  []cavra.FileOp{op}, Git: []cavra.GitOp{{Subcommand: "commit", Args: []string{base + "..." + head}}},
		}
		d, err := governLocal(cmd, rt, logPath, action)
		if err != nil {
			return r, fmt.Errorf("judge %s: %w", path, err)
		}
		r.Policy, r.Revision = d.Policy, d.PolicyRevision
		if d.Outcome == cavra.Allow {
			continue
		}
		r.Findings = append(r.Findings, ciFinding{Path: path, Outcome: d.Outcome, RuleID: d.RuleID, Severity: string(d.Severity), Message: claudecode.Reason(d)})
		if r.WorstResult == "" || d.Outcome.Rank() > r.WorstResult.Rank() {
			r.WorstResult = d.Outcome
		}
	}
	log, err := gitOutput(top, "log", "--format=%H%x00%B%x1e", base+".."+head)
	if err != nil {
		return r, err
	}
	for _, entry := range strings.Split(log, "\x1e") {
		sha, body, ok := strings.Cut(strings.TrimSpace(entry), "\x00")
		if !ok {
			continue
		}
		if m := aiTrailer.FindString(body); m != "" {
			r.AICommits = append(r.AICommits, ciFinding{Commit: sha, Outcome: cavra.AuditOnly, RuleID: ruleAIAuthored,
				Message: "AI-authored commit: " + strings.TrimSpace(m)})
		}
	}
	sort.SliceStable(r.Findings, func(i, j int) bool { return r.Findings[i].Outcome.Rank() > r.Findings[j].Outcome.Rank() })
	return r, nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func ciMarkdown(r ciReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## CAVRA check: %s...%s\n\n", mdEscape(r.Base), mdEscape(r.Head))
	if r.Policy != "" {
		fmt.Fprintf(&b, "Policy `%s` (`%s`), %d files judged.\n\n", r.Policy, r.Revision, r.Files)
	} else {
		fmt.Fprintf(&b, "%d files judged.\n\n", r.Files)
	}
	if len(r.Findings) == 0 {
		b.WriteString("No file needs attention.\n\n")
	} else {
		b.WriteString("| outcome | file | rule | why and how to proceed |\n|---|---|---|---|\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s |\n", f.Outcome, mdEscape(f.Path), f.RuleID, mdEscape(f.Message))
		}
		b.WriteString("\n")
	}
	if len(r.AICommits) > 0 {
		fmt.Fprintf(&b, "### AI-authored commits (%d)\n\n", len(r.AICommits))
		for _, c := range r.AICommits {
			fmt.Fprintf(&b, "- `%s` %s\n", c.Commit[:min(12, len(c.Commit))], mdEscape(c.Message))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func appendOrWrite(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("write the summary: %w", err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return fmt.Errorf("write the summary: %w", err)
	}
	return f.Close()
}

// sarifLevel maps an outcome to SARIF's result level.
func sarifLevel(o cavra.Outcome) string {
	switch o {
	case cavra.Block:
		return "error"
	case cavra.RequireApproval, cavra.Warn:
		return "warning"
	default:
		return "note"
	}
}

// ciSARIF renders the report as a SARIF 2.1.0 log with one run.
func ciSARIF(r ciReport) map[string]any {
	ruleIndex := map[string]int{}
	var rules []any
	addRule := func(id, text string) int {
		if i, ok := ruleIndex[id]; ok {
			return i
		}
		ruleIndex[id] = len(rules)
		rules = append(rules, map[string]any{"id": id, "shortDescription": map[string]any{"text": text}})
		return ruleIndex[id]
	}
	results := []any{}
	for _, f := range r.Findings {
		i := addRule(f.RuleID, "CAVRA policy rule "+f.RuleID)
		results = append(results, map[string]any{
			"ruleId": f.RuleID, "ruleIndex": i, "level": sarifLevel(f.Outcome),
			"message":    map[string]any{"text": f.Message},
			"locations":  []any{map[string]any{"physicalLocation": map[string]any{"artifactLocation": map[string]any{"uri": f.Path}}}},
			"properties": map[string]any{"outcome": string(f.Outcome)},
		})
	}
	for _, c := range r.AICommits {
		i := addRule(c.RuleID, "Commit marked as written by an AI agent")
		results = append(results, map[string]any{
			"ruleId": c.RuleID, "ruleIndex": i, "level": "note", "message": map[string]any{"text": c.Message + " (" + c.Commit + ")"},
			"properties": map[string]any{"commit": c.Commit},
		})
	}
	if rules == nil {
		rules = []any{}
	}
	return map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "CAVRA", "informationUri": "https://github.com/cavra-dev/cavra", "rules": rules,
			}},
			"results":           results,
			"automationDetails": map[string]any{"id": "cavra/ci-check/"},
			"columnKind":        "utf16CodeUnits",
			"properties":        map[string]any{"policy": r.Policy, "policy_revision": r.Revision, "base": r.Base, "head": r.Head},
		}},
	}
}

// ciAttest decides the change's AI-authored commits as one act and, when policy permits it,
// writes its attestation (subjects: the commits) to path.
func ciAttest(cmd *cobra.Command, rt *runtime, logPath string, r ciReport, path string) error {
	if len(r.AICommits) == 0 {
		fmt.Fprintf(rt.stderr, "cavra: no AI-authored commits in %s..%s; %s not written\n", r.Base, r.Head, path)
		return nil
	}
	ids := make([]string, len(r.AICommits))
	for i, c := range r.AICommits {
		ids[i] = c.Commit
	}
	subjects, err := attest.CommitSubjects(ids)
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("attest the AI-authored commits: %w", err))
	}
	action := cavra.Action{
		Version: cavra.TaxonomyVersion, Kind: cavra.KindGitCommit, Effect: cavra.EffectWrite, Cwd: r.Top,
		Source:     cavra.Source{Host: "ci", Tool: "git", Event: "attest"},
		Git:        []cavra.GitOp{{Subcommand: "commit", Args: ids}},
		Attributes: map[string]any{"ai_authored": true, "base": r.Base, "head": r.Head},
	}
	d, att, err := governAttested(cmd, rt, logPath, action, attestRequest{always: true, subjects: subjects})
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("attest the AI-authored commits: %w", err))
	}
	if att == nil {
		return withExit(exitFailure, fmt.Errorf("the AI-authored commits were not attested: policy says %s [%s]: %s", d.Outcome, d.RuleID, d.Reason))
	}
	if err := os.WriteFile(path, att.Envelope, 0o644); err != nil {
		return withExit(exitUsage, fmt.Errorf("write the attestation: %w", err))
	}
	fmt.Fprintf(rt.stderr, "cavra: attested %d AI-authored commits in %s (decision %s)\n", len(ids), path, d.ID)
	return nil
}
