package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Algorithm names, as in cavra.Signer.Algorithm and cavra.KeyInfo.Algorithm.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256-sha256"
)

// Signature type bytes assigned by the C2SP signed-note spec.
const (
	noteTypeEd25519 = 0x01
	noteTypeECDSA   = 0x02
)

// DefaultName is the note key name of a keyring made without one.
const DefaultName = "cavra.local/audit"

// AlgorithmOf names the signing algorithm of a public key, or fails for key types CAVRA does
// not sign with.
func AlgorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("ed25519 public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return AlgEd25519, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ecdsa key on curve %s: only P-256 is supported", k.Curve.Params().Name)
		}
		return AlgECDSAP256, nil
	default:
		return "", fmt.Errorf("unsupported public key type %T: want ed25519 or ecdsa P-256", pub)
	}
}

// KeyHash is the C2SP signed-note key hash of pub under name (see the package doc).
func KeyHash(name string, pub crypto.PublicKey) (uint32, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	alg, err := AlgorithmOf(pub)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	switch alg {
	case AlgEd25519:
		h.Write([]byte(name))
		h.Write([]byte{'\n', noteTypeEd25519})
		h.Write(pub.(ed25519.PublicKey))
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return 0, fmt.Errorf("encode public key: %w", err)
		}
		h.Write(der)
	}
	return binary.BigEndian.Uint32(h.Sum(nil)), nil
}

// KeyID is the id of pub under the note key name: name+hash (see the package doc).
func KeyID(name string, pub crypto.PublicKey) (string, error) {
	hash, err := KeyHash(name, pub)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s+%08x", name, hash), nil
}

// SplitKeyID returns the note key name and key hash an id is made of.
func SplitKeyID(id string) (name string, hash uint32, err error) {
	i := strings.LastIndexByte(id, '+')
	if i < 0 || len(id)-i-1 != 8 {
		return "", 0, fmt.Errorf("key id %q is not of the form name+hash (8 hex digits)", id)
	}
	h, err := strconv.ParseUint(id[i+1:], 16, 32)
	if err != nil {
		return "", 0, fmt.Errorf("key id %q: bad key hash: %w", id, err)
	}
	name = id[:i]
	if err := checkName(name); err != nil {
		return "", 0, fmt.Errorf("key id %q: %w", id, err)
	}
	return name, uint32(h), nil
}

// checkName enforces the signed-note rule for key names: non-empty, no spaces, no plus signs,
// no control characters.
func checkName(name string) error {
	if name == "" {
		return errors.New("key name is empty")
	}
	for _, r := range name {
		if r == '+' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("key name %q contains %q: names may not contain spaces, plus signs or control characters", name, r)
		}
	}
	return nil
}

// ParsePublicKey decodes a PKIX DER public key and checks that CAVRA can verify with it.
func ParsePublicKey(der []byte) (crypto.PublicKey, string, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, "", fmt.Errorf("parse public key: %w", err)
	}
	alg, err := AlgorithmOf(pub)
	if err != nil {
		return nil, "", err
	}
	return pub, alg, nil
}

// VerifySignature checks sig over msg with pub under alg, the way cavra.Signer.Sign made it:
// Ed25519 over the message, or ASN.1 ECDSA over its SHA-256 digest.
func VerifySignature(alg string, pub crypto.PublicKey, msg, sig []byte) bool {
	switch alg {
	case AlgEd25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, sig)
	case AlgECDSAP256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		digest := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, digest[:], sig)
	default:
		return false
	}
}
