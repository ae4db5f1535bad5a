package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/hooklite"
	"github.com/cavra-dev/cavra/internal/hooks/hookio"
)

// hostHookConfig says where an agent host reads its hook configuration and which hook entries
// CAVRA puts there.
type hostHookConfig struct {
	host        string
	projectFile string // relative to the project directory
	userFile    string // relative to the home directory
	// groups returns, per event, the entries CAVRA adds, given the command line of each
	// `cavra hook` subcommand.
	groups func(hook func(sub string) string) map[string][]any
	// subcommands are the `cavra hook` subcommands whose entries are CAVRA's.
	subcommands []string
	// top sets top-level keys the file must have (Cursor's "version").
	top map[string]any
}

func commandHook(command string, extra map[string]any) map[string]any {
	h := map[string]any{"type": "command", "command": command}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

var hostHookConfigs = []hostHookConfig{
	{
		host: "claude-code", projectFile: ".claude/settings.json", userFile: ".claude/settings.json",
		subcommands: []string{"claude-code", "claude-code-scan"},
		groups: func(hook func(string) string) map[string][]any {
			// onFailure "block" makes a hook that cannot start, times out or crashes block the
			// action; without it Claude Code runs the tool (Claude Code 2.1.295 and later).
			decide := commandHook(hook("claude-code"), map[string]any{"timeout": 10, "onFailure": "block"})
			scan := commandHook(hook("claude-code-scan"), map[string]any{"timeout": 10})
			prompt := commandHook(hook("claude-code-scan"), map[string]any{"timeout": 10, "onFailure": "block"})
			return map[string][]any{
				"PreToolUse":       {map[string]any{"matcher": "*", "hooks": []any{decide}}},
				"PostToolUse":      {map[string]any{"matcher": "*", "hooks": []any{scan}}},
				"UserPromptSubmit": {map[string]any{"hooks": []any{prompt}}},
			}
		},
	},
	{
		host: "codex", projectFile: ".codex/hooks.json", userFile: ".codex/hooks.json",
		subcommands: []string{"codex"},
		groups: func(hook func(string) string) map[string][]any {
			h := func() map[string]any { return commandHook(hook("codex"), map[string]any{"timeout": 10}) }
			return map[string][]any{
				// Codex matchers are regular expressions; ".*" covers Bash, apply_patch and MCP tools.
				"PreToolUse":       {map[string]any{"matcher": ".*", "hooks": []any{h()}}},
				"PostToolUse":      {map[string]any{"matcher": ".*", "hooks": []any{h()}}},
				"UserPromptSubmit": {map[string]any{"hooks": []any{h()}}},
			}
		},
	},
	{
		host: "cursor", projectFile: ".cursor/hooks.json", userFile: ".cursor/hooks.json",
		subcommands: []string{"cursor"}, top: map[string]any{"version": 1},
		groups: func(hook func(string) string) map[string][]any {
			// failClosed makes Cursor block when the hook crashes, times out or prints bad JSON.
			gate := func() map[string]any { return map[string]any{"command": hook("cursor"), "failClosed": true} }
			observe := func() map[string]any { return map[string]any{"command": hook("cursor")} }
			return map[string][]any{
				"beforeShellExecution": {gate()},
				"beforeMCPExecution":   {gate()},
				"beforeReadFile":       {gate()},
				"beforeSubmitPrompt":   {gate()},
				"afterShellExecution":  {observe()},
				"afterMCPExecution":    {observe()},
			}
		},
	},
	{
		host: "gemini", projectFile: ".gemini/settings.json", userFile: ".gemini/settings.json",
		subcommands: []string{"gemini"},
		groups: func(hook func(string) string) map[string][]any {
			// Gemini CLI's timeout is in milliseconds.
			h := func() map[string]any {
				return commandHook(hook("gemini"), map[string]any{"name": "cavra", "timeout": 10000})
			}
			return map[string][]any{
				"BeforeTool":  {map[string]any{"matcher": ".*", "hooks": []any{h()}}},
				"AfterTool":   {map[string]any{"matcher": ".*", "hooks": []any{h()}}},
				"BeforeAgent": {map[string]any{"hooks": []any{h()}}},
			}
		},
	},
}

// initHostCommands are the `cavra init <host>` subcommands: the four agent hosts and git.
func initHostCommands(rt *runtime) []*cobra.Command {
	cmds := make([]*cobra.Command, 0, len(hostHookConfigs)+1)
	for _, hc := range hostHookConfigs {
		cmds = append(cmds, newInitHostCmd(rt, hc))
	}
	return append(cmds, newInitGitCmd(rt))
}

type initFlags struct {
	user, remove bool
	command      string
	project      string
	// remote writes the lean cavra-hook binary into the decision hooks (see newInitHostCmd).
	remote      bool
	hookCommand string
}

func (f *initFlags) add(cmd *cobra.Command, withUser bool) {
	if withUser {
		cmd.Flags().BoolVar(&f.user, "user", false, "configure the user's settings in the home directory instead of the project's")
	}
	cmd.Flags().BoolVar(&f.remove, "remove", false, "remove CAVRA's hooks and leave everything else as it was")
	cmd.Flags().StringVar(&f.command, "command", "", "the cavra command the hooks run (default: the absolute path of this binary)")
	cmd.Flags().StringVar(&f.project, "project", "", "the project directory (default: the current directory)")
}

// cavraCommand is the command line written into configs: --command as given, or this binary's
// absolute path, shell-quoted since hosts run hook commands through a shell.
func (f *initFlags) cavraCommand() (string, error) {
	if f.command != "" {
		return f.command, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary's path (use --command): %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return hookio.ShellQuote([]string{exe}), nil
}

// hookLines returns the command line of each `cavra hook` subcommand. The subcommands
// cavra-hook answers itself (the agent hosts' decision hooks) run cavra-hook, which starts in a
// millisecond where the full binary takes ten and asks the local decision daemon or the control
// plane: --hook-command when given, else the cavra-hook beside this binary, unless --command
// names another cavra. --remote insists on cavra-hook. The other subcommands run cavra.
func (f *initFlags) hookLines(cavraCmd string) (func(sub string) string, error) {
	full := func(sub string) string { return cavraCmd + " hook " + sub }
	lean := f.hookCommand
	if lean == "" && (f.remote || f.command == "") {
		path, err := leanHookBeside()
		switch {
		case err == nil:
			lean = hookio.ShellQuote([]string{path})
		case f.remote:
			return nil, fmt.Errorf("--remote: %w: build it (make build) or give --hook-command", err)
		}
	}
	if lean == "" {
		return full, nil
	}
	return func(sub string) string {
		if slices.Contains(hooklite.Hosts, sub) {
			return lean + " " + sub
		}
		return full(sub)
	}, nil
}

// leanHookBeside is the cavra-hook in this binary's directory.
func leanHookBeside() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary's path: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	path := filepath.Join(filepath.Dir(exe), leanHookName)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return "", fmt.Errorf("no %s beside %s", leanHookName, exe)
	}
	return path, nil
}

