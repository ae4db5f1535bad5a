package modelsign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Sign hashes the model directory dir and signs it with signer, whose public key must be an
// ECDSA P-256/P-384/P-521 key. Any crypto.Signer works (a file key, an HSM, a KMS), as long as
// it returns ASN.1 DER signatures as crypto/ecdsa does.
func Sign(ctx context.Context, dir string, signer crypto.Signer, opts HashOptions) (*Bundle, *Manifest, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("signing key is %T: OpenSSF model signing needs an ECDSA key", signer.Public())
	}
	hash, err := hashForCurve(pub.Curve)
	if err != nil {
		return nil, nil, err
	}
	m, err := HashDir(ctx, dir, opts)
	if err != nil {
		return nil, nil, err
	}
	st, err := NewStatement(m)
	if err != nil {
		return nil, nil, err
	}
	payload, err := st.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("encode statement: %w", err)
	}
	h := hash.New()
	h.Write(dsse.PAE(PayloadType, payload))
	sig, err := signer.Sign(rand.Reader, h.Sum(nil), hash)
	if err != nil {
		return nil, nil, fmt.Errorf("sign statement: %w", err)
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, nil, err
	}
	b := &Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: VerificationMaterial{PublicKey: &PublicKeyIdentifier{Hint: hint}},
		DSSEEnvelope: &Envelope{
			Payload:     payload,
			PayloadType: PayloadType,
			Signatures:  []Signature{{Sig: sig}},
		},
	}
	return b, m, nil
}

// ErrVerification wraps every reason a model does not match its signature: a bad or foreign
// signature, a malformed bundle, changed, missing or extra files. Other errors are I/O errors.
var ErrVerification = errors.New("model verification failed")

// MismatchError lists how the model on disk differs from the signed manifest.
type MismatchError struct {
	Changed []string // signed and present, different digest
	Missing []string // signed, absent on disk
	Extra   []string // on disk, not signed
}

func (e *MismatchError) Error() string {
	var parts []string
	for _, c := range []struct {
		what  string
		names []string
	}{{"changed", e.Changed}, {"missing", e.Missing}, {"not signed", e.Extra}} {
		if len(c.names) == 0 {
			continue
		}
		shown := c.names[:min(len(c.names), 10)]
		s := c.what + ": " + strings.Join(shown, ", ")
		if rest := len(c.names) - len(shown); rest > 0 {
			s += fmt.Sprintf(" and %d more", rest)
		}
		parts = append(parts, s)
	}
	return "model does not match its signature (" + strings.Join(parts, "; ") + ")"
}

// Unwrap makes a mismatch an ErrVerification.
func (e *MismatchError) Unwrap() error { return ErrVerification }

// VerifyOptions are the verifier's own settings; the rest comes from the signed serialization.
type VerifyOptions struct {
	// IgnorePaths are left out in addition to those the signature records (e.g. the signature
	// file itself, when it lives inside the model directory).
	IgnorePaths []string
	// IgnoreGitPaths adds GitPaths, as the OpenSSF verifier does by default.
	IgnoreGitPaths bool
	Workers        int
	// Logger receives warnings (a bundle without a key hint); nil discards them.
	Logger *slog.Logger
}

// Result describes a verified model.
type Result struct {
	ModelName     string
	RootDigest    string
	KeyHint       string
	Serialization Serialization
	Resources     int
	Bytes         int64
}

// Verify checks that bundle is a valid signature by pub over the model directory dir.
func Verify(ctx context.Context, dir string, bundle []byte, pub *ecdsa.PublicKey, opts VerifyOptions) (*Result, error) {
	fail := func(err error) error { return fmt.Errorf("%w: %w", ErrVerification, err) }
	b, err := ParseBundle(bundle)
	if err != nil {
		return nil, fail(err)
	}
	hash, err := hashForCurve(pub.Curve)
	if err != nil {
		return nil, err
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	if pk := b.VerificationMaterial.PublicKey; pk != nil && pk.Hint != "" {
		if pk.Hint != hint {
			return nil, fail(fmt.Errorf("bundle names key %s but the public key given is %s", pk.Hint, hint))
		}
	} else if opts.Logger != nil {
		opts.Logger.WarnContext(ctx, "model signature carries no public key hint (older signer); checking the signature with the given key")
	}
	env := b.DSSEEnvelope
	h := hash.New()
	h.Write(dsse.PAE(env.PayloadType, env.Payload))
	if !ecdsa.VerifyASN1(pub, h.Sum(nil), env.Signatures[0].Sig) {
		return nil, fail(errors.New("signature does not verify with the given public key"))
	}
	want, err := ParseStatement(env.Payload)
	if err != nil {
		return nil, fail(err)
	}

	ignores := slices.Clone(opts.IgnorePaths)
	for _, p := range want.Serialization.IgnorePaths {
		if _, err := cleanIgnorePath("/", p); err != nil || strings.HasPrefix(p, "/") {
			return nil, fail(fmt.Errorf("signed ignore path %q is not a relative path inside the model", p))
		}
		ignores = append(ignores, p)
	}
	hopts := HashOptions{IgnorePaths: ignores, IgnoreGitPaths: opts.IgnoreGitPaths, Workers: opts.Workers}
	if want.Serialization.Method == MethodShards {
		hopts.ShardSize = want.Serialization.ShardSize
	}
	got, err := HashDir(ctx, dir, hopts)
	switch {
	case errors.Is(err, ErrModelContent) && len(want.Resources) > 0:
		return nil, fail(err)
	case err != nil && !errors.Is(err, ErrModelContent):
		return nil, err
	case err != nil:
		got = &Manifest{}
	}
	if mm := compareManifests(want, got); mm != nil {
		return nil, mm
	}
	root, err := want.RootDigest()
	if err != nil {
		return nil, fail(err)
	}
	return &Result{
		ModelName:     want.ModelName,
		RootDigest:    root,
		KeyHint:       hint,
		Serialization: want.Serialization,
		Resources:     len(want.Resources),
		Bytes:         got.Bytes,
	}, nil
}

func compareManifests(want, got *Manifest) *MismatchError {
	signed := make(map[string]string, len(want.Resources))
	for _, r := range want.Resources {
		signed[r.Name] = r.Digest
	}
	var mm MismatchError
	for _, r := range got.Resources {
		d, ok := signed[r.Name]
		switch {
		case !ok:
			mm.Extra = append(mm.Extra, r.Name)
		case d != r.Digest:
			mm.Changed = append(mm.Changed, r.Name)
		}
		delete(signed, r.Name)
	}
	for name := range signed {
		mm.Missing = append(mm.Missing, name)
	}
	if len(mm.Changed)+len(mm.Missing)+len(mm.Extra) == 0 {
		return nil
	}
	slices.Sort(mm.Changed)
	slices.Sort(mm.Missing)
	slices.Sort(mm.Extra)
	return &mm
}
