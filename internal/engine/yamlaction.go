package engine

import (
	"encoding/json"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

type reflectType = reflect.Type

func typeOf(v any) reflect.Type { return reflect.TypeOf(v) }

// decodeActionNode decodes a YAML action through JSON so that the canonical JSON field names
// (and their strictness) apply.
func decodeActionNode(n *yaml.Node, v any) error {
	var generic any
	if err := n.Decode(&generic); err != nil {
		return fmt.Errorf("line %d: action: %w", n.Line, err)
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return fmt.Errorf("line %d: action: %w", n.Line, err)
	}
	if err := DecodeAction(b, v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
