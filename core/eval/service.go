package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// Limits of the API (AgentOS's where it has them).
const (
	MaxIterations = 100
	MaxWarmup     = 10
	MaxName       = 255
	MaxText       = 100_000 // input, expected_output, criteria, guidelines, context
	MaxToolCalls  = 100
	DefaultLimit  = 20
	MaxLimit      = 1000
	// DefaultThreshold is the pass mark of numeric judging and accuracy.
	DefaultThreshold = 7
)

// Runner is what runs the evaluated agent or team: the engine.
type Runner interface {
	Start(ctx context.Context, p core.StartParams) (*core.Run, error)
	Wait(ctx context.Context, runID string, after int64) (*core.Run, error)
	Runnable(k core.Kind, id string) (core.Runnable, error)
}

// Scope is whose eval runs a caller acts on: Bound (user isolation, not an
// admin) binds it to UserID. UserID also owns the eval runs (and engine
// runs) the caller starts.
type Scope struct {
	Bound  bool
	UserID string
}

var errNoUser = core.Errorf(core.CodeForbidden, "user isolation: the caller has no user id")

func (sc Scope) check() error {
	if sc.Bound && sc.UserID == "" {
		return errNoUser
	}
	return nil
}

// Input is AgentOS's EvalRunInput (pointers: absent takes agno's
// default), plus allow_additional_tool_calls and
// expected_tool_call_arguments.
type Input struct {
	AgentID                   string
	TeamID                    string
	ModelID                   string
	ModelProvider             string
	EvalType                  string
	Input                     string
	AdditionalGuidelines      string
	AdditionalContext         string
	NumIterations             *int
	Name                      string
	ExpectedOutput            string
	Criteria                  string
	ScoringStrategy           string
	Threshold                 *int
	WarmupRuns                *int
	ExpectedToolCalls         []string
	AllowAdditionalToolCalls  bool
	ExpectedToolCallArguments map[string]map[string]any
	// TraceCarrier is the caller's W3C trace context (traceparent...): the
	// eval's runs and judge calls join the caller's trace.
	TraceCarrier map[string]string
}

// Config configures a Service.
type Config struct {
	Store  Store
	Runner Runner
	// Model returns the configured model of a name (the judge model_id
	// names), false when there is none; Models lists the names (for the
	// errors).
	Model  func(name string) (model.Model, bool)
	Models func() []string
	// Enqueue queues a background eval run's Job on the durable queue
	// (its insert): some replica works it (Work), and again after a
	// crash. nil: background evals run in a goroutine of this process.
	Enqueue func(ctx context.Context, j Job) error
	// TraceJudge, when set, traces one judge request (a CLIENT span under
	// the caller's trace context carrier, nil: a new trace, ended with the
	// answer's usage or the failure): the gateway's tracer.
	TraceJudge func(ctx context.Context, carrier map[string]string, evalRunID string, judge model.Model) (context.Context, func(*model.Response, error))
	Logger     *slog.Logger
	Now        func() time.Time
	NewID      func() string
}

