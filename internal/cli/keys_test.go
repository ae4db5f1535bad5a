package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/cavra-dev/cavra/internal/bundle"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/verify"
)

// runEvidenceCmd runs a command in-process with the given environment and returns stdout,
// stderr and the exit code Run would give.
func runEvidenceCmd(t *testing.T, env map[string]string, newCmd func(*runtime) *cobra.Command, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rt := &runtime{
		stdin:  strings.NewReader(""),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return env[k] },
		logger: slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	cmd := newCmd(rt)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitUsage
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		stderr.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), code
}

func TestKeysCommands(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"CAVRA_HOME": home}

	out, errOut, code := runEvidenceCmd(t, env, newKeysCmd, "list")
	if code != exitOK {
		t.Fatalf("keys list: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, keys.DefaultName+"+") || !strings.Contains(out, "active") {
		t.Errorf("keys list output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, "keys", "keyring.json")); err != nil {
		t.Errorf("first use did not create the keyring: %v", err)
	}

	jsonOut, _, _ := runEvidenceCmd(t, env, newKeysCmd, "list", "--json")
	first, err := verify.ParseKeys([]byte(jsonOut))
	if err != nil || len(first) != 1 {
		t.Fatalf("keys list --json is not a trusted-keys file: %v\n%s", err, jsonOut)
	}

	out, errOut, code = runEvidenceCmd(t, env, newKeysCmd, "rotate")
	if code != exitOK || !strings.Contains(out, "active key: ") {
		t.Fatalf("keys rotate: exit %d: %s%s", code, out, errOut)
	}

	at := "2026-11-25T09:30:00Z"
	out, errOut, code = runEvidenceCmd(t, env, newKeysCmd, "revoke", first[0].ID, "--at", at)
	if code != exitOK || !strings.Contains(out, "revoked "+first[0].ID+" at "+at) {
		t.Fatalf("keys revoke: exit %d: %s%s", code, out, errOut)
	}
	jsonOut, _, _ = runEvidenceCmd(t, env, newKeysCmd, "list", "--json")
	all, err := verify.ParseKeys([]byte(jsonOut))
	if err != nil || len(all) != 2 {
		t.Fatalf("after rotate: %v\n%s", err, jsonOut)
	}
	if all[0].Status != "revoked" || all[0].RevokedAt.Format(time.RFC3339) != at || all[1].Status != "active" {
		t.Errorf("keys after revoke = %+v", all)
	}
}

func TestKeysCommandErrors(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"CAVRA_HOME": home}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "revoke unknown key", args: []string{"revoke", "cavra.local/audit+00000000"}, want: "no key"},
		{name: "revoke bad time", args: []string{"revoke", "x+00000000", "--at", "yesterday"}, want: "RFC 3339"},
		{name: "revoke without id", args: []string{"revoke"}, want: "arg"},
		{name: "pkcs11 flags incomplete", args: []string{"rotate", "--pkcs11-token", "t"}, want: "--pkcs11-module"},
		{name: "pkcs11 without pin", args: []string{"rotate", "--pkcs11-module", "/m.so", "--pkcs11-token", "t", "--pkcs11-label", "l"}, want: pkcs11PINVar},
		{name: "pkcs11 and kms", args: []string{"rotate", "--pkcs11-token", "t", "--kms", "x://y"}, want: "choose one"},
		{name: "unknown kms provider", args: []string{"rotate", "--kms", "nosuchkms://key"}, want: "kms"},
		{name: "kms-create without kms", args: []string{"rotate", "--kms-create"}, want: "--kms-create needs --kms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runEvidenceCmd(t, env, newKeysCmd, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.want)
			}
		})
	}
}

func TestKeysHomeFlag(t *testing.T) {
	home := t.TempDir()
	_, errOut, code := runEvidenceCmd(t, map[string]string{}, newKeysCmd, "list", "--home", home)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "keys", "keyring.json")); err != nil {
		t.Errorf("--home was not used: %v", err)
	}
}

// evidenceBundle writes a bundle of a small log signed by the keyring's active key, with the
// checkpoint dated cpTime, and returns its path.
func evidenceBundle(t *testing.T, keyDir string, cpTime time.Time) string {
	t.Helper()
	return buildEvidenceBundle(t, keyDir, cpTime)
}

func evidenceBundleWithPIN(t *testing.T, keyDir, pin string) string {
	t.Helper()
	return buildEvidenceBundle(t, keyDir, time.Now(), keys.WithPKCS11PIN(pin))
}

