package hookio

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{name: "empty", raw: ``, want: ""},
		{name: "string", raw: `"a\nb"`, want: "a\nb"},
		{name: "object sorted", raw: `{"stdout":"out","exit":0,"ok":true,"stderr":"err"}`, want: "0\ntrue\nerr\nout"},
		{name: "nested", raw: `[{"type":"text","text":"x"},null,[1.5]]`, want: "x\ntext\n1.5"},
		{name: "invalid kept raw", raw: `{"a":`, want: `{"a":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(json.RawMessage(tt.raw)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitMCP(t *testing.T) {
	tests := []struct {
		name, server, tool string
		ok                 bool
	}{
		{name: "mcp__fs__read", server: "fs", tool: "read", ok: true},
		{name: "mcp__fs__read__more", server: "fs", tool: "read__more", ok: true},
		{name: "mcp____x"},
		{name: "mcp__fs__"},
		{name: "Bash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tool, ok := SplitMCP(tt.name)
			if s != tt.server || tool != tt.tool || ok != tt.ok {
				t.Fatalf("got %q %q %v", s, tool, ok)
			}
		})
	}
}

// TestShellQuoteRoundTrip checks with a real shell that the quoted line parses back to argv.
func TestShellQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tests := []struct {
		name string
		argv []string
	}{
		{name: "plain", argv: []string{"git", "status"}},
		{name: "spaces and quotes", argv: []string{"echo", "it's a \"test\"", ""}},
		{name: "metacharacters", argv: []string{"echo", "$(rm -rf /)", "`x`", "a;b", "*", "~", "\\n", "a\nb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := ShellQuote(tt.argv)
			got, err := exec.Command(sh, "-c", "set -- "+line+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tt.argv, "\x00") + "\x00"
			if string(got) != want {
				t.Fatalf("line %s parsed to %q, want %q", line, got, want)
			}
		})
	}
}

func TestCheckCwdAndToolCall(t *testing.T) {
	for _, tt := range []struct {
		cwd, tool, input string
		wantErr          string
	}{
		{cwd: "/repo", tool: "Bash", input: `{"command":"ls"}`},
		{cwd: "", tool: "Bash", input: ` {}`},
		{cwd: "repo", tool: "Bash", input: `{}`, wantErr: "not absolute"},
		{cwd: "/repo", tool: "", input: `{}`, wantErr: "no tool_name"},
		{cwd: "/repo", tool: "Bash", input: `"ls"`, wantErr: "must be a JSON object"},
		{cwd: "/repo", tool: "Bash", input: ``, wantErr: "must be a JSON object"},
	} {
		err := CheckCwd(tt.cwd)
		if err == nil {
			err = CheckToolCall(tt.tool, json.RawMessage(tt.input))
		}
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: err = %v", tt, err)
		}
	}
}
