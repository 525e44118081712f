package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// funcAgent is an agent whose behaviour the test writes.
type funcAgent struct {
	id string
	fn func(ctx context.Context, x *core.Execution) (*core.Outcome, error)
}

func (a *funcAgent) Info() core.AgentInfo { return core.AgentInfo{ID: a.id, Name: a.id} }
func (a *funcAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	return a.fn(ctx, x)
}

type bundle struct {
	eng   *core.Engine
	store core.RunStore
	log   core.EventLog
}

func setup(t *testing.T, logCfg core.EventLogConfig, agents ...core.Agent) *bundle {
	t.Helper()
	env := enginetest.New(t, enginetest.Options{Log: logCfg}, agents...)
	return &bundle{eng: env.Engine, store: env.Store, log: env.Log}
}

func scriptedAgent(t *testing.T, id string, cfg scripted.Config, tools ...*tool.Tool) core.Agent {
	t.Helper()
	a, err := agent.New(agent.Config{ID: id, Model: scripted.New(cfg), Tools: tools, Instructions: "be brief"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func types(evs []core.Event) []core.EventType {
	out := make([]core.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Event
	}
	return out
}

func checkDense(t *testing.T, evs []core.Event, from int64) {
	t.Helper()
	for i, e := range evs {
		if e.EventIndex != from+int64(i) {
			t.Fatalf("event %d has index %d, want %d (%v)", i, e.EventIndex, from+int64(i), types(evs))
		}
	}
}

func TestRunCompletesWithOrderedEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "a", scripted.Config{Chunks: 3, Rules: []scripted.Rule{{Reply: "one two three"}}}))
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hi", UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	want := []core.EventType{core.EventRunStarted, core.EventModelRequestStarted, core.EventRunContent, core.EventRunContent,
		core.EventRunContent, core.EventModelRequestCompleted, core.EventRunContentCompleted, core.EventRunCompleted}
	if len(evs) != len(want) {
		t.Fatalf("events %v, want %v", types(evs), want)
	}
	for i := range want {
		if evs[i].Event != want[i] || evs[i].RunID != run.RunID || evs[i].SessionID != run.SessionID || evs[i].AgentID != "a" {
			t.Fatalf("event %d = %+v, want %s", i, evs[i], want[i])
		}
	}
	checkDense(t, evs, 0)
	if evs[len(evs)-1].Content != "one two three" {
		t.Fatalf("final content %q", evs[len(evs)-1].Content)
	}
	got, err := b.eng.Get(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != core.RunCompleted || got.Content != "one two three" || got.EventCount != int64(len(evs)) || got.UserID != "u1" {
		t.Fatalf("stored run = %+v", got)
	}
	// A finished run replays from any cursor, and is done at its end.
	s2, err := b.eng.Subscribe(ctx, run.RunID, 4)
	if err != nil {
		t.Fatal(err)
	}
	rest := enginetest.Collect(t, s2)
	checkDense(t, rest, 5)
	if len(rest) != len(evs)-5 {
		t.Fatalf("replay after 4 gave %d events", len(rest))
	}
	s3, err := b.eng.Subscribe(ctx, run.RunID, int64(len(evs)-1))
	if err != nil || !s3.Done() {
		t.Fatalf("subscribe at end: done=%v err=%v", s3 != nil && s3.Done(), err)
	}
	if _, err := b.eng.Subscribe(ctx, run.RunID, int64(len(evs))); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("cursor beyond end: %v", err)
	}
}

