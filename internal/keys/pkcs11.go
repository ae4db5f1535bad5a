//go:build cgo

package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/cavra-dev/cavra"
)

// oidP256 is the DER of the named-curve OID of NIST P-256, as PKCS#11 CKA_EC_PARAMS holds it.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// PKCS11Signer signs with an ECDSA P-256 key that never leaves its token.
type PKCS11Signer struct {
	mod  *module
	id   string
	pub  *ecdsa.PublicKey
	priv pkcs11.ObjectHandle

	mu      sync.Mutex // a PKCS#11 session serves one operation at a time
	session pkcs11.SessionHandle
	closed  bool
}

var _ cavra.Signer = (*PKCS11Signer)(nil)

// OpenPKCS11 logs in to the token and finds the key pair labelled cfg.Label.
func OpenPKCS11(ctx context.Context, cfg PKCS11Config) (*PKCS11Signer, error) {
	return openPKCS11(ctx, cfg, false)
}

// GeneratePKCS11Key generates a new ECDSA P-256 key pair on the token, labelled cfg.Label, and
// opens it. It fails if the token already holds a key with that label: keys are never replaced.
func GeneratePKCS11Key(ctx context.Context, cfg PKCS11Config) (*PKCS11Signer, error) {
	return openPKCS11(ctx, cfg, true)
}

func openPKCS11(ctx context.Context, cfg PKCS11Config, generate bool) (_ *PKCS11Signer, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Module == "" || cfg.Token == "" || cfg.Label == "" {
		return nil, cavra.Errorf(cavra.ErrInvalid, "pkcs11: module, token and label are required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	mod, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			mod.release()
		}
	}()
	slot, err := mod.findToken(cfg.Token)
	if err != nil {
		return nil, err
	}
	session, err := mod.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: open session on token %q: %w", cfg.Token, err)
	}
	defer func() {
		if err != nil {
			mod.ctx.CloseSession(session) //nolint:errcheck // already failing
		}
	}()
	if err := mod.ctx.Login(session, pkcs11.CKU_USER, cfg.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		return nil, fmt.Errorf("pkcs11: log in to token %q: %w", cfg.Token, err)
	}
	s := &PKCS11Signer{mod: mod, session: session}
	existing, err := s.find(pkcs11.CKO_PRIVATE_KEY, cfg.Label)
	if err != nil {
		return nil, err
	}
	if generate {
		if len(existing) > 0 {
			return nil, cavra.Errorf(cavra.ErrConflict, "pkcs11: token %q already holds a key labelled %q", cfg.Token, cfg.Label)
		}
		if err := s.generate(cfg.Label); err != nil {
			return nil, err
		}
		existing, err = s.find(pkcs11.CKO_PRIVATE_KEY, cfg.Label)
		if err != nil {
			return nil, err
		}
	}
	switch len(existing) {
	case 0:
		return nil, cavra.Errorf(cavra.ErrNotFound, "pkcs11: no private key labelled %q on token %q", cfg.Label, cfg.Token)
	case 1:
		s.priv = existing[0]
	default:
		return nil, cavra.Errorf(cavra.ErrConflict, "pkcs11: %d private keys labelled %q on token %q", len(existing), cfg.Label, cfg.Token)
	}
	if s.pub, err = s.publicKey(cfg.Label); err != nil {
		return nil, err
	}
	if s.id, err = KeyID(cfg.Name, s.pub); err != nil {
		return nil, err
	}
	return s, nil
}

// KeyID implements cavra.Signer.
func (s *PKCS11Signer) KeyID() string { return s.id }

// Algorithm implements cavra.Signer.
func (s *PKCS11Signer) Algorithm() string { return AlgECDSAP256 }

// Public implements cavra.Signer.
func (s *PKCS11Signer) Public() crypto.PublicKey { return s.pub }

