package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Diagnostic is one problem in a policy file, located by line and column.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Column, d.Message)
}

// LintError carries every problem found in a pack, so an author fixes them in one pass.
type LintError struct {
	Diagnostics []Diagnostic
}

func (e *LintError) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Loader finds packs by name among the built-in packs, or by file path.
type Loader struct {
	// Builtin holds the embedded packs as NAME.yaml.
	Builtin fs.FS
	// ReadFile reads user pack files; os.ReadFile when nil.
	ReadFile func(name string) ([]byte, error)
	// CheckRef, when set, lets Lint reject compliance refs to controls that do not exist.
	CheckRef func(ref string) error
}

// IsBuiltin reports whether ref names an embedded pack.
func (l *Loader) IsBuiltin(ref string) bool {
	if l.Builtin == nil || strings.ContainsAny(ref, `/\`) || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") {
		return false
	}
	_, err := fs.Stat(l.Builtin, ref+".yaml")
	return err == nil
}

// BuiltinNames lists the embedded packs.
func (l *Loader) BuiltinNames() []string {
	if l.Builtin == nil {
		return nil
	}
	matches, _ := fs.Glob(l.Builtin, "*.yaml")
	names := make([]string, 0, len(matches))
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(m, ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Source returns the text of a pack and the name to report it under.
func (l *Loader) Source(ref string) (name string, data []byte, err error) {
	if l.IsBuiltin(ref) {
		data, err = fs.ReadFile(l.Builtin, ref+".yaml")
		return "builtin:" + ref, data, err
	}
	read := l.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err = read(ref)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ref, nil, fmt.Errorf("policy %q: no such built-in pack (have %s) or file", ref, strings.Join(l.BuiltinNames(), ", "))
		}
		return ref, nil, fmt.Errorf("read policy: %w", err)
	}
	return ref, data, nil
}

// Load resolves ref (a built-in name or a file), its parents, and compiles the result.
// A built-in pack is read from its pre-resolved JSON form when the loader has one: the hook
// loads its pack in every process, and JSON decodes several times faster than YAML parses.
func (l *Loader) Load(ref string) (*Policy, error) {
	if l.IsBuiltin(ref) {
		if data, err := fs.ReadFile(l.Builtin, "compiled/"+ref+".json"); err == nil {
			var pack Pack
			if err := json.Unmarshal(data, &pack); err != nil {
				return nil, fmt.Errorf("built-in pack %s: decode compiled form: %w", ref, err)
			}
			// The compiled form is json.Marshal of the resolved pack, so its bytes are what
			// revision would hash; the freshness test keeps the two equal.
			pol, err := compile(&pack, revisionOf(bytes.TrimSuffix(data, []byte("\n"))))
			if err != nil {
				return nil, err
			}
			if celData, err := fs.ReadFile(l.Builtin, "compiled/"+ref+".cel.json"); err == nil {
				var checked map[string][]byte
				if err := json.Unmarshal(celData, &checked); err != nil {
					return nil, fmt.Errorf("built-in pack %s: decode compiled conditions: %w", ref, err)
				}
				for _, r := range pol.rules {
					if r.cond != nil {
						r.cond.checked = checked[r.ID]
					}
				}
			}
			return pol, nil
		}
	}
	pack, err := l.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return Compile(pack)
}

// Resolve loads ref from its YAML source and merges its parents beneath it.
func (l *Loader) Resolve(ref string) (*Pack, error) {
	return l.resolve(ref, "", nil)
}

// resolve loads ref and merges its parents beneath it.
func (l *Loader) resolve(ref, fromDir string, seen []string) (*Pack, error) {
	if !l.IsBuiltin(ref) && fromDir != "" && !filepath.IsAbs(ref) {
		ref = filepath.Join(fromDir, ref)
	}
	for _, s := range seen {
		if s == ref {
			return nil, fmt.Errorf("policy %q extends itself through %s", ref, strings.Join(seen, " -> "))
		}
	}
	name, data, err := l.Source(ref)
	if err != nil {
		return nil, err
	}
	pack, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	if len(pack.Extends) == 0 {
		return pack, nil
	}
	dir := ""
	if !l.IsBuiltin(ref) {
		dir = filepath.Dir(ref)
	}
	var merged *Pack
	for _, parent := range pack.Extends {
		p, err := l.resolve(parent, dir, append(seen, ref))
		if err != nil {
			return nil, fmt.Errorf("%s extends %s: %w", name, parent, err)
		}
		if merged == nil {
			merged = p
		} else {
			merged = overlay(merged, p)
		}
	}
	return overlay(merged, pack), nil
}

// overlay puts child over parent: settings fields the child sets win, rules with the same id
// are replaced in place, new rules follow, disabled rules go, overrides apply.
func overlay(parent, child *Pack) *Pack {
	out := &Pack{
		Name:        child.Name,
		Description: child.Description,
		Settings:    parent.Settings,
	}
	if child.Settings.Default != "" {
		out.Settings.Default = child.Settings.Default
	}
	if child.Settings.Unparseable != "" {
		out.Settings.Unparseable = child.Settings.Unparseable
	}
	if child.Settings.DynamicProgram != "" {
		out.Settings.DynamicProgram = child.Settings.DynamicProgram
	}
	if child.Settings.UnknownTool != "" {
		out.Settings.UnknownTool = child.Settings.UnknownTool
	}
	index := map[string]int{}
	for _, r := range parent.Rules {
		index[r.ID] = len(out.Rules)
		out.Rules = append(out.Rules, r)
	}
	for _, r := range child.Rules {
		if i, ok := index[r.ID]; ok {
			out.Rules[i] = r
			continue
		}
		index[r.ID] = len(out.Rules)
		out.Rules = append(out.Rules, r)
	}
	disabled := map[string]bool{}
	for _, id := range child.Disable {
		disabled[id] = true
	}
	kept := out.Rules[:0]
	for _, r := range out.Rules {
		if disabled[r.ID] {
			continue
		}
		if o, ok := child.Override[r.ID]; ok {
			if o.Outcome != "" {
				r.Outcome = o.Outcome
			}
			if o.Severity != "" {
				r.Severity = o.Severity
			}
			if o.Message != "" {
				r.Message = o.Message
			}
			if o.Remediation != "" {
				r.Remediation = o.Remediation
			}
		}
		kept = append(kept, r)
	}
	out.Rules = kept
	return out
}

// revision is the content address of a resolved pack: the hash of its JSON form.
func revision(p *Pack) string {
	b, err := json.Marshal(p)
	if err != nil {
		// A Pack holds only strings, slices and bools; Marshal cannot fail on it.
		panic(fmt.Sprintf("engine: marshal pack: %v", err))
	}
	return revisionOf(b)
}

func revisionOf(packJSON []byte) string {
	sum := sha256.Sum256(packJSON)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Parse reads one pack file strictly: unknown fields, wrong types and invalid values are all
// reported with line and column.
func Parse(name string, data []byte) (*Pack, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &LintError{Diagnostics: []Diagnostic{yamlDiagnostic(name, err)}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &LintError{Diagnostics: []Diagnostic{{File: name, Line: 1, Column: 1, Message: "empty policy file"}}}
	}
	root := doc.Content[0]
	var diags []Diagnostic
	checkFields(name, root, reflect.TypeOf(Pack{}), &diags)
	if len(diags) > 0 {
		return nil, &LintError{Diagnostics: diags}
	}
	var pack Pack
	if err := root.Decode(&pack); err != nil {
		return nil, &LintError{Diagnostics: []Diagnostic{locateValue(yamlDiagnostic(name, err), root)}}
	}
	validatePack(name, root, &pack, &diags)
	if len(diags) > 0 {
		return nil, &LintError{Diagnostics: diags}
	}
	return &pack, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)(?::(\d+))?: (.*)`)

// yamlDiagnostic turns a yaml.v3 error ("yaml: line 3: ...") into a located diagnostic.
func yamlDiagnostic(name string, err error) Diagnostic {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	d := Diagnostic{File: name, Line: 1, Column: 1, Message: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			d.Column, _ = strconv.Atoi(m[2])
		}
		d.Message = m[3]
	}
	return d
}

