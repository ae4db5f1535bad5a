package keys

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature/kms"
	// AWS KMS (awskms://) is linked in: its provider registers itself with sigstore's kms
	// package on import. It honours the AWS SDK's usual configuration, including
	// AWS_ENDPOINT_URL for a KMS-compatible endpoint such as local-kms in tests.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/cavra-dev/cavra"
)

// KMSSigner signs through sigstore's kms package. Reachable key references are awskms://
// (AWS KMS, linked in) and sigstore-kms-<name> plugin programs on PATH; the gcpkms://,
// azurekms:// and hashivault:// providers are separate modules that are not linked in.
type KMSSigner struct {
	ref string
	id  string
	alg string
	pub crypto.PublicKey
	sv  kms.SignerVerifier
}

var _ cavra.Signer = (*KMSSigner)(nil)

// OpenKMS opens the KMS key ref under the default note key name.
func OpenKMS(ctx context.Context, ref string) (*KMSSigner, error) {
	return OpenKMSNamed(ctx, ref, DefaultName)
}

// OpenKMSNamed opens the KMS key ref, naming it under the note key name. The key must be ECDSA
// P-256 (ecdsa-p256-sha256) or Ed25519. A provider registers itself with sigstore's kms
// package when its package is imported; without one, sigstore looks for a plugin program.
func OpenKMSNamed(ctx context.Context, ref, name string) (*KMSSigner, error) {
	sv, err := kms.Get(ctx, ref, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("kms: open %s: %w", ref, err)
	}
	pub, err := sv.PublicKey(sigopts.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("kms: public key of %s: %w", ref, err)
	}
	alg, err := AlgorithmOf(pub)
	if err != nil {
		return nil, fmt.Errorf("kms: key %s: %w", ref, err)
	}
	id, err := KeyID(name, pub)
	if err != nil {
		return nil, fmt.Errorf("kms: key %s: %w", ref, err)
	}
	return &KMSSigner{ref: ref, id: id, alg: alg, pub: pub, sv: sv}, nil
}

// CreateKMSKey creates a P-256 signing key behind ref (an alias reference such as
// awskms:///alias/cavra-audit) if there is none, and opens it. An existing key is opened, never
// replaced.
func CreateKMSKey(ctx context.Context, ref, name string) (*KMSSigner, error) {
	sv, err := kms.Get(ctx, ref, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("kms: open %s: %w", ref, err)
	}
	alg := sv.DefaultAlgorithm()
	for _, a := range sv.SupportedAlgorithms() {
		norm := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(a))
		if strings.Contains(norm, "p256") {
			alg = a
			break
		}
	}
	if _, err := sv.CreateKey(ctx, alg); err != nil {
		return nil, fmt.Errorf("kms: create %s key %s: %w", alg, ref, err)
	}
	return OpenKMSNamed(ctx, ref, name)
}

// Ref is the key reference the signer was opened with, as the keyring stores it.
func (s *KMSSigner) Ref() string { return s.ref }

// KeyID implements cavra.Signer.
func (s *KMSSigner) KeyID() string { return s.id }

// Algorithm implements cavra.Signer.
func (s *KMSSigner) Algorithm() string { return s.alg }

// Public implements cavra.Signer.
func (s *KMSSigner) Public() crypto.PublicKey { return s.pub }

// Sign implements cavra.Signer. The KMS hashes msg with SHA-256 for ECDSA keys (returning an
// ASN.1 signature) and signs the message itself for Ed25519 keys.
func (s *KMSSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(msg), sigopts.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("kms: sign with %s: %w", s.ref, err)
	}
	if !VerifySignature(s.alg, s.pub, msg, sig) {
		// A KMS that answers with a signature its own public key rejects (wrong hash, raw
		// r||s) must not get evidence signed.
		return nil, fmt.Errorf("kms: signature from %s does not verify with its public key", s.ref)
	}
	return sig, nil
}
