package eval

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// memStore is an in-memory Store for the service's tests (the SQL store
// has its own conformance suite in storage/storetest).
type memStore struct {
	mu   sync.Mutex
	runs map[string]EvalRun
}

func (m *memStore) CreateEvalRun(_ context.Context, e *EvalRun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[e.ID]; ok {
		return core.ErrConflict
	}
	m.runs[e.ID] = *e
	return nil
}

func (m *memStore) GetEvalRun(_ context.Context, id string) (*EvalRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.runs[id]
	if !ok {
		return nil, core.ErrNotFound
	}
	return &e, nil
}

func (m *memStore) RenameEvalRun(_ context.Context, id, name string, at int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.runs[id]
	if !ok {
		return core.ErrNotFound
	}
	e.Name, e.UpdatedAt = name, at
	m.runs[id] = e
	return nil
}

func (m *memStore) SaveEvalResult(_ context.Context, e *EvalRun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.runs[e.ID]
	if !ok {
		return core.ErrNotFound
	}
	name := cur.Name
	cur = *e
	cur.Name = name
	m.runs[e.ID] = cur
	return nil
}

func (m *memStore) DeleteEvalRuns(_ context.Context, ids []string, user string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, id := range ids {
		if e, ok := m.runs[id]; ok && (user == "" || e.UserID == user) {
			delete(m.runs, id)
			n++
		}
	}
	return n, nil
}

func (m *memStore) ListEvalRuns(_ context.Context, f Filter) ([]EvalRun, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []EvalRun
	for _, e := range m.runs {
		if f.UserID == "" || e.UserID == f.UserID {
			out = append(out, e)
		}
	}
	return out, len(out), nil
}

// fakeRunner runs "a" (agent) and "t" (team): each run ends once release
// is closed (nil: at once), with status (default COMPLETED).
type fakeRunner struct {
	mu      sync.Mutex
	started []core.StartParams
	release chan struct{}
	status  core.RunStatus
}

type runnableStub struct{ info core.AgentInfo }

func (f runnableStub) Info() core.AgentInfo { return f.info }

func (f runnableStub) Execute(context.Context, *core.Execution) (*core.Outcome, error) {
	return nil, errors.New("not executed in these tests")
}

func (f *fakeRunner) Runnable(k core.Kind, id string) (core.Runnable, error) {
	if (k == core.KindAgent && id == "a") || (k == core.KindTeam && id == "t") {
		return runnableStub{core.AgentInfo{ID: id, Name: strings.ToUpper(id)}}, nil
	}
	return nil, core.ErrNotFound
}

func (f *fakeRunner) Start(_ context.Context, p core.StartParams) (*core.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, p)
	return &core.Run{RunID: "run-" + string(rune('0'+len(f.started)))}, nil
}

func (f *fakeRunner) Wait(ctx context.Context, id string, _ int64) (*core.Run, error) {
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	st := f.status
	if st == "" {
		st = core.RunCompleted
	}
	return &core.Run{RunID: id, Status: st, Content: "done", Error: "boom", Tools: []core.ToolExecution{{ToolName: "x"}}}, nil
}

func newTestService(r *fakeRunner) (*Service, *memStore) {
	st := &memStore{runs: map[string]EvalRun{}}
	n := 0
	return New(Config{Store: st, Runner: r, NewID: func() string { n++; return "ev" + string(rune('0'+n)) }}), st
}

func TestServiceRunsThroughTheRunnerTagged(t *testing.T) {
	r := &fakeRunner{}
	s, _ := newTestService(r)
	e, err := s.Start(t.Context(), Scope{UserID: "u"}, Input{AgentID: "a", EvalType: TypeReliability, Input: "go",
		ExpectedToolCalls: []string{"x"}, NumIterations: ptr(3)}, false)
	if err != nil || e.Status != StatusCompleted || e.Passed == nil || !*e.Passed || len(e.RunIDs) != 3 {
		t.Fatalf("Start = %+v, %v", e, err)
	}
	for _, p := range r.started {
		if p.EvalRunID != e.ID || p.UserID != "u" || p.AgentID != "a" || p.Message != "go" || p.Interface != "eval" {
			t.Errorf("run started with %+v", p)
		}
	}
	if e.EvaluatedComponentName != "A" || e.UserID != "u" {
		t.Errorf("eval run = %+v", e)
	}
}

