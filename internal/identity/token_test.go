package identity

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

// memTokens is a TokenStore over a map: the authenticator's logic, not storage, is under test
// here; the SQL backends pass the store conformance suite.
type memTokens struct {
	mu      sync.Mutex
	byHash  map[string]cavra.Token
	lookups int
}

func (m *memTokens) PutToken(_ context.Context, t cavra.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byHash == nil {
		m.byHash = map[string]cavra.Token{}
	}
	m.byHash[string(t.Hash)] = t
	return nil
}

func (m *memTokens) TokenByHash(_ context.Context, hash []byte) (cavra.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	t, ok := m.byHash[string(hash)]
	if !ok {
		return cavra.Token{}, cavra.Errorf(cavra.ErrNotFound, "no token")
	}
	return t, nil
}

func (m *memTokens) Tokens(context.Context) ([]cavra.Token, error)  { return nil, nil }
func (m *memTokens) TokenTenants(context.Context) ([]string, error) { return nil, nil }
func (m *memTokens) RevokeToken(_ context.Context, id string, at time.Time) (cavra.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, t := range m.byHash {
		if t.ID == id {
			t.RevokedAt = at
			m.byHash[h] = t
			return t, nil
		}
	}
	return cavra.Token{}, cavra.Errorf(cavra.ErrNotFound, "no token")
}

func TestNewToken(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		tenant  string
		who     string
		role    cavra.Role
		ttl     time.Duration
		wantErr bool
	}{
		{name: "agent", tenant: "acme", who: "ci-bot", role: cavra.RoleAgent},
		{name: "expiring approver", tenant: "acme", who: "bob", role: cavra.RoleApprover, ttl: time.Hour},
		{name: "unknown role", tenant: "acme", who: "bob", role: "root", wantErr: true},
		{name: "empty name", tenant: "acme", who: "", role: cavra.RoleAgent, wantErr: true},
		{name: "name with space", tenant: "acme", who: "bob smith", role: cavra.RoleAgent, wantErr: true},
		{name: "negative ttl", tenant: "acme", who: "bob", role: cavra.RoleAgent, ttl: -time.Second, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret, tok, err := NewToken(tc.tenant, tc.who, tc.role, now, tc.ttl)
			if tc.wantErr {
				if err == nil || cavra.Code(err) != cavra.ErrInvalid {
					t.Fatalf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(secret, SecretPrefix) || len(secret) < 40 {
				t.Fatalf("secret %q", secret)
			}
			if string(tok.Hash) != string(HashSecret(secret)) || strings.Contains(string(tok.Hash), secret) {
				t.Fatal("token does not carry the secret's hash")
			}
			if tc.ttl > 0 && !tok.ExpiresAt.Equal(now.Add(tc.ttl)) {
				t.Fatalf("expires %v", tok.ExpiresAt)
			}
		})
	}
	a, _, _ := NewToken("t", "n", cavra.RoleAgent, now, 0)
	b, _, _ := NewToken("t", "n", cavra.RoleAgent, now, 0)
	if a == b {
		t.Fatal("two tokens share a secret")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := &memTokens{}
	secret, tok, _ := NewToken("acme", "alice", cavra.RoleAgent, now, time.Hour)
	store.PutToken(ctx, tok)
	revokedSecret, revoked, _ := NewToken("acme", "eve", cavra.RoleAdmin, now, 0)
	revoked.RevokedAt = now.Add(-time.Minute)
	store.PutToken(ctx, revoked)

	auth := NewAuthenticator(store, func() time.Time { return clock() }, -1)
	cases := []struct {
		name   string
		secret string
		at     time.Time
		want   cavra.ErrorCode
	}{
		{name: "valid", secret: secret, at: now},
		{name: "valid with spaces", secret: " " + secret + " ", at: now},
		{name: "unknown", secret: SecretPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", at: now, want: cavra.ErrUnauthorized},
		{name: "no prefix", secret: "Bearer abc", at: now, want: cavra.ErrUnauthorized},
		{name: "empty", secret: "", at: now, want: cavra.ErrUnauthorized},
		{name: "huge", secret: SecretPrefix + strings.Repeat("A", 10000), at: now, want: cavra.ErrUnauthorized},
		{name: "revoked", secret: revokedSecret, at: now, want: cavra.ErrUnauthorized},
		{name: "expired", secret: secret, at: now.Add(2 * time.Hour), want: cavra.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			clock = func() time.Time { return at }
			got, err := auth.Authenticate(ctx, tc.secret)
			if tc.want != "" {
				if cavra.Code(err) != tc.want {
					t.Fatalf("err = %v, want %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Tenant != "acme" || got.Name != "alice" || got.Role != cavra.RoleAgent {
				t.Fatalf("token %+v", got)
			}
		})
	}
}

func TestAuthenticateCacheSeesRevocationAfterTTL(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	store := &memTokens{}
	secret, tok, _ := NewToken("acme", "alice", cavra.RoleAgent, now, 0)
	store.PutToken(ctx, tok)
	auth := NewAuthenticator(store, clock, time.Second)
	for range 5 {
		if _, err := auth.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if store.lookups != 1 {
		t.Fatalf("%d store lookups for 5 calls within the cache ttl, want 1", store.lookups)
	}
	store.RevokeToken(ctx, tok.ID, now)
	mu.Lock()
	now = now.Add(1100 * time.Millisecond)
	mu.Unlock()
	if _, err := auth.Authenticate(ctx, secret); cavra.Code(err) != cavra.ErrUnauthorized {
		t.Fatalf("revoked token after the cache ttl: err = %v", err)
	}
}
