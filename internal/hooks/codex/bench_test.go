package codex

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkParseToAction measures the adapter's own share of a hook call: parsing every
// testdata payload and mapping the decision events to actions.
func BenchmarkParseToAction(b *testing.B) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		b.Fatal(err)
	}
	var payloads [][]byte
	size := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			data, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				b.Fatal(err)
			}
			payloads = append(payloads, data)
			size += len(data)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range payloads {
			p, err := Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			if p.HookEventName == EventPreToolUse {
				if _, err := ToAction(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(payloads)), "ns/payload")
}
