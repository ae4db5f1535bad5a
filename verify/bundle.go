package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Format identifies version 1 of the evidence bundle.
const Format = "https://cavra.dev/evidence-bundle/v1"

// In-toto identifiers used by the attestation.
const (
	PayloadType   = "application/vnd.in-toto+json"
	PredicateType = "https://cavra.dev/attestation/audit-export/v1"
	SubjectPrefix = "entry/"
)

// TimeExtensionPrefix starts the checkpoint extension line that says when it was signed.
const TimeExtensionPrefix = "cavra-time "

// TimeExtension is the checkpoint extension line for signing time t (without the newline).
func TimeExtension(t time.Time) string {
	return TimeExtensionPrefix + t.UTC().Format(time.RFC3339Nano)
}

// Bundle is an evidence bundle as it is written to disk.
type Bundle struct {
	Format      string        `json:"format"`
	Checkpoint  string        `json:"checkpoint"`
	TreeSize    uint64        `json:"tree_size"`
	Keys        []Key         `json:"keys"`
	Entries     []Entry       `json:"entries"`
	Attestation dsse.Envelope `json:"attestation"`
}

// Entry is one audit record with its proof of inclusion in the tree the checkpoint commits to.
type Entry struct {
	Index          uint64   `json:"index"`
	Record         []byte   `json:"record"`          // the record's exact bytes (base64 in JSON)
	InclusionProof [][]byte `json:"inclusion_proof"` // RFC 6962 audit path, leaf to root
}

// Key is a signing key and the time it may sign in. Signatures dated before NotBefore, after
// NotAfter (if set) or at or after RevokedAt (if set) do not count.
type Key struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"algorithm"`  // "ed25519" or "ecdsa-p256-sha256"
	PublicKey []byte    `json:"public_key"` // PKIX DER (base64 in JSON)
	Status    string    `json:"status"`     // active, retired, revoked
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Custody   string    `json:"custody,omitempty"`
}

// Parse decodes a bundle strictly: unknown fields, trailing data and a wrong format are errors.
func Parse(data []byte) (*Bundle, error) {
	var b Bundle
	if err := decodeStrict(data, &b); err != nil {
		return nil, fmt.Errorf("%w: bundle: %w", ErrMalformed, err)
	}
	if b.Format != Format {
		return nil, fmt.Errorf("%w: bundle format %q, want %q", ErrMalformed, b.Format, Format)
	}
	return &b, nil
}

// ParseKeys reads a trusted-keys file: either a JSON array of keys, or an object with a "keys"
// array (such as a CAVRA keyring.json; its other fields are ignored).
func ParseKeys(data []byte) ([]Key, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var keys []Key
		if err := json.Unmarshal(trimmed, &keys); err != nil {
			return nil, fmt.Errorf("%w: trusted keys: %w", ErrMalformed, err)
		}
		return keys, nil
	}
	var wrapper struct {
		Keys *[]Key `json:"keys"`
	}
	if err := json.Unmarshal(trimmed, &wrapper); err != nil {
		return nil, fmt.Errorf("%w: trusted keys: %w", ErrMalformed, err)
	}
	if wrapper.Keys == nil {
		return nil, fmt.Errorf("%w: trusted keys: want a JSON array of keys or an object with \"keys\"", ErrMalformed)
	}
	return *wrapper.Keys, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
