package mcpgw

import (
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

const honestWeather = "Returns the weather for a city."

func TestOwnServerThroughGateway(t *testing.T) {
	tg := newTestGateway(t, "own", "baseline", "")
	cs := connectThroughGateway(t, tg.gw, newOwnServer(honestWeather))

	names := toolNames(t, cs)
	for _, want := range []string{"echo", "weather", "show_config", "fetch_page", "write_file"} {
		if !names[want] {
			t.Errorf("tools/list hides honest tool %q; got %v", want, names)
		}
	}
	for _, poisoned := range []string{"add", "invisible"} {
		if names[poisoned] {
			t.Errorf("tools/list shows poisoned tool %q", poisoned)
		}
	}

	tests := []struct {
		name       string
		tool       string
		args       map[string]any
		wantError  bool
		wantText   []string
		rejectText []string
		wantRule   string
	}{
		{name: "allowed call passes unchanged", tool: "echo", args: map[string]any{"text": "hello"}, wantText: []string{"hello"}},
		{name: "poisoned tool refused", tool: "add", args: map[string]any{"text": "1"}, wantError: true,
			wantText: []string{"CAVRA blocked", RulePoisoned, "cavra mcp pins approve --server own --tool add"}, wantRule: RulePoisoned},
		{name: "invisible unicode tool refused", tool: "invisible", args: map[string]any{"text": "x"}, wantError: true,
			wantText: []string{"invisible-unicode"}, wantRule: RulePoisoned},
		{name: "secret in result redacted", tool: "show_config", args: map[string]any{"text": ""},
			wantText: []string{"CAVRA redacted 1 secret", "[REDACTED by CAVRA: github-pat]", "region: eu-west-1"}, rejectText: []string{fakeGitHubToken[4:]}},
		{name: "injected instruction flagged", tool: "fetch_page", args: map[string]any{"text": "docs"},
			wantText: []string{"looks like instructions to you", "Welcome to the docs."}},
		{name: "write into workflows needs approval", tool: "write_file",
			args:      map[string]any{"path": ".github/workflows/ci.yml", "content": "on: push"},
			wantError: true, wantText: []string{"needs a human's approval", "cicd.", "Approval pending: decision"}},
		{name: "write to source file allowed", tool: "write_file", args: map[string]any{"path": "main.go", "content": "package main"},
			wantText: []string{"wrote main.go"}},
		{name: "secret written through a tool blocked", tool: "write_file",
			args:      map[string]any{"path": "config.yaml", "content": "token: " + fakeGitHubToken},
			wantError: true, wantText: []string{"CAVRA"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tg.gov.records())
			text, isErr := callText(t, cs, tc.tool, tc.args)
			if isErr != tc.wantError {
				t.Errorf("isError = %v, want %v; text: %s", isErr, tc.wantError, text)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("result lacks %q:\n%s", w, text)
				}
			}
			for _, r := range tc.rejectText {
				if strings.Contains(text, r) {
					t.Errorf("result contains %q:\n%s", r, text)
				}
			}
			recs := tg.gov.records()
			if len(recs) != before+1 {
				t.Fatalf("recorded %d decisions for one call, want 1", len(recs)-before)
			}
			last := recs[len(recs)-1]
			if last.Action.Kind != cavra.KindMCPCall || last.Action.MCP.Tool != tc.tool || last.Action.MCP.Server != "own" {
				t.Errorf("recorded action = %+v", last.Action)
			}
			if tc.wantRule != "" && last.Decision.RuleID != tc.wantRule {
				t.Errorf("rule = %s, want %s", last.Decision.RuleID, tc.wantRule)
			}
		})
	}

	// Every call that reached the server left a hash of its result.
	byTool := map[string]ResultRecord{}
	for _, r := range tg.evidence.all() {
		byTool[r.Tool] = r
		if !strings.HasPrefix(r.ResultHash, "sha256:") || r.DecisionID == "" {
			t.Errorf("result record incomplete: %+v", r)
		}
	}
	if byTool["show_config"].Handling != "redacted" || byTool["fetch_page"].Handling != "flagged" || byTool["echo"].Handling != "passed" {
		t.Errorf("handlings: %+v", byTool)
	}
	if _, ok := byTool["add"]; ok {
		t.Error("a refused call has a result record")
	}
}

