package cavra

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"testing"
)

// referenceFingerprint is the encoding/json form Fingerprint must reproduce byte for byte, so
// that approvals bound to fingerprints by earlier builds keep matching.
func referenceFingerprint(a Action) string {
	type what struct {
		Kind      Kind             `json:"k"`
		Principal string           `json:"p,omitempty"`
		Tenant    string           `json:"t,omitempty"`
		Workspace string           `json:"w,omitempty"`
		Cwd       string           `json:"c,omitempty"`
		Line      string           `json:"l,omitempty"`
		Files     []FileOp         `json:"f,omitempty"`
		Git       []GitOp          `json:"g,omitempty"`
		MCP       *MCPCall         `json:"m,omitempty"`
		Network   []NetworkRequest `json:"n,omitempty"`
		Model     *ModelRef        `json:"o,omitempty"`
		Attrs     map[string]any   `json:"a,omitempty"`
	}
	w := what{Kind: a.Kind, Principal: a.Principal, Tenant: a.Tenant, Workspace: a.Workspace,
		Cwd: a.Cwd, Files: a.Files, Git: a.Git, MCP: a.MCP, Network: a.Network, Model: a.Model,
		Attrs: a.Attributes}
	if a.Command != nil {
		w.Line = a.Command.Line
	}
	b, err := json.Marshal(w)
	if err != nil {
		b = []byte(string(a.Kind) + "\x00" + a.Cwd)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestFingerprintMatchesJSON(t *testing.T) {
	tests := []struct {
		name   string
		action Action
	}{
		{"kind only", Action{Kind: KindCommandExec}},
		{"command", Action{Kind: KindCommandExec, Cwd: "/repo", Principal: "alice", Tenant: "t1", Workspace: "w",
			Command: &Command{Line: `git commit -m "fix <b> & \"quotes\"" && echo '\t'`}}},
		{"control and unicode", Action{Kind: KindCommandExec, Command: &Command{Line: "a\x00\x01\x1f\b\f\n\r\t\x7f é \u2028\u2029 \xff\xfe 😀"}}},
		{"empty command", Action{Kind: KindCommandExec, Command: &Command{}}},
		{"files", Action{Kind: KindFileWrite, Files: []FileOp{
			{Op: FileWrite, Path: "/repo/a.go", Raw: "a.go", Content: "package a\n"},
			{Op: FileMove, Path: "/repo/b", To: "/repo/c"},
			{Op: FileRead},
		}}},
		{"empty slices are omitted", Action{Kind: KindFileRead, Files: []FileOp{}, Git: []GitOp{}, Network: []NetworkRequest{}, Attributes: map[string]any{}}},
		{"git", Action{Kind: KindGitPush, Git: []GitOp{
			{Subcommand: "push", Remote: "origin", Refs: []string{"main", "v1"}, Force: true, Delete: true, Args: []string{"-f", "origin", "+main"}},
			{Subcommand: "", Refs: []string{}},
		}}},
		{"mcp", Action{Kind: KindMCPCall, MCP: &MCPCall{Server: "fs", Tool: "read_file", Method: "tools/call",
			Arguments: map[string]any{"path": "/etc/passwd", "n": 1.5, "big": 1e21, "small": 1e-7, "int": 3, "list": []any{"a", nil, true, 2.0, map[string]any{"z": "y", "a": []string{"q"}}}, "nil map": map[string]any(nil), "nil list": []any(nil)}}}},
		{"mcp without arguments", Action{Kind: KindMCPList, MCP: &MCPCall{Server: "fs"}}},
		{"network", Action{Kind: KindNetworkFetch, Network: []NetworkRequest{{URL: "https://x.test/?a=1&b=<2>", Host: "x.test", Method: "GET"}, {}}}},
		{"model", Action{Kind: KindModelPromote, Model: &ModelRef{ID: "m1", Name: "n", Version: "1", Digest: "sha256:ab", Stage: "prod",
			Format: "gguf", Verdict: "clean", Metadata: map[string]string{"z": "1", "a": "<2>", "m": ""}}}},
		{"empty model", Action{Kind: KindModelRegister, Model: &ModelRef{}}},
		{"model metadata only", Action{Kind: KindModelRegister, Model: &ModelRef{Metadata: map[string]string{"k": "v"}}}},
		{"attributes", Action{Kind: "finance.send", Attributes: map[string]any{"amount": 12.25, "to": "acct", "ok": false, "nested": map[string]any{"b": 1, "a": nil}}}},
		{"unencodable attribute", Action{Kind: "x.y", Cwd: "/r", Attributes: map[string]any{"f": func() {}}}},
		{"unencodable argument", Action{Kind: KindMCPCall, MCP: &MCPCall{Server: "s", Arguments: map[string]any{"nan": math.NaN()}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.action.Fingerprint(), referenceFingerprint(tt.action); got != want {
				t.Errorf("Fingerprint() = %s, want encoding/json's %s", got, want)
			}
		})
	}
}

// TestFingerprintIsStable pins one fingerprint: a change here breaks every stored approval.
func TestFingerprintIsStable(t *testing.T) {
	a := Action{Kind: KindCommandExec, Cwd: "/repo", Command: &Command{Line: "git push --force origin main"}}
	const want = "sha256:a87e12a2e94a9786d97469acbc9108da1c532d0e827a64fcce3e920613ca4fa2"
	if got := a.Fingerprint(); got != want {
		t.Errorf("Fingerprint() = %s, want %s", got, want)
	}
}

func FuzzFingerprint(f *testing.F) {
	f.Add("command.exec", "/repo", "git push -f origin +main", "/repo/.env", "<&>\"\\", "main", "k", "v", true)
	f.Add("file.write", "", "", "\xff\xfe\u2028", "a\x00b\x1f", "", "", "", false)
	f.Fuzz(func(t *testing.T, kind, cwd, line, path, content, ref, key, value string, force bool) {
		a := Action{Kind: Kind(kind), Cwd: cwd, Principal: value, Command: &Command{Line: line},
			Files:      []FileOp{{Op: FileWrite, Path: path, Raw: line, Content: content}},
			Git:        []GitOp{{Subcommand: key, Remote: value, Refs: []string{ref}, Force: force, Args: []string{content}}},
			Network:    []NetworkRequest{{URL: path, Host: ref}},
			MCP:        &MCPCall{Server: key, Tool: ref, Arguments: map[string]any{key: value, ref: []any{content, force}}},
			Model:      &ModelRef{ID: ref, Metadata: map[string]string{key: value, ref: content}},
			Attributes: map[string]any{key: map[string]any{value: content}}}
		if got, want := a.Fingerprint(), referenceFingerprint(a); got != want {
			t.Fatalf("Fingerprint() = %s, want encoding/json's %s", got, want)
		}
	})
}
