package bundle

import (
	"crypto/ed25519"
	"crypto/x509"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

func TestBuildRejectsMissingInput(t *testing.T) {
	signer, err := keys.NewFileSigner(keys.DefaultName, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		signer cavra.Signer
		in     Input
	}{
		{name: "no signer", in: Input{Entries: []Entry{{Record: []byte("{}")}}}},
		{name: "no entries", signer: signer},
		{name: "no checkpoint", signer: signer, in: Input{Entries: []Entry{{Record: []byte("{}")}}, TreeSize: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Build(t.Context(), tc.signer, tc.in); err == nil {
				t.Fatal("Build succeeded")
			}
		})
	}
}

func TestKeyFromInfoKeepsEveryField(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	info := cavra.KeyInfo{ID: "n+01020304", Algorithm: keys.AlgEd25519, PublicKey: der, Status: cavra.KeyRevoked,
		NotBefore: at, NotAfter: at.Add(time.Hour), RevokedAt: at.Add(time.Minute), Custody: keys.CustodyPKCS11}
	k := KeyFromInfo(info)
	if k.ID != info.ID || k.Algorithm != info.Algorithm || string(k.PublicKey) != string(der) || k.Status != "revoked" ||
		!k.NotBefore.Equal(at) || !k.NotAfter.Equal(info.NotAfter) || !k.RevokedAt.Equal(info.RevokedAt) || k.Custody != "pkcs11" {
		t.Errorf("KeyFromInfo(%+v) = %+v", info, k)
	}
}
