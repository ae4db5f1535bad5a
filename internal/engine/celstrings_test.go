package engine

import (
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// TestCELStringsBehavesAsList evaluates expressions over a celStrings and over CEL's own list of
// the same strings, which they must not tell apart.
func TestCELStringsBehavesAsList(t *testing.T) {
	env, err := cel.NewEnv(cel.Variable("l", cel.ListType(cel.StringType)), cel.Variable("d", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string][]string{"nil": nil, "empty": {}, "one": {"rm"}, "several": {"rm", "-rf", "/", "-rf", "é"}}
	exprs := []string{
		`size(l)`, `l.size() == 0`, `l[0]`, `l[4]`, `l[5]`, `l[-1]`, `d[1u]`, `d[1.0]`, `d["x"]`,
		`"rm" in l`, `"nope" in l`, `1 in d`, `null in d`, `l.exists(x, x == "-rf")`, `l.all(x, x != "")`,
		`l.exists_one(x, x == "-rf")`, `l.map(x, x + "!")`, `l.filter(x, x.startsWith("-"))`, `l + ["z"]`,
		`l == ["rm"]`, `l == []`, `l != ["rm", "-rf", "/", "-rf", "é"]`, `d == d`, `type(l) == list`,
		`l.map(x, size(x))`, `d + [1]`, `dyn(l) == [1]`, `string(d)`, `int(d)`, `[l, l][1]`, `{"k": l}["k"] == l`,
	}
	for name, s := range lists {
		for _, src := range exprs {
			prg := mustProgram(t, env, src)
			ordinary := types.NewStringList(celAdapter(), s)
			want, _, wantErr := prg.Eval(map[string]any{"l": ordinary, "d": ordinary})
			ours := &celStrings{s: s}
			got, _, gotErr := prg.Eval(map[string]any{"l": ours, "d": ours})
			if (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%s on %s: error %v, CEL's list gives %v", src, name, gotErr, wantErr)
				continue
			}
			if gotErr == nil && got.Equal(want) != types.True {
				t.Errorf("%s on %s: %v, CEL's list gives %v", src, name, got, want)
			}
		}
	}
}

// mustProgram compiles src in env the way conditions are compiled.
func mustProgram(t *testing.T, env *cel.Env, src string) cel.Program {
	t.Helper()
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", src, iss.Err())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return prg
}
