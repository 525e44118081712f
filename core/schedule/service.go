package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
)

// Runner is what the service needs of the run engine (core.Engine).
type Runner interface {
	Start(ctx context.Context, p core.StartParams) (*core.Run, error)
	Get(ctx context.Context, runID string) (*core.Run, error)
	Cancel(ctx context.Context, runID string) (*core.Run, error)
	Wait(ctx context.Context, runID string, after int64) (*core.Run, error)
	Runnable(k core.Kind, id string) (core.Runnable, error)
}

var _ Runner = (*core.Engine)(nil)

// DefaultGrace is how late a due time may still fire as itself (see the
// package documentation).
const DefaultGrace = 2 * time.Minute

// Config configures a Service.
type Config struct {
	Store  Store
	Runner Runner
	// Now is the clock (default time.Now): tests move it.
	Now func() time.Time
	// Grace is how late a missed due time still fires (default
	// DefaultGrace); older ones follow the schedule's catch_up.
	Grace time.Duration
	// NewID makes ids (default uuid v4).
	NewID  func() string
	Logger *slog.Logger
}

// Service is the schedules' service: validation, the owner's view, and
// Tick, which fires them.
type Service struct {
	store  Store
	runner Runner
	now    func() time.Time
	grace  time.Duration
	newID  func() string
	logger *slog.Logger
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, runner: cfg.Runner, now: cfg.Now, grace: cfg.Grace, newID: cfg.NewID, logger: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// exists checks that the target is a runnable the engine serves.
func (s *Service) exists(t Target) error {
	if _, err := s.runner.Runnable(t.Kind, t.ID); err != nil {
		return unprocessable("target: no %s %q", t.Kind, t.ID)
	}
	return nil
}

// conflict gives a store's duplicate name a user-facing message.
func conflict(err error, name string) error {
	if errors.Is(err, core.ErrConflict) {
		return core.Errorf(core.CodeConflict, "a schedule named %q already exists", name)
	}
	return err
}

// Create validates in, fills in the defaults and stores a new enabled
// schedule owned by owner ("" for none), due next from now.
func (s *Service) Create(ctx context.Context, owner string, in Input) (*Schedule, error) {
	now := s.now()
	sc := &Schedule{ID: s.newID(), TimeoutSeconds: DefaultTimeoutSeconds, RetryDelaySeconds: DefaultRetryDelaySeconds,
		CatchUp: CatchUpOnce, Timezone: "UTC", Enabled: true, CreatedAt: now.Unix(), UserID: owner}
	if err := in.apply(sc, s.exists); err != nil {
		return nil, err
	}
	sp, err := parseSpec(sc.CronExpr, sc.Timezone)
	if err != nil {
		return nil, err
	}
	sc.NextRunAt = sp.nextUnix(now.Unix())
	if err := s.store.CreateSchedule(ctx, sc); err != nil {
		return nil, conflict(err, sc.Name)
	}
	return sc, nil
}

// Get returns the schedule if scope may see it: scope "" sees every
// schedule, another user id only that user's (another's is not found,
// as an absent one).
func (s *Service) Get(ctx context.Context, scope, id string) (*Schedule, error) {
	sc, err := s.store.GetSchedule(ctx, id)
	if err == nil && scope != "" && sc.UserID != scope {
		err = core.ErrNotFound
	}
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.CodeNotFound, "schedule %q not found", id)
	}
	return sc, err
}

// List returns one page of the schedules scope may see ("" every one),
// enabled or not (nil: both), among ids (nil: every one), and how many
// there are.
func (s *Service) List(ctx context.Context, scope string, enabled *bool, ids []string, limit, page int) ([]*Schedule, int, error) {
	return s.store.ListSchedules(ctx, ListParams{UserID: scope, Enabled: enabled, IDs: ids, Limit: limit, Page: page})
}

// Update changes what in names. A new cron expression or time zone of an
// enabled schedule recomputes next_run_at from now.
func (s *Service) Update(ctx context.Context, scope, id string, in Input) (*Schedule, error) {
	sc, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	old := *sc
	if err := in.apply(sc, s.exists); err != nil {
		return nil, err
	}
	now := s.now()
	if sc.Enabled && (sc.CronExpr != old.CronExpr || sc.Timezone != old.Timezone) {
		sp, err := parseSpec(sc.CronExpr, sc.Timezone)
		if err != nil {
			return nil, err
		}
		sc.NextRunAt = sp.nextUnix(now.Unix())
	}
	sc.UpdatedAt = now.Unix()
	if err := s.store.UpdateSchedule(ctx, sc); err != nil {
		return nil, conflict(err, sc.Name)
	}
	return sc, nil
}

