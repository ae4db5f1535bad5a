package attest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// epoch is the injected clock of these tests.
var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// seededSigner is a file signer from a fixed seed, so envelopes are byte-for-byte repeatable
// (Ed25519 signatures are deterministic).
func seededSigner(t *testing.T, name string, seed byte) *keys.FileSigner {
	t.Helper()
	s, err := keys.NewFileSigner(name, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func infoOf(t *testing.T, s cavra.Signer, notBefore time.Time) cavra.KeyInfo {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return cavra.KeyInfo{ID: s.KeyID(), Algorithm: s.Algorithm(), PublicKey: der, Status: cavra.KeyActive, NotBefore: notBefore}
}

func sampleStatement() Statement {
	a := cavra.Action{
		Version: cavra.TaxonomyVersion, Kind: cavra.KindFileWrite, Effect: cavra.EffectWrite, Cwd: "/repo",
		Principal: "alice@example.com", Tenant: "default", Workspace: "default",
		Source: cavra.Source{Host: "claude-code", Tool: "Write", Event: "PreToolUse", SessionID: "8c35"},
		Files:  []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/payments/charge.go", Raw: "payments/charge.go", Content: "package payments\n"}},
	}
	return Statement{
		Action: a,
		Decision: cavra.Decision{ID: "0193a1b2-0000-7000-8000-000000000001", Outcome: cavra.AllowWithAttestation,
			RuleID: "regulated.code-change-attested", Severity: cavra.SeverityMedium, Policy: "regulated",
			PolicyRevision: "sha256:" + strings.Repeat("ab", 32)},
		AuditIndex: 41,
		SignedAt:   epoch,
	}
}

func build(t *testing.T, s cavra.Signer, st Statement) []byte {
	t.Helper()
	env, err := Build(context.Background(), s, st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestBuildGolden(t *testing.T) {
	env := build(t, seededSigner(t, "cavra-test", 7), sampleStatement())
	golden := filepath.Join("testdata", "action.dsse.json")
	if *update {
		if err := os.WriteFile(golden, env, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env, want) {
		t.Fatalf("envelope differs from %s (run with -update if the change is meant):\n%s", golden, env)
	}
}

func TestRoundTrip(t *testing.T) {
	ed := seededSigner(t, "cavra-test", 7)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := keys.NewFileSigner("cavra-ec", ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []cavra.Signer{ed, ec} {
		t.Run(s.Algorithm(), func(t *testing.T) {
			st := sampleStatement()
			v, err := Verify(build(t, s, st), []cavra.KeyInfo{infoOf(t, s, epoch.Add(-time.Hour))}, epoch.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if v.KeyID != s.KeyID() || !v.SignedAt.Equal(epoch) || v.AuditIndex() != 41 {
				t.Fatalf("verified %+v", v)
			}
			p := v.Predicate
			if p.Decision.ID != st.Decision.ID || p.Decision.RuleID != "regulated.code-change-attested" || p.Decision.Policy != "regulated" ||
				p.Decision.PolicyRevision != st.Decision.PolicyRevision || p.Decision.Outcome != cavra.AllowWithAttestation ||
				p.Fingerprint != st.Action.Fingerprint() || p.Actor != "alice@example.com" || p.Host != "claude-code" || p.Tool != "Write" {
				t.Fatalf("predicate %+v", p)
			}
			want := map[string]string{
				"/repo/payments/charge.go": sha256Hex([]byte("package payments\n")),
				ActionSubject:              strings.TrimPrefix(st.Action.Fingerprint(), "sha256:"),
			}
			if len(v.Subjects) != len(want) {
				t.Fatalf("subjects %+v", v.Subjects)
			}
			for _, sub := range v.Subjects {
				if sub.Digest["sha256"] != want[sub.Name] {
					t.Errorf("subject %s = %v, want sha256 %s", sub.Name, sub.Digest, want[sub.Name])
				}
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	cmd := cavra.Action{Kind: cavra.KindCommandExec, Command: &cavra.Command{Line: "git push origin main"}}
	subs := SubjectsOf(cmd)
	if len(subs) != 2 || subs[0].Name != CommandSubject || subs[0].Digest["sha256"] != sha256Hex([]byte("git push origin main")) || subs[1].Name != ActionSubject {
		t.Fatalf("command subjects %+v", subs)
	}
	del := cavra.Action{Kind: cavra.KindFileDelete, Files: []cavra.FileOp{{Op: cavra.FileDelete, Path: "/repo/payments/x.go"}}}
	if subs := SubjectsOf(del); len(subs) != 1 || subs[0].Name != ActionSubject {
		t.Fatalf("a delete writes no content; subjects %+v", subs)
	}

	sha1ID, sha256ID := strings.Repeat("a1", 20), strings.Repeat("b2", 32)
	subs, err := CommitSubjects([]string{strings.ToUpper(sha1ID), sha256ID})
	if err != nil {
		t.Fatal(err)
	}
	if subs[0].Digest["gitCommit"] != sha1ID || subs[0].Name != CommitSubjectPrefix+sha1ID || subs[1].Digest["sha256"] != sha256ID {
		t.Fatalf("commit subjects %+v", subs)
	}
	for _, bad := range []string{"", "HEAD", strings.Repeat("a", 39), strings.Repeat("z", 40)} {
		if _, err := CommitSubjects([]string{bad}); cavra.Code(err) != cavra.ErrInvalid {
			t.Errorf("commit id %q: err %v, want invalid", bad, err)
		}
	}

	// Commit subjects replace the derived ones, and the fingerprint is still bound.
	st := sampleStatement()
	st.Subjects = subs
	s := seededSigner(t, "cavra-test", 7)
	v, err := Verify(build(t, s, st), []cavra.KeyInfo{infoOf(t, s, epoch.Add(-time.Hour))}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Subjects) != 3 || v.Subjects[2].Name != ActionSubject {
		t.Fatalf("subjects %+v", v.Subjects)
	}
}

// tamper decodes the envelope, lets change edit it, and encodes it again.
func tamper(t *testing.T, env []byte, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func editPayload(t *testing.T, edit func(string) string) func(map[string]any) {
	t.Helper()
	return func(m map[string]any) {
		p, err := base64.StdEncoding.DecodeString(m["payload"].(string))
		if err != nil {
			t.Fatal(err)
		}
		m["payload"] = base64.StdEncoding.EncodeToString([]byte(edit(string(p))))
	}
}

func TestVerifyRefuses(t *testing.T) {
	signer := seededSigner(t, "cavra-test", 7)
	other := seededSigner(t, "cavra-other", 9)
	trusted := infoOf(t, signer, epoch.Add(-time.Hour))
	env := build(t, signer, sampleStatement())

	revokedBefore := trusted
	revokedBefore.Status, revokedBefore.RevokedAt = cavra.KeyRevoked, epoch.Add(-time.Minute)
	revokedAfter := trusted
	revokedAfter.Status, revokedAfter.RevokedAt = cavra.KeyRevoked, epoch.Add(time.Minute)
	notYet := infoOf(t, signer, epoch.Add(time.Hour))
	expired := trusted
	expired.Status, expired.NotAfter = cavra.KeyRetired, epoch.Add(-time.Second)
	impostor := infoOf(t, other, epoch.Add(-time.Hour))
	impostor.ID = signer.KeyID() // the right id with the wrong public key

	tests := []struct {
		name    string
		env     []byte
		keys    []cavra.KeyInfo
		at      time.Time
		wantErr error // nil: verifies
	}{
		{name: "genuine", env: env, keys: []cavra.KeyInfo{trusted}, at: epoch},
		{name: "revoked after signing still counts", env: env, keys: []cavra.KeyInfo{revokedAfter}, at: epoch.Add(time.Hour)},
		{name: "signed after revocation", env: env, keys: []cavra.KeyInfo{revokedBefore}, at: epoch, wantErr: ErrKeyValidity},
		{name: "signed before the key's window", env: env, keys: []cavra.KeyInfo{notYet}, at: epoch, wantErr: ErrKeyValidity},
		{name: "signed after the key's window", env: env, keys: []cavra.KeyInfo{expired}, at: epoch, wantErr: ErrKeyValidity},
		{name: "dated in the future", env: env, keys: []cavra.KeyInfo{trusted}, at: epoch.Add(-time.Second), wantErr: ErrKeyValidity},
		{name: "unknown key", env: env, keys: []cavra.KeyInfo{infoOf(t, other, epoch.Add(-time.Hour))}, at: epoch, wantErr: ErrUntrustedKey},
		{name: "no trusted keys", env: env, at: epoch, wantErr: ErrUntrustedKey},
		{name: "wrong public key under the right id", env: env, keys: []cavra.KeyInfo{impostor}, at: epoch, wantErr: ErrSignature},
		{name: "signed by another key", env: build(t, other, sampleStatement()), keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrUntrustedKey},
		{name: "tampered outcome", keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrSignature,
			env: tamper(t, env, editPayload(t, func(p string) string { return strings.Replace(p, "allow_with_attestation", "allow", 1) }))},
		{name: "tampered subject digest", keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrSignature,
			env: tamper(t, env, editPayload(t, func(p string) string { return strings.Replace(p, `"sha256":"`, `"sha256":"0`, 1) }))},
		{name: "payload type changed", keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrMalformed,
			env: tamper(t, env, func(m map[string]any) { m["payloadType"] = "text/plain" })},
		{name: "signature removed", keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrUntrustedKey,
			env: tamper(t, env, func(m map[string]any) { m["signatures"] = []any{} })},
		{name: "unknown field", keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrMalformed,
			env: tamper(t, env, func(m map[string]any) { m["extra"] = true })},
		{name: "not json", env: []byte("{"), keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrMalformed},
		{name: "trailing data", env: append(append([]byte(nil), env...), "{}"...), keys: []cavra.KeyInfo{trusted}, at: epoch, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.env, tt.keys, tt.at)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// A signature that verifies over a statement that is not a CAVRA action attestation (another
// predicate, or a fingerprint subject that does not match) is still refused.
func TestVerifyRefusesForeignStatements(t *testing.T) {
	signer := seededSigner(t, "cavra-test", 7)
	trusted := []cavra.KeyInfo{infoOf(t, signer, epoch.Add(-time.Hour))}
	st := sampleStatement()
	st.Subjects = []Subject{{Name: ActionSubject, Digest: map[string]string{"sha256": strings.Repeat("00", 32)}}}
	if _, err := Verify(build(t, signer, st), trusted, epoch); !errors.Is(err, ErrMalformed) {
		t.Fatalf("mismatched fingerprint subject: %v", err)
	}
	st = sampleStatement()
	st.Decision.ID = ""
	if _, err := Build(context.Background(), signer, st); cavra.Code(err) != cavra.ErrInvalid {
		t.Fatalf("decision without id: %v", err)
	}
	if _, err := Build(context.Background(), nil, sampleStatement()); cavra.Code(err) != cavra.ErrInvalid {
		t.Fatalf("no signer: %v", err)
	}
}

func BenchmarkBuild(b *testing.B) {
	s, err := keys.NewFileSigner("bench", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)))
	if err != nil {
		b.Fatal(err)
	}
	st := sampleStatement()
	ctx := context.Background()
	for b.Loop() {
		if _, err := Build(ctx, s, st); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, err := keys.NewFileSigner("bench", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)))
	if err != nil {
		b.Fatal(err)
	}
	env, err := Build(context.Background(), s, sampleStatement())
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		b.Fatal(err)
	}
	trusted := []cavra.KeyInfo{{ID: s.KeyID(), Algorithm: s.Algorithm(), PublicKey: der, Status: cavra.KeyActive}}
	b.SetBytes(int64(len(env)))
	for b.Loop() {
		if _, err := Verify(env, trusted, epoch); err != nil {
			b.Fatal(err)
		}
	}
}
