package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"path"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/hooks/claudecode"
	"github.com/cavra-dev/cavra/internal/hooks/codex"
	"github.com/cavra-dev/cavra/internal/hooks/cursor"
	"github.com/cavra-dev/cavra/internal/hooks/gemini"
)

// hookCall is a parsed hook payload: the action to decide and how to answer the host.
type hookCall struct {
	action cavra.Action
	render func(cavra.Decision) any
}

// hookAdapter speaks one host's protocol. parse returns problems (400/422) for payloads the
// server does not answer.
type hookAdapter struct {
	parse func(data []byte) (hookCall, error)
	// deny is the host's "no" when there is no payload to answer (the authenticator failed).
	deny func(cavra.Decision) any
	// answer is the type of the host's answer, for the OpenAPI document.
	answer reflect.Type
}

var hookAdapters = map[string]hookAdapter{
	claudecode.Host: {
		parse: func(data []byte) (hookCall, error) {
			p, err := claudecode.Parse(data)
			if err != nil {
				if ev := eventName(data); ev != "" && ev != claudecode.EventPreToolUse {
					return hookCall{}, unsupportedEvent(claudecode.Host, ev)
				}
				return hookCall{}, malformedPayload(err)
			}
			a, err := claudecode.ToAction(p)
			return hookCall{action: a, render: func(d cavra.Decision) any { return claudecode.Render(d) }}, payloadError(err)
		},
		deny:   func(d cavra.Decision) any { return claudecode.Render(d) },
		answer: reflect.TypeFor[claudecode.Answer](),
	},
	codex.Host: {
		parse: func(data []byte) (hookCall, error) {
			p, err := codex.Parse(data)
			if err != nil {
				return hookCall{}, malformedPayload(err)
			}
			if p.HookEventName != codex.EventPreToolUse {
				return hookCall{}, unsupportedEvent(codex.Host, p.HookEventName)
			}
			a, err := codex.ToAction(p)
			return hookCall{action: a, render: func(d cavra.Decision) any { return codex.Render(d) }}, payloadError(err)
		},
		deny:   func(d cavra.Decision) any { return codex.Render(d) },
		answer: reflect.TypeFor[codex.Answer](),
	},
	cursor.Host: {
		parse: func(data []byte) (hookCall, error) {
			p, err := cursor.Parse(data)
			if err != nil {
				return hookCall{}, malformedPayload(err)
			}
			if !cursor.IsDecision(p) {
				return hookCall{}, unsupportedEvent(cursor.Host, p.HookEventName)
			}
			a, err := cursor.ToAction(p)
			return hookCall{action: a, render: func(d cavra.Decision) any { return cursor.Render(p, d) }}, payloadError(err)
		},
		deny:   func(d cavra.Decision) any { return cursor.Render(cursor.Payload{}, d) },
		answer: reflect.TypeFor[cursor.Answer](),
	},
	gemini.Host: {
		parse: func(data []byte) (hookCall, error) {
			p, err := gemini.Parse(data)
			if err != nil {
				return hookCall{}, malformedPayload(err)
			}
			if p.HookEventName != gemini.EventBeforeTool {
				return hookCall{}, unsupportedEvent(gemini.Host, p.HookEventName)
			}
			a, err := gemini.ToAction(p)
			return hookCall{action: a, render: func(d cavra.Decision) any { return gemini.Render(d) }}, payloadError(err)
		},
		deny:   func(d cavra.Decision) any { return gemini.Render(d) },
		answer: reflect.TypeFor[gemini.Answer](),
	},
}

// hookHosts is the path enum, in a fixed order for the OpenAPI document.
var hookHosts = []string{claudecode.Host, codex.Host, cursor.Host, gemini.Host}

// eventName peeks at a payload's hook_event_name, to tell an event the server does not answer
// from a malformed payload.
func eventName(data []byte) string {
	var p struct {
		HookEventName string `json:"hook_event_name"`
	}
	if json.Unmarshal(data, &p) != nil {
		return ""
	}
	return p.HookEventName
}

func malformedPayload(err error) error {
	return huma.Error422UnprocessableEntity("malformed hook payload", &huma.ErrorDetail{Location: "body", Message: err.Error()})
}

func payloadError(err error) error {
	if err == nil {
		return nil
	}
	return malformedPayload(err)
}

func unsupportedEvent(host, event string) error {
	return huma.Error422UnprocessableEntity("event not supported by the server yet",
		&huma.ErrorDetail{Location: "body.hook_event_name", Message: host + " event " + event + " is answered by the local `cavra hook " + host + "` command only", Value: event})
}

type hookInput struct {
	Host      string `path:"host" enum:"claude-code,codex,cursor,gemini" doc:"The agent host whose hook protocol the body and answer speak."`
	AgentHome string `header:"X-Cavra-Agent-Home" maxLength:"4096" doc:"The home directory of the user the agent runs as: \"~\" in its commands and paths resolves against it (hook payloads do not carry it). Absolute; otherwise ignored."`
	RawBody   []byte `contentType:"application/json"`
}

