package mcpgw

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startHTTPGateway serves our own server over Streamable HTTP and puts the gateway in front.
func startHTTPGateway(t *testing.T, tg *testGateway, opts *mcp.StreamableHTTPOptions) (gatewayURL string) {
	t.Helper()
	server := newOwnServer(honestWeather)
	upstream := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, opts))
	t.Cleanup(upstream.Close)
	up, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(tg.gw, HTTPConfig{Upstream: up, AllowedOrigins: []string{"https://console.example"}})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw.URL
}

func TestStreamableHTTPGateway(t *testing.T) {
	tests := []struct {
		name     string
		version  string
		upstream *mcp.StreamableHTTPOptions
	}{
		{name: "2025-06-18 SSE responses", version: "2025-06-18"},
		{name: "2025-11-25 JSON responses", version: "2025-11-25", upstream: &mcp.StreamableHTTPOptions{JSONResponse: true}},
		{name: "2026-07-28 stateless", version: "2026-07-28", upstream: &mcp.StreamableHTTPOptions{Stateless: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, "own", "baseline", "")
			endpoint := startHTTPGateway(t, tg, tc.upstream)
			client := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
			cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: tc.version})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			names := toolNames(t, cs)
			if !names["echo"] || names["add"] {
				t.Errorf("tools/list not filtered: %v", names)
			}
			if text, isErr := callText(t, cs, "echo", map[string]any{"text": "over http"}); isErr || !strings.Contains(text, "over http") {
				t.Errorf("allowed call: %v %s", isErr, text)
			}
			if text, isErr := callText(t, cs, "write_file", map[string]any{"path": ".github/workflows/ci.yml", "content": "x"}); !isErr || !strings.Contains(text, "approval") {
				t.Errorf("protected write not refused: %v %s", isErr, text)
			}
			if text, _ := callText(t, cs, "show_config", map[string]any{"text": ""}); strings.Contains(text, fakeGitHubToken) {
				t.Errorf("secret passed through: %s", text)
			}
			if len(tg.evidence.all()) != 2 {
				t.Errorf("result records = %d, want 2", len(tg.evidence.all()))
			}
		})
	}
}

func TestStreamableHTTPGuards(t *testing.T) {
	tg := newTestGateway(t, "own", "baseline", "")
	endpoint := startHTTPGateway(t, tg, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`
	tests := []struct {
		name       string
		headers    map[string]string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "foreign origin refused", headers: map[string]string{"Origin": "https://evil.example"}, body: call, wantStatus: http.StatusForbidden},
		{name: "listed origin allowed", headers: map[string]string{"Origin": "https://console.example"}, body: call, wantStatus: http.StatusOK, wantBody: `"x"`},
		{name: "loopback origin allowed", headers: map[string]string{"Origin": "http://127.0.0.1:5173"}, body: call, wantStatus: http.StatusOK},
		{name: "Mcp-Name disagrees with body", headers: map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "weather"},
			body: call, wantStatus: http.StatusBadRequest, wantBody: "does not match"},
		{name: "Mcp-Method disagrees with body", headers: map[string]string{"Mcp-Method": "tools/list"}, body: call, wantStatus: http.StatusBadRequest, wantBody: "does not match"},
		{name: "stateless request without Mcp-Method", headers: map[string]string{"Mcp-Protocol-Version": "2026-07-28"}, body: call, wantStatus: http.StatusBadRequest, wantBody: "missing Mcp-Method"},
		{name: "malformed body", body: `{"jsonrpc":`, wantStatus: http.StatusBadRequest, wantBody: "-32700"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b.String())
			}
			if !strings.Contains(b.String(), tc.wantBody) {
				t.Errorf("body %q lacks %q", b.String(), tc.wantBody)
			}
		})
	}
}
