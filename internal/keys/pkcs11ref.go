package keys

import (
	"fmt"
	"net/url"
	"strings"
)

// PKCS11Config names a key on a PKCS#11 token.
type PKCS11Config struct {
	Module string // path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so
	Token  string // token label
	Label  string // CKA_LABEL of the key pair
	PIN    string // user PIN; never stored in the keyring
	Name   string // note key name for the key id; DefaultName if empty
}

// Ref is the RFC 7512 style reference stored in the keyring: the PIN is left out.
func (c PKCS11Config) Ref() string {
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), ";", "%3B") }
	return "pkcs11:token=" + esc(c.Token) + ";object=" + esc(c.Label) + "?module-path=" + url.QueryEscape(c.Module)
}

// ParsePKCS11Ref parses a reference made by PKCS11Config.Ref.
func ParsePKCS11Ref(ref string) (PKCS11Config, error) {
	rest, ok := strings.CutPrefix(ref, "pkcs11:")
	if !ok {
		return PKCS11Config{}, fmt.Errorf("pkcs11 reference %q does not start with %q", ref, "pkcs11:")
	}
	path, query, _ := strings.Cut(rest, "?")
	var cfg PKCS11Config
	for attr := range strings.SplitSeq(path, ";") {
		k, v, ok := strings.Cut(attr, "=")
		if !ok {
			return PKCS11Config{}, fmt.Errorf("pkcs11 reference %q: attribute %q has no value", ref, attr)
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return PKCS11Config{}, fmt.Errorf("pkcs11 reference %q: %w", ref, err)
		}
		switch k {
		case "token":
			cfg.Token = val
		case "object":
			cfg.Label = val
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return PKCS11Config{}, fmt.Errorf("pkcs11 reference %q: %w", ref, err)
	}
	cfg.Module = q.Get("module-path")
	if cfg.Module == "" || cfg.Token == "" || cfg.Label == "" {
		return PKCS11Config{}, fmt.Errorf("pkcs11 reference %q needs token, object and module-path", ref)
	}
	return cfg, nil
}
