package engine

import (
	"reflect"
	"slices"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/slab"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// The CEL view of an action is its canonical JSON form: the same field names, and a field the
// JSON omits when empty is absent here too (so `has(subject.dynamic)` means what it means in
// JSON). Building the maps directly costs a fraction of a JSON round trip on the hot path.

// Strings are stored as CEL strings: CEL converts a Go string each time it reads one, which
// for a list (argv.exists(...), "x" in flags) is once per element per condition. JSON encodes
// them as the strings they are.

func putString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = types.String(v)
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
		out[i] = types.String(s)
	}
	return out
}

func spanValue(s cavra.Span) map[string]any {
	return map[string]any{"start": int64(s.Start), "end": int64(s.End)}
}

// simpleCommandFields are the JSON names of a simple command's fields.
var simpleCommandFields = []string{"argv", "program", "span", "wrappers", "env", "dir", "via", "dynamic"}

func simpleCommandValue(c cavra.SimpleCommand) map[string]any {
	m := make(map[string]any, len(simpleCommandFields))
	for _, k := range simpleCommandFields {
		if v, ok := simpleCommandField(&c, k); ok {
			m[k] = v
		}
	}
	return m
}

// simpleCommandField is the value of c's field named k in the CEL view, and whether it is present.
func simpleCommandField(c *cavra.SimpleCommand, k string) (any, bool) {
	switch k {
	case "argv":
		return stringList(c.Argv), true
	case "program":
		return types.String(c.Program), true
	case "span":
		return spanValue(c.Span), true
	case "wrappers":
		return stringList(c.Wrappers), len(c.Wrappers) > 0
	case "env":
		if len(c.Env) == 0 {
			return nil, false
		}
		env := make(map[string]any, len(c.Env))
		for k, v := range c.Env {
			env[k] = types.String(v)
		}
		return env, true
	case "dir":
		return types.String(c.Dir), c.Dir != ""
	case "via":
		return types.String(c.Via), c.Via != ""
	case "dynamic":
		return true, c.Dynamic
	}
	return nil, false
}

