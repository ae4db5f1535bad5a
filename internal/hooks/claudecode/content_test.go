package claudecode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseContent(t *testing.T) {
	tests := []struct {
		file      string
		inspected string
		findings  string
		json      string
	}{
		{file: "post-tool-use-secret.json", inspected: "false\nfalse\n\ndeploying\nGITHUB_TOKEN=@@FAKE_GITHUB_PAT@@\ndone", json: `{}`},
		{file: "post-tool-use-secret.json", inspected: "false\nfalse\n\ndeploying\nGITHUB_TOKEN=@@FAKE_GITHUB_PAT@@\ndone", findings: "1 live secret.",
			json: `{"decision":"block","reason":"CAVRA: the output of Bash holds 1 live secret. Do not repeat, store or use these values; tell the user to rotate them.",` +
				`"hookSpecificOutput":{"hookEventName":"PostToolUse","additionalContext":"CAVRA: the output of Bash holds 1 live secret. Do not repeat, store or use these values; tell the user to rotate them."}}`},
		{file: "user-prompt-secret.json", inspected: "use this token to open the PR: @@FAKE_GITHUB_PAT@@", findings: "1 live secret.",
			json: `{"decision":"block","reason":"CAVRA blocked this prompt: 1 live secret. Remove the secret and send the prompt again."}`},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.findings, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseContent(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := Inspected(p); got != tt.inspected {
				t.Fatalf("inspected %q, want %q", got, tt.inspected)
			}
			b, _ := json.Marshal(RenderFindings(p, tt.findings))
			if string(b) != tt.json {
				t.Fatalf("got  %s\nwant %s", b, tt.json)
			}
		})
	}
}

func TestParseContentRejects(t *testing.T) {
	tests := []struct{ name, payload, want string }{
		{name: "empty", payload: "", want: "empty"},
		{name: "pre tool use", payload: `{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{}}`, want: "not handled here"},
		{name: "post without tool", payload: `{"hook_event_name":"PostToolUse"}`, want: "no tool_name"},
		{name: "prompt missing", payload: `{"hook_event_name":"UserPromptSubmit"}`, want: "no prompt"},
		{name: "prompt not string", payload: `{"hook_event_name":"UserPromptSubmit","prompt":{}}`, want: "decode"},
		{name: "relative cwd", payload: `{"hook_event_name":"UserPromptSubmit","prompt":"x","cwd":"r"}`, want: "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseContent([]byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func FuzzParseContent(f *testing.F) {
	for _, name := range []string{"post-tool-use-secret.json", "user-prompt-secret.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseContent(data)
		if err != nil {
			return
		}
		if p.HookEventName != EventPostToolUse && p.HookEventName != EventUserPromptSubmit {
			t.Fatalf("accepted event %q", p.HookEventName)
		}
		_ = Inspected(p)
		_ = RenderFindings(p, "x")
	})
}
