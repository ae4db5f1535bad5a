// Command gen writes, for each built-in pack, compiled/NAME.json (the pack with its parents
// merged in, as JSON, which a hook process decodes several times faster than it parses the YAML)
// and compiled/NAME.cel.json (each rule's condition, parsed and type-checked, so a hook builds
// its CEL programs without compiling them). Run it with `go generate ./policies`; a test fails
// when either is stale.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cavra-dev/cavra/internal/engine"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	loader := &engine.Loader{Builtin: os.DirFS(".")}
	for _, name := range loader.BuiltinNames() {
		pack, err := loader.Resolve(name)
		if err != nil {
			return err
		}
		data, err := json.Marshal(pack)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join("compiled", name+".json"), append(data, '\n'), 0o644); err != nil {
			return err
		}
		conds, err := engine.CheckedConditions(pack)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		data, err = json.MarshalIndent(conds, "", " ")
		if err != nil {
			return fmt.Errorf("encode %s conditions: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join("compiled", name+".cel.json"), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
