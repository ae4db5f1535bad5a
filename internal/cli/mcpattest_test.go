package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/mcpgw"
)

// TestMCPGovernorAttests: an MCP call the policy allows with attestation is recorded with its
// signed attestation, like a hook's.
func TestMCPGovernorAttests(t *testing.T) {
	root := t.TempDir()
	rt := &runtime{getenv: func(k string) string { return map[string]string{"CAVRA_HOME": root}[k] }}
	pol, err := newLoader().Load("regulated")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev, err := openEvidence(ctx, rt, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	g := &mcpGovernor{eng: engine.New(pol, engine.Options{}), log: ev}
	a := mcpgw.ToolCallAction("fs", "/repo", "write_file", map[string]any{"path": "payments/charge.go", "content": "package payments\n"})
	normalized, d, err := g.Decide(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != cavra.AllowWithAttestation {
		t.Fatalf("outcome %s [%s], want allow_with_attestation", d.Outcome, d.RuleID)
	}
	if err := g.Record(ctx, normalized, d); err != nil {
		t.Fatal(err)
	}
	envs, err := filepath.Glob(filepath.Join(root, attestationsDir, "*.dsse.json"))
	if err != nil || len(envs) != 1 {
		t.Fatalf("attestations: %v %v", envs, err)
	}
	if fi, err := os.Stat(envs[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("attestation file: %v", err)
	}
	if r := runCLI(t, map[string]string{"CAVRA_HOME": root}, "", "attest", "verify", envs[0]); r.code != 0 {
		t.Fatalf("attest verify: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
}
