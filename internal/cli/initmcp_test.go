package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var updateInitMCPGolden = flag.Bool("update-initmcp", false, "rewrite the init mcp golden file")

func TestInitMCPWrapsAndUndoes(t *testing.T) {
	original, err := os.ReadFile(filepath.Join("testdata", "initmcp", "mcp.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, ".mcp.json")
	writeTestFile(t, file, string(original))
	env := map[string]string{"CAVRA_HOME": t.TempDir()}

	res := runCLIWith(t, env, "init", "mcp", "--file", file, "--cavra", "/usr/local/bin/cavra")
	if res.code != 0 {
		t.Fatalf("init mcp: %+v", res)
	}
	for _, want := range []string{"filesystem: now runs through cavra mcp wrap", "sqlite: now runs through", "github: HTTP server left as is"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, res.stdout)
		}
	}
	wrapped, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "initmcp", "mcp.wrapped.json")
	if *updateInitMCPGolden {
		writeTestFile(t, golden, string(wrapped))
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(wrapped) != string(want) {
		t.Errorf("wrapped config differs from %s:\n%s", golden, wrapped)
	}

	// Running it again changes nothing.
	if res := runCLIWith(t, env, "init", "mcp", "--file", file, "--cavra", "/usr/local/bin/cavra"); res.code != 0 {
		t.Fatalf("second init mcp: %+v", res)
	}
	again, _ := os.ReadFile(file)
	if string(again) != string(wrapped) {
		t.Error("init mcp is not idempotent")
	}

	// --undo restores every server exactly (as data; key order and spacing may differ).
	if res := runCLIWith(t, env, "init", "mcp", "--file", file, "--undo"); res.code != 0 {
		t.Fatalf("undo: %+v", res)
	}
	restored, _ := os.ReadFile(file)
	var a, b any
	if err := json.Unmarshal(original, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(restored, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("undo did not restore the config:\n%s", restored)
	}
}

func TestInitMCPErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{name: "not json", content: "{", want: "parse MCP config"},
		{name: "no servers", content: `{"theme":"dark"}`, want: `no "mcpServers"`},
		{name: "bad args", content: `{"mcpServers":{"x":{"command":"a","args":"b"}}}`, want: "server x: args"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			writeTestFile(t, file, tc.content)
			res := runCLIWith(t, map[string]string{}, "init", "mcp", "--file", file, "--cavra", "cavra")
			if res.code != exitUsage || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("got %+v, want exit 2 and %q", res, tc.want)
			}
		})
	}
	if res := runCLIWith(t, map[string]string{}, "init", "mcp", "--file", filepath.Join(dir, "missing.json")); res.code != exitUsage {
		t.Errorf("missing file: %+v", res)
	}
}

func TestServerName(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"npx", "-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/repo"}, "filesystem"},
		{[]string{"uvx", "mcp-server-sqlite", "--db-path", "x"}, "mcp-server-sqlite"},
		{[]string{"/usr/bin/my-server", "--flag"}, "my-server"},
		{[]string{"node", "dist/index.js"}, "index"},
	}
	for _, tc := range tests {
		if got := serverName(tc.argv); got != tc.want {
			t.Errorf("serverName(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
}
