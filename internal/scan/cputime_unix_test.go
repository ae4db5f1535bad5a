//go:build unix

package scan

import (
	"syscall"
	"time"
)

// processCPUTime is the user+system CPU the process has used; benchmarks divide work by it so
// their figures hold on a loaded machine where wall-clock time includes waiting for a core.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
