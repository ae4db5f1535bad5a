package cavra

import (
	"context"
	"crypto"
	"time"
)

// Signer signs evidence (checkpoints, DSSE envelopes, attestations). Implementations keep the
// private key wherever it lives: a file, an HSM behind PKCS#11, a cloud KMS.
type Signer interface {
	// KeyID names the key; verifiers look keys up by it.
	KeyID() string
	// Algorithm is "ed25519" or "ecdsa-p256-sha256".
	Algorithm() string
	// Public returns the public half.
	Public() crypto.PublicKey
	// Sign signs msg (the whole message; the signer hashes it if its algorithm needs a digest).
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// KeyStatus is where a key stands in its life.
type KeyStatus string

// Key statuses.
const (
	KeyActive  KeyStatus = "active"  // signs new evidence
	KeyRetired KeyStatus = "retired" // rotated out: its past signatures stay valid
	KeyRevoked KeyStatus = "revoked" // compromised: signatures made after RevokedAt are invalid
)

// KeyInfo is what a verifier needs to know about a signing key.
type KeyInfo struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"algorithm"`
	PublicKey []byte    `json:"public_key"` // PKIX DER
	Status    KeyStatus `json:"status"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after,omitzero"` // zero: no end
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Custody   string    `json:"custody,omitempty"` // file, pkcs11, kms
}
