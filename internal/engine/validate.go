package engine

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"

	"github.com/cavra-dev/cavra"
)

// maxApprovers bounds a rule's approvers: more people than this is a process, not a rule.
const maxApprovers = 10

// subjectType is what part of an action a match looks at.
type subjectType int

const (
	subjectAction subjectType = iota
	subjectCommand
	subjectFile
	subjectGit
	subjectMCP
	subjectNetwork
	subjectSecret
)

func (s subjectType) String() string {
	return [...]string{"action", "command", "file", "git", "mcp", "network", "content"}[s]
}

// subjectOf says which subject a match selects, or an error when it mixes subject types.
func subjectOf(m *Match) (subjectType, error) {
	var kinds []subjectType
	if len(m.Programs)+len(m.Subcommands)+len(m.Flags)+len(m.AnyFlags)+len(m.Args)+len(m.Via)+len(m.Wrappers) > 0 {
		kinds = append(kinds, subjectCommand)
	}
	if len(m.Ops) > 0 || m.Content != "" {
		kinds = append(kinds, subjectFile)
	}
	if m.Git != nil {
		kinds = append(kinds, subjectGit)
	}
	if m.MCP != nil {
		kinds = append(kinds, subjectMCP)
	}
	if m.Network != nil {
		kinds = append(kinds, subjectNetwork)
	}
	if m.Secrets {
		kinds = append(kinds, subjectSecret)
	}
	switch len(kinds) {
	case 0:
		if len(m.Paths)+len(m.NotPaths) > 0 {
			return subjectFile, nil
		}
		return subjectAction, nil
	case 1:
		if len(m.Paths)+len(m.NotPaths) > 0 && kinds[0] != subjectCommand && kinds[0] != subjectFile && kinds[0] != subjectSecret {
			return 0, fmt.Errorf("paths apply to commands, files and secrets, not to %s criteria", kinds[0])
		}
		return kinds[0], nil
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return 0, fmt.Errorf("a match selects one subject, but this one mixes %s criteria (use separate rules or `any`)", strings.Join(names, " and "))
}

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// validatePack checks values that decode fine but mean nothing, reporting each at its node.
func validatePack(file string, root *yaml.Node, p *Pack, diags *[]Diagnostic) {
	at := func(n *yaml.Node, format string, args ...any) {
		*diags = append(*diags, Diagnostic{File: file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
	}
	if p.Name == "" {
		at(root, "a pack needs a name")
	}
	settings := fieldNode(root, "settings")
	for key, v := range map[string]string{"default": p.Settings.Default, "unparseable": p.Settings.Unparseable,
		"dynamic_program": p.Settings.DynamicProgram, "unknown_tool": p.Settings.UnknownTool} {
		if v != "" && !cavra.Outcome(v).Valid() {
			at(fieldNode(settings, key), "unknown outcome %q", v)
		}
	}
	overrides := fieldNode(root, "override")
	for id, o := range p.Override {
		n := fieldNode(overrides, id)
		if o.Outcome != "" && !cavra.Outcome(o.Outcome).Valid() {
			at(fieldNode(n, "outcome"), "unknown outcome %q", o.Outcome)
		}
		if !cavra.Severity(o.Severity).Valid() {
			at(fieldNode(n, "severity"), "unknown severity %q (want info, low, medium, high or critical)", o.Severity)
		}
	}
	rulesNode := fieldNode(root, "rules")
	seen := map[string]int{}
	for i := range p.Rules {
		r := &p.Rules[i]
		rn := itemNode(rulesNode, i)
		switch {
		case r.ID == "":
			at(rn, "rule %d has no id", i+1)
		case !ruleIDPattern.MatchString(r.ID):
			at(fieldNode(rn, "id"), "rule id %q: use lower-case letters, digits, '.', '-' and '_'", r.ID)
		}
		if prev, dup := seen[r.ID]; dup && r.ID != "" {
			at(fieldNode(rn, "id"), "rule id %q repeats rule %d", r.ID, prev+1)
		}
		seen[r.ID] = i
		if !cavra.Outcome(r.Outcome).Valid() {
			at(fieldNode(rn, "outcome"), "rule %s: unknown outcome %q (want allow, block, require_approval, warn, audit_only or allow_with_attestation)", r.ID, r.Outcome)
		}
		if !cavra.Severity(r.Severity).Valid() {
			at(fieldNode(rn, "severity"), "rule %s: unknown severity %q (want info, low, medium, high or critical)", r.ID, r.Severity)
		}
		if strings.TrimSpace(r.Message) == "" {
			at(rn, "rule %s needs a message that tells the agent why and how to proceed", r.ID)
		}
		if r.ApprovalTTL != "" {
			if d, err := time.ParseDuration(r.ApprovalTTL); err != nil || d <= 0 {
				at(fieldNode(rn, "approval_ttl"), "rule %s: approval_ttl %q is not a positive duration like 15m", r.ID, r.ApprovalTTL)
			}
		}
		if r.Approvers != 0 {
			if r.Approvers < 1 || r.Approvers > maxApprovers {
				at(fieldNode(rn, "approvers"), "rule %s: approvers must be between 1 and %d, not %d", r.ID, maxApprovers, r.Approvers)
			} else if cavra.Outcome(r.Outcome) != cavra.RequireApproval {
				at(fieldNode(rn, "approvers"), "rule %s: approvers applies only to outcome require_approval", r.ID)
			}
		}
		for j, c := range r.Compliance {
			if fw, ctl, ok := strings.Cut(c, ":"); !ok || fw == "" || ctl == "" {
				at(itemNode(fieldNode(rn, "compliance"), j), "rule %s: compliance ref %q should be FRAMEWORK:CONTROL, e.g. owasp-agentic-top10-2026:ASI02", r.ID, c)
			}
		}
		if r.Match == nil && len(r.Any) == 0 {
			at(rn, "rule %s needs a match or an any list", r.ID)
		}
		if r.Match != nil {
			validateMatch(fieldNode(rn, "match"), r.Match, at)
		}
		anyNode := fieldNode(rn, "any")
		for j := range r.Any {
			validateMatch(itemNode(anyNode, j), &r.Any[j], at)
		}
	}
}

func validateMatch(n *yaml.Node, m *Match, at func(*yaml.Node, string, ...any)) {
	subject, err := subjectOf(m)
	if err != nil {
		at(n, "%v", err)
	}
	if err == nil && subject == subjectCommand && len(m.NotPaths) > 0 && len(m.Paths) == 0 {
		at(fieldNode(n, "not_paths"), "not_paths only exempts from paths: on a command match, add the paths it narrows")
	}
	globs := func(key string, patterns []string) {
		for i, p := range patterns {
			if !doublestar.ValidatePattern(p) {
				at(itemNode(fieldNode(n, key), i), "bad glob %q", p)
			}
		}
	}
	globs("kinds", m.Kinds)
	globs("tools", m.Tools)
	globs("programs", m.Programs)
	globs("args", m.Args)
	globs("paths", m.Paths)
	globs("not_paths", m.NotPaths)
	for i, k := range m.Kinds {
		if !strings.ContainsAny(k, "*?[") && !cavra.Kind(k).Valid() {
			at(itemNode(fieldNode(n, "kinds"), i), "kind %q is not domain.verb", k)
		}
	}
	for i, o := range m.Ops {
		switch cavra.FileOperation(o) {
		case cavra.FileRead, cavra.FileWrite, cavra.FileDelete, cavra.FileMove:
		default:
			at(itemNode(fieldNode(n, "ops"), i), "unknown file op %q (want read, write, delete or move)", o)
		}
	}
	for i, e := range m.Effects {
		if !cavra.Effect(e).Valid() {
			at(itemNode(fieldNode(n, "effects"), i), "unknown effect %q", e)
		}
	}
	if m.Content != "" {
		if _, err := regexp.Compile(m.Content); err != nil {
			at(fieldNode(n, "content"), "bad content pattern: %v", err)
		}
	}
	if m.Git != nil {
		gn := fieldNode(n, "git")
		globs2 := func(key string, patterns []string) {
			for i, p := range patterns {
				if !doublestar.ValidatePattern(p) {
					at(itemNode(fieldNode(gn, key), i), "bad glob %q", p)
				}
			}
		}
		globs2("refs", m.Git.Refs)
		globs2("not_refs", m.Git.NotRefs)
	}
	if m.Network != nil {
		nn := fieldNode(n, "network")
		for i, p := range append(append([]string{}, m.Network.Hosts...), m.Network.NotHosts...) {
			if !doublestar.ValidatePattern(p) {
				at(itemNode(fieldNode(nn, "hosts"), i), "bad glob %q", p)
			}
		}
	}
}
