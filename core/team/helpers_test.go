package team_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/team"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// member returns a scripted built-in agent.
func member(t testing.TB, id string, rules []scripted.Rule, tools ...*tool.Tool) core.Agent {
	t.Helper()
	a, err := agent.New(agent.Config{ID: id, Name: "Agent " + id, Description: "the " + id,
		Model: scripted.New(scripted.Config{Model: id + "-model", Rules: rules}), Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// calcMember calls the calculator, then answers with its result.
func calcMember(t testing.TB, id string) core.Agent {
	return member(t, id, []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     id + " computed {{tool_result}}",
	}}, tool.Calculator())
}

// echoMember answers with its input.
func echoMember(t testing.TB, id string) core.Agent {
	return member(t, id, []scripted.Rule{{Reply: id + " says: {{input}}"}})
}

// hitlMember asks for confirmation before its calculator call.
func hitlMember(t testing.TB, id string) core.Agent {
	c := tool.Calculator()
	c.RequiresConfirmation = true
	return member(t, id, []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "approved: {{tool_result}}", RejectedReply: "rejected: {{note}}",
	}}, c)
}

// failingMember's model request fails.
func failingMember(t testing.TB, id string) core.Agent {
	return member(t, id, []scripted.Rule{{Error: "the model is down"}})
}

// funcAgent is an agent whose behaviour the test writes.
type funcAgent struct {
	id string
	fn func(ctx context.Context, x *core.Execution) (*core.Outcome, error)
}

func (a *funcAgent) Info() core.AgentInfo { return core.AgentInfo{ID: a.id, Name: a.id} }
func (a *funcAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	return a.fn(ctx, x)
}

// blockingMember emits one piece of content, says it started, and waits
// for its cancellation.
func blockingMember(id string, started chan<- struct{}) core.Agent {
	return &funcAgent{id: id, fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: "working"}); err != nil {
			return nil, err
		}
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
}

// leader is a scripted leader model.
func leader(rules ...scripted.Rule) *scripted.Model {
	return scripted.New(scripted.Config{Model: "lead-1", Rules: rules})
}

func delegate(memberID, task string) scripted.Call {
	return scripted.Call{Name: team.ToolDelegate, Arguments: map[string]any{"member_id": memberID, "task": task}}
}

// newTeam builds a team whose members are agents.
func newTeam(t testing.TB, cfg team.Config, members ...string) *team.Team {
	t.Helper()
	for _, m := range members {
		cfg.Members = append(cfg.Members, team.Member{ID: m, Name: "Agent " + m})
	}
	tm, err := team.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func newEngine(t testing.TB, runnables ...core.Agent) *core.Engine {
	t.Helper()
	return enginetest.New(t, enginetest.Options{}, runnables...).Engine
}

// replicas are two engines on one store and one event log.
func replicas(t testing.TB, runnables func() []core.Agent) (a, b *core.Engine) {
	t.Helper()
	env := enginetest.New(t, enginetest.Options{Engine: core.EngineConfig{InstanceID: "replica-a"}}, runnables()...)
	return env.Engine, env.Replica(t, core.EngineConfig{InstanceID: "replica-b"}, runnables()...)
}

// start starts the team in session (empty: a new one) and reads its
// stream to the end of the segment.
func start(t testing.TB, eng *core.Engine, teamID, msg, session string) (*core.Run, []core.Event) {
	t.Helper()
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{TeamID: teamID, Message: msg, SessionID: session})
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	return run, enginetest.Collect(t, s)
}

// seedSession creates a session with state.
func seedSession(t testing.TB, eng *core.Engine, state map[string]any) string {
	t.Helper()
	s, err := eng.CreateSession(context.Background(), &core.Session{SessionType: core.SessionTeam, SessionState: state})
	if err != nil {
		t.Fatal(err)
	}
	return s.SessionID
}

func types(evs []core.Event) []core.EventType {
	out := make([]core.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Event
	}
	return out
}