// Job is a queued background eval run: what Work needs to execute it on
// any replica.
type Job struct {
	EvalRunID string `json:"eval_run_id"`
	Bound     bool   `json:"bound,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	Input     Input  `json:"input"`
}

// ErrBadJob is Work's error for a payload that is not a Job: not worth
// another attempt.
var ErrBadJob = errors.New("eval: bad job payload")

// Service is the evals' service.
type Service struct {
	cfg    Config
	base   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	closed bool
	mu     sync.Mutex
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Model == nil {
		cfg.Model = func(string) (model.Model, bool) { return nil, false }
	}
	if cfg.Models == nil {
		cfg.Models = func() []string { return nil }
	}
	base, stop := context.WithCancel(context.Background())
	return &Service{cfg: cfg, base: base, stop: stop}
}

// Close cancels the eval runs still executing (their records end failed)
// and waits for them until ctx ends.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func unprocessable(format string, args ...any) error {
	return core.Errorf(core.CodeUnprocessable, format, args...)
}

func notFound(id string) error { return core.Errorf(core.CodeNotFound, "eval run %q not found", id) }

// plan is a validated Input with its defaults.
type plan struct {
	in         Input
	ref        core.Ref
	iterations int
	warmup     int
	threshold  int
	strategy   string
	judge      model.Model
	info       core.AgentInfo
	carrier    map[string]string // the caller's trace context (its runs')
}

// validate checks in (422 for what cannot be done as asked) and resolves
// the runnable and the judge.
func (s *Service) validate(in Input) (*plan, error) {
	p := &plan{in: in, iterations: 1, threshold: DefaultThreshold, strategy: ScoringNumeric, carrier: in.TraceCarrier}
	switch {
	case in.AgentID != "" && in.TeamID != "":
		return nil, unprocessable("give exactly one of agent_id and team_id, not both")
	case in.AgentID != "":
		p.ref = core.Ref{Kind: core.KindAgent, ID: in.AgentID}
	case in.TeamID != "":
		p.ref = core.Ref{Kind: core.KindTeam, ID: in.TeamID}
	default:
		return nil, unprocessable("agent_id or team_id is required (exactly one)")
	}
	if !slices.Contains(Types, in.EvalType) {
		return nil, unprocessable("eval_type %q is not one of %s", in.EvalType, strings.Join(Types, ", "))
	}
	if strings.TrimSpace(in.Input) == "" {
		return nil, unprocessable("input is required")
	}
	for name, v := range map[string]string{"input": in.Input, "expected_output": in.ExpectedOutput, "criteria": in.Criteria,
		"additional_guidelines": in.AdditionalGuidelines, "additional_context": in.AdditionalContext} {
		if len(v) > MaxText {
			return nil, unprocessable("%s is longer than %d bytes", name, MaxText)
		}
	}
	if len(in.Name) > MaxName {
		return nil, unprocessable("name is longer than %d bytes", MaxName)
	}
	if in.NumIterations != nil {
		if *in.NumIterations < 1 || *in.NumIterations > MaxIterations {
			return nil, unprocessable("num_iterations must be from 1 to %d", MaxIterations)
		}
		p.iterations = *in.NumIterations
	}
	if in.WarmupRuns != nil {
		if *in.WarmupRuns < 0 || *in.WarmupRuns > MaxWarmup {
			return nil, unprocessable("warmup_runs must be from 0 to %d", MaxWarmup)
		}
		p.warmup = *in.WarmupRuns
	}
	if in.Threshold != nil {
		if *in.Threshold < 1 || *in.Threshold > 10 {
			return nil, unprocessable("threshold must be from 1 to 10")
		}
		p.threshold = *in.Threshold
	}
	switch in.ScoringStrategy {
	case "":
	case ScoringNumeric, ScoringBinary:
		p.strategy = in.ScoringStrategy
	default:
		return nil, unprocessable("scoring_strategy %q is not numeric or binary", in.ScoringStrategy)
	}
	if len(in.ExpectedToolCalls) > MaxToolCalls {
		return nil, unprocessable("expected_tool_calls has more than %d entries", MaxToolCalls)
	}
	for _, t := range in.ExpectedToolCalls {
		if strings.TrimSpace(t) == "" {
			return nil, unprocessable("expected_tool_calls has an empty tool name")
		}
	}
	for t := range in.ExpectedToolCallArguments {
		if !slices.Contains(in.ExpectedToolCalls, t) {
			return nil, unprocessable("expected_tool_call_arguments names %q, which is not in expected_tool_calls", t)
		}
	}
	switch in.EvalType {
	case TypeAccuracy:
		if strings.TrimSpace(in.ExpectedOutput) == "" {
			return nil, unprocessable("expected_output is required for an accuracy eval")
		}
	case TypeAgentAsJudge:
		if strings.TrimSpace(in.Criteria) == "" {
			return nil, unprocessable("criteria is required for an agent_as_judge eval")
		}
	case TypeReliability:
		if len(in.ExpectedToolCalls) == 0 {
			return nil, unprocessable("expected_tool_calls is required for a reliability eval")
		}
	}
	r, err := s.cfg.Runner.Runnable(p.ref.Kind, p.ref.ID)
	if err != nil {
		return nil, unprocessable("unknown %s %q", p.ref.Kind, p.ref.ID)
	}
	p.info = r.Info()
	judged := in.EvalType == TypeAccuracy || in.EvalType == TypeAgentAsJudge
	if in.ModelID != "" {
		m, ok := s.cfg.Model(in.ModelID)
		if !ok {
			return nil, unprocessable("unknown model_id %q (the configured models: %s)", in.ModelID, strings.Join(s.cfg.Models(), ", "))
		}
		if in.ModelProvider != "" && !strings.EqualFold(in.ModelProvider, m.Provider()) {
			return nil, unprocessable("model %q is a %s model, not %s", in.ModelID, m.Provider(), in.ModelProvider)
		}
		p.judge = m
	} else if judged {
		return nil, unprocessable("model_id is required for an %s eval: it names the judge model (one of the configured models: %s)",
			in.EvalType, strings.Join(s.cfg.Models(), ", "))
	} else if in.ModelProvider != "" {
		return nil, unprocessable("model_provider needs model_id")
	}
	return p, nil
}

// Start validates in, stores a running eval run and executes it. With
// background it returns at once (poll Get); without, it returns the eval
// run as it ended, or as it is when ctx ends first (it goes on).
func (s *Service) Start(ctx context.Context, sc Scope, in Input, background bool) (*EvalRun, error) {
	if err := sc.check(); err != nil {
		return nil, err
	}
	p, err := s.validate(in)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().Unix()
	ev := &EvalRun{ID: s.cfg.NewID(), Name: in.Name, EvalType: in.EvalType, UserID: sc.UserID, Status: StatusRunning,
		EvaluatedComponentName: p.info.Name, ModelID: in.ModelID, EvalInput: evalInput(p), EvalData: map[string]any{},
		RunIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	if ev.EvaluatedComponentName == "" {
		ev.EvaluatedComponentName = p.ref.ID
	}
	if p.judge != nil {
		ev.ModelProvider = p.judge.Provider()
	} else if p.info.Model != nil {
		ev.ModelID, ev.ModelProvider = p.info.Model.Model, p.info.Model.Provider
	}
	if p.ref.Kind == core.KindTeam {
		ev.TeamID = p.ref.ID
	} else {
		ev.AgentID = p.ref.ID
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, core.Errorf(core.CodeUnavailable, "the gateway is shutting down")
	}
	s.wg.Add(1)
	s.mu.Unlock()
	if err := s.cfg.Store.CreateEvalRun(ctx, ev); err != nil {
		s.wg.Done()
		return nil, err
	}
	snapshot := *ev
	if background && s.cfg.Enqueue != nil {
		defer s.wg.Done()
		if err := s.cfg.Enqueue(ctx, Job{EvalRunID: ev.ID, Bound: sc.Bound, UserID: sc.UserID, Input: in}); err != nil {
			msg := "cannot queue the eval run: " + err.Error()
			ev.Status, ev.Error, ev.UpdatedAt = StatusFailed, msg, s.cfg.Now().Unix()
			_ = s.cfg.Store.SaveEvalResult(context.WithoutCancel(ctx), ev)
			return nil, core.Errorf(core.CodeUnavailable, "%s", msg)
		}
		return &snapshot, nil
	}
	done := make(chan *EvalRun, 1)
	go func() {
		defer s.wg.Done()
		done <- s.execute(s.base, sc, p, ev)
	}()
	if background {
		return &snapshot, nil
	}
	select {
	case e := <-done:
		return e, nil
	case <-ctx.Done():
		return &snapshot, nil
	}
}

// evalInput is the eval run's eval_input: what it was asked (agno keeps
// the type's parameters).
func evalInput(p *plan) map[string]any {
	in := p.in
	m := map[string]any{"input": in.Input, "num_iterations": p.iterations}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("additional_guidelines", in.AdditionalGuidelines)
	put("additional_context", in.AdditionalContext)
	switch in.EvalType {
	case TypeAccuracy:
		m["expected_output"] = in.ExpectedOutput
		m["threshold"] = p.threshold
	case TypeAgentAsJudge:
		m["criteria"], m["scoring_strategy"] = in.Criteria, p.strategy
		if p.strategy == ScoringNumeric {
			m["threshold"] = p.threshold
		}
	case TypePerformance:
		m["warmup_runs"] = p.warmup
	case TypeReliability:
		m["expected_tool_calls"] = in.ExpectedToolCalls
		m["allow_additional_tool_calls"] = in.AllowAdditionalToolCalls
		if len(in.ExpectedToolCallArguments) > 0 {
			m["expected_tool_call_arguments"] = in.ExpectedToolCallArguments
		}
	}
	return m
}

// ErrInterrupted is Work's error when the eval run was interrupted (the
// replica shuts down): its record stays running and the job is worked
// again.
var ErrInterrupted = errors.New("eval: interrupted; the eval run is left running for another attempt")

// Work is one attempt of a queued eval run (the durable queue's job body):
// it executes the eval run from the start (the runs of an attempt that
// died are left as they ended; the eval run lists the new ones) and stores
// its outcome. An eval run that is gone or no longer running is left
// alone (nil). last says it is the job's last attempt: an interruption
// then fails the eval run.
func (s *Service) Work(ctx context.Context, raw json.RawMessage, last bool) error {
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil || j.EvalRunID == "" {
		return fmt.Errorf("%w %.200s", ErrBadJob, raw)
	}
	ev, err := s.cfg.Store.GetEvalRun(ctx, j.EvalRunID)
	if errors.Is(err, core.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev.Status != StatusRunning {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrInterrupted
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	p, err := s.validate(j.Input)
	if err != nil {
		// The config changed since (an agent or a judge is gone).
		ev.Status, ev.Error, ev.UpdatedAt = StatusFailed, err.Error(), s.cfg.Now().Unix()
		return s.cfg.Store.SaveEvalResult(ctx, ev)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.base, cancel)
	defer stop()
	ev.RunIDs, ev.EvalData = []string{}, map[string]any{}
	s.executeOr(ctx, Scope{Bound: j.Bound, UserID: j.UserID}, p, ev, !last)
	if ctx.Err() != nil && !last {
		return ErrInterrupted
	}
	return nil
}

// execute computes the eval run and stores its outcome.
func (s *Service) execute(ctx context.Context, sc Scope, p *plan, ev *EvalRun) *EvalRun {
	return s.executeOr(ctx, sc, p, ev, false)
}

// executeOr is execute; with keepOnCancel, an eval run interrupted by
// ctx's end is not stored failed (it stays running, for another attempt).
func (s *Service) executeOr(ctx context.Context, sc Scope, p *plan, ev *EvalRun, keepOnCancel bool) *EvalRun {
	var (
		data   any
		passed bool
		err    error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("eval panicked: %v", r)
			}
		}()
		switch p.in.EvalType {
		case TypeAccuracy:
			data, passed, err = s.accuracy(ctx, sc, p, ev)
		case TypeAgentAsJudge:
			data, passed, err = s.agentAsJudge(ctx, sc, p, ev)
		case TypePerformance:
			data, passed, err = s.performance(ctx, sc, p, ev)
		case TypeReliability:
			data, passed, err = s.reliability(ctx, sc, p, ev)
		}
	}()
	if err != nil && keepOnCancel && ctx.Err() != nil {
		return ev
	}
	ev.UpdatedAt = s.cfg.Now().Unix()
	if err != nil {
		ev.Status, ev.Error = StatusFailed, err.Error()
	} else {
		ev.Status, ev.Passed = StatusCompleted, &passed
	}
	if data != nil {
		if m, merr := toMap(data); merr == nil {
			ev.EvalData = m
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := s.cfg.Store.SaveEvalResult(sctx, ev); serr != nil {
		s.cfg.Logger.Error("eval: could not store the result", "eval_run_id", ev.ID, "err", serr)
	}
	out := *ev
	if cur, gerr := s.cfg.Store.GetEvalRun(sctx, ev.ID); gerr == nil {
		out = *cur // the name a rename meanwhile gave it
	}
	return &out
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// measured is one run of the evaluated runnable.
type measured struct {
	run     *core.Run
	elapsed time.Duration
	bytes   uint64
	mallocs uint64
}

// runOnce runs the evaluated runnable once through the engine, tagged
// with the eval run's id, measuring wall time and the process's
// allocations; a run that does not complete is an error.
func (s *Service) runOnce(ctx context.Context, sc Scope, p *plan, ev *EvalRun, measure bool) (*measured, error) {
	var before, after runtime.MemStats
	if measure {
		runtime.ReadMemStats(&before)
	}
	start := time.Now()
	r, err := s.cfg.Runner.Start(ctx, core.StartParams{AgentID: p.in.AgentID, TeamID: p.in.TeamID, Message: p.in.Input,
		UserID: sc.UserID, EvalRunID: ev.ID, Interface: "eval", TraceCarrier: p.carrier})
	if err != nil {
		return nil, fmt.Errorf("start a run: %w", err)
	}
	ev.RunIDs = append(ev.RunIDs, r.RunID)
	// The run is visible on the running eval run at once (to follow or
	// cancel it); best effort: the outcome is stored at the end anyway.
	ev.UpdatedAt = s.cfg.Now().Unix()
	if err := s.cfg.Store.SaveEvalResult(ctx, ev); err != nil {
		s.cfg.Logger.Warn("eval: could not store the progress", "eval_run_id", ev.ID, "err", err)
	}
	r, err = s.cfg.Runner.Wait(ctx, r.RunID, -1)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", ev.RunIDs[len(ev.RunIDs)-1], err)
	}
	m := &measured{run: r, elapsed: time.Since(start)}
	if measure {
		runtime.ReadMemStats(&after)
		m.bytes, m.mallocs = after.TotalAlloc-before.TotalAlloc, after.Mallocs-before.Mallocs
	}
	switch r.Status {
	case core.RunCompleted:
		return m, nil
	case core.RunPaused:
		return nil, fmt.Errorf("run %s paused (it needs a human: confirmation, input or an approval); evals need runs that complete on their own", r.RunID)
	case core.RunCancelled:
		return nil, fmt.Errorf("run %s was cancelled", r.RunID)
	}
	msg := r.Error
	if msg == "" {
		msg = string(r.Status)
	}
	return nil, fmt.Errorf("run %s ended %s: %s", r.RunID, r.Status, msg)
}

// ask sends the judge its system prompt and the prompt and returns its
// answer's text.
func (s *Service) ask(ctx context.Context, p *plan, ev *EvalRun, system, prompt string) (string, error) {
	judge := p.judge
	var resp *model.Response
	var err error
	if s.cfg.TraceJudge != nil {
		var end func(*model.Response, error)
		ctx, end = s.cfg.TraceJudge(ctx, p.carrier, ev.ID, judge)
		defer func() { end(resp, err) }()
	}
	resp, err = judge.Generate(ctx, model.Request{Messages: []core.Message{{Role: "system", Content: system}, {Role: "user", Content: prompt}}},
		func(model.Delta) error { return nil })
	if err != nil {
		return "", fmt.Errorf("the judge model failed: %w", err)
	}
	if resp == nil || strings.TrimSpace(resp.Content) == "" {
		return "", errors.New("the judge model gave an empty answer")
	}
	return resp.Content, nil
}

// AccuracyEvaluation and AccuracyResult are agno's, each evaluation with
// the run it judged.
type AccuracyEvaluation struct {
	Input          string `json:"input"`
	Output         string `json:"output"`
	ExpectedOutput string `json:"expected_output"`
	Score          int    `json:"score"`
	Reason         string `json:"reason"`
	RunID          string `json:"run_id"`
}

type AccuracyResult struct {
	Results     []AccuracyEvaluation `json:"results"`
	AvgScore    float64              `json:"avg_score"`
	MeanScore   float64              `json:"mean_score"`
	MinScore    float64              `json:"min_score"`
	MaxScore    float64              `json:"max_score"`
	StdDevScore float64              `json:"std_dev_score"`
	Threshold   int                  `json:"threshold"`
}

func (s *Service) accuracy(ctx context.Context, sc Scope, p *plan, ev *EvalRun) (any, bool, error) {
	res := AccuracyResult{Results: []AccuracyEvaluation{}, Threshold: p.threshold}
	system := accuracySystem(p.in.AdditionalGuidelines, p.in.AdditionalContext)
	var scores []float64
	for range p.iterations {
		m, err := s.runOnce(ctx, sc, p, ev, false)
		if err != nil {
			return res, false, err
		}
		answer, err := s.ask(ctx, p, ev, system, accuracyPrompt(p.in.Input, p.in.ExpectedOutput, m.run.Content))
		if err != nil {
			return res, false, err
		}
		v, err := parseVerdict(answer, true, false, []string{"accuracy_score", "score"}, []string{"accuracy_reason", "reason"})
		if err != nil {
			return res, false, err
		}
		res.Results = append(res.Results, AccuracyEvaluation{Input: p.in.Input, Output: m.run.Content, ExpectedOutput: p.in.ExpectedOutput,
			Score: *v.Score, Reason: v.Reason, RunID: m.run.RunID})
		scores = append(scores, float64(*v.Score))
	}
	st := summarize(scores)
	res.AvgScore, res.MeanScore, res.MinScore, res.MaxScore, res.StdDevScore = st.avg, st.avg, st.min, st.max, st.std
	return res, res.AvgScore >= float64(p.threshold), nil
}

// AgentAsJudgeEvaluation and AgentAsJudgeResult are agno's (score and the
// score statistics null in binary mode).
type AgentAsJudgeEvaluation struct {
	Input    string `json:"input"`
	Output   string `json:"output"`
	Criteria string `json:"criteria"`
	Score    *int   `json:"score"`
	Reason   string `json:"reason"`
	Passed   bool   `json:"passed"`
	RunID    string `json:"run_id"`
}

type AgentAsJudgeResult struct {
	RunID           string                   `json:"run_id"`
	Results         []AgentAsJudgeEvaluation `json:"results"`
	AvgScore        *float64                 `json:"avg_score"`
	MinScore        *float64                 `json:"min_score"`
	MaxScore        *float64                 `json:"max_score"`
	StdDevScore     *float64                 `json:"std_dev_score"`
	PassRate        float64                  `json:"pass_rate"`
	ScoringStrategy string                   `json:"scoring_strategy"`
	Threshold       *int                     `json:"threshold"`
}

func (s *Service) agentAsJudge(ctx context.Context, sc Scope, p *plan, ev *EvalRun) (any, bool, error) {
	res := AgentAsJudgeResult{RunID: ev.ID, Results: []AgentAsJudgeEvaluation{}, ScoringStrategy: p.strategy}
	numeric := p.strategy == ScoringNumeric
	if numeric {
		res.Threshold = &p.threshold
	}
	system := judgeSystem(p.in.Criteria, p.strategy, p.in.AdditionalGuidelines, p.in.AdditionalContext)
	var scores []float64
	passes := 0
	for range p.iterations {
		m, err := s.runOnce(ctx, sc, p, ev, false)
		if err != nil {
			return res, false, err
		}
		answer, err := s.ask(ctx, p, ev, system, judgePrompt(p.in.Input, m.run.Content))
		if err != nil {
			return res, false, err
		}
		v, err := parseVerdict(answer, numeric, !numeric, []string{"score"}, []string{"reason"})
		if err != nil {
			return res, false, err
		}
		e := AgentAsJudgeEvaluation{Input: p.in.Input, Output: m.run.Content, Criteria: p.in.Criteria, Reason: v.Reason, RunID: m.run.RunID}
		if numeric {
			e.Score, e.Passed = v.Score, *v.Score >= p.threshold
			scores = append(scores, float64(*v.Score))
		} else {
			e.Passed = *v.Passed
		}
		if e.Passed {
			passes++
		}
		res.Results = append(res.Results, e)
	}
	res.PassRate = float64(passes) / float64(len(res.Results)) * 100
	if numeric {
		st := summarize(scores)
		res.AvgScore, res.MinScore, res.MaxScore, res.StdDevScore = &st.avg, &st.min, &st.max, &st.std
	}
	return res, passes == len(res.Results), nil
}

// PerformanceRun is one measured run.
type PerformanceRun struct {
	RunID            string  `json:"run_id"`
	Runtime          float64 `json:"runtime"`
	Memory           float64 `json:"memory"`
	Allocations      uint64  `json:"allocations"`
	EngineDuration   float64 `json:"engine_duration,omitempty"`
	TimeToFirstToken float64 `json:"time_to_first_token,omitempty"`
	TotalTokens      int64   `json:"total_tokens,omitempty"`
}

// PerformanceResult is agno's (run times in seconds, memory in MiB: here
// what the process allocated during the run), plus the allocation counts
// and the runs.
type PerformanceResult struct {
	RunTimes          []float64        `json:"run_times"`
	AvgRunTime        float64          `json:"avg_run_time"`
	MinRunTime        float64          `json:"min_run_time"`
	MaxRunTime        float64          `json:"max_run_time"`
	StdDevRunTime     float64          `json:"std_dev_run_time"`
	MedianRunTime     float64          `json:"median_run_time"`
	P95RunTime        float64          `json:"p95_run_time"`
	MemoryUsages      []float64        `json:"memory_usages"`
	AvgMemoryUsage    float64          `json:"avg_memory_usage"`
	MinMemoryUsage    float64          `json:"min_memory_usage"`
	MaxMemoryUsage    float64          `json:"max_memory_usage"`
	StdDevMemoryUsage float64          `json:"std_dev_memory_usage"`
	MedianMemoryUsage float64          `json:"median_memory_usage"`
	P95MemoryUsage    float64          `json:"p95_memory_usage"`
	Allocations       []uint64         `json:"allocations"`
	AvgAllocations    float64          `json:"avg_allocations"`
	WarmupRuns        int              `json:"warmup_runs"`
	Runs              []PerformanceRun `json:"runs"`
}

func (s *Service) performance(ctx context.Context, sc Scope, p *plan, ev *EvalRun) (any, bool, error) {
	res := PerformanceResult{RunTimes: []float64{}, MemoryUsages: []float64{}, Allocations: []uint64{}, Runs: []PerformanceRun{}, WarmupRuns: p.warmup}
	for range p.warmup {
		if _, err := s.runOnce(ctx, sc, p, ev, false); err != nil {
			return res, false, fmt.Errorf("warm-up: %w", err)
		}
	}
	var allocs []float64
	for range p.iterations {
		m, err := s.runOnce(ctx, sc, p, ev, true)
		if err != nil {
			return res, false, err
		}
		pr := PerformanceRun{RunID: m.run.RunID, Runtime: m.elapsed.Seconds(), Memory: float64(m.bytes) / (1 << 20), Allocations: m.mallocs}
		if mt := m.run.Metrics; mt != nil {
			pr.EngineDuration, pr.TimeToFirstToken, pr.TotalTokens = mt.Duration, mt.TimeToFirstToken, mt.TotalTokens
		}
		res.Runs = append(res.Runs, pr)
		res.RunTimes = append(res.RunTimes, pr.Runtime)
		res.MemoryUsages = append(res.MemoryUsages, pr.Memory)
		res.Allocations = append(res.Allocations, pr.Allocations)
		allocs = append(allocs, float64(pr.Allocations))
	}
	t, mem := summarize(res.RunTimes), summarize(res.MemoryUsages)
	res.AvgRunTime, res.MinRunTime, res.MaxRunTime, res.StdDevRunTime, res.MedianRunTime, res.P95RunTime = t.avg, t.min, t.max, t.std, t.median, t.p95
	res.AvgMemoryUsage, res.MinMemoryUsage, res.MaxMemoryUsage, res.StdDevMemoryUsage, res.MedianMemoryUsage, res.P95MemoryUsage =
		mem.avg, mem.min, mem.max, mem.std, mem.median, mem.p95
	res.AvgAllocations = mean(allocs)
	return res, true, nil
}

// ReliabilityIteration is one run's check.
type ReliabilityIteration struct {
	RunID           string   `json:"run_id"`
	EvalStatus      string   `json:"eval_status"`
	FailedToolCalls []string `json:"failed_tool_calls"`
	PassedToolCalls []string `json:"passed_tool_calls"`
	Reasons         []string `json:"reasons"`
}

// ReliabilityResult is agno's (over every iteration), plus the reasons
// and each iteration's check.
type ReliabilityResult struct {
	EvalStatus      string                 `json:"eval_status"`
	FailedToolCalls []string               `json:"failed_tool_calls"`
	PassedToolCalls []string               `json:"passed_tool_calls"`
	Reasons         []string               `json:"reasons"`
	Iterations      []ReliabilityIteration `json:"iterations"`
}

func (s *Service) reliability(ctx context.Context, sc Scope, p *plan, ev *EvalRun) (any, bool, error) {
	res := ReliabilityResult{FailedToolCalls: []string{}, PassedToolCalls: []string{}, Reasons: []string{}, Iterations: []ReliabilityIteration{}}
	for range p.iterations {
		m, err := s.runOnce(ctx, sc, p, ev, false)
		if err != nil {
			return res, false, err
		}
		c := checkTools(m.run.Tools, p.in.ExpectedToolCalls, p.in.ExpectedToolCallArguments, p.in.AllowAdditionalToolCalls)
		it := ReliabilityIteration{RunID: m.run.RunID, EvalStatus: "PASSED", FailedToolCalls: orEmpty(c.failed),
			PassedToolCalls: orEmpty(c.passed), Reasons: orEmpty(c.reasons)}
		if len(c.failed) > 0 {
			it.EvalStatus = "FAILED"
		}
		res.Iterations = append(res.Iterations, it)
		res.FailedToolCalls = appendNew(res.FailedToolCalls, c.failed...)
		res.PassedToolCalls = appendNew(res.PassedToolCalls, c.passed...)
		res.Reasons = append(res.Reasons, c.reasons...)
	}
	res.EvalStatus = "PASSED"
	if len(res.FailedToolCalls) > 0 {
		res.EvalStatus = "FAILED"
	}
	return res, res.EvalStatus == "PASSED", nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// appendNew appends the names not in s yet.
func appendNew(s []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(s, n) {
			s = append(s, n)
		}
	}
	return s
}

// Get returns one eval run (another user's, under isolation, is not
// found).
func (s *Service) Get(ctx context.Context, sc Scope, id string) (*EvalRun, error) {
	if err := sc.check(); err != nil {
		return nil, err
	}
	e, err := s.cfg.Store.GetEvalRun(ctx, id)
	if errors.Is(err, core.ErrNotFound) || (err == nil && sc.Bound && e.UserID != sc.UserID) {
		return nil, notFound(id)
	}
	return e, err
}

// Rename renames an eval run (AgentOS's UpdateEvalRunRequest).
func (s *Service) Rename(ctx context.Context, sc Scope, id, name string) (*EvalRun, error) {
	if strings.TrimSpace(name) == "" {
		return nil, unprocessable("name is required")
	}
	if len(name) > MaxName {
		return nil, unprocessable("name is longer than %d bytes", MaxName)
	}
	if _, err := s.Get(ctx, sc, id); err != nil {
		return nil, err
	}
	if err := s.cfg.Store.RenameEvalRun(ctx, id, name, s.cfg.Now().Unix()); err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, notFound(id)
		}
		return nil, err
	}
	return s.Get(ctx, sc, id)
}

// Delete deletes the eval runs of ids the caller may touch (another
// user's, under isolation, are left alone) and reports how many.
func (s *Service) Delete(ctx context.Context, sc Scope, ids []string) (int, error) {
	if err := sc.check(); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, unprocessable("eval_run_ids is required (at least one id)")
	}
	if len(ids) > MaxLimit {
		return 0, unprocessable("eval_run_ids has more than %d ids", MaxLimit)
	}
	user := ""
	if sc.Bound {
		user = sc.UserID
	}
	return s.cfg.Store.DeleteEvalRuns(ctx, ids, user)
}

// List lists one page of eval runs (under isolation the caller's only).
func (s *Service) List(ctx context.Context, sc Scope, f Filter) ([]EvalRun, int, error) {
	if err := sc.check(); err != nil {
		return nil, 0, err
	}
	if sc.Bound {
		f.UserID = sc.UserID
	}
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	if f.Limit > MaxLimit {
		return nil, 0, unprocessable("limit must be at most %d", MaxLimit)
	}
	switch f.Kind {
	case "", string(core.KindAgent), string(core.KindTeam), string(core.KindWorkflow):
	default:
		return nil, 0, unprocessable("type %q is not agent, team or workflow", f.Kind)
	}
	for _, t := range f.EvalTypes {
		if !slices.Contains(Types, t) {
			return nil, 0, unprocessable("eval_types: %q is not one of %s", t, strings.Join(Types, ", "))
		}
	}
	switch f.SortBy {
	case "":
		f.SortBy = SortCreatedAt
	case SortCreatedAt, SortUpdatedAt, SortName:
	default:
		return nil, 0, unprocessable("sort_by %q is not created_at, updated_at or name", f.SortBy)
	}
	switch f.SortOrder {
	case "", OrderAsc, OrderDesc:
	default:
		return nil, 0, unprocessable("sort_order %q is not asc or desc", f.SortOrder)
	}
	sort.Strings(f.EvalTypes)
	return s.cfg.Store.ListEvalRuns(ctx, f)
}
