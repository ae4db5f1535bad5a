package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// execSubcommand runs a command built by newCmd in-process and returns its output and the exit
// code Run would give.
func execSubcommand(t *testing.T, newCmd func(*runtime) *cobra.Command, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rt := &runtime{
		stdin:  strings.NewReader(""),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(string) string { return "" },
		logger: slog.New(slog.NewTextHandler(&stderr, nil)),
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

func writeModelTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-bert")
	for name, content := range map[string]string{
		"config.json":       `{"model_type":"bert","architectures":["BertModel"]}`,
		"README.md":         "---\nlicense: mit\ndatasets: [imdb]\n---\n# tiny\n",
		"model.safetensors": "weights",
		".git/HEAD":         "ref: refs/heads/main\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestModelKeygenSignVerify(t *testing.T) {
	keys := t.TempDir()
	priv, pub := filepath.Join(keys, "k.pem"), filepath.Join(keys, "k.pub")
	out, errOut, code := execSubcommand(t, newModelCmd, "keygen", "--private-key", priv, "--public-key", pub)
	if code != exitOK {
		t.Fatalf("keygen exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "key hint:") {
		t.Errorf("keygen output %q", out)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st, err)
	}
	if _, _, code := execSubcommand(t, newModelCmd, "keygen", "--private-key", priv, "--public-key", pub); code != exitUsage {
		t.Errorf("keygen over existing keys: exit %d, want %d", code, exitUsage)
	}
	otherPriv, otherPub := filepath.Join(keys, "o.pem"), filepath.Join(keys, "o.pub")
	if _, errOut, code := execSubcommand(t, newModelCmd, "keygen", "--private-key", otherPriv, "--public-key", otherPub); code != exitOK {
		t.Fatalf("keygen: %s", errOut)
	}

	dir := writeModelTree(t)
	if _, errOut, code := execSubcommand(t, newModelCmd, "sign", dir, "--private-key", priv); code != exitOK {
		t.Fatalf("sign exit %d: %s", code, errOut)
	}
	sig := filepath.Join(dir, "model.sig")
	if _, err := os.Stat(sig); err != nil {
		t.Fatalf("default signature path: %v", err)
	}

	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T)
		args    []string
		code    int
		want    string
	}{
		{"verifies", nil, []string{"verify", dir, "--signature", sig, "--public-key", pub}, exitOK, "verified"},
		{"json output", nil, []string{"verify", dir, "--public-key", pub, "--format", "json"}, exitOK, `"verified": true`},
		{"wrong key", nil, []string{"verify", dir, "--public-key", otherPub}, exitFailure, "bundle names key"},
		{"missing key flag", nil, []string{"verify", dir}, exitUsage, "--public-key is required"},
		{"missing signature file", nil, []string{"verify", dir, "--signature", filepath.Join(keys, "none.sig"), "--public-key", pub}, exitUsage, "read signature"},
		{"private key as public", nil, []string{"verify", dir, "--public-key", priv}, exitUsage, "PUBLIC KEY"},
		{"bad format", nil, []string{"verify", dir, "--public-key", pub, "--format", "xml"}, exitUsage, "--format"},
		{"corrupt bundle", func(t *testing.T) {
			bad := filepath.Join(keys, "bad.sig")
			if err := os.WriteFile(bad, []byte(`{"mediaType":`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"verify", dir, "--signature", filepath.Join(keys, "bad.sig"), "--public-key", pub}, exitFailure, "invalid model signature bundle"},
		{"tampered file", func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("evil"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"verify", dir, "--public-key", pub}, exitFailure, "changed: model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t)
			}
			out, errOut, code := execSubcommand(t, newModelCmd, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.want) {
				t.Errorf("output does not mention %q:\n%s%s", tc.want, out, errOut)
			}
		})
	}
}

func TestModelSignRefusesBadInput(t *testing.T) {
	dir := writeModelTree(t)
	keyFile := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(keyFile, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"sign", dir}, "--private-key is required"},
		{"garbage key", []string{"sign", dir, "--private-key", keyFile}, "no PEM block"},
		{"missing dir", []string{"sign", filepath.Join(dir, "nope"), "--private-key", keyFile}, "PEM"},
		{"no args", []string{"sign"}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := execSubcommand(t, newModelCmd, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}

func TestBOMCommand(t *testing.T) {
	dir := writeModelTree(t)
	out, errOut, code := execSubcommand(t, newBOMCmd, dir)
	if code != exitOK {
		t.Fatalf("bom exit %d: %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if doc["bomFormat"] != "CycloneDX" || doc["specVersion"] != "1.6" {
		t.Errorf("header %v %v", doc["bomFormat"], doc["specVersion"])
	}
	if strings.Contains(out, ".git/HEAD") {
		t.Error("git metadata listed in the BOM")
	}

	file := filepath.Join(t.TempDir(), "bom.json")
	if out, errOut, code := execSubcommand(t, newBOMCmd, dir, "-o", file); code != exitOK || out != "" {
		t.Fatalf("bom -o: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	if data, err := os.ReadFile(file); err != nil || !json.Valid(data) {
		t.Fatalf("bom file: %v", err)
	}
	if _, errOut, code := execSubcommand(t, newBOMCmd, filepath.Join(dir, "missing")); code != exitUsage || !strings.Contains(errOut, "bom") {
		t.Errorf("missing dir: exit %d %s", code, errOut)
	}
}
