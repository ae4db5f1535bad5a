package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/policies"
)

func newPolicyCmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Write, check and understand policy packs",
	}
	cmd.AddCommand(newPolicyLintCmd(rt), newPolicyTestCmd(rt), newPolicyExplainCmd(rt), newPolicyListCmd(rt), newPolicyShowCmd(rt))
	return cmd
}

func newPolicyLintCmd(rt *runtime) *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check policy files; problems are printed as FILE:LINE:COLUMN: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loader := newLoader()
			problems := 0
			for _, ref := range args {
				name, data, err := loader.Source(ref)
				if err != nil {
					return withExit(exitUsage, err)
				}
				for _, d := range loader.Lint(name, data) {
					problems++
					fmt.Fprintln(rt.stdout, d.String())
				}
			}
			if problems > 0 {
				return withExit(exitFailure, fmt.Errorf("%d problem(s)", problems))
			}
			fmt.Fprintf(rt.stdout, "%d file(s) ok\n", len(args))
			return nil
		},
	}
}

func newPolicyTestCmd(rt *runtime) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run policy test suites (YAML cases: action -> expected outcome)",
		Long: `Runs policy test suites. PATH is a suite file, a directory of *.yaml suites, or the name of a
built-in pack (its embedded suite). Without PATH, every built-in pack's suite runs.
A suite names its policy and lists cases:

  policy: baseline          # built-in name, or a pack file relative to the suite
  cwd: /repo
  home: /home/dev
  cases:
    - name: wipe the disk
      command: rm -rf /
      expect: block
      rule: fs.rm-recursive-system   # optional
    - name: read the env file
      read: .env
      expect: block`,
		RunE: func(cmd *cobra.Command, args []string) error {
			loader := newLoader()
			if len(args) == 0 {
				args = loader.BuiltinNames()
			}
			var suites []string
			for _, a := range args {
				found, err := suitePaths(loader, a)
				if err != nil {
					return withExit(exitUsage, err)
				}
				suites = append(suites, found...)
			}
			passed, failed := 0, 0
			for _, path := range suites {
				p, f, err := runSuite(cmd, rt, loader, path, verbose)
				if err != nil {
					return withExit(exitUsage, err)
				}
				passed += p
				failed += f
			}
			fmt.Fprintf(rt.stdout, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return withExit(exitFailure, fmt.Errorf("%d case(s) failed", failed))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every case, not only failures")
	return cmd
}

// suitePaths expands a test argument into suite files; built-in suites are "builtin:NAME".
func suitePaths(loader *engine.Loader, arg string) ([]string, error) {
	if loader.IsBuiltin(arg) {
		return []string{"builtin:" + arg}, nil
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("test suite %q: not a built-in pack, file or directory: %w", arg, err)
	}
	if !info.IsDir() {
		return []string{arg}, nil
	}
	var out []string
	err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func runSuite(cmd *cobra.Command, rt *runtime, loader *engine.Loader, path string, verbose bool) (passed, failed int, err error) {
	var data []byte
	if name, ok := strings.CutPrefix(path, "builtin:"); ok {
		data, err = fs.ReadFile(policies.FS, "tests/"+name+".yaml")
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read suite: %w", err)
	}
	suite, err := engine.ParseSuite(path, data)
	if err != nil {
		return 0, 0, err
	}
	ref := engine.SuitePolicyRef(loader, path, suite.Policy)
	if f := cmd.Flags().Lookup("policy"); f != nil && f.Changed {
		ref = f.Value.String()
	}
	if ref == "" {
		return 0, 0, fmt.Errorf("%s: the suite names no policy", path)
	}
	pol, err := loader.Load(ref)
	if err != nil {
		return 0, 0, err
	}
	eng := engine.New(pol, engine.Options{Secrets: scanSecrets()})
	for _, r := range engine.RunSuite(cmd.Context(), eng, suite) {
		if r.Passed {
			passed++
			if verbose {
				fmt.Fprintf(rt.stdout, "ok   %s:%d %s -> %s [%s]\n", path, r.Line, r.Name, r.Decision.Outcome, r.Decision.RuleID)
			}
			continue
		}
		failed++
		if r.Err != nil {
			fmt.Fprintf(rt.stdout, "FAIL %s:%d %s: %v\n", path, r.Line, r.Name, r.Err)
			continue
		}
		want := r.Expected
		if r.Rule != "" {
			want += " [" + r.Rule + "]"
		}
		fmt.Fprintf(rt.stdout, "FAIL %s:%d %s: want %s, got %s [%s] %s\n", path, r.Line, r.Name, want, r.Decision.Outcome, r.Decision.RuleID, r.Decision.Reason)
	}
	return passed, failed, nil
}

func newPolicyExplainCmd(rt *runtime) *cobra.Command {
	var line, cwd string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Show how the policy judges an action: the commands found, every rule that matched and the matched span",
		Example: `  cavra policy explain --command 'cd infra && terraform apply -auto-approve' --cwd /repo
  cavra policy explain < action.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var action cavra.Action
			if line != "" {
				if cwd == "" {
					cwd, _ = os.Getwd()
				}
				action = cavra.Action{Kind: cavra.KindCommandExec, Cwd: cwd, Command: &cavra.Command{Line: line}}
			} else {
				a, err := readAction(rt.stdin)
				if err != nil {
					return withExit(exitUsage, err)
				}
				action = a
			}
			eng, err := newEngine(cmd, rt)
			if err != nil {
				return withExit(exitUsage, err)
			}
			n, err := eng.Normalize(action)
			if err != nil {
				return withExit(exitUsage, err)
			}
			d, err := eng.DecideNormalized(cmd.Context(), n)
			if err != nil {
				return withExit(exitUsage, err)
			}
			if asJSON {
				return writeJSON(rt.stdout, map[string]any{"action": n, "decision": d})
			}
			printExplanation(rt, n, d)
			return nil
		},
	}
	addPolicyFlag(cmd)
	cmd.Flags().StringVar(&line, "command", "", "explain this shell command line (otherwise an Action JSON is read on stdin)")
	cmd.Flags().StringVar(&cwd, "cwd", "", "working directory of --command (default: the current directory)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the normalised action and the decision as JSON")
	return cmd
}

func printExplanation(rt *runtime, a cavra.Action, d cavra.Decision) {
	w := rt.stdout
	fmt.Fprintf(w, "policy:   %s (%s)\n", d.Policy, d.PolicyRevision)
	fmt.Fprintf(w, "action:   %s", a.Kind)
	if a.Cwd != "" {
		fmt.Fprintf(w, " in %s", a.Cwd)
	}
	fmt.Fprintln(w)
	if c := a.Command; c != nil {
		fmt.Fprintf(w, "command:  %s\n", c.Line)
		if c.ParseError != "" {
			fmt.Fprintf(w, "          cannot parse: %s\n", c.ParseError)
		}
		for _, sc := range c.Commands {
			extra := ""
			if len(sc.Wrappers) > 0 {
				extra += " wrappers=" + strings.Join(sc.Wrappers, ",")
			}
			if sc.Via != "" {
				extra += " via=" + sc.Via
			}
			if sc.Dir != "" && sc.Dir != a.Cwd {
				extra += " dir=" + sc.Dir
			}
			if sc.Dynamic {
				extra += " dynamic"
			}
			fmt.Fprintf(w, "  - %q%s\n", sc.Argv, extra)
		}
	}
	for _, f := range a.Files {
		to := ""
		if f.To != "" {
			to = " -> " + f.To
		}
		fmt.Fprintf(w, "file:     %s %s%s\n", f.Op, f.Path, to)
	}
	for _, g := range a.Git {
		fmt.Fprintf(w, "git:      %s remote=%q refs=%q force=%v delete=%v\n", g.Subcommand, g.Remote, g.Refs, g.Force, g.Delete)
	}
	for _, n := range a.Network {
		fmt.Fprintf(w, "network:  %s\n", n.URL)
	}
	fmt.Fprintf(w, "\noutcome:  %s", d.Outcome)
	if d.Severity != "" {
		fmt.Fprintf(w, " (%s)", d.Severity)
	}
	fmt.Fprintf(w, "\nrule:     %s\nreason:   %s\n", d.RuleID, d.Reason)
	if d.Remediation != "" {
		fmt.Fprintf(w, "proceed:  %s\n", d.Remediation)
	}
	if len(d.Matches) == 0 {
		return
	}
	fmt.Fprintln(w, "\nmatched rules (most restrictive first):")
	for _, m := range d.Matches {
		fmt.Fprintf(w, "  %-18s %-34s %s: %s\n", m.Outcome, m.RuleID, m.Subject, m.Text)
		if m.Span != nil && a.Command != nil && m.Span.End <= len(a.Command.Line) && m.Span.Start <= m.Span.End {
			fmt.Fprintf(w, "  %18s %34s %s\n", "", "", a.Command.Line)
			fmt.Fprintf(w, "  %18s %34s %s%s\n", "", "", strings.Repeat(" ", m.Span.Start), strings.Repeat("^", max(1, m.Span.End-m.Span.Start)))
		}
	}
}

func newPolicyListCmd(rt *runtime) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in policy packs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loader := newLoader()
			for _, name := range loader.BuiltinNames() {
				pol, err := loader.Load(name)
				if err != nil {
					return err
				}
				desc := strings.Join(strings.Fields(pol.Pack.Description), " ")
				if len(desc) > 90 {
					desc = desc[:87] + "..."
				}
				fmt.Fprintf(rt.stdout, "%-10s %3d rules  %s  %s\n", name, len(pol.Pack.Rules), pol.Revision[:19], desc)
			}
			return nil
		},
	}
}

func newPolicyShowCmd(rt *runtime) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME|FILE",
		Short: "Print a pack with its parents merged in, as YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pol, err := newLoader().Load(args[0])
			if err != nil {
				return withExit(exitUsage, err)
			}
			out, err := engine.FormatPack(pol.Pack)
			if err != nil {
				return err
			}
			fmt.Fprintf(rt.stdout, "# revision: %s\n", pol.Revision)
			_, err = rt.stdout.Write(out)
			return err
		},
	}
}
