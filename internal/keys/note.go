package keys

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
)

// NoteSigner adapts s to sign C2SP signed notes (checkpoints). The note key name and hash come
// from s.KeyID, which must follow the scheme in the package doc; ctx bounds every signature the
// adapter makes, because note.Signer has no context of its own.
func NoteSigner(ctx context.Context, s cavra.Signer) (note.Signer, error) {
	name, hash, err := SplitKeyID(s.KeyID())
	if err != nil {
		return nil, fmt.Errorf("note signer: %w", err)
	}
	want, err := KeyHash(name, s.Public())
	if err != nil {
		return nil, fmt.Errorf("note signer: %w", err)
	}
	if want != hash {
		return nil, fmt.Errorf("note signer: key id %s does not match the signer's public key (hash %08x)", s.KeyID(), want)
	}
	return &noteSigner{ctx: ctx, s: s, name: name, hash: hash}, nil
}

type noteSigner struct {
	ctx  context.Context
	s    cavra.Signer
	name string
	hash uint32
}

func (n *noteSigner) Name() string                    { return n.name }
func (n *noteSigner) KeyHash() uint32                 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) { return n.s.Sign(n.ctx, msg) }

// NoteVerifier verifies signed-note signatures made by the key info describes. It checks only
// the signature: validity windows and revocation are the caller's to judge (see Valid).
func NoteVerifier(info cavra.KeyInfo) (note.Verifier, error) {
	if err := checkInfo(info); err != nil {
		return nil, fmt.Errorf("note verifier: %w", err)
	}
	pub, alg, err := ParsePublicKey(info.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("note verifier: %w", err)
	}
	name, hash, err := SplitKeyID(info.ID)
	if err != nil {
		return nil, fmt.Errorf("note verifier: %w", err)
	}
	return &noteVerifier{name: name, hash: hash, verify: func(msg, sig []byte) bool {
		return VerifySignature(alg, pub, msg, sig)
	}}, nil
}

// NoteVerifiers builds a verifier list over every key in infos, for note.Open.
func NoteVerifiers(infos []cavra.KeyInfo) (note.Verifiers, error) {
	vs := make([]note.Verifier, 0, len(infos))
	for _, info := range infos {
		v, err := NoteVerifier(info)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

type noteVerifier struct {
	name   string
	hash   uint32
	verify func(msg, sig []byte) bool
}

func (v *noteVerifier) Name() string                { return v.name }
func (v *noteVerifier) KeyHash() uint32             { return v.hash }
func (v *noteVerifier) Verify(msg, sig []byte) bool { return v.verify(msg, sig) }
