//go:build cgo

package keys

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/testenv"
)

const (
	softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"
	testToken     = "cavra-test"
	testPIN       = "1234"
)

var (
	softHSMOnce sync.Once
	softHSMDir  string
	softHSMErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if softHSMDir != "" {
		os.RemoveAll(softHSMDir)
	}
	os.Exit(code)
}

// softHSMAvailable finds softhsm2-util, or says what is missing.
func softHSMAvailable() (string, error) {
	if _, err := os.Stat(softHSMModule); err != nil {
		return "", fmt.Errorf("SoftHSM2 module %s not installed (scripts/install-test-deps.sh installs it)", softHSMModule)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return "", fmt.Errorf("softhsm2-util not installed (scripts/install-test-deps.sh installs it)")
	}
	return util, nil
}

// softHSM gives the test a SoftHSM2 token in a private token directory, made once per test
// binary: SoftHSM reads its configuration when the module is first initialised.
func softHSM(t *testing.T) PKCS11Config {
	t.Helper()
	util, err := softHSMAvailable()
	if err != nil {
		testenv.Skip(t, "%v", err)
	}
	return setUpSoftHSM(t, util)
}

func softHSMBench(b *testing.B) PKCS11Config {
	b.Helper()
	util, err := softHSMAvailable()
	if err != nil {
		b.Skip(err)
	}
	return setUpSoftHSM(b, util)
}

func setUpSoftHSM(t testing.TB, util string) PKCS11Config {
	t.Helper()
	softHSMOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cavra-softhsm-")
		if err != nil {
			softHSMErr = err
			return
		}
		softHSMDir = dir
		tokens := filepath.Join(dir, "tokens")
		conf := filepath.Join(dir, "softhsm2.conf")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			softHSMErr = err
			return
		}
		if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
			softHSMErr = err
			return
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		out, err := exec.Command(util, "--init-token", "--free", "--label", testToken, "--pin", testPIN, "--so-pin", "5678").CombinedOutput()
		if err != nil {
			softHSMErr = fmt.Errorf("softhsm2-util --init-token: %w: %s", err, out)
		}
	})
	if softHSMErr != nil {
		t.Fatalf("set up SoftHSM2: %v", softHSMErr)
	}
	// The token outlives one run of the test binary (go test -count=2): a fresh label each run.
	var nonce [4]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	label := strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(nonce[:])
	return PKCS11Config{Module: softHSMModule, Token: testToken, PIN: testPIN, Label: label}
}

func TestPKCS11GenerateSignAndReopen(t *testing.T) {
	cfg := softHSM(t)
	s, err := GeneratePKCS11Key(t.Context(), cfg)
	if err != nil {
		t.Fatalf("GeneratePKCS11Key: %v", err)
	}
	defer s.Close()
	msg := []byte("checkpoint body")
	sig, err := s.Sign(t.Context(), msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !VerifySignature(AlgECDSAP256, s.Public(), msg, sig) {
		t.Fatal("HSM signature does not verify")
	}
	again, err := OpenPKCS11(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenPKCS11: %v", err)
	}
	defer again.Close()
	if again.KeyID() != s.KeyID() {
		t.Errorf("reopened key id %q, want %q", again.KeyID(), s.KeyID())
	}
	if _, err := GeneratePKCS11Key(t.Context(), cfg); cavra.Code(err) != cavra.ErrConflict {
		t.Errorf("generating over an existing label: err = %v, want conflict", err)
	}
	ns, err := NoteSigner(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: "cavra.local/audit\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, ns)
	if err != nil {
		t.Fatalf("sign checkpoint with the HSM: %v", err)
	}
	der, _ := marshalPublic(s.Public())
	v, err := NoteVerifier(cavra.KeyInfo{ID: s.KeyID(), Algorithm: AlgECDSAP256, PublicKey: der, Status: cavra.KeyActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Errorf("HSM-signed checkpoint does not verify: %v", err)
	}
}

func TestPKCS11Errors(t *testing.T) {
	base := softHSM(t)
	tests := []struct {
		name string
		edit func(*PKCS11Config)
		code cavra.ErrorCode
		want string
	}{
		{name: "wrong pin", edit: func(c *PKCS11Config) { c.PIN = "0000" }, want: "log in"},
		{name: "unknown token", edit: func(c *PKCS11Config) { c.Token = "nope" }, code: cavra.ErrNotFound},
		{name: "unknown label", edit: func(c *PKCS11Config) { c.Label = "absent" }, code: cavra.ErrNotFound},
		{name: "missing module", edit: func(c *PKCS11Config) { c.Module = "/nonexistent/libpkcs11.so" }, code: cavra.ErrUnavailable},
		{name: "no label", edit: func(c *PKCS11Config) { c.Label = "" }, code: cavra.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			s, err := OpenPKCS11(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("OpenPKCS11 succeeded")
			}
			if tc.code != "" && cavra.Code(err) != tc.code {
				t.Errorf("err = %v (code %s), want code %s", err, cavra.Code(err), tc.code)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPKCS11RefRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cfg  PKCS11Config
	}{
		{name: "plain", cfg: PKCS11Config{Module: softHSMModule, Token: "cavra", Label: "audit-1"}},
		{name: "awkward characters", cfg: PKCS11Config{Module: "/opt/my hsm/lib;x.so", Token: "tok;en=1", Label: "a/b?c d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePKCS11Ref(tc.cfg.Ref())
			if err != nil {
				t.Fatalf("ParsePKCS11Ref(%q): %v", tc.cfg.Ref(), err)
			}
			if got != tc.cfg {
				t.Errorf("round trip = %+v, want %+v", got, tc.cfg)
			}
		})
	}
	for _, bad := range []string{"", "file:x", "pkcs11:token=a", "pkcs11:token=a;object=b", "pkcs11:token;object=b?module-path=/x"} {
		if _, err := ParsePKCS11Ref(bad); err == nil {
			t.Errorf("ParsePKCS11Ref(%q) succeeded", bad)
		}
	}
}

func TestKeyringAdoptsPKCS11Key(t *testing.T) {
	cfg := softHSM(t)
	clock := newClock()
	k := initKeyring(t, clock, WithPKCS11PIN(testPIN))
	hsm, err := GeneratePKCS11Key(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer hsm.Close()
	clock.Advance(time.Hour)
	info, err := k.Adopt(t.Context(), hsm, CustodyPKCS11, cfg.Ref())
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	reloaded, err := Load(t.Context(), k.Dir(), WithPKCS11PIN(testPIN))
	if err != nil {
		t.Fatal(err)
	}
	s := activeSigner(t, reloaded)
	if s.KeyID() != info.ID || s.Algorithm() != AlgECDSAP256 {
		t.Fatalf("active = %s %s, want %s", s.KeyID(), s.Algorithm(), info.ID)
	}
	defer s.(io.Closer).Close()
	sig, err := s.Sign(t.Context(), []byte("m"))
	if err != nil || !VerifySignature(AlgECDSAP256, s.Public(), []byte("m"), sig) {
		t.Fatalf("sign through the keyring: %v", err)
	}
	noPIN, err := Load(t.Context(), k.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noPIN.Active(t.Context()); err == nil || !strings.Contains(err.Error(), "PIN") {
		t.Errorf("Active without a PIN: err = %v, want it to ask for a PIN", err)
	}
}