var quotedValue = regexp.MustCompile("`([^`]*)`")

// locateValue sets d's column to that of the scalar the message quotes on d's line: yaml.v3's
// type errors name the line only.
func locateValue(d Diagnostic, root *yaml.Node) Diagnostic {
	m := quotedValue.FindStringSubmatch(d.Message)
	if m == nil || d.Column != 1 {
		return d
	}
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n.Line == d.Line && n.Kind == yaml.ScalarNode && n.Value == m[1] {
			d.Column = n.Column
			return true
		}
		for _, c := range n.Content {
			if walk(c) {
				return true
			}
		}
		return false
	}
	walk(root)
	return d
}

// checkFields reports mapping keys that name no field of t, at the key's position.
func checkFields(file string, n *yaml.Node, t reflect.Type, diags *[]Diagnostic) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(yaml.Node{}) {
		return // free-form, checked by whoever decodes it
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				*diags = append(*diags, Diagnostic{File: file, Line: k.Line, Column: k.Column,
					Message: fmt.Sprintf("unknown field %q (known: %s)", k.Value, strings.Join(names, ", "))})
				continue
			}
			checkFields(file, v, ft, diags)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, item := range n.Content {
			checkFields(file, item, t.Elem(), diags)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkFields(file, n.Content[i+1], t.Elem(), diags)
		}
	}
}

// fieldNode returns the value node of key in mapping n, or n itself when absent.
func fieldNode(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return n
}

// itemNode returns the i-th item of sequence n, or n itself.
func itemNode(n *yaml.Node, i int) *yaml.Node {
	if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

// FormatPack renders a resolved pack as YAML for `cavra policy show`.
func FormatPack(p *Pack) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode pack: %w", err)
	}
	return buf.Bytes(), nil
}
