package mcpgw

import (
	"context"
	"reflect"
	"testing"

	"github.com/cavra-dev/cavra"
)

func TestOperationOf(t *testing.T) {
	tests := []struct {
		tool string
		want []cavra.FileOperation
	}{
		{"read_text_file", []cavra.FileOperation{cavra.FileRead}},
		{"write_file", []cavra.FileOperation{cavra.FileWrite}},
		{"edit_file", []cavra.FileOperation{cavra.FileWrite}},
		{"move_file", []cavra.FileOperation{cavra.FileMove}},
		{"deleteFile", []cavra.FileOperation{cavra.FileDelete}},
		{"list_directory", []cavra.FileOperation{cavra.FileRead}},
		{"createDirectory", []cavra.FileOperation{cavra.FileWrite}},
		{"frobnicate", []cavra.FileOperation{cavra.FileRead, cavra.FileWrite}},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			if got := OperationOf(tc.tool); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("OperationOf(%q) = %v, want %v", tc.tool, got, tc.want)
			}
		})
	}
}

func TestToolCallActionFiles(t *testing.T) {
	tests := []struct {
		name string
		tool string
		args map[string]any
		want []cavra.FileOp
	}{
		{name: "write with content", tool: "write_file", args: map[string]any{"path": "a.txt", "content": "x"},
			want: []cavra.FileOp{{Op: cavra.FileWrite, Path: "a.txt", Raw: "a.txt", Content: "x"}}},
		{name: "edit carries new text", tool: "edit_file", args: map[string]any{"path": "a.go", "edits": []any{map[string]any{"oldText": "a", "newText": "b"}}},
			want: []cavra.FileOp{{Op: cavra.FileWrite, Path: "a.go", Raw: "a.go", Content: "b\n"}}},
		{name: "move names both ends", tool: "move_file", args: map[string]any{"source": "a", "destination": "b"},
			want: []cavra.FileOp{{Op: cavra.FileMove, Path: "a", Raw: "a", To: "b"}, {Op: cavra.FileMove, Path: "b", Raw: "b"}}},
		{name: "several paths", tool: "read_multiple_files", args: map[string]any{"paths": []any{"x", "y", 3}},
			want: []cavra.FileOp{{Op: cavra.FileRead, Path: "x", Raw: "x"}, {Op: cavra.FileRead, Path: "y", Raw: "y"}}},
		{name: "unknown verb is read and write", tool: "frob", args: map[string]any{"file": "z"},
			want: []cavra.FileOp{{Op: cavra.FileRead, Path: "z", Raw: "z"}, {Op: cavra.FileWrite, Path: "z", Raw: "z"}}},
		{name: "no path arguments", tool: "query", args: map[string]any{"sql": "select 1"}},
		{name: "non-string path ignored", tool: "read_file", args: map[string]any{"path": 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := ToolCallAction("fs", "/repo", tc.tool, tc.args)
			if a.Kind != cavra.KindMCPCall || a.MCP.Tool != tc.tool || a.MCP.Server != "fs" || a.Source.Host != "mcp" {
				t.Errorf("action = %+v", a)
			}
			if !reflect.DeepEqual(a.Files, tc.want) {
				t.Errorf("files = %+v\nwant %+v", a.Files, tc.want)
			}
		})
	}
}

// The file rules of the baseline pack apply to MCP calls through the derived file operations,
// with paths resolved against the working directory.
func TestFileRulesApplyToToolCalls(t *testing.T) {
	gov := &engineGovernor{eng: newTestEngine(t, "baseline")}
	tests := []struct {
		name     string
		tool     string
		args     map[string]any
		wantRule string
		outcome  cavra.Outcome
	}{
		{name: "relative .env read", tool: "read_text_file", args: map[string]any{"path": "config/.env"}, wantRule: "secrets.dotenv", outcome: cavra.Block},
		{name: "workflow write", tool: "write_file", args: map[string]any{"path": "/repo/.github/workflows/ci.yml", "content": "on: push"}, wantRule: "cicd.", outcome: cavra.RequireApproval},
		{name: "ssh key via home", tool: "some_reader", args: map[string]any{"file": "~/.ssh/id_rsa"}, wantRule: "secrets.", outcome: cavra.Block},
		{name: "plain source read", tool: "read_text_file", args: map[string]any{"path": "main.go"}, outcome: cavra.Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, d, err := gov.Decide(context.Background(), ToolCallAction("fs", "/repo", tc.tool, tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.outcome {
				t.Errorf("outcome = %s (rule %s), want %s; files %+v", d.Outcome, d.RuleID, tc.outcome, a.Files)
			}
			if tc.wantRule == "" {
				return
			}
			found := false
			for _, m := range d.Matches {
				if len(m.RuleID) >= len(tc.wantRule) && m.RuleID[:len(tc.wantRule)] == tc.wantRule && m.Subject == "file" {
					found = true
				}
			}
			if !found {
				t.Errorf("no file rule %s* matched; matches %+v", tc.wantRule, d.Matches)
			}
		})
	}
}
