package engine

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// condition is a rule's CEL expression, compiled on first use: building a CEL environment
// costs milliseconds, and a hook process that never reaches a condition should not pay it.
type condition struct {
	src  string
	once sync.Once
	prg  cel.Program
	err  error
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
	ast, iss := env.Compile(c.src)
	if iss != nil && iss.Err() != nil {
		c.err = fmt.Errorf("condition: %w", iss.Err())
		return
	}
	c.prg, c.err = env.Program(ast, cel.EvalOptions(cel.OptOptimize))
}

// eval runs the condition. The action's CEL value is built only if the condition reads it.
// An error is returned, never taken as false: the caller fails closed.
func (c *condition) eval(action func() any, subject any) (bool, error) {
	c.once.Do(c.compile)
	if c.err != nil {
		return false, c.err
	}
	sub, err := subjectValue(subject)
	if err != nil {
		return false, err
	}
	out, _, err := c.prg.Eval(map[string]any{"action": action, "subject": sub})
	if err != nil {
		return false, fmt.Errorf("condition: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %T, not bool", out.Value())
	}
	return b, nil
}

// celAction is the action as CEL sees it: its JSON form, built once per decision.
func (ev *evaluation) celAction() any {
	if ev.vars == nil {
		ev.vars = actionValue(&ev.action)
	}
	return ev.vars
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
