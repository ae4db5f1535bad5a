package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

// FuzzVerify feeds arbitrary bytes to the envelope parser and verifier: it must never panic,
// and whatever it accepts must carry a decision and the fingerprint subject it promises.
func FuzzVerify(f *testing.F) {
	s, err := keys.NewFileSigner("cavra-test", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		f.Fatal(err)
	}
	trusted := []cavra.KeyInfo{{ID: s.KeyID(), Algorithm: s.Algorithm(), PublicKey: der, Status: cavra.KeyActive}}
	// The seed corpus lives in testdata/fuzz/FuzzVerify, including a genuine envelope.
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Verify(data, trusted, epoch)
		if err != nil {
			return
		}
		if v.KeyID != s.KeyID() || v.Predicate.Decision.ID == "" || !v.Predicate.Decision.Outcome.Valid() || v.SignedAt.After(epoch) {
			t.Fatalf("accepted an envelope with %+v", v)
		}
		bound := false
		for _, sub := range v.Subjects {
			bound = bound || (sub.Name == ActionSubject && "sha256:"+sub.Digest["sha256"] == v.Predicate.Fingerprint)
		}
		if !bound {
			t.Fatalf("accepted an envelope without its fingerprint subject: %+v", v.Subjects)
		}
	})
}
