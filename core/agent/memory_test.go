package agent_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// memStore is a real SQLite state store for the memory tests.
func memStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addMemory(t *testing.T, s memory.Store, id, user, text string) {
	t.Helper()
	if err := s.CreateMemory(t.Context(), &memory.Memory{ID: id, UserID: user, Memory: text, Topics: []string{}, CreatedAt: 1, UpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
}

func userMemories(t *testing.T, s memory.Store, user string) []string {
	t.Helper()
	ms, _, err := s.ListMemories(t.Context(), memory.Filter{UserID: user, Limit: -1, SortBy: "created_at", SortOrder: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Memory)
	}
	return out
}

// runAs runs a once as user with message, returning its events.
func runAs(t *testing.T, a *agent.Agent, user, message string) (*core.Outcome, []core.Event) {
	t.Helper()
	var events []core.Event
	x := &core.Execution{Run: &core.Run{RunID: "r-" + user, UserID: user}, Message: message, Emit: func(_ context.Context, ev core.Event) error {
		events = append(events, ev)
		return nil
	}}
	out, err := a.Execute(t.Context(), x)
	if err != nil {
		t.Fatal(err)
	}
	return out, events
}

// recorder answers "ok" and keeps the requests.
type recorder struct{ reqs []model.Request }

func (m *recorder) Provider() string { return "test" }
func (m *recorder) ID() string       { return "recorder" }
func (m *recorder) Generate(_ context.Context, req model.Request, _ func(model.Delta) error) (*model.Response, error) {
	m.reqs = append(m.reqs, req)
	return &model.Response{Content: "ok"}, nil
}

func TestMemoryContextIsTheUsersOwn(t *testing.T) {
	s := memStore(t)
	addMemory(t, s, "m1", "ann", "Ann likes green tea")
	addMemory(t, s, "m2", "bob", "Bob is allergic to nuts")
	m := &recorder{}
	a, err := agent.New(agent.Config{ID: "a", Model: m, Instructions: "Be brief.", Memory: &agent.MemoryConfig{Store: s}})
	if err != nil {
		t.Fatal(err)
	}
	runAs(t, a, "ann", "hello")
	sys := m.reqs[0].Messages[0]
	if sys.Role != "system" || !strings.HasPrefix(sys.Content, "Be brief.") || !strings.Contains(sys.Content, "Ann likes green tea") || strings.Contains(sys.Content, "Bob") {
		t.Fatalf("system message = %+v, want the instructions and Ann's memory only", sys)
	}
	// No user: no memories, and nothing is written.
	runAs(t, a, "", "hello")
	if got := m.reqs[1].Messages[0].Content; got != "Be brief." {
		t.Fatalf("without a user the system message is %q", got)
	}
	// A negative limit gives none.
	a2, _ := agent.New(agent.Config{ID: "a", Model: m, Memory: &agent.MemoryConfig{Store: s, ContextLimit: -1}})
	runAs(t, a2, "ann", "hello")
	if got := m.reqs[2].Messages[0]; got.Role == "system" {
		t.Fatalf("context_limit -1 still sent %q", got.Content)
	}
}

// managerRules make a scripted model that, as a memory manager, adds the
// user's message as a memory, and as the agent answers with the system
// messages it was given.
func managerRules(manager string) []scripted.Rule {
	return []scripted.Rule{
		{System: agent.MemoryManagerMarker, Reply: manager},
		{Reply: "context: {{system}}"},
	}
}

func TestUpdateOnRunExtractsAndGivesBack(t *testing.T) {
	s := memStore(t)
	m := scripted.New(scripted.Config{Rules: managerRules(`Sure: [{"op": "add", "memory": {{input_json}}, "topics": [" Hobbies ", "hobbies"]}]`)})
	a, err := agent.New(agent.Config{ID: "helper", Model: m, Memory: &agent.MemoryConfig{Store: s, UpdateOnRun: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, events := runAs(t, a, "ann", `I love "hiking" in the Alps`)
	var started, completed *core.Event
	for i := range events {
		switch events[i].Event {
		case core.EventMemoryUpdateStarted:
			started = &events[i]
		case core.EventMemoryUpdateCompleted:
			completed = &events[i]
		}
	}
	if started == nil || completed == nil || completed.EventDetail == nil {
		t.Fatalf("events %v lack MemoryUpdateStarted/Completed with memories", events)
	}
	var mems []memory.Memory
	if err := json.Unmarshal(completed.Memories, &mems); err != nil || len(mems) != 1 {
		t.Fatalf("completed memories = %s (%v)", completed.Memories, err)
	}
	got := mems[0]
	if got.Memory != `I love "hiking" in the Alps` || got.UserID != "ann" || got.AgentID != "helper" || len(got.Topics) != 1 || got.Topics[0] != "hobbies" {
		t.Fatalf("memory = %+v", got)
	}
	// The next run is given it.
	out, _ := runAs(t, a, "ann", "what do I like?")
	if !strings.Contains(out.Content, `I love "hiking" in the Alps`) {
		t.Fatalf("second run's context = %q", out.Content)
	}
	if got := userMemories(t, s, "bob"); len(got) != 0 {
		t.Fatalf("bob has %v", got)
	}
}

func TestUpdateOnRunUpdatesAndDeletesOnlyOwn(t *testing.T) {
	s := memStore(t)
	addMemory(t, s, "ann-1", "ann", "Ann lives in Oslo")
	addMemory(t, s, "ann-2", "ann", "Ann has a cat")
	addMemory(t, s, "bob-1", "bob", "Bob lives in Rome")
	ops := `[{"op":"update","id":"ann-1","memory":"Ann lives in Bergen"},{"op":"delete","id":"ann-2"},` +
		`{"op":"delete","id":"bob-1"},{"op":"update","id":"bob-1","memory":"hacked"},{"op":"explode"},{"memory":"no op"},42]`
	m := scripted.New(scripted.Config{Rules: managerRules(ops)})
	a, _ := agent.New(agent.Config{ID: "a", Model: m, Memory: &agent.MemoryConfig{Store: s, UpdateOnRun: true}})
	runAs(t, a, "ann", "I moved to Bergen and my cat is gone")
	if got := userMemories(t, s, "ann"); len(got) != 1 || got[0] != "Ann lives in Bergen" {
		t.Fatalf("ann's memories = %v", got)
	}
	if got := userMemories(t, s, "bob"); len(got) != 1 || got[0] != "Bob lives in Rome" {
		t.Fatalf("bob's memories = %v: another user's memory was changed", got)
	}
}

func TestUpdateOnRunSurvivesABadManager(t *testing.T) {
	for name, rule := range map[string]scripted.Rule{
		"not json":    {System: agent.MemoryManagerMarker, Reply: "I cannot do that"},
		"broken json": {System: agent.MemoryManagerMarker, Reply: `[{"op": "add", "memory": `},
		"model error": {System: agent.MemoryManagerMarker, Error: "rate limited"},
	} {
		t.Run(name, func(t *testing.T) {
			s := memStore(t)
			addMemory(t, s, "m1", "ann", "Ann likes tea")
			m := scripted.New(scripted.Config{Rules: []scripted.Rule{rule, {Reply: "fine"}}})
			a, _ := agent.New(agent.Config{ID: "a", Model: m, Memory: &agent.MemoryConfig{Store: s, UpdateOnRun: true}})
			out, events := runAs(t, a, "ann", "hello")
			if out.Content != "fine" {
				t.Fatalf("run content = %q", out.Content)
			}
			last := events[len(events)-1]
			if last.Event != core.EventMemoryUpdateCompleted || !strings.Contains(string(last.Memories), "Ann likes tea") {
				t.Fatalf("last event = %+v", last)
			}
			if got := userMemories(t, s, "ann"); len(got) != 1 {
				t.Fatalf("memories = %v", got)
			}
		})
	}
}

func TestUpdateOnRunNeedsAUser(t *testing.T) {
	s := memStore(t)
	m := scripted.New(scripted.Config{Rules: managerRules(`[{"op":"add","memory":"x"}]`)})
	a, _ := agent.New(agent.Config{ID: "a", Model: m, Memory: &agent.MemoryConfig{Store: s, UpdateOnRun: true}})
	_, events := runAs(t, a, "", "remember me")
	for _, ev := range events {
		if ev.Event == core.EventMemoryUpdateStarted {
			t.Fatal("a run without a user updated memories")
		}
	}
}

func TestAgenticMemoryTools(t *testing.T) {
	s := memStore(t)
	addMemory(t, s, "bob-1", "bob", "Bob lives in Rome")
	args := func(v string) json.RawMessage { return json.RawMessage(v) }
	m := &turnModel{turns: []model.Response{
		{ToolCalls: []core.ToolCall{{ID: "1", Name: "add_memory", Arguments: args(`{"memory":"Ann plays chess","topics":["Games"]}`)}}},
		{ToolCalls: []core.ToolCall{
			{ID: "2", Name: "delete_memory", Arguments: args(`{"memory_id":"bob-1"}`)},
			{ID: "3", Name: "update_memory", Arguments: args(`{"memory_id":"bob-1","memory":"x"}`)},
			{ID: "4", Name: "add_memory", Arguments: args(`{"memory":"  "}`)},
			{ID: "5", Name: "add_memory", Arguments: args(`[1]`)},
		}},
		{Content: "done"},
	}}
	a, err := agent.New(agent.Config{ID: "a", Model: m, Memory: &agent.MemoryConfig{Store: s, Agentic: true}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range a.Info().Tools {
		names = append(names, ti.Name)
	}
	if strings.Join(names, ",") != "add_memory,update_memory,delete_memory" {
		t.Fatalf("tools = %v", names)
	}
	out, _ := runAs(t, a, "ann", "remember that I play chess")
	if len(out.Tools) != 5 || out.Tools[0].ToolCallError {
		t.Fatalf("tool executions = %+v", out.Tools)
	}
	for _, te := range out.Tools[1:] {
		if !te.ToolCallError {
			t.Fatalf("tool call %s (%s) succeeded: %s", te.ToolCallID, te.ToolArgs, te.Result)
		}
	}
	if got := userMemories(t, s, "ann"); len(got) != 1 || got[0] != "Ann plays chess" {
		t.Fatalf("ann's memories = %v", got)
	}
	if got := userMemories(t, s, "bob"); len(got) != 1 || got[0] != "Bob lives in Rome" {
		t.Fatalf("bob's memories = %v", got)
	}
	// The agentic context names memories by id.
	m2 := &recorder{}
	a2, _ := agent.New(agent.Config{ID: "a", Model: m2, Memory: &agent.MemoryConfig{Store: s, Agentic: true}})
	runAs(t, a2, "bob", "hi")
	if !strings.Contains(m2.reqs[0].Messages[0].Content, "(id bob-1) Bob lives in Rome") {
		t.Fatalf("agentic context = %q", m2.reqs[0].Messages[0].Content)
	}
	// Without a user the tools refuse.
	m3 := &turnModel{turns: []model.Response{
		{ToolCalls: []core.ToolCall{{ID: "1", Name: "add_memory", Arguments: args(`{"memory":"x"}`)}}},
		{Content: "done"},
	}}
	a3, _ := agent.New(agent.Config{ID: "a", Model: m3, Memory: &agent.MemoryConfig{Store: s, Agentic: true}})
	out, _ = runAs(t, a3, "", "hi")
	if !out.Tools[0].ToolCallError || !strings.Contains(out.Tools[0].Result, "user_id") {
		t.Fatalf("without a user add_memory = %+v", out.Tools[0])
	}
}

func TestSessionSummaries(t *testing.T) {
	s := memStore(t)
	now := int64(1)
	if err := s.CreateSession(t.Context(), &core.Session{SessionID: "s1", SessionType: core.SessionAgent, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	m := scripted.New(scripted.Config{Rules: []scripted.Rule{
		{System: agent.SessionSummarizerMarker, Reply: "Summary: {{input}}"},
		{Reply: "sure"},
	}})
	a, _ := agent.New(agent.Config{ID: "a", Model: m, Summaries: &agent.SummaryConfig{Store: s}})
	var events []core.Event
	x := &core.Execution{Run: &core.Run{RunID: "r", SessionID: "s1"}, Message: "plan my trip", History: []core.Message{{Role: "user", Content: "I like trains"}, {Role: "assistant", Content: "noted"}},
		Emit: func(_ context.Context, ev core.Event) error { events = append(events, ev); return nil }}
	out, err := a.Execute(t.Context(), x)
	if err != nil {
		t.Fatal(err)
	}
	n := len(events)
	if n < 2 || events[n-2].Event != core.EventSessionSummaryStarted || events[n-1].Event != core.EventSessionSummaryCompleted {
		t.Fatalf("events end %v", events[max(0, n-3):])
	}
	var sum struct{ Summary string }
	if err := json.Unmarshal(events[n-1].SessionSummary, &sum); err != nil {
		t.Fatal(err)
	}
	want := "Summary: user: I like trains\nassistant: noted\nuser: plan my trip\nassistant: sure"
	if sum.Summary != want {
		t.Fatalf("summary = %q, want %q", sum.Summary, want)
	}
	if out.SessionSummary == nil || *out.SessionSummary != want {
		t.Fatalf("outcome's summary = %v", out.SessionSummary)
	}
	// (The engine stores it; here the test does.)
	if _, err := s.UpdateSession(t.Context(), core.UpdateSessionParams{SessionID: "s1", Summary: out.SessionSummary, UpdatedAt: 2}); err != nil {
		t.Fatal(err)
	}
	// The next run's summariser is given the summary so far.
	x.History = nil
	x.Message = "and hotels"
	events = nil
	out, _ = a.Execute(t.Context(), x)
	if !strings.HasPrefix(*out.SessionSummary, "Summary: Summary so far: "+want) {
		t.Fatalf("second summary = %q", *out.SessionSummary)
	}
	// A failing summariser leaves the summary and the run alone.
	bad := scripted.New(scripted.Config{Rules: []scripted.Rule{{System: agent.SessionSummarizerMarker, Error: "down"}, {Reply: "fine"}}})
	a2, _ := agent.New(agent.Config{ID: "a", Model: bad, Summaries: &agent.SummaryConfig{Store: s}})
	events = nil
	out, err = a2.Execute(t.Context(), x)
	if last := events[len(events)-1]; err != nil || out.Content != "fine" || last.Event != core.EventSessionSummaryCompleted || last.EventDetail != nil || out.SessionSummary != nil {
		t.Fatalf("failing summariser: %+v, %v", out, err)
	}
}