func TestSessionHistoryReachesTheAgent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen [][]core.Message
	a := &funcAgent{id: "h", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		mu.Lock()
		seen = append(seen, x.History)
		mu.Unlock()
		msgs := append(append([]core.Message{}, x.History...), core.Message{Role: "user", Content: x.Message}, core.Message{Role: "assistant", Content: "re: " + x.Message})
		return &core.Outcome{Content: "re: " + x.Message, Messages: msgs}, nil
	}}
	b := setup(t, core.EventLogConfig{}, a)
	ctx := context.Background()
	r1, err := b.eng.Start(ctx, core.StartParams{AgentID: "h", Message: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Wait(ctx, r1.RunID, -1); err != nil {
		t.Fatal(err)
	}
	r2, err := b.eng.Start(ctx, core.StartParams{AgentID: "h", Message: "second", SessionID: r1.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Wait(ctx, r2.RunID, -1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || len(seen[0]) != 0 || len(seen[1]) != 2 || seen[1][0].Content != "first" || seen[1][1].Content != "re: first" {
		t.Fatalf("history seen: %+v", seen)
	}
}

// blockingAgent streams one delta then waits for cancellation.
func blockingAgent(id string, started chan<- struct{}) *funcAgent {
	return &funcAgent{id: id, fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: "working"}); err != nil {
			return nil, err
		}
		if started != nil {
			started <- struct{}{}
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
}

func TestCancelRunningRun(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	b := setup(t, core.EventLogConfig{}, blockingAgent("slow", started))
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "go"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := b.eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	if last := evs[len(evs)-1]; last.Event != core.EventRunCancelled {
		t.Fatalf("last event %s, want RunCancelled (%v)", last.Event, types(evs))
	}
	got, _ := b.eng.Get(ctx, run.RunID)
	if got.Status != core.RunCancelled || !got.CancelRequested {
		t.Fatalf("run = %s cancel_requested=%v", got.Status, got.CancelRequested)
	}
	// Cancelling again leaves it as it is.
	again, err := b.eng.Cancel(ctx, run.RunID)
	if err != nil || again.Status != core.RunCancelled {
		t.Fatalf("second cancel: %v %v", again, err)
	}
	if _, err := b.eng.Cancel(ctx, "no-such-run"); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("cancel unknown: %v", err)
	}
}

func TestCancelIntentStoredBeforeStartWins(t *testing.T) {
	t.Parallel()
	ran := make(chan struct{}, 1)
	a := &funcAgent{id: "x", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		ran <- struct{}{}
		return &core.Outcome{Content: "ran"}, nil
	}}
	b := setup(t, core.EventLogConfig{}, a)
	ctx := context.Background()
	// A run stored as PENDING with the cancel intent already recorded (as a
	// cancel from another replica would leave it) never starts.
	run := &core.Run{RunID: core.NewUUID(), SessionID: core.NewUUID(), AgentID: "x", Status: core.RunPending, CreatedAt: 1, UpdatedAt: 1}
	if err := b.store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.SetCancelRequested(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	got, _ := b.eng.Get(ctx, run.RunID)
	if got.Status != core.RunPending || !got.CancelRequested {
		t.Fatalf("run = %+v", got)
	}
	select {
	case <-ran:
		t.Fatal("agent ran")
	default:
	}
}

func TestAgentFailuresEndWithRunError(t *testing.T) {
	t.Parallel()
	boom := &funcAgent{id: "boom", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		return nil, &core.AgentError{Type: "model_error", Err: errors.New("model unavailable")}
	}}
	panics := &funcAgent{id: "panics", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		panic("kaboom")
	}}
	nothing := &funcAgent{id: "nothing", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) { return nil, nil }}
	b := setup(t, core.EventLogConfig{}, boom, panics, nothing)
	ctx := context.Background()
	for id, typ := range map[string]string{"boom": "model_error", "panics": "agent_panic", "nothing": "internal_error"} {
		run, evs := startAndCollect(t, b, id, "x")
		last := evs[len(evs)-1]
		if last.Event != core.EventRunError || last.ErrorType != typ || last.Content == "" || last.ErrorID == "" {
			t.Fatalf("%s: last event %+v", id, last)
		}
		got, _ := b.eng.Get(ctx, run.RunID)
		if got.Status != core.RunError || got.ErrorType != typ {
			t.Fatalf("%s: stored %s %s", id, got.Status, got.ErrorType)
		}
	}
}

func TestStartValidates(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "a", scripted.Config{}))
	ctx := context.Background()
	if _, err := b.eng.Start(ctx, core.StartParams{AgentID: "missing", Message: "x"}); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: "  "}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("empty message: %v", err)
	}
	if _, err := b.eng.Get(ctx, "nope"); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("unknown run: %v", err)
	}
	if _, err := b.eng.Subscribe(ctx, "nope", -1); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("subscribe unknown run: %v", err)
	}
	if err := b.eng.RegisterAgent(scriptedAgent(t, "a", scripted.Config{})); err == nil {
		t.Fatal("duplicate agent registered")
	}
}

func confirmTool() *tool.Tool {
	t := tool.Calculator()
	t.RequiresConfirmation = true
	return t
}

func pausedRun(t *testing.T, b *bundle) (*core.Run, []core.Event) {
	t.Helper()
	ctx := context.Background()
	run, evs := startAndCollect(t, b, "hitl", "compute")
	last := evs[len(evs)-1]
	if last.Event != core.EventRunPaused || len(last.Tools) != 1 || !last.Tools[0].RequiresConfirmation || len(last.Requirements) != 1 {
		t.Fatalf("want RunPaused with one tool, got %+v", last)
	}
	got, _ := b.eng.Get(ctx, run.RunID)
	if got.Status != core.RunPaused || got.Paused == nil || len(got.Requirements) != 1 {
		t.Fatalf("stored paused run = %+v", got)
	}
	return got, evs
}

func hitlBundle(t *testing.T) *bundle {
	return setup(t, core.EventLogConfig{}, hitlAgentFor(t, "hitl"))
}

