package keys

import (
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys/keystest"
)

func TestAWSKMSAgainstLocalKMS(t *testing.T) {
	keystest.StartLocalKMS(t)
	ctx := t.Context()
	const ref = "awskms:///alias/cavra-audit"

	if _, err := OpenKMS(ctx, ref); err == nil {
		t.Fatal("opened a KMS alias that does not exist yet")
	}
	created, err := CreateKMSKey(ctx, ref, DefaultName)
	if err != nil {
		t.Fatalf("CreateKMSKey: %v", err)
	}
	if created.Algorithm() != AlgECDSAP256 {
		t.Errorf("algorithm %q, want %q", created.Algorithm(), AlgECDSAP256)
	}
	again, err := CreateKMSKey(ctx, ref, DefaultName)
	if err != nil || again.KeyID() != created.KeyID() {
		t.Fatalf("CreateKMSKey on an existing alias: %v, id %s want %s (must open, not replace)", err, again.KeyID(), created.KeyID())
	}

	msg := []byte("cavra.local/audit\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	sig, err := created.Sign(ctx, msg)
	if err != nil {
		t.Fatalf("Sign through KMS: %v", err)
	}
	if !VerifySignature(AlgECDSAP256, created.Public(), msg, sig) {
		t.Fatal("KMS signature does not verify")
	}

	k := initKeyring(t, newClock())
	info, err := k.Adopt(ctx, created, CustodyKMS, created.Ref())
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	reloaded, err := Load(ctx, k.Dir())
	if err != nil {
		t.Fatal(err)
	}
	s := activeSigner(t, reloaded)
	if s.KeyID() != info.ID {
		t.Fatalf("active %s, want %s", s.KeyID(), info.ID)
	}
	ns, err := NoteSigner(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(msg)}, ns)
	if err != nil {
		t.Fatalf("sign a checkpoint through KMS: %v", err)
	}
	v, err := NoteVerifier(cavra.KeyInfo{ID: info.ID, Algorithm: info.Algorithm, PublicKey: info.PublicKey, Status: cavra.KeyActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Errorf("KMS-signed checkpoint does not verify: %v", err)
	}
}
