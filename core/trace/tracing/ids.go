package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
)

// IDGenerator makes time-ordered trace and span ids. A trace id's first 6
// bytes are the Unix time in milliseconds (big-endian, a version 7 UUID's
// layout), the other 10 random. The trace store keys traces and spans by
// trace id: ids that grow with time go to the end of those indexes instead
// of dirtying a random page of each per trace (as the engine's run and
// session ids do). The last 8 bytes stay random, which is what the ratio
// sampler reads and what W3C Trace Context's "random" trace ids promise of
// the rightmost 7.
//
// A span id's first 3 bytes are the time in units of 64 ms (wrapping every
// 12 days), the other 5 random: the store's index of span ids then takes a
// batch of spans into a few pages at its growing end, not into a random
// page per span (SQLite: ~30% less CPU per stored run, most of it WAL
// pages written). Two spans collide only when they are made within the
// same 64 ms and draw the same 40 random bits: at 20,000 spans a second
// about once a day, at 100 a second once in 100,000 years.
//
// The random bits come from math/rand/v2's global source (ChaCha8, seeded
// by the runtime), safe for concurrent use.
type IDGenerator struct {
	now func() time.Time
}

func (g IDGenerator) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// NewIDs returns a new trace id and the id of its root span.
func (g IDGenerator) NewIDs(context.Context) (oteltrace.TraceID, oteltrace.SpanID) {
	now := g.clock()
	var tid oteltrace.TraceID
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(tid[0:8], ms<<16|rand.Uint64()&0xffff)
	binary.BigEndian.PutUint64(tid[8:16], rand.Uint64())
	if !tid.IsValid() { // a clock at the epoch and zero random bits
		tid[15] = 1
	}
	return tid, newSpanID(now)
}

// NewSpanID returns a new span id.
func (g IDGenerator) NewSpanID(context.Context, oteltrace.TraceID) oteltrace.SpanID {
	return newSpanID(g.clock())
}

// spanTimeShift is the span id's time unit: 2^6 ms.
const spanTimeShift = 6

func newSpanID(now time.Time) oteltrace.SpanID {
	prefix := uint64(now.UnixMilli()>>spanTimeShift) << 40
	var sid oteltrace.SpanID
	for !sid.IsValid() {
		binary.BigEndian.PutUint64(sid[:], prefix|rand.Uint64()>>24)
	}
	return sid
}
