package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
)

// fakeClock is an injected clock that tests move by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func initKeyring(t *testing.T, clock *fakeClock, opts ...Option) *Keyring {
	t.Helper()
	k, err := Init(t.Context(), filepath.Join(t.TempDir(), "keys"), clock.Now, opts...)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return k
}

func activeSigner(t *testing.T, k *Keyring) cavra.Signer {
	t.Helper()
	s, err := k.Active(t.Context())
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	return s
}

func TestInitCreatesOneActiveFileKey(t *testing.T) {
	clock := newClock()
	k := initKeyring(t, clock)
	keys := k.Keys()
	if len(keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(keys))
	}
	got := keys[0]
	if got.Status != cavra.KeyActive || got.Algorithm != AlgEd25519 || got.Custody != CustodyFile {
		t.Errorf("key = %+v, want an active ed25519 file key", got)
	}
	if !got.NotBefore.Equal(clock.now) {
		t.Errorf("NotBefore = %v, want %v", got.NotBefore, clock.now)
	}
	if !strings.HasPrefix(got.ID, DefaultName+"+") {
		t.Errorf("id %q does not start with %q", got.ID, DefaultName+"+")
	}
	entries, err := os.ReadDir(k.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".pem") && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	dirInfo, err := os.Stat(k.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if dirInfo.Mode().Perm() != 0o700 {
		t.Errorf("keys dir mode %v, want 0700", dirInfo.Mode().Perm())
	}
}

func TestInitIsIdempotentAndNeverReplacesKeys(t *testing.T) {
	clock := newClock()
	k := initKeyring(t, clock)
	first := k.Keys()
	clock.Advance(time.Hour)
	again, err := Init(t.Context(), k.Dir(), clock.Now)
	if err != nil {
		t.Fatalf("second Init: %v", err)
	}
	if got := again.Keys(); len(got) != 1 || got[0].ID != first[0].ID || !got[0].NotBefore.Equal(first[0].NotBefore) {
		t.Errorf("second Init changed the keyring: %+v, was %+v", got, first)
	}
}

