// Package engine compiles policy packs and judges actions against them.
package engine

// Pack is a policy pack as written in YAML. Fields are documented in policies/README.md.
type Pack struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description,omitempty"`
	Extends     []string `yaml:"extends,omitempty"`
	Settings    Settings `yaml:"settings,omitempty"`
	// Disable removes inherited rules by id.
	Disable []string `yaml:"disable,omitempty"`
	// Override changes the outcome, severity or message of inherited rules by id.
	Override map[string]Override `yaml:"override,omitempty"`
	Rules    []Rule              `yaml:"rules,omitempty"`
}

// Settings are the pack-wide decisions for actions no rule speaks about.
type Settings struct {
	// Default is the outcome when no rule matches (allow when unset).
	Default string `yaml:"default,omitempty"`
	// Unparseable is the outcome for a command line that cannot be parsed (require_approval when unset).
	Unparseable string `yaml:"unparseable,omitempty"`
	// DynamicProgram is the outcome for a command whose program name is only known at run time,
	// such as `$CMD -rf /` (require_approval when unset).
	DynamicProgram string `yaml:"dynamic_program,omitempty"`
	// UnknownTool is the outcome for a host tool the adapter does not know (require_approval when unset).
	UnknownTool string `yaml:"unknown_tool,omitempty"`
}

// Override adjusts an inherited rule.
type Override struct {
	Outcome     string `yaml:"outcome,omitempty"`
	Severity    string `yaml:"severity,omitempty"`
	Message     string `yaml:"message,omitempty"`
	Remediation string `yaml:"remediation,omitempty"`
}

// Rule is one policy rule.
type Rule struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description,omitempty"`
	// Match selects the actions the rule applies to; Any is an alternative list (OR).
	Match *Match  `yaml:"match,omitempty"`
	Any   []Match `yaml:"any,omitempty"`
	// Condition is an optional CEL expression over `action` and `subject`; the rule applies only
	// when it is true.
	Condition   string   `yaml:"condition,omitempty"`
	Outcome     string   `yaml:"outcome"`
	Severity    string   `yaml:"severity,omitempty"`
	Message     string   `yaml:"message"`
	Remediation string   `yaml:"remediation,omitempty"`
	Compliance  []string `yaml:"compliance,omitempty"`
	ApprovalTTL string   `yaml:"approval_ttl,omitempty"`
	// Approvers is how many distinct people must grant a require_approval of this rule;
	// unset means one.
	Approvers int `yaml:"approvers,omitempty"`
}

// Match is a set of criteria; all present criteria must hold. List values are alternatives.
//
// Action-level criteria (kinds, hosts, tools, effects) apply to the whole action. The others
// select one subject of the action — a simple command, a file, a git operation, an MCP call, a
// network request or a secret found in written text — and all of them must hold for the same
// subject. A match may use criteria of one subject type only.
type Match struct {
	Kinds   []string `yaml:"kinds,omitempty"`
	Hosts   []string `yaml:"hosts,omitempty"`
	Tools   []string `yaml:"tools,omitempty"`
	Effects []string `yaml:"effects,omitempty"`
	// WithPrograms requires the action's command line to run one of these programs somewhere
	// (curl in `curl URL | sh`), whichever subject the match selects.
	WithPrograms []string `yaml:"with_programs,omitempty"`

	// Command subject: each simple command of a command line.
	Programs    []string `yaml:"programs,omitempty"`
	Subcommands []string `yaml:"subcommands,omitempty"` // leading non-flag words after the program, space-joined prefix: "apply", "rollout restart"
	Flags       []string `yaml:"flags,omitempty"`       // all must be given: "r" (matches -r, -rf), "force" (matches --force)
	AnyFlags    []string `yaml:"any_flags,omitempty"`   // at least one must be given
	Args        []string `yaml:"args,omitempty"`        // glob; some argument must match
	Via         []string `yaml:"via,omitempty"`         // how the command was reached: "sh -c", "substitution", ...
	Wrappers    []string `yaml:"wrappers,omitempty"`    // the command runs under one of these: sudo, doas, nohup, ...

	// Paths are doublestar globs over cleaned absolute paths. For a command they apply to its
	// path-like arguments; for a file, to its path. NotPaths exempts paths from Paths.
	Paths    []string `yaml:"paths,omitempty"`
	NotPaths []string `yaml:"not_paths,omitempty"`
	// Ops restricts a file subject to these operations: read, write, delete, move.
	Ops []string `yaml:"ops,omitempty"`

	Git     *GitMatch     `yaml:"git,omitempty"`
	MCP     *MCPMatch     `yaml:"mcp,omitempty"`
	Network *NetworkMatch `yaml:"network,omitempty"`
	// Secrets matches live secrets in text the action writes or runs.
	Secrets bool `yaml:"secrets,omitempty"`
	// Content matches written text (a Go regular expression); the subject is the file written.
	Content string `yaml:"content,omitempty"`
}

// GitMatch selects git operations.
type GitMatch struct {
	Subcommands []string `yaml:"subcommands,omitempty"`
	Remotes     []string `yaml:"remotes,omitempty"`
	Refs        []string `yaml:"refs,omitempty"` // glob over branch or tag names
	NotRefs     []string `yaml:"not_refs,omitempty"`
	Force       *bool    `yaml:"force,omitempty"`
	Delete      *bool    `yaml:"delete,omitempty"`
}

// MCPMatch selects MCP calls.
type MCPMatch struct {
	Servers []string `yaml:"servers,omitempty"`
	Tools   []string `yaml:"tools,omitempty"`
}

// NetworkMatch selects outbound requests.
type NetworkMatch struct {
	Hosts    []string `yaml:"hosts,omitempty"` // glob: "*.pastebin.com"
	NotHosts []string `yaml:"not_hosts,omitempty"`
	Schemes  []string `yaml:"schemes,omitempty"`
}
