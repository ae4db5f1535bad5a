//go:build cgo

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra/internal/keys/keystest"
	"github.com/cavra-dev/cavra/internal/testenv"
	"github.com/cavra-dev/cavra/verify"
)

const softHSMModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// TestKeysRotateToPKCS11 generates a P-256 key on a SoftHSM2 token through the CLI and checks
// that the keyring signs with it afterwards.
func TestKeysRotateToPKCS11(t *testing.T) {
	if _, err := os.Stat(softHSMModulePath); err != nil {
		testenv.Skip(t, "SoftHSM2 module %s not installed (scripts/install-test-deps.sh installs it)", softHSMModulePath)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		testenv.Skip(t, "softhsm2-util not installed (scripts/install-test-deps.sh installs it)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// SoftHSM reads its configuration from the process environment when the module loads.
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "cli-test", "--pin", "4321", "--so-pin", "8765").CombinedOutput(); err != nil {
		t.Fatalf("init token: %v: %s", err, out)
	}

	home := t.TempDir()
	env := map[string]string{"CAVRA_HOME": home, pkcs11PINVar: "4321"}
	args := []string{"rotate", "--pkcs11-module", softHSMModulePath, "--pkcs11-token", "cli-test", "--pkcs11-label", "audit-1"}

	_, errOut, code := runEvidenceCmd(t, env, newKeysCmd, args...)
	if code != exitUsage || !strings.Contains(errOut, "no private key labelled") {
		t.Fatalf("rotate to a missing HSM key: exit %d, %s", code, errOut)
	}
	out, errOut, code := runEvidenceCmd(t, env, newKeysCmd, append(args, "--pkcs11-generate")...)
	if code != exitOK || !strings.Contains(out, "ecdsa-p256-sha256, pkcs11") {
		t.Fatalf("rotate --pkcs11-generate: exit %d: %s%s", code, out, errOut)
	}
	_, _, code = runEvidenceCmd(t, env, newKeysCmd, append(args, "--pkcs11-generate")...)
	if code != exitUsage {
		t.Errorf("generating over an existing label: exit %d, want %d", code, exitUsage)
	}
	jsonOut, _, _ := runEvidenceCmd(t, env, newKeysCmd, "list", "--json")
	ks, err := verify.ParseKeys([]byte(jsonOut))
	if err != nil || len(ks) != 2 || ks[1].Custody != "pkcs11" || ks[1].Status != "active" || ks[0].Status != "retired" {
		t.Fatalf("keys after rotating to the HSM: %v\n%s", err, jsonOut)
	}
	// The HSM key signs a bundle that verifies against the keyring.
	bundlePath := evidenceBundleWithPIN(t, filepath.Join(home, "keys"), "4321")
	out, errOut, code = runEvidenceCmd(t, env, newVerifyCmd, bundlePath, "--trusted-keys", filepath.Join(home, "keys", "keyring.json"))
	if code != exitOK || !strings.Contains(out, ks[1].ID) {
		t.Fatalf("verify an HSM-signed bundle: exit %d: %s%s", code, out, errOut)
	}
}

// TestKeysRotateToKMS creates a P-256 key in a local AWS KMS API server through the CLI and
// verifies a bundle the keyring signs with it.
func TestKeysRotateToKMS(t *testing.T) {
	keystest.StartLocalKMS(t)
	home := t.TempDir()
	env := map[string]string{"CAVRA_HOME": home}
	const ref = "awskms:///alias/cavra-cli-test"

	_, errOut, code := runEvidenceCmd(t, env, newKeysCmd, "rotate", "--kms", ref)
	if code != exitUsage {
		t.Fatalf("rotate to a KMS alias that does not exist: exit %d, %s", code, errOut)
	}
	out, errOut, code := runEvidenceCmd(t, env, newKeysCmd, "rotate", "--kms", ref, "--kms-create")
	if code != exitOK || !strings.Contains(out, "ecdsa-p256-sha256, kms") {
		t.Fatalf("rotate --kms-create: exit %d: %s%s", code, out, errOut)
	}
	bundlePath := evidenceBundle(t, filepath.Join(home, "keys"), time.Now())
	out, errOut, code = runEvidenceCmd(t, env, newVerifyCmd, bundlePath, "--trusted-keys", filepath.Join(home, "keys", "keyring.json"))
	if code != exitOK {
		t.Fatalf("verify a KMS-signed bundle: exit %d: %s%s", code, out, errOut)
	}
}
