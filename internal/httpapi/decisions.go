package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
)

// HostAPI is the source host of actions posted to /v1/decisions without one.
const HostAPI = "api"

// MaxListLimit caps the page size of list operations.
const MaxListLimit = 1000

type decideInput struct {
	// The body is decoded here rather than by huma: one strict pass instead of huma's
	// decode-validate-decode, on the path that has to sustain thousands of requests a second.
	// The OpenAPI document still names cavra.Action as the body's schema.
	RawBody []byte `contentType:"application/json"`
}

// ReportedDecision is the body of POST /v1/decisions/reported: a decision an adapter made
// itself, and the action it judged.
type ReportedDecision struct {
	Action   cavra.Action   `json:"action"`
	Decision cavra.Decision `json:"decision"`
}

type decisionOutput struct {
	Body cavra.Decision
}

// DecisionList is a page of decisions, newest first.
type DecisionList struct {
	Decisions []cavra.DecisionRecord `json:"decisions"`
}

type listDecisionsInput struct {
	Workspace string    `query:"workspace" maxLength:"256" doc:"Only decisions of this workspace."`
	Outcome   string    `query:"outcome" enum:"allow,block,require_approval,warn,audit_only,allow_with_attestation" doc:"Only decisions with this outcome."`
	Since     time.Time `query:"since" doc:"Only decisions recorded at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only decisions recorded before this time (RFC 3339)."`
	Limit     int       `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many; 0 means 100."`
}

type listDecisionsOutput struct {
	Body DecisionList
}

type decisionIDInput struct {
	ID string `path:"id" minLength:"1" maxLength:"256" doc:"The decision id."`
}

type decisionRecordOutput struct {
	Body cavra.DecisionRecord
}

func (s *Server) registerDecisions() {
	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "decide",
		Method:      http.MethodPost,
		Path:        "/v1/decisions",
		Summary:     "Decide an action",
		Description: "Normalises the action, decides it with the active policy, records the decision in the audit log and answers it. " +
			"The tenant is the token's; the principal is the token's name unless an admin token names another; the workspace defaults to \"default\". " +
			"Unknown members are rejected.",
		Tags:             []string{"decisions"},
		Errors:           []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
		SkipValidateBody: true, // decodeStrict validates
	}, cavra.RoleAgent, cavra.RoleAdmin), func(ctx context.Context, in *decideInput) (*decisionOutput, error) {
		var a cavra.Action
		if err := decodeStrict(in.RawBody, &a); err != nil {
			return nil, err
		}
		if !a.Kind.Valid() {
			return nil, invalid("body.kind", `kind is required and must be "domain.verb" in lower case, e.g. "command.exec"`)
		}
		if a.Source.Host == "" {
			a.Source.Host = HostAPI
		}
		ctx = actionContext(ctx, &a)
		d, err := s.cfg.Governor.Decide(ctx, a)
		if err != nil {
			return nil, s.problem(ctx, "decide", err)
		}
		return &decisionOutput{Body: d}, nil
	})
	s.documentBody(http.MethodPost, "/v1/decisions", reflect.TypeFor[cavra.Action](), "The action to decide.")

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "reportDecision",
		Method:      http.MethodPost,
		Path:        "/v1/decisions/reported",
		Summary:     "Record a decision an adapter made",
		Description: "Records a block the MCP gateway made itself, without the policy engine: a tool whose definition changed since it was pinned, " +
			"or looks poisoned. Only outcome block, kind mcp.list or mcp.call, and a rule id beginning \"mcpgw.\" are accepted, so a report " +
			"can never let anything through. The decision gets the server's id and time; the principal is always the token's name. " +
			"It is announced as decision.made, and a tool-definition block (rule \"mcpgw.tool-...\") also as mcp.tool_changed. " +
			"Unknown members are rejected.",
		Tags:             []string{"decisions"},
		Errors:           []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
		SkipValidateBody: true, // decodeStrict validates
	}, cavra.RoleAgent, cavra.RoleAdmin), func(ctx context.Context, in *decideInput) (*decisionOutput, error) {
		var body ReportedDecision
		if err := decodeStrict(in.RawBody, &body); err != nil {
			return nil, err
		}
		a, d := body.Action, body.Decision
		if !a.Kind.Valid() {
			return nil, invalid("body.action.kind", `kind is required and must be "domain.verb" in lower case, e.g. "mcp.list"`)
		}
		if d.Outcome != cavra.Block {
			return nil, invalid("body.decision.outcome", "only a block can be reported")
		}
		if a.Source.Host == "" {
			a.Source.Host = HostAPI
		}
		ctx = actionContext(ctx, &a)
		rec, err := s.cfg.Governor.Report(ctx, a, d)
		if err != nil {
			return nil, s.problem(ctx, "report decision", err)
		}
		return &decisionOutput{Body: rec}, nil
	})
	s.documentBody(http.MethodPost, "/v1/decisions/reported", reflect.TypeFor[ReportedDecision](), "The decision the adapter made and the action it judged.")

	readers := []cavra.Role{cavra.RoleAdmin, cavra.RoleAuditor, cavra.RoleApprover}
	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "listDecisions",
		Method:      http.MethodGet,
		Path:        "/v1/decisions",
		Summary:     "List decisions",
		Description: "The tenant's decisions, newest first.",
		Tags:        []string{"decisions"},
		Errors:      []int{http.StatusUnprocessableEntity},
	}, readers...), func(ctx context.Context, in *listDecisionsInput) (*listDecisionsOutput, error) {
		if !in.Since.IsZero() && !in.Until.IsZero() && !in.Since.Before(in.Until) {
			return nil, invalid("query.until", "until must be after since")
		}
		recs, err := s.cfg.Reader.Decisions(ctx, cavra.DecisionQuery{Workspace: in.Workspace, Outcome: cavra.Outcome(in.Outcome),
			Since: in.Since, Until: in.Until, Limit: in.Limit})
		if err != nil {
			return nil, s.problem(ctx, "list decisions", err)
		}
		if recs == nil {
			recs = []cavra.DecisionRecord{}
		}
		return &listDecisionsOutput{Body: DecisionList{Decisions: recs}}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "getDecision",
		Method:      http.MethodGet,
		Path:        "/v1/decisions/{id}",
		Summary:     "Get a decision",
		Description: "One decision with the action it judged and its audit index.",
		Tags:        []string{"decisions"},
		Errors:      []int{http.StatusNotFound},
	}, readers...), func(ctx context.Context, in *decisionIDInput) (*decisionRecordOutput, error) {
		rec, err := s.cfg.Reader.Decision(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, "get decision", err)
		}
		return &decisionRecordOutput{Body: rec}, nil
	})
}

