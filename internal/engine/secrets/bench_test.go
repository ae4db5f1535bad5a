package secrets

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/cavra-dev/cavra/internal/engine/secrets/internal/genrules"
)

func readBenchText(b *testing.B, name string) string {
	b.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// reportLatency adds p50 and p99 of per-call durations measured by run.
func reportLatency(b *testing.B, run func()) {
	b.Helper()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		run()
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkScanClean is the common case: a 4 KB source file in which no rule keyword occurs.
func BenchmarkScanClean(b *testing.B) {
	text := readBenchText(b, "testdata/bench/clean_4k.go.txt")
	s := New()
	if !s.index.rulesIn(text).empty() {
		b.Fatal("the clean benchmark text contains a rule keyword")
	}
	b.SetBytes(int64(len(text)))
	reportLatency(b, func() {
		if s.Scan(text) != nil {
			b.Fatal("finding in clean text")
		}
	})
}

// BenchmarkScanTypicalSource scans source that mentions keys, tokens and passwords without
// holding any, so that the generic rule and a few others are compiled and run.
func BenchmarkScanTypicalSource(b *testing.B) {
	text := readBenchText(b, "testdata/clean/go_config_loader.go.txt")
	s := New()
	b.SetBytes(int64(len(text)))
	reportLatency(b, func() {
		if s.Scan(text) != nil {
			b.Fatal("finding in clean text")
		}
	})
}

// BenchmarkScanSecret scans a short text with a secret on a warm Scanner.
func BenchmarkScanSecret(b *testing.B) {
	text := "cfg := aws.Config{\n\tAccessKeyID: \"" + newFakeSecrets(1).awsAccessKey() + "\",\n}\n"
	s := New()
	b.SetBytes(int64(len(text)))
	reportLatency(b, func() {
		if len(s.Scan(text)) == 0 {
			b.Fatal("no finding")
		}
	})
}

// BenchmarkFirstScan is the cold path of a hook process: a new Scanner and its first scan of a
// text with a secret, which compiles the rules the text's keywords select.
func BenchmarkFirstScan(b *testing.B) {
	text := "cfg := aws.Config{\n\tAccessKeyID: \"" + newFakeSecrets(1).awsAccessKey() + "\",\n}\n"
	reportLatency(b, func() {
		if len(New().Scan(text)) == 0 {
			b.Fatal("no finding")
		}
	})
}

// BenchmarkFirstScanTypicalSource is the cold path for a file that triggers the generic rule.
func BenchmarkFirstScanTypicalSource(b *testing.B) {
	text := readBenchText(b, "testdata/clean/go_config_loader.go.txt")
	reportLatency(b, func() {
		if New().Scan(text) != nil {
			b.Fatal("finding in clean text")
		}
	})
}

// BenchmarkGitleaksDefaultDetector measures what this package avoids: building gitleaks'
// default detector (TOML parse and every regex compiled) and scanning one text with it.
func BenchmarkGitleaksDefaultDetector(b *testing.B) {
	text := "cfg := aws.Config{\n\tAccessKeyID: \"" + newFakeSecrets(1).awsAccessKey() + "\",\n}\n"
	reportLatency(b, func() {
		cfg, err := genrules.LoadDefault()
		if err != nil {
			b.Fatal(err)
		}
		if len(detect.NewDetector(cfg).DetectString(text)) == 0 {
			b.Fatal("no finding")
		}
	})
}
