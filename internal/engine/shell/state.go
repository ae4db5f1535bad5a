package shell

import (
	"maps"
	"strings"

	"github.com/cavra-dev/cavra/internal/engine/paths"
)

// state is what the shell knows while the line runs: variables with statically known values and
// the working directory. A subshell works on a clone, so its changes do not leak out.
type state struct {
	vars   map[string]string // only variables whose value is fully known
	dir    string
	oldDir string   // for cd -
	stack  []string // pushd/popd
}

func (st *state) clone() *state {
	c := &state{dir: st.dir, oldDir: st.oldDir}
	if len(st.vars) > 0 {
		c.vars = maps.Clone(st.vars)
	}
	if len(st.stack) > 0 {
		c.stack = append([]string(nil), st.stack...)
	}
	return c
}

func (st *state) set(name, value string) {
	if len(value) > maxVarValue {
		st.unset(name)
		return
	}
	if _, known := st.vars[name]; !known && len(st.vars) >= maxVars {
		return // the variable stays unknown: its uses are marked dynamic
	}
	if st.vars == nil {
		st.vars = map[string]string{}
	}
	st.vars[name] = value
}

func (st *state) unset(name string) { delete(st.vars, name) }

// lookup returns a variable's value when it is statically known.
func (st *state) lookup(name string, sc scope) (string, bool) {
	if v, ok := st.vars[name]; ok {
		return v, true
	}
	switch name {
	case "HOME":
		return sc.home, sc.home != ""
	case "PWD":
		return st.dir, st.dir != ""
	case "OLDPWD":
		return st.oldDir, st.oldDir != ""
	}
	return "", false
}

// merge makes st what is known after control flow reached it along any of the outcomes: only
// variables every outcome agrees on stay known, and the directory changes only when every
// outcome agrees on it.
func (st *state) merge(outcomes ...*state) {
	if len(outcomes) == 0 {
		return
	}
	first := outcomes[0]
	var vars map[string]string
	for k, v := range first.vars {
		agreed := true
		for _, o := range outcomes[1:] {
			if ov, ok := o.vars[k]; !ok || ov != v {
				agreed = false
				break
			}
		}
		if agreed {
			if vars == nil {
				vars = map[string]string{}
			}
			vars[k] = v
		}
	}
	st.vars = vars
	sameDir := true
	for _, o := range outcomes[1:] {
		if o.dir != first.dir {
			sameDir = false
		}
	}
	if sameDir {
		st.dir, st.oldDir, st.stack = first.dir, first.oldDir, first.stack
	}
}

// chdir applies a cd, pushd or popd whose arguments are args (program name excluded).
func (st *state) chdir(program string, args []field, home string) {
	var operands []field
	for i, a := range args {
		if a.val == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a.val) > 1 && a.val[0] == '-' && !isDigits(a.val[1:]) {
			continue // -L, -P, -e, -@, -n
		}
		operands = append(operands, a)
	}
	switch program {
	case "cd":
		if len(operands) == 0 {
			if home != "" {
				st.moveTo(home)
			}
			return
		}
		if operands[0].val == "-" {
			if st.oldDir != "" {
				st.moveTo(st.oldDir)
			}
			return
		}
		st.moveTo(paths.Resolve(operands[0].val, st.dir, home))
	case "pushd":
		if len(operands) == 0 {
			if n := len(st.stack); n > 0 {
				top := st.stack[n-1]
				st.stack[n-1] = st.dir
				st.moveTo(top)
			}
			return
		}
		if strings.HasPrefix(operands[0].val, "+") || strings.HasPrefix(operands[0].val, "-") {
			return // stack rotation: the resulting directory is not tracked
		}
		st.stack = append(st.stack, st.dir)
		st.moveTo(paths.Resolve(operands[0].val, st.dir, home))
	case "popd":
		if len(operands) > 0 {
			return
		}
		if n := len(st.stack); n > 0 {
			top := st.stack[n-1]
			st.stack = st.stack[:n-1]
			st.moveTo(top)
		}
	}
}

func (st *state) moveTo(dir string) {
	st.oldDir = st.dir
	st.dir = dir
	// cd sets PWD and OLDPWD; a value assigned to them before is no longer current.
	st.unset("PWD")
	st.unset("OLDPWD")
}
