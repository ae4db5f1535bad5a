package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/testenv"
)

func uniqueName(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b[:])
}

// openers are the two ways to run the bus: in-process, and the machine's real NATS.
func openers() map[string]func(t *testing.T) *Bus {
	return map[string]func(t *testing.T) *Bus{
		"embedded": func(t *testing.T) *Bus {
			b, err := Open(context.Background(), Config{StoreDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
		"external": func(t *testing.T) *Bus {
			url := testenv.NATS(t)
			name := uniqueName(t)
			b, err := Open(context.Background(), Config{URL: url, Stream: "CAVRA_TEST_" + name, SubjectPrefix: "cavratest" + name})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = b.js.DeleteStream(context.Background(), b.cfg.Stream)
				b.Close()
			})
			return b
		},
	}
}

func event(id, tenant string, typ cavra.EventType) cavra.Event {
	data, _ := json.Marshal(map[string]string{"id": id})
	return cavra.Event{ID: id, Type: typ, Tenant: tenant, Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Data: data}
}

func TestPublishAndTail(t *testing.T) {
	for name, open := range openers() {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			ctx := context.Background()
			for _, e := range []cavra.Event{
				event("e1", "acme", cavra.EventDecisionMade),
				event("e2", "acme", cavra.EventApprovalRequested),
				event("e1", "acme", cavra.EventDecisionMade), // a retry of e1: stored once
				event("e3", "globex", cavra.EventDecisionMade),
			} {
				if err := b.Publish(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			tail := func(f Filter, want int) []string {
				t.Helper()
				ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				var ids []string
				stop := errors.New("enough")
				err := b.Tail(ctx, f, func(e cavra.Event) error {
					ids = append(ids, e.ID+"/"+e.Tenant+"/"+string(e.Type))
					if len(ids) == want {
						return stop
					}
					return nil
				})
				if !errors.Is(err, stop) {
					t.Fatalf("tail %+v: %v after %v", f, err, ids)
				}
				return ids
			}
			all := tail(Filter{FromStart: true}, 3)
			if want := []string{"e1/acme/decision.made", "e2/acme/approval.requested", "e3/globex/decision.made"}; !equal(all, want) {
				t.Fatalf("all = %v, want %v", all, want)
			}
			if got := tail(Filter{FromStart: true, Tenant: "globex"}, 1); got[0] != "e3/globex/decision.made" {
				t.Fatalf("tenant filter = %v", got)
			}
			if got := tail(Filter{FromStart: true, Tenant: "acme", Type: cavra.EventApprovalRequested}, 1); got[0] != "e2/acme/approval.requested" {
				t.Fatalf("type filter = %v", got)
			}
			// The duplicate never reaches the stream.
			info, err := b.stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 3 {
				t.Fatalf("stream holds %d messages, want 3", info.State.Msgs)
			}
		})
	}
}

func TestEmbeddedListensNowhere(t *testing.T) {
	b := openers()["embedded"](t)
	if addr := b.srv.Addr(); addr != nil {
		t.Fatalf("the embedded server listens on %v; it must be reachable in-process only", addr)
	}
}

func TestPublishRejectsBadEvents(t *testing.T) {
	b := openers()["embedded"](t)
	for name, e := range map[string]cavra.Event{
		"no id":         {Type: cavra.EventDecisionMade, Tenant: "a"},
		"dotted tenant": event("x", "a.b", cavra.EventDecisionMade),
		"wildcard type": event("x", "a", "decision.*"),
		"empty tenant":  event("x", "", cavra.EventDecisionMade),
		"space in type": event("x", "a", "decision made"),
		"trailing dot":  event("x", "a", "decision."),
	} {
		t.Run(name, func(t *testing.T) {
			if err := b.Publish(context.Background(), e); cavra.Code(err) != cavra.ErrInvalid {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
