package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/agentgate/agentgate/core"
)

// StepResult is one step's output on the run's step_results (agno's
// StepOutput shape); composite steps nest their children's in Steps.
type StepResult struct {
	StepName     string       `json:"step_name"`
	StepID       string       `json:"step_id"`
	StepType     string       `json:"step_type"`
	ExecutorType string       `json:"executor_type,omitempty"`
	ExecutorName string       `json:"executor_name,omitempty"`
	Content      string       `json:"content"`
	StepRunID    string       `json:"step_run_id,omitempty"`
	Success      bool         `json:"success"`
	Error        string       `json:"error,omitempty"`
	Steps        []StepResult `json:"steps,omitempty"`
	// skipped: left out of the results (rejected, or failed with on_error
	// skip): the next step gets this step's input.
	Skipped bool `json:"skipped,omitempty"`
}

// state is the workflow's progress, kept in the paused run
// (PausedState.Runnable) so a continue on any replica replays to where it
// stopped: finished steps are not run again, nor their events emitted.
type state struct {
	// Done are the finished steps' results by execution key (the step id,
	// with the loop iterations it is in).
	Done map[string]StepResult `json:"done,omitempty"`
	// Emitted marks the composite events already in the stream.
	Emitted map[string]bool `json:"emitted,omitempty"`
	// Chosen are the branches conditions and routers took.
	Chosen map[string][]string `json:"chosen,omitempty"`
	// Paused are the steps waiting for a decision.
	Paused []pausedStep `json:"paused,omitempty"`
}

// pausedStep is one step waiting: for its own confirmation or user input
// (Kind "step"), or for the decisions of the agent or team it ran (Kind
// "executor").
type pausedStep struct {
	Key        string          `json:"key"`
	Kind       string          `json:"kind"`
	Req        StepRequirement `json:"requirement"`
	ChildRunID string          `json:"child_run_id,omitempty"`
	ToolIDs    []string        `json:"tool_ids,omitempty"`
}

// runner is one execution of a workflow.
type runner struct {
	w     *Workflow
	x     *core.Execution
	input string
	// media are the workflow's input media: every step's agent or team
	// (and a router's agent) is given them, as agno gives a workflow's
	// input media to each step.
	media []core.MediaRef

	mu       sync.Mutex
	st       state
	outputs  map[string]StepResult         // by step name, for expressions and functions
	resuming map[string]pausedStep         // by key: the pauses this continue answers
	decided  map[string]core.ToolExecution // the engine-applied decisions, by tool_call_id
	pending  []core.ToolExecution
	reqs     []core.RunRequirement
}

// errPaused unwinds to the top when a step paused.
var errPaused = errors.New("workflow paused")

// Execute runs the workflow, or continues it from its pause.
func (w *Workflow) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	r := &runner{w: w, x: x, input: x.Message, outputs: map[string]StepResult{},
		resuming: map[string]pausedStep{}, decided: map[string]core.ToolExecution{}}
	if x.Run != nil {
		if r.input == "" {
			r.input = x.Run.Input.InputContent
		}
		r.media = x.Run.Input.Media()
	}
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &r.st); err != nil {
			return nil, fmt.Errorf("workflow %s: resume state: %w", w.def.ID, err)
		}
		for _, p := range r.st.Paused {
			r.resuming[p.Key] = p
		}
		r.st.Paused = nil
		for _, t := range x.Resume.Pending {
			r.decided[t.ToolCallID] = t
		}
	}
	if r.st.Done == nil {
		r.st.Done = map[string]StepResult{}
	}
	if r.st.Emitted == nil {
		r.st.Emitted = map[string]bool{}
	}
	if r.st.Chosen == nil {
		r.st.Chosen = map[string][]string{}
	}
	results, content, err := r.sequence(ctx, w.steps, "", r.input)
	if errors.Is(err, errPaused) {
		return r.paused(results)
	}
	if err != nil {
		return nil, err
	}
	sr, _ := json.Marshal(visible(results))
	return &core.Outcome{Content: content, StepResults: sr}, nil
}

