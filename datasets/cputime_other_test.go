//go:build !unix

package datasets

import "time"

// cpuTime is unavailable here; the benchmark then reports no CPU-time metric.
func cpuTime() time.Duration { return 0 }
