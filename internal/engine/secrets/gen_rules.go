//go:build ignore

// gen_rules writes rules_gen.go from the default gitleaks configuration; run `go generate`.
package main

import (
	"fmt"
	"os"

	"github.com/cavra-dev/cavra/internal/engine/secrets/internal/genrules"
)

func main() {
	src, err := genrules.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_rules:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("rules_gen.go", src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen_rules:", err)
		os.Exit(1)
	}
}
