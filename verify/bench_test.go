package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/cavra-dev/cavra/internal/bundle"
	"github.com/cavra-dev/cavra/verify"
)

// benchBundle exports every step-th record of a log of size n.
func benchBundle(b *testing.B, n, exported int) (*fixture, bundle.Input) {
	b.Helper()
	f := newFixture(b, n, 11)
	step := n / exported
	idx := make([]uint64, 0, exported)
	for i := 0; i < n && len(idx) < exported; i += step {
		idx = append(idx, uint64(i))
	}
	return f, f.input(b, idx...)
}

func BenchmarkCheck(b *testing.B) {
	for _, tc := range []struct {
		name        string
		size, count int
	}{
		{name: "log=100k/entries=1k", size: 100_000, count: 1_000},
		{name: "log=100k/entries=10k", size: 100_000, count: 10_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f, in := benchBundle(b, tc.size, tc.count)
			data, err := bundle.Build(context.Background(), f.signer, in)
			if err != nil {
				b.Fatal(err)
			}
			opts := verify.Options{TrustedKeys: trusted(f.info)}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if _, err := verify.Check(data, opts); err != nil {
					b.Fatal(err)
				}
			}
			perEntry := time.Since(start) / time.Duration(b.N*tc.count)
			b.ReportMetric(float64(perEntry.Nanoseconds()), "ns/entry")
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	f, in := benchBundle(b, 100_000, 1_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := bundle.Build(context.Background(), f.signer, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in.Entries)), "ns/entry")
}
