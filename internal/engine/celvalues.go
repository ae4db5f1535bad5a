package engine

import (
	"github.com/cavra-dev/cavra"
)

// The CEL view of an action is its canonical JSON form: the same field names, and a field the
// JSON omits when empty is absent here too (so `has(subject.dynamic)` means what it means in
// JSON). Building the maps directly costs a fraction of a JSON round trip on the hot path.

func putString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func putStrings(m map[string]any, k string, v []string) {
	if len(v) > 0 {
		m[k] = stringList(v)
	}
}

func stringList(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func spanValue(s cavra.Span) map[string]any {
	return map[string]any{"start": int64(s.Start), "end": int64(s.End)}
}

func simpleCommandValue(c cavra.SimpleCommand) map[string]any {
	m := map[string]any{"argv": stringList(c.Argv), "program": c.Program, "span": spanValue(c.Span)}
	putStrings(m, "wrappers", c.Wrappers)
	if len(c.Env) > 0 {
		env := make(map[string]any, len(c.Env))
		for k, v := range c.Env {
			env[k] = v
		}
		m["env"] = env
	}
	putString(m, "dir", c.Dir)
	putString(m, "via", c.Via)
	if c.Dynamic {
		m["dynamic"] = true
	}
	return m
}

func fileValue(f cavra.FileOp) map[string]any {
	m := map[string]any{"op": string(f.Op), "path": f.Path}
	putString(m, "raw", f.Raw)
	putString(m, "to", f.To)
	putString(m, "content", f.Content)
	return m
}

func gitValue(g cavra.GitOp) map[string]any {
	m := map[string]any{"subcommand": g.Subcommand}
	putString(m, "remote", g.Remote)
	putStrings(m, "refs", g.Refs)
	if g.Force {
		m["force"] = true
	}
	if g.Delete {
		m["delete"] = true
	}
	putStrings(m, "args", g.Args)
	return m
}

func mcpValue(c *cavra.MCPCall) map[string]any {
	m := map[string]any{"server": c.Server}
	putString(m, "tool", c.Tool)
	putString(m, "method", c.Method)
	if len(c.Arguments) > 0 {
		m["arguments"] = c.Arguments
	}
	return m
}

func networkValue(n cavra.NetworkRequest) map[string]any {
	m := map[string]any{"url": n.URL}
	putString(m, "host", n.Host)
	putString(m, "method", n.Method)
	return m
}

func secretValue(s SecretHit) map[string]any {
	m := map[string]any{"rule_id": s.RuleID, "line": int64(s.Line), "column": int64(s.Column), "redacted": s.Redacted}
	putString(m, "path", s.Path)
	putString(m, "description", s.Description)
	return m
}

func modelValue(r *cavra.ModelRef) map[string]any {
	m := map[string]any{}
	putString(m, "id", r.ID)
	putString(m, "name", r.Name)
	putString(m, "version", r.Version)
	putString(m, "digest", r.Digest)
	putString(m, "stage", r.Stage)
	putString(m, "format", r.Format)
	putString(m, "verdict", r.Verdict)
	if len(r.Metadata) > 0 {
		md := make(map[string]any, len(r.Metadata))
		for k, v := range r.Metadata {
			md[k] = v
		}
		m["metadata"] = md
	}
	return m
}

func actionValue(a *cavra.Action) map[string]any {
	m := map[string]any{"kind": string(a.Kind)}
	putString(m, "version", a.Version)
	putString(m, "id", a.ID)
	putString(m, "effect", string(a.Effect))
	putString(m, "risk", string(a.Risk))
	src := map[string]any{}
	putString(src, "host", a.Source.Host)
	putString(src, "tool", a.Source.Tool)
	putString(src, "event", a.Source.Event)
	putString(src, "session_id", a.Source.SessionID)
	putString(src, "tool_use_id", a.Source.ToolUseID)
	putString(src, "agent", a.Source.Agent)
	putString(src, "permission_mode", a.Source.PermissionMode)
	m["source"] = src
	putString(m, "principal", a.Principal)
	putString(m, "tenant", a.Tenant)
	putString(m, "workspace", a.Workspace)
	putString(m, "cwd", a.Cwd)
	putString(m, "home", a.Home)
	if c := a.Command; c != nil {
		cm := map[string]any{"line": c.Line}
		if len(c.Commands) > 0 {
			list := make([]any, len(c.Commands))
			for i, sc := range c.Commands {
				list[i] = simpleCommandValue(sc)
			}
			cm["commands"] = list
		}
		putString(cm, "parse_error", c.ParseError)
		m["command"] = cm
	}
	if len(a.Files) > 0 {
		list := make([]any, len(a.Files))
		for i, f := range a.Files {
			list[i] = fileValue(f)
		}
		m["files"] = list
	}
	if len(a.Git) > 0 {
		list := make([]any, len(a.Git))
		for i, g := range a.Git {
			list[i] = gitValue(g)
		}
		m["git"] = list
	}
	if a.MCP != nil {
		m["mcp"] = mcpValue(a.MCP)
	}
	if len(a.Network) > 0 {
		list := make([]any, len(a.Network))
		for i, n := range a.Network {
			list[i] = networkValue(n)
		}
		m["network"] = list
	}
	if a.Model != nil {
		m["model"] = modelValue(a.Model)
	}
	if len(a.Attributes) > 0 {
		m["attributes"] = a.Attributes
	}
	return m
}

// subjectValue is the CEL view of a subject.
func subjectValue(subject any) (any, error) {
	switch s := subject.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return s, nil
	case cavra.SimpleCommand:
		return simpleCommandValue(s), nil
	case cavra.FileOp:
		return fileValue(s), nil
	case cavra.GitOp:
		return gitValue(s), nil
	case *cavra.MCPCall:
		return mcpValue(s), nil
	case cavra.NetworkRequest:
		return networkValue(s), nil
	case SecretHit:
		return secretValue(s), nil
	}
	return toCEL(subject)
}
