package modelsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// The OpenSSF tool signs with elliptic-curve keys only (P-256, P-384, P-521); it has no Ed25519
// key signer, so neither does this package: a bundle it could not verify would be no use.
var errEd25519 = errors.New("ed25519 keys are not accepted by OpenSSF model signing: use an ECDSA P-256 key (cavra model keygen)")

// GenerateKey makes a new ECDSA P-256 key, the OpenSSF default.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// MarshalPrivateKeyPEM encodes key as PKCS#8 PEM ("PRIVATE KEY").
func MarshalPrivateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes pub as PKIX PEM ("PUBLIC KEY").
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// KeyHint is the OpenSSF key identifier: hex SHA-256 of the public key's PEM encoding.
func KeyHint(pub crypto.PublicKey) (string, error) {
	p, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:]), nil
}

// ParsePrivateKey reads a PEM private key (PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY").
func ParsePrivateKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("private key: no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("private key: encrypted PEM keys are not supported; decrypt it first (openssl pkcs8)")
	default:
		return nil, fmt.Errorf("private key: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if _, err := hashForCurve(k.Curve); err != nil {
			return nil, err
		}
		return k, nil
	case ed25519.PrivateKey:
		return nil, errEd25519
	default:
		return nil, fmt.Errorf("private key: %T keys are not supported (want ECDSA)", key)
	}
}

// ParsePublicKey reads a public key as PEM ("PUBLIC KEY") or bare PKIX DER.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("public key: unsupported PEM block %q (want PUBLIC KEY)", block.Type)
		}
		der = block.Bytes
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if _, err := hashForCurve(k.Curve); err != nil {
			return nil, err
		}
		return k, nil
	case ed25519.PublicKey:
		return nil, errEd25519
	default:
		return nil, fmt.Errorf("public key: %T keys are not supported (want ECDSA)", key)
	}
}

// hashForCurve is the digest the OpenSSF tool pairs with each curve.
func hashForCurve(c elliptic.Curve) (crypto.Hash, error) {
	switch c {
	case elliptic.P256():
		return crypto.SHA256, nil
	case elliptic.P384():
		return crypto.SHA384, nil
	case elliptic.P521():
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("elliptic curve %s is not supported (want P-256, P-384 or P-521)", c.Params().Name)
}
