package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBackupRestoreEndToEnd backs a data home with hook decisions up, restores it into another
// data home and verifies the restored log there.
func TestBackupRestoreEndToEnd(t *testing.T) {
	srcEnv := map[string]string{"CAVRA_HOME": filepath.Join(t.TempDir(), "src")}
	if r := runCLI(t, srcEnv, "", "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	for _, cmd := range []string{"go test ./...", "git push --force origin main", "cd infra && terraform apply", "git reset --hard HEAD~1"} {
		if r := runCLI(t, srcEnv, bashPayload(cmd), "hook", "claude-code"); r.code != 0 {
			t.Fatalf("hook %q: %+v", cmd, r)
		}
	}
	if r := runCLI(t, srcEnv, "", "audit", "checkpoint", "--cut"); r.code != 0 {
		t.Fatalf("checkpoint: %+v", r)
	}
	srcVerify := runCLI(t, srcEnv, "", "audit", "verify")
	if srcVerify.code != 0 || !strings.Contains(srcVerify.stdout, "ok: 4 entries") {
		t.Fatalf("verify the source: %+v", srcVerify)
	}

	archive := filepath.Join(t.TempDir(), "b.tgz")
	r := runCLI(t, srcEnv, "", "backup", "-o", archive)
	if r.code != 0 || !strings.Contains(r.stdout, "1 tenants, 4 entries") || !strings.Contains(r.stderr, "private signing keys") {
		t.Fatalf("backup: %+v", r)
	}
	info, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("archive mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := os.Stat(archive + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("backup left %s.tmp (%v)", archive, err)
	}

	dstEnv := map[string]string{"CAVRA_HOME": filepath.Join(t.TempDir(), "dst")}
	r = runCLI(t, dstEnv, "", "restore", archive)
	if r.code != 0 || !strings.Contains(r.stdout, "restored 1 tenants, 4 entries") {
		t.Fatalf("restore: %+v", r)
	}
	dstVerify := runCLI(t, dstEnv, "", "audit", "verify")
	if dstVerify.code != 0 {
		t.Fatalf("verify the restored home: %+v", dstVerify)
	}
	// Same entries, checkpoints and root: everything but the elapsed time matches.
	elapsed := regexp.MustCompile(` \([^)]*\)\n$`)
	if got, want := elapsed.ReplaceAllString(dstVerify.stdout, ""), elapsed.ReplaceAllString(srcVerify.stdout, ""); got != want {
		t.Fatalf("restored log verifies as %q, the source as %q", got, want)
	}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"restore over a home refused", dstEnv, []string{"restore", archive}, 1, "already holds"},
		{"forced restore moves aside", dstEnv, []string{"restore", "--force", archive}, 0, "moved aside"},
		{"missing archive", dstEnv, []string{"restore", filepath.Join(t.TempDir(), "nope.tgz")}, 2, "open backup"},
		{"restore needs a file", dstEnv, []string{"restore"}, 2, "accepts 1 arg"},
		{"backup needs -o", srcEnv, []string{"backup"}, 2, "-o FILE is required"},
		{"backup of an empty home fails", map[string]string{"CAVRA_HOME": filepath.Join(t.TempDir(), "empty")}, []string{"backup", "-o", filepath.Join(t.TempDir(), "x.tgz")}, 1, "run cavra init"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.env, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q: %+v", r.code, tc.code, tc.want, r)
			}
		})
	}
	if r := runCLI(t, dstEnv, "", "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "ok: 4 entries") {
		t.Fatalf("verify after the forced restore: %+v", r)
	}
}

// TestRestoreCorruptArchive: a damaged archive fails with exit 1 and leaves the home alone.
func TestRestoreCorruptArchive(t *testing.T) {
	srcEnv := map[string]string{"CAVRA_HOME": filepath.Join(t.TempDir(), "src")}
	if r := runCLI(t, srcEnv, "", "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	archive := filepath.Join(t.TempDir(), "b.tgz")
	if r := runCLI(t, srcEnv, "", "backup", "-o", archive); r.code != 0 {
		t.Fatalf("backup: %+v", r)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	r := runCLI(t, map[string]string{"CAVRA_HOME": dst}, "", "restore", archive)
	if r.code != 1 || !strings.Contains(r.stderr, "restore:") {
		t.Fatalf("restore of a truncated archive: %+v", r)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a failed restore created %s (%v)", dst, err)
	}
}
