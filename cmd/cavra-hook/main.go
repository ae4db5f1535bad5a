// Command cavra-hook is the lean agent-host hook: `cavra-hook <host> [flags]` behaves as
// `cavra hook <host> [flags]` (claude-code, codex, cursor, gemini) but starts in about a
// millisecond, because it links only the client and the standard library. In remote mode
// (CAVRA_SERVER or --server) it forwards the payload to the control plane itself; local mode,
// other hooks and fail-open recording are handed to the full cavra binary, found beside it or
// in PATH.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/cavra-dev/cavra/internal/hooklite"
)

func main() {
	// One request and exit: collecting a few kilobytes costs more than it saves. The limit
	// keeps a runaway answer from growing without bound.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(256 << 20)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := hooklite.Run(ctx, os.Args[1:], hooklite.OSProc())
	stop()
	os.Exit(code)
}
