package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace"
)

// testTraces covers trace.Store: spans written idempotently and in
// batches, the summaries kept per trace, the filter DSL (every operator and
// logical form, hostile values), paging, session stats and the retention
// delete. Traces of a shared database are told apart by a workflow id of
// their own, ANDed to every filter.
func testTraces(t *testing.T, newBackend Factory) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

	parallel(t, "SummaryAndSpans", func(t *testing.T) {
		s := newBackend(t).Traces
		tid, wf := newID("trace"), newID("wf")
		root := traceSpan(tid, "root", "", "assistant.run", base, 1500*time.Millisecond, trace.SpanAgent)
		root.RunID, root.SessionID, root.UserID, root.AgentID, root.WorkflowID = "run-1", "sess-1", "ada", "assistant", wf
		root.Attributes[trace.AttrInput] = "what time is it?"
		llm := traceSpan(tid, "llm", "root", "chat gpt", base.Add(10*time.Millisecond), 300*time.Millisecond, trace.SpanLLM)
		llm.Attributes["gen_ai.usage.input_tokens"] = 12
		tool := traceSpan(tid, "tool", "root", "current_time", base.Add(400*time.Millisecond), 20*time.Millisecond, trace.SpanTool)
		tool.StatusCode, tool.StatusMessage = trace.StatusError, "tool failed"
		// Two batches, children first: the summary is right either way.
		if err := s.WriteSpans(t.Context(), []trace.Span{llm, tool}); err != nil {
			t.Fatalf("WriteSpans: %v", err)
		}
		if err := s.WriteSpans(t.Context(), []trace.Span{root}); err != nil {
			t.Fatalf("WriteSpans: %v", err)
		}
		// A retried batch is not duplicated.
		if err := s.WriteSpans(t.Context(), []trace.Span{root, llm}); err != nil {
			t.Fatalf("WriteSpans again: %v", err)
		}
		got, err := s.GetTrace(t.Context(), tid)
		if err != nil {
			t.Fatalf("GetTrace: %v", err)
		}
		want := trace.Trace{TraceID: tid, Name: "assistant.run", Status: trace.StatusError, StartTime: base,
			EndTime: base.Add(1500 * time.Millisecond), DurationMS: 1500, TotalSpans: 3, ErrorCount: 1,
			Input: "what time is it?", RunID: "run-1", SessionID: "sess-1", UserID: "ada", AgentID: "assistant",
			WorkflowID: wf, CreatedAt: base}
		if *got != want {
			t.Errorf("trace\n got %+v\nwant %+v", *got, want)
		}
		spans, err := s.TraceSpans(t.Context(), tid)
		if err != nil {
			t.Fatalf("TraceSpans: %v", err)
		}
		if ref := trace.Summarize(tid, spans); ref != *got {
			t.Errorf("the store's summary is not trace.Summarize's:\n got %+v\nwant %+v", *got, ref)
		}
		var ids []string
		for _, sp := range spans {
			ids = append(ids, sp.SpanID)
		}
		if !slices.Equal(ids, []string{tid + "-root", tid + "-llm", tid + "-tool"}) {
			t.Errorf("spans by start: %v", ids)
		}
		sp := spans[1]
		if sp.ParentSpanID != tid+"-root" || sp.Name != "chat gpt" || sp.DurationMS != 300 || !sp.StartTime.Equal(llm.StartTime) ||
			sp.Attributes[trace.AttrSpanType] != trace.SpanLLM || sp.Attributes["gen_ai.usage.input_tokens"] != float64(12) {
			t.Errorf("span round trip: %+v", sp)
		}
		if spans[2].StatusCode != trace.StatusError || spans[2].StatusMessage != "tool failed" {
			t.Errorf("error span: %+v", spans[2])
		}
		if _, err := s.GetTrace(t.Context(), newID("missing")); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetTrace(missing): %v, want ErrNotFound", err)
		}
		if l, err := s.TraceSpans(t.Context(), newID("missing")); err != nil || len(l) != 0 {
			t.Errorf("TraceSpans(missing) = %v, %v", l, err)
		}
		if err := s.WriteSpans(t.Context(), []trace.Span{{SpanID: "x"}}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("WriteSpans without a trace id: %v, want ErrInvalid", err)
		}
	})

	// The summary of odd traces: a missing parent (its span not written
	// yet), a cycle, identity only on a child, a team's member.
	parallel(t, "SummaryEdges", func(t *testing.T) {
		s := newBackend(t).Traces
		check := func(name string, spans []trace.Span) *trace.Trace {
			t.Helper()
			if err := s.WriteSpans(t.Context(), spans); err != nil {
				t.Fatalf("%s: WriteSpans: %v", name, err)
			}
			got, err := s.GetTrace(t.Context(), spans[0].TraceID)
			if err != nil {
				t.Fatalf("%s: GetTrace: %v", name, err)
			}
			stored, err := s.TraceSpans(t.Context(), spans[0].TraceID)
			if err != nil {
				t.Fatal(err)
			}
			if ref := trace.Summarize(spans[0].TraceID, stored); ref != *got {
				t.Errorf("%s: the store's summary is not trace.Summarize's:\n got %+v\nwant %+v", name, *got, ref)
			}
			return got
		}
		tid := newID("orphan")
		a := traceSpan(tid, "a", "missing", "orphan child", base.Add(time.Second), time.Millisecond, trace.SpanTool)
		b := traceSpan(tid, "b", "a", "grandchild", base, time.Millisecond, trace.SpanTool)
		b.UserID, b.RunID = "carol", "run-b"
		if got := check("orphan", []trace.Span{a, b}); got.Name != "orphan child" || got.UserID != "carol" || got.RunID != "run-b" {
			t.Errorf("orphan: %+v", got)
		}
		tid = newID("cycle")
		c1 := traceSpan(tid, "x", "y", "x", base.Add(time.Second), time.Millisecond, trace.SpanTool)
		c2 := traceSpan(tid, "y", "x", "y", base, time.Millisecond, trace.SpanTool)
		if got := check("cycle", []trace.Span{c1, c2}); got.Name != "y" || got.TotalSpans != 2 {
			t.Errorf("cycle: %+v", got)
		}
		tid = newID("team")
		team := traceSpan(tid, "t", "", "team.run", base, time.Second, trace.SpanTeam)
		team.TeamID = "tm"
		member := traceSpan(tid, "m", "t", "member.run", base.Add(time.Millisecond), time.Millisecond, trace.SpanAgent)
		member.AgentID, member.SessionID = "member", "sess-m"
		team.Attributes[trace.AttrInput] = map[string]any{"message": "hi"}
		if got := check("team", []trace.Span{member, team}); got.AgentID != "" || got.TeamID != "tm" || got.SessionID != "sess-m" || got.Input != `{"message":"hi"}` {
			t.Errorf("team: %+v", got)
		}
	})

	// A trace's summary is kept incrementally as its spans arrive in
	// batches of any size and order (children before their parents, the
	// root last, identity only on some spans, retried spans, errors): after
	// every batch it is trace.Summarize's of the stored spans.
	parallel(t, "SummaryIncremental", func(t *testing.T) {
		s := newBackend(t).Traces
		for seed := range uint64(12) {
			rng := rand.New(rand.NewPCG(seed, 7))
			tid := newID(fmt.Sprintf("inc%d", seed))
			n := 2 + rng.IntN(14)
			spans := make([]trace.Span, n)
			for i := range spans {
				parent := ""
				if i > 0 {
					parent = fmt.Sprint(rng.IntN(i))
				}
				if i == 0 && seed%3 == 1 {
					parent = "caller" // a caller's span, never stored
				}
				sp := traceSpan(tid, fmt.Sprint(i), parent, fmt.Sprintf("span %d", i),
					base.Add(time.Duration(i*10+rng.IntN(5))*time.Millisecond), time.Duration(1+rng.IntN(50))*time.Millisecond, trace.SpanTool)
				if rng.IntN(4) == 0 {
					sp.StatusCode = trace.StatusError
				}
				for _, f := range []*string{&sp.RunID, &sp.SessionID, &sp.UserID, &sp.AgentID} {
					if rng.IntN(3) == 0 {
						*f = fmt.Sprintf("v%d", rng.IntN(3))
					}
				}
				if i == 0 && seed%4 == 2 {
					sp.TeamID = "team"
				}
				sp.Attributes[trace.AttrInput] = fmt.Sprintf("in %d", i)
				spans[i] = sp
			}
			order := rng.Perm(n)
			if seed%2 == 0 {
				slices.Reverse(order) // roughly the SDK's: children end first
			}
			for len(order) > 0 {
				k := 1 + rng.IntN(min(len(order), 4))
				var batch []trace.Span
				for _, i := range order[:k] {
					batch = append(batch, spans[i])
				}
				if rng.IntN(5) == 0 { // a retried span
					batch = append(batch, spans[order[0]])
				}
				order = order[k:]
				if err := s.WriteSpans(t.Context(), batch); err != nil {
					t.Fatalf("seed %d: WriteSpans: %v", seed, err)
				}
				got, err := s.GetTrace(t.Context(), tid)
				if err != nil {
					t.Fatal(err)
				}
				stored, err := s.TraceSpans(t.Context(), tid)
				if err != nil {
					t.Fatal(err)
				}
				if ref := trace.Summarize(tid, stored); ref != *got {
					t.Fatalf("seed %d, %d of %d spans stored: the store's summary is not trace.Summarize's:\n got %+v\nwant %+v",
						seed, len(stored), n, *got, ref)
				}
			}
		}
	})

	// A big batch (more spans than one insert statement takes) of new
	// traces' spans with a stored span changed and a span twice among
	// them: every trace's summary is its stored spans', the stored span
	// is replaced and the twice-written one holds its last copy.
	parallel(t, "MixedBatch", func(t *testing.T) {
		s := newBackend(t).Traces
		old := newID("mixed-old")
		stored := []trace.Span{traceSpan(old, "root", "", "old root", base, time.Second, trace.SpanAgent),
			traceSpan(old, "child", "root", "old child", base.Add(time.Millisecond), time.Millisecond, trace.SpanTool)}
		if err := s.WriteSpans(t.Context(), stored); err != nil {
			t.Fatal(err)
		}
		var batch []trace.Span
		var tids []string
		for i := range 10 {
			tid := newID(fmt.Sprintf("mixed%d", i))
			tids = append(tids, tid)
			batch = append(batch, traceSpan(tid, "root", "", fmt.Sprintf("run %d", i), base.Add(time.Duration(i)*time.Second), time.Second, trace.SpanAgent))
			for j := range 6 {
				batch = append(batch, traceSpan(tid, fmt.Sprint(j), "root", "call", base.Add(time.Duration(i)*time.Second+time.Duration(j+1)*time.Millisecond), time.Millisecond, trace.SpanTool))
			}
		}
		changed := stored[1]
		changed.Name, changed.StatusCode = "old child, failed", trace.StatusError
		twice := batch[len(batch)-1]
		twice.Name = "call, again"
		batch = append(batch[:40], append([]trace.Span{changed}, batch[40:]...)...) // in the first statement's rows
		batch = append(batch, twice)
		if err := s.WriteSpans(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		for _, tid := range append(tids, old) {
			got, err := s.GetTrace(t.Context(), tid)
			if err != nil {
				t.Fatal(err)
			}
			spans, err := s.TraceSpans(t.Context(), tid)
			if err != nil {
				t.Fatal(err)
			}
			want := 7
			if tid == old {
				want = 2
			}
			if ref := trace.Summarize(tid, spans); ref != *got || len(spans) != want {
				t.Errorf("trace %s: %d spans (want %d); summary\n got %+v\nwant %+v", tid, len(spans), want, *got, ref)
			}
			for _, sp := range spans {
				if sp.SpanID == changed.SpanID && (sp.Name != changed.Name || sp.StatusCode != trace.StatusError) {
					t.Errorf("the changed span is %q, %s", sp.Name, sp.StatusCode)
				}
				if sp.SpanID == twice.SpanID && sp.Name != twice.Name {
					t.Errorf("the span written twice is %q, want its last copy", sp.Name)
				}
			}
		}
		if got, err := s.GetTrace(t.Context(), old); err != nil || got.Status != trace.StatusError || got.ErrorCount != 1 {
			t.Errorf("the stored trace after its span failed: %+v, %v", got, err)
		}
	})

	// Batches of one trace written at once (replicas exporting the spans of
	// one distributed trace) all count: each summarises after the others.
	parallel(t, "ConcurrentBatches", func(t *testing.T) {
		s := newBackend(t).Traces
		tid := newID("conc")
		const writers, per = 8, 10
		errc := make(chan error, writers)
		for w := 0; w < writers; w++ {
			go func() {
				var batch []trace.Span
				for i := 0; i < per; i++ {
					sp := traceSpan(tid, fmt.Sprintf("w%d-%d", w, i), "root", "child", base.Add(time.Duration(w*per+i+1)*time.Millisecond), time.Millisecond, trace.SpanTool)
					if i == 0 {
						sp.StatusCode = trace.StatusError
					}
					batch = append(batch, sp)
				}
				if w == 0 {
					batch = append(batch, traceSpan(tid, "root", "", "root", base, time.Second, trace.SpanAgent))
				}
				errc <- s.WriteSpans(t.Context(), batch)
			}()
		}
		for w := 0; w < writers; w++ {
			if err := <-errc; err != nil {
				t.Fatalf("WriteSpans: %v", err)
			}
		}
		got, err := s.GetTrace(t.Context(), tid)
		if err != nil {
			t.Fatal(err)
		}
		if got.TotalSpans != writers*per+1 || got.ErrorCount != writers || got.Name != "root" || got.DurationMS != 1000 {
			t.Errorf("after concurrent batches: %+v", got)
		}
	})

	parallel(t, "FilterDSL", func(t *testing.T) {
		s := newBackend(t).Traces
		fx := traceFixtures(t, s, base)
		hostile := fx.hostile
		cases := []struct {
			name, filter string
			want         string // letters of the traces
		}{
			{"EQ enum", `{"op":"EQ","key":"status","value":"ERROR"}`, "B"},
			{"EQ enum lower case", `{"op":"EQ","key":"status","value":"error"}`, "B"},
			{"NEQ enum", `{"op":"NEQ","key":"status","value":"ERROR"}`, "ACD"},
			{"IN enum", `{"op":"IN","key":"status","values":["OK"]}`, "ACD"},
			{"EQ string", `{"op":"EQ","key":"name","value":"agent.run Alpha"}`, "A"},
			{"NEQ string", `{"op":"NEQ","key":"user_id","value":"` + fx.user1 + `"}`, "BD"},
			{"EQ empty string", `{"op":"EQ","key":"team_id","value":""}`, "ACD"},
			{"GT number", `{"op":"GT","key":"duration_ms","value":2500}`, "C"},
			{"GTE number", `{"op":"GTE","key":"duration_ms","value":2500}`, "BC"},
			{"LT number", `{"op":"LT","key":"duration_ms","value":100}`, "D"},
			{"LTE number", `{"op":"LTE","key":"duration_ms","value":100}`, "AD"},
			{"EQ number", `{"op":"EQ","key":"duration_ms","value":5000}`, "C"},
			{"NEQ number", `{"op":"NEQ","key":"duration_ms","value":0}`, "ABC"},
			{"GT fractional", `{"op":"GT","key":"duration_ms","value":99.5}`, "ABC"},
			{"CONTAINS ignores case", `{"op":"CONTAINS","key":"name","value":"ALPHA"}`, "AC"},
			{"CONTAINS id", `{"op":"CONTAINS","key":"agent_id","value":"gamma"}`, "C"},
			{"STARTSWITH", `{"op":"STARTSWITH","key":"name","value":"agent"}`, "A"},
			{"STARTSWITH keeps case", `{"op":"STARTSWITH","key":"name","value":"Agent"}`, ""},
			{"IN strings", `{"op":"IN","key":"session_id","values":["` + fx.sess1 + `","` + fx.sess2 + `"]}`, "ABC"},
			{"IN with unknown", `{"op":"IN","key":"run_id","values":["` + fx.run["A"] + `","` + fx.run["D"] + `","nope"]}`, "AD"},
			{"IN empty", `{"op":"IN","key":"trace_id","values":[]}`, ""},
			{"IN trace ids", `{"op":"IN","key":"trace_id","values":["` + fx.id["B"] + `"]}`, "B"},
			{"GT time", `{"op":"GT","key":"start_time","value":"` + base.Add(30*time.Minute).Format(time.RFC3339) + `"}`, "BCD"},
			{"GTE time in another zone", `{"op":"GTE","key":"start_time","value":"` + base.Add(time.Hour).In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339) + `"}`, "BCD"},
			{"LT end time", `{"op":"LT","key":"end_time","value":"` + base.Add(time.Hour+2500*time.Millisecond).Format(time.RFC3339Nano) + `"}`, "A"},
			{"LTE end time", `{"op":"LTE","key":"end_time","value":"` + base.Add(time.Hour+2500*time.Millisecond).Format(time.RFC3339Nano) + `"}`, "AB"},
			{"GTE created_at", `{"op":"GTE","key":"created_at","value":"` + base.Add(2*time.Hour).Format(time.RFC3339) + `"}`, "CD"},
			{"LTE start time", `{"op":"LTE","key":"start_time","value":"` + base.Format("2006-01-02T15:04:05") + `"}`, "A"},
			{"AND", `{"op":"AND","conditions":[{"op":"EQ","key":"status","value":"OK"},{"op":"GT","key":"duration_ms","value":50}]}`, "AC"},
			{"OR", `{"op":"OR","conditions":[{"op":"EQ","key":"team_id","value":"` + fx.team + `"},{"op":"STARTSWITH","key":"agent_id","value":"AGENT"}]}`, "BC"},
			{"NOT", `{"op":"NOT","condition":{"op":"EQ","key":"status","value":"OK"}}`, "B"},
			{"NOT OR", `{"op":"NOT","condition":{"op":"OR","conditions":[{"op":"EQ","key":"team_id","value":"` + fx.team + `"},{"op":"STARTSWITH","key":"agent_id","value":"AGENT"}]}}`, "AD"},
			{"nested", `{"op":"AND","conditions":[{"op":"OR","conditions":[{"op":"EQ","key":"user_id","value":"` + fx.user1 + `"},{"op":"EQ","key":"status","value":"ERROR"}]},{"op":"NOT","condition":{"op":"CONTAINS","key":"name","value":"helper"}}]}`, "AB"},
			{"hostile EQ is a value", `{"op":"EQ","key":"name","value":"x' OR '1'='1"}`, ""},
			{"hostile EQ matches itself", `{"op":"EQ","key":"name","value":` + jsonString(hostile) + `}`, "D"},
			{"percent is plain in CONTAINS", `{"op":"CONTAINS","key":"name","value":"%_"}`, "D"},
			{"percent alone", `{"op":"CONTAINS","key":"name","value":"%"}`, "D"},
			{"underscore is plain in STARTSWITH", `{"op":"STARTSWITH","key":"name","value":"_"}`, ""},
			{"quote in STARTSWITH", `{"op":"STARTSWITH","key":"name","value":"zeta'"}`, "D"},
			{"hostile IN", `{"op":"IN","key":"user_id","values":["') OR 1=1 --","` + fx.user3 + `"]}`, "D"},
		}
		for _, c := range cases {
			e, err := trace.ParseFilter([]byte(c.filter))
			if err != nil {
				t.Errorf("%s: ParseFilter(%s): %v", c.name, c.filter, err)
				continue
			}
			list, total, err := s.ListTraces(t.Context(), trace.Query{Where: trace.And(trace.Cond("workflow_id", trace.OpEQ, fx.wf), e), Limit: 50, Page: 1})
			if err != nil {
				t.Errorf("%s: ListTraces: %v", c.name, err)
				continue
			}
			if got := sortedLetters(fx.letters(list)); got != c.want || total != len(c.want) {
				t.Errorf("%s: %s selected %q (total %d), want %q", c.name, c.filter, got, total, c.want)
			}
		}
		// The table is still there, and every trace with it.
		list, _, err := s.ListTraces(t.Context(), trace.Query{Where: trace.Cond("workflow_id", trace.OpEQ, fx.wf), Limit: 50, Page: 1})
		if err != nil || sortedLetters(fx.letters(list)) != "ABCD" {
			t.Fatalf("after the hostile filters: %q, %v", fx.letters(list), err)
		}
	})

	parallel(t, "OrderAndPaging", func(t *testing.T) {
		s := newBackend(t).Traces
		fx := traceFixtures(t, s, base)
		where := trace.Cond("workflow_id", trace.OpEQ, fx.wf)
		var got []string
		for page := 1; page <= 3; page++ {
			list, total, err := s.ListTraces(t.Context(), trace.Query{Where: where, Limit: 3, Page: page})
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if total != 4 {
				t.Errorf("page %d: total %d, want 4", page, total)
			}
			got = append(got, fx.letters(list))
		}
		if !slices.Equal(got, []string{"DCB", "A", ""}) {
			t.Errorf("pages (latest first): %q", got)
		}
	})

	parallel(t, "SessionStats", func(t *testing.T) {
		s := newBackend(t).Traces
		fx := traceFixtures(t, s, base)
		list, total, err := s.TraceSessionStats(t.Context(), trace.Query{Where: trace.Cond("workflow_id", trace.OpEQ, fx.wf), Limit: 10, Page: 1})
		if err != nil {
			t.Fatalf("TraceSessionStats: %v", err)
		}
		if total != 2 || len(list) != 2 {
			t.Fatalf("sessions %+v (total %d), want two (D has none)", list, total)
		}
		if list[0].SessionID != fx.sess2 || list[0].TotalTraces != 1 || !list[0].FirstTraceAt.Equal(base.Add(2*time.Hour)) {
			t.Errorf("latest session first: %+v", list[0])
		}
		s1 := list[1]
		if s1.SessionID != fx.sess1 || s1.TotalTraces != 2 || !s1.FirstTraceAt.Equal(base) || !s1.LastTraceAt.Equal(base.Add(time.Hour)) {
			t.Errorf("session 1: %+v", s1)
		}
		e, err := trace.ParseFilter([]byte(`{"op":"EQ","key":"status","value":"ERROR"}`))
		if err != nil {
			t.Fatal(err)
		}
		list, total, err = s.TraceSessionStats(t.Context(), trace.Query{Where: trace.And(trace.Cond("workflow_id", trace.OpEQ, fx.wf), e), Limit: 10, Page: 1})
		if err != nil || total != 1 || list[0].SessionID != fx.sess1 || list[0].TotalTraces != 1 || list[0].TeamID != fx.team {
			t.Errorf("sessions of the failed traces: %+v (total %d), %v", list, total, err)
		}
		list, total, err = s.TraceSessionStats(t.Context(), trace.Query{Where: trace.Cond("workflow_id", trace.OpEQ, fx.wf), Limit: 1, Page: 3})
		if err != nil || total != 2 || len(list) != 0 {
			t.Errorf("page past the end: %+v (total %d), %v", list, total, err)
		}
	})

	parallel(t, "DeleteBefore", func(t *testing.T) {
		s := newBackend(t).Traces
		// Long before the other tests' traces, which a shared database
		// holds too.
		old := base.AddDate(-10, 0, 0)
		fx := traceFixtures(t, s, old)
		// A backlog of more traces than one delete transaction takes.
		var backlog []trace.Span
		for i := 0; i < 1100; i++ {
			backlog = append(backlog, traceSpan(newID("backlog"), "r", "", "old", old.Add(-time.Hour), time.Second, trace.SpanAgent))
		}
		// One that started before old+90m but ends after it: kept.
		spanning := traceSpan(newID("spanning"), "r", "", "spanning", old.Add(89*time.Minute), 2*time.Minute, trace.SpanAgent)
		if err := s.WriteSpans(t.Context(), append(backlog, spanning)); err != nil {
			t.Fatal(err)
		}
		// A, B and the backlog ended before old+90m; C, D after.
		n, err := s.DeleteTracesBefore(t.Context(), old.Add(90*time.Minute))
		if err != nil {
			t.Fatalf("DeleteTracesBefore: %v", err)
		}
		if n < 1102 {
			t.Errorf("deleted %d traces, want at least A, B and the backlog's 1100", n)
		}
		for _, sp := range []trace.Span{backlog[0], backlog[len(backlog)-1]} {
			if _, err := s.GetTrace(t.Context(), sp.TraceID); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("a backlog trace is left: %v", err)
			}
		}
		if tr, err := s.GetTrace(t.Context(), spanning.TraceID); err != nil || tr.TotalSpans != 1 {
			t.Errorf("a trace ending after the cut-off: %+v, %v", tr, err)
		}
		list, _, err := s.ListTraces(t.Context(), trace.Query{Where: trace.Cond("workflow_id", trace.OpEQ, fx.wf), Limit: 10, Page: 1})
		if err != nil || fx.letters(list) != "DC" {
			t.Errorf("left %q, %v; want DC", fx.letters(list), err)
		}
		if spans, err := s.TraceSpans(t.Context(), fx.id["B"]); err != nil || len(spans) != 0 {
			t.Errorf("spans of a deleted trace: %d, %v", len(spans), err)
		}
		if _, err := s.GetTrace(t.Context(), fx.id["A"]); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetTrace(deleted): %v", err)
		}
	})
}

