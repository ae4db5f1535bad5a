package modelsign

import (
	"context"
	"crypto/elliptic"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cavra-dev/cavra/internal/testenv"
)

// python returns a python3 with pyca/cryptography, the crypto library the OpenSSF tool uses.
func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Skip(t, "python3 not installed")
	}
	if out, err := exec.Command(py, "-c", "import cryptography").CombinedOutput(); err != nil {
		testenv.Skip(t, "python3 cryptography not installed: %s", out)
	}
	return py
}

// TestInteropWithIndependentImplementation signs in Go and verifies with an independent
// implementation of the OpenSSF format in Python, and the other way round.
func TestInteropWithIndependentImplementation(t *testing.T) {
	py := python(t)
	script, err := filepath.Abs(filepath.Join("testdata", "openssf_interop.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			dir := writeModel(t, "tiny", tinyModel())
			key := newKey(t, curve)
			keyDir := t.TempDir()
			privPEM, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM, err := MarshalPublicKeyPEM(&key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			privPath, pubPath := filepath.Join(keyDir, "key.pem"), filepath.Join(keyDir, "key.pub")
			writeFile(t, privPath, string(privPEM))
			writeFile(t, pubPath, string(pubPEM))

			goSig := filepath.Join(keyDir, "go.sig")
			writeFile(t, goSig, string(signBytes(t, dir, key, HashOptions{IgnoreGitPaths: true})))
			if out, err := exec.Command(py, script, "verify", dir, goSig, pubPath).CombinedOutput(); err != nil {
				t.Fatalf("python rejected the Go bundle: %v\n%s", err, out)
			}

			pySig := filepath.Join(keyDir, "py.sig")
			if out, err := exec.Command(py, script, "sign", dir, privPath, pySig).CombinedOutput(); err != nil {
				t.Fatalf("python sign: %v\n%s", err, out)
			}
			raw, err := os.ReadFile(pySig)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(context.Background(), dir, raw, &key.PublicKey, VerifyOptions{IgnoreGitPaths: true}); err != nil {
				t.Fatalf("Go rejected the python bundle: %v", err)
			}

			// And a tampered model fails on the Python side too: the check can fail.
			writeFile(t, filepath.Join(dir, "config.json"), "{}")
			if out, err := exec.Command(py, script, "verify", dir, goSig, pubPath).CombinedOutput(); err == nil {
				t.Fatalf("python accepted a tampered model:\n%s", out)
			}
		})
	}
}