// Sign implements cavra.Signer: the token signs SHA-256(msg); the raw r||s it returns is
// re-encoded as ASN.1, the form Go and the signed-note ECDSA type verify.
func (s *PKCS11Signer) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("pkcs11: sign: signer is closed")
	}
	if err := s.mod.ctx.SignInit(s.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, s.priv); err != nil {
		return nil, fmt.Errorf("pkcs11: sign init: %w", err)
	}
	raw, err := s.mod.ctx.Sign(s.session, digest[:])
	if err != nil {
		return nil, fmt.Errorf("pkcs11: sign: %w", err)
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("pkcs11: sign: token returned %d signature bytes, want 64", len(raw))
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: encode signature: %w", err)
	}
	return sig, nil
}

// Close ends the session and releases the module.
func (s *PKCS11Signer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.mod.ctx.CloseSession(s.session)
	s.mod.release()
	if err != nil {
		return fmt.Errorf("pkcs11: close session: %w", err)
	}
	return nil
}

func (s *PKCS11Signer) find(class uint, label string) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := s.mod.ctx.FindObjectsInit(s.session, tmpl); err != nil {
		return nil, fmt.Errorf("pkcs11: find %q: %w", label, err)
	}
	objs, _, err := s.mod.ctx.FindObjects(s.session, 8)
	if ferr := s.mod.ctx.FindObjectsFinal(s.session); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("pkcs11: find %q: %w", label, err)
	}
	return objs, nil
}

func (s *PKCS11Signer) generate(label string) error {
	pubTmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	privTmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
	if _, _, err := s.mod.ctx.GenerateKeyPair(s.session, mech, pubTmpl, privTmpl); err != nil {
		return fmt.Errorf("pkcs11: generate P-256 key pair %q: %w", label, err)
	}
	return nil
}

func (s *PKCS11Signer) publicKey(label string) (*ecdsa.PublicKey, error) {
	objs, err := s.find(pkcs11.CKO_PUBLIC_KEY, label)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("pkcs11: want one public key labelled %q, found %d", label, len(objs))
	}
	attrs, err := s.mod.ctx.GetAttributeValue(s.session, objs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: read public key %q: %w", label, err)
	}
	var params, point []byte
	for _, a := range attrs {
		switch a.Type {
		case pkcs11.CKA_EC_PARAMS:
			params = a.Value
		case pkcs11.CKA_EC_POINT:
			point = a.Value
		}
	}
	if !bytes.Equal(params, oidP256) {
		return nil, fmt.Errorf("pkcs11: key %q is not on P-256: only P-256 keys are supported", label)
	}
	// CKA_EC_POINT is a DER OCTET STRING around the uncompressed point.
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err != nil || len(rest) != 0 {
		raw = point // some tokens return the bare point
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: parse public key %q: %w", label, err)
	}
	return pub, nil
}

// module is one loaded PKCS#11 library. C_Initialize and C_Finalize are process-wide, so
// modules are shared and finalised only when the last signer using them closes.
type module struct {
	path string
	ctx  *pkcs11.Ctx
	refs int
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

func loadModule(path string) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[path]; ok {
		m.refs++
		return m, nil
	}
	c := pkcs11.New(path)
	if c == nil {
		return nil, cavra.Errorf(cavra.ErrUnavailable, "pkcs11: cannot load module %s", path)
	}
	if err := c.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		c.Destroy()
		return nil, fmt.Errorf("pkcs11: initialize %s: %w", path, err)
	}
	m := &module{path: path, ctx: c, refs: 1}
	modules[path] = m
	return m, nil
}

func (m *module) release() {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules, m.path)
	m.ctx.Finalize() //nolint:errcheck // nothing left to tell
	m.ctx.Destroy()
}

func (m *module) findToken(label string) (uint, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: list slots: %w", err)
	}
	for _, slot := range slots {
		info, err := m.ctx.GetTokenInfo(slot)
		if err != nil {
			continue
		}
		if strings.TrimRight(info.Label, " \x00") == label {
			return slot, nil
		}
	}
	return 0, cavra.Errorf(cavra.ErrNotFound, "pkcs11: no token labelled %q in %s", label, m.path)
}
