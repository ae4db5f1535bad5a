package modelsign

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// makeLargeModel writes files × size bytes of random data (a checkpoint split in shards, as
// large models are published).
func makeLargeModel(b *testing.B, files int, size int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "large")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, size)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	for i := range files {
		buf[0] = byte(i)
		if err := os.WriteFile(filepath.Join(dir, "model-"+string(rune('a'+i))+".safetensors"), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkHashDir measures hashing throughput over a 256 MiB model held in the page cache,
// with one worker (one core) and with all cores.
func BenchmarkHashDir(b *testing.B) {
	const files, size = 4, 64 << 20
	dir := makeLargeModel(b, files, size)
	for _, bc := range []struct {
		name    string
		workers int
	}{{"one-core", 1}, {"all-cores", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(files * size)
			for b.Loop() {
				m, err := HashDir(context.Background(), dir, HashOptions{Workers: bc.workers})
				if err != nil {
					b.Fatal(err)
				}
				if m.Bytes != files*size {
					b.Fatalf("hashed %d bytes", m.Bytes)
				}
			}
		})
	}
}
