// Package cputime reads the CPU time the process has used: the work-per-unit
// figure of the benchmarks and the load tool (CPU per run, per token), which a
// shared, loaded machine does not distort as it does throughput.
package cputime

import "time"

// Process returns the CPU time (user + system) this process has used so
// far, and whether it could be read (not where getrusage is missing).
func Process() (time.Duration, bool) { return process() }
