package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/verify"

	_ "modernc.org/sqlite"
)

// runEvidenceCLI runs the command line with init and audit registered even before the root
// command lists them, mapping errors to exit codes as run does.
func runEvidenceCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	rt := &runtime{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code := run(context.Background(), args, rt)
	if code == exitUsage && strings.Contains(errb.String(), "unknown command") {
		out.Reset()
		errb.Reset()
		root := newRootCmd(rt)
		for _, c := range []*cobra.Command{newInitCmd(rt), newAuditCmd(rt)} {
			if found, _, err := root.Find([]string{c.Name()}); err != nil || found == root {
				root.AddCommand(c)
			}
		}
		root.SetArgs(args)
		root.SetOut(rt.stdout)
		root.SetErr(rt.stderr)
		code = exitOK
		if err := root.ExecuteContext(context.Background()); err != nil {
			var ee *exitError
			code = exitUsage
			if errors.As(err, &ee) {
				code = ee.code
			}
			errb.WriteString("cavra: " + err.Error() + "\n")
		}
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestInitIsIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	env := map[string]string{"CAVRA_HOME": dir}
	first := runEvidenceCLI(t, env, "init")
	if first.code != 0 || !strings.Contains(first.stdout, "(created)") {
		t.Fatalf("first init: %+v", first)
	}
	keyring, err := os.ReadFile(filepath.Join(dir, "keys", "keyring.json"))
	if err != nil {
		t.Fatalf("no keyring after init: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("store:\n  synchronous: NORMAL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	second := runEvidenceCLI(t, env, "init")
	if second.code != 0 || !strings.Contains(second.stdout, "(kept)") {
		t.Fatalf("second init: %+v", second)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "keys", "keyring.json"))
	if !bytes.Equal(keyring, again) {
		t.Fatal("second init changed the keyring")
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if string(cfg) != "store:\n  synchronous: NORMAL\n" {
		t.Fatalf("second init overwrote the config: %q", cfg)
	}
	for _, f := range []string{"cavra.db", "keys"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("init did not create %s: %v", f, err)
		}
	}
}

func recordDecisions(t *testing.T, dir string, n int) {
	t.Helper()
	ctx := cavra.WithWorkspace(context.Background(), "repo")
	l, closeFn, err := audit.OpenLocal(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	for i := range n {
		a := cavra.Action{Kind: cavra.KindCommandExec, Command: &cavra.Command{Line: "rm -rf build"}}
		d := cavra.Decision{ID: "dec-" + string(rune('a'+i)), Outcome: cavra.Block, RuleID: "fs.rm-rf", Reason: "no", Policy: "baseline"}
		if err := l.RecordDecision(ctx, a, d); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	env := map[string]string{"CAVRA_HOME": dir}
	if r := runEvidenceCLI(t, env, "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	recordDecisions(t, dir, 5)

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"list", []string{"audit", "list"}, 0, []string{"INDEX", "block", "fs.rm-rf", "dec-e"}},
		{"list json", []string{"audit", "list", "--json", "--from", "3"}, 0, []string{`"index": 3`, `"index": 4`}},
		{"show by index", []string{"audit", "show", "2"}, 0, []string{`"index": 2`, `"leaf_hash"`, `"rm -rf build"`}},
		{"show by id", []string{"audit", "show", "dec-b"}, 0, []string{`"index": 1`}},
		{"show missing", []string{"audit", "show", "nope"}, 1, nil},
		{"cut checkpoint", []string{"audit", "checkpoint", "--cut"}, 0, []string{"cavra.local/audit/default\n5\n", "— cavra.local/audit "}},
		{"print checkpoint", []string{"audit", "checkpoint"}, 0, []string{"\n5\n"}},
		{"prove", []string{"audit", "prove", "3"}, 0, []string{`"tree_size": 5`, `"inclusion_proof"`}},
		{"prove beyond checkpoint", []string{"audit", "prove", "7"}, 1, nil},
		{"prove bad index", []string{"audit", "prove", "x"}, 2, nil},
		{"verify", []string{"audit", "verify"}, 0, []string{"ok: 5 entries"}},
		{"other tenant is empty", []string{"audit", "--tenant", "t2", "verify"}, 0, []string{"ok: 0 entries"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runEvidenceCLI(t, env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %+v", r.code, tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Fatalf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}

	t.Run("export verifies offline", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "bundle.json")
		r := runEvidenceCLI(t, env, "audit", "export", "-o", out)
		if r.code != 0 {
			t.Fatalf("export: %+v", r)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		keysFile, err := os.ReadFile(filepath.Join(dir, "keys", "keyring.json"))
		if err != nil {
			t.Fatal(err)
		}
		trusted, err := verify.ParseKeys(keysFile)
		if err != nil {
			t.Fatal(err)
		}
		res, err := verify.Check(data, verify.Options{TrustedKeys: trusted})
		if err != nil {
			t.Fatalf("offline verify: %v", err)
		}
		if res.Entries != 5 || res.TreeSize != 5 {
			t.Fatalf("bundle result = %+v", res)
		}
	})

	t.Run("verify names the first bad entry", func(t *testing.T) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "cavra.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE audit_entries SET record = CAST(replace(CAST(record AS TEXT), 'rm -rf', 'ls -la') AS BLOB) WHERE idx = 3`); err != nil {
			t.Fatal(err)
		}
		r := runEvidenceCLI(t, env, "audit", "verify")
		if r.code != 1 || !strings.Contains(r.stderr, "audit entry 3") {
			t.Fatalf("verify of a tampered log: %+v", r)
		}
	})
}
