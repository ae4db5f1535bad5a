//go:build cgo

package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/cavra-dev/cavra"
)

// BenchmarkSign measures one evidence signature per custody: what a checkpoint or bundle
// signature costs.
func BenchmarkSign(b *testing.B) {
	ed, err := GenerateFileKey(DefaultName)
	if err != nil {
		b.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	ec, err := NewFileSigner(DefaultName, ecKey)
	if err != nil {
		b.Fatal(err)
	}
	signers := []struct {
		name string
		s    cavra.Signer
	}{{"file-ed25519", ed}, {"file-ecdsa-p256", ec}}
	if _, err := softHSMAvailable(); err == nil {
		cfg := softHSMBench(b)
		hsm, err := GeneratePKCS11Key(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer hsm.Close()
		signers = append(signers, struct {
			name string
			s    cavra.Signer
		}{"pkcs11-softhsm-p256", hsm})
	}
	msg := make([]byte, 256)
	for _, tc := range signers {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tc.s.Sign(b.Context(), msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}
