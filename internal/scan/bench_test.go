package scan

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

// writeLargeTorchZip writes a torch.save-style checkpoint: a small data.pkl and size bytes of
// tensor storage in stored (uncompressed) members, as torch writes them.
func writeLargeTorchZip(b *testing.B, path string, size int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
	}
	add("ckpt/data.pkl", pickleBenignTorch())
	add("ckpt/version", []byte("3\n"))
	chunk := make([]byte, 16<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	for i := 0; i*len(chunk) < size; i++ {
		add("ckpt/data/"+string(rune('0'+i/10))+string(rune('0'+i%10)), chunk)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScanTorchCheckpoint measures whole-file throughput (parse + SHA-256) on a 256 MiB
// benign checkpoint read from the page cache. Run with -cpu 1 for the one-core figure.
func BenchmarkScanTorchCheckpoint(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ckpt.pt")
	writeLargeTorchZip(b, path, 256<<20)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{Workers: 1})
	ctx := context.Background()
	if r := s.ScanFile(ctx, path); r.Verdict != cavra.VerdictClean || r.Format != FormatPyTorch {
		b.Fatalf("benchmark checkpoint scanned as %s/%s: %+v", r.Format, r.Verdict, r.Findings)
	}
	lat := make([]time.Duration, 0, b.N)
	b.SetBytes(info.Size())
	b.ResetTimer()
	cpu0 := processCPUTime()
	for range b.N {
		start := time.Now()
		s.ScanFile(ctx, path)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportCPU(b, info.Size(), processCPUTime()-cpu0)
	reportLatency(b, lat)
}

// BenchmarkSHA256 is the hashing bound: no scan can be faster than this on the same core.
func BenchmarkSHA256(b *testing.B) {
	buf := make([]byte, 1<<20)
	h := sha256.New()
	b.SetBytes(int64(len(buf)))
	cpu0 := processCPUTime()
	for range b.N {
		h.Write(buf)
	}
	reportCPU(b, int64(len(buf)), processCPUTime()-cpu0)
}

// largeBenignPickle builds a protocol-4 pickle of about size bytes shaped like real data: a
// list of dicts with short memoized keys, ints, floats, byte blobs and allowlisted globals.
func largeBenignPickle(size int) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{0x80, 0x04, ']', 0x94})
	memo := 1
	for buf.Len() < size {
		buf.WriteByte('(')
		for range 100 {
			buf.Write([]byte{'}', 0x94})
			memo++
			buf.WriteByte('(')
			buf.Write(sbu("weight"))
			buf.WriteByte(0x94)
			memo++
			buf.WriteByte('G')
			buf.Write(binary.BigEndian.AppendUint64(nil, 0x3ff8000000000000))
			buf.Write(sbu("shape"))
			buf.Write([]byte{'K', 3, 'M', 0x00, 0x04, 0x86})
			buf.Write(sbu("data"))
			buf.Write([]byte{'C', 64})
			buf.Write(make([]byte, 64))
			buf.Write(sbu("cls"))
			buf.Write(sbu("collections"))
			buf.Write(sbu("OrderedDict"))
			buf.Write([]byte{0x93, ')', 'R'})
			buf.WriteByte('u')
			buf.Write([]byte{'h', 1, '0'}) // BINGET the key and drop it: memo traffic
		}
		buf.WriteByte('e')
	}
	buf.WriteByte('.')
	return buf.Bytes()
}

// BenchmarkPickleWalk measures the opcode walk alone on a 64 MiB benign pickle held in memory.
func BenchmarkPickleWalk(b *testing.B) {
	data := largeBenignPickle(64 << 20)
	rules := DefaultRules()
	ctx := context.Background()
	c := newCollector()
	walkPickles(ctx, bytes.NewReader(data), 0, int64(len(data)), rules, scope{c: c})
	if fs := c.result(); len(fs) != 0 {
		b.Fatalf("benign pickle has findings: %+v", fs)
	}
	lat := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := processCPUTime()
	for range b.N {
		start := time.Now()
		walkPickles(ctx, bytes.NewReader(data), 0, int64(len(data)), rules, scope{c: newCollector()})
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportCPU(b, int64(len(data)), processCPUTime()-cpu0)
	reportLatency(b, lat)
}

// reportCPU reports throughput per second of CPU consumed (MB/s-cpu), which on a shared,
// loaded machine is the figure to compare against the one-core targets.
func reportCPU(b *testing.B, bytesPerOp int64, cpu time.Duration) {
	b.Helper()
	if cpu <= 0 {
		return
	}
	b.ReportMetric(float64(bytesPerOp)*float64(b.N)/1e6/cpu.Seconds(), "MB/s-cpu")
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, k int) bool { return lat[i] < lat[k] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99-ms")
}