// paused is the outcome of a workflow whose steps paused: one pending call
// per step requirement (synthetic for a step's own confirmation or input,
// the child's own calls for an agent or team step).
func (r *runner) paused(results []StepResult) (*core.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sort.SliceStable(r.st.Paused, func(i, j int) bool { return r.st.Paused[i].Key < r.st.Paused[j].Key })
	b, err := json.Marshal(r.st)
	if err != nil {
		return nil, err
	}
	sreqs := make([]StepRequirement, 0, len(r.st.Paused))
	for _, p := range r.st.Paused {
		sreqs = append(sreqs, p.Req)
	}
	sj, _ := json.Marshal(sreqs)
	rj, _ := json.Marshal(visible(results))
	first := r.st.Paused[0].Req
	idx := first.StepIndex
	return &core.Outcome{
		Paused:       &core.PausedState{Pending: r.pending, Runnable: b},
		Requirements: r.reqs,
		StepResults:  rj,
		PausedStep:   &core.Event{EventDetail: &core.EventDetail{PausedStepIndex: &idx, PausedStepName: first.StepName, StepRequirements: sj}},
	}, nil
}

// visible drops the skipped results.
func visible(rs []StepResult) []StepResult {
	out := make([]StepResult, 0, len(rs))
	for _, r := range rs {
		if r.Skipped {
			continue
		}
		r.Steps = visible(r.Steps)
		if len(r.Steps) == 0 {
			r.Steps = nil
		}
		out = append(out, r)
	}
	return out
}

// sequence runs steps in order, each on the previous one's output; it
// returns their results (those so far, when one paused) and the last
// output.
func (r *runner) sequence(ctx context.Context, ns []*node, scope, in string) ([]StepResult, string, error) {
	var results []StepResult
	cur := in
	for _, n := range ns {
		res, err := r.exec(ctx, n, scope, cur)
		if err != nil {
			if errors.Is(err, errPaused) && res != nil {
				results = append(results, *res)
			}
			return results, cur, err
		}
		results = append(results, *res)
		if !res.Skipped {
			cur = res.Content
		}
	}
	return results, cur, nil
}

// key is n's execution key in scope (the loop iterations around it).
func key(n *node, scope string) string { return n.id + scope }

// once reports whether the event tag was not emitted yet, and marks it.
func (r *runner) once(tag string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Emitted[tag] {
		return false
	}
	r.st.Emitted[tag] = true
	return true
}

func (r *runner) emit(ctx context.Context, n *node, ev core.Event) error {
	ev.StepID, ev.StepName = n.id, n.Name
	i := n.index
	ev.StepIndex = &i
	return r.x.Emit(ctx, ev)
}

// env is the expressions' view of the run so far.
func (r *runner) env(prev string, iteration int, userInput map[string]any) Env {
	r.mu.Lock()
	defer r.mu.Unlock()
	steps := make(map[string]StepView, len(r.outputs))
	for name, o := range r.outputs {
		steps[name] = StepView{Content: o.Content, Success: o.Success, Error: o.Error}
	}
	return Env{Input: r.input, Previous: prev, Steps: steps, Iteration: iteration,
		SessionState: r.x.SessionState, UserInput: userInput}
}

// record keeps a finished step's result.
func (r *runner) record(k string, res StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Done[k] = res
	r.outputs[res.StepName] = res
}

