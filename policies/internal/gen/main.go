// Command gen writes compiled/NAME.json for each built-in pack: the pack with its parents merged
// in, as JSON, which a hook process decodes several times faster than it parses the YAML.
// Run it with `go generate ./policies`; a test fails when the JSON is stale.
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
	}
	return nil
}
