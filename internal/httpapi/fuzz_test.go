package httpapi

import (
	"io"
	"log/slog"
	"testing"
)

// FuzzDecisionsAndHooks posts arbitrary bodies to the two endpoints agents call: whatever the
// body, the answer is never a 5xx and the server never panics (the recover middleware would
// turn a panic into a 500, so a 5xx catches both).
func FuzzDecisionsAndHooks(f *testing.F) {
	f.Add([]byte(`{"kind":"command.exec","command":{"line":"git push --force origin main"},"cwd":"/repo"}`))
	f.Add([]byte(`{"session_id":"s","cwd":"/repo","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}`))
	f.Add([]byte(`{"kind":`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	// A long run must not pile up access-log lines in memory.
	env := newTestEnv(f, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/decisions", "/v1/hooks/claude-code"} {
			rec := env.do(t, "POST", path, agentSecret, body)
			if rec.Code >= 500 {
				t.Fatalf("POST %s answered %d for %q: %s", path, rec.Code, body, rec.Body.String())
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("POST %s answered %d without a problem: %q", path, rec.Code, rec.Header().Get("Content-Type"))
			}
		}
	})
}