// Delete deletes the schedule and its history (runs it started stay).
func (s *Service) Delete(ctx context.Context, scope, id string) error {
	if _, err := s.Get(ctx, scope, id); err != nil {
		return err
	}
	err := s.store.DeleteSchedule(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return core.Errorf(core.CodeNotFound, "schedule %q not found", id)
	}
	return err
}

// SetEnabled enables the schedule (next_run_at recomputed from now, so
// what was missed while disabled does not fire) or disables it.
func (s *Service) SetEnabled(ctx context.Context, scope, id string, enabled bool) (*Schedule, error) {
	sc, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if enabled {
		sp, err := parseSpec(sc.CronExpr, sc.Timezone)
		if err != nil {
			return nil, err
		}
		sc.NextRunAt = sp.nextUnix(now.Unix())
	}
	sc.Enabled, sc.UpdatedAt = enabled, now.Unix()
	if err := s.store.UpdateSchedule(ctx, sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// Runs returns one page of the schedule's history, newest first.
func (s *Service) Runs(ctx context.Context, scope, id string, limit, page int) ([]*ScheduleRun, int, error) {
	if _, err := s.Get(ctx, scope, id); err != nil {
		return nil, 0, err
	}
	return s.store.ListScheduleRuns(ctx, id, limit, page)
}

// Run returns one run of the schedule's history.
func (s *Service) Run(ctx context.Context, scope, id, runID string) (*ScheduleRun, error) {
	if _, err := s.Get(ctx, scope, id); err != nil {
		return nil, err
	}
	r, err := s.store.GetScheduleRun(ctx, runID)
	if err == nil && r.ScheduleID != id {
		err = core.ErrNotFound
	}
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.CodeNotFound, "schedule run %q not found", runID)
	}
	return r, err
}

// Trigger fires the schedule now, outside its due times (next_run_at does
// not move), and waits for the run to end, pause or time out
// (timeout_seconds, or until ctx ends: the run goes on, and its schedule
// run is returned as it is then). A disabled schedule is a conflict.
func (s *Service) Trigger(ctx context.Context, scope, id string) (*ScheduleRun, error) {
	sc, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if !sc.Enabled {
		return nil, core.Errorf(core.CodeConflict, "schedule %q is disabled", id)
	}
	now := s.now()
	sr := s.newRun(sc, now.Unix(), 1, true, now)
	if err := s.store.CreateScheduleRun(ctx, sr); err != nil {
		return nil, err
	}
	s.startRun(ctx, sc, sr)
	if sr.Status != StatusRunning || sr.RunID == "" {
		return sr, nil
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(sc.TimeoutSeconds)*time.Second)
	run, werr := s.runner.Wait(wctx, sr.RunID, -1)
	cancel()
	switch {
	case werr == nil:
		s.settle(ctx, sc, sr, run)
	case ctx.Err() == nil && errors.Is(werr, context.DeadlineExceeded):
		s.timeOut(ctx, sr)
	}
	if got, err := s.store.GetScheduleRun(context.WithoutCancel(ctx), sr.ID); err == nil {
		return got, nil
	}
	return sr, nil
}

// newRun is attempt of the fire of sc due at due (Unix seconds).
func (s *Service) newRun(sc *Schedule, due int64, attempt int, manual bool, now time.Time) *ScheduleRun {
	return &ScheduleRun{ID: s.newID(), ScheduleID: sc.ID, Attempt: attempt, TriggeredAt: now.Unix(), Status: StatusRunning,
		Input: maps.Clone(sc.Payload), CreatedAt: now.Unix(), DueAt: due, Manual: manual,
		TimeoutAt: now.Unix() + int64(sc.TimeoutSeconds)}
}

