package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/attest"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
)

func writePayload(cwd, path, content string) string {
	b, _ := json.Marshal(map[string]any{
		"session_id": "8c35", "cwd": cwd, "hook_event_name": "PreToolUse", "tool_name": "Write",
		"tool_input": map[string]any{"file_path": path, "content": content}, "tool_use_id": "toolu_01W",
	})
	return string(b)
}

// auditRecords returns the data home's audit entries of one type, oldest first.
func auditRecords(t *testing.T, root string, typ cavra.RecordType) []cavra.AuditEntry {
	t.Helper()
	ctx := context.Background()
	log, closeLog, err := audit.OpenLocal(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	head, err := log.Store().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []cavra.AuditEntry
	err = log.Store().ScanAuditEntries(ctx, 0, head.Size, func(e cavra.AuditEntry) error {
		if e.Type == typ {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recordBody decodes the "body" member of an audit record.
func recordBody(t *testing.T, e cavra.AuditEntry, v any) {
	t.Helper()
	var rec struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(e.Record, &rec); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec.Body, v); err != nil {
		t.Fatalf("record body %s: %v", rec.Body, err)
	}
}

func TestHookAttestsRegulatedCodeChange(t *testing.T) {
	env := hookEnv(t)
	root := env["CAVRA_HOME"]
	content := "package payments\n\nfunc Charge() {}\n"
	r := runCLI(t, env, writePayload("/repo", "payments/charge.go", content), "hook", "claude-code", "--policy", "regulated")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	var ans claudecode.Answer
	if err := json.Unmarshal([]byte(r.stdout), &ans); err != nil {
		t.Fatalf("answer %q: %v", r.stdout, err)
	}
	if ans.HookSpecificOutput.PermissionDecision != "allow" {
		t.Fatalf("answer %+v, want allow", ans.HookSpecificOutput)
	}

	decisions := readDecisions(t, root)
	if len(decisions) != 1 || decisions[0].Decision.Outcome != cavra.AllowWithAttestation || decisions[0].Decision.RuleID != "regulated.code-change-attested" {
		t.Fatalf("decisions %+v", decisions)
	}
	dec := decisions[0]
	path := filepath.Join(root, attestationsDir, dec.ID+".dsse.json")
	envelope, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the attestation of decision %s: %v", dec.ID, err)
	}

	// The audit log binds the envelope's digest next to the decision.
	recs := auditRecords(t, root, attest.RecordType)
	if len(recs) != 1 {
		t.Fatalf("%d attestation records, want 1", len(recs))
	}
	var rec attestationRecord
	recordBody(t, recs[0], &rec)
	sum := sha256.Sum256(envelope)
	if rec.DecisionID != dec.ID || rec.DecisionIndex != dec.AuditIndex || rec.SHA256 != hex.EncodeToString(sum[:]) || rec.Path != "attestations/"+dec.ID+".dsse.json" {
		t.Fatalf("attestation record %+v for decision %s at %d", rec, dec.ID, dec.AuditIndex)
	}

	// The statement carries the decision and digests, never the content written.
	raw := envelopePayload(t, envelope)
	if strings.Contains(raw, "func Charge") {
		t.Fatalf("the statement carries the written content: %s", raw)
	}
	wantSubject := hex.EncodeToString(func() []byte { s := sha256.Sum256([]byte(content)); return s[:] }())
	if !strings.Contains(raw, `"name":"/repo/payments/charge.go","digest":{"sha256":"`+wantSubject+`"}`) {
		t.Fatalf("statement lacks the written file's digest: %s", raw)
	}

	// cavra attest verify: the data home's keyring by default, and says so.
	v := runCLI(t, env, "", "attest", "verify", path)
	if v.code != 0 || !strings.Contains(v.stdout, "OK: attestation verified") || !strings.Contains(v.stdout, "by rule regulated.code-change-attested of policy regulated") ||
		!strings.Contains(v.stdout, "the data home's keyring") || !strings.Contains(v.stdout, "audit index "+strconv.FormatUint(dec.AuditIndex, 10)) {
		t.Fatalf("attest verify: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}

	// With an explicit trusted-keys file.
	keysOut := runCLI(t, env, "", "keys", "list", "--json")
	if keysOut.code != 0 {
		t.Fatalf("keys list: %s", keysOut.stderr)
	}
	trustedPath := writeFile(t, "trusted.json", keysOut.stdout)
	if v := runCLI(t, env, "", "attest", "verify", path, "--trusted-keys", trustedPath); v.code != 0 || !strings.Contains(v.stdout, "trusted keys from "+trustedPath) {
		t.Fatalf("attest verify --trusted-keys: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}

	// A tampered statement fails with exit 1.
	tampered := strings.Replace(raw, "allow_with_attestation", "allow", 1)
	var m map[string]any
	if err := json.Unmarshal(envelope, &m); err != nil {
		t.Fatal(err)
	}
	m["payload"] = base64.StdEncoding.EncodeToString([]byte(tampered))
	tb, _ := json.Marshal(m)
	if v := runCLI(t, env, "", "attest", "verify", writeFile(t, "tampered.json", string(tb))); v.code != 1 || !strings.Contains(v.stderr, "does not verify") {
		t.Fatalf("tampered: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}

	// A key revoked before the signing time makes the attestation fail; one revoked after
	// leaves it valid.
	var listed []cavra.KeyInfo
	if err := json.Unmarshal([]byte(keysOut.stdout), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("keys list --json %q: %v", keysOut.stdout, err)
	}
	if v := runCLI(t, env, "", "keys", "revoke", listed[0].ID, "--at", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)); v.code != 0 {
		t.Fatalf("keys revoke: exit %d %s", v.code, v.stderr)
	}
	if v := runCLI(t, env, "", "attest", "verify", path); v.code != 1 || !strings.Contains(v.stderr, "revocation") {
		t.Fatalf("after revocation: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	// The revocation rotated to a new key: the next attested act is signed with it and verifies.
	if r := runCLI(t, env, writePayload("/repo", "billing/invoice.go", "package billing\n"), "hook", "claude-code", "--policy", "regulated"); r.code != 0 {
		t.Fatalf("second hook: exit %d %s", r.code, r.stderr)
	}
	decisions = readDecisions(t, root)
	if len(decisions) != 2 {
		t.Fatalf("decisions %+v", decisions)
	}
	second := filepath.Join(root, attestationsDir, decisions[1].ID+".dsse.json")
	if v := runCLI(t, env, "", "attest", "verify", second); v.code != 0 || strings.Contains(v.stdout, listed[0].ID) {
		t.Fatalf("attestation after rotation: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	// The earlier trusted-keys file predates the revocation: the signature still verifies
	// against it, which is why verifiers should fetch current keys.
	if v := runCLI(t, env, "", "attest", "verify", path, "--trusted-keys", trustedPath); v.code != 0 {
		t.Fatalf("old trusted keys: exit %d %s", v.code, v.stderr)
	}
}

func envelopePayload(t *testing.T, envelope []byte) string {
	t.Helper()
	var e struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &e); err != nil {
		t.Fatal(err)
	}
	p, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func TestAttestVerifyUsage(t *testing.T) {
	env := hookEnv(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "no file", args: []string{"attest", "verify"}, code: exitUsage},
		{name: "missing file", args: []string{"attest", "verify", filepath.Join(t.TempDir(), "none.json")}, code: exitUsage, want: "read attestation"},
		{name: "no keyring in the data home", args: []string{"attest", "verify", writeFile(t, "a.json", "{}")}, code: exitUsage, want: "no keyring"},
		{name: "bad trusted keys", args: []string{"attest", "verify", writeFile(t, "b.json", "{}"), "--trusted-keys", writeFile(t, "k.json", "nonsense")}, code: exitUsage, want: "trusted keys"},
		{name: "malformed envelope", args: []string{"attest", "verify", writeFile(t, "c.json", "{"), "--trusted-keys", writeFile(t, "k2.json", "[]")}, code: exitFailure, want: "malformed attestation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, env, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want %d; stderr %q lacks %q", r.code, tt.code, r.stderr, tt.want)
			}
		})
	}
}

func TestCICheckAttestsAICommits(t *testing.T) {
	dir := newRepo(t)
	git(t, dir, "checkout", "-q", "-b", "feature")
	writeRepoFile(t, dir, "src/app.go", "package app\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "add app\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
	aiCommit := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	writeRepoFile(t, dir, "src/util.go", "package app\n\nfunc util() {}\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "human commit")

	env := hookEnv(t)
	out := filepath.Join(t.TempDir(), "commits.dsse.json")
	r := runCommand(t, env, "", ciCmd, "ci", "check", "--base", "main", "--repo", dir, "--attest", out)
	if r.code != 0 || !strings.Contains(r.stderr, "attested 1 AI-authored commits") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	envelope, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	keysOut := runCLI(t, env, "", "keys", "list", "--json")
	var trusted []cavra.KeyInfo
	if err := json.Unmarshal([]byte(keysOut.stdout), &trusted); err != nil {
		t.Fatal(err)
	}
	v, err := attest.Verify(envelope, trusted, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var commits []string
	for _, s := range v.Subjects {
		if id := s.Digest["gitCommit"]; id != "" {
			commits = append(commits, id)
		}
	}
	if len(commits) != 1 || commits[0] != aiCommit || v.Predicate.Host != "ci" || !v.Predicate.Decision.Outcome.Permits() {
		t.Fatalf("attested commits %v (want only %s), predicate %+v", commits, aiCommit, v.Predicate)
	}
	// The same envelope sits in the data home, recorded in the audit log.
	if recs := auditRecords(t, env["CAVRA_HOME"], attest.RecordType); len(recs) != 1 {
		t.Fatalf("%d attestation records, want 1", len(recs))
	}
	if v := runCLI(t, env, "", "attest", "verify", out); v.code != 0 || !strings.Contains(v.stdout, "git:commit:"+aiCommit+" gitCommit:"+aiCommit) {
		t.Fatalf("attest verify: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}

	// A failing change is not attested.
	writeRepoFile(t, dir, "deploy.sh", "export GITHUB_TOKEN="+fakeGitHubPAT()+"\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "deploy\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
	failed := filepath.Join(t.TempDir(), "failed.dsse.json")
	if r := runCommand(t, env, "", ciCmd, "ci", "check", "--base", "main", "--repo", dir, "--attest", failed); r.code != 1 || !strings.Contains(r.stderr, "not attested") {
		t.Fatalf("failing change: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Fatalf("a failing change left an attestation: %v", err)
	}
}

// BenchmarkHookAttested measures the claude-code hook in-process, on a data home on disk, for a
// write the regulated pack attests and for one it merely allows; the difference is the cost
// of signing, writing and recording the attestation.
func BenchmarkHookAttested(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{name: "attested", path: "payments/charge.go"},
		{name: "allowed", path: "docs/notes.txt"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := map[string]string{"CAVRA_HOME": b.TempDir()}
			payload := writePayload("/repo", bc.path, "package payments\n")
			var lat []time.Duration
			for b.Loop() {
				var out, errb strings.Builder
				rt := &runtime{stdin: strings.NewReader(payload), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
				start := time.Now()
				if code := run(context.Background(), []string{"hook", "claude-code", "--policy", "regulated"}, rt); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
