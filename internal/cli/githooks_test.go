package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// git runs a real git command in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	writeRepoFile(t, dir, "README.md", "hello\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "init")
	return dir
}

func writeRepoFile(t *testing.T, dir, name, body string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGitPreCommit(t *testing.T) {
	tests := []struct {
		name  string
		stage func(t *testing.T, dir string)
		code  int
		rule  string
	}{
		{name: "nothing staged", stage: func(*testing.T, string) {}, code: 0},
		{name: "ordinary change", stage: func(t *testing.T, dir string) {
			writeRepoFile(t, dir, "src/app.go", "package app\n")
			git(t, dir, "add", ".")
		}, code: 0, rule: "engine.default"},
		{name: "secret in added line", stage: func(t *testing.T, dir string) {
			writeRepoFile(t, dir, "deploy.sh", "export GITHUB_TOKEN="+fakeGitHubPAT()+"\n")
			git(t, dir, "add", ".")
		}, code: 1, rule: "secrets.in-written-file"},
		{name: "workflow changed", stage: func(t *testing.T, dir string) {
			writeRepoFile(t, dir, ".github/workflows/ci.yml", "on: push\n")
			git(t, dir, "add", ".")
		}, code: 1, rule: "cicd.pipeline-change"},
		{name: "dotenv renamed", stage: func(t *testing.T, dir string) {
			writeRepoFile(t, dir, ".env", "A=1\n")
			git(t, dir, "add", ".")
			git(t, dir, "commit", "-q", "-m", "env")
			git(t, dir, "mv", ".env", "env.bak")
		}, code: 1, rule: "secrets.dotenv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRepo(t)
			tt.stage(t, dir)
			env := hookEnv(t)
			r := runCLI(t, env, "", "hook", "git-pre-commit", "--repo", dir)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tt.code, r.stderr)
			}
			if strings.Contains(r.stderr, fakeGitHubPAT()) {
				t.Fatal("the secret was echoed")
			}
			if tt.rule == "" {
				return
			}
			records := readDecisions(t, env["CAVRA_HOME"])
			if len(records) != 1 || records[0].Decision.RuleID != tt.rule || records[0].Action.Kind != "git.commit" {
				t.Fatalf("records %+v, want one git.commit decided by %s", records, tt.rule)
			}
			if tt.code != 0 && !strings.Contains(r.stderr, "["+tt.rule+"]") {
				t.Fatalf("stderr does not name the rule: %s", r.stderr)
			}
		})
	}
}

func TestGitPrePushLines(t *testing.T) {
	dir := newRepo(t)
	base := git(t, dir, "rev-parse", "HEAD")
	writeRepoFile(t, dir, "a.txt", "a\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "a")
	ahead := git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "checkout", "-q", "-b", "other", base)
	writeRepoFile(t, dir, "b.txt", "b\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "b")
	diverged := git(t, dir, "rev-parse", "HEAD")
	zero := strings.Repeat("0", 40)
	unknown := strings.Repeat("ab", 20)

	tests := []struct {
		name, lines string
		code        int
		rule        string
	}{
		{name: "nothing to push", lines: "", code: 0},
		{name: "new feature branch", lines: "refs/heads/feat " + ahead + " refs/heads/feat " + zero + "\n", code: 0, rule: "engine.default"},
		{name: "fast-forward feature", lines: "refs/heads/feat " + ahead + " refs/heads/feat " + base + "\n", code: 0, rule: "engine.default"},
		{name: "fast-forward main needs approval", lines: "refs/heads/main " + ahead + " refs/heads/main " + base + "\n", code: 1, rule: "git.push-protected"},
		{name: "rewrite main", lines: "refs/heads/other " + diverged + " refs/heads/main " + ahead + "\n", code: 1, rule: "git.force-push-protected"},
		{name: "remote commit unknown here", lines: "refs/heads/main " + ahead + " refs/heads/main " + unknown + "\n", code: 1, rule: "git.force-push-protected"},
		{name: "delete main", lines: "(delete) " + zero + " refs/heads/main " + ahead + "\n", code: 1, rule: "git.delete-protected-branch"},
		{name: "malformed line", lines: "refs/heads/main HEAD refs/heads/main " + ahead + "\n", code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hookEnv(t)
			r := runCLI(t, env, tt.lines, "hook", "git-pre-push", "origin", "/srv/origin.git", "--repo", dir)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tt.code, r.stderr)
			}
			if tt.rule == "" {
				return
			}
			records := readDecisions(t, env["CAVRA_HOME"])
			if len(records) != 1 || records[0].Decision.RuleID != tt.rule {
				t.Fatalf("records %+v, want one decided by %s", records, tt.rule)
			}
			if g := records[0].Action.Git; len(g) != 1 || g[0].Remote != "origin" {
				t.Fatalf("git ops %+v", g)
			}
		})
	}
}

