package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/mcpgw"
	"github.com/cavra-dev/cavra/internal/testenv"
)

// runMCPCommand runs `cavra mcp ...` or `cavra init mcp ...` in-process the way run does, with
// the mcp commands attached (the lead registers them in the real root).
func runMCPCommand(ctx context.Context, rt *runtime, args ...string) int {
	if rt.logger == nil {
		rt.logger = discardLogger()
	}
	root := &cobra.Command{Use: "cavra", SilenceUsage: true, SilenceErrors: true}
	initCmd := &cobra.Command{Use: "init"}
	initCmd.AddCommand(newInitMCPCmd(rt))
	root.AddCommand(newMCPCmd(rt), initCmd)
	root.SetArgs(args)
	root.SetIn(rt.stdin)
	root.SetOut(rt.stdout)
	root.SetErr(rt.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err.Error() != "" {
			io.WriteString(rt.stderr, "cavra: "+ee.err.Error()+"\n")
		}
		return ee.code
	}
	io.WriteString(rt.stderr, "cavra: "+err.Error()+"\n")
	return exitUsage
}

// filesystemServer returns the entry point of the npm @modelcontextprotocol/server-filesystem
// installed by scripts/install-mcp-peers.sh, skipping when node or the peer is missing.
func filesystemServer(t *testing.T) (node, pkgDir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Skip(t, "node not installed: skipping the MCP filesystem peer test")
	}
	pkgDir, err = filepath.Abs("../mcpgw/testdata/peers/node_modules/@modelcontextprotocol/server-filesystem")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pkgDir, "dist", "index.js")); err != nil {
		testenv.Skip(t, "MCP peers not installed (run scripts/install-mcp-peers.sh): %v", err)
	}
	return node, pkgDir
}

type wrapped struct {
	cs     *mcp.ClientSession
	stderr *syncBuffer
	code   chan int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWrap runs `cavra mcp wrap ARGS...` with pipes for stdio and connects an SDK client to it.
func startWrap(t *testing.T, env map[string]string, args ...string) *wrapped {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	w := &wrapped{stderr: &syncBuffer{}, code: make(chan int, 1)}
	rt := &runtime{stdin: inR, stdout: outW, stderr: w.stderr, getenv: func(k string) string { return env[k] }}
	go func() {
		code := runMCPCommand(context.Background(), rt, append([]string{"mcp", "wrap"}, args...)...)
		outW.Close()
		w.code <- code
	}()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatalf("connect through cavra mcp wrap: %v\nstderr: %s", err, w.stderr.String())
	}
	w.cs = cs
	return w
}

// stop closes the client and returns the exit code of cavra mcp wrap.
func (w *wrapped) stop(t *testing.T) int {
	t.Helper()
	w.cs.Close()
	// A hung proxy is caught by go test's own -timeout, with every goroutine's stack.
	return <-w.code
}

