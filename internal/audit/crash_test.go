package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// The crash test re-executes the test binary as a writer process (crashWriterMain) and kills
// it with SIGKILL at random moments.
const (
	crashDBVar  = "CAVRA_AUDIT_CRASH_DB"
	crashKeyVar = "CAVRA_AUDIT_CRASH_KEY"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashDBVar); path != "" {
		os.Exit(crashWriterMain(path, os.Getenv(crashKeyVar)))
	}
	os.Exit(m.Run())
}

func crashSigner(seedHex string) (cavra.Signer, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("bad key seed")
	}
	return keys.NewFileSigner("cavra.test/audit", ed25519.NewKeyFromSeed(seed))
}

// crashWriterMain appends decisions from four goroutines until killed, printing each
// decision's id only after RecordDecision has returned success.
func crashWriterMain(path, seedHex string) int {
	ctx := cavra.WithWorkspace(cavra.WithTenant(context.Background(), "acme"), "repo1")
	st, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Options{Synchronous: "NORMAL"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	signer, err := crashSigner(seedHex)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	l := New(st, Options{CheckpointEvery: 25, Signer: func(context.Context) (cavra.Signer, error) { return signer, nil }})
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				a, d := testDecision(i)
				d.ID = fmt.Sprintf("p%d-w%d-%d", os.Getpid(), w, i)
				if err := l.RecordDecision(ctx, a, d); err != nil {
					fmt.Fprintln(os.Stderr, "record:", err)
					os.Exit(3)
				}
				out.Lock()
				os.Stdout.WriteString(d.ID + "\n") // unbuffered: one write per acknowledgement
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

func TestCrashKeepsAcknowledgedDecisions(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts many processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i * 7)
	}
	seedHex := hex.EncodeToString(seed)
	signer, err := crashSigner(seedHex)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	trusted := []cavra.KeyInfo{{ID: signer.KeyID(), Algorithm: signer.Algorithm(), PublicKey: der, Status: cavra.KeyActive}}

	rng := rand.New(rand.NewPCG(7, 11))
	var acked []string
	const runs = 25
	for run := range runs {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashDBVar+"="+path, crashKeyVar+"="+seedHex)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Wait for the first acknowledgement, then kill at a random moment after it.
		var got []string
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("run %d: writer exited early: %s", run, stderr.String())
			}
			got = append(got, l)
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("run %d: writer acknowledged nothing: %s", run, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for l := range lines {
			got = append(got, l)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: writer did not die by SIGKILL (%v): %s", run, err, stderr.String())
		}
		acked = append(acked, got...)
	}

	st := openTestStore(t, path)
	ctx := cavra.WithWorkspace(cavra.WithTenant(context.Background(), "acme"), "repo1")
	for _, id := range acked {
		if _, err := st.Decision(ctx, id); err != nil {
			t.Fatalf("acknowledged decision %s is lost: %v", id, err)
		}
		if _, err := st.AuditEntryByID(ctx, id); err != nil {
			t.Fatalf("acknowledged decision %s has no audit entry: %v", id, err)
		}
	}
	rep, err := New(st, Options{}).Verify(ctx, trusted)
	if err != nil {
		t.Fatalf("log does not verify after %d kills: %v", runs, err)
	}
	if rep.Size < uint64(len(acked)) {
		t.Fatalf("log has %d entries but %d were acknowledged", rep.Size, len(acked))
	}
	t.Logf("%d kills, %d acknowledged decisions, %d entries, %d checkpoints", runs, len(acked), rep.Size, rep.Checkpoints)
}
