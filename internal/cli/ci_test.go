package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func ciCmd(rt *runtime) *cobra.Command { return newCICmd(rt) }

func TestCICheck(t *testing.T) {
	dir := newRepo(t)
	git(t, dir, "checkout", "-q", "-b", "feature")
	writeRepoFile(t, dir, "src/app.go", "package app\n")
	writeRepoFile(t, dir, ".github/workflows/ci.yml", "on: push\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "add app and ci\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
	writeRepoFile(t, dir, "deploy.sh", "export GITHUB_TOKEN="+fakeGitHubPAT()+"\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "deploy script")

	out := t.TempDir()
	md, sarif := filepath.Join(out, "summary.md"), filepath.Join(out, "cavra.sarif")
	r := runCommand(t, hookEnv(t), "", ciCmd, "ci", "check", "--base", "main", "--repo", dir, "--markdown", md, "--sarif", sarif)
	if r.code != 1 || !strings.Contains(r.stderr, "block findings") {
		t.Fatalf("exit %d, stderr %q: a secret added must fail the check", r.code, r.stderr)
	}
	summary, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| block | `deploy.sh` | `secrets.in-written-file` |", "| require_approval | `.github/workflows/ci.yml` | `cicd.pipeline-change` |",
		"3 files judged", "### AI-authored commits (1)", "Co-Authored-By: Claude"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(string(summary), "src/app.go") || strings.Contains(string(summary), fakeGitHubPAT()) {
		t.Errorf("summary lists an allowed file or the secret:\n%s", summary)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	data, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "CAVRA" || len(log.Runs[0].Results) != 3 {
		t.Fatalf("SARIF %s", data)
	}
	levels := map[string]string{}
	for _, res := range log.Runs[0].Results {
		if log.Runs[0].Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Fatalf("ruleIndex %d does not point at %s", res.RuleIndex, res.RuleID)
		}
		levels[res.RuleID] = res.Level
		if res.RuleID != ruleAIAuthored && (len(res.Locations) != 1 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "") {
			t.Fatalf("result %s has no file location", res.RuleID)
		}
	}
	if levels["secrets.in-written-file"] != "error" || levels["cicd.pipeline-change"] != "warning" || levels[ruleAIAuthored] != "note" {
		t.Fatalf("levels %v", levels)
	}

	// Failing on require_approval too, without the secret commit.
	r = runCommand(t, hookEnv(t), "", ciCmd, "ci", "check", "--base", "main", "--head", "HEAD~1", "--repo", dir, "--fail-on", "require_approval")
	if r.code != 1 || !strings.Contains(r.stdout, "cicd.pipeline-change") {
		t.Fatalf("exit %d stdout %s", r.code, r.stdout)
	}
	r = runCommand(t, hookEnv(t), "", ciCmd, "ci", "check", "--base", "main", "--head", "HEAD~1", "--repo", dir)
	if r.code != 0 {
		t.Fatalf("require_approval must not fail by default: exit %d %s", r.code, r.stderr)
	}
	// Nothing changed.
	r = runCommand(t, hookEnv(t), "", ciCmd, "ci", "check", "--base", "HEAD", "--repo", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "0 files judged") {
		t.Fatalf("exit %d stdout %s", r.code, r.stdout)
	}
	for _, args := range [][]string{{"ci", "check", "--repo", dir}, {"ci", "check", "--base", "no-such-ref", "--repo", dir}, {"ci", "check", "--base", "main", "--fail-on", "maybe", "--repo", dir}} {
		if r := runCommand(t, hookEnv(t), "", ciCmd, args...); r.code != 2 {
			t.Fatalf("%v: exit %d", args, r.code)
		}
	}
}
