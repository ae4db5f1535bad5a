package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/cavra-dev/cavra"
)

// BenchmarkDecisionsEndpoint measures the API's own cost per POST /v1/decisions: routing,
// authentication, strict decoding, identity rules, encoding, metrics and a JSON access-log
// line (to io.Discard), around a Governor that answers a fixed decision at once.
func BenchmarkDecisionsEndpoint(b *testing.B) {
	env := newTestEnv(b, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) })
	env.gov.decision = cavra.Decision{ID: "01JDEC", Outcome: cavra.Block, RuleID: "git.force-push", Severity: cavra.SeverityHigh,
		Reason: "force push rewrites shared history", Remediation: "push without --force", Policy: "baseline",
		PolicyRevision: "sha256:0123456789abcdef", Fingerprint: "sha256:fedcba", DecidedAt: testNow}
	gov := &fixedGovernor{d: env.gov.decision}
	env.srv.cfg.Governor = gov
	body := []byte(`{"kind":"command.exec","cwd":"/repo","command":{"line":"git push --force origin main"},"source":{"host":"ci","tool":"Bash"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/decisions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+agentSecret)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		env.srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}

// fixedGovernor answers one decision without recording anything, so the benchmark measures
// the API alone.
type fixedGovernor struct {
	fakeGovernor
	d cavra.Decision
}

func (g *fixedGovernor) Decide(context.Context, cavra.Action) (cavra.Decision, error) {
	return g.d, nil
}
