package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

// token returns a token whose hash is that of the secret "secret-"+id.
func token(id, name string, role cavra.Role, created time.Time) cavra.Token {
	return cavra.Token{ID: id, Name: name, Role: role, Hash: tokenHash("secret-" + id), CreatedAt: created}
}

func tokenHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func putTokens(t *testing.T, ctx context.Context, s cavra.Store, ts ...cavra.Token) {
	t.Helper()
	for _, tk := range ts {
		if err := s.PutToken(ctx, tk); err != nil {
			t.Fatalf("put token %s: %v", tk.ID, err)
		}
	}
}

func sameToken(t *testing.T, got, want cavra.Token) {
	t.Helper()
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Name != want.Name || got.Role != want.Role ||
		!bytes.Equal(got.Hash, want.Hash) || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.RevokedAt.Equal(want.RevokedAt) {
		t.Fatalf("token:\n got %+v\nwant %+v", got, want)
	}
}

func tokenIDs(ts []cavra.Token) []string {
	var ids []string
	for _, tk := range ts {
		ids = append(ids, tk.ID)
	}
	return ids
}

func testTokenRoundTrip(t *testing.T, s cavra.Store) {
	acme := tenantCtx("acme", "ws")
	other := tenantCtx("other", "ws")
	if ts, err := s.Tokens(acme); err != nil || len(ts) != 0 {
		t.Fatalf("empty store lists tokens %v, %v", tokenIDs(ts), err)
	}
	forever := token("t1", "alice", cavra.RoleAdmin, base)
	expiring := token("t2", "ci-bot", cavra.RoleAgent, base.Add(-time.Minute)) // older: listed first
	expiring.ExpiresAt = base.Add(24 * time.Hour)
	expiring.Tenant = "acme" // naming the context's own tenant is allowed
	putTokens(t, acme, s, forever, expiring)
	foreign := token("t3", "alice", cavra.RoleApprover, base)
	putTokens(t, other, s, foreign)
	forever.Tenant, foreign.Tenant = "acme", "other"

	// The lookup by hash ignores the context's tenant: the caller does not know it yet.
	tests := []struct {
		name string
		ctx  context.Context
		hash []byte
		want cavra.Token
	}{
		{"own tenant", acme, forever.Hash, forever},
		{"expiring token", acme, expiring.Hash, expiring},
		{"another tenant's token", acme, foreign.Hash, foreign},
		{"no tenant in context", context.Background(), foreign.Hash, foreign},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.TokenByHash(tc.ctx, tc.hash)
			if err != nil {
				t.Fatalf("token by hash: %v", err)
			}
			sameToken(t, got, tc.want)
		})
	}
	_, err := s.TokenByHash(acme, tokenHash("unknown"))
	wantCode(t, err, cavra.ErrNotFound)

	list, err := s.Tokens(acme)
	if err != nil {
		t.Fatalf("list tokens: %v", err)
	}
	if fmt.Sprint(tokenIDs(list)) != "[t2 t1]" {
		t.Fatalf("acme lists %v, want [t2 t1] (oldest first)", tokenIDs(list))
	}
	sameToken(t, list[0], expiring)
	sameToken(t, list[1], forever)
	if !list[1].ExpiresAt.IsZero() || !list[1].RevokedAt.IsZero() {
		t.Fatalf("zero times came back as %v, %v", list[1].ExpiresAt, list[1].RevokedAt)
	}
	list, err = s.Tokens(other)
	if err != nil || fmt.Sprint(tokenIDs(list)) != "[t3]" {
		t.Fatalf("other lists %v, %v; want [t3]", tokenIDs(list), err)
	}
}

