package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/mcpgw"
)

func TestEvidenceRecordsMCPResults(t *testing.T) {
	home := t.TempDir()
	rt := &runtime{getenv: func(k string) string { return map[string]string{"CAVRA_HOME": home}[k] }}
	ctx := context.Background()
	ev, err := openEvidence(ctx, rt, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := mcpgw.ResultRecord{DecisionID: "dec-1", Server: "fs", Tool: "read_text_file", ResultHash: "sha256:" + sha256Hex("result"),
		Findings: []mcpgw.Finding{{Rule: "secret", Where: "content[0]", Text: "aws-access-token"}}, Handling: "redacted",
		ReceivedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	if err := ev.RecordResult(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := ev.Close(); err != nil {
		t.Fatal(err)
	}
	// A closed log cannot take the record: the gateway must hear so, and withhold the result.
	if err := ev.RecordResult(ctx, rec); err == nil || !strings.Contains(err.Error(), "record mcp result of fs/read_text_file") {
		t.Errorf("record on a closed audit log: %v, want an error naming the call", err)
	}

	got := readRecords[mcpgw.ResultRecord](t, home, cavra.RecordMCPResult)
	if len(got) != 1 {
		t.Fatalf("%d result records, want 1", len(got))
	}
	g := got[0]
	if g.DecisionID != rec.DecisionID || g.Server != rec.Server || g.Tool != rec.Tool || g.ResultHash != rec.ResultHash ||
		g.Handling != rec.Handling || !g.ReceivedAt.Equal(rec.ReceivedAt) || len(g.Findings) != 1 || g.Findings[0] != rec.Findings[0] {
		t.Errorf("read back %+v, want %+v", g, rec)
	}
}
