package cavra

import "time"

// Principal is who an action is taken for: a person, an agent acting for one, or a service.
type Principal struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind,omitempty"` // user, agent, service
	Name      string   `json:"name,omitempty"`
	Tenant    string   `json:"tenant,omitempty"`
	Workspace string   `json:"workspace,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

// Role is what a token may do.
type Role string

// Roles, from least to most powerful in what they may change. An agent asks for decisions; an
// approver answers approval requests; an auditor reads evidence; an admin does everything.
const (
	RoleAgent    Role = "agent"
	RoleApprover Role = "approver"
	RoleAuditor  Role = "auditor"
	RoleAdmin    Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAgent, RoleApprover, RoleAuditor, RoleAdmin:
		return true
	}
	return false
}

// Token is an API bearer token as stored: only its hash is kept; the secret is shown once.
type Token struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Name is the principal the token acts as.
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Hash is SHA-256 of the secret.
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Active reports whether the token may be used at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}