func testTokenConflicts(t *testing.T, s cavra.Store) {
	acme := tenantCtx("acme", "ws")
	putTokens(t, acme, s, token("t1", "alice", cavra.RoleAdmin, base))
	sameHash := token("t2", "bob", cavra.RoleAgent, base)
	sameHash.Hash = tokenHash("secret-t1")
	sameID := token("t1", "bob", cavra.RoleAgent, base)
	sameID.Hash = tokenHash("fresh")
	tests := []struct {
		name  string
		ctx   context.Context
		token cavra.Token
	}{
		{"duplicate hash", acme, sameHash},
		{"duplicate hash in another tenant", tenantCtx("other", "ws"), sameHash},
		{"duplicate id", acme, sameID},
		{"duplicate id in another tenant", tenantCtx("other", "ws"), sameID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, s.PutToken(tc.ctx, tc.token), cavra.ErrConflict) })
	}
	got, err := s.TokenByHash(acme, tokenHash("secret-t1"))
	if err != nil || got.Name != "alice" || got.Tenant != "acme" {
		t.Fatalf("the first token changed: %+v, %v", got, err)
	}
	if ts, err := s.TokenTenants(acme); err != nil || fmt.Sprint(ts) != "[acme]" {
		t.Fatalf("refused tokens left tenants %v, %v", ts, err)
	}
}

func testTokenBadInput(t *testing.T, s cavra.Store) {
	acme := tenantCtx("acme", "ws")
	tests := []struct {
		name   string
		ctx    context.Context
		change func(tk *cavra.Token)
		code   cavra.ErrorCode
	}{
		{"no id", acme, func(tk *cavra.Token) { tk.ID = "" }, cavra.ErrInvalid},
		{"no name", acme, func(tk *cavra.Token) { tk.Name = "" }, cavra.ErrInvalid},
		{"unknown role", acme, func(tk *cavra.Token) { tk.Role = "root" }, cavra.ErrInvalid},
		{"no hash", acme, func(tk *cavra.Token) { tk.Hash = nil }, cavra.ErrInvalid},
		{"short hash", acme, func(tk *cavra.Token) { tk.Hash = tk.Hash[:16] }, cavra.ErrInvalid},
		{"another tenant", acme, func(tk *cavra.Token) { tk.Tenant = "other" }, cavra.ErrForbidden},
		{"tenant with a space", tenantCtx("a b", "ws"), func(*cavra.Token) {}, cavra.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := token("bad", "alice", cavra.RoleAgent, base)
			tc.change(&tk)
			wantCode(t, s.PutToken(tc.ctx, tk), tc.code)
		})
	}
	if ts, err := s.TokenTenants(acme); err != nil || len(ts) != 0 {
		t.Fatalf("rejected tokens were stored: tenants %v, %v", ts, err)
	}
	_, err := s.TokenByHash(acme, nil)
	wantCode(t, err, cavra.ErrInvalid)
	_, err = s.RevokeToken(acme, "", base)
	wantCode(t, err, cavra.ErrInvalid)
	_, err = s.Tokens(tenantCtx("a b", "ws"))
	wantCode(t, err, cavra.ErrInvalid)
}

