package storetest

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric"
)

// testMetrics checks the metrics' store: the aggregate queries over runs
// and sessions, the changed days, the daily rows, the refresh claim, and
// the service's refresh (full, then incremental) on the real store. Its
// steps run in order: the refresh status row is one per database. The
// runs and sessions are on two random days of the 1990s, which no other
// test writes to.
func testMetrics(t *testing.T, newBackend Factory) {
	b := newBackend(t)
	st, rs := b.Metrics, b.Runs
	ctx := t.Context()
	d1 := metric.DayStart(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + rand.Int64N(3000)*metric.DaySeconds)
	d2 := d1 + metric.DaySeconds
	u1, u2, u3 := newID("mu"), newID("mu"), newID("mu")
	sess := func(typ core.SessionType, user string, at int64) string {
		s := &core.Session{SessionID: newID("msess"), SessionType: typ, UserID: user, CreatedAt: at, UpdatedAt: at}
		if err := rs.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.SessionID
	}
	s1, s2, s3 := sess(core.SessionAgent, u1, d1+10), sess(core.SessionTeam, u2, d1+20), sess(core.SessionWorkflow, "", d2+5)
	run := func(r core.Run, at int64, m *core.Metrics) string {
		r.RunID, r.Status, r.Metrics, r.CreatedAt, r.UpdatedAt = newID("mrun"), core.RunCompleted, m, at, at
		if err := rs.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		return r.RunID
	}
	run(core.Run{SessionID: s1, AgentID: "a", UserID: u1, Model: "m1", ModelProvider: "p1"}, d1+100, &core.Metrics{InputTokens: 10, OutputTokens: 5, TotalTokens: 15})
	run(core.Run{SessionID: s1, AgentID: "a", UserID: u1, Model: "m1", ModelProvider: "p1"}, d1+200, &core.Metrics{InputTokens: 1, OutputTokens: 2, TotalTokens: 3})
	team := run(core.Run{SessionID: s2, TeamID: "t", UserID: u2, Model: "m2", ModelProvider: "p2"}, d1+300, &core.Metrics{InputTokens: 100, TotalTokens: 100})
	run(core.Run{SessionID: s2, AgentID: "member", TeamID: "t", ParentRunID: team, UserID: u2, Model: "m1", ModelProvider: "p1"}, d1+301, &core.Metrics{InputTokens: 7, OutputTokens: 7, TotalTokens: 14})
	run(core.Run{SessionID: s3, WorkflowID: "w", UserID: u3}, d2+10, nil)
	run(core.Run{SessionID: newID("msess"), AgentID: "a", UserID: newID("mu"), Model: "m9"}, d1-100, &core.Metrics{InputTokens: 1000})

	want1 := metric.Aggregate{AgentRuns: 2, TeamRuns: 1, AgentSessions: 1, TeamSessions: 1, Users: 2,
		Tokens: metric.MetricsTokens{InputTokens: 118, OutputTokens: 14, TotalTokens: 132},
		Models: []metric.MetricsModelCount{{ModelID: "m1", ModelProvider: "p1", Count: 3}, {ModelID: "m2", ModelProvider: "p2", Count: 1}}}
	want2 := metric.Aggregate{WorkflowRuns: 1, WorkflowSessions: 1, Users: 1, Models: []metric.MetricsModelCount{}}

	t.Run("Aggregate", func(t *testing.T) {
		for _, c := range []struct {
			day  int64
			want metric.Aggregate
		}{{d1, want1}, {d2, want2}} {
			got, err := st.MetricsAggregate(ctx, c.day, c.day+metric.DaySeconds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("aggregate of day %d:\n got %+v\nwant %+v", c.day, got, c.want)
			}
		}
		two, err := st.MetricsAggregate(ctx, d1, d2+metric.DaySeconds)
		if err != nil {
			t.Fatal(err)
		}
		if two.AgentRuns != 2 || two.WorkflowRuns != 1 || two.Users != 3 {
			t.Errorf("aggregate of both days: %+v", two)
		}
	})

	t.Run("ChangedDays", func(t *testing.T) {
		days, err := st.MetricsChangedDays(ctx, d1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(days, d1) || !slices.Contains(days, d2) || slices.Contains(days, d1-metric.DaySeconds) || !slices.IsSorted(days) {
			t.Errorf("changed days since %d: %v", d1, days)
		}
		days, err = st.MetricsChangedDays(ctx, d2+metric.DaySeconds)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(days, d1) || slices.Contains(days, d2) {
			t.Errorf("changed days since after both: %v", days)
		}
	})

	t.Run("Days", func(t *testing.T) {
		rows := []metric.Day{{ID: newID("md"), Day: d1, Period: metric.Period, Aggregate: want1, Completed: true, CreatedAt: d2, UpdatedAt: d2},
			{ID: newID("md"), Day: d2, Aggregate: want2, CreatedAt: d2 + 1, UpdatedAt: d2 + 1}}
		if err := st.UpsertMetricsDays(ctx, rows); err != nil {
			t.Fatal(err)
		}
		rows[1].Period = metric.Period
		got, err := st.ListMetricsDays(ctx, d1, d2+metric.DaySeconds)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rows) {
			t.Fatalf("days:\n got %+v\nwant %+v", got, rows)
		}
		// Again: the counts and updated_at change, the id and created_at stay.
		again := rows[0]
		again.ID, again.CreatedAt, again.UpdatedAt = newID("md"), d2+50, d2+60
		again.Aggregate.AgentRuns = 7
		if err := st.UpsertMetricsDays(ctx, []metric.Day{again}); err != nil {
			t.Fatal(err)
		}
		got, err = st.ListMetricsDays(ctx, d1, d1+metric.DaySeconds)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != rows[0].ID || got[0].CreatedAt != d2 || got[0].UpdatedAt != d2+60 || got[0].Aggregate.AgentRuns != 7 {
			t.Fatalf("after the second upsert: %+v", got)
		}
		all, err := st.ListMetricsDays(ctx, d1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 2 || all[0].Day != d1 || all[1].Day != d2 {
			t.Fatalf("unbounded list from %d: %+v", d1, all)
		}
	})

	t.Run("Claim", func(t *testing.T) {
		now := time.Now().Unix()
		ok, _, err := st.ClaimMetricsRefresh(ctx, "a", now, now-600)
		if err != nil || !ok {
			t.Fatalf("first claim: %v %v", ok, err)
		}
		ok, cur, err := st.ClaimMetricsRefresh(ctx, "b", now, now-600)
		if err != nil || ok || cur.Status != metric.StatusRunning || cur.Token != "a" || cur.StartedAt != now {
			t.Fatalf("second claim: %v %+v %v", ok, cur, err)
		}
		if owned, err := st.FinishMetricsRefresh(ctx, "b", now+1, "", 123); err != nil || owned {
			t.Fatalf("finish by a non-owner: %v %v", owned, err)
		}
		if owned, err := st.FinishMetricsRefresh(ctx, "a", now+2, "", now); err != nil || !owned {
			t.Fatalf("finish: %v %v", owned, err)
		}
		s, err := st.MetricsRefreshState(ctx)
		if err != nil || s.Status != metric.StatusCompleted || s.StartedAt != now || s.FinishedAt != now+2 || s.Watermark != now || s.Error != "" || s.Token != "" {
			t.Fatalf("state after finish: %+v %v", s, err)
		}
		// A stale claim is taken over; its owner then cannot finish it.
		if ok, _, err := st.ClaimMetricsRefresh(ctx, "c", now-1000, now-600); err != nil || !ok {
			t.Fatalf("claim c: %v %v", ok, err)
		}
		ok, prev, err := st.ClaimMetricsRefresh(ctx, "d", now, now-600)
		if err != nil || !ok || prev.Watermark != now {
			t.Fatalf("takeover: %v %+v %v", ok, prev, err)
		}
		if owned, _ := st.FinishMetricsRefresh(ctx, "c", now, "", 1); owned {
			t.Fatal("the stale owner finished the claim taken over")
		}
		if owned, err := st.FinishMetricsRefresh(ctx, "d", now+3, "boom", 999); err != nil || !owned {
			t.Fatalf("finish failed: %v %v", owned, err)
		}
		s, err = st.MetricsRefreshState(ctx)
		if err != nil || s.Status != metric.StatusFailed || s.Error != "boom" || s.Watermark != now || s.FinishedAt != now+3 {
			t.Fatalf("state after a failure: %+v %v", s, err)
		}
	})

	t.Run("Service", func(t *testing.T) {
		clock := d2 + 3600
		svc := metric.New(metric.Config{Store: st, Now: func() time.Time { return time.Unix(clock, 0) }})
		t.Cleanup(svc.Close)
		// The watermark the claims left (now) is after every 1990 row: reset
		// it with a completed refresh whose watermark is 0.
		if ok, _, err := st.ClaimMetricsRefresh(ctx, "reset", time.Now().Unix(), time.Now().Unix()); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if _, err := st.FinishMetricsRefresh(ctx, "reset", time.Now().Unix(), "", 0); err != nil {
			t.Fatal(err)
		}
		days, err := svc.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byDay := map[int64]metric.Day{}
		for _, d := range days {
			byDay[d.Day] = d
		}
		first, ok := byDay[d1]
		if !ok || !reflect.DeepEqual(first.Aggregate, want1) || !first.Completed || first.UpdatedAt != clock {
			t.Fatalf("refreshed day 1: %+v (all: %d days)", first, len(days))
		}
		if today := byDay[d2]; !reflect.DeepEqual(today.Aggregate, want2) || today.Completed {
			t.Fatalf("refreshed today: %+v", today)
		}
		if first.ID != time.Unix(d1, 0).UTC().Format("2006-01-02")+"_daily" && first.CreatedAt == clock {
			t.Errorf("a new row's id: %q", first.ID)
		}
		// Incremental: a run added on day 1 since; the day before is not
		// looked at again.
		clock += 60
		late := &core.Run{RunID: newID("mrun"), SessionID: s1, AgentID: "a", UserID: u1, Model: "m1", ModelProvider: "p1", Status: core.RunCompleted,
			Metrics: &core.Metrics{InputTokens: 2, TotalTokens: 2}, CreatedAt: d1 + 400, UpdatedAt: clock}
		if err := rs.CreateRun(ctx, late); err != nil {
			t.Fatal(err)
		}
		days, err = svc.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]metric.Day{}
		for _, d := range days {
			got[d.Day] = d
		}
		if _, again := got[d1-metric.DaySeconds]; again || got[d1].Aggregate.AgentRuns != 3 || got[d1].Aggregate.Tokens.InputTokens != 120 {
			t.Fatalf("incremental refresh: %+v", days)
		}
		if _, ok := got[d2]; !ok {
			t.Fatalf("incremental refresh without today: %+v", days)
		}
		// While another refresh holds the claim: refused, and the tick is
		// a no-op.
		if ok, _, err := st.ClaimMetricsRefresh(ctx, "other", time.Now().Unix(), 0); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if _, err := svc.Refresh(ctx); !errors.Is(err, metric.ErrAlreadyRunning) || core.CodeOf(err) != core.CodeConflict {
			t.Fatalf("refresh while running: %v", err)
		}
		if err := svc.RefreshBackground(ctx); !errors.Is(err, metric.ErrAlreadyRunning) {
			t.Fatalf("background refresh while running: %v", err)
		}
		if err := svc.Tick(ctx); err != nil {
			t.Fatalf("tick while running: %v", err)
		}
		if _, err := st.FinishMetricsRefresh(ctx, "other", time.Now().Unix(), "", clock); err != nil {
			t.Fatal(err)
		}
		// In the background: running, then completed.
		if err := svc.RefreshBackground(ctx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, err := svc.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Status == metric.StatusCompleted && s.StartedAt == clock {
				break
			}
			if s.Status == metric.StatusFailed || time.Now().After(deadline) {
				t.Fatalf("background refresh: %+v", s)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// A day later, with no new activity: the row computed while day 2
		// ran is computed again, now completed, and the new day has one.
		clock += metric.DaySeconds
		days, err = svc.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = map[int64]metric.Day{}
		for _, d := range days {
			got[d.Day] = d
		}
		if d, ok := got[d2]; !ok || !d.Completed || !reflect.DeepEqual(d.Aggregate, want2) {
			t.Fatalf("day 2 the day after: %+v", days)
		}
		if d, ok := got[d2+metric.DaySeconds]; !ok || d.Completed || d.Aggregate.AgentRuns != 0 {
			t.Fatalf("the new day: %+v", days)
		}
	})
}
