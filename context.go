package cavra

import "context"

type ctxKey int

const (
	tenantKey ctxKey = iota
	workspaceKey
	principalKey
)

// DefaultTenant and DefaultWorkspace are used on a single-user install.
const (
	DefaultTenant    = "default"
	DefaultWorkspace = "default"
)

// WithTenant returns a context that carries the tenant id.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey, tenant)
}

// TenantFrom returns the tenant in ctx, or DefaultTenant.
func TenantFrom(ctx context.Context) string {
	if t, ok := ctx.Value(tenantKey).(string); ok && t != "" {
		return t
	}
	return DefaultTenant
}

// WithWorkspace returns a context that carries the workspace id.
func WithWorkspace(ctx context.Context, workspace string) context.Context {
	return context.WithValue(ctx, workspaceKey, workspace)
}

// WorkspaceFrom returns the workspace in ctx, or DefaultWorkspace.
func WorkspaceFrom(ctx context.Context) string {
	if w, ok := ctx.Value(workspaceKey).(string); ok && w != "" {
		return w
	}
	return DefaultWorkspace
}

// WithPrincipal returns a context that carries who is acting.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the principal in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}
