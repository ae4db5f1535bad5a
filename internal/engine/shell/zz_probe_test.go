package shell

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

func TestZZProbe(t *testing.T) {
	lines := os.Getenv("PROBE")
	if lines == "" {
		t.Skip()
	}
	var ls []string
	json.Unmarshal([]byte(lines), &ls)
	for _, l := range ls {
		r, err := Parse(l, Options{Dir: "/work", Home: "/home/u"})
		fmt.Printf("== %q err=%v\n", l, err)
		for _, c := range r.Commands {
			fmt.Printf("  %q prog=%q wr=%q env=%v dir=%s via=%q dyn=%v span=%q\n", c.Argv, c.Program, c.Wrappers, c.Env, c.Dir, c.Via, c.Dynamic, l[c.Span.Start:c.Span.End])
		}
		for _, f := range r.Files {
			fmt.Printf("  file %s %s (%s)\n", f.Op, f.Path, f.Raw)
		}
	}
}
