package audit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
	"github.com/cavra-dev/cavra/internal/testenv"
)

// TestLogOnPostgres runs two logs (standing for two server replicas) against one PostgreSQL
// schema: the head row lock must serialise their appends into one consistent tree.
func TestLogOnPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := testCtx()
	buf := make([]byte, 6)
	if _, err := crand.Read(buf); err != nil {
		t.Fatal(err)
	}
	schema := "cavra_audit_test_" + hex.EncodeToString(buf)
	open := func() *sqlstore.DB {
		st, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{Schema: schema})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		return st
	}
	st1, st2 := open(), open()
	t.Cleanup(func() {
		if _, err := st1.SQL().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		st1.Close()
		st2.Close()
	})
	signer := newTestSigner(t, time.Now().Add(-time.Hour))
	logs := []*Log{
		New(st1, Options{Signer: signer.open, CheckpointEvery: 20}),
		New(st2, Options{Signer: signer.open, CheckpointEvery: 20}),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				a, d := testDecision(w*100 + i)
				errs <- logs[w%2].RecordDecision(ctx, a, d)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	rep, err := logs[0].Verify(ctx, []cavra.KeyInfo{signer.info})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Size != 200 || rep.Checkpoints == 0 {
		t.Fatalf("report = %+v", rep)
	}
	head, _ := logs[1].Head(ctx)
	p, err := logs[1].InclusionProof(ctx, 150, head.Size)
	if err != nil {
		t.Fatal(err)
	}
	e, err := logs[1].Entry(ctx, 150)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(e.Record, 150, head.Size, p, rep.RootHash); err != nil {
		t.Fatalf("inclusion proof on postgres: %v", err)
	}
}
