package engine

import (
	"bytes"
	"encoding/json"

	"github.com/cavra-dev/cavra"
)

// DecodeAction reads canonical Action JSON strictly: unknown fields are errors, so a misspelt
// field cannot silently drop a fact a rule needs.
func DecodeAction(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return cavra.Errorf(cavra.ErrInvalid, "decode action: %w", err)
	}
	if dec.More() {
		return cavra.Errorf(cavra.ErrInvalid, "decode action: trailing data after the JSON object")
	}
	return nil
}
