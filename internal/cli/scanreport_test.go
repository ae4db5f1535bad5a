package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra/internal/scan"
)

func TestScanReportTo(t *testing.T) {
	dir := t.TempDir()
	// A protocol-2 pickle that calls os.system: GLOBAL 'os system', a tuple, REDUCE.
	evil := []byte("\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00id -uq\x01\x85q\x02Rq\x03.")
	if err := os.WriteFile(filepath.Join(dir, "model.pkl"), evil, 0o600); err != nil {
		t.Fatal(err)
	}
	var body []byte
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		auth = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	env := map[string]string{"CAVRA_TOKEN": "tok-env"}
	r := runCLI(t, env, "", "scan", "--format", "json", "--no-evidence", "--report-to", srv.URL, dir)
	if r.code != 1 { // the pickle is malicious: exit 1, and the report still went out
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var sent scan.Report
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatalf("server got %q: %v", body, err)
	}
	if auth != "Bearer tok-env" || len(sent.Files) != 1 || sent.Files[0].Verdict != "malicious" {
		t.Fatalf("auth %q, report %+v", auth, sent)
	}
	if strings.Contains(string(body), "id -u") {
		t.Fatal("the report carries the pickle's payload text")
	}
	srv.Close()
	if r := runCLI(t, env, "", "scan", "--no-evidence", "--format", "json", "--report-to", srv.URL, dir); r.code != 2 || !strings.Contains(r.stderr, "send scan report") {
		t.Fatalf("unreachable server: exit %d, stderr %q", r.code, r.stderr)
	}
}