func (f *initFlags) projectDir() (string, error) {
	if f.project != "" {
		return filepath.Abs(f.project)
	}
	return os.Getwd()
}

func userHomeDir(rt *runtime) (string, error) {
	if h := rt.getenv("HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory: %w", err)
	}
	return h, nil
}

func newInitHostCmd(rt *runtime, hc hostHookConfig) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   hc.host,
		Short: fmt.Sprintf("Configure %s's hooks to call CAVRA (%s; --user for ~/%s)", hc.host, hc.projectFile, hc.userFile),
		Long: fmt.Sprintf(`Merges CAVRA's hook entries into %s in the project (or ~/%s with --user),
keeping every other setting and hook. Running it again replaces CAVRA's entries (so a moved
binary is picked up) and changes nothing else; --remove takes only CAVRA's entries out.

The decision hooks run "cavra-hook %s" when cavra-hook is beside this binary (as make build
lays them out) or --hook-command names it, else "cavra hook %s". cavra-hook starts in about a
millisecond where the full binary takes ten: in remote mode (CAVRA_SERVER) it asks the control
plane itself, in local mode it asks the local decision daemon (cavra hook daemon), which it
starts when none runs. --remote insists on cavra-hook; --command alone writes the full binary.`, hc.projectFile, hc.userFile, hc.host, hc.host),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := f.projectDir()
			rel := hc.projectFile
			if f.user {
				base, err = userHomeDir(rt)
				rel = hc.userFile
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			path := filepath.Join(base, rel)
			command := ""
			var lines func(string) string
			if !f.remove {
				if command, err = f.cavraCommand(); err != nil {
					return withExit(exitUsage, err)
				}
				if lines, err = f.hookLines(command); err != nil {
					return withExit(exitUsage, err)
				}
			}
			changed, err := updateHookConfig(path, hc, lines, f.remove)
			if err != nil {
				return withExit(exitUsage, err)
			}
			switch {
			case !changed:
				fmt.Fprintf(rt.stdout, "%s: already up to date\n", path)
			case f.remove:
				fmt.Fprintf(rt.stdout, "%s: removed CAVRA's hooks\n", path)
			default:
				fmt.Fprintf(rt.stdout, "%s: %s hooks now call %s\n", path, hc.host, lines(hc.host))
			}
			return nil
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&f.remote, "remote", false, "require the lean cavra-hook for the decision hooks (fails when there is none)")
	cmd.Flags().StringVar(&f.hookCommand, "hook-command", "", "the cavra-hook command for the decision hooks (default: the cavra-hook beside this binary)")
	return cmd
}

