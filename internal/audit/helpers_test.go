package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond) // strictly increasing, like a real clock
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testSigner is an Ed25519 file key with the KeyInfo a verifier trusts it by.
type testSigner struct {
	signer cavra.Signer
	info   cavra.KeyInfo
}

func newTestSigner(t testing.TB, notBefore time.Time) testSigner {
	t.Helper()
	fs, err := keys.GenerateFileKey("cavra.test/audit")
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(fs.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{signer: fs, info: cavra.KeyInfo{ID: fs.KeyID(), Algorithm: fs.Algorithm(), PublicKey: der,
		Status: cavra.KeyActive, NotBefore: notBefore, Custody: "file"}}
}

// fixedTestSigner is a test key derived from a constant seed, for fixtures kept across runs.
func fixedTestSigner(t testing.TB) testSigner {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "cavra audit benchmark fixture key")
	fs, err := keys.NewFileSigner("cavra.test/audit", ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(fs.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{signer: fs, info: cavra.KeyInfo{ID: fs.KeyID(), Algorithm: fs.Algorithm(), PublicKey: der, Status: cavra.KeyActive}}
}

func (s testSigner) open(context.Context) (cavra.Signer, error) { return s.signer, nil }

func openTestStore(t testing.TB, path string) *sqlstore.DB {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type testLog struct {
	log    *Log
	store  *sqlstore.DB
	path   string
	clock  *testClock
	signer testSigner
}

func newTestLog(t testing.TB, opts Options) *testLog {
	t.Helper()
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "cavra.db")
	st := openTestStore(t, path)
	signer := newTestSigner(t, clock.now.Add(-time.Hour))
	if opts.Clock == nil {
		opts.Clock = clock.Now
	}
	if opts.Signer == nil {
		opts.Signer = signer.open
	}
	return &testLog{log: New(st, opts), store: st, path: path, clock: clock, signer: signer}
}

func testCtx() context.Context {
	return cavra.WithWorkspace(cavra.WithTenant(context.Background(), "acme"), "repo1")
}

func testDecision(i int) (cavra.Action, cavra.Decision) {
	a := cavra.Action{Kind: cavra.KindCommandExec, Principal: "agent-7", Cwd: "/work/repo",
		Command: &cavra.Command{Line: "git push --force origin main", Commands: []cavra.SimpleCommand{
			{Argv: []string{"git", "push", "--force", "origin", "main"}, Program: "git", Span: cavra.Span{End: 28}}}},
		Source:     cavra.Source{Host: "claude-code", Tool: "Bash", SessionID: "s-1"},
		Attributes: map[string]any{"attempt": i, "ratio": 0.25}}
	d := cavra.Decision{Outcome: cavra.Block, RuleID: "git.force-push", Severity: cavra.SeverityHigh,
		Reason: "force-pushing main rewrites shared history", Policy: "baseline", PolicyRevision: "sha256:abc",
		Fingerprint: a.Fingerprint(), DecidedAt: time.Date(2026, 11, 25, 12, 0, 0, i, time.UTC)}
	return a, d
}

func appendN(t testing.TB, ctx context.Context, l *Log, n int) []cavra.AuditEntry {
	t.Helper()
	out := make([]cavra.AuditEntry, 0, n)
	for i := range n {
		a, d := testDecision(i)
		e, err := l.AppendDecision(ctx, a, d)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}
