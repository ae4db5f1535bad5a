package verify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Algorithms a key may have.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256-sha256"
)

// trustedKey is a Key whose public key has been decoded and whose id has been checked.
type trustedKey struct {
	Key
	noteName string
	noteHash uint32
	ed       ed25519.PublicKey
	ec       *ecdsa.PublicKey
}

// verify checks sig over msg: Ed25519 over the message, or ASN.1 ECDSA over its SHA-256.
func (k *trustedKey) verify(msg, sig []byte) bool {
	if k.ed != nil {
		return ed25519.Verify(k.ed, msg, sig)
	}
	digest := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(k.ec, digest[:], sig)
}

// validAt says why a signature the key made at t does not count, or nil if it does.
func (k *trustedKey) validAt(t time.Time) error {
	switch {
	case t.Before(k.NotBefore):
		return fmt.Errorf("%w: key %s signed at %s, before its window opened at %s", ErrKeyNotValid, k.ID, stamp(t), stamp(k.NotBefore))
	case !k.NotAfter.IsZero() && t.After(k.NotAfter):
		return fmt.Errorf("%w: key %s signed at %s, after its window closed at %s", ErrKeyNotValid, k.ID, stamp(t), stamp(k.NotAfter))
	case !k.RevokedAt.IsZero() && !t.Before(k.RevokedAt):
		return fmt.Errorf("%w: key %s signed at %s, at or after its revocation at %s", ErrKeyNotValid, k.ID, stamp(t), stamp(k.RevokedAt))
	}
	return nil
}

func (k *trustedKey) revoked() bool { return !k.RevokedAt.IsZero() || k.Status == "revoked" }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// trustKeys decodes and checks every key, refusing duplicates.
func trustKeys(keys []Key) (map[string]*trustedKey, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no trusted keys", ErrUntrustedKey)
	}
	out := make(map[string]*trustedKey, len(keys))
	for i, k := range keys {
		tk, err := checkKey(k)
		if err != nil {
			return nil, fmt.Errorf("trusted key %d: %w", i, err)
		}
		if _, dup := out[k.ID]; dup {
			return nil, fmt.Errorf("%w: trusted key %s listed twice", ErrMalformed, k.ID)
		}
		out[k.ID] = tk
	}
	return out, nil
}

// checkKey decodes a key and checks that its id is the C2SP signed-note key hash of its public
// key under the name the id starts with.
func checkKey(k Key) (*trustedKey, error) {
	sep := strings.LastIndexByte(k.ID, '+')
	if sep <= 0 || len(k.ID)-sep-1 != 8 {
		return nil, fmt.Errorf("%w: key id %q is not name+8 hex digits", ErrMalformed, k.ID)
	}
	name := k.ID[:sep]
	if strings.ContainsAny(name, " \t\n+") {
		return nil, fmt.Errorf("%w: key id %q has a space or plus sign in its name", ErrMalformed, k.ID)
	}
	hash, err := strconv.ParseUint(k.ID[sep+1:], 16, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: key id %q: bad hash: %w", ErrMalformed, k.ID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: public key: %w", ErrMalformed, k.ID, err)
	}
	tk := &trustedKey{Key: k, noteName: name, noteHash: uint32(hash)}
	var want [sha256.Size]byte
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if k.Algorithm != AlgEd25519 {
			return nil, fmt.Errorf("%w: key %s: algorithm %q but the public key is ed25519", ErrMalformed, k.ID, k.Algorithm)
		}
		tk.ed = p
		want = sha256.Sum256(append(append([]byte(name), '\n', 0x01), p...))
	case *ecdsa.PublicKey:
		if k.Algorithm != AlgECDSAP256 || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: key %s: algorithm %q does not match its ECDSA key (only P-256 is accepted)", ErrMalformed, k.ID, k.Algorithm)
		}
		tk.ec = p
		want = sha256.Sum256(k.PublicKey)
	default:
		return nil, fmt.Errorf("%w: key %s: unsupported public key type %T", ErrMalformed, k.ID, pub)
	}
	if binary.BigEndian.Uint32(want[:4]) != tk.noteHash {
		return nil, fmt.Errorf("%w: key id %s does not match its public key (hash %08x)", ErrMalformed, k.ID, binary.BigEndian.Uint32(want[:4]))
	}
	if k.Status == "revoked" && k.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: key %s is revoked but has no revoked_at", ErrMalformed, k.ID)
	}
	return tk, nil
}

// noteVerifier adapts a trusted key to the signed-note package.
type noteVerifier struct{ k *trustedKey }

func (v noteVerifier) Name() string                { return v.k.noteName }
func (v noteVerifier) KeyHash() uint32             { return v.k.noteHash }
func (v noteVerifier) Verify(msg, sig []byte) bool { return v.k.verify(msg, sig) }