func testTokenRevoke(t *testing.T, s cavra.Store) {
	acme := tenantCtx("acme", "ws")
	other := tenantCtx("other", "ws")
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	putTokens(t, acme, s,
		token("tk-a", "alice", cavra.RoleAdmin, at(0)),
		token("tk-b", "bob", cavra.RoleAgent, at(1)),
		token("tk-c", "bob", cavra.RoleAgent, at(2)),
		token("tk-d", "carol", cavra.RoleApprover, at(3)),
		// An id that is also another token's name: the id wins.
		token("carol", "dave", cavra.RoleAuditor, at(4)),
	)
	putTokens(t, other, s, token("tk-x", "alice", cavra.RoleAdmin, at(0)))

	// Steps run in order: each depends on the revocations before it.
	steps := []struct {
		name        string
		ctx         context.Context
		idOrName    string
		at          time.Time
		wantID      string
		wantRevoked time.Time
		code        cavra.ErrorCode
	}{
		{"by id", acme, "tk-a", at(10), "tk-a", at(10), ""},
		{"again keeps the first time", acme, "tk-a", at(11), "tk-a", at(10), ""},
		{"by the name of a revoked token returns it unchanged", acme, "alice", at(12), "tk-a", at(10), ""},
		{"ambiguous name", acme, "bob", at(13), "", time.Time{}, cavra.ErrInvalid},
		{"one of the namesakes by id", acme, "tk-b", at(14), "tk-b", at(14), ""},
		{"name now unique among active tokens", acme, "bob", at(15), "tk-c", at(15), ""},
		{"id wins over a name", acme, "carol", at(16), "carol", at(16), ""},
		{"by name", acme, "dave", at(17), "carol", at(16), ""},
		{"unknown", acme, "nobody", at(18), "", time.Time{}, cavra.ErrNotFound},
		{"another tenant's id", acme, "tk-x", at(19), "", time.Time{}, cavra.ErrNotFound},
		{"zero time", acme, "tk-d", time.Time{}, "", time.Time{}, cavra.ErrInvalid},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.RevokeToken(st.ctx, st.idOrName, st.at)
			if st.code != "" {
				wantCode(t, err, st.code)
				return
			}
			if err != nil {
				t.Fatalf("revoke %q: %v", st.idOrName, err)
			}
			if got.ID != st.wantID || !got.RevokedAt.Equal(st.wantRevoked) || got.Tenant != "acme" {
				t.Fatalf("revoke %q = %s revoked at %v (tenant %q), want %s at %v", st.idOrName, got.ID, got.RevokedAt, got.Tenant, st.wantID, st.wantRevoked)
			}
		})
	}

	want := map[string]time.Time{"tk-a": at(10), "tk-b": at(14), "tk-c": at(15), "tk-d": {}, "carol": at(16)}
	list, err := s.Tokens(acme)
	if err != nil || fmt.Sprint(tokenIDs(list)) != "[tk-a tk-b tk-c tk-d carol]" {
		t.Fatalf("acme lists %v, %v; revoked tokens stay listed, oldest first", tokenIDs(list), err)
	}
	for _, tk := range list {
		if !tk.RevokedAt.Equal(want[tk.ID]) {
			t.Errorf("token %s revoked at %v, want %v", tk.ID, tk.RevokedAt, want[tk.ID])
		}
	}
	// The lookup the server authenticates with sees the revocation; the other tenant's
	// namesake is untouched.
	if got, err := s.TokenByHash(acme, tokenHash("secret-tk-a")); err != nil || got.Active(at(20)) {
		t.Fatalf("revoked token by hash: %+v, %v; want inactive", got, err)
	}
	if got, err := s.TokenByHash(other, tokenHash("secret-tk-x")); err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("other tenant's token: %+v, %v; want not revoked", got, err)
	}
}

func testTokenTenants(t *testing.T, s cavra.Store) {
	ctx := tenantCtx("acme", "ws")
	if ts, err := s.TokenTenants(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("empty store: tenants %v, %v", ts, err)
	}
	putTokens(t, tenantCtx("zeta", "ws"), s, token("t1", "a", cavra.RoleAgent, base))
	putTokens(t, tenantCtx("acme", "ws"), s, token("t2", "a", cavra.RoleAgent, base), token("t3", "b", cavra.RoleAdmin, base))
	putTokens(t, tenantCtx("Mid", "ws"), s, token("t4", "a", cavra.RoleAgent, base))
	// A tenant with approvals but no token is not listed.
	putApprovals(t, tenantCtx("no-tokens", "ws"), s, approval("ap1", "ws", "fp1", base))
	if _, err := s.RevokeToken(tenantCtx("zeta", "ws"), "t1", base); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	// Sorted bytewise, whatever the database's collation; a tenant whose tokens are all
	// revoked still holds tokens.
	got, err := s.TokenTenants(tenantCtx("someone-else", "ws"))
	if err != nil {
		t.Fatalf("token tenants: %v", err)
	}
	if fmt.Sprint(got) != "[Mid acme zeta]" {
		t.Fatalf("token tenants = %v, want [Mid acme zeta]", got)
	}
}