// startRun starts sr's run as the schedule's owner, a background run
// keyed by sr's id (starting it again returns the same run), and records
// its ids, or the failure (retried per the schedule).
func (s *Service) startRun(ctx context.Context, sc *Schedule, sr *ScheduleRun) {
	msg, _ := sc.Payload["message"].(string)
	sid, _ := sc.Payload["session_id"].(string)
	p := core.StartParams{Message: msg, SessionID: sid, UserID: sc.UserID, Background: true, Interface: "schedule",
		ScheduleID: sc.ID, ScheduleRunID: sr.ID,
		IdempotencyKey: "schedule-run:" + sr.ID, IdempotencyScope: "schedules"}.For(sc.Target.Ref())
	run, err := s.runner.Start(ctx, p)
	upd := *sr
	if err != nil {
		if core.CodeOf(err) == core.CodeUnavailable {
			// Left running without a run: a later tick starts it again.
			s.logger.Warn("schedule: could not start the run; trying again", "schedule_id", sc.ID, "schedule_run_id", sr.ID, "err", err)
			return
		}
		s.fail(&upd, sc, fmt.Sprintf("could not start the run: %s", core.MessageOf(err)))
	} else {
		upd.RunID, upd.SessionID = run.RunID, run.SessionID
	}
	if ok, err := s.store.UpdateScheduleRun(context.WithoutCancel(ctx), &upd, sr.Status); err != nil {
		s.logger.Warn("schedule: could not record the run", "schedule_run_id", sr.ID, "err", err)
	} else if ok {
		*sr = upd
	}
}

// fail marks r failed with msg, to be retried if attempts remain.
func (s *Service) fail(r *ScheduleRun, sc *Schedule, msg string) {
	now := s.now().Unix()
	r.Status, r.Error, r.CompletedAt, r.TimeoutAt = StatusFailed, msg, now, 0
	if r.Attempt <= sc.MaxRetries {
		r.RetryAt = now + int64(sc.RetryDelaySeconds)
	}
}

// settle moves sr to what its run's status says (nothing when it says
// nothing new), a compare-and-set on sr's status.
func (s *Service) settle(ctx context.Context, sc *Schedule, sr *ScheduleRun, run *core.Run) {
	upd := *sr
	now := s.now().Unix()
	switch run.Status {
	case core.RunCompleted:
		upd.Status, upd.CompletedAt, upd.TimeoutAt = StatusSuccess, now, 0
		upd.Output, upd.Requirements = map[string]any{"content": run.Content}, nil
	case core.RunError:
		msg := run.Error
		if msg == "" {
			msg = "the run failed"
		}
		s.fail(&upd, sc, msg)
	case core.RunCancelled:
		upd.Status, upd.CompletedAt, upd.TimeoutAt = StatusCancelled, now, 0
	case core.RunPaused:
		if sr.Status == StatusPaused {
			return
		}
		upd.Status, upd.TimeoutAt, upd.Requirements = StatusPaused, 0, requirements(run.Requirements)
	default: // pending or running
		switch {
		case sr.Status == StatusPaused:
			// Continued: it has its timeout again.
			upd.Status, upd.Requirements, upd.TimeoutAt = StatusRunning, nil, now+int64(sc.TimeoutSeconds)
		case sr.TimeoutAt > 0 && now >= sr.TimeoutAt:
			s.timeOut(ctx, sr)
			return
		default:
			return
		}
	}
	if _, err := s.store.UpdateScheduleRun(context.WithoutCancel(ctx), &upd, sr.Status); err != nil {
		s.logger.Warn("schedule: could not record the run's status", "schedule_run_id", sr.ID, "err", err)
	}
}

// timeOut marks sr timed out and cancels its run.
func (s *Service) timeOut(ctx context.Context, sr *ScheduleRun) {
	ctx = context.WithoutCancel(ctx)
	upd := *sr
	upd.Status, upd.CompletedAt, upd.TimeoutAt = StatusTimeout, s.now().Unix(), 0
	upd.Error = "the run took longer than the schedule's timeout_seconds and was cancelled"
	ok, err := s.store.UpdateScheduleRun(ctx, &upd, sr.Status)
	if err != nil || !ok {
		return
	}
	if sr.RunID != "" {
		if _, err := s.runner.Cancel(ctx, sr.RunID); err != nil && core.CodeOf(err) != core.CodeConflict {
			s.logger.Warn("schedule: could not cancel a timed-out run", "run_id", sr.RunID, "err", err)
		}
	}
}

// requirements are a paused run's requirements as AgentOS's list of
// objects.
func requirements(reqs []core.RunRequirement) []map[string]any {
	if len(reqs) == 0 {
		return nil
	}
	out := make([]map[string]any, 0, len(reqs))
	for _, r := range reqs {
		var m map[string]any
		if b, err := json.Marshal(r); err == nil && json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}
