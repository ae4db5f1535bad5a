package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/bundle"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/verify"
)

var update = flag.Bool("update", false, "rewrite the golden bundle in testdata/")

const origin = "cavra.local/audit-log"

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// fixture is a small audit log with a signing key, from which tests cut bundles.
type fixture struct {
	signer  *keys.FileSigner
	info    cavra.KeyInfo
	tree    *testonly.Tree
	records [][]byte
}

// newFixture makes n records signed by a deterministic Ed25519 key (seed byte seed).
func newFixture(t testing.TB, n int, seed byte) *fixture {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytesOf(seed, ed25519.SeedSize))
	s, err := keys.NewFileSigner(keys.DefaultName, priv)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{signer: s, info: infoOf(t, s, t0), tree: testonly.New(rfc6962.DefaultHasher)}
	for i := range n {
		rec := fmt.Appendf(nil, `{"decision":"allow","index":%d,"kind":"file.read","path":"/repo/f%d.go"}`, i, i)
		f.records = append(f.records, rec)
		f.tree.AppendData(rec)
	}
	return f
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func infoOf(t testing.TB, s cavra.Signer, notBefore time.Time) cavra.KeyInfo {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return cavra.KeyInfo{ID: s.KeyID(), Algorithm: s.Algorithm(), PublicKey: der, Status: cavra.KeyActive, NotBefore: notBefore, Custody: keys.CustodyFile}
}

// checkpoint signs the tree head at size with s, dated at.
func (f *fixture) checkpoint(t testing.TB, s cavra.Signer, size uint64, at time.Time) []byte {
	t.Helper()
	text := fmt.Sprintf("%s\n%d\n%s\n%s\n", origin, size, base64.StdEncoding.EncodeToString(f.tree.HashAt(size)), verify.TimeExtension(at))
	ns, err := keys.NoteSigner(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: text}, ns)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// input exports the given indices against the full tree.
func (f *fixture) input(t testing.TB, indices ...uint64) bundle.Input {
	t.Helper()
	size := f.tree.Size()
	in := bundle.Input{TreeSize: size, Keys: []cavra.KeyInfo{f.info}, SignedAt: t0.Add(2 * time.Hour)}
	in.Checkpoint = f.checkpoint(t, f.signer, size, t0.Add(time.Hour))
	for _, i := range indices {
		p, err := f.tree.InclusionProof(i, size)
		if err != nil {
			t.Fatal(err)
		}
		in.Entries = append(in.Entries, bundle.Entry{Index: i, Record: f.records[i], InclusionProof: p})
	}
	return in
}

