//go:build !unix

package scan

import "time"

// processCPUTime is unavailable here; benchmarks then report wall-clock figures only.
func processCPUTime() time.Duration { return 0 }
