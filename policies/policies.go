// Package policies embeds CAVRA's built-in policy packs and their test suites.
package policies

import "embed"

//go:generate go run ./internal/gen

// FS holds NAME.yaml for each built-in pack, compiled/NAME.json for the same pack resolved and
// ready to decode, and tests/NAME.yaml for its test suite.
//
//go:embed *.yaml compiled/*.json tests/*.yaml
var FS embed.FS
