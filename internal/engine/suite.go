package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cavra-dev/cavra"
)

// Suite is a policy test file: actions and the outcomes the policy must give them.
type Suite struct {
	// Policy is the pack under test: a built-in name or a file path relative to the suite.
	Policy string `yaml:"policy"`
	// Cwd and Home are the defaults for every case.
	Cwd   string `yaml:"cwd,omitempty"`
	Home  string `yaml:"home,omitempty"`
	Cases []Case `yaml:"cases"`
}

// Case is one expectation. Exactly one of the action forms is set.
type Case struct {
	Name string `yaml:"name"`
	// Shorthand action forms.
	Command string     `yaml:"command,omitempty"`
	Read    string     `yaml:"read,omitempty"`
	Write   *WriteCase `yaml:"write,omitempty"`
	Delete  string     `yaml:"delete,omitempty"`
	Fetch   string     `yaml:"fetch,omitempty"`
	MCP     *MCPCase   `yaml:"mcp,omitempty"`
	// Action is the full canonical action, for everything else. A yaml.Node value, not a
	// pointer: yaml.v3 decodes into a *yaml.Node as if it were an ordinary struct.
	Action yaml.Node `yaml:"action,omitempty"`
	Cwd    string    `yaml:"cwd,omitempty"`

	Expect string `yaml:"expect"`
	Rule   string `yaml:"rule,omitempty"`
	line   int
}

// WriteCase is a file write.
type WriteCase struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content,omitempty"`
}

// MCPCase is an MCP tool call.
type MCPCase struct {
	Server    string         `yaml:"server"`
	Tool      string         `yaml:"tool"`
	Arguments map[string]any `yaml:"arguments,omitempty"`
}

// CaseResult is the verdict on one case.
type CaseResult struct {
	Name     string
	Line     int
	Expected string
	Rule     string
	Decision cavra.Decision
	Err      error
	Passed   bool
}

// ParseSuite reads a suite strictly.
func ParseSuite(name string, data []byte) (*Suite, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &LintError{Diagnostics: []Diagnostic{yamlDiagnostic(name, err)}}
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty test file", name)
	}
	root := doc.Content[0]
	var diags []Diagnostic
	checkFields(name, root, suiteShape, &diags)
	if len(diags) > 0 {
		return nil, &LintError{Diagnostics: diags}
	}
	var s Suite
	if err := root.Decode(&s); err != nil {
		return nil, &LintError{Diagnostics: []Diagnostic{locateValue(yamlDiagnostic(name, err), root)}}
	}
	cases := fieldNode(root, "cases")
	for i := range s.Cases {
		n := itemNode(cases, i)
		s.Cases[i].line = n.Line
		if _, err := cavra.ParseOutcome(s.Cases[i].Expect); err != nil {
			diags = append(diags, Diagnostic{File: name, Line: n.Line, Column: n.Column, Message: fmt.Sprintf("case %q: %v", s.Cases[i].Name, err)})
		}
	}
	if len(diags) > 0 {
		return nil, &LintError{Diagnostics: diags}
	}
	return &s, nil
}

// suiteShape is Suite for checkFields, with the free-form action node left unchecked.
var suiteShape = func() reflectType { return typeOf(Suite{}) }()

// Action builds the case's action.
func (c *Case) action(s *Suite) (cavra.Action, error) {
	cwd := c.Cwd
	if cwd == "" {
		cwd = s.Cwd
	}
	a := cavra.Action{Cwd: cwd, Home: s.Home, Source: cavra.Source{Host: "test"}}
	forms := 0
	if c.Command != "" {
		forms++
		a.Kind, a.Effect, a.Command = cavra.KindCommandExec, cavra.EffectExecute, &cavra.Command{Line: c.Command}
	}
	if c.Read != "" {
		forms++
		a.Kind, a.Effect, a.Files = cavra.KindFileRead, cavra.EffectRead, []cavra.FileOp{{Op: cavra.FileRead, Path: c.Read}}
	}
	if c.Write != nil {
		forms++
		a.Kind, a.Effect = cavra.KindFileWrite, cavra.EffectWrite
		a.Files = []cavra.FileOp{{Op: cavra.FileWrite, Path: c.Write.Path, Content: c.Write.Content}}
	}
	if c.Delete != "" {
		forms++
		a.Kind, a.Effect, a.Files = cavra.KindFileDelete, cavra.EffectDelete, []cavra.FileOp{{Op: cavra.FileDelete, Path: c.Delete}}
	}
	if c.Fetch != "" {
		forms++
		a.Kind, a.Effect, a.Network = cavra.KindNetworkFetch, cavra.EffectRead, []cavra.NetworkRequest{{URL: c.Fetch}}
	}
	if c.MCP != nil {
		forms++
		a.Kind = cavra.KindMCPCall
		a.MCP = &cavra.MCPCall{Server: c.MCP.Server, Tool: c.MCP.Tool, Method: "tools/call", Arguments: c.MCP.Arguments}
	}
	if c.Action.Kind != 0 {
		forms++
		var full cavra.Action
		if err := decodeActionNode(&c.Action, &full); err != nil {
			return a, err
		}
		if full.Cwd == "" {
			full.Cwd = cwd
		}
		if full.Home == "" {
			full.Home = s.Home
		}
		a = full
	}
	if forms != 1 {
		return a, fmt.Errorf("case needs exactly one of command, read, write, delete, fetch, mcp or action (has %d)", forms)
	}
	return a, nil
}

// RunSuite decides every case with e and reports each.
func RunSuite(ctx context.Context, e *Engine, s *Suite) []CaseResult {
	results := make([]CaseResult, 0, len(s.Cases))
	for i := range s.Cases {
		c := &s.Cases[i]
		r := CaseResult{Name: c.Name, Line: c.line, Expected: c.Expect, Rule: c.Rule}
		a, err := c.action(s)
		if err == nil {
			r.Decision, err = e.Decide(ctx, a)
		}
		r.Err = err
		r.Passed = err == nil && string(r.Decision.Outcome) == c.Expect && (c.Rule == "" || r.Decision.RuleID == c.Rule)
		results = append(results, r)
	}
	return results
}

// SuitePolicyRef resolves a suite's policy reference against the suite file's directory.
func SuitePolicyRef(l *Loader, suitePath, ref string) string {
	if ref == "" || l.IsBuiltin(ref) || filepath.IsAbs(ref) || strings.HasPrefix(suitePath, "builtin:") {
		return ref
	}
	return filepath.Join(filepath.Dir(suitePath), ref)
}