func buildEvidenceBundle(t *testing.T, keyDir string, cpTime time.Time, opts ...keys.Option) string {
	t.Helper()
	ctx := t.Context()
	k, err := keys.Load(ctx, keyDir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.(io.Closer).Close()
	tree := testonly.New(rfc6962.DefaultHasher)
	var records [][]byte
	for i := range 4 {
		rec := fmt.Appendf(nil, `{"index":%d,"outcome":"allow"}`, i)
		records = append(records, rec)
		tree.AppendData(rec)
	}
	text := fmt.Sprintf("test.local/log\n4\n%s\n%s\n", base64.StdEncoding.EncodeToString(tree.Hash()), verify.TimeExtension(cpTime))
	ns, err := keys.NoteSigner(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: text}, ns)
	if err != nil {
		t.Fatal(err)
	}
	in := bundle.Input{TreeSize: 4, Checkpoint: cp, Keys: k.Keys(), SignedAt: cpTime.Add(time.Minute)}
	for _, i := range []uint64{1, 3} {
		p, err := tree.InclusionProof(i, 4)
		if err != nil {
			t.Fatal(err)
		}
		in.Entries = append(in.Entries, bundle.Entry{Index: i, Record: records[i], InclusionProof: p})
	}
	data, err := bundle.Build(ctx, s, in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyCommand(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"CAVRA_HOME": home}
	if _, errOut, code := runEvidenceCmd(t, env, newKeysCmd, "list"); code != exitOK {
		t.Fatalf("keys list: %s", errOut)
	}
	keyDir := filepath.Join(home, "keys")
	cpTime := time.Now() // after the key was made: inside its window
	bundlePath := evidenceBundle(t, keyDir, cpTime)

	trustedJSON, _, _ := runEvidenceCmd(t, env, newKeysCmd, "list", "--json")
	trustedPath := filepath.Join(t.TempDir(), "trusted.json")
	if err := os.WriteFile(trustedPath, []byte(trustedJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(tampered, bytes.Replace(raw, []byte(`"tree_size": 4`), []byte(`"tree_size": 5`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	if err := os.WriteFile(garbage, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "self asserted", args: []string{bundlePath}, wantCode: exitOK, wantOut: "warning: trusted the keys inside the bundle"},
		{name: "trusted keys", args: []string{bundlePath, "--trusted-keys", trustedPath}, wantCode: exitOK, wantOut: "OK: 2 entries verified"},
		{name: "keyring as trusted keys", args: []string{bundlePath, "--trusted-keys", filepath.Join(keyDir, "keyring.json")}, wantCode: exitOK, wantOut: "OK"},
		{name: "tampered", args: []string{tampered, "--trusted-keys", trustedPath}, wantCode: exitFailure, wantOut: "checkpoint mismatch"},
		{name: "not a bundle", args: []string{garbage}, wantCode: exitFailure, wantOut: "malformed bundle"},
		{name: "missing file", args: []string{filepath.Join(home, "absent.json")}, wantCode: exitUsage, wantOut: "read bundle"},
		{name: "bad trusted keys file", args: []string{bundlePath, "--trusted-keys", garbage}, wantCode: exitUsage, wantOut: "trusted keys"},
		{name: "no argument", args: []string{}, wantCode: exitUsage, wantOut: "arg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runEvidenceCmd(t, env, newVerifyCmd, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.wantOut) {
				t.Errorf("output does not mention %q:\n%s%s", tc.wantOut, out, errOut)
			}
		})
	}

	// Revoking the key from before the checkpoint was signed makes the bundle fail for an
	// auditor holding the updated key list.
	first, err := verify.ParseKeys([]byte(trustedJSON))
	if err != nil {
		t.Fatal(err)
	}
	revokeAt := cpTime.Add(-time.Second).UTC().Format(time.RFC3339Nano)
	if _, errOut, code := runEvidenceCmd(t, env, newKeysCmd, "revoke", first[0].ID, "--at", revokeAt); code != exitOK {
		t.Fatalf("revoke: %s", errOut)
	}
	_, errOut, code := runEvidenceCmd(t, env, newVerifyCmd, bundlePath, "--trusted-keys", filepath.Join(keyDir, "keyring.json"))
	if code != exitFailure || !strings.Contains(errOut, "revocation") {
		t.Errorf("bundle signed after revocation: exit %d, stderr %s", code, errOut)
	}
}
