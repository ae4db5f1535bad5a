package modelsign

import (
	"bytes"
	"testing"
)

// FuzzParseBundle feeds hostile bundles to the parser and the statement decoder behind it.
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"00"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIQ=="}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		if b.DSSEEnvelope == nil || len(b.DSSEEnvelope.Signatures) != 1 {
			t.Fatal("ParseBundle accepted a bundle without exactly one signature")
		}
		m, err := ParseStatement(b.DSSEEnvelope.Payload)
		if err == nil {
			if _, err := m.RootDigest(); err != nil {
				t.Fatalf("accepted manifest has a bad digest: %v", err)
			}
		}
		// What was accepted must survive a round trip unchanged.
		out, err := b.Marshal()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		b2, err := ParseBundle(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !bytes.Equal(b2.DSSEEnvelope.Payload, b.DSSEEnvelope.Payload) ||
			!bytes.Equal(b2.DSSEEnvelope.Signatures[0].Sig, b.DSSEEnvelope.Signatures[0].Sig) {
			t.Fatal("round trip changed the envelope")
		}
	})
}

// FuzzParseStatement feeds hostile payloads to the statement decoder.
func FuzzParseStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},"resources":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseStatement(data)
		if err != nil {
			return
		}
		for _, r := range m.Resources {
			if err := checkResourceName(r.Name, m.Serialization); err != nil {
				t.Fatalf("accepted bad resource name %q", r.Name)
			}
		}
	})
}