// updateHookConfig rewrites path with CAVRA's entries replaced (or removed) and reports whether
// the file changed. Everything that is not a CAVRA entry is kept. hook gives the command line
// of each `cavra hook` subcommand; it is unused when removing.
func updateHookConfig(path string, hc hostHookConfig, hook func(sub string) string, remove bool) (bool, error) {
	before, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if remove && os.IsNotExist(err) {
		return false, nil
	}
	cfg := map[string]any{}
	if len(bytes.TrimSpace(before)) > 0 {
		if err := json.Unmarshal(before, &cfg); err != nil {
			return false, fmt.Errorf("%s is not a JSON object, so it is left alone: %w", path, err)
		}
		if cfg == nil {
			return false, fmt.Errorf("%s is not a JSON object, so it is left alone", path)
		}
	}
	hooks := map[string]any{}
	if raw, ok := cfg["hooks"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return false, fmt.Errorf("%s: \"hooks\" is not an object, so the file is left alone", path)
		}
		hooks = m
	}
	for event, raw := range hooks {
		list, ok := raw.([]any)
		if !ok {
			continue // not an event list (e.g. a host's own switch): not CAVRA's
		}
		kept := removeCavraEntries(list, hc.subcommands)
		if len(kept) == 0 {
			delete(hooks, event)
		} else {
			hooks[event] = kept
		}
	}
	if !remove {
		for event, groups := range hc.groups(hook) {
			existing, _ := hooks[event].([]any)
			if _, present := hooks[event]; present && existing == nil {
				return false, fmt.Errorf("%s: hooks.%s is not a list, so the file is left alone", path, event)
			}
			hooks[event] = append(existing, groups...)
		}
		for k, v := range hc.top {
			if _, ok := cfg[k]; !ok {
				cfg[k] = v
			}
		}
	}
	if len(hooks) == 0 {
		delete(cfg, "hooks")
	} else {
		cfg["hooks"] = hooks
	}
	after, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", path, err)
	}
	after = append(after, '\n')
	if bytes.Equal(before, after) || (len(before) > 0 && jsonEqual(before, after)) {
		return false, nil
	}
	if err := writeFileAtomic(path, after); err != nil {
		return false, err
	}
	return true, nil
}

