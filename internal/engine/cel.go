package engine

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/proto"
)

// condition is a rule's CEL expression, compiled on first use: building a CEL environment
// costs milliseconds, and a hook process that never reaches a condition should not pay it.
type condition struct {
	src string
	// checked is the type-checked AST of src (a serialised CheckedExpr) when the pack was
	// shipped pre-compiled: building a program from it skips parsing and checking.
	checked []byte
	once    sync.Once
	prg     cel.Program
	err     error
}

// celEnv is shared by every condition of every policy in the process.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("action", cel.DynType),
		cel.Variable("subject", cel.DynType),
		ext.Strings(),
	)
})

// CompileCondition checks a CEL condition, for lint.
func CompileCondition(src string) error {
	env, err := celEnv()
	if err != nil {
		return fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return iss.Err()
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return fmt.Errorf("condition must be a bool, not %s", ast.OutputType())
	}
	return nil
}

func (c *condition) compile() {
	env, err := celEnv()
	if err != nil {
		c.err = fmt.Errorf("cel environment: %w", err)
		return
	}
	if len(c.checked) > 0 {
		var ce exprpb.CheckedExpr
		if err := proto.Unmarshal(c.checked, &ce); err == nil {
			if c.prg, c.err = env.Program(cel.CheckedExprToAst(&ce), cel.EvalOptions(cel.OptOptimize), cel.OptimizeRegex(prefilteredMatches...)); c.err == nil {
				return
			}
		}
		// A damaged pre-compiled form falls back to the source, which is the truth.
	}
	ast, iss := env.Compile(c.src)
	if iss != nil && iss.Err() != nil {
		c.err = fmt.Errorf("condition: %w", iss.Err())
		return
	}
	c.prg, c.err = env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.OptimizeRegex(prefilteredMatches...))
}

// eval runs the condition on in. An error is returned, never taken as false: the caller fails
// closed.
func (c *condition) eval(in *celInput) (bool, error) {
	c.once.Do(c.compile)
	if c.err != nil {
		return false, c.err
	}
	out, _, err := c.prg.Eval(in)
	if err != nil {
		return false, fmt.Errorf("condition: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %T, not bool", out.Value())
	}
	return b, nil
}

// celInput holds a condition's variables. It is the CEL activation itself, so evaluating a
// condition allocates no map of variables; the action's value is built only if a condition
// reads it, once per decision.
type celInput struct {
	ev      *evaluation
	subject any
}

// ResolveName implements interpreter.Activation.
func (in *celInput) ResolveName(name string) (any, bool) {
	switch name {
	case "action":
		return in.ev.celAction(), true
	case "subject":
		return in.subject, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (in *celInput) Parent() interpreter.Activation { return nil }

// CheckedCondition parses and type-checks a condition and returns its AST in serialised
// form, for packs shipped pre-compiled.
func CheckedCondition(src string) ([]byte, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	ce, err := cel.AstToCheckedExpr(ast)
	if err != nil {
		return nil, fmt.Errorf("serialise condition: %w", err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(ce)
}

// celAction is the action as CEL sees it: its JSON form, each field built at most once per
// decision, when a condition first reads it.
func (ev *evaluation) celAction() any {
	if ev.vars.names == nil {
		ev.vars = lazyMap{names: actionFields, src: evaluationAction{ev}, adapter: celAdapter()}
	}
	return &ev.vars
}

// celAdapter is the conditions' type adapter, which makes CEL values of Go values.
func celAdapter() types.Adapter {
	env, err := celEnv()
	if err != nil {
		return types.DefaultTypeAdapter // unreachable: no condition compiles without the environment
	}
	return env.CELTypeAdapter()
}

// toCEL converts a Go value to plain maps, lists and scalars through its JSON form, so that
// CEL field names are the documented JSON names.
func toCEL(v any) (any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode for condition: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode for condition: %w", err)
	}
	return out, nil
}

// CheckedConditions returns each conditioned rule's checked condition, by rule id.
func CheckedConditions(p *Pack) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, r := range p.Rules {
		if r.Condition == "" {
			continue
		}
		b, err := CheckedCondition(r.Condition)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		out[r.ID] = b
	}
	return out, nil
}
