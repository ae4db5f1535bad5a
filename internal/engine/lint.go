package engine

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Lint checks a pack file as deeply as possible without running it: syntax, fields, values,
// CEL conditions, and that every pack it extends loads. It returns every problem found.
func (l *Loader) Lint(name string, data []byte) []Diagnostic {
	pack, err := Parse(name, data)
	if err != nil {
		var le *LintError
		if errors.As(err, &le) {
			return le.Diagnostics
		}
		return []Diagnostic{{File: name, Line: 1, Column: 1, Message: err.Error()}}
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc) // Parse succeeded on the same bytes
	root := doc.Content[0]
	var diags []Diagnostic
	rules := fieldNode(root, "rules")
	for i, r := range pack.Rules {
		if r.Condition == "" {
			continue
		}
		if err := CompileCondition(r.Condition); err != nil {
			n := fieldNode(itemNode(rules, i), "condition")
			diags = append(diags, Diagnostic{File: name, Line: n.Line, Column: n.Column,
				Message: fmt.Sprintf("rule %s: condition: %v", r.ID, err)})
		}
	}
	if l.CheckRef != nil {
		for i, r := range pack.Rules {
			for j, ref := range r.Compliance {
				if err := l.CheckRef(ref); err != nil {
					n := itemNode(fieldNode(itemNode(rules, i), "compliance"), j)
					diags = append(diags, Diagnostic{File: name, Line: n.Line, Column: n.Column,
						Message: fmt.Sprintf("rule %s: %v", r.ID, err)})
				}
			}
		}
	}
	extends := fieldNode(root, "extends")
	for i, parent := range pack.Extends {
		if _, err := l.resolve(parent, dirOfRef(l, name), nil); err != nil {
			n := itemNode(extends, i)
			diags = append(diags, Diagnostic{File: name, Line: n.Line, Column: n.Column, Message: fmt.Sprintf("extends %s: %v", parent, err)})
		}
	}
	if len(diags) == 0 {
		if _, err := Compile(pack); err != nil {
			diags = append(diags, Diagnostic{File: name, Line: root.Line, Column: root.Column, Message: err.Error()})
		}
	}
	return diags
}

func dirOfRef(l *Loader, name string) string {
	if l.IsBuiltin(name) || len(name) > 8 && name[:8] == "builtin:" {
		return ""
	}
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[:i]
		}
	}
	return "."
}
