package verify_test

import (
	"encoding/json"
	"testing"

	"github.com/cavra-dev/cavra/verify"
)

// FuzzCheck feeds arbitrary bytes to the bundle parser and verifier in self-asserted mode (the
// bundle's own keys), the mode an attacker controls most. It must never panic, and whatever it
// accepts must survive a round trip through the parsed form.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"format":"https://cavra.dev/evidence-bundle/v1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := verify.Check(data, verify.Options{})
		if err != nil {
			return
		}
		b, err := verify.Parse(data)
		if err != nil {
			t.Fatalf("Check accepted what Parse rejects: %v", err)
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		res2, err := verify.Check(again, verify.Options{})
		if err != nil {
			t.Fatalf("accepted bundle fails after re-encoding: %v", err)
		}
		if res.TreeSize != res2.TreeSize || res.Entries != res2.Entries {
			t.Fatalf("re-encoding changed the result: %+v vs %+v", res, res2)
		}
	})
}

// FuzzParseKeys checks the trusted-keys reader: no panics, and every key it returns either
// passes or fails the key checks with an error, never a crash.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"keys":[{"id":"a+00000000","algorithm":"ed25519","public_key":"AA=="}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := verify.ParseKeys(data)
		if err != nil {
			return
		}
		bundle := verify.Bundle{Format: verify.Format}
		raw, _ := json.Marshal(bundle)
		if _, err := verify.Check(raw, verify.Options{TrustedKeys: keys}); err == nil {
			t.Fatal("an empty bundle verified")
		}
	})
}