func TestPauseThenContinue(t *testing.T) {
	t.Parallel()
	for _, confirm := range []bool{true, false} {
		b := hitlBundle(t)
		ctx := context.Background()
		run, first := pausedRun(t, b)
		paused := first[len(first)-1]
		decision := paused.Tools[0]
		decision.Confirmed = &confirm
		decision.ConfirmationNote = "not today"
		cont, after, err := b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{decision}})
		if err != nil {
			t.Fatal(err)
		}
		if after != paused.EventIndex || cont.Status != core.RunRunning {
			t.Fatalf("continue returned after=%d status=%s, want %d RUNNING", after, cont.Status, paused.EventIndex)
		}
		s, err := b.eng.Subscribe(ctx, run.RunID, after)
		if err != nil {
			t.Fatal(err)
		}
		rest := enginetest.Collect(t, s)
		checkDense(t, rest, after+1)
		if rest[0].Event != core.EventRunContinued {
			t.Fatalf("first event after continue: %s", rest[0].Event)
		}
		last := rest[len(rest)-1]
		want := "result 42"
		if !confirm {
			want = "rejected: not today"
		}
		if last.Event != core.EventRunCompleted || last.Content != want {
			t.Fatalf("confirm=%v: last %s %q (%v)", confirm, last.Event, last.Content, types(rest))
		}
		hasToolRun := false
		for _, e := range rest {
			if e.Event == core.EventToolCallCompleted {
				hasToolRun = true
			}
		}
		if hasToolRun != confirm {
			t.Fatalf("confirm=%v but tool ran=%v", confirm, hasToolRun)
		}
		// The whole stream, read from the start, is dense across the pause.
		all, err := b.log.Read(ctx, core.ReadParams{RunID: run.RunID, After: -1})
		if err != nil {
			t.Fatal(err)
		}
		checkDense(t, all, 0)
		// Not paused any more: 409.
		if _, _, err := b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{decision}}); core.CodeOf(err) != core.CodeConflict {
			t.Fatalf("continue completed run: %v", err)
		}
	}
}

func TestContinueValidatesDecisions(t *testing.T) {
	t.Parallel()
	b := hitlBundle(t)
	ctx := context.Background()
	run, evs := pausedRun(t, b)
	pending := evs[len(evs)-1].Tools[0]
	undecided := pending
	undecided.Confirmed = nil
	yes := true
	stranger := core.ToolExecution{ToolCallID: "not-pending", Confirmed: &yes}
	decided := pending
	decided.Confirmed = &yes
	for name, tools := range map[string][]core.ToolExecution{
		"none":      nil,
		"undecided": {undecided},
		"stranger":  {decided, stranger},
		"no id":     {{ToolName: "calculator", Confirmed: &yes}},
	} {
		if _, _, err := b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: tools}); core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("%s: want invalid, got %v", name, err)
		}
	}
	if got, _ := b.eng.Get(ctx, run.RunID); got.Status != core.RunPaused {
		t.Fatalf("a refused continue changed the run to %s", got.Status)
	}
	// Two continues at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, errs[i] = b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{decided}})
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if core.CodeOf(err) != core.CodeConflict {
			t.Fatalf("concurrent continue: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d continues won", wins)
	}
	if done, err := b.eng.Wait(ctx, run.RunID, evs[len(evs)-1].EventIndex); err != nil || done.Status != core.RunCompleted {
		t.Fatalf("wait: %v %v", done, err)
	}
}

func TestCancelPausedRun(t *testing.T) {
	t.Parallel()
	b := hitlBundle(t)
	ctx := context.Background()
	run, evs := pausedRun(t, b)
	got, err := b.eng.Cancel(ctx, run.RunID)
	if err != nil || got.Status != core.RunCancelled {
		t.Fatalf("cancel paused: %v %v", got, err)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, evs[len(evs)-1].EventIndex)
	if err != nil {
		t.Fatal(err)
	}
	rest := enginetest.Collect(t, s)
	if len(rest) != 1 || rest[0].Event != core.EventRunCancelled {
		t.Fatalf("after pause: %v", types(rest))
	}
}

func TestResumeIsExactOrRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{MaxEventsPerRun: 5}, scriptedAgent(t, "long", scripted.Config{Chunks: 20, Rules: []scripted.Rule{{Reply: "a b c d e f g h i j k l m n o p q r s t"}}}))
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{AgentID: "long", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := b.eng.Wait(ctx, run.RunID, -1)
	if err != nil && !errors.Is(err, core.ErrGone) {
		t.Fatal(err)
	}
	done, _ = b.eng.Get(ctx, run.RunID)
	if done.EventCount < 20 {
		t.Fatalf("event count %d", done.EventCount)
	}
	_, err = b.eng.Subscribe(ctx, run.RunID, 2)
	var ge *core.GoneError
	if !errors.As(err, &ge) || ge.FirstIndex != done.EventCount-5 {
		t.Fatalf("old cursor: %v (want first index %d)", err, done.EventCount-5)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, done.EventCount-6)
	if err != nil {
		t.Fatalf("cursor at the boundary: %v", err)
	}
	if rest := enginetest.Collect(t, s); len(rest) != 5 {
		t.Fatalf("boundary replay gave %d events", len(rest))
	}
}

func TestCloseCancelsRunningRuns(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	b := setup(t, core.EventLogConfig{}, blockingAgent("slow", started))
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "go"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.eng.Close(cctx); err != nil {
		t.Fatal(err)
	}
	got, _ := b.eng.Get(ctx, run.RunID)
	if got.Status != core.RunCancelled {
		t.Fatalf("after close: %s", got.Status)
	}
	if _, err := b.eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "again"}); core.CodeOf(err) != core.CodeUnavailable {
		t.Fatalf("start after close: %v", err)
	}
}
