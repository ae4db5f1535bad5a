package modelsign

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestKeyParsing(t *testing.T) {
	ec := newKey(t, elliptic.P256())
	pkcs8, err := MarshalPrivateKeyPEM(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1DER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})
	pubPEM, err := MarshalPublicKeyPEM(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := pem.Decode(pubPEM)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})
	edPubDER, err := x509.MarshalPKIXPublicKey(edPriv.Public())
	if err != nil {
		t.Fatal(err)
	}
	edPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPubDER})
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224DER, err := x509.MarshalPKCS8PrivateKey(p224)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		data    []byte
		public  bool
		wantErr string
	}{
		{"pkcs8 private", pkcs8, false, ""},
		{"sec1 private", sec1, false, ""},
		{"pem public", pubPEM, true, ""},
		{"der public", pubDER.Bytes, true, ""},
		{"ed25519 private", edPEM, false, "ed25519"},
		{"ed25519 public", edPubPEM, true, "ed25519"},
		{"p224 private", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p224DER}), false, "not supported"},
		{"encrypted private", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), false, "encrypted"},
		{"garbage private", []byte("not a key"), false, "no PEM block"},
		{"garbage public", []byte("not a key"), true, "public key"},
		{"private given as public", pkcs8, true, "PUBLIC KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.public {
				_, err = ParsePublicKey(tc.data)
			} else {
				_, err = ParsePrivateKey(tc.data)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestKeyHintIsHashOfPEM(t *testing.T) {
	k := newKey(t, elliptic.P256())
	h1, err := KeyHint(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParsePublicKey(mustPEM(t, &k.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := KeyHint(parsed)
	other, _ := KeyHint(&newKey(t, elliptic.P256()).PublicKey)
	if h1 != h2 || h1 == other || len(h1) != 64 {
		t.Errorf("hints: %s %s %s", h1, h2, other)
	}
}

func mustPEM(t *testing.T, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
