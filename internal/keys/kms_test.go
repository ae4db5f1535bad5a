package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature/kms/fake"
	"golang.org/x/mod/sumdb/note"
)

// kmsContext hands sigstore's in-memory fake KMS provider (fakekms://) the key it should hold.
func kmsContext(t *testing.T, key crypto.PrivateKey) context.Context {
	t.Helper()
	return context.WithValue(t.Context(), fake.KmsCtxKey{}, key)
}

func TestKMSSignerThroughSigstore(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kmsContext(t, ecKey)
	s, err := OpenKMS(ctx, fake.ReferenceScheme+"audit-key")
	if err != nil {
		t.Fatalf("OpenKMS: %v", err)
	}
	if s.Algorithm() != AlgECDSAP256 {
		t.Errorf("algorithm %q", s.Algorithm())
	}
	want, _ := KeyID(DefaultName, &ecKey.PublicKey)
	if s.KeyID() != want {
		t.Errorf("key id %q, want %q", s.KeyID(), want)
	}
	msg := []byte("bundle statement")
	sig, err := s.Sign(ctx, msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !VerifySignature(AlgECDSAP256, &ecKey.PublicKey, msg, sig) {
		t.Error("KMS signature does not verify with the key's public half")
	}
	ns, err := NoteSigner(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Sign(&note.Note{Text: "cavra.local/audit\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, ns); err != nil {
		t.Errorf("sign a checkpoint through KMS: %v", err)
	}
}

func TestKMSErrors(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ctx  context.Context
		ref  string
	}{
		{name: "unknown provider", ctx: t.Context(), ref: "nosuchkms://key"},
		{name: "rsa key refused", ctx: kmsContext(t, rsaKey), ref: fake.ReferenceScheme + "rsa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := OpenKMS(tc.ctx, tc.ref); err == nil {
				t.Fatal("OpenKMS succeeded")
			}
		})
	}
}

func TestKeyringAdoptsKMSKey(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kmsContext(t, ecKey)
	k := initKeyring(t, newClock())
	ref := fake.ReferenceScheme + "audit"
	s, err := OpenKMSNamed(ctx, ref, k.Name())
	if err != nil {
		t.Fatal(err)
	}
	info, err := k.Adopt(ctx, s, CustodyKMS, s.Ref())
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	reloaded, err := Load(ctx, k.Dir())
	if err != nil {
		t.Fatal(err)
	}
	active, err := reloaded.Active(ctx)
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	if active.KeyID() != info.ID {
		t.Errorf("active %q, want %q", active.KeyID(), info.ID)
	}
	// A different key behind the same reference must be refused, not used.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := reloaded.Active(kmsContext(t, other)); err == nil {
		t.Error("Active accepted a KMS key that differs from the recorded one")
	}
}
