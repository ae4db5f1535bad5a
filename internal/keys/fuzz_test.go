package keys

import (
	"testing"
)

// FuzzParseKeyring feeds arbitrary keyring.json contents to the parser: it must never panic,
// and anything it accepts must hold only self-consistent keys with at most one active.
func FuzzParseKeyring(f *testing.F) {
	f.Add([]byte(`{"version":1,"name":"cavra.local/audit","keys":[]}`))
	f.Add([]byte(`{"version":1,"name":"x","keys":[{"id":"x+00000000","algorithm":"ed25519","public_key":"AA==","status":"active","not_before":"2026-01-01T00:00:00Z","ref":"k.pem"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseKeyring(data)
		if err != nil {
			return
		}
		active := 0
		for _, e := range st.Keys {
			if err := checkInfo(e.KeyInfo); err != nil {
				t.Fatalf("accepted an inconsistent key: %v", err)
			}
			if e.Status == "active" {
				active++
			}
		}
		if active > 1 {
			t.Fatalf("accepted %d active keys", active)
		}
	})
}

// FuzzParsePKCS11Ref checks the pkcs11: reference parser: no panics, and an accepted reference
// round-trips through PKCS11Config.Ref.
func FuzzParsePKCS11Ref(f *testing.F) {
	f.Add("pkcs11:token=cavra;object=audit-1?module-path=%2Fusr%2Flib%2Fsofthsm%2Flibsofthsm2.so")
	f.Add("pkcs11:token=a%3Bb;object=c?module-path=x")
	f.Fuzz(func(t *testing.T, ref string) {
		cfg, err := ParsePKCS11Ref(ref)
		if err != nil {
			return
		}
		again, err := ParsePKCS11Ref(cfg.Ref())
		if err != nil {
			t.Fatalf("re-parse %q (from %q): %v", cfg.Ref(), ref, err)
		}
		if again != cfg {
			t.Fatalf("round trip %+v -> %+v", cfg, again)
		}
	})
}