// actionContext applies the caller's identity to an action and returns the context to decide
// it in: the tenant is always the token's; the principal is the token's name, unless an admin
// names one (an agent must not act as someone else); the workspace defaults to "default".
func actionContext(ctx context.Context, a *cavra.Action) context.Context {
	tok := tokenFrom(ctx)
	a.Tenant = tok.Tenant
	if tok.Role != cavra.RoleAdmin || a.Principal == "" {
		a.Principal = tok.Name
	}
	if a.Workspace == "" {
		a.Workspace = cavra.DefaultWorkspace
	}
	return cavra.WithWorkspace(ctx, a.Workspace)
}

// decodeStrict decodes one JSON value into v, rejecting unknown members and trailing data:
// malformed JSON is a 400 problem, JSON of the wrong shape a 422.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return huma.Error400BadRequest("request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return huma.Error400BadRequest("malformed JSON", &huma.ErrorDetail{Location: "body", Message: "trailing data after the JSON value"})
	}
	return nil
}

func bodyError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return huma.Error400BadRequest("malformed JSON", &huma.ErrorDetail{Location: "body", Message: err.Error()})
	case errors.As(err, &typ):
		loc := "body"
		if typ.Field != "" {
			loc += "." + typ.Field
		}
		return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: loc,
			Message: "expected " + jsonKind(typ.Type) + ", got " + typ.Value})
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if field, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body." + strings.Trim(field, `"`), Message: "unknown member"})
	}
	return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body", Message: msg})
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// documentBody replaces the request body huma documents for a RawBody operation with the
// schema of the type the handler decodes.
func (s *Server) documentBody(method, path string, t reflect.Type, description string) {
	item := s.api.OpenAPI().Paths[path]
	if item == nil {
		panic("httpapi: no path " + path)
	}
	var op *huma.Operation
	switch method {
	case http.MethodPost:
		op = item.Post
	case http.MethodPut:
		op = item.Put
	}
	if op == nil {
		panic("httpapi: no operation " + method + " " + path)
	}
	op.RequestBody = &huma.RequestBody{
		Description: description,
		Required:    true,
		Content: map[string]*huma.MediaType{"application/json": {
			Schema: s.api.OpenAPI().Components.Schemas.Schema(t, true, t.Name()),
		}},
	}
}