func fileValue(f cavra.FileOp) map[string]any {
	m := map[string]any{"op": types.String(f.Op), "path": types.String(f.Path)}
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

// actionFields are the JSON names of an action's fields, in the order of cavra.Action.
var actionFields = []string{"kind", "version", "id", "effect", "risk", "source", "principal", "tenant", "workspace",
	"cwd", "home", "command", "files", "git", "mcp", "network", "model", "attributes"}

func actionValue(a *cavra.Action) map[string]any {
	m := make(map[string]any, len(actionFields))
	for _, k := range actionFields {
		if v, ok := actionField(a, k); ok {
			m[k] = v
		}
	}
	return m
}

// actionField is the value of a's field named k in the CEL view, and whether it is present.
func actionField(a *cavra.Action, k string) (any, bool) {
	str := func(v string) (any, bool) { return types.String(v), v != "" }
	switch k {
	case "kind":
		return types.String(a.Kind), true
	case "version":
		return str(a.Version)
	case "id":
		return str(a.ID)
	case "effect":
		return str(string(a.Effect))
	case "risk":
		return str(string(a.Risk))
	case "source":
		src := make(map[string]any, 7)
		putString(src, "host", a.Source.Host)
		putString(src, "tool", a.Source.Tool)
		putString(src, "event", a.Source.Event)
		putString(src, "session_id", a.Source.SessionID)
		putString(src, "tool_use_id", a.Source.ToolUseID)
		putString(src, "agent", a.Source.Agent)
		putString(src, "permission_mode", a.Source.PermissionMode)
		return src, true
	case "principal":
		return str(a.Principal)
	case "tenant":
		return str(a.Tenant)
	case "workspace":
		return str(a.Workspace)
	case "cwd":
		return str(a.Cwd)
	case "home":
		return str(a.Home)
	case "command":
		c := a.Command
		if c == nil {
			return nil, false
		}
		cm := map[string]any{"line": types.String(c.Line)}
		if len(c.Commands) > 0 {
			list := make([]any, len(c.Commands))
			for i, sc := range c.Commands {
				list[i] = simpleCommandValue(sc)
			}
			cm["commands"] = list
		}
		putString(cm, "parse_error", c.ParseError)
		return cm, true
	case "files":
		if len(a.Files) == 0 {
			return nil, false
		}
		list := make([]any, len(a.Files))
		for i, f := range a.Files {
			list[i] = fileValue(f)
		}
		return list, true
	case "git":
		if len(a.Git) == 0 {
			return nil, false
		}
		list := make([]any, len(a.Git))
		for i, g := range a.Git {
			list[i] = gitValue(g)
		}
		return list, true
	case "mcp":
		if a.MCP == nil {
			return nil, false
		}
		return mcpValue(a.MCP), true
	case "network":
		if len(a.Network) == 0 {
			return nil, false
		}
		list := make([]any, len(a.Network))
		for i, n := range a.Network {
			list[i] = networkValue(n)
		}
		return list, true
	case "model":
		if a.Model == nil {
			return nil, false
		}
		return modelValue(a.Model), true
	case "attributes":
		if len(a.Attributes) == 0 {
			return nil, false
		}
		return a.Attributes, true
	}
	return nil, false
}

// lazyMap is a CEL map value whose fields are built when a condition reads them by name
// (action.cwd, has(subject.dynamic)): most conditions read one or two fields, and building every
// field (each command's and file's map) was most of their cost. Any other use of the map (size,
// iteration, equality, conversion) works on the whole map, built from the same fields.
type lazyMap struct {
	names []string // every field the map can have, at most maxLazyFields
	// field is a field's value, and whether it is present; or, when src is set,
	// src.lazyField(index, name) is.
	field   func(name string) (any, bool)
	src     fieldSource
	index   int
	adapter types.Adapter
	read    uint32    // bit i: names[i] was read
	values  []ref.Val // the fields read, by position in names; nil for absent ones
	inline  [lazyInlineFields]ref.Val
	whole   traits.Mapper
}

// fieldSource gives the fields of the index-th of several lazy maps (the simple commands of a
// decision) without a closure per map.
type fieldSource interface {
	lazyField(index int, name string) (any, bool)
}

// lazyInlineFields is how many fields' values a lazyMap holds without allocating: the action's
// view has 18, a simple command's 11. (Both kinds live in an evaluation, kept between decisions.)
const lazyInlineFields = 18

// fieldValue is field name's value and whether it is present.
func (l *lazyMap) fieldValue(name string) (any, bool) {
	if l.src != nil {
		return l.src.lazyField(l.index, name)
	}
	return l.field(name)
}

// maxLazyFields bounds the fields of a lazyMap, one bit of read each.
const maxLazyFields = 32

// lazyAction is a's CEL view. It is returned by value, to be kept in the evaluation.
func lazyAction(a *cavra.Action, adapter types.Adapter) lazyMap {
	return lazyMap{names: actionFields, src: actionSource{a}, adapter: adapter}
}

func newLazyAction(a *cavra.Action, adapter types.Adapter) *lazyMap {
	l := lazyAction(a, adapter)
	return &l
}

// actionSource gives the fields of an action's lazy map.
type actionSource struct{ a *cavra.Action }

func (s actionSource) lazyField(_ int, k string) (any, bool) { return actionField(s.a, k) }

// commandObjectFields are the fields of action.command as conditions see it.
var commandObjectFields = []string{"line", "commands", "parse_error"}

// evaluationAction gives the fields of the action's lazy map in a decision: action.command is
// lazy too, down to each simple command, because most conditions that read it read only its
// line, and the rest one or two fields of each command.
type evaluationAction struct{ ev *evaluation }

func (s evaluationAction) lazyField(_ int, k string) (any, bool) {
	a := &s.ev.action
	if k != "command" {
		return actionField(a, k)
	}
	if a.Command == nil {
		return nil, false
	}
	return s.ev.commandObject(), true
}

// commandObjectSource gives the fields of action.command's lazy map.
type commandObjectSource struct{ ev *evaluation }

func (s commandObjectSource) lazyField(_ int, k string) (any, bool) {
	c := s.ev.action.Command
	switch k {
	case "line":
		return types.String(c.Line), true
	case "commands":
		if len(c.Commands) == 0 {
			return nil, false
		}
		list := make([]any, len(c.Commands))
		views := slab.Take(&s.ev.lazyBuf, len(c.Commands))[:len(c.Commands)]
		for i := range views {
			views[i] = lazyMap{names: simpleCommandFields, src: plainCommandSource(s), index: i, adapter: celAdapter()}
			list[i] = &views[i]
		}
		return list, true
	case "parse_error":
		return types.String(c.ParseError), c.ParseError != ""
	}
	return nil, false
}

// plainCommandSource gives the fields of the simple commands in action.command.commands.
type plainCommandSource struct{ ev *evaluation }

func (s plainCommandSource) lazyField(i int, k string) (any, bool) {
	return simpleCommandField(&s.ev.action.Command.Commands[i], k)
}

// wholeMap builds every present field.
func wholeMap(names []string, field func(string) (any, bool)) map[string]any {
	m := make(map[string]any, len(names))
	for _, k := range names {
		if v, ok := field(k); ok {
			m[k] = v
		}
	}
	return m
}

func (l *lazyMap) all() traits.Mapper {
	if l.whole == nil {
		l.whole = types.NewStringInterfaceMap(l.adapter, wholeMap(l.names, l.fieldValue))
	}
	return l.whole
}

// Find implements traits.Mapper.
func (l *lazyMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return l.all().Find(key)
	}
	i := slices.Index(l.names, string(k))
	if i < 0 {
		return nil, false // no such field: absent from the whole map too
	}
	if l.read&(1<<i) == 0 {
		if l.values == nil {
			if len(l.names) <= len(l.inline) {
				l.values = l.inline[:len(l.names)]
			} else {
				l.values = make([]ref.Val, len(l.names))
			}
		}
		l.read |= 1 << i
		if v, present := l.fieldValue(string(k)); present {
			l.values[i] = l.adapter.NativeToValue(v)
		}
	}
	return l.values[i], l.values[i] != nil
}