// exec runs one step (any type) on input in. A step that paused returns
// errPaused, with its partial result for composite steps.
func (r *runner) exec(ctx context.Context, n *node, scope, in string) (*StepResult, error) {
	k := key(n, scope)
	r.mu.Lock()
	done, ok := r.st.Done[k]
	if ok {
		r.outputs[done.StepName] = done
	}
	r.mu.Unlock()
	if ok {
		return &done, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch n.Type {
	case TypeStep:
		return r.step(ctx, n, k, in)
	case TypeSteps:
		return r.composite(ctx, n, k, in, core.EventStepsExecutionStarted, core.EventStepsExecutionCompleted,
			func(ctx context.Context) ([]StepResult, string, error) { return r.sequence(ctx, n.children, scope, in) })
	case TypeParallel:
		return r.composite(ctx, n, k, in, core.EventParallelExecutionStarted, core.EventParallelExecutionCompleted,
			func(ctx context.Context) ([]StepResult, string, error) { return r.parallel(ctx, n, scope, in) })
	case TypeCondition:
		return r.condition(ctx, n, scope, k, in)
	case TypeLoop:
		return r.loop(ctx, n, scope, k, in)
	case TypeRouter:
		return r.router(ctx, n, scope, k, in)
	}
	return nil, fmt.Errorf("step %s: unknown type %q", n.path, n.Type)
}

// composite runs a group's body between its started and completed events.
func (r *runner) composite(ctx context.Context, n *node, k, in string, started, completed core.EventType,
	body func(context.Context) ([]StepResult, string, error), extra ...func(*core.Event)) (*StepResult, error) {
	if r.once(k + "!start") {
		ev := core.Event{Event: started}
		for _, f := range extra {
			f(&ev)
		}
		if err := r.emit(ctx, n, ev); err != nil {
			return nil, err
		}
	}
	kids, content, err := body(ctx)
	res := StepResult{StepName: n.Name, StepID: n.id, StepType: n.Type.agnoType(), Content: content, Success: true, Steps: kids}
	if err != nil {
		return &res, err
	}
	for _, c := range kids {
		if !c.Success && !c.Skipped {
			res.Success = false
		}
	}
	if err := r.emit(ctx, n, core.Event{Event: completed, Content: content}); err != nil {
		return nil, err
	}
	r.record(k, res)
	return &res, nil
}

// parallel runs n's children concurrently on the same input; their
// outputs are joined under their names. It waits for all of them: a
// failure or a pause of one is reported once the others ended.
func (r *runner) parallel(ctx context.Context, n *node, scope, in string) ([]StepResult, string, error) {
	results := make([]*StepResult, len(n.children))
	errs := make([]error, len(n.children))
	var wg sync.WaitGroup
	for i, c := range n.children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.exec(ctx, c, scope, in)
		}()
	}
	wg.Wait()
	var out []StepResult
	var parts []string
	paused := false
	for i, res := range results {
		err := errs[i]
		switch {
		case err == nil:
		case errors.Is(err, errPaused):
			paused = true
		default:
			return out, "", err
		}
		if res == nil {
			continue
		}
		out = append(out, *res)
		if err == nil && !res.Skipped {
			parts = append(parts, "### "+res.StepName+"\n"+res.Content)
		}
	}
	if paused {
		return out, "", errPaused
	}
	return out, strings.Join(parts, "\n\n"), nil
}

func (r *runner) condition(ctx context.Context, n *node, scope, k, in string) (*StepResult, error) {
	r.mu.Lock()
	chosen, ok := r.st.Chosen[k]
	r.mu.Unlock()
	var holds bool
	if ok {
		holds = len(chosen) == 1 && chosen[0] == "true"
	} else {
		var err error
		if holds, err = n.cond.Bool(r.env(in, iterationOf(scope), nil)); err != nil {
			return r.failComposite(ctx, n, k, in, err)
		}
		r.mu.Lock()
		r.st.Chosen[k] = []string{fmt.Sprint(holds)}
		r.mu.Unlock()
	}
	branch := n.children
	if !holds {
		branch = n.els
	}
	h := holds
	return r.composite(ctx, n, k, in, core.EventConditionExecutionStarted, core.EventConditionExecutionCompleted,
		func(ctx context.Context) ([]StepResult, string, error) { return r.sequence(ctx, branch, scope, in) },
		func(ev *core.Event) { ev.Detail().ConditionResult = &h })
}

func (r *runner) router(ctx context.Context, n *node, scope, k, in string) (*StepResult, error) {
	r.mu.Lock()
	names, ok := r.st.Chosen[k]
	r.mu.Unlock()
	if !ok {
		var err error
		if n.sel != nil {
			names, err = n.sel.Choices(r.env(in, iterationOf(scope), nil))
		} else {
			names, err = r.askRouter(ctx, n, in)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return r.failComposite(ctx, n, k, in, err)
		}
		for _, name := range names {
			if n.choice(name) == nil {
				return r.failComposite(ctx, n, k, in, fmt.Errorf("router selector %q chose %q, which is not one of its choices", n.sel, name))
			}
		}
		r.mu.Lock()
		r.st.Chosen[k] = names
		r.mu.Unlock()
	}
	picked := make([]*node, 0, len(names))
	for _, name := range names {
		picked = append(picked, n.choice(name))
	}
	return r.composite(ctx, n, k, in, core.EventRouterExecutionStarted, core.EventRouterExecutionCompleted,
		func(ctx context.Context) ([]StepResult, string, error) { return r.sequence(ctx, picked, scope, in) },
		func(ev *core.Event) { ev.Detail().SelectedSteps = names })
}

