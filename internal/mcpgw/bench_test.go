package mcpgw

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
)

// auditedGovernor decides with the engine and appends each decision to a real signed audit
// log on disk, as the CLI does.
type auditedGovernor struct {
	*engineGovernor
	log *audit.Log
}

func (g auditedGovernor) Record(ctx context.Context, a cavra.Action, d cavra.Decision) error {
	return g.log.RecordDecision(ctx, a, d)
}

// auditedResults appends result records to the same audit log, as the CLI's evidence does.
type auditedResults struct{ log *audit.Log }

func (e auditedResults) RecordResult(ctx context.Context, r ResultRecord) error {
	_, err := e.log.Append(ctx, cavra.RecordMCPResult, r)
	return err
}

// benchGateway is the gateway as `cavra mcp wrap` builds it: baseline policy, decisions and
// result records in the data home's audit log, pins on disk, the real secret scanner.
func benchGateway(b *testing.B) *Gateway {
	b.Helper()
	dir := b.TempDir()
	log, closeLog, err := audit.OpenLocal(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeLog() })
	gw, err := New(Config{
		Server:   "own",
		Cwd:      "/repo",
		Governor: auditedGovernor{&engineGovernor{eng: newTestEngine(b, "baseline")}, log},
		Pins:     NewPinStore(filepath.Join(dir, "pins"), nil),
		Evidence: auditedResults{log},
		Secrets:  testSecrets(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return gw
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func timeCalls(b *testing.B, cs *mcp.ClientSession, n int) []time.Duration {
	b.Helper()
	args := &mcp.CallToolParams{Name: "write_file", Arguments: map[string]any{"path": "src/main.go", "content": "package main\n"}}
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		res, err := cs.CallTool(context.Background(), args)
		if err != nil {
			b.Fatal(err)
		}
		if res.IsError {
			b.Fatalf("call refused: %+v", res.Content)
		}
		out = append(out, time.Since(start))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// BenchmarkAddedLatency measures one tools/call (write_file with a path and content, so the
// file rules and the secret scanner run) straight to the server and through the gateway, over
// in-process pipes, and reports the gateway's added latency at p50 and p99.
func BenchmarkAddedLatency(b *testing.B) {
	server := newOwnServer(honestWeather)
	direct := connectDirect(b, server)
	through := connectThroughGateway(b, benchGateway(b), newOwnServer(honestWeather))
	if _, err := through.ListTools(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	timeCalls(b, direct, 200) // warm up both paths
	timeCalls(b, through, 200)
	b.ResetTimer()
	d := timeCalls(b, direct, b.N)
	g := timeCalls(b, through, b.N)
	b.StopTimer()
	us := func(v time.Duration) float64 { return float64(v.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(percentile(d, 0.50)), "direct-p50-µs")
	b.ReportMetric(us(percentile(d, 0.99)), "direct-p99-µs")
	b.ReportMetric(us(percentile(g, 0.50)), "gateway-p50-µs")
	b.ReportMetric(us(percentile(g, 0.99)), "gateway-p99-µs")
	b.ReportMetric(us(percentile(g, 0.50)-percentile(d, 0.50)), "added-p50-µs")
	b.ReportMetric(us(percentile(g, 0.99)-percentile(d, 0.99)), "added-p99-µs")
}

// BenchmarkThroughput drives 8 concurrent callers through one gateway, and straight to the same
// server for comparison, and reports calls/s. The in-process SDK server and client share the two
// cores with the gateway, so "direct" is the ceiling of this harness.
func BenchmarkThroughput(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		runThroughput(b, connectDirect(b, newOwnServer(honestWeather)))
	})
	b.Run("gateway", func(b *testing.B) {
		runThroughput(b, connectThroughGateway(b, benchGateway(b), newOwnServer(honestWeather)))
	})
}

func runThroughput(b *testing.B, cs *mcp.ClientSession) {
	const workers = 8
	args := &mcp.CallToolParams{Name: "write_file", Arguments: map[string]any{"path": "src/main.go", "content": "package main\n"}}
	next := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		next <- struct{}{}
	}
	close(next)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				res, err := cs.CallTool(context.Background(), args)
				if err == nil && res.IsError {
					err = fmt.Errorf("call refused: %+v", res.Content)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
}

// BenchmarkSessionToolCall measures the gateway's own work for one tools/call, request and
// result, without transport or SDK: judging, recording, scanning and re-encoding.
func BenchmarkSessionToolCall(b *testing.B) {
	s := benchGateway(b).NewSession()
	req := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"src/main.go","content":"package main\n"}}}`)
	resp := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"wrote src/main.go"}]}}`)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		v, err := s.FromClient(ctx, req)
		if err != nil || v.Forward == nil {
			b.Fatalf("call not forwarded: %v %s", err, v.Reply)
		}
		if _, err := s.FromServer(ctx, resp); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(percentile(lat, 0.50).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkGatewayRawThroughput isolates the gateway: a raw JSON-RPC client keeps 8 tools/call
// requests in flight through Proxy to a raw server that answers at once, so the figure is the
// gateway's own capacity (framing, policy, evidence, scanning), not an SDK's.
func BenchmarkGatewayRawThroughput(b *testing.B) {
	gw := benchGateway(b)
	toGwR, toGwW := io.Pipe()
	fromGwR, fromGwW := io.Pipe()
	toSrvR, toSrvW := io.Pipe()
	fromSrvR, fromSrvW := io.Pipe()
	go func() { // the server: answer every request with a small text result
		lr := NewLineReader(toSrvR, 0)
		w := bufio.NewWriter(fromSrvW)
		for {
			line, err := lr.Next()
			if err != nil {
				fromSrvW.Close()
				return
			}
			m, err := ParseMessage(line)
			if err != nil || !m.IsRequest() {
				continue
			}
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"wrote src/main.go"}]}}`+"\n", m.ID)
			if lr.r.Buffered() == 0 {
				w.Flush()
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		done <- gw.NewSession().Proxy(context.Background(), Pipes{ClientIn: toGwR, ClientOut: fromGwW, ServerIn: toSrvW, ServerOut: fromSrvR})
		fromGwW.Close()
	}()
	const inFlight = 8
	slots := make(chan struct{}, inFlight)
	readDone := make(chan int, 1)
	go func() { // the client's reader: count answers, free a slot for each
		lr := NewLineReader(fromGwR, 0)
		n := 0
		for {
			line, err := lr.Next()
			if err != nil {
				readDone <- n
				return
			}
			if !bytes.Contains(line, []byte("wrote src/main.go")) {
				b.Errorf("unexpected answer: %s", line)
			}
			n++
			<-slots
			if n == b.N {
				readDone <- n
				return
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		slots <- struct{}{}
		fmt.Fprintf(toGwW, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"src/main.go","content":"package main\n"}}}`+"\n", i)
	}
	got := <-readDone
	elapsed := time.Since(start)
	b.StopTimer()
	toGwW.Close()
	if got != b.N {
		b.Fatalf("got %d answers, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	<-done
}
