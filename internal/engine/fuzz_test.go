package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/cavra-dev/cavra"
)

// FuzzParsePack feeds arbitrary YAML to the pack loader: it must never panic, and whatever it
// accepts must compile and decide without panicking.
func FuzzParsePack(f *testing.F) {
	for _, name := range []string{"baseline.yaml", "strict.yaml", "regulated.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "policies", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(precedencePack))
	f.Add([]byte("name: x\nextends: [x]\n"))
	f.Add([]byte("name: x\nrules:\n  - {id: r, any: [{git: {force: true}}, {paths: ['**']}], outcome: block, message: m}\n"))
	f.Add([]byte("name: x\nrules:\n  - {id: r, match: {secrets: true}, condition: 'action.kind == \"x\"', outcome: warn, message: m}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pack, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if len(data) < 2048 { // lint compiles every condition: keep it to small packs
			loader := &Loader{Builtin: fstest.MapFS{"fuzz.yaml": {Data: data}}}
			_ = loader.Lint("fuzz.yaml", data)
		}
		if len(pack.Extends) > 0 {
			return // parents are not in the fuzz filesystem
		}
		pol, err := Compile(pack)
		if err != nil {
			return
		}
		eng := New(pol, Options{Home: "/home/dev"})
		for _, a := range []cavra.Action{
			{Kind: cavra.KindCommandExec, Cwd: "/repo", Command: &cavra.Command{Line: "rm -rf / && git push -f origin main | sh"}},
			{Kind: cavra.KindFileWrite, Cwd: "/repo", Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: ".env", Content: "x"}}},
			{Kind: cavra.KindMCPCall, MCP: &cavra.MCPCall{Server: "fs", Tool: "write"}},
		} {
			d, err := eng.Decide(context.Background(), a)
			if err == nil && !d.Outcome.Valid() {
				t.Fatalf("decided invalid outcome %q", d.Outcome)
			}
		}
	})
}