func TestActiveSignerSignsVerifiably(t *testing.T) {
	k := initKeyring(t, newClock())
	s := activeSigner(t, k)
	info, err := k.ActiveInfo()
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != info.ID {
		t.Errorf("signer id %q, keyring id %q", s.KeyID(), info.ID)
	}
	msg := []byte("decision 42 allowed")
	sig, err := s.Sign(t.Context(), msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	pub, alg, err := ParsePublicKey(info.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifySignature(alg, pub, msg, sig) {
		t.Error("signature does not verify with the recorded public key")
	}
	if VerifySignature(alg, pub, []byte("decision 42 blocked"), sig) {
		t.Error("signature verifies over a different message")
	}
}

func TestRotateRetiresOldKey(t *testing.T) {
	clock := newClock()
	k := initKeyring(t, clock)
	old, _ := k.ActiveInfo()
	clock.Advance(24 * time.Hour)
	fresh, err := k.Rotate(t.Context())
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if fresh.ID == old.ID {
		t.Fatal("rotate kept the same key id")
	}
	reloaded, err := Load(t.Context(), k.Dir())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	keys := reloaded.Keys()
	if len(keys) != 2 {
		t.Fatalf("got %d keys after rotate, want 2", len(keys))
	}
	if keys[0].Status != cavra.KeyRetired || !keys[0].NotAfter.Equal(clock.now) {
		t.Errorf("old key = %+v, want retired with NotAfter %v", keys[0], clock.now)
	}
	if keys[1].Status != cavra.KeyActive || !keys[1].NotBefore.Equal(clock.now) {
		t.Errorf("new key = %+v, want active from %v", keys[1], clock.now)
	}
	if s := activeSigner(t, reloaded); s.KeyID() != fresh.ID {
		t.Errorf("active signer %q, want %q", s.KeyID(), fresh.ID)
	}
	if err := Valid(keys[0], clock.now.Add(time.Second)); err == nil {
		t.Error("retired key is valid after its window closed")
	}
	if err := Valid(keys[0], clock.now.Add(-time.Second)); err != nil {
		t.Errorf("retired key invalid inside its window: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name        string
		rotateFirst bool
		revokeAt    func(k cavra.KeyInfo) time.Time
		wantActive  bool // the revoked key was active: a replacement must exist
	}{
		{name: "retired key, explicit time", rotateFirst: true, revokeAt: func(k cavra.KeyInfo) time.Time { return k.NotBefore.Add(time.Hour) }},
		{name: "active key rotates first", revokeAt: func(cavra.KeyInfo) time.Time { return time.Time{} }, wantActive: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			k := initKeyring(t, clock)
			victim, _ := k.ActiveInfo()
			clock.Advance(time.Minute)
			if tc.rotateFirst {
				clock.Advance(2 * time.Hour)
				if _, err := k.Rotate(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			at := tc.revokeAt(victim)
			if err := k.Revoke(t.Context(), victim.ID, at); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if at.IsZero() {
				at = clock.now
			}
			reloaded, err := Load(t.Context(), k.Dir())
			if err != nil {
				t.Fatal(err)
			}
			var got cavra.KeyInfo
			for _, ki := range reloaded.Keys() {
				if ki.ID == victim.ID {
					got = ki
				}
			}
			if got.Status != cavra.KeyRevoked || !got.RevokedAt.Equal(at) {
				t.Fatalf("revoked key = %+v, want revoked at %v", got, at)
			}
			if err := Valid(got, at); err == nil {
				t.Error("key valid at its revocation time")
			}
			if err := Valid(got, at.Add(-time.Nanosecond)); err != nil {
				t.Errorf("key invalid just before its revocation: %v", err)
			}
			active, err := reloaded.ActiveInfo()
			if err != nil {
				t.Fatalf("no active key after revoke: %v", err)
			}
			if active.ID == victim.ID {
				t.Error("revoked key is still active")
			}
		})
	}
}

func TestRevokeOnlyMovesEarlier(t *testing.T) {
	clock := newClock()
	k := initKeyring(t, clock)
	victim, _ := k.ActiveInfo()
	early := clock.now.Add(time.Minute)
	if err := k.Revoke(t.Context(), victim.ID, early); err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(t.Context(), victim.ID, early.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, ki := range k.Keys() {
		if ki.ID == victim.ID && !ki.RevokedAt.Equal(early) {
			t.Errorf("RevokedAt = %v, want it kept at %v", ki.RevokedAt, early)
		}
	}
}

func TestRevokeUnknownKey(t *testing.T) {
	k := initKeyring(t, newClock())
	err := k.Revoke(t.Context(), "cavra.local/audit+00000000", time.Time{})
	if cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("Revoke unknown: err = %v (code %s), want not_found", err, cavra.Code(err))
	}
}

func TestLoadMissingKeyring(t *testing.T) {
	_, err := Load(t.Context(), t.TempDir())
	if cavra.Code(err) != cavra.ErrNotFound {
		t.Fatalf("err = %v, want not_found", err)
	}
}

func TestLoadRejectsBadKeyrings(t *testing.T) {
	clock := newClock()
	base := initKeyring(t, clock)
	good, err := os.ReadFile(filepath.Join(base.Dir(), keyringFileName))
	if err != nil {
		t.Fatal(err)
	}
	id := base.Keys()[0].ID
	tests := []struct {
		name    string
		edit    func(s string) string
		wantErr string
	}{
		{name: "not json", edit: func(string) string { return "{" }, wantErr: "parse keyring.json"},
		{name: "unknown field", edit: func(s string) string { return strings.Replace(s, `"version"`, `"extra": 1, "version"`, 1) }, wantErr: "unknown field"},
		{name: "wrong version", edit: func(s string) string { return strings.Replace(s, `"version": 1`, `"version": 9`, 1) }, wantErr: "version 9"},
		{name: "id does not match key", edit: func(s string) string { return strings.Replace(s, id, id[:len(id)-8]+"00000000", 1) }, wantErr: "does not match its public key"},
		{name: "unknown status", edit: func(s string) string { return strings.Replace(s, `"status": "active"`, `"status": "weird"`, 1) }, wantErr: "unknown status"},
		{name: "ref escapes dir", edit: func(s string) string { return strings.Replace(s, `"ref": "ed25519-`, `"ref": "../ed25519-`, 1) }, wantErr: "must be a file name"},
		{name: "bad algorithm", edit: func(s string) string {
			return strings.Replace(s, `"algorithm": "ed25519"`, `"algorithm": "ecdsa-p256-sha256"`, 1)
		}, wantErr: "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, keyringFileName), []byte(tc.edit(string(good))), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(t.Context(), dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load: err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestActiveDetectsSwappedKeyFile(t *testing.T) {
	k := initKeyring(t, newClock())
	info, _ := k.ActiveInfo()
	_, hash, _ := SplitKeyID(info.ID)
	path := filepath.Join(k.Dir(), "ed25519-"+hexHash(hash)+".pem")
	impostor, err := GenerateFileKey(DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := impostor.writePrivateKey(path); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Active(t.Context()); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("Active with a swapped key file: err = %v, want a mismatch error", err)
	}
}

func hexHash(h uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[h&0xf]
		h >>= 4
	}
	return string(b)
}

func TestAdoptExternalKey(t *testing.T) {
	clock := newClock()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	external, err := NewFileSigner(DefaultName, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	k := initKeyring(t, clock, WithOpener("test-hsm", func(_ context.Context, ref string) (cavra.Signer, error) {
		opened++
		if ref != "slot-7" {
			return nil, errors.New("wrong ref " + ref)
		}
		return external, nil
	}))
	clock.Advance(time.Hour)
	info, err := k.Adopt(t.Context(), external, "test-hsm", "slot-7")
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if info.Algorithm != AlgECDSAP256 || info.Custody != "test-hsm" {
		t.Errorf("adopted = %+v", info)
	}
	s := activeSigner(t, k)
	if opened != 1 || s.KeyID() != info.ID {
		t.Errorf("opened %d times, signer %q; want once, %q", opened, s.KeyID(), info.ID)
	}
	if _, err := k.Adopt(t.Context(), external, "test-hsm", "slot-7"); cavra.Code(err) != cavra.ErrConflict {
		t.Errorf("adopting the same key twice: err = %v, want conflict", err)
	}
	if _, err := k.Adopt(t.Context(), external, CustodyFile, "x"); cavra.Code(err) != cavra.ErrInvalid {
		t.Errorf("adopting as a file key: err = %v, want invalid", err)
	}
}

func TestNoteSignerAndVerifierRoundTrip(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := NewFileSigner("example.com/log", ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edSigner, err := GenerateFileKey("example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*FileSigner{edSigner, ecSigner} {
		t.Run(s.Algorithm(), func(t *testing.T) {
			ns, err := NoteSigner(t.Context(), s)
			if err != nil {
				t.Fatal(err)
			}
			text := "example.com/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
			msg, err := note.Sign(&note.Note{Text: text}, ns)
			if err != nil {
				t.Fatalf("note.Sign: %v", err)
			}
			der, _ := marshalPublic(s.Public())
			info := cavra.KeyInfo{ID: s.KeyID(), Algorithm: s.Algorithm(), PublicKey: der, Status: cavra.KeyActive}
			v, err := NoteVerifier(info)
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Open(msg, note.VerifierList(v))
			if err != nil {
				t.Fatalf("note.Open: %v", err)
			}
			if n.Text != text || len(n.Sigs) != 1 || n.Sigs[0].Hash != v.KeyHash() {
				t.Errorf("opened note = %+v", n)
			}
			forged := []byte(strings.Replace(string(msg), "\n7\n", "\n8\n", 1))
			if _, err := note.Open(forged, note.VerifierList(v)); err == nil {
				t.Error("a note with an altered tree size verified")
			}
		})
	}
}

// TestNoteKeysInteroperate checks our key hashes and signatures against independent
// implementations: x/mod's Ed25519 note keys (type 0x01) and transparency-dev/formats' ECDSA
// verifier (type 0x02), so CAVRA checkpoints verify with standard tooling.
func TestNoteKeysInteroperate(t *testing.T) {
	const name = "example.com/log"
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := NewFileSigner(name, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edSigner, err := GenerateFileKey(name)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := marshalPublic(ecSigner.Public())
	_, ecHash, _ := SplitKeyID(ecSigner.KeyID())
	ecVKey := name + "+" + hexHash(ecHash) + "+" + base64.StdEncoding.EncodeToString(append([]byte{noteTypeECDSA}, ecDER...))
	ecVerifier, err := fnote.NewECDSAVerifier(ecVKey)
	if err != nil {
		t.Fatalf("formats/note rejects our ECDSA key hash: %v", err)
	}
	edVKey, err := note.NewEd25519VerifierKey(name, edSigner.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	edVerifier, err := note.NewVerifier(edVKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		signer   *FileSigner
		verifier note.Verifier
	}{
		{name: "ed25519", signer: edSigner, verifier: edVerifier},
		{name: "ecdsa", signer: ecSigner, verifier: ecVerifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, err := NoteSigner(t.Context(), tc.signer)
			if err != nil {
				t.Fatal(err)
			}
			if ns.KeyHash() != tc.verifier.KeyHash() {
				t.Fatalf("key hash %08x, reference %08x", ns.KeyHash(), tc.verifier.KeyHash())
			}
			msg, err := note.Sign(&note.Note{Text: "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, ns)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := note.Open(msg, note.VerifierList(tc.verifier)); err != nil {
				t.Fatalf("reference verifier rejects our note: %v", err)
			}
		})
	}
}

func TestKeyIDScheme(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		wantErr bool
	}{
		{name: "ok", id: "cavra.local/audit+0a1b2c3d"},
		{name: "no hash", id: "cavra.local/audit", wantErr: true},
		{name: "short hash", id: "cavra.local/audit+0a1b", wantErr: true},
		{name: "non-hex hash", id: "cavra.local/audit+0a1b2c3z", wantErr: true},
		{name: "space in name", id: "cavra local+0a1b2c3d", wantErr: true},
		{name: "empty name", id: "+0a1b2c3d", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := SplitKeyID(tc.id)
			if (err != nil) != tc.wantErr {
				t.Fatalf("SplitKeyID(%q) err = %v, wantErr %v", tc.id, err, tc.wantErr)
			}
		})
	}
}

// TestConcurrentRotationsLoseNoKeys rotates from two keyring handles (as two processes would)
// at once: the lock and re-read must keep every key, with exactly one active.
func TestConcurrentRotationsLoseNoKeys(t *testing.T) {
	clock := newClock()
	first := initKeyring(t, clock)
	second, err := Load(t.Context(), first.Dir())
	if err != nil {
		t.Fatal(err)
	}
	const perHandle = 10
	errs := make(chan error, 2*perHandle)
	done := make(chan struct{})
	for _, k := range []*Keyring{first, second} {
		go func() {
			defer func() { done <- struct{}{} }()
			for range perHandle {
				_, err := k.Rotate(t.Context())
				errs <- err
			}
		}()
	}
	<-done
	<-done
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
	}
	final, err := Load(t.Context(), first.Dir())
	if err != nil {
		t.Fatal(err)
	}
	keys := final.Keys()
	if len(keys) != 1+2*perHandle {
		t.Fatalf("got %d keys, want %d", len(keys), 1+2*perHandle)
	}
	active := 0
	for _, k := range keys {
		if k.Status == cavra.KeyActive {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d active keys, want 1", active)
	}
}
