package scan

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/cavra-dev/cavra"
)

// knownONNXDomains are operator sets implemented by ONNX Runtime and the reference runtimes;
// anything else needs a custom operator library: native code loaded with the model.
var knownONNXDomains = map[string]bool{
	"": true, "ai.onnx": true, "ai.onnx.ml": true, "ai.onnx.training": true,
	"ai.onnx.preview.training": true, "ai.onnx.preview": true, "com.microsoft": true,
	"com.microsoft.nchwc": true, "com.microsoft.experimental": true, "com.ms.internal.nhwc": true,
	"com.microsoft.dml": true, "org.pytorch.aten": true,
}

type onnxWalk struct {
	p *pbReader
	j *job
	// opsByDomain collects operators per domain; local function domains are resolved at the end.
	opsByDomain map[string]map[string]bool
	localDomain map[string]bool
	traversals  []string
}

// scanONNX walks an ONNX ModelProto: operator domains and external-data locations. When strict
// is false (the file was only sniffed as ONNX) a parse failure reports nothing and returns false.
func (j *job) scanONNX(src source, sc scope, strict bool) bool {
	ra, err := j.readerAt(src, maxRandomAccessInflate)
	if err != nil {
		sc.add("onnx.unreadable", cavra.SeverityMedium, "", "model not parsed: %v", err)
		return true
	}
	w := &onnxWalk{p: newPBReader(ra, src.size), j: j, opsByDomain: map[string]map[string]bool{}, localDomain: map[string]bool{}}
	err = w.p.fields(0, src.size, func(f pbField) error {
		switch {
		case f.num == 7 && f.typ == wireBytes: // graph
			return w.graph(f.start, f.end, 0)
		case f.num == 25 && f.typ == wireBytes: // functions
			return w.function(f.start, f.end, 0)
		case f.num == 8 && f.typ == wireBytes: // opset_import
			return w.opset(f)
		}
		return nil
	})
	if err != nil {
		if !strict {
			return false
		}
		sc.add("onnx.corrupt", cavra.SeverityMedium, "", "ModelProto is damaged: %v", err)
	}
	for _, loc := range w.traversals {
		sc.add("onnx.external-data-traversal", cavra.SeverityHigh, "external_data location "+printableName(loc),
			"tensor data location leaves the model directory: loading reads %s", printableName(loc))
	}
	domains := make([]string, 0, len(w.opsByDomain))
	for d := range w.opsByDomain {
		if !knownONNXDomains[d] && !w.localDomain[d] {
			domains = append(domains, d)
		}
	}
	sort.Strings(domains)
	for _, d := range domains {
		ops := make([]string, 0, len(w.opsByDomain[d]))
		for op := range w.opsByDomain[d] {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		if len(ops) > 10 {
			ops = append(ops[:10], "...")
		}
		sc.add("onnx.custom-domain", cavra.SeverityMedium, "domain "+printableName(d),
			"operators %s come from custom domain %q: loading needs a native custom-op library", strings.Join(ops, ", "), d)
	}
	return true
}

func (w *onnxWalk) note(domain, op string) {
	if w.opsByDomain[domain] == nil {
		if len(w.opsByDomain) > 1000 {
			return
		}
		w.opsByDomain[domain] = map[string]bool{}
	}
	if len(w.opsByDomain[domain]) < 1000 {
		w.opsByDomain[domain][op] = true
	}
}

func (w *onnxWalk) opset(f pbField) error {
	return w.p.fields(f.start, f.end, func(g pbField) error {
		if g.num == 1 && g.typ == wireBytes {
			d, err := w.p.str(g)
			if err != nil {
				return err
			}
			if !knownONNXDomains[d] {
				w.note(d, "(opset import)")
			}
		}
		return nil
	})
}

func (w *onnxWalk) depthCheck(depth int) error {
	if depth > maxProtoDepth {
		return errors.New("graphs nested too deep")
	}
	return w.j.ctx.Err()
}

// graph walks a GraphProto: node 1, initializer 5, sparse_initializer 15.
func (w *onnxWalk) graph(start, end int64, depth int) error {
	if err := w.depthCheck(depth); err != nil {
		return err
	}
	return w.p.fields(start, end, func(f pbField) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case 1:
			return w.node(f.start, f.end, depth)
		case 5:
			return w.tensor(f.start, f.end)
		case 15: // SparseTensorProto: values 1, indices 2
			return w.p.fields(f.start, f.end, func(g pbField) error {
				if (g.num == 1 || g.num == 2) && g.typ == wireBytes {
					return w.tensor(g.start, g.end)
				}
				return nil
			})
		}
		return nil
	})
}

// node walks a NodeProto: op_type 4, domain 7, attribute 5.
func (w *onnxWalk) node(start, end int64, depth int) error {
	var op, domain string
	err := w.p.fields(start, end, func(f pbField) error {
		if f.typ != wireBytes {
			return nil
		}
		var err error
		switch f.num {
		case 4:
			op, err = w.p.str(f)
		case 7:
			domain, err = w.p.str(f)
		case 5:
			err = w.attribute(f.start, f.end, depth)
		}
		return err
	})
	if err != nil {
		return err
	}
	w.note(domain, op)
	return nil
}

// attribute walks an AttributeProto: t 5, g 6, tensors 10, graphs 11, sparse_tensor 22, sparse_tensors 23.
func (w *onnxWalk) attribute(start, end int64, depth int) error {
	return w.p.fields(start, end, func(f pbField) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case 5, 10:
			return w.tensor(f.start, f.end)
		case 6, 11:
			return w.graph(f.start, f.end, depth+1)
		}
		return nil
	})
}

// function walks a FunctionProto: node 7, domain 10, opset_import 9.
func (w *onnxWalk) function(start, end int64, depth int) error {
	return w.p.fields(start, end, func(f pbField) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case 7:
			return w.node(f.start, f.end, depth+1)
		case 10:
			d, err := w.p.str(f)
			if err != nil {
				return err
			}
			w.localDomain[d] = true
		}
		return nil
	})
}

// tensor walks a TensorProto for external_data (13) entries {key 1, value 2}.
func (w *onnxWalk) tensor(start, end int64) error {
	return w.p.fields(start, end, func(f pbField) error {
		if f.num != 13 || f.typ != wireBytes {
			return nil
		}
		var key, value string
		err := w.p.fields(f.start, f.end, func(g pbField) error {
			var err error
			if g.typ == wireBytes && g.num == 1 {
				key, err = w.p.str(g)
			} else if g.typ == wireBytes && g.num == 2 {
				value, err = w.p.str(g)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("external_data: %w", err)
		}
		if key == "location" && escapesDir(value) && len(w.traversals) < 100 {
			w.traversals = append(w.traversals, value)
		}
		return nil
	})
}

// escapesDir reports whether a relative location would leave its base directory.
func escapesDir(loc string) bool {
	n := strings.ReplaceAll(loc, "\\", "/")
	if n == "" || strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') || strings.ContainsRune(n, 0) {
		return n != ""
	}
	clean := path.Clean(n)
	return clean == ".." || strings.HasPrefix(clean, "../")
}
