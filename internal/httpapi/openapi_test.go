package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.json from the server")

const goldenSpec = "testdata/openapi.json"

// TestOpenAPIGolden checks the served document and keeps testdata/openapi.json equal to it, so
// that a contract change shows in review. Run with -update to accept a change.
func TestOpenAPIGolden(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Version = "golden" })
	rec := env.do(t, "GET", "/openapi.json", "", nil)
	if rec.Code != 200 {
		t.Fatalf("GET /openapi.json = %d", rec.Code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("the document does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	routes := []string{
		"GET /healthz", "GET /readyz", "GET /openapi.json", "GET /metrics",
		"POST /v1/decisions", "POST /v1/decisions/reported", "GET /v1/decisions", "GET /v1/decisions/{id}",
		"POST /v1/hooks/{host}",
		"GET /v1/approvals", "GET /v1/approvals/{id}", "POST /v1/approvals/{id}/approve",
		"POST /v1/approvals/{id}/deny", "POST /v1/approvals/{id}/break-glass",
		"GET /v1/audit/head", "GET /v1/audit/checkpoint", "POST /v1/audit/checkpoint",
		"GET /v1/audit/entries/{index}", "GET /v1/audit/entries/by-id/{id}",
		"GET /v1/audit/proofs/inclusion", "GET /v1/audit/proofs/consistency", "GET /v1/audit/bundle",
		"GET /v1/events",
	}
	n := 0
	for _, ops := range doc.Paths {
		n += len(ops)
	}
	if n != len(routes) {
		t.Errorf("the document has %d operations, want %d", n, len(routes))
	}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("the document lacks %s", r)
		}
	}

	spec, err := env.srv.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(spec, rec.Body.Bytes()) {
		t.Errorf("Server.OpenAPI differs from GET /openapi.json")
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, spec, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile(goldenSpec, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenSpec)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/httpapi -run TestOpenAPIGolden -update)", err)
	}
	if !bytes.Equal(golden, pretty.Bytes()) {
		t.Errorf("%s is stale: the API contract changed; review and run go test ./internal/httpapi -run TestOpenAPIGolden -update", goldenSpec)
	}
}

// TestRedoclyLint lints the golden document with the pinned Redocly CLI that
// scripts/install-openapi-lint.sh installs.
func TestRedoclyLint(t *testing.T) {
	dir, err := filepath.Abs("../../scripts/openapi-lint")
	if err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(dir, "node_modules", ".bin", "redocly")
	if _, err := os.Stat(cli); err != nil {
		testenv.Skip(t, "the Redocly CLI is not installed (run scripts/install-openapi-lint.sh): %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Skip(t, "node is not installed: %v", err)
	}
	spec, err := filepath.Abs(goldenSpec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli, "lint", "--config", filepath.Join(dir, "redocly.yaml"), "--format", "stylish", spec)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	if warning := regexp.MustCompile(`(?m)^\s*\d+:\d+\s+warning\s.*$`).Find(out); warning != nil {
		t.Errorf("redocly lint warns (fix it, or ignore it with a reason in scripts/openapi-lint/.redocly.lint-ignore.yaml): %s\n%s", warning, out)
	}
}
