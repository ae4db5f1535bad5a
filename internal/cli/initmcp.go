package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
)

// newInitMCPCmd is `cavra init mcp`: route every stdio server of an MCP configuration through
// `cavra mcp wrap`, or undo that.
func newInitMCPCmd(rt *runtime) *cobra.Command {
	var (
		file  string
		undo  bool
		cavra string
	)
	cmd := &cobra.Command{
		Use:   "mcp [--file .mcp.json] [--undo]",
		Short: "Route the servers of an MCP config (.mcp.json, or a host's) through the CAVRA gateway",
		Long: `Rewrites every stdio server of an MCP configuration file ({"mcpServers": {NAME: {command, args}}},
the format of .mcp.json, Claude Desktop, Cursor and Gemini CLI) so that it runs as
  cavra mcp wrap --name NAME -- COMMAND ARGS...
The original command stays in the arguments after "--", so --undo restores it exactly. Servers
already wrapped are left alone; HTTP servers (url) are listed for cavra mcp serve. Other fields
are kept as they are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cavra == "" {
				exe, err := os.Executable()
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("find the cavra binary: pass --cavra: %w", err))
				}
				cavra = exe
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("read MCP config: %w", err))
			}
			out, report, err := rewriteMCPConfig(data, cavra, undo)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("%s: %w", file, err))
			}
			for _, line := range report {
				fmt.Fprintln(rt.stdout, line)
			}
			if bytes.Equal(out, data) {
				return nil
			}
			info, err := os.Stat(file)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("stat MCP config: %w", err))
			}
			tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".cavra-tmp")
			if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
				return withExit(exitUsage, fmt.Errorf("write MCP config: %w", err))
			}
			if err := os.Rename(tmp, file); err != nil {
				os.Remove(tmp)
				return withExit(exitUsage, fmt.Errorf("replace MCP config: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", ".mcp.json", "the MCP configuration file to rewrite")
	cmd.Flags().BoolVar(&undo, "undo", false, "restore the original server commands")
	cmd.Flags().StringVar(&cavra, "cavra", "", "the cavra command to put in the config (default: this binary's absolute path)")
	return cmd
}

// rewriteMCPConfig wraps (or unwraps) the stdio servers of an MCP config and reports what it did.
// Fields it does not touch keep their values; keys come out sorted.
func rewriteMCPConfig(data []byte, cavra string, undo bool) ([]byte, []string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, fmt.Errorf("parse MCP config: %w", err)
	}
	key := "mcpServers"
	if _, ok := top[key]; !ok {
		if _, ok := top["servers"]; ok {
			key = "servers" // VS Code's mcp.json
		} else {
			return nil, nil, errors.New(`no "mcpServers" object`)
		}
	}
	var servers map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top[key], &servers); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", key, err)
	}
	names := make([]string, 0, len(servers))
	for n := range servers {
		names = append(names, n)
	}
	sort.Strings(names)
	var report []string
	changed := false
	for _, name := range names {
		s := servers[name]
		if s == nil {
			continue
		}
		var command string
		var args []string
		if raw, ok := s["command"]; ok {
			if err := json.Unmarshal(raw, &command); err != nil {
				return nil, nil, fmt.Errorf("server %s: command: %w", name, err)
			}
		}
		if raw, ok := s["args"]; ok {
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, nil, fmt.Errorf("server %s: args: %w", name, err)
			}
		}
		if command == "" {
			if _, ok := s["url"]; ok {
				report = append(report, fmt.Sprintf("%s: HTTP server left as is; front it with: cavra mcp serve --name %s --upstream URL, and point the url at the gateway", name, name))
			}
			continue
		}
		wrapped := len(args) >= 5 && args[0] == "mcp" && args[1] == "wrap" && indexOf(args, "--") >= 2
		switch {
		case undo && wrapped:
			i := indexOf(args, "--")
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("server %s: wrapped command has nothing after --", name)
			}
			command, args = args[i+1], args[i+2:]
			report = append(report, fmt.Sprintf("%s: restored %s", name, command))
		case !undo && !wrapped:
			args = append([]string{"mcp", "wrap", "--name", name, "--", command}, args...)
			command = cavra
			report = append(report, fmt.Sprintf("%s: now runs through cavra mcp wrap", name))
		default:
			continue
		}
		changed = true
		c, err := json.Marshal(command)
		if err != nil {
			return nil, nil, err
		}
		if args == nil {
			args = []string{}
		}
		a, err := json.Marshal(args)
		if err != nil {
			return nil, nil, err
		}
		s["command"], s["args"] = c, a
	}
	if !changed {
		return data, report, nil
	}
	sj, err := json.Marshal(servers)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", key, err)
	}
	top[key] = sj
	out, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("encode MCP config: %w", err)
	}
	return append(out, '\n'), report, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