func (r *runner) loop(ctx context.Context, n *node, scope, k, in string) (*StepResult, error) {
	max := n.MaxIterations
	return r.composite(ctx, n, k, in, core.EventLoopExecutionStarted, core.EventLoopExecutionCompleted,
		func(ctx context.Context) ([]StepResult, string, error) {
			var all []StepResult
			cur := in
			for it := 1; it <= max; it++ {
				iscope := fmt.Sprintf("%s#%s.%d", scope, n.id, it)
				tag := k + iscope
				if r.once(tag + "!start") {
					if err := r.emit(ctx, n, core.Event{Event: core.EventLoopIterationStarted, EventDetail: &core.EventDetail{Iteration: it, MaxIterations: max}}); err != nil {
						return all, cur, err
					}
				}
				kids, out, err := r.sequence(ctx, n.children, iscope, cur)
				all = append(all, kids...)
				if err != nil {
					return all, cur, err
				}
				cur = out
				if r.once(tag + "!end") {
					if err := r.emit(ctx, n, core.Event{Event: core.EventLoopIterationCompleted, Content: out, EventDetail: &core.EventDetail{Iteration: it, MaxIterations: max}}); err != nil {
						return all, cur, err
					}
				}
				if n.end != nil {
					stop, err := n.end.Bool(r.env(cur, it, nil))
					if err != nil {
						return all, cur, r.stepFailure(n, err)
					}
					if stop {
						break
					}
				}
			}
			return all, cur, nil
		},
		func(ev *core.Event) { ev.Detail().MaxIterations = max })
}

// iterationOf is the innermost loop iteration of scope (0: none).
func iterationOf(scope string) int {
	i := strings.LastIndexByte(scope, '.')
	if i < 0 {
		return 0
	}
	var it int
	fmt.Sscanf(scope[i+1:], "%d", &it)
	return it
}

// failComposite reports a composite step's own failure (its expression).
func (r *runner) failComposite(ctx context.Context, n *node, k, in string, err error) (*StepResult, error) {
	if e := r.emit(ctx, n, core.Event{Event: core.EventStepError, Error: err.Error(), Content: err.Error()}); e != nil {
		return nil, e
	}
	return r.afterFailure(n, k, in, StepResult{StepName: n.Name, StepID: n.id, StepType: n.Type.agnoType()}, err)
}

// afterFailure applies n's on_error to a failure.
func (r *runner) afterFailure(n *node, k, in string, res StepResult, err error) (*StepResult, error) {
	res.Success, res.Error = false, err.Error()
	switch n.OnError {
	case OnErrorSkip:
		res.Skipped, res.Content = true, in
	case OnErrorContinue:
		res.Content = ""
	default:
		return nil, r.stepFailure(n, err)
	}
	r.record(k, res)
	return &res, nil
}

// stepFailure is the error that ends the workflow: it names the step.
func (r *runner) stepFailure(n *node, err error) error {
	return &core.AgentError{Type: "step_error", Err: fmt.Errorf("step %q failed: %w", n.Name, err)}
}

// previous are the results so far by name.
func (r *runner) previous() map[string]StepResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.outputs)
}

// sortedKeys is for stable messages.
func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// askRouter asks a router's agent which choice fits in: the first choice
// name its answer mentions (the earliest in the answer).
func (r *runner) askRouter(ctx context.Context, n *node, in string) ([]string, error) {
	if r.x.RunChild == nil {
		return nil, errors.New("workflow: executed outside the engine (no RunChild)")
	}
	var b strings.Builder
	b.WriteString("Choose the one route that fits the input below. Answer with the route's name only.\n\nRoutes:\n")
	for _, c := range n.choices {
		fmt.Fprintf(&b, "- %s", c.Name)
		if c.Description != "" {
			fmt.Fprintf(&b, ": %s", c.Description)
		}
		b.WriteByte('\n')
	}
	b.WriteString("\nInput:\n")
	b.WriteString(in)
	i := n.index
	child, err := r.x.RunChild(ctx, core.ChildParams{Kind: core.KindAgent, ID: n.Agent, Message: b.String(), Media: r.media,
		StepID: n.id, StepName: n.Name, StepIndex: &i, SessionState: r.x.SessionState})
	if err != nil {
		return nil, err
	}
	if child.Status != core.RunCompleted {
		return nil, fmt.Errorf("router agent %s ended %s: %s", n.Agent, child.Status, child.Error)
	}
	answer := strings.ToLower(child.Content)
	best, at := "", -1
	for _, c := range n.choices {
		if j := strings.Index(answer, strings.ToLower(c.Name)); j >= 0 && (at < 0 || j < at || (j == at && len(c.Name) > len(best))) {
			best, at = c.Name, j
		}
	}
	if best == "" {
		return nil, fmt.Errorf("router agent %s named no route in its answer %q", n.Agent, child.Content)
	}
	return []string{best}, nil
}
