package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/cavra-dev/cavra"
)

const pemTypePrivateKey = "PRIVATE KEY"

// FileSigner signs with a private key held in process memory, loaded from (or generated into) a
// PKCS#8 PEM file. It is the default custody: simple, and as safe as the file's permissions.
type FileSigner struct {
	id   string
	alg  string
	priv crypto.Signer
}

var _ cavra.Signer = (*FileSigner)(nil)

// GenerateFileKey makes a new Ed25519 key named under the note key name.
func GenerateFileKey(name string) (*FileSigner, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return NewFileSigner(name, priv)
}

// NewFileSigner wraps an in-memory Ed25519 or ECDSA P-256 private key.
func NewFileSigner(name string, priv crypto.Signer) (*FileSigner, error) {
	alg, err := AlgorithmOf(priv.Public())
	if err != nil {
		return nil, err
	}
	id, err := KeyID(name, priv.Public())
	if err != nil {
		return nil, err
	}
	return &FileSigner{id: id, alg: alg, priv: priv}, nil
}

// KeyID implements cavra.Signer.
func (s *FileSigner) KeyID() string { return s.id }

// Algorithm implements cavra.Signer.
func (s *FileSigner) Algorithm() string { return s.alg }

// Public implements cavra.Signer.
func (s *FileSigner) Public() crypto.PublicKey { return s.priv.Public() }

// Sign implements cavra.Signer: Ed25519 over msg, or ASN.1 ECDSA over SHA-256(msg).
func (s *FileSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch k := s.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			return nil, fmt.Errorf("ecdsa sign: %w", err)
		}
		return sig, nil
	default:
		return nil, fmt.Errorf("sign: unsupported private key type %T", s.priv)
	}
}

// writePrivateKey writes the key as PKCS#8 PEM, mode 0600, failing if the file exists: a key
// file is never overwritten.
func (s *FileSigner) writePrivateKey(path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: pemTypePrivateKey, Bytes: der}); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close key file %s: %w", path, err)
	}
	return nil
}

// LoadFileSigner reads a PKCS#8 PEM private key file.
func LoadFileSigner(name, path string) (*FileSigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return parseFileSigner(name, data)
}

func parseFileSigner(name string, data []byte) (*FileSigner, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemTypePrivateKey {
		return nil, errors.New("key file holds no PEM \"PRIVATE KEY\" block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key type %T cannot sign", key)
	}
	return NewFileSigner(name, priv)
}