func (f *fixture) build(t testing.TB, in bundle.Input) []byte {
	t.Helper()
	out, err := bundle.Build(context.Background(), f.signer, in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out
}

func trusted(infos ...cavra.KeyInfo) []verify.Key {
	out := make([]verify.Key, len(infos))
	for i, k := range infos {
		out[i] = bundle.KeyFromInfo(k)
	}
	return out
}

func TestCheckValidBundle(t *testing.T) {
	f := newFixture(t, 13, 1)
	data := f.build(t, f.input(t, 0, 5, 12))
	res, err := verify.Check(data, verify.Options{TrustedKeys: trusted(f.info)})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if res.TreeSize != 13 || res.Entries != 3 || res.Origin != origin || res.SelfAsserted {
		t.Errorf("result = %+v", res)
	}
	if len(res.CheckpointKeys) != 1 || res.CheckpointKeys[0] != f.info.ID || res.AttestationKey != f.info.ID {
		t.Errorf("signers = %v / %s, want %s", res.CheckpointKeys, res.AttestationKey, f.info.ID)
	}
	self, err := verify.Check(data, verify.Options{})
	if err != nil || !self.SelfAsserted {
		t.Errorf("self-asserted check: %+v, %v", self, err)
	}
}

func TestGoldenBundle(t *testing.T) {
	bundlePath := filepath.Join("testdata", "golden.bundle.json")
	keysPath := filepath.Join("testdata", "golden.keys.json")
	if *update {
		f := newFixture(t, 7, 7)
		data := f.build(t, f.input(t, 0, 3, 6))
		keyData, err := json.MarshalIndent(trusted(f.info), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bundlePath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keysPath, append(keyData, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		// The smallest valid bundle: the fuzz seed corpus is made from it.
		small := newFixture(t, 2, 7)
		smallData, err := json.Marshal(mustParse(t, small.build(t, small.input(t, 1))))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "small.bundle.json"), smallData, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	keyData, err := os.ReadFile(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := verify.ParseKeys(keyData)
	if err != nil {
		t.Fatal(err)
	}
	res, err := verify.Check(data, verify.Options{TrustedKeys: tk})
	if err != nil {
		t.Fatalf("golden bundle does not verify: %v", err)
	}
	if res.TreeSize != 7 || res.Entries != 3 {
		t.Errorf("golden result = %+v", res)
	}
}

func mustParse(t *testing.T, data []byte) *verify.Bundle {
	t.Helper()
	b, err := verify.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit changes a decoded bundle and re-encodes it.
func edit(t *testing.T, data []byte, change func(b *verify.Bundle)) []byte {
	t.Helper()
	b, err := verify.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	change(b)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckRejects(t *testing.T) {
	f := newFixture(t, 9, 2)
	other := newFixture(t, 9, 3) // same records, a different key
	valid := f.build(t, f.input(t, 1, 4, 8))
	trust := trusted(f.info)

	tests := []struct {
		name    string
		data    func(t *testing.T) []byte
		keys    []verify.Key
		wantErr error
		wantMsg string
	}{
		{name: "not json", data: func(*testing.T) []byte { return []byte("{") }, wantErr: verify.ErrMalformed},
		{name: "trailing data", data: func(*testing.T) []byte { return append(append([]byte{}, valid...), "{}"...) }, wantErr: verify.ErrMalformed, wantMsg: "trailing"},
		{name: "unknown field", data: func(*testing.T) []byte {
			return []byte(strings.Replace(string(valid), `"format"`, `"extra": 1, "format"`, 1))
		}, wantErr: verify.ErrMalformed},
		{name: "wrong format", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Format = "v0" })
		}, wantErr: verify.ErrMalformed, wantMsg: "format"},
		{name: "altered record", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) {
				b.Entries[1].Record = []byte(strings.Replace(string(b.Entries[1].Record), "allow", "block", 1))
			})
		}, wantErr: verify.ErrAttestation, wantMsg: "log index 4"},
		{name: "swapped records", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) {
				b.Entries[0].Record, b.Entries[1].Record = b.Entries[1].Record, b.Entries[0].Record
			})
		}, wantErr: verify.ErrAttestation, wantMsg: "entry 0"},
		{name: "bad inclusion proof", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Entries[2].InclusionProof[0][0] ^= 1 })
		}, wantErr: verify.ErrInclusion, wantMsg: "log index 8"},
		{name: "truncated proof", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Entries[0].InclusionProof = b.Entries[0].InclusionProof[:1] })
		}, wantErr: verify.ErrInclusion},
		{name: "dropped entry", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Entries = b.Entries[:2] })
		}, wantErr: verify.ErrAttestation, wantMsg: "3 subjects"},
		{name: "index out of tree", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Entries[2].Index = 99 })
		}, wantErr: verify.ErrInclusion, wantMsg: "outside"},
		{name: "tree size mismatch", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.TreeSize = 8 })
		}, wantErr: verify.ErrCheckpoint},
		{name: "forged checkpoint size", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Checkpoint = strings.Replace(b.Checkpoint, "\n9\n", "\n10\n", 1) })
		}, wantErr: verify.ErrSignature, wantMsg: "checkpoint"},
		{name: "checkpoint re-signed by an unknown key", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Checkpoint = string(other.checkpoint(t, other.signer, 9, t0.Add(time.Hour))) })
		}, wantErr: verify.ErrUntrustedKey, wantMsg: other.info.ID},
		{name: "checkpoint for another tree", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Checkpoint = string(f.checkpoint(t, f.signer, 8, t0.Add(time.Hour))) })
		}, wantErr: verify.ErrCheckpoint},
		{name: "attestation forged", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) {
				sig, _ := base64.StdEncoding.DecodeString(b.Attestation.Signatures[0].Sig)
				sig[0] ^= 1
				b.Attestation.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			})
		}, wantErr: verify.ErrSignature, wantMsg: "attestation"},
		{name: "attestation by unknown key id", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Attestation.Signatures[0].KeyID = "someone+00000000" })
		}, wantErr: verify.ErrUntrustedKey, wantMsg: "someone+00000000"},
		{name: "attestation without signatures", data: func(t *testing.T) []byte {
			return edit(t, valid, func(b *verify.Bundle) { b.Attestation.Signatures = nil })
		}, wantErr: verify.ErrUntrustedKey},
		{name: "wrong trusted key", data: func(*testing.T) []byte { return valid }, keys: trusted(other.info), wantErr: verify.ErrUntrustedKey},
		{name: "trusted key with mismatched id", data: func(*testing.T) []byte { return valid }, keys: func() []verify.Key {
			k := trusted(f.info)
			k[0].PublicKey = trusted(other.info)[0].PublicKey
			return k
		}(), wantErr: verify.ErrMalformed, wantMsg: "does not match its public key"},
		{name: "no trusted keys", data: func(*testing.T) []byte { return valid }, keys: []verify.Key{}, wantErr: verify.ErrUntrustedKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = trust
			}
			_, err := verify.Check(tc.data(t), verify.Options{TrustedKeys: keys})
			if err == nil {
				t.Fatal("Check succeeded")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestCheckKeyWindowsAndRevocation(t *testing.T) {
	f := newFixture(t, 5, 4)
	cpTime := t0.Add(time.Hour)       // checkpoint signed
	signedAt := t0.Add(2 * time.Hour) // attestation signed
	valid := f.build(t, f.input(t, 2))
	tests := []struct {
		name    string
		key     func(k cavra.KeyInfo) cavra.KeyInfo
		wantErr bool
		wantMsg string
	}{
		{name: "valid window", key: func(k cavra.KeyInfo) cavra.KeyInfo { return k }},
		{name: "revoked after both signatures", key: func(k cavra.KeyInfo) cavra.KeyInfo {
			k.Status, k.RevokedAt = cavra.KeyRevoked, signedAt.Add(time.Second)
			return k
		}},
		{name: "revoked before the checkpoint", key: func(k cavra.KeyInfo) cavra.KeyInfo {
			k.Status, k.RevokedAt = cavra.KeyRevoked, cpTime.Add(-time.Minute)
			return k
		}, wantErr: true, wantMsg: "checkpoint"},
		{name: "revoked exactly at the checkpoint", key: func(k cavra.KeyInfo) cavra.KeyInfo {
			k.Status, k.RevokedAt = cavra.KeyRevoked, cpTime
			return k
		}, wantErr: true, wantMsg: "revocation"},
		{name: "revoked between checkpoint and attestation", key: func(k cavra.KeyInfo) cavra.KeyInfo {
			k.Status, k.RevokedAt = cavra.KeyRevoked, cpTime.Add(time.Minute)
			return k
		}, wantErr: true, wantMsg: "attestation"},
		{name: "retired before the attestation", key: func(k cavra.KeyInfo) cavra.KeyInfo {
			k.Status, k.NotAfter = cavra.KeyRetired, cpTime.Add(time.Minute)
			return k
		}, wantErr: true, wantMsg: "window closed"},
		{name: "key newer than the checkpoint", key: func(k cavra.KeyInfo) cavra.KeyInfo {
			k.NotBefore = cpTime.Add(time.Second)
			return k
		}, wantErr: true, wantMsg: "before its window opened"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.Check(valid, verify.Options{TrustedKeys: trusted(tc.key(f.info))})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Check err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, verify.ErrKeyNotValid) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want ErrKeyNotValid mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func TestCheckpointWithoutTime(t *testing.T) {
	f := newFixture(t, 3, 5)
	text := fmt.Sprintf("%s\n3\n%s\n", origin, base64.StdEncoding.EncodeToString(f.tree.HashAt(3)))
	ns, _ := keys.NoteSigner(context.Background(), f.signer)
	cp, err := note.Sign(&note.Note{Text: text}, ns)
	if err != nil {
		t.Fatal(err)
	}
	in := f.input(t, 0)
	in.Checkpoint = cp
	data := f.build(t, in)
	if _, err := verify.Check(data, verify.Options{TrustedKeys: trusted(f.info)}); err != nil {
		t.Errorf("undated checkpoint from an unrevoked key: %v", err)
	}
	revoked := f.info
	revoked.Status, revoked.RevokedAt = cavra.KeyRevoked, t0.Add(10*time.Hour)
	_, err = verify.Check(data, verify.Options{TrustedKeys: trusted(revoked)})
	if !errors.Is(err, verify.ErrKeyNotValid) || !strings.Contains(err.Error(), "no signing time") {
		t.Errorf("undated checkpoint from a revoked key: err = %v", err)
	}
}

func TestBuildRefusesBundlesThatWouldNotVerify(t *testing.T) {
	f := newFixture(t, 6, 6)
	tests := []struct {
		name string
		edit func(in *bundle.Input)
	}{
		{name: "no entries", edit: func(in *bundle.Input) { in.Entries = nil }},
		{name: "stale proof", edit: func(in *bundle.Input) { in.Entries[0].InclusionProof = in.Entries[1].InclusionProof }},
		{name: "signer not among keys", edit: func(in *bundle.Input) { in.Keys = []cavra.KeyInfo{newFixture(t, 1, 9).info} }},
		{name: "signer revoked before signing", edit: func(in *bundle.Input) {
			in.Keys[0].Status, in.Keys[0].RevokedAt = cavra.KeyRevoked, in.SignedAt.Add(-time.Minute)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := f.input(t, 0, 1)
			tc.edit(&in)
			if _, err := bundle.Build(context.Background(), f.signer, in); err == nil {
				t.Fatal("Build succeeded")
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	f := newFixture(t, 1, 8)
	arr, _ := json.Marshal(trusted(f.info))
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr bool
	}{
		{name: "array", data: string(arr), want: 1},
		{name: "keyring object", data: `{"version":1,"name":"x","keys":` + string(arr) + `}`, want: 1},
		{name: "object without keys", data: `{"name":"x"}`, wantErr: true},
		{name: "garbage", data: `nope`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verify.ParseKeys([]byte(tc.data))
			if (err != nil) != tc.wantErr || len(got) != tc.want {
				t.Fatalf("ParseKeys = %d keys, err %v; want %d, wantErr %v", len(got), err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestTamperDetection flips, deletes and truncates bytes all over a valid bundle: every change
// to a signed or hashed byte must be caught; changes that only re-encode the same values
// (JSON whitespace) are allowed to pass, but must then verify to the same result.
func TestTamperDetection(t *testing.T) {
	f := newFixture(t, 20, 10)
	valid := f.build(t, f.input(t, 0, 7, 19))
	trust := verify.Options{TrustedKeys: trusted(f.info)}
	want, err := verify.Check(valid, trust)
	if err != nil {
		t.Fatal(err)
	}
	canonical := func(data []byte) string {
		b, err := verify.Parse(data)
		if err != nil {
			return ""
		}
		out, _ := json.Marshal(b)
		return string(out)
	}
	original := canonical(valid)
	step := max(1, len(valid)/1000)
	mutations := 0
	for pos := 0; pos < len(valid); pos += step {
		for _, m := range []struct {
			kind string
			data []byte
		}{
			{"flip", flipByte(valid, pos)},
			{"delete", append(append([]byte{}, valid[:pos]...), valid[pos+1:]...)},
			{"truncate", valid[:pos]},
		} {
			mutations++
			got, err := verify.Check(m.data, trust)
			if err != nil {
				continue
			}
			if canonical(m.data) != original {
				t.Errorf("%s at byte %d changed the bundle's content and still verified (%+v)", m.kind, pos, got)
			}
		}
	}
	t.Logf("%d mutations checked; valid result %s", mutations, strconv.Itoa(want.Entries))
}

func flipByte(data []byte, pos int) []byte {
	out := append([]byte{}, data...)
	out[pos] ^= 0x01
	return out
}
