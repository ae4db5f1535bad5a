package modelsign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// BundleMediaType is the Sigstore bundle version the OpenSSF tool writes and requires for
// key-signed models.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// MaxBundleSize bounds what ParseBundle reads. A bundle lists one digest per file or shard, so
// even a model of a million shards stays well below it.
const MaxBundleSize = 256 << 20

// Bundle is the Sigstore bundle (protobuf-specs JSON field names) holding a model signature.
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         *Envelope            `json:"dsseEnvelope,omitempty"`
	// MessageSignature is present in bundles that sign a bare digest; model signatures never do.
	MessageSignature json.RawMessage `json:"messageSignature,omitempty"`
}

// VerificationMaterial says which key or certificate verifies the bundle. A key-signed model
// carries only publicKey.hint: the verifier brings the key itself.
type VerificationMaterial struct {
	PublicKey                 *PublicKeyIdentifier `json:"publicKey,omitempty"`
	Certificate               json.RawMessage      `json:"certificate,omitempty"`
	X509CertificateChain      json.RawMessage      `json:"x509CertificateChain,omitempty"`
	TlogEntries               []json.RawMessage    `json:"tlogEntries"`
	TimestampVerificationData json.RawMessage      `json:"timestampVerificationData,omitempty"`
}

// PublicKeyIdentifier names the signing key: the OpenSSF tool puts the lower-case hex SHA-256 of
// the key's PEM (SubjectPublicKeyInfo) encoding in Hint.
type PublicKeyIdentifier struct {
	Hint string `json:"hint,omitempty"`
}

// Envelope is a DSSE envelope. encoding/json writes []byte as standard padded base64, which is
// what protobuf JSON uses for bytes fields.
type Envelope struct {
	Payload     []byte      `json:"payload"`
	PayloadType string      `json:"payloadType"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature: ASN.1 DER for ECDSA. keyid is always written, empty, as the
// OpenSSF tool writes it, so its reader sees exactly the shape it produces itself.
type Signature struct {
	Sig   []byte `json:"sig"`
	KeyID string `json:"keyid"`
}

// ErrInvalidBundle wraps every reason ParseBundle refuses its input.
var ErrInvalidBundle = errors.New("invalid model signature bundle")

// ParseBundle decodes and checks the shape of a key-signed model signature bundle. It does not
// verify the signature.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes is larger than the %d byte limit", ErrInvalidBundle, len(data), MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the bundle", ErrInvalidBundle)
	}
	if b.MediaType != BundleMediaType {
		return nil, fmt.Errorf("%w: media type %q, want %q", ErrInvalidBundle, b.MediaType, BundleMediaType)
	}
	if len(b.MessageSignature) > 0 {
		return nil, fmt.Errorf("%w: bundle holds a message signature, not a DSSE envelope", ErrInvalidBundle)
	}
	env := b.DSSEEnvelope
	if env == nil {
		return nil, fmt.Errorf("%w: no dsseEnvelope", ErrInvalidBundle)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrInvalidBundle, env.PayloadType, PayloadType)
	}
	if len(env.Payload) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrInvalidBundle)
	}
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures, want exactly one", ErrInvalidBundle, len(env.Signatures))
	}
	if len(env.Signatures[0].Sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrInvalidBundle)
	}
	return &b, nil
}

// Marshal encodes the bundle as indented JSON with a final newline.
func (b *Bundle) Marshal() ([]byte, error) {
	if b.VerificationMaterial.TlogEntries == nil {
		b.VerificationMaterial.TlogEntries = []json.RawMessage{}
	}
	out, err := marshalJSON(b, "  ")
	if err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return append(out, '\n'), nil
}
