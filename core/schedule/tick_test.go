package schedule_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
)

// fireTimes ticks every two minutes (the grace: no fire is missed) from start to end and returns the clock's
// time at each fire of sc (the fake clock's Now when the run was started).
func fireTimes(t *testing.T, f *fixture, sc *schedule.Schedule, end time.Time) []time.Time {
	t.Helper()
	var fired []time.Time
	for f.clock.Now().Before(end) {
		f.clock.Add(2 * time.Minute)
		before := len(f.run.started())
		f.tick(t)
		for range len(f.run.started()) - before {
			fired = append(fired, f.clock.Now())
		}
	}
	return fired
}

// TestDST fires a daily job across each DST change of two zones with a
// fake clock: the wall-clock time the spring-forward skips fires once,
// just after the jump, and the one the fall-back repeats fires once, at
// its first occurrence.
func TestDST(t *testing.T) {
	cases := []struct {
		zone, cron string
		day        [3]int // the day of the change
		want       []string
	}{
		// 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist.
		{"America/New_York", "30 2 * * *", [3]int{2026, 3, 8}, []string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		// 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice.
		{"America/New_York", "30 1 * * *", [3]int{2026, 11, 1}, []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		// 2026-03-29 02:00 CET -> 03:00 CEST.
		{"Europe/Berlin", "30 2 * * *", [3]int{2026, 3, 29}, []string{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		// 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice.
		{"Europe/Berlin", "30 2 * * *", [3]int{2026, 10, 25}, []string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
	}
	for _, c := range cases {
		t.Run(c.zone+" "+c.cron+" "+time.Month(c.day[1]).String(), func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(c.zone)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(c.day[0], time.Month(c.day[1]), c.day[2]-1, 12, 0, 0, 0, loc)
			f := newFixture(t, start)
			sc := f.create(t, input("dst", c.cron, c.zone))
			fired := fireTimes(t, f, sc, start.Add(48*time.Hour))
			var got []string
			for _, at := range fired {
				got = append(got, at.In(loc).Format(time.RFC3339))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("fired at %v, want %v", got, c.want)
			}
			// Each fire is recorded with its due time, once.
			rs := f.runs(t, sc.ID)
			if len(rs) != len(c.want) {
				t.Fatalf("%d schedule runs, want %d", len(rs), len(c.want))
			}
			for i, r := range rs {
				want, _ := time.Parse(time.RFC3339, c.want[len(c.want)-1-i])
				if r.DueAt != want.Unix() {
					t.Errorf("run %d due at %s, want %s", i, time.Unix(r.DueAt, 0).In(loc), want)
				}
			}
		})
	}
}

// TestTickOncePerDue runs two services (replicas) ticking together on one
// store, many times over: every due time fires exactly once.
func TestTickOncePerDue(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	sc := f.create(t, input("every10", "@every 10s", "UTC"))
	replicas := []*schedule.Service{f.svc, f.service(), f.service()}
	for range 30 {
		f.clock.Add(5 * time.Second)
		var wg sync.WaitGroup
		for _, r := range replicas {
			wg.Go(func() {
				if err := r.Tick(t.Context()); err != nil {
					t.Errorf("Tick: %v", err)
				}
			})
		}
		wg.Wait()
	}
	rs := f.runs(t, sc.ID)
	if len(rs) != 15 {
		t.Fatalf("%d fires in 150 s of @every 10s, want 15", len(rs))
	}
	seen := map[int64]bool{}
	for _, r := range rs {
		if seen[r.DueAt] {
			t.Errorf("due time %d fired twice", r.DueAt)
		}
		seen[r.DueAt] = true
	}
	for due := start.Unix() + 10; due <= start.Unix()+150; due += 10 {
		if !seen[due] {
			t.Errorf("due time %d did not fire", due)
		}
	}
	if n := len(f.run.started()); n != 15 {
		t.Errorf("%d runs started, want 15", n)
	}
	p := f.run.started()[0]
	if !p.Background || p.UserID != "alice" || p.ScheduleID != sc.ID || p.ScheduleRunID == "" || p.Message != "hi" || p.AgentID != "a" {
		t.Errorf("start params %+v", p)
	}
}

// TestLateAndMissedFires: due times missed by less than the grace fire
// late, each once; missed by more follow catch_up.
func TestLateAndMissedFires(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	t.Run("within grace", func(t *testing.T) {
		f := newFixture(t, start)
		sc := f.create(t, input("late", "@every 10s", "UTC"))
		f.clock.Add(45 * time.Second) // a leader failover
		f.tick(t)
		if rs := f.runs(t, sc.ID); len(rs) != 4 {
			t.Errorf("%d fires for 4 due times missed by < grace, want 4", len(rs))
		}
	})
	for _, c := range []struct {
		catchUp string
		want    int
	}{{schedule.CatchUpOnce, 1}, {schedule.CatchUpNone, 0}} {
		t.Run("catch_up "+c.catchUp, func(t *testing.T) {
			f := newFixture(t, start)
			in := input("down", "*/5 * * * *", "UTC")
			in.CatchUp = ptr(c.catchUp)
			sc := f.create(t, in)
			f.clock.Add(3 * time.Hour) // every replica was down
			f.tick(t)
			f.tick(t)
			if rs := f.runs(t, sc.ID); len(rs) != c.want {
				t.Errorf("%d fires, want %d", len(rs), c.want)
			}
			got, _ := f.svc.Get(t.Context(), "", sc.ID)
			if want := start.Add(3*time.Hour + 5*time.Minute).Unix(); got.NextRunAt != want {
				t.Errorf("next_run_at = %d, want the next regular one %d", got.NextRunAt, want)
			}
		})
	}
}

// TestRetries: a failed run is retried max_retries times, each
// retry_delay_seconds after the failure, as attempt+1.
func TestRetries(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	in := input("retry", "0 13 * * *", "UTC")
	in.MaxRetries, in.RetryDelaySeconds = ptr(2), ptr(30)
	sc := f.create(t, in)
	f.clock.Set(start.Add(time.Hour))
	f.tick(t)
	for attempt := 1; attempt <= 3; attempt++ {
		rs := f.runs(t, sc.ID)
		if len(rs) != attempt || rs[0].Attempt != attempt || rs[0].Status != schedule.StatusRunning {
			t.Fatalf("attempt %d: runs %+v", attempt, rs)
		}
		f.run.set(rs[0].RunID, core.RunError, "boom")
		f.tick(t)
		r, _ := f.svc.Run(t.Context(), "", sc.ID, rs[0].ID)
		if r.Status != schedule.StatusFailed || r.Error != "boom" || r.CompletedAt != f.clock.Now().Unix() {
			t.Fatalf("attempt %d after the error: %+v", attempt, r)
		}
		f.clock.Add(29 * time.Second)
		f.tick(t)
		if n := len(f.runs(t, sc.ID)); n != attempt {
			t.Fatalf("retried before the delay: %d runs", n)
		}
		f.clock.Add(time.Second)
		f.tick(t)
	}
	rs := f.runs(t, sc.ID)
	if len(rs) != 3 {
		t.Fatalf("%d attempts, want 3 (1 + max_retries 2)", len(rs))
	}
	for _, r := range rs {
		if r.DueAt != start.Add(time.Hour).Unix() {
			t.Errorf("attempt %d due at %d, want the fire's due time", r.Attempt, r.DueAt)
		}
	}
}

// TestStartFailureRetried: a run that cannot start fails its attempt,
// which is retried.
func TestStartFailureRetried(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	in := input("nostart", "@every 1h", "UTC")
	in.MaxRetries, in.RetryDelaySeconds = ptr(1), ptr(1)
	sc := f.create(t, in)
	f.run.startErr = core.Errorf(core.CodeInvalid, "message too long")
	f.clock.Add(time.Hour)
	f.tick(t)
	rs := f.runs(t, sc.ID)
	if len(rs) != 1 || rs[0].Status != schedule.StatusFailed || rs[0].Error == "" {
		t.Fatalf("runs %+v", rs)
	}
	f.run.startErr = nil
	f.clock.Add(time.Second)
	f.tick(t)
	rs = f.runs(t, sc.ID)
	if len(rs) != 2 || rs[0].Attempt != 2 || rs[0].Status != schedule.StatusRunning || rs[0].RunID == "" {
		t.Fatalf("after the retry: %+v", rs)
	}
}

// TestTimeout: a run past timeout_seconds is cancelled and its schedule
// run times out; a paused one is not timed out, and once continued has
// its timeout again.
func TestTimeout(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	in := input("slow", "@every 1h", "UTC")
	in.TimeoutSeconds = ptr(60)
	sc := f.create(t, in)
	f.clock.Add(time.Hour)
	f.tick(t)
	f.clock.Add(59 * time.Second)
	f.tick(t)
	if r := f.runs(t, sc.ID)[0]; r.Status != schedule.StatusRunning {
		t.Fatalf("before the timeout: %+v", r)
	}
	f.clock.Add(time.Second)
	f.tick(t)
	r := f.runs(t, sc.ID)[0]
	if r.Status != schedule.StatusTimeout || r.Error == "" || !slices.Equal(f.run.cancels, []string{r.RunID}) {
		t.Fatalf("after the timeout: %+v, cancels %v", r, f.run.cancels)
	}
	f.tick(t) // the cancelled run does not change a timed-out schedule run
	if r := f.runs(t, sc.ID)[0]; r.Status != schedule.StatusTimeout {
		t.Errorf("after the cancel: %s", r.Status)
	}

	// Paused for a day: not timed out; continued: 60 s again.
	f.clock.Set(start.Add(2 * time.Hour))
	f.tick(t)
	p := f.runs(t, sc.ID)[0]
	f.run.set(p.RunID, core.RunPaused, "approve_me")
	f.tick(t)
	if r := f.runs(t, sc.ID)[0]; r.Status != schedule.StatusPaused || len(r.Requirements) != 1 {
		t.Fatalf("paused: %+v", r)
	}
	f.clock.Add(24 * time.Hour)
	f.tick(t)
	if r, _ := f.svc.Run(t.Context(), "", sc.ID, p.ID); r.Status != schedule.StatusPaused {
		t.Fatalf("a paused run timed out: %+v", r)
	}
	f.run.set(p.RunID, core.RunRunning, "")
	f.tick(t)
	if r, _ := f.svc.Run(t.Context(), "", sc.ID, p.ID); r.Status != schedule.StatusRunning || len(r.Requirements) != 0 {
		t.Fatalf("continued: %+v", r)
	}
	f.run.set(p.RunID, core.RunCompleted, "done")
	f.tick(t)
	if r, _ := f.svc.Run(t.Context(), "", sc.ID, p.ID); r.Status != schedule.StatusSuccess || r.Output["content"] != "done" {
		t.Fatalf("completed: %+v", r)
	}
}

// TestTrigger runs a schedule now and waits for the run: the schedule's
// next due time does not move.
func TestTrigger(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	sc := f.create(t, input("trig", "0 9 * * *", "UTC"))
	go func() {
		for {
			if run, err := f.run.Get(t.Context(), "run-1"); err == nil && run.Status == core.RunRunning {
				f.run.set("run-1", core.RunCompleted, "triggered")
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	r, err := f.svc.Trigger(t.Context(), "", sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != schedule.StatusSuccess || r.Output["content"] != "triggered" || r.RunID != "run-1" || r.Attempt != 1 {
		t.Fatalf("Trigger = %+v", r)
	}
	if got, _ := f.svc.Get(t.Context(), "", sc.ID); got.NextRunAt != sc.NextRunAt {
		t.Errorf("next_run_at moved: %d, was %d", got.NextRunAt, sc.NextRunAt)
	}
	// A trigger of a run that outlives timeout_seconds times out.
	in := input("trig-slow", "0 9 * * *", "UTC")
	in.TimeoutSeconds = ptr(1)
	slow := f.create(t, in)
	r, err = f.svc.Trigger(t.Context(), "", slow.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != schedule.StatusTimeout || len(f.run.cancels) != 1 {
		t.Fatalf("slow Trigger = %+v, cancels %v", r, f.run.cancels)
	}
}