func TestServiceFailedRun(t *testing.T) {
	for st, want := range map[core.RunStatus]string{core.RunError: "ended ERROR: boom", core.RunCancelled: "was cancelled", core.RunPaused: "paused"} {
		s, _ := newTestService(&fakeRunner{status: st})
		e, err := s.Start(t.Context(), Scope{}, Input{TeamID: "t", EvalType: TypePerformance, Input: "go"}, false)
		if err != nil || e.Status != StatusFailed || e.Passed != nil || !strings.Contains(e.Error, want) {
			t.Errorf("%s: eval run %+v, %v; want failed with %q", st, e, err, want)
		}
	}
}

// Background: the eval run is stored running and ends on its own; Close
// ends one still running as failed, and refuses new ones.
func TestServiceBackgroundAndClose(t *testing.T) {
	r := &fakeRunner{release: make(chan struct{})}
	s, st := newTestService(r)
	e, err := s.Start(t.Context(), Scope{}, Input{AgentID: "a", EvalType: TypePerformance, Input: "go"}, true)
	if err != nil || e.Status != StatusRunning {
		t.Fatalf("background Start = %+v, %v", e, err)
	}
	if got, _ := st.GetEvalRun(t.Context(), e.ID); got.Status != StatusRunning {
		t.Fatalf("stored = %+v", got)
	}
	// A foreground start whose request ends answers the running eval run.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	fg, err := s.Start(ctx, Scope{}, Input{AgentID: "a", EvalType: TypePerformance, Input: "go"}, false)
	if err != nil || fg.Status != StatusRunning {
		t.Fatalf("foreground Start past its deadline = %+v, %v", fg, err)
	}
	cctx, ccancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer ccancel()
	if err := s.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, id := range []string{e.ID, fg.ID} {
		got, _ := st.GetEvalRun(t.Context(), id)
		if got.Status != StatusFailed || !strings.Contains(got.Error, "context canceled") {
			t.Errorf("after Close: %+v, want failed", got)
		}
	}
	if _, err := s.Start(t.Context(), Scope{}, Input{AgentID: "a", EvalType: TypePerformance, Input: "go"}, true); core.CodeOf(err) != core.CodeUnavailable {
		t.Errorf("Start after Close = %v, want unavailable", err)
	}
}

func TestServiceIsolation(t *testing.T) {
	s, _ := newTestService(&fakeRunner{})
	alice, bob := Scope{Bound: true, UserID: "alice"}, Scope{Bound: true, UserID: "bob"}
	e, err := s.Start(t.Context(), alice, Input{AgentID: "a", EvalType: TypePerformance, Input: "go"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), bob, e.ID); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("bob Get = %v, want not found", err)
	}
	if _, err := s.Rename(t.Context(), bob, e.ID, "x"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("bob Rename = %v, want not found", err)
	}
	if n, _ := s.Delete(t.Context(), bob, []string{e.ID}); n != 0 {
		t.Errorf("bob deleted %d", n)
	}
	if list, _, _ := s.List(t.Context(), bob, Filter{}); len(list) != 0 {
		t.Errorf("bob lists %v", list)
	}
	if list, _, _ := s.List(t.Context(), Scope{}, Filter{}); len(list) != 1 {
		t.Errorf("unbound lists %v", list)
	}
	if _, err := s.Get(t.Context(), Scope{Bound: true}, e.ID); core.CodeOf(err) != core.CodeForbidden {
		t.Errorf("bound without a user = %v, want forbidden", err)
	}
	if got, err := s.Rename(t.Context(), alice, e.ID, "mine"); err != nil || got.Name != "mine" {
		t.Errorf("alice Rename = %+v, %v", got, err)
	}
}

