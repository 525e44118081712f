package trace_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/storage/sqlite"
)

var (
	admin = trace.Scope{}
	alice = trace.Scope{Bound: true, UserID: "alice"}
)

// newService is the service on a real SQLite store holding two traces of
// alice (one failed) and one of bob, and a clock at now.
func newService(t *testing.T, now time.Time) (*trace.Service, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var spans []trace.Span
	for i, who := range []string{"alice", "alice", "bob"} {
		tid := []string{"ta1", "ta2", "tb1"}[i]
		s := span(tid+"-root", "", who+".run", trace.SpanAgent, int64(i)*60_000, 100)
		s.TraceID, s.UserID, s.SessionID, s.AgentID, s.RunID = tid, who, "sess-"+who, "assistant", "run-"+tid
		s.CreatedAt = s.StartTime
		spans = append(spans, s)
		if i == 1 {
			c := span(tid+"-tool", tid+"-root", "tool", trace.SpanTool, int64(i)*60_000+1, 10)
			c.TraceID, c.StatusCode = tid, trace.StatusError
			spans = append(spans, c)
		}
	}
	if err := st.WriteSpans(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	return trace.New(trace.Config{Store: st, Retention: time.Hour, Now: func() time.Time { return now }}), st
}

func wantCode(t *testing.T, err error, code core.ErrorCode, contains string) {
	t.Helper()
	if err == nil || core.CodeOf(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v (code %s), want %s containing %q", err, core.CodeOf(err), code, contains)
	}
}

func ids(list []trace.TraceSummary) string {
	var out []string
	for _, s := range list {
		out = append(out, s.TraceID)
	}
	return strings.Join(out, ",")
}

func TestServiceIsolation(t *testing.T) {
	s, _ := newService(t, t0)
	ctx := t.Context()
	list, total, err := s.List(ctx, admin, trace.ListFilter{})
	if err != nil || total != 3 || ids(list) != "tb1,ta2,ta1" {
		t.Fatalf("admin lists %s (%d), %v", ids(list), total, err)
	}
	list, total, err = s.List(ctx, alice, trace.ListFilter{})
	if err != nil || total != 2 || ids(list) != "ta2,ta1" {
		t.Fatalf("alice lists %s (%d), %v", ids(list), total, err)
	}
	_, _, err = s.List(ctx, alice, trace.ListFilter{UserID: "bob"})
	wantCode(t, err, core.CodeForbidden, `user "bob"`)
	_, _, err = s.List(ctx, trace.Scope{Bound: true}, trace.ListFilter{})
	wantCode(t, err, core.CodeForbidden, "no user id")

	if _, err := s.Get(ctx, alice, "tb1", ""); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("alice gets bob's trace: %v, want not found", err)
	}
	if _, err := s.Span(ctx, alice, "tb1", "tb1-root", ""); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("alice gets bob's span: %v, want not found", err)
	}
	d, err := s.Get(ctx, alice, "ta2", "")
	if err != nil || d.Status != trace.StatusError || d.ErrorCount != 1 || len(d.Tree) != 1 || len(d.Tree[0].Spans) != 1 {
		t.Fatalf("alice's failed trace: %+v, %v", d, err)
	}
	if _, err := s.Get(ctx, admin, "ta2", "run-other"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("trace of another run: %v", err)
	}
	n, err := s.Span(ctx, admin, "ta2", "ta2-tool", "run-ta2")
	if err != nil || n.ID != "ta2-tool" || n.Status != trace.StatusError || n.Spans != nil {
		t.Errorf("span: %+v, %v", n, err)
	}
	if _, err := s.Span(ctx, admin, "ta1", "ta2-tool", ""); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("span of another trace: %v", err)
	}

	// Search is bound too: alice's OR cannot reach bob's.
	res, err := s.Search(ctx, alice, trace.SearchInput{Filter: json.RawMessage(`{"op":"OR","conditions":[{"op":"EQ","key":"user_id","value":"bob"},{"op":"EQ","key":"status","value":"ERROR"}]}`)})
	if err != nil || res.Total != 1 || res.Runs[0].TraceID != "ta2" || len(res.Runs[0].Tree) != 1 {
		t.Fatalf("alice's search: %+v, %v", res, err)
	}
	res, err = s.Search(ctx, admin, trace.SearchInput{GroupBy: trace.GroupBySession, Filter: json.RawMessage(`{"op":"EQ","key":"agent_id","value":"assistant"}`)})
	if err != nil || res.Total != 2 || res.Sessions[0].SessionID != "sess-bob" || res.Sessions[1].TotalTraces != 2 {
		t.Fatalf("sessions: %+v, %v", res, err)
	}
	stats, total, err := s.SessionStats(ctx, alice, trace.ListFilter{})
	if err != nil || total != 1 || stats[0].SessionID != "sess-alice" || stats[0].UserID != "alice" {
		t.Fatalf("alice's session stats: %+v (%d), %v", stats, total, err)
	}
}

