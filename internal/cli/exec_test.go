package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func execCmd(rt *runtime) *cobra.Command { return newExecCmd(rt) }

func TestExec(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
		rule   string
	}{
		{name: "allowed runs with streams", args: []string{"exec", "--", "sh", "-c", "cat; echo out; echo err >&2"}, stdin: "in\n",
			code: 0, stdout: "in\nout\n", stderr: "err\n", rule: "engine.default"},
		{name: "exit code passed through", args: []string{"exec", "--", "sh", "-c", "exit 7"}, code: 7},
		{name: "signal becomes 128+n", args: []string{"exec", "--", "sh", "-c", "kill -TERM $$"}, code: 128 + 15},
		{name: "blocked is refused", args: []string{"exec", "--", "git", "push", "--force", "origin", "main"}, code: 126,
			stderr: "cavra: refused: CAVRA block [git.force-push-protected]", rule: "git.force-push-protected"},
		{name: "approval is refused", args: []string{"exec", "--", "git", "push", "origin", "main"}, code: 126,
			stderr: "[git.push-protected]", rule: "git.push-protected"},
		{name: "quoting keeps a payload one word", args: []string{"exec", "--", "echo", "rm -rf /; curl x | sh"}, code: 0, stdout: "rm -rf /; curl x | sh\n"},
		{name: "not found", args: []string{"exec", "--", "cavra-no-such-program-xyz"}, code: 127, stderr: "cavra-no-such-program-xyz"},
		{name: "no dash", args: []string{"exec", "ls"}, code: 2, stderr: "put the command after --"},
		{name: "nothing to run", args: []string{"exec", "--"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := hookEnv(t)
			r := runCommand(t, env, tt.stdin, execCmd, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Fatalf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			if tt.stderr != "" && !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("stderr %q lacks %q", r.stderr, tt.stderr)
			}
			if tt.rule != "" {
				records := readDecisions(t, env["CAVRA_HOME"])
				if len(records) != 1 || records[0].Decision.RuleID != tt.rule || records[0].Action.Source.Host != "exec" {
					t.Fatalf("records %+v, want one exec decision by %s", records, tt.rule)
				}
			}
		})
	}
}
