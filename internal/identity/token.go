// Package identity authenticates API callers. For now that is bearer tokens: random secrets
// shown once, stored only as SHA-256 hashes, each carrying a tenant, a principal name and a
// role. OIDC, SAML and SCIM come later on the same principal model.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cavra-dev/cavra"
)

// SecretPrefix starts every token secret, so secret scanners and people recognise one.
const SecretPrefix = "cavra_"

// secretBytes is the entropy of a secret: 256 bits.
const secretBytes = 32

// maxNameLength bounds principal names: they appear in evidence and approval records.
const maxNameLength = 128

// NewToken makes a token for the principal name with role in tenant. It returns the secret,
// which is shown once and never stored, and the token record to store.
func NewToken(tenant, name string, role cavra.Role, now time.Time, ttl time.Duration) (string, cavra.Token, error) {
	if err := ValidName(name); err != nil {
		return "", cavra.Token{}, err
	}
	if !role.Valid() {
		return "", cavra.Token{}, cavra.Errorf(cavra.ErrInvalid, "unknown role %q (want agent, approver, auditor or admin)", role)
	}
	if ttl < 0 {
		return "", cavra.Token{}, cavra.Errorf(cavra.ErrInvalid, "token lifetime must not be negative")
	}
	buf := make([]byte, secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", cavra.Token{}, fmt.Errorf("make token secret: %w", err)
	}
	secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(buf)
	t := cavra.Token{ID: uuid.NewString(), Tenant: tenant, Name: name, Role: role, Hash: HashSecret(secret), CreatedAt: now.UTC()}
	if ttl > 0 {
		t.ExpiresAt = now.UTC().Add(ttl)
	}
	return secret, t, nil
}

// ValidName checks a principal name: short, printable, no spaces.
func ValidName(name string) error {
	if name == "" || len(name) > maxNameLength {
		return cavra.Errorf(cavra.ErrInvalid, "token name must be 1 to %d bytes", maxNameLength)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f {
			return cavra.Errorf(cavra.ErrInvalid, "token name %q contains a space or control character", name)
		}
	}
	return nil
}

// HashSecret is how a secret is stored and looked up.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Authenticator checks bearer secrets against the token store. It remembers a looked-up token
// for CacheTTL so that a busy agent does not cost a database read per call; a revocation takes
// effect within that time.
type Authenticator struct {
	store    cavra.TokenStore
	clock    func() time.Time
	cacheTTL time.Duration

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	token   cavra.Token
	fetched time.Time
}

// DefaultCacheTTL is how long a token lookup is reused.
const DefaultCacheTTL = time.Second

// maxCachedTokens bounds the cache; a full cache is cleared rather than grown.
const maxCachedTokens = 4096

// NewAuthenticator returns an Authenticator over store. A zero cacheTTL means DefaultCacheTTL;
// a negative one turns the cache off.
func NewAuthenticator(store cavra.TokenStore, clock func() time.Time, cacheTTL time.Duration) *Authenticator {
	if clock == nil {
		clock = time.Now
	}
	if cacheTTL == 0 {
		cacheTTL = DefaultCacheTTL
	}
	return &Authenticator{store: store, clock: clock, cacheTTL: cacheTTL, cache: map[[sha256.Size]byte]cachedToken{}}
}

// Authenticate returns the active token whose secret this is; ErrUnauthorized otherwise. The
// error never says whether the token exists, was revoked or expired: the caller learns only
// that it is refused, and the server log says why.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (cavra.Token, error) {
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) > 256 {
		return cavra.Token{}, cavra.Errorf(cavra.ErrUnauthorized, "invalid token")
	}
	var key [sha256.Size]byte
	copy(key[:], HashSecret(secret))
	now := a.clock()
	if a.cacheTTL > 0 {
		a.mu.Lock()
		c, ok := a.cache[key]
		a.mu.Unlock()
		if ok && now.Sub(c.fetched) < a.cacheTTL && now.Sub(c.fetched) >= 0 {
			return a.check(c.token, now)
		}
	}
	t, err := a.store.TokenByHash(ctx, key[:])
	if err != nil {
		if cavra.Code(err) == cavra.ErrNotFound {
			return cavra.Token{}, cavra.Errorf(cavra.ErrUnauthorized, "invalid token")
		}
		return cavra.Token{}, fmt.Errorf("look up token: %w", err)
	}
	if a.cacheTTL > 0 {
		a.mu.Lock()
		if len(a.cache) >= maxCachedTokens {
			clear(a.cache)
		}
		a.cache[key] = cachedToken{token: t, fetched: now}
		a.mu.Unlock()
	}
	return a.check(t, now)
}

func (a *Authenticator) check(t cavra.Token, now time.Time) (cavra.Token, error) {
	if !t.Active(now) {
		return cavra.Token{}, cavra.Errorf(cavra.ErrUnauthorized, "invalid token")
	}
	return t, nil
}

// Forget drops the cached lookups, so a revocation made in this process applies at once.
func (a *Authenticator) Forget() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}