type hookOutput struct {
	DecisionID string `header:"X-Cavra-Decision-Id" doc:"The recorded decision; absent when none could be recorded."`
	Outcome    string `header:"X-Cavra-Outcome" doc:"The decision's outcome; block when CAVRA failed closed."`
	Body       any
}

func (s *Server) registerHooks() {
	roles := []cavra.Role{cavra.RoleAgent, cavra.RoleAdmin}
	op := s.operation(huma.Operation{
		OperationID: "hook",
		Method:      http.MethodPost,
		Path:        "/v1/hooks/{host}",
		Summary:     "Answer an agent host's hook",
		Description: "Takes the host's own pre-tool hook payload (Claude Code PreToolUse, Codex PreToolUse, Cursor before*, Gemini CLI BeforeTool), " +
			"decides it like POST /v1/decisions and answers in the host's own protocol. Other events are 422. " +
			"When the decision cannot be made or recorded, the answer is still 200: the host's deny, so that the action does not run.",
		Tags:             []string{"hooks"},
		MaxBodyBytes:     MaxHookBodyBytes + 1,
		SkipValidateBody: true, // the host adapter parses it
		Errors:           []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, roles...)
	op.Middlewares[0] = s.authenticate(roles, s.hookAuthUnavailable)
	answers := make([]*huma.Schema, 0, len(hookHosts))
	for _, h := range hookHosts {
		t := hookAdapters[h].answer
		answers = append(answers, s.api.OpenAPI().Components.Schemas.Schema(t, true, t.Name()))
	}
	op.Responses = map[string]*huma.Response{"200": {
		Description: "The host's answer.",
		Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{AnyOf: answers, Description: "The answer in the protocol of the host named in the path."}}},
	}}
	huma.Register(s.api, op, func(ctx context.Context, in *hookInput) (*hookOutput, error) {
		ad, ok := hookAdapters[in.Host]
		if !ok {
			return nil, huma.Error404NotFound("unknown hook host " + in.Host)
		}
		if !json.Valid(in.RawBody) {
			return nil, huma.Error400BadRequest("malformed JSON", &huma.ErrorDetail{Location: "body", Message: "the body is not valid JSON"})
		}
		call, err := ad.parse(in.RawBody)
		if err != nil {
			return nil, err
		}
		if call.action.Home == "" && path.IsAbs(in.AgentHome) {
			call.action.Home = path.Clean(in.AgentHome)
		}
		ctx = actionContext(ctx, &call.action)
		d, err := s.cfg.Governor.Decide(ctx, call.action)
		if err != nil {
			// Fail closed in the host's own protocol: a non-2xx answer lets some hosts (Claude
			// Code's http hooks) run the action anyway.
			d = s.failClosed(ctx, err)
			return &hookOutput{Outcome: string(d.Outcome), Body: call.render(d)}, nil
		}
		return &hookOutput{DecisionID: d.ID, Outcome: string(d.Outcome), Body: call.render(d)}, nil
	})
	s.api.OpenAPI().Paths["/v1/hooks/{host}"].Post.RequestBody = &huma.RequestBody{
		Description: "The host's hook payload, exactly as the host sends it.",
		Required:    true,
		Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Type: huma.TypeObject}}},
	}
}

// failClosed is the decision a hook gets when none could be made or recorded.
func (s *Server) failClosed(ctx context.Context, err error) cavra.Decision {
	reason := "CAVRA could not record the decision, so the action is blocked (fail closed)."
	if cavra.Code(err) == cavra.ErrInvalid {
		reason = "CAVRA could not judge this action, so it is blocked (fail closed): " + err.Error()
	} else {
		s.log.ErrorContext(ctx, "httpapi: hook decision failed; answering deny", "error", err)
	}
	return cavra.Decision{Outcome: cavra.Block, RuleID: "cavra.fail_closed", Reason: reason,
		Remediation: "Retry shortly; if it persists, ask the operator to check `cavra serve`.", Policy: "cavra-server"}
}

// hookAuthUnavailable answers a hook whose token could not be checked (the store is down) with
// the host's deny, for the same reason as failClosed.
func (s *Server) hookAuthUnavailable(hctx huma.Context, err error) bool {
	ad, ok := hookAdapters[hctx.Param("host")]
	if !ok {
		return false
	}
	b, mErr := json.Marshal(ad.deny(s.failClosed(hctx.Context(), err)))
	if mErr != nil {
		return false
	}
	hctx.SetHeader("Content-Type", "application/json")
	hctx.SetHeader("X-Cavra-Outcome", string(cavra.Block))
	hctx.SetStatus(http.StatusOK)
	_, _ = hctx.BodyWriter().Write(append(b, '\n'))
	return true
}
