package scan

import (
	"sort"

	"github.com/cavra-dev/cavra"
)

// dangerousTFOps read or write files or run Python when a graph executes.
var dangerousTFOps = map[string]string{
	"ReadFile":        "reads any file the process can read",
	"WriteFile":       "writes any file the process can write",
	"MatchingFiles":   "lists files on the host",
	"PyFunc":          "runs a Python function",
	"PyFuncStateless": "runs a Python function",
	"EagerPyFunc":     "runs a Python function",
}

// scanSavedModel walks saved_model.pb: meta_graphs 2 > graph_def 2 > node 1 > op 2, and the
// function library (graph_def 2 > library 2 > function 1 > node_def 3).
func (j *job) scanSavedModel(src source, sc scope) {
	ra, err := j.readerAt(src, maxRandomAccessInflate)
	if err != nil {
		sc.add("savedmodel.unreadable", cavra.SeverityMedium, "", "graph not parsed: %v", err)
		return
	}
	p := newPBReader(ra, src.size)
	found := map[string]bool{}
	nodeDef := func(f pbField) error {
		return p.fields(f.start, f.end, func(g pbField) error {
			if g.num == 2 && g.typ == wireBytes {
				op, err := p.str(g)
				if err != nil {
					return err
				}
				if _, bad := dangerousTFOps[op]; bad {
					found[op] = true
				}
			}
			return nil
		})
	}
	graphDef := func(f pbField) error {
		return p.fields(f.start, f.end, func(g pbField) error {
			if g.typ != wireBytes {
				return nil
			}
			switch g.num {
			case 1:
				return nodeDef(g)
			case 2: // FunctionDefLibrary
				return p.fields(g.start, g.end, func(h pbField) error {
					if h.num != 1 || h.typ != wireBytes {
						return nil
					}
					return p.fields(h.start, h.end, func(k pbField) error {
						if k.num == 3 && k.typ == wireBytes {
							return nodeDef(k)
						}
						return nil
					})
				})
			}
			return nil
		})
	}
	err = p.fields(0, src.size, func(f pbField) error {
		if f.num != 2 || f.typ != wireBytes {
			return nil
		}
		if err := j.ctx.Err(); err != nil {
			return err
		}
		return p.fields(f.start, f.end, func(g pbField) error {
			if g.num == 2 && g.typ == wireBytes {
				return graphDef(g)
			}
			return nil
		})
	})
	if err != nil {
		sc.add("savedmodel.corrupt", cavra.SeverityMedium, "", "SavedModel protobuf is damaged: %v", err)
	}
	ops := make([]string, 0, len(found))
	for op := range found {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		sc.add("savedmodel.dangerous-op", cavra.SeverityHigh, "op "+op, "graph uses %s, which %s", op, dangerousTFOps[op])
	}
}