func TestServiceBadInput(t *testing.T) {
	s, _ := newService(t, t0)
	ctx := t.Context()
	_, err := s.Search(ctx, admin, trace.SearchInput{Filter: json.RawMessage(`{"op":"EQ","key":"secret","value":"x"}`)})
	wantCode(t, err, core.CodeInvalid, `unknown field "secret"`)
	_, err = s.Search(ctx, admin, trace.SearchInput{Filter: json.RawMessage(`{"op":"GT","key":"end_time","value":"soon"}`)})
	wantCode(t, err, core.CodeUnprocessable, `"soon"`)
	_, err = s.Search(ctx, admin, trace.SearchInput{GroupBy: "user"})
	wantCode(t, err, core.CodeInvalid, `group_by "user"`)
	_, err = s.Search(ctx, admin, trace.SearchInput{Limit: 101})
	wantCode(t, err, core.CodeUnprocessable, "limit 101")
	_, _, err = s.List(ctx, admin, trace.ListFilter{Status: "BROKEN"})
	wantCode(t, err, core.CodeInvalid, `status "BROKEN"`)
	_, _, err = s.List(ctx, admin, trace.ListFilter{Page: -1})
	wantCode(t, err, core.CodeUnprocessable, "page -1")
}

func TestServiceListFilters(t *testing.T) {
	s, _ := newService(t, t0)
	ctx := t.Context()
	for _, c := range []struct {
		f    trace.ListFilter
		want string
	}{
		{trace.ListFilter{Status: trace.StatusError}, "ta2"},
		{trace.ListFilter{RunID: "run-ta1"}, "ta1"},
		{trace.ListFilter{SessionID: "sess-bob"}, "tb1"},
		{trace.ListFilter{AgentID: "assistant", Limit: 2}, "tb1,ta2"},
		{trace.ListFilter{StartTime: t0.Add(time.Minute)}, "tb1,ta2"},
		{trace.ListFilter{EndTime: t0.Add(time.Minute + 100*time.Millisecond)}, "ta2,ta1"},
		{trace.ListFilter{TeamID: "none"}, ""},
	} {
		list, _, err := s.List(ctx, admin, c.f)
		if err != nil || ids(list) != c.want {
			t.Errorf("List(%+v) = %s, %v; want %s", c.f, ids(list), err, c.want)
		}
	}
}

func TestServiceRetain(t *testing.T) {
	// The clock is an hour and a minute after the first trace ended: with
	// an hour's retention only ta1 goes.
	s, _ := newService(t, t0.Add(time.Hour+time.Minute))
	if err := s.Retain(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.List(t.Context(), admin, trace.ListFilter{})
	if err != nil || ids(list) != "tb1,ta2" {
		t.Fatalf("after retention: %s, %v", ids(list), err)
	}
	if s.Retention() != time.Hour || trace.New(trace.Config{}).Retention() != trace.DefaultRetention {
		t.Errorf("retention defaults")
	}
}