// Get implements traits.Indexer.
func (l *lazyMap) Get(key ref.Val) ref.Val {
	if v, found := l.Find(key); found {
		return v
	}
	return l.all().Get(key) // the same error as the whole map gives
}

// Contains implements traits.Container.
func (l *lazyMap) Contains(key ref.Val) ref.Val { return l.all().Contains(key) }

// Iterator implements traits.Iterable.
func (l *lazyMap) Iterator() traits.Iterator { return l.all().Iterator() }

// Size implements traits.Sizer.
func (l *lazyMap) Size() ref.Val { return l.all().Size() }

// ConvertToNative implements ref.Val.
func (l *lazyMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return l.all().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (l *lazyMap) ConvertToType(typeValue ref.Type) ref.Val {
	return l.all().ConvertToType(typeValue)
}

// Equal implements ref.Val.
func (l *lazyMap) Equal(other ref.Val) ref.Val { return l.all().Equal(other) }

// Type implements ref.Val.
func (l *lazyMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (l *lazyMap) Value() any { return l.all().Value() }

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
	case *cavra.FileOp:
		return fileValue(*s), nil
	case cavra.GitOp:
		return gitValue(s), nil
	case *cavra.GitOp:
		return gitValue(*s), nil
	case *lazyMap:
		return s, nil
	case *cavra.MCPCall:
		return mcpValue(s), nil
	case cavra.NetworkRequest:
		return networkValue(s), nil
	case *cavra.NetworkRequest:
		return networkValue(*s), nil
	case SecretHit:
		return secretValue(s), nil
	}
	return toCEL(subject)
}
