package schedule_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// clock is a fake clock tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// runner is a fake engine: runs start RUNNING (or as next says), a key
// starts one run once, and tests set each run's status.
type runner struct {
	mu      sync.Mutex
	runs    map[string]*core.Run
	byKey   map[string]string
	starts  []core.StartParams
	cancels []string
	// status is what a new run's status is (default RUNNING).
	status core.RunStatus
	// startErr fails every start.
	startErr error
}

func newRunner() *runner {
	return &runner{runs: map[string]*core.Run{}, byKey: map[string]string{}}
}

func (r *runner) Start(_ context.Context, p core.StartParams) (*core.Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.startErr != nil {
		return nil, r.startErr
	}
	if id, ok := r.byKey[p.IdempotencyKey]; ok && p.IdempotencyKey != "" {
		run := *r.runs[id]
		return &run, nil
	}
	status := r.status
	if status == "" {
		status = core.RunRunning
	}
	run := &core.Run{RunID: fmt.Sprintf("run-%d", len(r.runs)+1), SessionID: "sess-" + p.ScheduleRunID,
		AgentID: p.AgentID, TeamID: p.TeamID, WorkflowID: p.WorkflowID, UserID: p.UserID, Status: status,
		ScheduleID: p.ScheduleID, ScheduleRunID: p.ScheduleRunID, Input: core.RunInput{InputContent: p.Message}}
	r.runs[run.RunID] = run
	r.byKey[p.IdempotencyKey] = run.RunID
	r.starts = append(r.starts, p)
	out := *run
	return &out, nil
}

func (r *runner) Get(_ context.Context, id string) (*core.Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[id]
	if !ok {
		return nil, core.Errorf(core.CodeNotFound, "run %q not found", id)
	}
	out := *run
	return &out, nil
}

func (r *runner) Cancel(_ context.Context, id string) (*core.Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancels = append(r.cancels, id)
	if run, ok := r.runs[id]; ok {
		run.Status = core.RunCancelled
	}
	return nil, nil
}

func (r *runner) Wait(ctx context.Context, id string, _ int64) (*core.Run, error) {
	for {
		run, err := r.Get(ctx, id)
		if err != nil || run.Status != core.RunRunning && run.Status != core.RunPending {
			return run, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (r *runner) Runnable(k core.Kind, id string) (core.Runnable, error) {
	if id == "missing" {
		return nil, core.Errorf(core.CodeNotFound, "%s %q not found", k, id)
	}
	return nil, nil
}

// set sets a run's status (and content or error).
func (r *runner) set(id string, st core.RunStatus, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run := r.runs[id]
	run.Status = st
	switch st {
	case core.RunCompleted:
		run.Content = text
	case core.RunError:
		run.Error = text
	case core.RunPaused:
		run.Requirements = []core.RunRequirement{{ID: "req-1", ToolExecution: &core.ToolExecution{ToolName: text}}}
	}
}

func (r *runner) started() []core.StartParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.StartParams(nil), r.starts...)
}

func (r *runner) lastRun() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("run-%d", len(r.runs))
}

// fixture is a service on a fresh SQLite database, a fake engine and a
// fake clock.
type fixture struct {
	svc   *schedule.Service
	store *sqlite.Store
	run   *runner
	clock *clock
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, run: newRunner(), clock: &clock{t: start}}
	f.svc = f.service()
	return f
}

// service is another service (a replica) on the fixture's store, engine
// and clock.
func (f *fixture) service() *schedule.Service {
	return schedule.New(schedule.Config{Store: f.store, Runner: f.run, Now: f.clock.Now})
}

func (f *fixture) create(t *testing.T, in schedule.Input) *schedule.Schedule {
	t.Helper()
	sc, err := f.svc.Create(t.Context(), "alice", in)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return sc
}

func (f *fixture) tick(t *testing.T) {
	t.Helper()
	if err := f.svc.Tick(t.Context()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

func (f *fixture) runs(t *testing.T, id string) []*schedule.ScheduleRun {
	t.Helper()
	rs, _, err := f.svc.Runs(t.Context(), "", id, 0, 0)
	if err != nil {
		t.Fatalf("Runs: %v", err)
	}
	return rs
}

// input is a valid creation: agent a, message hi.
func input(name, cron, tz string) schedule.Input {
	return schedule.Input{Name: &name, CronExpr: &cron, Timezone: &tz,
		Target: &schedule.Target{Kind: core.KindAgent, ID: "a"}, Payload: &map[string]any{"message": "hi"}}
}

func ptr[T any](v T) *T { return &v }
