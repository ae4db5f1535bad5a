package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
)

// securityScheme names the bearer scheme in the OpenAPI document.
const securityScheme = "bearer"

var errNoToken = cavra.Errorf(cavra.ErrUnauthorized, "an Authorization: Bearer <token> header is required")

type tokenKey struct{}

// withToken puts the caller's token in ctx, with its tenant and principal.
func withToken(ctx context.Context, t cavra.Token) context.Context {
	ctx = context.WithValue(ctx, tokenKey{}, t)
	ctx = cavra.WithTenant(ctx, t.Tenant)
	return cavra.WithPrincipal(ctx, cavra.Principal{ID: t.Name, Tenant: t.Tenant, Roles: []string{string(t.Role)}})
}

// tokenFrom returns the caller's token; every authenticated operation has one.
func tokenFrom(ctx context.Context) cavra.Token {
	t, _ := ctx.Value(tokenKey{}).(cavra.Token)
	return t
}

// bearer extracts the secret of an "Authorization: Bearer <secret>" header.
func bearer(header string) (string, error) {
	if header == "" {
		return "", errNoToken
	}
	scheme, secret, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(secret) == "" {
		return "", cavra.Errorf(cavra.ErrUnauthorized, "the Authorization header must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(secret), nil
}

// authenticate is the middleware of every non-public operation: it resolves the bearer token,
// checks its role, and puts tenant, principal and token in the context. It runs before the
// body is read, so an unauthenticated request costs no parsing. onUnavailable, when set,
// answers instead of a 5xx when the authenticator itself fails (the hooks fail closed).
func (s *Server) authenticate(roles []cavra.Role, onUnavailable func(huma.Context, error) bool) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		ctx := hctx.Context()
		secret, err := bearer(hctx.Header("Authorization"))
		var tok cavra.Token
		if err == nil {
			tok, err = s.cfg.Auth.Authenticate(ctx, secret)
		}
		if err != nil {
			if cavra.Code(err) != cavra.ErrUnauthorized {
				if onUnavailable != nil && onUnavailable(hctx, err) {
					return
				}
				s.writeErr(hctx, s.problem(ctx, "authenticate", err))
				return
			}
			// The detail never says whether the token exists, was revoked or expired.
			if !errors.Is(err, errNoToken) {
				err = cavra.Errorf(cavra.ErrUnauthorized, "the bearer token is not valid")
			}
			s.writeErr(hctx, s.problem(ctx, "authenticate", err))
			return
		}
		requestInfoFrom(ctx).tenant = tok.Tenant
		if !hasRole(tok.Role, roles) {
			s.writeErr(hctx, huma.Error403Forbidden("role "+string(tok.Role)+" may not call this operation (roles: "+roleList(roles)+")"))
			return
		}
		next(huma.WithContext(hctx, withToken(ctx, tok)))
	}
}

func hasRole(r cavra.Role, roles []cavra.Role) bool {
	for _, x := range roles {
		if r == x {
			return true
		}
	}
	return false
}

// writeErr writes an error returned by s.problem (or a huma error) from a middleware.
func (s *Server) writeErr(hctx huma.Context, err error) {
	var he huma.HeadersError
	if errors.As(err, &he) {
		for k, vs := range he.GetHeaders() {
			for _, v := range vs {
				hctx.AppendHeader(k, v)
			}
		}
	}
	status := http.StatusInternalServerError
	var se huma.StatusError
	if errors.As(err, &se) {
		status = se.GetStatus()
	}
	_ = huma.WriteErr(s.api, hctx, status, err.Error(), errorDetails(err)...)
}

// errorDetails carries a huma error's details over when it is rewritten by WriteErr.
func errorDetails(err error) []error {
	var em *huma.ErrorModel
	if !errors.As(err, &em) {
		return nil
	}
	out := make([]error, 0, len(em.Errors))
	for _, d := range em.Errors {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}
