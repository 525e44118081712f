package agentgate

import (
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// applyMemoryLimit sets the process's soft memory limit from
// runtime.memory_limit; without it the runtime keeps GOMEMLIMIT's (read at
// start), if any.
func applyMemoryLimit(cfg *Config, logger *slog.Logger) {
	n, _ := ParseSize(cfg.Runtime.MemoryLimit) // validated
	if n <= 0 {
		return
	}
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		logger.Info("runtime.memory_limit overrides GOMEMLIMIT", "memory_limit", cfg.Runtime.MemoryLimit, "GOMEMLIMIT", env)
	}
	debug.SetMemoryLimit(n)
}

// memoryReturnEvery is how often returnMemory looks at the heap.
const memoryReturnEvery = 5 * time.Second

// memoryIdleGarbage is the garbage (and free memory not returned yet)
// returnMemory leaves to the runtime.
const memoryIdleGarbage = 64 << 20

// returnMemory collects the garbage a burst left behind once the process
// goes quiet. The garbage collector only runs as the heap grows, so after a
// burst of large requests (megabyte messages) the garbage stays, and the
// memory with it, until the next allocations or the runtime's forced
// collection two minutes later, and even then the scavenger keeps pages for
// a heap twice the live one. Every period, if no collection ran since the
// last look and the heap holds more than memoryIdleGarbage beyond what the
// last one found live, counting the free pages the runtime keeps (up to
// the soft memory limit, after a burst that reached it), it collects and
// returns the free pages at once (debug.FreeOSMemory). It returns the function that stops it.
//
// What stays is what is live (the in-memory event log keeps a run's
// events for event_log.retention) and SQLite's own heap.
func returnMemory(every time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		samples := []metrics.Sample{
			{Name: "/gc/cycles/total:gc-cycles"},
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/gc/heap/live:bytes"},
			{Name: "/memory/classes/heap/free:bytes"},
		}
		t := time.NewTicker(every)
		defer t.Stop()
		var cycles uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(samples)
			c, heap, live, free := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64(), samples[3].Value.Uint64()
			if c == cycles && heap-min(heap, live)+free > memoryIdleGarbage {
				// Twice: objects pooled for reuse (request bodies, encoder
				// buffers, megabytes each after a burst) survive one
				// collection in sync.Pool's victim cache.
				debug.FreeOSMemory()
				debug.FreeOSMemory()
				metrics.Read(samples[:1])
				c = samples[0].Value.Uint64()
			}
			cycles = c
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}
