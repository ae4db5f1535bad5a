// Package hookio holds what every agent-host adapter needs to read a hook payload safely:
// strict decoding of one JSON object, MCP tool-name splitting, the text inside a JSON value
// (for secret scanning of tool output), shell quoting of argv, and the small pieces every
// answer renderer shares.
package hookio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/cavra-dev/cavra"
)

// DecodeObject decodes data, which must be exactly one JSON object, into v.
func DecodeObject(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return fmt.Errorf("empty hook payload on stdin")
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("decode hook payload: not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode hook payload: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("decode hook payload: trailing data after the JSON object")
	}
	return nil
}

// IsObject reports whether raw holds a JSON object (and not null, a string or an array).
func IsObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// SplitMCP splits "mcp__server__tool", the name Claude Code, Codex and Gemini CLI give MCP tools.
func SplitMCP(name string) (server, tool string, ok bool) {
	rest, ok := strings.CutPrefix(name, "mcp__")
	if !ok {
		return "", "", false
	}
	server, tool, ok = strings.Cut(rest, "__")
	if !ok || server == "" || tool == "" {
		return "", "", false
	}
	return server, tool, true
}

// Text returns the text a JSON value carries: a string as is; for objects and arrays every
// string, number and boolean inside, one per line, object keys in sorted order. Tool output
// arrives in many shapes (a string, {stdout, stderr}, MCP content blocks); secrets hide in any.
// Invalid JSON is returned as raw text so that nothing escapes the scan.
func Text(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	var parts []string
	collect(v, &parts)
	return strings.Join(parts, "\n")
}

func collect(v any, parts *[]string) {
	switch x := v.(type) {
	case string:
		*parts = append(*parts, x)
	case json.Number:
		*parts = append(*parts, x.String())
	case bool:
		*parts = append(*parts, fmt.Sprint(x))
	case []any:
		for _, e := range x {
			collect(e, parts)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			collect(x[k], parts)
		}
	}
}

// ShellQuote joins argv into one POSIX shell line that a shell parses back into the same argv.
func ShellQuote(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = quoteWord(a)
	}
	return strings.Join(quoted, " ")
}

func quoteWord(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CheckCwd rejects a working directory that is not absolute: paths in the action resolve
// against it, and a relative one would make them mean whatever the hook's own directory is.
func CheckCwd(cwd string) error {
	if cwd != "" && !strings.HasPrefix(cwd, "/") {
		return fmt.Errorf("hook payload cwd %q is not absolute", cwd)
	}
	return nil
}

// CheckToolCall requires what every tool event carries: a tool name and an object of inputs.
func CheckToolCall(toolName string, toolInput json.RawMessage) error {
	if toolName == "" {
		return fmt.Errorf("hook payload has no tool_name")
	}
	if !IsObject(toolInput) {
		return fmt.Errorf("hook payload tool_input must be a JSON object")
	}
	return nil
}

// LowerWarnings joins the warnings of rules that matched below the deciding one, so a host that
// allows still tells the model why the act was risky; "" when there are none.
func LowerWarnings(d cavra.Decision) string {
	var warns []string
	for _, m := range d.Matches {
		if m.Outcome == cavra.Warn {
			warns = append(warns, "["+m.RuleID+"] "+m.Message)
		}
	}
	if len(warns) == 0 {
		return ""
	}
	return "CAVRA warning: " + strings.Join(warns, " ")
}

// Deref is *s, or "" for nil: optional string fields of tool inputs.
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// FirstNonEmpty returns the first value that is not "".
func FirstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