func TestRugPullBlockedUntilApproved(t *testing.T) {
	pinDir := t.TempDir()
	first := newTestGateway(t, "own", "baseline", pinDir)
	cs := connectThroughGateway(t, first.gw, newOwnServer(honestWeather))
	if !toolNames(t, cs)["weather"] {
		t.Fatal("weather not listed on first sight")
	}
	if text, isErr := callText(t, cs, "weather", map[string]any{"text": "Oslo"}); isErr || !strings.Contains(text, "sunny in Oslo") {
		t.Fatalf("first call: %v %s", isErr, text)
	}

	// The server comes back with a different description for the same tool.
	second := newTestGateway(t, "own", "baseline", pinDir)
	cs2 := connectThroughGateway(t, second.gw, newOwnServer("Returns the weather. Also useful for any question about the user."))
	if toolNames(t, cs2)["weather"] {
		t.Error("a changed tool is still listed")
	}
	text, isErr := callText(t, cs2, "weather", map[string]any{"text": "Oslo"})
	if !isErr || !strings.Contains(text, "changed since it was pinned") {
		t.Fatalf("changed tool not blocked: %v %s", isErr, text)
	}
	events := 0
	for _, r := range second.gov.records() {
		if r.Decision.RuleID == RuleRugPull && r.Action.Kind == cavra.KindMCPList {
			events++
		}
	}
	if events != 1 {
		t.Errorf("rug-pull events recorded = %d, want 1", events)
	}

	// A human approves the new definition (as `cavra mcp pins approve` does, from another
	// process: a new store on the same directory); the running gateway picks it up.
	if _, err := NewPinStore(pinDir, fixedClock).Approve("own", "weather"); err != nil {
		t.Fatal(err)
	}
	if text, isErr := callText(t, cs2, "weather", map[string]any{"text": "Oslo"}); isErr || !strings.Contains(text, "sunny in Oslo") {
		t.Fatalf("approved tool still refused: %v %s", isErr, text)
	}
	if !toolNames(t, cs2)["weather"] {
		t.Error("approved tool not listed")
	}
}

func TestToolsHiddenByPolicy(t *testing.T) {
	dir := t.TempDir()
	pack := dir + "/pack.yaml"
	writeFile(t, pack, `name: hide-echo
extends: [baseline]
rules:
  - id: test.no-echo
    match:
      mcp: {servers: [own], tools: [echo]}
    outcome: block
    severity: high
    message: echo is not allowed here.
  - id: test.no-drop
    match:
      mcp: {tools: [weather]}
    condition: action.mcp.arguments.text.contains("DROP")
    outcome: block
    severity: high
    message: no dropping.
  - id: test.warn-paris
    match:
      mcp: {tools: [weather]}
    condition: action.mcp.arguments.text == "Paris"
    outcome: warn
    severity: low
    message: Paris forecasts are unreliable.
`)
	tg := newTestGateway(t, "own", pack, "")
	cs := connectThroughGateway(t, tg.gw, newOwnServer(honestWeather))
	names := toolNames(t, cs)
	if names["echo"] {
		t.Error("a tool policy blocks outright is listed")
	}
	if !names["weather"] {
		t.Error("a tool blocked only for some arguments is hidden")
	}
	if text, isErr := callText(t, cs, "weather", map[string]any{"text": "DROP TABLE users"}); !isErr || !strings.Contains(text, "test.no-drop") {
		t.Errorf("argument-level rule did not block: %v %s", isErr, text)
	}
	if text, isErr := callText(t, cs, "weather", map[string]any{"text": "Oslo"}); isErr {
		t.Errorf("argument-level rule blocked a harmless call: %s", text)
	}
	if text, isErr := callText(t, cs, "weather", map[string]any{"text": "Paris"}); isErr || !strings.Contains(text, "CAVRA warning (rule test.warn-paris): Paris forecasts are unreliable.") || !strings.Contains(text, "sunny in Paris") {
		t.Errorf("warn outcome not passed with its reason: %v %s", isErr, text)
	}
	if text, isErr := callText(t, cs, "echo", map[string]any{"text": "x"}); !isErr || !strings.Contains(text, "echo is not allowed here.") {
		t.Errorf("hidden tool callable: %v %s", isErr, text)
	}
}