// traceFix are four traces of one workflow id.
type traceFix struct {
	wf, team, user1, user3, sess1, sess2, hostile string
	id, run                                       map[string]string
}

func (fx *traceFix) letters(list []trace.Trace) string {
	var b strings.Builder
	for _, tr := range list {
		for l, id := range fx.id {
			if id == tr.TraceID {
				b.WriteString(l)
			}
		}
	}
	return b.String()
}

// traceFixtures stores four traces (each a root span, B with a failed
// child):
//
//	A "agent.run Alpha"  OK     100ms  start base      user1 session1
//	B "Team.run beta"    ERROR  2.5s   start base+1h   user2 session1 team
//	C "alpha helper"     OK     5s     start base+2h   user1 session2
//	D hostile name       OK     0ms    start base+3h   user3 no session
func traceFixtures(t *testing.T, s trace.Store, base time.Time) *traceFix {
	t.Helper()
	fx := &traceFix{wf: newID("wf"), team: newID("team"), user1: newID("u1"), user3: newID("u3"),
		sess1: newID("s1"), sess2: newID("s2"), hostile: "zeta'; DROP TABLE traces; -- 100%_done",
		id: map[string]string{}, run: map[string]string{}}
	user2 := newID("u2")
	rows := []struct {
		l, name, user, sess, agent, team string
		start                            time.Duration
		dur                              time.Duration
	}{
		{"A", "agent.run Alpha", fx.user1, fx.sess1, newID("agent-alpha"), "", 0, 100 * time.Millisecond},
		{"B", "Team.run beta", user2, fx.sess1, "", fx.team, time.Hour, 2500 * time.Millisecond},
		{"C", "alpha helper", fx.user1, fx.sess2, "AGENT-gamma-" + newID("x"), "", 2 * time.Hour, 5 * time.Second},
		{"D", fx.hostile, fx.user3, "", "", "", 3 * time.Hour, 0},
	}
	var spans []trace.Span
	for _, r := range rows {
		tid := newID("trace-" + r.l)
		fx.id[r.l], fx.run[r.l] = tid, newID("run-"+r.l)
		sp := traceSpan(tid, "root", "", r.name, base.Add(r.start), r.dur, trace.SpanAgent)
		sp.UserID, sp.SessionID, sp.AgentID, sp.TeamID, sp.WorkflowID, sp.RunID = r.user, r.sess, r.agent, r.team, fx.wf, fx.run[r.l]
		spans = append(spans, sp)
		if r.l == "B" {
			c := traceSpan(tid, "child", "root", "member", base.Add(r.start+time.Millisecond), time.Millisecond, trace.SpanTool)
			c.StatusCode = trace.StatusError
			spans = append(spans, c)
		}
	}
	if err := s.WriteSpans(t.Context(), spans); err != nil {
		t.Fatalf("WriteSpans: %v", err)
	}
	return fx
}

// traceSpan is a span of trace tid with id tid-id (parent tid-parent).
func traceSpan(tid, id, parent, name string, start time.Time, dur time.Duration, typ string) trace.Span {
	sp := trace.Span{SpanID: tid + "-" + id, TraceID: tid, Name: name, SpanKind: "INTERNAL", StatusCode: trace.StatusOK,
		StartTime: start, EndTime: start.Add(dur), DurationMS: dur.Milliseconds(),
		Attributes: map[string]any{trace.AttrSpanType: typ}, CreatedAt: start}
	if parent != "" {
		sp.ParentSpanID = tid + "-" + parent
	}
	return sp
}

func sortedLetters(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
