package keys

import (
	"fmt"
	"time"

	"github.com/cavra-dev/cavra"
)

// Valid reports whether a signature the key made at t counts: t must fall in the key's window
// [NotBefore, NotAfter] (NotAfter zero: no end) and before its revocation, if any.
func Valid(info cavra.KeyInfo, t time.Time) error {
	if t.Before(info.NotBefore) {
		return fmt.Errorf("key %s signed at %s, before its window opens at %s", info.ID, t.UTC().Format(time.RFC3339Nano), info.NotBefore.UTC().Format(time.RFC3339Nano))
	}
	if !info.NotAfter.IsZero() && t.After(info.NotAfter) {
		return fmt.Errorf("key %s signed at %s, after its window closed at %s", info.ID, t.UTC().Format(time.RFC3339Nano), info.NotAfter.UTC().Format(time.RFC3339Nano))
	}
	if !info.RevokedAt.IsZero() && !t.Before(info.RevokedAt) {
		return fmt.Errorf("key %s signed at %s, at or after its revocation at %s", info.ID, t.UTC().Format(time.RFC3339Nano), info.RevokedAt.UTC().Format(time.RFC3339Nano))
	}
	if info.Status == cavra.KeyRevoked && info.RevokedAt.IsZero() {
		return fmt.Errorf("key %s is revoked with no revocation time", info.ID)
	}
	return nil
}
