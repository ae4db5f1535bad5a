package modelsign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// writeModel creates a model directory named name under a temporary directory.
func writeModel(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func tinyModel() map[string]string {
	return map[string]string{
		"config.json":                `{"model_type":"bert"}`,
		"model.safetensors":          strings.Repeat("\x00\x01", 300),
		"tokenizer/vocab.txt":        "[PAD]\n[UNK]\nhello\n",
		"README.md":                  "# tiny\n",
		".gitattributes":             "*.safetensors filter=lfs\n",
		".git/HEAD":                  "ref: refs/heads/main\n",
		"a.txt":                      "sorts after the a/ directory\n",
		"a/b":                        "component-wise order\n",
		"model-00001-of-00002.bin":   "shard one",
		"nested/deeper/weights.gguf": "GGUF",
	}
}

func signBytes(t testing.TB, dir string, key *ecdsa.PrivateKey, opts HashOptions) []byte {
	t.Helper()
	b, _, err := Sign(context.Background(), dir, key, opts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		curve elliptic.Curve
		shard int64
	}{
		{"p256 files", elliptic.P256(), 0},
		{"p384 files", elliptic.P384(), 0},
		{"p521 files", elliptic.P521(), 0},
		{"p256 shards", elliptic.P256(), 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, "tiny", tinyModel())
			key := newKey(t, tc.curve)
			bundle := signBytes(t, dir, key, HashOptions{IgnoreGitPaths: true, ShardSize: tc.shard})
			res, err := Verify(context.Background(), dir, bundle, &key.PublicKey, VerifyOptions{IgnoreGitPaths: true})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.ModelName != "tiny" {
				t.Errorf("model name %q", res.ModelName)
			}
			wantRes := 8 // ten files minus .git/HEAD and .gitattributes
			if tc.shard > 0 {
				wantRes = 17 // model.safetensors is 600 bytes: ten 64-byte shards
			}
			if res.Resources != wantRes {
				t.Errorf("resources = %d, want %d", res.Resources, wantRes)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	key := newKey(t, elliptic.P256())
	other := newKey(t, elliptic.P256())
	type mutation struct {
		model  func(t *testing.T, dir string)
		bundle func(t *testing.T, b []byte) []byte
		pub    *ecdsa.PublicKey
	}
	editBundle := func(edit func(b *Bundle)) func(t *testing.T, raw []byte) []byte {
		return func(t *testing.T, raw []byte) []byte {
			var b Bundle
			if err := json.Unmarshal(raw, &b); err != nil {
				t.Fatal(err)
			}
			edit(&b)
			out, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	for _, tc := range []struct {
		name    string
		m       mutation
		wantErr string
	}{
		{"tampered file", mutation{model: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "config.json"), `{"model_type":"evil"}`)
		}}, "changed: config.json"},
		{"added file", mutation{model: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "nested", "payload.pkl"), "cos\nsystem\n")
		}}, "not signed: nested/payload.pkl"},
		{"removed file", mutation{model: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "a", "b")); err != nil {
				t.Fatal(err)
			}
		}}, "missing: a/b"},
		{"all files removed", mutation{model: func(t *testing.T, dir string) {
			for name := range tinyModel() {
				os.Remove(filepath.Join(dir, filepath.FromSlash(name)))
			}
		}}, "no regular files"},
		{"symlink added", mutation{model: func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
		}}, "symbolic link"},
		{"wrong key", mutation{pub: &other.PublicKey}, "bundle names key"},
		{"unknown hint", mutation{bundle: editBundle(func(b *Bundle) {
			b.VerificationMaterial.PublicKey.Hint = strings.Repeat("ab", 32)
		})}, "bundle names key " + strings.Repeat("ab", 32)},
		{"wrong key without hint", mutation{pub: &other.PublicKey, bundle: editBundle(func(b *Bundle) {
			b.VerificationMaterial.PublicKey = nil
		})}, "signature does not verify"},
		{"corrupt json", mutation{bundle: func(t *testing.T, b []byte) []byte { return b[:len(b)/2] }}, "invalid model signature bundle"},
		{"payload swapped", mutation{bundle: editBundle(func(b *Bundle) {
			b.DSSEEnvelope.Payload = bytes.Replace(b.DSSEEnvelope.Payload, []byte(`"tiny"`), []byte(`"tinz"`), 1)
		})}, "signature does not verify"},
		{"signature flipped", mutation{bundle: editBundle(func(b *Bundle) {
			b.DSSEEnvelope.Signatures[0].Sig[len(b.DSSEEnvelope.Signatures[0].Sig)-1] ^= 1
		})}, "signature does not verify"},
		{"wrong media type", mutation{bundle: editBundle(func(b *Bundle) {
			b.MediaType = "application/vnd.dev.sigstore.bundle.v0.1+json"
		})}, "media type"},
		{"two signatures", mutation{bundle: editBundle(func(b *Bundle) {
			b.DSSEEnvelope.Signatures = append(b.DSSEEnvelope.Signatures, b.DSSEEnvelope.Signatures[0])
		})}, "want exactly one"},
		{"no envelope", mutation{bundle: editBundle(func(b *Bundle) { b.DSSEEnvelope = nil })}, "no dsseEnvelope"},
		{"wrong payload type", mutation{bundle: editBundle(func(b *Bundle) {
			b.DSSEEnvelope.PayloadType = "application/json"
		})}, "payload type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, "tiny", tinyModel())
			bundle := signBytes(t, dir, key, HashOptions{IgnoreGitPaths: true})
			if tc.m.model != nil {
				tc.m.model(t, dir)
			}
			if tc.m.bundle != nil {
				bundle = tc.m.bundle(t, bundle)
			}
			pub := &key.PublicKey
			if tc.m.pub != nil {
				pub = tc.m.pub
			}
			_, err := Verify(context.Background(), dir, bundle, pub, VerifyOptions{IgnoreGitPaths: true})
			if err == nil {
				t.Fatal("Verify succeeded, want failure")
			}
			if !errors.Is(err, ErrVerification) {
				t.Errorf("error %v is not ErrVerification", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIgnoredPathsAreHonoured(t *testing.T) {
	key := newKey(t, elliptic.P256())
	dir := writeModel(t, "tiny", tinyModel())
	sigPath := filepath.Join(dir, "model.sig")
	bundle := signBytes(t, dir, key, HashOptions{
		IgnorePaths:    []string{"README.md", "nested", sigPath},
		IgnoreGitPaths: true,
	})
	writeFile(t, sigPath, string(bundle))

	m, err := ParseStatement(mustBundle(t, bundle).DSSEEnvelope.Payload)
	if err != nil {
		t.Fatal(err)
	}
	wantIgnores := []string{".git", ".gitattributes", ".github", ".gitignore", "README.md", "model.sig", "nested"}
	if got := m.Serialization.IgnorePaths; strings.Join(got, ",") != strings.Join(wantIgnores, ",") {
		t.Errorf("signed ignore_paths = %v, want %v", got, wantIgnores)
	}
	for _, r := range m.Resources {
		if r.Name == "README.md" || strings.HasPrefix(r.Name, "nested/") || strings.HasPrefix(r.Name, ".git") {
			t.Errorf("ignored path %q was signed", r.Name)
		}
	}

	// Ignored paths may change freely: the verifier takes them from the signature.
	writeFile(t, filepath.Join(dir, "README.md"), "rewritten")
	writeFile(t, filepath.Join(dir, "nested", "new.bin"), "new")
	writeFile(t, filepath.Join(dir, ".github", "workflows", "ci.yml"), "on: push")
	if _, err := Verify(context.Background(), dir, bundle, &key.PublicKey, VerifyOptions{}); err != nil {
		t.Fatalf("Verify with signed ignores: %v", err)
	}
	// A path the signature does not ignore still counts.
	writeFile(t, filepath.Join(dir, "config.json"), "{}")
	if _, err := Verify(context.Background(), dir, bundle, &key.PublicKey, VerifyOptions{}); err == nil {
		t.Fatal("Verify accepted a changed, non-ignored file")
	}
	// ... unless the verifier chooses to ignore it too.
	if _, err := Verify(context.Background(), dir, bundle, &key.PublicKey, VerifyOptions{IgnorePaths: []string{"config.json"}}); err == nil {
		t.Fatal("Verify accepted a model missing a signed file")
	} else if !strings.Contains(err.Error(), "missing: config.json") {
		t.Fatalf("unexpected error %v", err)
	}
}

func mustBundle(t *testing.T, raw []byte) *Bundle {
	t.Helper()
	b, err := ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIgnorePathsOutsideModelAreRefused(t *testing.T) {
	dir := writeModel(t, "tiny", tinyModel())
	for _, p := range []string{"../other", "/etc/passwd", ".", ""} {
		if _, err := HashDir(context.Background(), dir, HashOptions{IgnorePaths: []string{p}}); err == nil {
			t.Errorf("ignore path %q accepted", p)
		}
	}
}

// TestStatementGolden pins the signed payload: everything in it is deterministic.
func TestStatementGolden(t *testing.T) {
	dir := writeModel(t, "tiny", tinyModel())
	key := newKey(t, elliptic.P256())
	b, _, err := Sign(context.Background(), dir, key, HashOptions{IgnoreGitPaths: true, IgnorePaths: []string{"model.sig"}})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "statement.golden.json")
	got := append(bytes.Clone(b.DSSEEnvelope.Payload), '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("statement differs from %s:\n%s", golden, got)
	}
	// The bundle's outer shape: key hint and no transparency-log entries.
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	vm := generic["verificationMaterial"].(map[string]any)
	hint, _ := KeyHint(&key.PublicKey)
	if vm["publicKey"].(map[string]any)["hint"] != hint {
		t.Errorf("hint = %v, want %s", vm["publicKey"], hint)
	}
	if tl, ok := vm["tlogEntries"].([]any); !ok || len(tl) != 0 {
		t.Errorf("tlogEntries = %v, want []", vm["tlogEntries"])
	}
	env := generic["dsseEnvelope"].(map[string]any)
	if _, err := base64.StdEncoding.DecodeString(env["payload"].(string)); err != nil {
		t.Errorf("payload is not standard base64: %v", err)
	}
}

// TestRootDigestVectors checks the subject digest rule against digests published with the
// OpenSSF implementation's own test data (facts, not code).
func TestRootDigestVectors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		digests []string
		want    string
	}{
		{"empty", nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"deep model, files", []string{
			"6efa14bb03544fcb76045c55f25b9315b6eb5be2d8a85f703193a76b7874c6ff",
			"a9bc149b70b9d325cd68d275d582cfdb98c0347d3ce54590aa6533368daed3d2",
			"5f597e6a92d1324d9adbed43d527926d11d0131487baf315e65ae1ef3b1ca3c0",
			"eaf677c35fec6b87889d9e4563d8bb65dcb9869ca0225697c9cc44cf49dca008",
		}, "18b5a45fe7983f7194e8ffd96c80f5f0ec53191bf4a32b6aff293f043e816d7a"},
		{"deep model, 8-byte shards", []string{
			"a37010c994067764d86540bf479d93b4d0c3bb3955de7b61f951caf2fd0301b0",
			"a42438d3606f14e351888ad4be724eb98679674b9281a7dc532a57baace9439b",
			"a37010c994067764d86540bf479d93b4d0c3bb3955de7b61f951caf2fd0301b0",
			"9634ddd8e5388a5383bbb944456488549321f546896353395ce199dc852195a4",
			"a37010c994067764d86540bf479d93b4d0c3bb3955de7b61f951caf2fd0301b0",
			"25ea3759cd0b40fdca74e4c35d3e9119ee222ac0284fa83f48f6da8a66dc9d8c",
			"a37010c994067764d86540bf479d93b4d0c3bb3955de7b61f951caf2fd0301b0",
			"4c6aead90eefc5202b6840120787fcee70cf9407b03209646d6f30472901ec86",
		}, "fe81b684c60474cea9b27ba1de9993e54bb19806664613758aa4d335ee398497"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Manifest{}
			for _, d := range tc.digests {
				m.Resources = append(m.Resources, Resource{Digest: d})
			}
			got, err := m.RootDigest()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("root digest = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseStatementShardSizeAsDouble(t *testing.T) {
	// The OpenSSF tool writes protobuf Struct numbers as doubles.
	payload := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}],
"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"shards","hash_type":"sha256","allow_symlinks":false,"shard_size":1000000000.0},"resources":[]}}`
	m, err := ParseStatement([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if m.Serialization.ShardSize != DefaultShardSize {
		t.Errorf("shard size = %d", m.Serialization.ShardSize)
	}
}

func TestParseStatementErrors(t *testing.T) {
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	stmt := func(subject, predType, pred string) string {
		return `{"_type":"https://in-toto.io/Statement/v1","subject":` + subject + `,"predicateType":"` + predType + `","predicate":` + pred + `}`
	}
	one := `[{"name":"m","digest":{"sha256":"` + empty + `"}}]`
	files := `{"method":"files","hash_type":"sha256","allow_symlinks":false}`
	res := func(name, digest string) string {
		return `{"serialization":` + files + `,"resources":[{"name":"` + name + `","algorithm":"sha256","digest":"` + digest + `"}]}`
	}
	for _, tc := range []struct{ name, payload, want string }{
		{"not json", "{", "decode statement"},
		{"wrong type", `{"_type":"x"}`, "statement type"},
		{"wrong predicate", stmt(one, "https://slsa.dev/provenance/v1", "{}"), "predicate type"},
		{"two subjects", stmt(`[`+one[1:len(one)-1]+`,`+one[1:len(one)-1]+`]`, PredicateType, "{}"), "exactly one"},
		{"no serialization", stmt(one, PredicateType, `{"resources":[]}`), "no serialization"},
		{"unknown method", stmt(one, PredicateType, `{"serialization":{"method":"tensors","hash_type":"sha256","allow_symlinks":false},"resources":[]}`), "unknown serialization method"},
		{"blake2", stmt(one, PredicateType, `{"serialization":{"method":"files","hash_type":"blake2","allow_symlinks":false},"resources":[]}`), "not supported"},
		{"symlinks allowed", stmt(one, PredicateType, `{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":true},"resources":[]}`), "symbolic links"},
		{"root digest mismatch", stmt(one, PredicateType, res("a", empty)), "inconsistent"},
		{"path traversal", stmt(one, PredicateType, res("../etc/passwd", empty)), "clean relative path"},
		{"absolute path", stmt(one, PredicateType, res("/etc/passwd", empty)), "not a relative path"},
		{"bad digest", stmt(one, PredicateType, res("a", "XYZ")), "hex"},
		{"fractional shard size", stmt(one, PredicateType, `{"serialization":{"method":"shards","hash_type":"sha256","allow_symlinks":false,"shard_size":1.5},"resources":[]}`), "positive integer"},
		{"bad shard name", stmt(one, PredicateType, `{"serialization":{"method":"shards","hash_type":"sha256","allow_symlinks":false,"shard_size":8},"resources":[{"name":"f:3:20","algorithm":"sha256-sharded-8","digest":"`+empty+`"}]}`), "shard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStatement([]byte(tc.payload))
			if err == nil {
				t.Fatal("ParseStatement succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestSortResourcesComponentWise(t *testing.T) {
	rs := []Resource{{Name: "a.txt"}, {Name: "a-b/c"}, {Name: "a/c"}, {Name: "a/b"}, {Name: "f:16:24"}, {Name: "f:0:8"}, {Name: "f:8:16"}, {Name: "B"}}
	SortResources(rs)
	var got []string
	for _, r := range rs {
		got = append(got, r.Name)
	}
	want := "B,a/b,a/c,a-b/c,a.txt,f:0:8,f:8:16,f:16:24"
	if strings.Join(got, ",") != want {
		t.Errorf("order = %v, want %s", got, want)
	}
}

func TestCompatStatementVerifies(t *testing.T) {
	// model_signing v0.2 signed one subject per file; its verifier still accepts that form.
	payload := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"w.bin","digest":{"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}],"predicateType":"https://model_signing/Digests/v0.1","predicate":{"unused":"x"}}`
	m, err := ParseStatement([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Resources) != 1 || m.Resources[0].Name != "w.bin" {
		t.Errorf("resources = %+v", m.Resources)
	}
}
