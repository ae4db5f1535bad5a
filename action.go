package cavra

import "strings"

// TaxonomyVersion is the version of the Action schema and kind taxonomy this build speaks.
const TaxonomyVersion = "1"

// Kind is an action's type, "domain.verb".
type Kind string

// The coding-agent and model kinds. Generic domains (identity, data, finance, communications,
// workflow) use the same "domain.verb" form with any verb and are carried as plain Kind values.
const (
	KindFileRead      Kind = "file.read"
	KindFileWrite     Kind = "file.write"
	KindFileDelete    Kind = "file.delete"
	KindCommandExec   Kind = "command.exec"
	KindGitPush       Kind = "git.push"
	KindGitCommit     Kind = "git.commit"
	KindGitMerge      Kind = "git.merge"
	KindMCPCall       Kind = "mcp.call"
	KindMCPList       Kind = "mcp.list"
	KindNetworkFetch  Kind = "network.fetch"
	KindModelRegister Kind = "model.register"
	KindModelPromote  Kind = "model.promote"
	KindArtifactUse   Kind = "artifact.use"
)

// Domain is the part of the kind before the dot.
func (k Kind) Domain() string {
	d, _, _ := strings.Cut(string(k), ".")
	return d
}

// Valid reports whether k has the "domain.verb" form with lower-case ASCII words.
func (k Kind) Valid() bool {
	d, v, ok := strings.Cut(string(k), ".")
	return ok && isWord(d) && isWord(v)
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// Effect is what an action does to the thing it touches.
type Effect string

// The effects of the generic taxonomy.
const (
	EffectRead    Effect = "read"
	EffectWrite   Effect = "write"
	EffectDelete  Effect = "delete"
	EffectExecute Effect = "execute"
	EffectSend    Effect = "send"
	EffectGrant   Effect = "grant"
	EffectApprove Effect = "approve"
	EffectExport  Effect = "export"
	EffectPromote Effect = "promote"
)

// Valid reports whether e is empty or one of the known effects.
func (e Effect) Valid() bool {
	switch e {
	case "", EffectRead, EffectWrite, EffectDelete, EffectExecute, EffectSend, EffectGrant,
		EffectApprove, EffectExport, EffectPromote:
		return true
	}
	return false
}

// Action is the canonical, host-independent description of one thing an agent (or a pipeline)
// wants to do. Adapters fill what their host tells them; the engine's normaliser derives the
// structured facts (argv of every simple command, resolved paths, git operations) that rules
// match on, so a rule never has to match a raw string alone.
type Action struct {
	Version   string   `json:"version,omitempty"`
	ID        string   `json:"id,omitempty"`
	Kind      Kind     `json:"kind"`
	Effect    Effect   `json:"effect,omitempty"`
	Risk      Severity `json:"risk,omitempty"`
	Source    Source   `json:"source,omitempty"`
	Principal string   `json:"principal,omitempty"`
	Tenant    string   `json:"tenant,omitempty"`
	Workspace string   `json:"workspace,omitempty"`

	// Cwd is the absolute directory the action runs in; relative paths resolve against it.
	Cwd string `json:"cwd,omitempty"`
	// Home is the user's home directory, for "~" in paths; empty means the deciding process's.
	Home string `json:"home,omitempty"`

	Command *Command         `json:"command,omitempty"`
	Files   []FileOp         `json:"files,omitempty"`
	Git     []GitOp          `json:"git,omitempty"`
	MCP     *MCPCall         `json:"mcp,omitempty"`
	Network []NetworkRequest `json:"network,omitempty"`
	Model   *ModelRef        `json:"model,omitempty"`

	// Attributes carries facts of generic domains (e.g. amount, recipient) for CEL conditions.
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Source says where an action came from.
type Source struct {
	Host           string `json:"host,omitempty"`  // claude-code, codex, cursor, gemini, mcp, git, exec, ci, api
	Tool           string `json:"tool,omitempty"`  // the host's tool name: Bash, Write, apply_patch, mcp__fs__write_file
	Event          string `json:"event,omitempty"` // the host's event name: PreToolUse, beforeShellExecution
	SessionID      string `json:"session_id,omitempty"`
	ToolUseID      string `json:"tool_use_id,omitempty"`
	Agent          string `json:"agent,omitempty"` // subagent id or type, when the host says
	PermissionMode string `json:"permission_mode,omitempty"`
}

// Command is a shell command line and, after normalisation, every simple command inside it.
type Command struct {
	Line string `json:"line"`
	// Commands is every simple command the line would run, including those inside pipelines,
	// lists, subshells, substitutions and nested shell payloads, with wrappers stripped.
	Commands []SimpleCommand `json:"commands,omitempty"`
	// ParseError is set when the line could not be parsed; such a line is never allowed silently.
	ParseError string `json:"parse_error,omitempty"`
}

// SimpleCommand is one program invocation found in a command line.
type SimpleCommand struct {
	// Argv is the invocation with wrappers (sudo, env, timeout, ...) removed; Argv[0] as written.
	Argv []string `json:"argv"`
	// Program is the base name of Argv[0] with any leading backslash removed: "/bin/rm" -> "rm".
	Program string `json:"program"`
	// Wrappers lists the wrapper programs that were stripped, outermost first.
	Wrappers []string `json:"wrappers,omitempty"`
	// Env holds the variable assignments that prefix the command (X=1 cmd, env X=1 cmd).
	Env map[string]string `json:"env,omitempty"`
	// Dir is the directory the command runs in, after any preceding cd in the same line.
	Dir string `json:"dir,omitempty"`
	// Via says how the command was reached: "", "pipeline", "subshell", "substitution",
	// "sh -c", "eval", "xargs", "find -exec", "heredoc".
	Via string `json:"via,omitempty"`
	// Dynamic is true when a word of Argv came from an expansion that cannot be known statically
	// ($VAR, $(...), globs); the word holds the source text.
	Dynamic bool `json:"dynamic,omitempty"`
	// Span is where the command stands in Command.Line (for nested payloads, the outer word).
	Span Span `json:"span"`
}

// Span is a half-open byte range [Start, End) in a source string.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// FileOperation is what an action does to a file.
type FileOperation string

// File operations.
const (
	FileRead   FileOperation = "read"
	FileWrite  FileOperation = "write"
	FileDelete FileOperation = "delete"
	FileMove   FileOperation = "move"
)

// FileOp is one file an action touches.
type FileOp struct {
	Op FileOperation `json:"op"`
	// Path is absolute and cleaned after normalisation.
	Path string `json:"path"`
	// Raw is the path as the agent wrote it.
	Raw string `json:"raw,omitempty"`
	// To is the destination of a move.
	To string `json:"to,omitempty"`
	// Content is text the action adds to the file: a whole new file, an edit's new text, or a
	// patch's added lines. It is scanned for secrets.
	Content string `json:"content,omitempty"`
}

// GitOp is a git operation, from a git command line or a git hook.
type GitOp struct {
	Subcommand string   `json:"subcommand"` // push, commit, merge, reset, clean, rebase, branch, checkout, ...
	Remote     string   `json:"remote,omitempty"`
	Refs       []string `json:"refs,omitempty"` // destination branch or tag names, "refs/heads/" trimmed
	Force      bool     `json:"force,omitempty"`
	Delete     bool     `json:"delete,omitempty"`
	Args       []string `json:"args,omitempty"` // the subcommand's arguments as given
}

// MCPCall is a Model Context Protocol request.
type MCPCall struct {
	Server    string         `json:"server"`
	Tool      string         `json:"tool,omitempty"`
	Method    string         `json:"method,omitempty"` // tools/call, tools/list, resources/read, ...
	Arguments map[string]any `json:"arguments,omitempty"`
}

// NetworkRequest is an outbound request an action makes.
type NetworkRequest struct {
	URL    string `json:"url"`
	Host   string `json:"host,omitempty"`
	Method string `json:"method,omitempty"`
}

// ModelRef names a model or artifact that a model.* or artifact.* action is about.
type ModelRef struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Version  string            `json:"version,omitempty"`
	Digest   string            `json:"digest,omitempty"`
	Stage    string            `json:"stage,omitempty"`
	Format   string            `json:"format,omitempty"`
	Verdict  string            `json:"verdict,omitempty"` // the latest scan verdict, when known
	Metadata map[string]string `json:"metadata,omitempty"`
}
