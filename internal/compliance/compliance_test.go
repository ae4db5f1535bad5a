package compliance

import "testing"

func TestCatalogs(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{
		"nist-ai-rmf-1.0": 72, "nist-ai-600-1": 12, "iso-iec-42001-2023": 38, "owasp-llm-top10-2025": 10,
		"owasp-agentic-top10-2026": 10, "owasp-agentic-threats-1.0": 15, "nist-ssdf-1.1": 42, "eu-ai-act-2024-1689": 30,
	}
	if got := len(c.Frameworks()); got != len(counts) {
		t.Fatalf("frameworks = %v", c.Frameworks())
	}
	for id, want := range counts {
		f, ok := c.Framework(id)
		if !ok {
			t.Fatalf("framework %s missing", id)
		}
		if len(f.Controls) != want {
			t.Errorf("%s has %d controls, want %d", id, len(f.Controls), want)
		}
	}
	tests := []struct {
		ref     string
		known   bool
		wantErr bool
		title   string
	}{
		{ref: "owasp-agentic-top10-2026:ASI02", known: true, title: "Tool Misuse & Exploitation"},
		{ref: "nist-ai-rmf-1.0:GOVERN 1.4", known: true, title: "Transparent risk management controls"},
		{ref: "eu-ai-act-2024-1689:Art.15", known: true},
		{ref: "nist-ssdf-1.1:PW.4.1", known: true},
		{ref: "owasp-llm-top10-2025:LLM99", known: true, wantErr: true},
		{ref: "pci-dss-4.0:3.4", known: false},
		{ref: "no-colon", wantErr: true},
	}
	for _, tt := range tests {
		ctl, known, err := c.Resolve(tt.ref)
		if known != tt.known || (err != nil) != tt.wantErr || (tt.title != "" && ctl.Title != tt.title) {
			t.Errorf("%s: control %+v known %v err %v", tt.ref, ctl, known, err)
		}
	}
}
