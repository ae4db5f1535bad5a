package secrets

import (
	"strings"
	"testing"
)

// FuzzScan checks that Scan never panics, reports positions inside the text and masked
// matches, and agrees with gitleaks' own detector on every input.
func FuzzScan(f *testing.F) {
	f.Add("")
	f.Add("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n")
	f.Add("password := flag.String(\"password\", \"\", \"db password\")")
	s := New()
	f.Fuzz(func(t *testing.T, text string) {
		got := s.Scan(text)
		lines := strings.Count(text, "\n") + 1
		for _, g := range got {
			if g.Line < 1 || g.Line > lines || g.Column < 1 || g.Column > len(text)+1 {
				t.Fatalf("finding %s at %d:%d outside a text of %d lines, %d bytes", g.RuleID, g.Line, g.Column, lines, len(text))
			}
			if !strings.Contains(g.Redacted, "****") {
				t.Fatalf("finding %s not masked: %q", g.RuleID, g.Redacted)
			}
		}
		compareWithGitleaks(t, s, text)
	})
}