// TestInitGitRealPush installs the hooks with `cavra init git` and drives real git: a commit
// with a secret is refused, a fast-forward feature push goes through, and a non-fast-forward
// push to main of a local bare remote is refused even with --force.
func TestInitGitRealPush(t *testing.T) {
	bin := buildCavra(t)
	dir := newRepo(t)
	remote := filepath.Join(t.TempDir(), "origin.git")
	git(t, dir, "init", "-q", "--bare", remote)
	git(t, dir, "remote", "add", "origin", remote)
	git(t, dir, "push", "-q", "origin", "main")

	r := runCommand(t, nil, "", func(rt *runtime) *cobra.Command { return newInitGitCmd(rt) }, "git", "--project", dir, "--command", bin)
	if r.code != 0 || strings.Count(r.stdout, "installed") != 2 {
		t.Fatalf("init git: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	home := t.TempDir()
	gitEnv := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CAVRA_HOME="+home, "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	writeRepoFile(t, dir, "deploy.sh", "export GITHUB_TOKEN="+fakeGitHubPAT()+"\n")
	git(t, dir, "add", "deploy.sh")
	if out, err := gitEnv("commit", "-m", "leak"); err == nil || !strings.Contains(out, "secrets.in-written-file") {
		t.Fatalf("a commit with a secret went through: %v\n%s", err, out)
	}
	git(t, dir, "rm", "-q", "--cached", "deploy.sh")

	// Rewrite main locally so that it no longer contains origin/main.
	git(t, dir, "checkout", "-q", "-b", "feat")
	writeRepoFile(t, dir, "feat.txt", "x\n")
	git(t, dir, "add", "feat.txt")
	if out, err := gitEnv("commit", "-m", "feat"); err != nil {
		t.Fatalf("an ordinary commit was refused: %v\n%s", err, out)
	}
	if out, err := gitEnv("push", "-q", "origin", "feat"); err != nil {
		t.Fatalf("a feature push was refused: %v\n%s", err, out)
	}
	git(t, dir, "checkout", "-q", "main")
	git(t, dir, "commit", "-q", "--amend", "-m", "rewritten", "--no-verify")
	out, err := gitEnv("push", "--force", "origin", "main")
	if err == nil || !strings.Contains(out, "git.force-push-protected") {
		t.Fatalf("a non-fast-forward push to main went through: %v\n%s", err, out)
	}
	if git(t, dir, "ls-remote", remote, "refs/heads/main") == git(t, dir, "rev-parse", "main")+"\trefs/heads/main" {
		t.Fatal("the remote's main was rewritten")
	}

	r = runCommand(t, nil, "", func(rt *runtime) *cobra.Command { return newInitGitCmd(rt) }, "git", "--project", dir, "--remove")
	if r.code != 0 || strings.Count(r.stdout, "removed") != 2 {
		t.Fatalf("remove: %s %s", r.stdout, r.stderr)
	}
}

func TestInitGitLeavesForeignHooks(t *testing.T) {
	dir := newRepo(t)
	foreign := filepath.Join(dir, ".git", "hooks", "pre-commit")
	if err := os.WriteFile(foreign, []byte("#!/bin/sh\nmake lint\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCommand(t, nil, "", func(rt *runtime) *cobra.Command { return newInitGitCmd(rt) }, "git", "--project", dir, "--command", "cavra")
	data, _ := os.ReadFile(foreign)
	if r.code != 2 || !strings.Contains(r.stderr, "is not CAVRA's") || string(data) != "#!/bin/sh\nmake lint\n" {
		t.Fatalf("exit %d stderr %q file %q", r.code, r.stderr, data)
	}
	r = runCommand(t, nil, "", func(rt *runtime) *cobra.Command { return newInitGitCmd(rt) }, "git", "--project", dir, "--remove")
	if _, err := os.Stat(foreign); r.code != 0 || err != nil {
		t.Fatalf("remove touched a foreign hook: %v %s", err, r.stderr)
	}
}
