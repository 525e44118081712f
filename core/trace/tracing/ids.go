package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
)

// IDGenerator makes time-ordered trace ids: the first 6 bytes are the Unix
// time in milliseconds (big-endian, a version 7 UUID's layout), the other
// 10 random. The trace store keys traces and spans by trace id: ids that
// grow with time go to the end of those indexes instead of dirtying a
// random page of each per trace (as the engine's run and session ids do).
// The last 8 bytes stay random, which is what the ratio sampler reads and
// what W3C Trace Context's "random" trace ids promise of the rightmost 7.
// Span ids are 8 random bytes. The random bits come from math/rand/v2's
// global source (ChaCha8, seeded by the runtime), safe for concurrent use.
type IDGenerator struct {
	now func() time.Time
}

// NewIDs returns a new trace id and the id of its root span.
func (g IDGenerator) NewIDs(context.Context) (oteltrace.TraceID, oteltrace.SpanID) {
	now := time.Now
	if g.now != nil {
		now = g.now
	}
	var tid oteltrace.TraceID
	ms := uint64(now().UnixMilli())
	binary.BigEndian.PutUint64(tid[0:8], ms<<16|rand.Uint64()&0xffff)
	binary.BigEndian.PutUint64(tid[8:16], rand.Uint64())
	if !tid.IsValid() { // a clock at the epoch and zero random bits
		tid[15] = 1
	}
	return tid, newSpanID()
}

// NewSpanID returns a new span id.
func (IDGenerator) NewSpanID(context.Context, oteltrace.TraceID) oteltrace.SpanID { return newSpanID() }

func newSpanID() oteltrace.SpanID {
	var sid oteltrace.SpanID
	for !sid.IsValid() {
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
