package hooklite

import "testing"

func TestServerAnswers(t *testing.T) {
	cases := []struct {
		host, event string
		want        bool
	}{
		{"claude-code", "PreToolUse", true},
		{"claude-code", "PostToolUse", false},
		{"claude-code", "UserPromptSubmit", false},
		{"codex", "PreToolUse", true},
		{"codex", "PostToolUse", false},
		{"codex", "UserPromptSubmit", false},
		{"cursor", "beforeShellExecution", true},
		{"cursor", "beforeMCPExecution", true},
		{"cursor", "beforeReadFile", true},
		{"cursor", "afterShellExecution", false},
		{"cursor", "beforeSubmitPrompt", false},
		{"gemini", "BeforeTool", true},
		{"gemini", "AfterTool", false},
		{"gemini", "BeforeAgent", false},
		{"gemini", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.host+"/"+tc.event, func(t *testing.T) {
			if got := ServerAnswers(tc.host, tc.event); got != tc.want {
				t.Fatalf("ServerAnswers(%q, %q) = %v, want %v", tc.host, tc.event, got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ in, want string }{
		{`{"hook_event_name":"AfterTool","x":1}`, "AfterTool"},
		{`{"x":1}`, ""},
		{`not json`, ""},
	} {
		if got := EventOf([]byte(tc.in)); got != tc.want {
			t.Fatalf("EventOf(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
