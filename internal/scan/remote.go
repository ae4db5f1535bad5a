package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ReportPath is where a CAVRA server receives scan reports.
const ReportPath = "/v1/scans"

// maxReportResponse bounds what Send reads of the server's answer.
const maxReportResponse = 64 << 10

// Send posts r to a CAVRA server. What leaves the machine is the report itself: paths, formats,
// sizes, SHA-256 digests, verdicts and findings. Send opens no scanned file, and results never
// carry file content, so no byte of a model crosses the network (zero-trust reporting).
//
// endpoint is the server's base URL (ReportPath is appended when it has no path) or the full
// endpoint; token, when set, is sent as a bearer token.
func Send(ctx context.Context, client *http.Client, endpoint, token string, r Report) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("report-to %q: want an http(s) URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = ReportPath
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode scan report: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("report-to: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send scan report: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxReportResponse))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("send scan report: %s answered %s: %s", u.Redacted(), resp.Status, problemDetail(answer))
	}
	return nil
}

// problemDetail is the useful line of an error answer: a problem+json detail or title, or the text.
func problemDetail(b []byte) string {
	var p struct{ Title, Detail string }
	if json.Unmarshal(b, &p) == nil && (p.Detail != "" || p.Title != "") {
		return strings.TrimSpace(p.Title + ": " + p.Detail)
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