func TestServiceValidation(t *testing.T) {
	s, _ := newTestService(&fakeRunner{})
	ok := Input{AgentID: "a", EvalType: TypePerformance, Input: "go"}
	for name, c := range map[string]func(in *Input){
		"both":      func(in *Input) { in.TeamID = "t" },
		"neither":   func(in *Input) { in.AgentID = "" },
		"unknown":   func(in *Input) { in.AgentID = "zz" },
		"type":      func(in *Input) { in.EvalType = "x" },
		"input":     func(in *Input) { in.Input = "  " },
		"iter 0":    func(in *Input) { in.NumIterations = ptr(0) },
		"warmup":    func(in *Input) { in.WarmupRuns = ptr(-1) },
		"threshold": func(in *Input) { in.Threshold = ptr(0) },
		"strategy":  func(in *Input) { in.ScoringStrategy = "x" },
		"name":      func(in *Input) { in.Name = strings.Repeat("n", MaxName+1) },
		"model":     func(in *Input) { in.ModelID = "m" },
		"provider":  func(in *Input) { in.ModelProvider = "openai" },
		"judge":     func(in *Input) { in.EvalType, in.ExpectedOutput = TypeAccuracy, "y" },
		"tools":     func(in *Input) { in.EvalType = TypeReliability },
		"empty tool": func(in *Input) {
			in.EvalType, in.ExpectedToolCalls = TypeReliability, []string{""}
		},
	} {
		in := ok
		c(&in)
		if _, err := s.Start(t.Context(), Scope{}, in, false); core.CodeOf(err) != core.CodeUnprocessable {
			t.Errorf("%s: %v, want unprocessable", name, err)
		}
	}
	for name, f := range map[string]Filter{"kind": {Kind: "x"}, "types": {EvalTypes: []string{"x"}}, "sort": {SortBy: "x"},
		"order": {SortOrder: "x"}, "limit": {Limit: MaxLimit + 1}} {
		if _, _, err := s.List(t.Context(), Scope{}, f); core.CodeOf(err) != core.CodeUnprocessable {
			t.Errorf("List %s: %v", name, err)
		}
	}
	if _, err := s.Delete(t.Context(), Scope{}, nil); core.CodeOf(err) != core.CodeUnprocessable {
		t.Errorf("Delete(none) = %v", err)
	}
	if _, err := s.Rename(t.Context(), Scope{}, "nope", "x"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("Rename(missing) = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// Queued: a background eval run with Enqueue is only stored and queued;
// Work executes it (with the caller's scope and trace context), an
// interrupted attempt leaves it running (another attempt redoes it from
// the start), a finished one is left alone, a bad payload is ErrBadJob,
// and a failed insert fails the eval run with 503.
func TestServiceQueuedWork(t *testing.T) {
	r := &fakeRunner{release: make(chan struct{})}
	st := &memStore{runs: map[string]EvalRun{}}
	var jobs []Job
	s := New(Config{Store: st, Runner: r, Enqueue: func(_ context.Context, j Job) error { jobs = append(jobs, j); return nil }})
	carrier := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	e, err := s.Start(t.Context(), Scope{Bound: true, UserID: "u"}, Input{AgentID: "a", EvalType: TypeReliability, Input: "go",
		ExpectedToolCalls: []string{"x"}, NumIterations: ptr(2), TraceCarrier: carrier}, true)
	if err != nil || e.Status != StatusRunning || len(jobs) != 1 || len(r.started) != 0 {
		t.Fatalf("queued Start = %+v, %v; jobs %+v, runs started %d", e, err, jobs, len(r.started))
	}
	raw, _ := json.Marshal(jobs[0])
	// Interrupted (its replica shuts down) before the last attempt.
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for {
			r.mu.Lock()
			n := len(r.started)
			r.mu.Unlock()
			if n > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if err := s.Work(ctx, raw, false); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted Work = %v, want ErrInterrupted", err)
	}
	if got, _ := st.GetEvalRun(t.Context(), e.ID); got.Status != StatusRunning {
		t.Fatalf("after an interrupted attempt: %+v, want running", got)
	}
	close(r.release)
	if err := s.Work(t.Context(), raw, false); err != nil {
		t.Fatalf("Work = %v", err)
	}
	got, _ := st.GetEvalRun(t.Context(), e.ID)
	if got.Status != StatusCompleted || got.Passed == nil || !*got.Passed || len(got.RunIDs) != 2 {
		t.Fatalf("after Work: %+v, want completed with the 2 new runs", got)
	}
	for _, p := range r.started {
		if p.UserID != "u" || p.EvalRunID != e.ID || p.TraceCarrier["traceparent"] != carrier["traceparent"] {
			t.Errorf("run started with %+v", p)
		}
	}
	n := len(r.started)
	if err := s.Work(t.Context(), raw, false); err != nil || len(r.started) != n {
		t.Errorf("Work on a completed eval run = %v, %d new runs; want nil, none", err, len(r.started)-n)
	}
	if err := s.Work(t.Context(), json.RawMessage(`{"nope":1}`), false); !errors.Is(err, ErrBadJob) {
		t.Errorf("Work(bad payload) = %v, want ErrBadJob", err)
	}
	bad := New(Config{Store: st, Runner: r, Enqueue: func(context.Context, Job) error { return errors.New("queue down") }})
	if _, err := bad.Start(t.Context(), Scope{}, Input{AgentID: "a", EvalType: TypePerformance, Input: "go"}, true); core.CodeOf(err) != core.CodeUnavailable ||
		!strings.Contains(err.Error(), "queue down") {
		t.Errorf("Start with a failing queue = %v, want unavailable", err)
	}
}
