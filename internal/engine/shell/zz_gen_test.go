package shell

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZGen(t *testing.T) {
	path := os.Getenv("GEN")
	if path == "" {
		t.Skip()
	}
	b, _ := os.ReadFile(path)
	var cases [][2]string
	json.Unmarshal(b, &cases)
	q := func(ss []string) string {
		var p []string
		for _, s := range ss {
			p = append(p, fmt.Sprintf("%q", s))
		}
		return strings.Join(p, ", ")
	}
	for _, c := range cases {
		r, err := Parse(c[1], Options{Dir: "/work/repo", Home: "/home/dev"})
		if err != nil {
			fmt.Printf("// ERROR %s: %v\n", c[0], err)
			continue
		}
		fmt.Printf("{name: %q, line: %q, want: []wantCmd{\n", c[0], c[1])
		for _, cmd := range r.Commands {
			fmt.Printf("\t{argv: []string{%s}, program: %q", q(cmd.Argv), cmd.Program)
			if len(cmd.Wrappers) > 0 {
				fmt.Printf(", wrappers: []string{%s}", q(cmd.Wrappers))
			}
			if cmd.Via != "" {
				fmt.Printf(", via: %q", cmd.Via)
			}
			switch cmd.Dir {
			case "/work/repo":
			case "":
				fmt.Printf(", dir: \"-\"")
			default:
				fmt.Printf(", dir: %q", cmd.Dir)
			}
			if len(cmd.Env) > 0 {
				fmt.Printf(", env: %#v", cmd.Env)
			}
			if cmd.Dynamic {
				fmt.Printf(", dynamic: true")
			}
			fmt.Printf(", span: %q},\n", c[1][cmd.Span.Start:cmd.Span.End])
		}
		fmt.Printf("}},\n")
	}
}