// removeCavraEntries drops CAVRA's hooks from one event's list: flat entries (Cursor) whose
// command is CAVRA's, and inside groups (Claude Code, Codex, Gemini CLI) the hooks whose command
// is CAVRA's, dropping a group only when CAVRA's hooks were all it had.
func removeCavraEntries(list []any, subcommands []string) []any {
	var kept []any
	for _, item := range list {
		entry, ok := item.(map[string]any)
		if !ok {
			kept = append(kept, item)
			continue
		}
		if isCavraCommand(entry["command"], subcommands) {
			continue
		}
		inner, ok := entry["hooks"].([]any)
		if !ok {
			kept = append(kept, item)
			continue
		}
		var innerKept []any
		for _, h := range inner {
			if hm, ok := h.(map[string]any); ok && isCavraCommand(hm["command"], subcommands) {
				continue
			}
			innerKept = append(innerKept, h)
		}
		if len(innerKept) == 0 && len(inner) > 0 {
			continue
		}
		if len(innerKept) != len(inner) {
			copied := make(map[string]any, len(entry))
			for k, v := range entry {
				copied[k] = v
			}
			copied["hooks"] = innerKept
			item = copied
		}
		kept = append(kept, item)
	}
	return kept
}

// leanHookName is the lean hook binary `cavra init --remote` writes.
const leanHookName = "cavra-hook"

// isCavraCommand reports whether a hook command line runs `<cavra> hook <subcommand>` or
// `<cavra-hook> <subcommand>`.
func isCavraCommand(v any, subcommands []string) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	f := strings.Fields(s)
	if len(f) < 2 || !slices.Contains(subcommands, f[len(f)-1]) {
		return false
	}
	prev := f[len(f)-2]
	return (len(f) >= 3 && prev == "hook") || filepath.Base(strings.Trim(prev, `'"`)) == leanHookName
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// writeFileAtomic replaces path so that a reader sees the old or the new file, never half.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".cavra-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// gitHookMarker identifies hook scripts CAVRA wrote, so that --remove never deletes another's.
const gitHookMarker = "# cavra-managed hook"

func newInitGitCmd(rt *runtime) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "git",
		Short: "Install git pre-commit and pre-push hooks that consult CAVRA's policy",
		Long: `Writes pre-commit and pre-push scripts into the repository's hooks directory (core.hooksPath
is honoured) that run "cavra hook git-pre-commit" and "cavra hook git-pre-push". A hook that
exists and is not CAVRA's is left alone and reported: add the command to it yourself.
--remove deletes only CAVRA's scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := f.projectDir()
			if err != nil {
				return withExit(exitUsage, err)
			}
			hooksDir, err := gitOutput(dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("not a git repository? %w", err))
			}
			hooksDir = strings.TrimSpace(hooksDir)
			command := ""
			if !f.remove {
				if command, err = f.cavraCommand(); err != nil {
					return withExit(exitUsage, err)
				}
			}
			for _, h := range []struct{ name, sub string }{{"pre-commit", "git-pre-commit"}, {"pre-push", "git-pre-push"}} {
				path := filepath.Join(hooksDir, h.name)
				msg, err := updateGitHook(path, command, h.sub, f.remove)
				if err != nil {
					return withExit(exitUsage, err)
				}
				fmt.Fprintf(rt.stdout, "%s: %s\n", path, msg)
			}
			return nil
		},
	}
	f.add(cmd, false)
	return cmd
}

func updateGitHook(path, command, sub string, remove bool) (string, error) {
	existing, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	ours := exists && bytes.Contains(existing, []byte(gitHookMarker))
	if remove {
		if !ours {
			return "not CAVRA's, left alone", nil
		}
		if err := os.Remove(path); err != nil {
			return "", fmt.Errorf("remove %s: %w", path, err)
		}
		return "removed", nil
	}
	if exists && !ours {
		return "", fmt.Errorf("%s exists and is not CAVRA's; it is left alone: add `%s hook %s \"$@\"` to it yourself", path, command, sub)
	}
	script := "#!/bin/sh\n" + gitHookMarker + ": remove with `cavra init git --remove`.\n" +
		"# Asks CAVRA's policy before git goes on; a non-zero exit makes git stop.\n" +
		"exec " + command + " hook " + sub + " \"$@\"\n"
	if ours && string(existing) == script {
		return "already up to date", nil
	}
	if err := writeFileAtomic(path, []byte(script)); err != nil {
		return "", err
	}
	if err := os.Chmod(path, 0o755); err != nil {
		return "", fmt.Errorf("make %s executable: %w", path, err)
	}
	return "installed", nil
}
