//go:build !cgo

package keys

import (
	"context"
	"crypto"

	"github.com/cavra-dev/cavra"
)

// errNoCGO explains why PKCS#11 is unavailable: the PKCS#11 binding loads the module through
// cgo, and this binary was built without it.
var errNoCGO = cavra.Errorf(cavra.ErrUnavailable, "pkcs11: this cavra was built without cgo (CGO_ENABLED=0), so it cannot load PKCS#11 modules")

// PKCS11Signer is unavailable in builds without cgo; OpenPKCS11 and GeneratePKCS11Key say so.
type PKCS11Signer struct{}

// OpenPKCS11 reports that PKCS#11 needs a cgo build.
func OpenPKCS11(context.Context, PKCS11Config) (*PKCS11Signer, error) { return nil, errNoCGO }

// GeneratePKCS11Key reports that PKCS#11 needs a cgo build.
func GeneratePKCS11Key(context.Context, PKCS11Config) (*PKCS11Signer, error) { return nil, errNoCGO }

// KeyID implements cavra.Signer.
func (*PKCS11Signer) KeyID() string { return "" }

// Algorithm implements cavra.Signer.
func (*PKCS11Signer) Algorithm() string { return AlgECDSAP256 }

// Public implements cavra.Signer.
func (*PKCS11Signer) Public() crypto.PublicKey { return nil }

// Sign implements cavra.Signer.
func (*PKCS11Signer) Sign(context.Context, []byte) ([]byte, error) {
	return nil, errNoCGO
}

// Close implements io.Closer.
func (*PKCS11Signer) Close() error { return nil }
