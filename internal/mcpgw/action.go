package mcpgw

import (
	"net/url"
	"sort"
	"strings"

	"github.com/cavra-dev/cavra"
)

// pathKeys are argument names whose string (or string list) values are file paths. They cover the
// reference filesystem server and the common spellings of other servers.
var pathKeys = map[string]bool{
	"path": true, "paths": true, "file": true, "files": true, "file_path": true, "filepath": true,
	"filename": true, "file_name": true, "dir": true, "directory": true, "dir_path": true,
	"target": true, "target_path": true, "notebook_path": true, "root": true, "cwd": true,
}

// moveKeys name the two ends of a move or copy.
var (
	moveSourceKeys = []string{"source", "src", "from", "source_path", "old_path", "oldPath"}
	moveDestKeys   = []string{"destination", "dest", "dst", "to", "destination_path", "new_path", "newPath"}
)

// contentKeys hold text a tool writes into the file it names; it is scanned for secrets.
var contentKeys = []string{"content", "contents", "text", "data", "body", "new_content", "newText", "new_text", "new_string"}

// verbs maps words found in tool names to the file operation they imply.
var verbs = []struct {
	op    cavra.FileOperation
	words []string
}{
	// Checked in this order: "move_file" is a move before it is anything else, "read_write" a write.
	{cavra.FileMove, []string{"move", "rename", "mv"}},
	{cavra.FileDelete, []string{"delete", "remove", "rm", "unlink", "rmdir", "trash", "purge"}},
	{cavra.FileWrite, []string{"write", "create", "edit", "update", "append", "put", "save", "patch", "insert", "replace", "set", "upload", "mkdir", "copy", "cp", "modify", "overwrite", "touch"}},
	{cavra.FileRead, []string{"read", "get", "list", "search", "find", "view", "show", "cat", "head", "tail", "tree", "stat", "info", "open", "download", "fetch", "query", "grep", "ls", "directory"}},
}

// OperationOf derives the file operation a tool performs from its name. A name without a known
// verb yields both read and write, so that every file rule applies to an unknown tool.
func OperationOf(tool string) []cavra.FileOperation {
	words := strings.FieldsFunc(strings.ToLower(splitCamel(tool)), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, v := range verbs {
		for _, w := range words {
			for _, vw := range v.words {
				if w == vw {
					return []cavra.FileOperation{v.op}
				}
			}
		}
	}
	return []cavra.FileOperation{cavra.FileRead, cavra.FileWrite}
}

// splitCamel puts a space before each upper-case letter that follows a lower-case one:
// "writeFile" -> "write File".
func splitCamel(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		isUpper := r >= 'A' && r <= 'Z'
		if isUpper && prevLower {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
		prevLower = r >= 'a' && r <= 'z'
	}
	return b.String()
}

// ToolCallAction builds the mcp.call action for a tools/call of tool on server with arguments.
// Paths found in the arguments become FileOps with the operation the tool name implies, so the
// file rules (CI workflows, credentials, .env files) apply to MCP calls as to the agent's own
// tools; the engine resolves them against cwd.
func ToolCallAction(server, cwd, tool string, args map[string]any) cavra.Action {
	a := cavra.Action{
		Kind:   cavra.KindMCPCall,
		Effect: cavra.EffectExecute,
		Source: cavra.Source{Host: "mcp", Tool: "mcp__" + server + "__" + tool, Event: "tools/call"},
		Cwd:    cwd,
		MCP:    &cavra.MCPCall{Server: server, Tool: tool, Method: "tools/call", Arguments: args},
	}
	a.Files = argumentFiles(tool, args)
	return a
}

// ResourceReadAction builds the action for resources/read; a file:// resource is a file read.
func ResourceReadAction(server, cwd, uri string) cavra.Action {
	a := cavra.Action{
		Kind:   cavra.KindMCPCall,
		Effect: cavra.EffectRead,
		Source: cavra.Source{Host: "mcp", Tool: "mcp__" + server + "__resources/read", Event: "resources/read"},
		Cwd:    cwd,
		MCP:    &cavra.MCPCall{Server: server, Method: "resources/read", Arguments: map[string]any{"uri": uri}},
	}
	if u, err := url.Parse(uri); err == nil && u.Scheme == "file" && u.Path != "" {
		a.Files = []cavra.FileOp{{Op: cavra.FileRead, Path: u.Path, Raw: uri}}
	}
	return a
}

func argumentFiles(tool string, args map[string]any) []cavra.FileOp {
	ops := OperationOf(tool)
	var content string
	for _, k := range contentKeys {
		if s, ok := args[k].(string); ok && s != "" {
			content = s
			break
		}
	}
	// edit_file-style arguments carry their new text in a list of edits.
	if content == "" {
		content = editText(args["edits"])
	}
	var files []cavra.FileOp
	add := func(raw string) {
		if raw == "" || strings.ContainsRune(raw, 0) {
			return
		}
		for _, op := range ops {
			f := cavra.FileOp{Op: op, Path: raw, Raw: raw}
			if op == cavra.FileWrite {
				f.Content = content
			}
			files = append(files, f)
		}
	}
	// A move names both ends; each end is judged as a move of that path.
	src, dst := firstString(args, moveSourceKeys), firstString(args, moveDestKeys)
	isMove := len(ops) == 1 && ops[0] == cavra.FileMove
	if isMove && src != "" {
		files = append(files, cavra.FileOp{Op: cavra.FileMove, Path: src, Raw: src, To: dst})
		if dst != "" {
			files = append(files, cavra.FileOp{Op: cavra.FileMove, Path: dst, Raw: dst})
		}
	} else {
		if src != "" {
			files = append(files, cavra.FileOp{Op: cavra.FileRead, Path: src, Raw: src})
		}
		if dst != "" {
			files = append(files, cavra.FileOp{Op: cavra.FileWrite, Path: dst, Raw: dst, Content: content})
		}
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys) // stable order: the fingerprint and the evidence must not depend on map order
	for _, k := range keys {
		if !pathKeys[strings.ToLower(k)] {
			continue
		}
		switch v := args[k].(type) {
		case string:
			add(v)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					add(s)
				}
			}
		}
	}
	return files
}

func firstString(args map[string]any, keys []string) string {
	for _, k := range keys {
		if s, ok := args[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func editText(v any) string {
	edits, ok := v.([]any)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, e := range edits {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range []string{"newText", "new_text", "new_string", "replacement"} {
			if s, ok := m[k].(string); ok {
				b.WriteString(s)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}
