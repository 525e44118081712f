package storetest

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
)

// testSchedules covers schedule.Store: CRUD, the unique name, the claim of
// a due fire (a compare-and-set on next_run_at: of concurrent claimers one
// wins), the uniqueness of a fire's schedule runs, the compare-and-set of
// their status, retries and the lists. Schedules of a shared database are
// told apart by their user id (lists) or their ids (due, active).
func testSchedules(t *testing.T, newBackend Factory) {
	parallel(t, "CRUDRoundTrip", func(t *testing.T) {
		s := newBackend(t).Schedules
		want := fullSchedule(newID("user"))
		mustCreateSchedule(t, s, want)
		assertSchedule(t, want, mustGetSchedule(t, s, want.ID))

		upd := *want
		upd.Name, upd.Description, upd.CronExpr, upd.Timezone = newID("renamed"), "", "@every 5s", "Europe/Berlin"
		upd.Payload, upd.Enabled, upd.NextRunAt, upd.UpdatedAt = nil, false, 0, baseTime()+9
		upd.Target = schedule.Target{Kind: core.KindWorkflow, ID: "wf-1"}
		upd.CatchUp, upd.TimeoutSeconds, upd.MaxRetries, upd.RetryDelaySeconds = schedule.CatchUpNone, 7, 3, 2
		upd.UserID, upd.CreatedAt = "someone-else", 1 // not written by an update
		if err := s.UpdateSchedule(t.Context(), &upd); err != nil {
			t.Fatalf("UpdateSchedule: %v", err)
		}
		exp := upd
		exp.UserID, exp.CreatedAt = want.UserID, want.CreatedAt
		assertSchedule(t, &exp, mustGetSchedule(t, s, want.ID))

		r := newScheduleRun(want.ID, baseTime(), 1)
		if err := s.CreateScheduleRun(t.Context(), r); err != nil {
			t.Fatalf("CreateScheduleRun: %v", err)
		}
		if err := s.DeleteSchedule(t.Context(), want.ID); err != nil {
			t.Fatalf("DeleteSchedule: %v", err)
		}
		if _, err := s.GetSchedule(t.Context(), want.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetSchedule after delete: %v, want ErrNotFound", err)
		}
		if _, err := s.GetScheduleRun(t.Context(), r.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetScheduleRun after its schedule's delete: %v, want ErrNotFound", err)
		}
	})

	parallel(t, "Missing", func(t *testing.T) {
		s := newBackend(t).Schedules
		sc := fullSchedule("")
		if _, err := s.GetSchedule(t.Context(), sc.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetSchedule: %v, want ErrNotFound", err)
		}
		if err := s.UpdateSchedule(t.Context(), sc); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("UpdateSchedule: %v, want ErrNotFound", err)
		}
		if err := s.DeleteSchedule(t.Context(), sc.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("DeleteSchedule: %v, want ErrNotFound", err)
		}
		if _, err := s.GetScheduleRun(t.Context(), newID("sr")); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetScheduleRun: %v, want ErrNotFound", err)
		}
		if won, err := s.ClaimFire(t.Context(), sc.ID, 1, 2, nil); err != nil || won {
			t.Errorf("ClaimFire of a missing schedule = %v, %v; want false", won, err)
		}
	})

	parallel(t, "UniqueName", func(t *testing.T) {
		s := newBackend(t).Schedules
		a := fullSchedule("")
		mustCreateSchedule(t, s, a)
		dup := fullSchedule("")
		dup.Name = a.Name
		if err := s.CreateSchedule(t.Context(), dup); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("CreateSchedule with a taken name: %v, want ErrConflict", err)
		}
		b := fullSchedule("")
		mustCreateSchedule(t, s, b)
		b.Name = a.Name
		if err := s.UpdateSchedule(t.Context(), b); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("UpdateSchedule to a taken name: %v, want ErrConflict", err)
		}
	})

	parallel(t, "ClaimFireOnce", func(t *testing.T) {
		// Concurrent claimers of one due time: exactly one wins, and the
		// fire has one schedule run.
		s := newBackend(t).Schedules
		sc := fullSchedule("")
		sc.NextRunAt = baseTime()
		mustCreateSchedule(t, s, sc)
		const n = 8
		var wins atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				won, err := s.ClaimFire(t.Context(), sc.ID, sc.NextRunAt, sc.NextRunAt+60, newScheduleRun(sc.ID, sc.NextRunAt, 1))
				if err != nil {
					errs <- err
				}
				if won {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("ClaimFire: %v", err)
		}
		if wins.Load() != 1 {
			t.Fatalf("%d claimers won, want 1", wins.Load())
		}
		if got := mustGetSchedule(t, s, sc.ID).NextRunAt; got != sc.NextRunAt+60 {
			t.Errorf("next_run_at = %d, want %d", got, sc.NextRunAt+60)
		}
		runs, total, err := s.ListScheduleRuns(t.Context(), sc.ID, 0, 0)
		if err != nil || total != 1 || len(runs) != 1 {
			t.Fatalf("ListScheduleRuns = %d runs (total %d), %v; want 1", len(runs), total, err)
		}
		// The claim of a due time it no longer has loses.
		if won, err := s.ClaimFire(t.Context(), sc.ID, sc.NextRunAt, sc.NextRunAt+120, nil); err != nil || won {
			t.Errorf("ClaimFire of a stale due time = %v, %v; want false", won, err)
		}
	})

	parallel(t, "ClaimFireDisabledOrRecorded", func(t *testing.T) {
		s := newBackend(t).Schedules
		off := fullSchedule("")
		off.Enabled, off.NextRunAt = false, baseTime()
		mustCreateSchedule(t, s, off)
		if won, err := s.ClaimFire(t.Context(), off.ID, off.NextRunAt, off.NextRunAt+60, nil); err != nil || won {
			t.Errorf("ClaimFire of a disabled schedule = %v, %v; want false", won, err)
		}
		// A fire whose schedule run exists already (a double tick) loses,
		// and next_run_at stays (the claim rolled back).
		sc := fullSchedule("")
		sc.NextRunAt = baseTime()
		mustCreateSchedule(t, s, sc)
		if err := s.CreateScheduleRun(t.Context(), newScheduleRun(sc.ID, sc.NextRunAt, 1)); err != nil {
			t.Fatal(err)
		}
		if won, err := s.ClaimFire(t.Context(), sc.ID, sc.NextRunAt, sc.NextRunAt+60, newScheduleRun(sc.ID, sc.NextRunAt, 1)); err != nil || won {
			t.Errorf("ClaimFire of a recorded fire = %v, %v; want false", won, err)
		}
		if got := mustGetSchedule(t, s, sc.ID).NextRunAt; got != sc.NextRunAt {
			t.Errorf("next_run_at = %d after a lost claim, want %d", got, sc.NextRunAt)
		}
	})

	parallel(t, "ScheduleRunUnique", func(t *testing.T) {
		s := newBackend(t).Schedules
		sc := fullSchedule("")
		mustCreateSchedule(t, s, sc)
		first := newScheduleRun(sc.ID, baseTime(), 1)
		if err := s.CreateScheduleRun(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateScheduleRun(t.Context(), newScheduleRun(sc.ID, baseTime(), 1)); !errors.Is(err, core.ErrConflict) {
			t.Errorf("a second run of one due time and attempt: %v, want ErrConflict", err)
		}
		for _, r := range []*schedule.ScheduleRun{newScheduleRun(sc.ID, baseTime(), 2), newScheduleRun(sc.ID, baseTime()+1, 1)} {
			if err := s.CreateScheduleRun(t.Context(), r); err != nil {
				t.Errorf("another attempt or due time: %v", err)
			}
		}
		// Runs triggered by hand are not bound to due times.
		for range 2 {
			m := newScheduleRun(sc.ID, baseTime(), 1)
			m.Manual = true
			if err := s.CreateScheduleRun(t.Context(), m); err != nil {
				t.Errorf("a manual run: %v", err)
			}
		}
		got, err := s.GetScheduleRun(t.Context(), first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("GetScheduleRun = %+v, want %+v", got, first)
		}
	})

	parallel(t, "UpdateScheduleRunCAS", func(t *testing.T) {
		s := newBackend(t).Schedules
		sc := fullSchedule("")
		mustCreateSchedule(t, s, sc)
		r := newScheduleRun(sc.ID, baseTime(), 1)
		if err := s.CreateScheduleRun(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		upd := *r
		upd.Status, upd.CompletedAt, upd.RunID, upd.SessionID = schedule.StatusPaused, 0, "run-1", "sess-1"
		upd.Requirements = []map[string]any{{"id": "req-1", "tool_execution": map[string]any{"tool_name": "x"}}}
		if ok, err := s.UpdateScheduleRun(t.Context(), &upd, schedule.StatusRunning); err != nil || !ok {
			t.Fatalf("UpdateScheduleRun from running = %v, %v", ok, err)
		}
		done := upd
		done.Status, done.CompletedAt, done.Error, done.RetryAt = schedule.StatusFailed, baseTime()+5, "boom", baseTime()+60
		done.Output, done.Requirements, done.TimeoutAt = map[string]any{"content": "partial"}, nil, 0
		if ok, err := s.UpdateScheduleRun(t.Context(), &done, schedule.StatusRunning); err != nil || ok {
			t.Fatalf("UpdateScheduleRun from a status it no longer has = %v, %v; want false", ok, err)
		}
		if ok, err := s.UpdateScheduleRun(t.Context(), &done, schedule.StatusPaused); err != nil || !ok {
			t.Fatalf("UpdateScheduleRun from paused = %v, %v", ok, err)
		}
		got, err := s.GetScheduleRun(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &done) {
			t.Errorf("stored %+v, want %+v", got, &done)
		}
	})

	parallel(t, "RetriesAndActive", func(t *testing.T) {
		s := newBackend(t).Schedules
		sc := fullSchedule("")
		mustCreateSchedule(t, s, sc)
		failed := newScheduleRun(sc.ID, baseTime(), 1)
		failed.Status, failed.RetryAt = schedule.StatusFailed, baseTime()+60
		paused := newScheduleRun(sc.ID, baseTime()+1, 1)
		paused.Status = schedule.StatusPaused
		running := newScheduleRun(sc.ID, baseTime()+2, 1)
		done := newScheduleRun(sc.ID, baseTime()+3, 1)
		done.Status = schedule.StatusSuccess
		for _, r := range []*schedule.ScheduleRun{failed, paused, running, done} {
			if err := s.CreateScheduleRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(rs []*schedule.ScheduleRun) []string {
			var out []string
			for _, r := range rs {
				if r.ScheduleID == sc.ID {
					out = append(out, r.ID)
				}
			}
			return out
		}
		act, err := s.ActiveScheduleRuns(t.Context(), 100000)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(act); !slices.Equal(got, []string{paused.ID, running.ID}) {
			t.Errorf("ActiveScheduleRuns = %v, want [paused running]", got)
		}
		if rs, err := s.RetryableScheduleRuns(t.Context(), baseTime()+59, 100000); err != nil || len(ids(rs)) != 0 {
			t.Errorf("RetryableScheduleRuns before the delay = %v, %v", ids(rs), err)
		}
		rs, err := s.RetryableScheduleRuns(t.Context(), baseTime()+60, 100000)
		if err != nil || !slices.Equal(ids(rs), []string{failed.ID}) {
			t.Fatalf("RetryableScheduleRuns = %v, %v; want the failed one", ids(rs), err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				won, err := s.ClaimRetry(t.Context(), failed.ID, newScheduleRun(sc.ID, baseTime(), 2))
				if err != nil {
					t.Errorf("ClaimRetry: %v", err)
				}
				if won {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d retries claimed, want 1", wins.Load())
		}
		if rs, _ := s.RetryableScheduleRuns(t.Context(), baseTime()+60, 100000); len(ids(rs)) != 0 {
			t.Errorf("a claimed retry is still retryable")
		}
		if _, total, _ := s.ListScheduleRuns(t.Context(), sc.ID, 0, 0); total != 5 {
			t.Errorf("%d runs, want 5 (one retry)", total)
		}
	})

	parallel(t, "Due", func(t *testing.T) {
		s := newBackend(t).Schedules
		now := baseTime() + 1000
		late, onTime, future, off, none := fullSchedule(""), fullSchedule(""), fullSchedule(""), fullSchedule(""), fullSchedule("")
		late.NextRunAt, onTime.NextRunAt, future.NextRunAt, off.NextRunAt, none.NextRunAt = now-500, now, now+1, now-1, 0
		off.Enabled = false
		for _, sc := range []*schedule.Schedule{onTime, late, future, off, none} {
			mustCreateSchedule(t, s, sc)
		}
		due, err := s.DueSchedules(t.Context(), now, 100000)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sc := range due {
			if slices.Contains([]string{late.ID, onTime.ID, future.ID, off.ID, none.ID}, sc.ID) {
				got = append(got, sc.ID)
			}
		}
		if !slices.Equal(got, []string{late.ID, onTime.ID}) {
			t.Errorf("DueSchedules = %v, want [late onTime] (most overdue first)", got)
		}
	})

	parallel(t, "ListAndPage", func(t *testing.T) {
		s := newBackend(t).Schedules
		user := newID("user")
		var made []*schedule.Schedule
		for i := range 5 {
			sc := fullSchedule(user)
			sc.Enabled = i%2 == 0
			mustCreateSchedule(t, s, sc)
			made = append(made, sc)
		}
		mustCreateSchedule(t, s, fullSchedule(newID("other")))
		all, total, err := s.ListSchedules(t.Context(), schedule.ListParams{UserID: user})
		if err != nil || total != 5 || len(all) != 5 {
			t.Fatalf("ListSchedules = %d (total %d), %v; want 5", len(all), total, err)
		}
		for i, sc := range all {
			if sc.ID != made[i].ID {
				t.Errorf("ListSchedules[%d] = %s, want %s (oldest first)", i, sc.ID, made[i].ID)
			}
		}
		page, total, err := s.ListSchedules(t.Context(), schedule.ListParams{UserID: user, Limit: 2, Page: 3})
		if err != nil || total != 5 || len(page) != 1 || page[0].ID != made[4].ID {
			t.Errorf("page 3 of 2 = %v (total %d), %v; want the fifth", page, total, err)
		}
		past, total, err := s.ListSchedules(t.Context(), schedule.ListParams{UserID: user, Limit: 2, Page: 9})
		if err != nil || total != 5 || len(past) != 0 {
			t.Errorf("a page past the end = %d (total %d), %v", len(past), total, err)
		}
		on, total, err := s.ListSchedules(t.Context(), schedule.ListParams{UserID: user, Enabled: ptr(true)})
		if err != nil || total != 3 || len(on) != 3 {
			t.Errorf("enabled ones = %d (total %d), %v; want 3", len(on), total, err)
		}
		byID, total, err := s.ListSchedules(t.Context(), schedule.ListParams{IDs: []string{made[1].ID, made[3].ID}})
		if err != nil || total != 2 || len(byID) != 2 || byID[0].ID != made[1].ID || byID[1].ID != made[3].ID {
			t.Errorf("by ids = %v (total %d), %v; want the second and fourth", byID, total, err)
		}
		if none, total, err := s.ListSchedules(t.Context(), schedule.ListParams{IDs: []string{}}); err != nil || total != 0 || len(none) != 0 {
			t.Errorf("by no ids = %d (total %d), %v; want none", len(none), total, err)
		}
		sc := made[0]
		var runs []*schedule.ScheduleRun
		for i := range 3 {
			r := newScheduleRun(sc.ID, baseTime()+int64(i), 1)
			if err := s.CreateScheduleRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, r)
		}
		got, total, err := s.ListScheduleRuns(t.Context(), sc.ID, 2, 1)
		if err != nil || total != 3 || len(got) != 2 || got[0].ID != runs[2].ID || got[1].ID != runs[1].ID {
			t.Errorf("ListScheduleRuns page 1 of 2 = %v (total %d), %v; want the newest two", got, total, err)
		}
	})
}

func fullSchedule(user string) *schedule.Schedule {
	return &schedule.Schedule{
		ID: newID("sched"), Name: newID("Nightly report"), Description: `Sends the "report" — ünïcode 👋`,
		Method: "POST", Endpoint: "/agents/reporter/runs",
		Payload:  map[string]any{"message": "report", "n": float64(2), "nested": map[string]any{"a": []any{true, nil}}},
		CronExpr: "30 2 * * *", Timezone: "America/New_York", TimeoutSeconds: 120, MaxRetries: 2, RetryDelaySeconds: 30,
		Enabled: true, NextRunAt: baseTime() + 3600, CreatedAt: baseTime(), UpdatedAt: baseTime() + 1,
		Target: schedule.Target{Kind: core.KindAgent, ID: "reporter"}, UserID: user, CatchUp: schedule.CatchUpOnce,
	}
}

func newScheduleRun(scheduleID string, due int64, attempt int) *schedule.ScheduleRun {
	return &schedule.ScheduleRun{ID: newID("sr"), ScheduleID: scheduleID, Attempt: attempt, DueAt: due,
		TriggeredAt: due + 1, Status: schedule.StatusRunning, Input: map[string]any{"message": "hi"},
		CreatedAt: due + 1, TimeoutAt: due + 3600}
}

func mustCreateSchedule(t *testing.T, s schedule.Store, sc *schedule.Schedule) {
	t.Helper()
	if err := s.CreateSchedule(t.Context(), sc); err != nil {
		t.Fatalf("CreateSchedule: %v", err)
	}
}

func mustGetSchedule(t *testing.T, s schedule.Store, id string) *schedule.Schedule {
	t.Helper()
	sc, err := s.GetSchedule(t.Context(), id)
	if err != nil {
		t.Fatalf("GetSchedule(%s): %v", id, err)
	}
	return sc
}

func assertSchedule(t *testing.T, want, got *schedule.Schedule) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("schedule:\n got %+v\nwant %+v", got, want)
	}
}
