package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine/patch"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
)

// gitHost is the source host of actions from git hooks.
const gitHost = "git"

// zeroSHA is git's all-zeros object name: the ref does not exist on that side.
func zeroSHA(s string) bool { return strings.Trim(s, "0") == "" }

// gitOutput runs git in dir and returns its stdout.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func repoDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the working directory: %w", err)
	}
	return wd, nil
}

// gitVerdict ends a git hook: a permitted action exits 0 (warnings on stderr); anything else
// prints the reason and exits 1, which makes git abort.
func gitVerdict(rt *runtime, what string, d cavra.Decision) error {
	switch {
	case d.Outcome.Permits():
		if d.Outcome == cavra.Warn {
			fmt.Fprintln(rt.stderr, "CAVRA warning: "+claudecode.Reason(d))
		}
		return nil
	case d.Outcome == cavra.RequireApproval:
		fmt.Fprintf(rt.stderr, "CAVRA: this %s needs a human's approval. %s\nA human who has reviewed it can run it from their own shell.\n", what, claudecode.Reason(d))
	default:
		fmt.Fprintf(rt.stderr, "CAVRA blocked this %s. %s\n", what, claudecode.Reason(d))
	}
	return silentExit(exitFailure)
}

func newGitPreCommitHookCmd(rt *runtime) *cobra.Command {
	var logPath, repo string
	cmd := &cobra.Command{
		Use:   "git-pre-commit",
		Short: "git pre-commit hook: judge the staged changes (secrets in added lines, protected paths)",
		Long: `Reads the staged changes (git diff --cached) and judges them as one git.commit action: every
added, modified, renamed and deleted path and the added lines. Exit 0 lets the commit go on;
exit 1 aborts it with the reason; errors exit 2 and also abort.

Install it with: cavra init git`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := repoDir(repo)
			if err != nil {
				return hookFailClosed(err)
			}
			action, err := preCommitAction(dir)
			if err != nil {
				return hookFailClosed(err)
			}
			if len(action.Files) == 0 {
				return nil
			}
			decision, err := governLocal(cmd, rt, logPath, action)
			if err != nil {
				return hookFailClosed(err)
			}
			return gitVerdict(rt, "commit", decision)
		},
	}
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	cmd.Flags().StringVar(&repo, "repo", "", "the repository's working tree (default: the current directory, where git runs hooks)")
	return cmd
}

// preCommitAction builds the git.commit action from the index.
func preCommitAction(dir string) (cavra.Action, error) {
	top, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return cavra.Action{}, err
	}
	top = strings.TrimSpace(top)
	a := cavra.Action{
		Version: cavra.TaxonomyVersion, Kind: cavra.KindGitCommit, Effect: cavra.EffectWrite, Cwd: top,
		Source: cavra.Source{Host: gitHost, Tool: "git", Event: "pre-commit"},
		Git:    []cavra.GitOp{{Subcommand: "commit"}},
	}
	diff, err := gitOutput(top, "-c", "core.quotePath=true", "diff", "--cached", "--no-color", "--no-ext-diff", "--unified=0", "-M", "--src-prefix=a/", "--dst-prefix=b/")
	if err != nil {
		return a, err
	}
	if strings.TrimSpace(diff) == "" {
		return a, nil
	}
	ops, err := patch.ParseUnified(diff)
	if err != nil {
		return a, fmt.Errorf("read the staged changes: %w", err)
	}
	a.Files = ops
	return a, nil
}

func newGitPrePushHookCmd(rt *runtime) *cobra.Command {
	var logPath, repo string
	cmd := &cobra.Command{
		Use:   "git-pre-push REMOTE [URL]",
		Short: "git pre-push hook: judge force pushes, pushes to protected branches and deleted refs",
		Long: `Reads git's pre-push lines on stdin ("<local ref> <local sha> <remote ref> <remote sha>") and
judges them as one git.push action. A push is forced when the remote's commit is not an
ancestor of the pushed one (or is unknown here); a ref is deleted when the local sha is all
zeros. Exit 0 lets the push go on; exit 1 aborts it with the reason; errors exit 2.

Install it with: cavra init git`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := repoDir(repo)
			if err != nil {
				return hookFailClosed(err)
			}
			action, err := prePushAction(dir, args[0], io.LimitReader(rt.stdin, maxHookPayload))
			if err != nil {
				return hookFailClosed(err)
			}
			if len(action.Git) == 0 {
				return nil
			}
			decision, err := governLocal(cmd, rt, logPath, action)
			if err != nil {
				return hookFailClosed(err)
			}
			return gitVerdict(rt, "push", decision)
		},
	}
	addPolicyFlag(cmd)
	addDecisionLogFlag(cmd, &logPath)
	cmd.Flags().StringVar(&repo, "repo", "", "the repository's working tree (default: the current directory, where git runs hooks)")
	return cmd
}

// prePushAction builds the git.push action, one GitOp per pushed ref.
func prePushAction(dir, remote string, lines io.Reader) (cavra.Action, error) {
	a := cavra.Action{
		Version: cavra.TaxonomyVersion, Kind: cavra.KindGitPush, Effect: cavra.EffectWrite, Cwd: dir,
		Source: cavra.Source{Host: gitHost, Tool: "git", Event: "pre-push"},
	}
	sc := bufio.NewScanner(lines)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 || !isSHA(f[1]) || !isSHA(f[3]) {
			return a, fmt.Errorf("pre-push line %d: want \"<local ref> <local sha> <remote ref> <remote sha>\", got %q", n, line)
		}
		localSHA, remoteRef, remoteSHA := f[1], f[2], f[3]
		op := cavra.GitOp{Subcommand: "push", Remote: remote, Refs: []string{shortRef(remoteRef)}, Args: []string{f[0] + ":" + remoteRef}}
		switch {
		case zeroSHA(localSHA):
			op.Delete = true
		case zeroSHA(remoteSHA):
			// A new ref on the remote: nothing to overwrite.
		default:
			force, err := nonFastForward(dir, remoteSHA, localSHA)
			if err != nil {
				return a, err
			}
			op.Force = force
		}
		a.Git = append(a.Git, op)
	}
	if err := sc.Err(); err != nil {
		return a, fmt.Errorf("read pre-push lines: %w", err)
	}
	return a, nil
}

// nonFastForward reports whether pushing local over remote discards remote's commits: remote is
// not an ancestor of local. A remote commit this repository does not have cannot be an ancestor.
func nonFastForward(dir, remoteSHA, localSHA string) (bool, error) {
	if _, err := gitOutput(dir, "cat-file", "-e", remoteSHA+"^{commit}"); err != nil {
		return true, nil
	}
	cmd := exec.Command("git", "merge-base", "--is-ancestor", remoteSHA, localSHA)
	cmd.Dir = dir
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 1:
		return true, nil
	default:
		return false, fmt.Errorf("git merge-base --is-ancestor %s %s: %w", remoteSHA, localSHA, err)
	}
}

func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// shortRef trims refs/heads/ and refs/tags/, as rules name branches and tags.
func shortRef(ref string) string {
	if s, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return s
	}
	if s, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return s
	}
	return ref
}
