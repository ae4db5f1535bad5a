package scan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSendLeaksNoContent scans files that carry a unique marker in their bytes, sends the report
// to a capturing server, and checks that neither the marker nor any 16-byte window of the files
// appears in what was sent.
func TestSendLeaksNoContent(t *testing.T) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	marker := "CAVRA-MARKER-" + hex.EncodeToString(nonce[:])
	dir := t.TempDir()
	// A benign pickle holding the marker as a string constant, and a raw weights file.
	pkl := append([]byte{0x80, 0x04, 0x8c, byte(len(marker))}, marker...)
	pkl = append(pkl, '.')
	files := map[string][]byte{
		"weights.pkl": pkl,
		"blob.bin":    bytes.Repeat([]byte(marker), 1000),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	results, err := New(Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var auth, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	if err := Send(context.Background(), srv.Client(), srv.URL, "tok-1", NewReport(results)); err != nil {
		t.Fatal(err)
	}
	if path != ReportPath || auth != "Bearer tok-1" {
		t.Fatalf("posted to %q with %q", path, auth)
	}
	if strings.Contains(string(got), marker) {
		t.Fatal("the report carries file content (the marker)")
	}
	for name, data := range files {
		for i := 0; i+16 <= len(data); i += 7 {
			if bytes.Contains(got, data[i:i+16]) {
				t.Fatalf("the report carries 16 bytes of %s at offset %d", name, i)
			}
		}
	}
	var sent Report
	if err := json.Unmarshal(got, &sent); err != nil {
		t.Fatal(err)
	}
	if len(sent.Files) != 2 || sent.Files[0].SHA256 == "" || sent.Summary.Files != 2 {
		t.Fatalf("report lacks the metadata: %s", got)
	}
}

func TestSendErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"title":"Unauthorized","detail":"token revoked"}`))
	}))
	defer srv.Close()
	err := Send(context.Background(), srv.Client(), srv.URL+"/v1/scans", "", NewReport(nil))
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "token revoked") {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"ftp://x", "not a url", "http://", ""} {
		if err := Send(context.Background(), nil, bad, "", NewReport(nil)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if err := Send(context.Background(), nil, closed.URL, "", NewReport(nil)); err == nil {
		t.Error("an unreachable server is an error")
	}
}
