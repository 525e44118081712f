package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Bounds of one tick; what is left over is the next tick's.
const (
	tickSchedules = 100  // due schedules read
	tickFires     = 1000 // fires, over every schedule
	tickActive    = 500  // running and paused schedule runs looked at
	tickRetries   = 100  // retries claimed
	// restartAfter is how long a schedule run may wait for its run to be
	// started (the replica that claimed it died in between) before a
	// tick starts it again.
	restartAfter = 30
)

// Tick does what is due: it fires the due schedules, retries the failed
// attempts whose delay is over and moves the schedule runs on with their
// runs (ended, paused, continued, timed out). The gateway runs it as a
// periodic job on one replica at a time; every step is claimed in the
// store, so running it twice at once does nothing twice.
func (s *Service) Tick(ctx context.Context) error {
	now := s.now()
	return errors.Join(s.fireDue(ctx, now), s.retry(ctx, now), s.reconcile(ctx, now))
}

// fireDue claims and starts each due fire of each due schedule: each due
// time missed by at most the grace fires as itself, in order; older ones
// follow catch_up.
func (s *Service) fireDue(ctx context.Context, now time.Time) error {
	nowU := now.Unix()
	due, err := s.store.DueSchedules(ctx, nowU, tickSchedules)
	if err != nil {
		return fmt.Errorf("schedules: due: %w", err)
	}
	var errs []error
	fires := 0
	for _, sc := range due {
		sp, err := parseSpec(sc.CronExpr, sc.Timezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", sc.ID, err))
			continue
		}
		for fires < tickFires && sc.NextRunAt > 0 && sc.NextRunAt <= nowU {
			at := sc.NextRunAt
			next, fire := sp.nextUnix(at), true
			if nowU-at > int64(s.grace/time.Second) {
				// Missed while no replica ran.
				next, fire = sp.nextUnix(nowU), sc.CatchUp != CatchUpNone
			}
			var sr *ScheduleRun
			if fire {
				sr = s.newRun(sc, at, 1, false, now)
			}
			won, err := s.store.ClaimFire(ctx, sc.ID, at, next, sr)
			if err != nil {
				errs = append(errs, fmt.Errorf("schedule %s: claim: %w", sc.ID, err))
				break
			}
			if !won {
				break // another tick moved it: the next one reads it again
			}
			sc.NextRunAt = next
			if sr != nil {
				fires++
				s.startRun(ctx, sc, sr)
			}
		}
	}
	return errors.Join(errs...)
}

// retry claims and starts the next attempt of each failed schedule run
// whose retry delay is over (none when its schedule is gone or disabled).
func (s *Service) retry(ctx context.Context, now time.Time) error {
	failed, err := s.store.RetryableScheduleRuns(ctx, now.Unix(), tickRetries)
	if err != nil {
		return fmt.Errorf("schedules: retries: %w", err)
	}
	var errs []error
	for _, f := range failed {
		sc, err := s.store.GetSchedule(ctx, f.ScheduleID)
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		var next *ScheduleRun
		if sc != nil && sc.Enabled {
			next = s.newRun(sc, f.DueAt, f.Attempt+1, f.Manual, now)
		}
		won, err := s.store.ClaimRetry(ctx, f.ID, next)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule run %s: claim retry: %w", f.ID, err))
			continue
		}
		if won && next != nil {
			s.startRun(ctx, sc, next)
		}
	}
	return errors.Join(errs...)
}

// reconcile moves each running or paused schedule run on with its run.
func (s *Service) reconcile(ctx context.Context, now time.Time) error {
	active, err := s.store.ActiveScheduleRuns(ctx, tickActive)
	if err != nil {
		return fmt.Errorf("schedules: active runs: %w", err)
	}
	var errs []error
	schedules := map[string]*Schedule{}
	for _, sr := range active {
		sc, ok := schedules[sr.ScheduleID]
		if !ok {
			sc, err = s.store.GetSchedule(ctx, sr.ScheduleID)
			if errors.Is(err, core.ErrNotFound) {
				continue // deleted with its history
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			schedules[sr.ScheduleID] = sc
		}
		if sr.RunID == "" {
			if now.Unix()-sr.CreatedAt >= restartAfter {
				s.startRun(ctx, sc, sr)
			}
			continue
		}
		run, err := s.runner.Get(ctx, sr.RunID)
		if errors.Is(err, core.ErrNotFound) {
			upd := *sr
			s.fail(&upd, sc, "the run no longer exists")
			if _, err := s.store.UpdateScheduleRun(ctx, &upd, sr.Status); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.settle(ctx, sc, sr, run)
	}
	return errors.Join(errs...)
}
