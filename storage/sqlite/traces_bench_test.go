package sqlite_test

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/internal/cputime"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// BenchmarkWriteSpans writes batches of 20 spans (a run's model and tool
// calls) into a file database: each batch a new trace, or (long) the last
// 20 spans of a trace of 2,000 again (a retried export), whose summary is
// recomputed with aggregates over the spans' covering index, not by
// reading the trace's spans.
func BenchmarkWriteSpans(b *testing.B) {
	batch := func(tid string, n, from int) []trace.Span {
		start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		out := make([]trace.Span, n)
		for i := range out {
			k := from + i
			parent := tid + "-0"
			if k == 0 {
				parent = ""
			}
			out[i] = trace.Span{SpanID: fmt.Sprintf("%s-%d", tid, k), TraceID: tid, ParentSpanID: parent, Name: "execute_tool current_time",
				StatusCode: trace.StatusOK, StartTime: start.Add(time.Duration(k) * time.Millisecond), EndTime: start.Add(time.Duration(k+5) * time.Millisecond),
				DurationMS: 5, RunID: "run-" + tid, SessionID: "sess", UserID: "ada", AgentID: "assistant",
				Attributes: map[string]any{trace.AttrSpanType: trace.SpanTool, "gen_ai.tool.name": "current_time",
					trace.AttrInput: `{"tz":"Europe/Paris"}`, trace.AttrOutput: "10:30"}}
		}
		return out
	}
	for _, long := range []bool{false, true} {
		b.Run(map[bool]string{false: "new-trace", true: "long-trace"}[long], func(b *testing.B) {
			s := openFile(b)
			ctx := b.Context()
			if long {
				for i := 0; i < 100; i++ {
					if err := s.WriteSpans(ctx, batch("long", 20, i*20)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				tid, from := fmt.Sprintf("t%d", i), 0
				if long {
					tid, from = "long", 1980
				}
				if err := s.WriteSpans(ctx, batch(tid, 20, from)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*20)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkWriteSpansRuns writes what the store processor writes under
// load: batches of 512 spans, 128 runs of 4 spans each (the run, two model
// requests and a tool call), into a file database that already holds
// 20,000 such traces (its indexes are bigger than a batch, as in a gateway
// that has run a while). Run and session ids are time-ordered (version 7
// UUIDs, as the engine makes them); trace and span ids random, or
// time-ordered as the tracer makes them (tracing.IDGenerator). It reports
// the process's CPU per run written (the benchmark's goroutine, SQLite's
// writer and the WAL checkpointer). DROPIX="index ..." drops indexes first
// (to weigh what an index costs); BATCHRUNS=n writes n runs per batch
// instead of 128.
func BenchmarkWriteSpansRuns(b *testing.B) {
	for _, ordered := range []bool{false, true} {
		b.Run(map[bool]string{false: "random-trace-ids", true: "ordered-trace-ids"}[ordered], func(b *testing.B) {
			benchWriteSpansRuns(b, ordered)
		})
	}
}

func benchWriteSpansRuns(b *testing.B, ordered bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) string {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		return hex.EncodeToString(buf)
	}
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k := 0
	// timed is a 16-byte id whose first 6 bytes are the k-th run's start
	// in milliseconds (a UUID v7's layout, without its dashes).
	timed := func() string { return fmt.Sprintf("%012x", start.UnixMilli()+int64(k)) + random(10) }
	// spanID is random, or (ordered) as the tracer makes it: the k-th
	// run's start in units of 64 ms (3 bytes), then 5 random bytes.
	spanID := func() string { return random(8) }
	if ordered {
		spanID = func() string { return fmt.Sprintf("%06x", ((start.UnixMilli()+int64(k))>>6)&0xffffff) + random(5) }
	}
	perBatch := 128
	if n, err := strconv.Atoi(os.Getenv("BATCHRUNS")); err == nil && n > 0 {
		perBatch = n
	}
	batch := func() []trace.Span {
		out := make([]trace.Span, 0, 4*perBatch)
		for range perBatch {
			tid := random(16)
			if ordered {
				tid = timed()
			}
			root := spanID()
			at := start.Add(time.Duration(k) * time.Millisecond)
			common := trace.Span{TraceID: tid, StatusCode: trace.StatusOK, RunID: timed(), SessionID: timed(), AgentID: "bench"}
			k++
			r := common
			r.SpanID, r.Name, r.StartTime, r.EndTime = root, "invoke_agent bench", at, at.Add(3*time.Millisecond)
			r.Attributes = map[string]any{trace.AttrSpanType: trace.SpanAgent, trace.AttrInput: "six times seven?", trace.AttrOutput: "42"}
			out = append(out, r)
			for j, name := range []string{"chat scripted", "execute_tool calculator", "chat scripted"} {
				c := common
				c.SpanID, c.ParentSpanID, c.Name = spanID(), root, name
				c.StartTime, c.EndTime = at.Add(time.Duration(j)*time.Millisecond), at.Add(time.Duration(j+1)*time.Millisecond)
				c.Attributes = map[string]any{trace.AttrSpanType: trace.SpanTool, "gen_ai.request.model": "scripted",
					"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5}
				out = append(out, c)
			}
		}
		return out
	}
	ctx := b.Context()
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if ix := strings.Fields(os.Getenv("DROPIX")); len(ix) > 0 {
		// The traces' own file (the store re-prepares its statements).
		db, err := sqlite.OpenDB(ctx, path+"-traces")
		if err != nil {
			b.Fatal(err)
		}
		for _, ix := range ix {
			if _, err := db.ExecContext(ctx, "DROP INDEX "+ix); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
	}
	for range 20000 / perBatch {
		if err := s.WriteSpans(ctx, batch()); err != nil {
			b.Fatal(err)
		}
	}
	cpu0, _ := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		spans := batch()
		b.StartTimer()
		if err := s.WriteSpans(ctx, spans); err != nil {
			b.Fatal(err)
		}
	}
	cpu1, _ := cputime.Process()
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N*perBatch), "cpu-µs/run")
}
