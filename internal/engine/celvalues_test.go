package engine

import (
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/google/cel-go/common/types"
)

// TestLazyActionBehavesAsWholeMap evaluates expressions over the lazily built action value
// and over the whole map, which they must not tell apart.
func TestLazyActionBehavesAsWholeMap(t *testing.T) {
	eng := fixedEngine(mustPolicy(t, map[string]string{"p.yaml": "name: p\n"}, "p"))
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]cavra.Action{
		"command": command(`cd x && rm -rf "$T" ~/y | tee out; git push -f origin +main; curl https://h.test`),
		"model": {Kind: cavra.KindModelPromote, Effect: cavra.EffectPromote, Model: &cavra.ModelRef{ID: "m", Verdict: "clean"},
			Attributes: map[string]any{"amount": 3.0}},
		"file":        {Kind: cavra.KindFileWrite, Cwd: "/repo", Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "a", Content: "c"}}},
		"unparseable": command(`echo 'unterminated`),
	}
	exprs := []string{
		`has(action.cwd)`, `has(action.cwd) ? action.cwd : "none"`, `action.kind`, `has(action.model) && action.model.verdict == "clean"`,
		`has(action.command) && action.command.commands.exists(c, c.program == "rm")`, `action.command.line`,
		`has(action.files) && action.files[0].path.endsWith("/a")`, `size(action)`, `action.exists(k, k == "home")`,
		`"cwd" in action`, `"nope" in action`, `action == action`, `action["kind"]`, `action.nope`, `action[1]`,
		`has(action.nope)`, `type(action) == map`, `action.all(k, k != "")`, `action.source`, `has(action.attributes.amount)`,
		`size(action.filter(k, k.startsWith("c")))`, `string(action)`, `action.git.map(g, g.subcommand)`,
		`action.command.commands[0].argv`, `size(action.command.commands)`, `action.command.commands.exists(c, "rm" in c.argv)`,
		`has(action.command.parse_error)`, `action.command.parse_error`, `action.command == action.command`, `size(action.command)`,
		`action.command.commands[1].span.start`, `action.command.commands.map(c, c.program)`, `"line" in action.command`,
		`action.command.exists(k, k == "commands")`, `action.command.commands[0] == action.command.commands[0]`,
		`action.command.commands[0].nope`, `has(action.command.commands[0].env)`, `action.command.commands.all(c, size(c) > 2)`,
		`action.command.commands[9]`, `type(action.command.commands[0]) == map`, `action.command.line.matches("rm")`,
	}
	for name, a := range actions {
		n, err := eng.Normalize(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range exprs {
			prg := mustProgram(t, env, src)
			whole, _, wholeErr := prg.Eval(map[string]any{"action": actionValue(&n), "subject": map[string]any{}})
			// The action's lazy map, and the one a decision uses, lazy down to action.command.
			ev := &evaluation{engine: eng, action: n}
			for view, v := range map[string]any{"lazy": newLazyAction(&n, env.CELTypeAdapter()), "decision's": ev.celAction()} {
				lazy, _, lazyErr := prg.Eval(map[string]any{"action": v, "subject": map[string]any{}})
				if (lazyErr == nil) != (wholeErr == nil) {
					t.Errorf("%s on %s: %s error %v, whole map error %v", src, name, view, lazyErr, wholeErr)
					continue
				}
				if lazyErr == nil && lazy.Equal(whole) != types.True {
					t.Errorf("%s on %s: %s %v, whole map %v", src, name, view, lazy, whole)
				}
			}
		}
	}
}

// TestLazyCommandBehavesAsWholeMap does the same for a simple command as a condition's subject.
func TestLazyCommandBehavesAsWholeMap(t *testing.T) {
	eng := fixedEngine(mustPolicy(t, map[string]string{"p.yaml": "name: p\n"}, "p"))
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	n, err := eng.Normalize(command(`cd x && sudo env A=1 rm -rf "$T" ~/y | tee out; $CMD -x; git push -f origin +main`))
	if err != nil {
		t.Fatal(err)
	}
	exprs := []string{
		`subject.program`, `has(subject.dynamic)`, `"r" in subject.flags`, `subject.paths.exists(p, p.startsWith("/"))`,
		`size(subject)`, `has(subject.env) && "A" in subject.env`, `subject.argv[0]`, `subject.span.start`,
		`subject == subject`, `size(subject.operands)`, `has(subject.wrappers) ? subject.wrappers : []`, `subject.dir`,
		`"via" in subject`, `subject.all(k, k != "")`, `subject.nope`, `has(subject.via) && subject.via == "sudo"`,
	}
	for j := range n.Command.Commands {
		for _, src := range exprs {
			prg := mustProgram(t, env, src)
			ev := &evaluation{engine: eng, action: n}
			lazy, _, lazyErr := prg.Eval(map[string]any{"action": map[string]any{}, "subject": ev.commandValue(j)})
			whole, _, wholeErr := prg.Eval(map[string]any{"action": map[string]any{}, "subject": ev.commandMap(j)})
			if (lazyErr == nil) != (wholeErr == nil) {
				t.Errorf("%s on command %d: lazy error %v, whole map error %v", src, j, lazyErr, wholeErr)
				continue
			}
			if lazyErr == nil && lazy.Equal(whole) != types.True {
				t.Errorf("%s on command %d: lazy %v, whole map %v", src, j, lazy, whole)
			}
		}
	}
}

func TestLazyMapsHoldTheirFields(t *testing.T) {
	for name, fields := range map[string][]string{"action": actionFields, "command": commandViewFields} {
		if len(fields) > maxLazyFields {
			t.Errorf("%s has %d fields, more than a lazyMap holds (%d)", name, len(fields), maxLazyFields)
		}
	}
}
