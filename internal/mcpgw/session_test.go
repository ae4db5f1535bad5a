package mcpgw

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

type failingGovernor struct{ decideErr, recordErr error }

func (g failingGovernor) Decide(_ context.Context, a cavra.Action) (cavra.Action, cavra.Decision, error) {
	return a, cavra.Decision{Outcome: cavra.Allow, ID: "d1"}, g.decideErr
}
func (g failingGovernor) Record(context.Context, cavra.Action, cavra.Decision) error {
	return g.recordErr
}

type failingEvidence struct{}

func (failingEvidence) RecordResult(context.Context, ResultRecord) error {
	return errors.New("disk full")
}

func TestFromClient(t *testing.T) {
	tests := []struct {
		name        string
		gov         Governor
		in          string
		wantForward bool
		wantReply   string
		wantErr     bool
	}{
		{name: "notification forwarded", gov: allowAll{}, in: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, wantForward: true},
		{name: "initialize forwarded", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, wantForward: true},
		{name: "allowed call forwarded", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`, wantForward: true},
		{name: "unparseable not forwarded", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call"`, wantReply: `"code":-32700`},
		{name: "batch not forwarded", gov: allowAll{}, in: `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}]`, wantReply: "batches"},
		{name: "duplicate method not forwarded", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"x"}}`, wantReply: "duplicate key"},
		{name: "duplicate argument not forwarded", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"w","arguments":{"path":"a","path":".env"}}}`, wantReply: "duplicate key"},
		{name: "call without name", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, wantReply: "params.name"},
		{name: "arguments not an object", gov: allowAll{}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[1]}}`, wantReply: "must be an object"},
		{name: "policy failure fails closed", gov: failingGovernor{decideErr: errors.New("policy broken")}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`, wantReply: "could not judge", wantErr: true},
		{name: "evidence failure fails closed", gov: failingGovernor{recordErr: errors.New("disk full")}, in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`, wantReply: "disk full", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw, err := New(Config{Server: "s", Governor: tc.gov, Now: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			v, err := gw.NewSession().FromClient(context.Background(), []byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if (v.Forward != nil) != tc.wantForward {
				t.Errorf("forwarded = %v, want %v", v.Forward != nil, tc.wantForward)
			}
			if tc.wantReply != "" && !strings.Contains(string(v.Reply), tc.wantReply) {
				t.Errorf("reply %s lacks %q", v.Reply, tc.wantReply)
			}
			if v.Forward != nil && v.Reply != nil {
				t.Error("both forwarded and answered")
			}
		})
	}
}

func TestResultWithheldWithoutEvidence(t *testing.T) {
	gw, err := New(Config{Server: "s", Governor: allowAll{}, Evidence: failingEvidence{}, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	s := gw.NewSession()
	if v, _ := s.FromClient(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`)); v.Forward == nil {
		t.Fatal("call not forwarded")
	}
	out, err := s.FromServer(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"the data"}]}}`))
	if err == nil || strings.Contains(string(out), "the data") || !strings.Contains(string(out), `"isError":true`) {
		t.Errorf("result passed without evidence: %s (%v)", out, err)
	}
}

func TestResultHandlings(t *testing.T) {
	result := `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"token: ` + fakeGitHubToken + `"}],"structuredContent":{"token":"` + fakeGitHubToken + `"}}}`
	tests := []struct {
		handling   ResultHandling
		want       []string
		reject     []string
		wantRecord string
	}{
		{Redact, []string{"[REDACTED by CAVRA: github-pat]", "CAVRA redacted"}, []string{fakeGitHubToken, "structuredContent"}, "redacted"},
		{Flag, []string{fakeGitHubToken, "CAVRA warning: this tool result contains secret"}, nil, "flagged"},
		{BlockResult, []string{"CAVRA withheld this tool result", `"isError":true`}, []string{fakeGitHubToken}, "blocked"},
	}
	for _, tc := range tests {
		t.Run(string(tc.handling), func(t *testing.T) {
			ev := &memEvidence{}
			gw, err := New(Config{Server: "s", Governor: allowAll{}, Evidence: ev, Secrets: testSecrets(), OnSecret: tc.handling, Now: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			s := gw.NewSession()
			s.FromClient(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`))
			out, err := s.FromServer(context.Background(), []byte(result))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("out lacks %q: %s", w, out)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(string(out), r) {
					t.Errorf("out has %q: %s", r, out)
				}
			}
			recs := ev.all()
			if len(recs) != 1 || recs[0].Handling != tc.wantRecord {
				t.Errorf("records = %+v", recs)
			}
		})
	}
}

// A request may not reuse the id of one in flight: the answer to a tools/list could otherwise be
// taken for a tools/call's and skip the result scanner, or the other way round.
func TestRequestIDsInFlightAreUnique(t *testing.T) {
	gw, err := New(Config{Server: "s", Governor: allowAll{}, Secrets: testSecrets(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	s := gw.NewSession()
	ctx := context.Background()
	if v, _ := s.FromClient(ctx, []byte(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x"}}`)); v.Forward == nil {
		t.Fatal("first call not forwarded")
	}
	for _, reuse := range []string{
		`{"jsonrpc":"2.0","id":5,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":5,"method":"ping"}`,
	} {
		if v, _ := s.FromClient(ctx, []byte(reuse)); v.Forward != nil || !strings.Contains(string(v.Reply), "already in use") {
			t.Errorf("reused id accepted: %s -> %s", reuse, v.Reply)
		}
	}
	// "5" is a different id from 5.
	if v, _ := s.FromClient(ctx, []byte(`{"jsonrpc":"2.0","id":"5","method":"ping"}`)); v.Forward == nil {
		t.Errorf("string id refused: %s", v.Reply)
	}
	out, err := s.FromServer(ctx, []byte(`{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"t `+fakeGitHubToken+`"}]}}`))
	if err != nil || strings.Contains(string(out), fakeGitHubToken) {
		t.Errorf("the call's answer was not scanned: %s %v", out, err)
	}
	// Once answered, the id is free again.
	if v, _ := s.FromClient(ctx, []byte(`{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)); v.Forward == nil {
		t.Errorf("answered id still blocked: %s", v.Reply)
	}
}

func TestIDCanonicalForm(t *testing.T) {
	a, err := ParseMessage([]byte(`{"jsonrpc":"2.0","id":"\u0061","method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseMessage([]byte(`{"jsonrpc":"2.0","id":"a","result":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.idKey() != b.idKey() {
		t.Errorf("escaped and plain string ids differ: %q %q", a.idKey(), b.idKey())
	}
	for _, bad := range []string{`1.0`, `1e0`, `01`, `-`, `99999999999999999999`} {
		if _, err := ParseMessage([]byte(`{"jsonrpc":"2.0","id":` + bad + `,"method":"ping"}`)); err == nil {
			t.Errorf("id %s accepted", bad)
		}
	}
}