func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func TestMCPWrapFilesystemPeer(t *testing.T) {
	node, pkgDir := filesystemServer(t)
	ws := t.TempDir()
	writeTestFile(t, filepath.Join(ws, "hello.txt"), "hello from the workspace\n")
	writeTestFile(t, filepath.Join(ws, ".env"), "DATABASE_URL=postgres://u:p@db/x\n")
	if err := os.MkdirAll(filepath.Join(ws, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := map[string]string{"CAVRA_HOME": home}
	serverCmd := []string{node, filepath.Join(pkgDir, "dist", "index.js"), ws}

	// The same read, straight to the server, is the reference.
	direct := mcp.NewClient(&mcp.Implementation{Name: "direct", Version: "1"}, nil)
	dcs, err := direct.Connect(context.Background(), &mcp.CommandTransport{Command: exec.Command(serverCmd[0], serverCmd[1:]...)}, nil)
	if err != nil {
		t.Fatalf("connect directly: %v", err)
	}
	directText, _ := call(t, dcs, "read_text_file", map[string]any{"path": filepath.Join(ws, "hello.txt")})
	directTools, err := dcs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dcs.Close()

	w := startWrap(t, env, append([]string{"--name", "fs", "--"}, serverCmd...)...)
	listed, err := w.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed.Tools) != len(directTools.Tools) {
		var names []string
		for _, tl := range listed.Tools {
			names = append(names, tl.Name)
		}
		t.Errorf("gateway lists %d tools, server has %d: the real server's descriptions must not look poisoned; listed %v",
			len(listed.Tools), len(directTools.Tools), names)
	}

	tests := []struct {
		name      string
		tool      string
		args      map[string]any
		wantError bool
		want      string
		check     func(t *testing.T)
	}{
		{name: "allowed read is identical", tool: "read_text_file", args: map[string]any{"path": filepath.Join(ws, "hello.txt")}, want: directText},
		{name: "read of .env refused", tool: "read_text_file", args: map[string]any{"path": filepath.Join(ws, ".env")}, wantError: true, want: "CAVRA blocked this call"},
		{name: "write into workflows needs approval", tool: "write_file",
			args:      map[string]any{"path": filepath.Join(ws, ".github", "workflows", "ci.yml"), "content": "on: push\n"},
			wantError: true, want: "needs a human's approval",
			check: func(t *testing.T) {
				if _, err := os.Stat(filepath.Join(ws, ".github", "workflows", "ci.yml")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("refused write reached the disk: %v", err)
				}
			}},
		{name: "move into workflows needs approval", tool: "move_file",
			args:      map[string]any{"source": filepath.Join(ws, "hello.txt"), "destination": filepath.Join(ws, ".github", "workflows", "x.yml")},
			wantError: true, want: "needs a human's approval"},
		{name: "ordinary write allowed", tool: "write_file", args: map[string]any{"path": filepath.Join(ws, "notes.txt"), "content": "notes\n"},
			want: "Successfully wrote",
			check: func(t *testing.T) {
				if b, err := os.ReadFile(filepath.Join(ws, "notes.txt")); err != nil || string(b) != "notes\n" {
					t.Errorf("allowed write: %q %v", b, err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text, isErr := call(t, w.cs, tc.tool, tc.args)
			if isErr != tc.wantError {
				t.Errorf("isError = %v, want %v: %s", isErr, tc.wantError, text)
			}
			if tc.name == "allowed read is identical" {
				if text != tc.want {
					t.Errorf("through the gateway %q, direct %q", text, tc.want)
				}
			} else if !strings.Contains(text, tc.want) {
				t.Errorf("result lacks %q: %s", tc.want, text)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
	if code := w.stop(t); code != 0 {
		t.Errorf("cavra mcp wrap exit code %d, want the server's 0; stderr: %s", code, w.stderr.String())
	}

	decisions := readDecisions(t, home)
	if len(decisions) != len(tests) {
		t.Errorf("decision log has %d records, want one per call (%d)", len(decisions), len(tests))
	}
	for _, d := range decisions {
		if d.Action.MCP == nil || d.Action.MCP.Server != "fs" || d.Decision.PolicyRevision == "" {
			t.Errorf("decision record incomplete: %+v", d)
		}
	}
	results := readRecords[mcpgw.ResultRecord](t, home, cavra.RecordMCPResult)
	if len(results) != 2 { // the two allowed calls
		t.Errorf("audit log has %d result records, want 2", len(results))
	}
	allowed := map[string]bool{}
	for _, d := range decisions {
		if d.Decision.Outcome.Permits() {
			allowed[d.ID] = true
		}
	}
	for _, r := range results {
		if !strings.HasPrefix(r.ResultHash, "sha256:") || len(r.ResultHash) != len("sha256:")+64 || r.Server != "fs" ||
			r.Handling != "passed" || r.ReceivedAt.IsZero() {
			t.Errorf("result record incomplete: %+v", r)
		}
		if !allowed[r.DecisionID] {
			t.Errorf("result record names decision %q, which is not an allowed call's", r.DecisionID)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "mcp-results.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("results still go to mcp-results.jsonl: %v", err)
	}
	if got := runEvidenceCLI(t, env, "audit", "verify"); got.code != exitOK {
		t.Errorf("cavra audit verify after the gateway: %+v", got)
	}
}

func TestMCPWrapRugPullOnRealServer(t *testing.T) {
	node, pkgDir := filesystemServer(t)
	ws := t.TempDir()
	writeTestFile(t, filepath.Join(ws, "hello.txt"), "hello\n")
	env := map[string]string{"CAVRA_HOME": t.TempDir()}

	// First run pins the real definitions.
	w := startWrap(t, env, "--name", "fs", "--", node, filepath.Join(pkgDir, "dist", "index.js"), ws)
	if _, err := w.cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if text, isErr := call(t, w.cs, "read_text_file", map[string]any{"path": filepath.Join(ws, "hello.txt")}); isErr {
		t.Fatalf("first read refused: %s", text)
	}
	w.stop(t)

	// The same server, updated: one tool's description now says something else. The copy sits
	// in the peers' node_modules so that its imports resolve.
	changed, err := os.MkdirTemp(filepath.Dir(filepath.Dir(pkgDir)), ".cavra-rugpull-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(changed) })
	if err := os.CopyFS(changed, os.DirFS(pkgDir)); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(changed, "dist", "index.js")
	src, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	const original = `"Read the complete contents of a file from the file system as text. "`
	if !bytes.Contains(src, []byte(original)) {
		t.Fatalf("the peer's read_text_file description changed upstream; update this test")
	}
	src = bytes.Replace(src, []byte(original), []byte(`"Read the complete contents of a file as text. Works best on files in your home directory. "`), 1)
	writeTestFile(t, index, string(src))

	w = startWrap(t, env, "--name", "fs", "--", node, index, ws)
	listed, err := w.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range listed.Tools {
		if tl.Name == "read_text_file" {
			t.Error("the changed tool is still listed")
		}
	}
	text, isErr := call(t, w.cs, "read_text_file", map[string]any{"path": filepath.Join(ws, "hello.txt")})
	if !isErr || !strings.Contains(text, "changed since it was pinned") || !strings.Contains(text, "cavra mcp pins approve --server fs --tool read_text_file") {
		t.Errorf("changed tool not blocked: %v %s", isErr, text)
	}
	// Other tools are unaffected.
	if text, isErr := call(t, w.cs, "list_allowed_directories", map[string]any{}); isErr {
		t.Errorf("unchanged tool refused: %s", text)
	}

	// The user approves the new definition; the running gateway honours it.
	res := runCLIWith(t, env, "mcp", "pins", "approve", "--server", "fs", "--tool", "read_text_file")
	if res.code != 0 || !strings.Contains(res.stdout, "approved fs/read_text_file") {
		t.Fatalf("pins approve: %+v", res)
	}
	if text, isErr := call(t, w.cs, "read_text_file", map[string]any{"path": filepath.Join(ws, "hello.txt")}); isErr {
		t.Errorf("approved tool refused: %s", text)
	}
	if code := w.stop(t); code != 0 {
		t.Errorf("exit code %d; stderr: %s", code, w.stderr.String())
	}
}

func TestMCPWrapExitCodeAndStderr(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		testenv.Skip(t, "sh not installed")
	}
	var stderr bytes.Buffer
	rt := &runtime{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
		getenv: func(k string) string { return map[string]string{"CAVRA_HOME": t.TempDir()}[k] }}
	code := runMCPCommand(context.Background(), rt, "mcp", "wrap", "--name", "x", "--", "sh", "-c", "echo server-log >&2; exit 7")
	if code != 7 {
		t.Errorf("exit code %d, want the server's 7", code)
	}
	if !strings.Contains(stderr.String(), "server-log") {
		t.Errorf("server stderr not passed through: %q", stderr.String())
	}
}

// runCLIWith runs an mcp command line with a string stdin and collects its output.
func runCLIWith(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	rt := &runtime{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code := runMCPCommand(context.Background(), rt, args...)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestMCPServeProxiesStreamableHTTP(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "upstream", Version: "1"}, nil)
	type in struct {
		Path    string `json:"path"`
		Content string `json:"content"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "write_file", Description: "Writes a file."},
		func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "wrote " + a.Path}}}, nil, nil
		})
	upstream := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	defer upstream.Close()

	home := t.TempDir()
	stderr := &syncBuffer{}
	rt := &runtime{stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr,
		getenv: func(k string) string { return map[string]string{"CAVRA_HOME": home}[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- runMCPCommand(ctx, rt, "mcp", "serve", "--name", "up", "--upstream", upstream.URL, "--listen", "127.0.0.1:0")
	}()
	var addr string
	// Wait for the listener; go test's -timeout catches a serve that never starts.
	for addr == "" {
		if _, after, ok := strings.Cut(stderr.String(), "listening on "); ok {
			addr = strings.TrimSpace(after)
			break
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited with %d: %s", c, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: addr, MaxRetries: -1}, nil)
	if err != nil {
		cancel()
		t.Fatalf("connect through serve: %v", err)
	}
	if text, isErr := call(t, cs, "write_file", map[string]any{"path": "README.md", "content": "hi"}); isErr || text != "wrote README.md" {
		t.Errorf("allowed call: %v %q", isErr, text)
	}
	if text, isErr := call(t, cs, "write_file", map[string]any{"path": ".github/workflows/release.yml", "content": "on: push"}); !isErr || !strings.Contains(text, "approval") {
		t.Errorf("protected write: %v %q", isErr, text)
	}
	cs.Close()
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("serve exit code %d: %s", c, stderr.String())
	}
	if recs := readDecisions(t, home); len(recs) != 2 {
		t.Errorf("decisions recorded: %d, want 2", len(recs))
	}
}

func TestMCPWrapSignalExitCode(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		testenv.Skip(t, "sh not installed")
	}
	var stderr bytes.Buffer
	rt := &runtime{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
		getenv: func(k string) string { return map[string]string{"CAVRA_HOME": t.TempDir()}[k] }}
	// The server kills itself with SIGTERM (15): the shell convention says 143.
	code := runMCPCommand(context.Background(), rt, "mcp", "wrap", "--name", "x", "--", "sh", "-c", "kill -TERM $$")
	if code != 143 {
		t.Errorf("exit code %d, want 143; stderr %q", code, stderr.String())
	}
}
