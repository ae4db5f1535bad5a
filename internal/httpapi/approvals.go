package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
)

// ApprovalList is a page of approvals.
type ApprovalList struct {
	Approvals []cavra.Approval `json:"approvals"`
}

type listApprovalsInput struct {
	State     string `query:"state" enum:"pending,granted,denied,expired,used" doc:"Only approvals in this state."`
	Workspace string `query:"workspace" maxLength:"256" doc:"Only approvals of this workspace."`
	Limit     int    `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many; 0 means 100."`
}

type listApprovalsOutput struct {
	Body ApprovalList
}

type approvalIDInput struct {
	ID string `path:"id" minLength:"1" maxLength:"256" doc:"The approval id."`
}

type approvalOutput struct {
	Body cavra.Approval
}

// ApproveRequest is the body of an approve.
type ApproveRequest struct {
	Reason string `json:"reason,omitempty" maxLength:"4096" doc:"Why, for the audit log."`
}

// DenyRequest is the body of a deny.
type DenyRequest struct {
	Reason string `json:"reason" minLength:"1" maxLength:"4096" doc:"Why; required."`
}

// BreakGlassRequest is the body of a break-glass self-grant.
type BreakGlassRequest struct {
	Justification string `json:"justification" minLength:"10" maxLength:"4096" doc:"Why the action cannot wait for an approver; at least 10 characters."`
	TTL           string `json:"ttl,omitempty" maxLength:"32" doc:"How long the grant lasts, as a Go duration (\"30m\"); the server's default when absent." example:"30m"`
}

type approveInput struct {
	ID string `path:"id" minLength:"1" maxLength:"256" doc:"The approval id."`
	// Optional: an approval needs no reason.
	Body *ApproveRequest
}

type denyInput struct {
	ID   string `path:"id" minLength:"1" maxLength:"256" doc:"The approval id."`
	Body DenyRequest
}

type breakGlassInput struct {
	ID   string `path:"id" minLength:"1" maxLength:"256" doc:"The approval id."`
	Body BreakGlassRequest
}

func (s *Server) registerApprovals() {
	all := []cavra.Role{cavra.RoleAgent, cavra.RoleApprover, cavra.RoleAuditor, cavra.RoleAdmin}
	answerers := []cavra.Role{cavra.RoleApprover, cavra.RoleAdmin}

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "listApprovals",
		Method:      http.MethodGet,
		Path:        "/v1/approvals",
		Summary:     "List approvals",
		Description: "The tenant's approval requests. An agent sees only those it asked for (as requester or caller).",
		Tags:        []string{"approvals"},
		Errors:      []int{http.StatusUnprocessableEntity},
	}, all...), func(ctx context.Context, in *listApprovalsInput) (*listApprovalsOutput, error) {
		aps, err := s.cfg.Reader.Approvals(ctx, cavra.ApprovalQuery{State: cavra.ApprovalState(in.State), Workspace: in.Workspace, Limit: in.Limit})
		if err != nil {
			return nil, s.problem(ctx, "list approvals", err)
		}
		out := make([]cavra.Approval, 0, len(aps))
		for _, ap := range aps {
			if visible(ctx, ap) {
				out = append(out, ap)
			}
		}
		return &listApprovalsOutput{Body: ApprovalList{Approvals: out}}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "getApproval",
		Method:      http.MethodGet,
		Path:        "/v1/approvals/{id}",
		Summary:     "Get an approval",
		Description: "One approval request. An agent sees only those it asked for.",
		Tags:        []string{"approvals"},
		Errors:      []int{http.StatusNotFound},
	}, all...), func(ctx context.Context, in *approvalIDInput) (*approvalOutput, error) {
		ap, err := s.cfg.Reader.Approval(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, "get approval", err)
		}
		if !visible(ctx, ap) {
			// Not 403: an agent does not learn that someone else's request exists.
			return nil, s.problem(ctx, "get approval", cavra.Errorf(cavra.ErrNotFound, "approval %s not found", in.ID))
		}
		return &approvalOutput{Body: ap}, nil
	})

	answerErrors := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}
	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "approveApproval",
		Method:      http.MethodPost,
		Path:        "/v1/approvals/{id}/approve",
		Summary:     "Approve",
		Description: "Adds the caller's grant to a pending request; enough grants make it granted. The requester and the caller that asked may not approve (403); a decided request is 409.",
		Tags:        []string{"approvals"},
		Errors:      answerErrors,
	}, answerers...), func(ctx context.Context, in *approveInput) (*approvalOutput, error) {
		var reason string
		if in.Body != nil {
			reason = strings.TrimSpace(in.Body.Reason)
		}
		ap, err := s.cfg.Governor.Approve(ctx, in.ID, reason)
		if err != nil {
			return nil, s.problem(ctx, "approve", err)
		}
		return &approvalOutput{Body: ap}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "denyApproval",
		Method:      http.MethodPost,
		Path:        "/v1/approvals/{id}/deny",
		Summary:     "Deny",
		Description: "Denies a pending request, with a reason.",
		Tags:        []string{"approvals"},
		Errors:      answerErrors,
	}, answerers...), func(ctx context.Context, in *denyInput) (*approvalOutput, error) {
		reason := strings.TrimSpace(in.Body.Reason)
		if reason == "" {
			return nil, invalid("body.reason", "a reason is required")
		}
		ap, err := s.cfg.Governor.Deny(ctx, in.ID, reason)
		if err != nil {
			return nil, s.problem(ctx, "deny", err)
		}
		return &approvalOutput{Body: ap}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "breakGlassApproval",
		Method:      http.MethodPost,
		Path:        "/v1/approvals/{id}/break-glass",
		Summary:     "Break glass",
		Description: "Grants the caller's own pending request for a short time without approvers, with a justification. " +
			"Only the requester may break glass (403 otherwise); the grant is flagged in the evidence and raises break_glass.used.",
		Tags:   []string{"approvals"},
		Errors: answerErrors,
	}, all...), func(ctx context.Context, in *breakGlassInput) (*approvalOutput, error) {
		justification := strings.TrimSpace(in.Body.Justification)
		if len(justification) < 10 {
			return nil, invalid("body.justification", "a justification of at least 10 characters is required")
		}
		var ttl time.Duration
		if in.Body.TTL != "" {
			var err error
			if ttl, err = time.ParseDuration(in.Body.TTL); err != nil || ttl <= 0 {
				return nil, invalid("body.ttl", `ttl must be a positive Go duration such as "30m"`)
			}
		}
		ap, err := s.cfg.Governor.BreakGlass(ctx, in.ID, justification, ttl)
		if err != nil {
			return nil, s.problem(ctx, "break glass", err)
		}
		return &approvalOutput{Body: ap}, nil
	})
}

// visible reports whether the caller may see ap: an agent only its own requests.
func visible(ctx context.Context, ap cavra.Approval) bool {
	tok := tokenFrom(ctx)
	if tok.Role != cavra.RoleAgent {
		return true
	}
	return ap.Requester == tok.Name || ap.Caller == tok.Name
}
