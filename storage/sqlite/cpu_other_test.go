//go:build !unix

package sqlite_test

import "time"

// processCPU is 0 where getrusage is not available (the benchmark's CPU
// figure is then 0).
func processCPU() time.Duration { return 0 }
