package audit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/testenv"
)

// reportLatencies reports the median and 99th percentile of per-operation times.
func reportLatencies(b *testing.B, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

// benchAppends measures committed decision+entry appends from many concurrent callers, which
// the log group-commits.
func benchAppends(b *testing.B, st cavra.Store) {
	signer := newTestSigner(b, time.Time{})
	l := New(st, Options{Signer: signer.open})
	ctx := testCtx()
	a, d := testDecision(1)
	b.SetParallelism(64)
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.RecordDecision(ctx, a, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	// CPU per append (this process only) shows the cost apart from other load on the machine.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/append")
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkDurableAppendSQLite(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchAppends(b, st)
		})
	}
}

func BenchmarkDurableAppendPostgres(b *testing.B) {
	dsn := testenv.Postgres(b)
	ctx := context.Background()
	buf := make([]byte, 6)
	crand.Read(buf)
	schema := "cavra_bench_" + hex.EncodeToString(buf)
	st, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		st.SQL().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		st.Close()
	}()
	benchAppends(b, st)
}

// BenchmarkLocalOpenAppendClose is the hook's evidence path: open the data home's database,
// record one decision, close; one process per agent tool call does exactly this.
func BenchmarkLocalOpenAppendClose(b *testing.B) {
	ctx := testCtx()
	root := filepath.Join(b.TempDir(), "home")
	if _, err := home.Init(ctx, root, time.Now, nil); err != nil {
		b.Fatal(err)
	}
	a, d := testDecision(1)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		t0 := time.Now()
		l, closeFn, err := OpenLocal(ctx, root, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.RecordDecision(ctx, a, d); err != nil {
			b.Fatal(err)
		}
		if err := closeFn(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	reportLatencies(b, ds)
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(len(ds)), "cpu-µs/op")
}

// bigLog is a log of benchEntries() entries built once per test binary run.
var bigLog struct {
	once   sync.Once
	log    *Log
	signer testSigner
	size   uint64
	err    error
}

func benchEntries() uint64 {
	if v, err := strconv.ParseUint(os.Getenv("CAVRA_BENCH_ENTRIES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// loadBigLog builds the benchmark log once per test binary run, committing batches directly
// (the same commit path appends take, without waiting for concurrent callers to group up).
func loadBigLog(b *testing.B) (*Log, testSigner, uint64) {
	b.Helper()
	bigLog.once.Do(func() {
		size := benchEntries()
		// The log is kept in the temp directory between runs: building a million entries takes
		// a minute. A fixed key makes a kept log verifiable by the next run.
		path := filepath.Join(os.TempDir(), fmt.Sprintf("cavra-bench-audit-v1-%d.db", size))
		st, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{Synchronous: "NORMAL"})
		if err != nil {
			bigLog.err = err
			return
		}
		signer := fixedTestSigner(b)
		l := New(st, Options{Signer: signer.open, CheckpointEvery: 100_000})
		ctx := testCtx()
		if head, err := st.AuditHead(ctx); err == nil && head.Size == size && head.CheckpointSize == size {
			bigLog.log, bigLog.signer, bigLog.size = l, signer, size
			return
		} else if err == nil && head.Size > 0 {
			bigLog.err = fmt.Errorf("%s holds a partial log (%d entries): remove it", path, head.Size)
			return
		}
		start := time.Now()
		t := l.tenantLog(cavra.TenantFrom(ctx))
		const batch = 5000
		for done := uint64(0); done < size; done += batch {
			n := min(batch, size-done)
			ps := make([]*pending, n)
			for i := range ps {
				a, d := testDecision(int(done) + i)
				d.ID = l.opts.NewID()
				body, err := MarshalCanonical(cavra.DecisionEvidence{Action: a, Decision: d})
				if err != nil {
					bigLog.err = err
					return
				}
				ps[i] = &pending{workspace: "repo1", typ: cavra.RecordDecision, id: d.ID, body: body, done: make(chan struct{}),
					decision: &cavra.DecisionRecord{ID: d.ID, Workspace: "repo1", Action: a, Decision: d}}
			}
			l.commit(ctx, cavra.TenantFrom(ctx), t, ps)
			if ps[0].err != nil {
				bigLog.err = ps[0].err
				return
			}
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			bigLog.err = err
			return
		}
		b.Logf("built a log of %d entries in %s", size, time.Since(start).Round(time.Millisecond))
		bigLog.log, bigLog.signer, bigLog.size = l, signer, size
	})
	if bigLog.err != nil {
		b.Fatal(bigLog.err)
	}
	return bigLog.log, bigLog.signer, bigLog.size
}

func BenchmarkVerify1M(b *testing.B) {
	l, signer, size := loadBigLog(b)
	ctx := testCtx()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		rep, err := New(l.store, Options{}).Verify(ctx, []cavra.KeyInfo{signer.info})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Size != size {
			b.Fatalf("verified %d entries, want %d", rep.Size, size)
		}
	}
	b.ReportMetric(float64(size), "entries")
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

func BenchmarkInclusionProof1M(b *testing.B) {
	l, _, size := loadBigLog(b)
	ctx := testCtx()
	cases := []struct {
		name string
		log  func() *Log
	}{
		{"warm-cache", func() *Log { return l }},
		// A fresh Log per proof: every node comes from the database.
		{"cold-cache", func() *Log { return New(l.store, Options{}) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				lg := tc.log()
				t0 := time.Now()
				if _, err := lg.InclusionProof(ctx, rng.Uint64N(size), size); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			reportLatencies(b, ds)
		})
	}
}
