package cli

import (
	"github.com/cavra-dev/cavra/internal/engine"
	"github.com/cavra-dev/cavra/internal/engine/secrets"
)

// scanSecrets adapts the gitleaks-backed scanner to the engine. The scanner compiles its rules
// only when text first looks like it may hold a secret.
func scanSecrets() func(string) []engine.SecretHit {
	s := secrets.New()
	return func(text string) []engine.SecretHit {
		found := s.Scan(text)
		if len(found) == 0 {
			return nil
		}
		hits := make([]engine.SecretHit, len(found))
		for i, f := range found {
			hits[i] = engine.SecretHit{RuleID: f.RuleID, Description: f.Description, Line: f.Line, Column: f.Column, Redacted: f.Redacted}
		}
		return hits
	}
}

// scanSecrets is the secret scanner for this command: the hook daemon's, whose compiled rules
// outlive a call, or a new one.
func (rt *runtime) scanSecrets() func(string) []engine.SecretHit {
	if rt.hookCache != nil {
		return rt.hookCache.secrets
	}
	return scanSecrets()
}
