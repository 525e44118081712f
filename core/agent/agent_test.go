package agent_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/tool"
)

// fakeSource is a tool source whose list the test changes.
type fakeSource struct {
	mu    sync.Mutex
	tools []*tool.Tool
}

func (s *fakeSource) Name() string { return "fake" }
func (s *fakeSource) Tools() []*tool.Tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tools
}
func (s *fakeSource) Close() error { return nil }
func (s *fakeSource) set(ts ...*tool.Tool) {
	s.mu.Lock()
	s.tools = ts
	s.mu.Unlock()
}

func echoTool(name string) *tool.Tool {
	return &tool.Tool{Name: name, Description: "echo " + name, Call: func(_ context.Context, args json.RawMessage) (string, error) {
		return name + ":" + string(args), nil
	}}
}

// turnModel answers turn i with turns[i] and records the tools offered.
type turnModel struct {
	turns   []model.Response
	offered [][]string
}

func (m *turnModel) Provider() string { return "test" }
func (m *turnModel) ID() string       { return "turns" }
func (m *turnModel) Generate(_ context.Context, req model.Request, _ func(model.Delta) error) (*model.Response, error) {
	var names []string
	for _, t := range req.Tools {
		names = append(names, t.Name)
	}
	m.offered = append(m.offered, names)
	r := m.turns[len(m.offered)-1]
	return &r, nil
}

func execution(events *[]core.Event) *core.Execution {
	return &core.Execution{Run: &core.Run{RunID: "r"}, Message: "hi", Emit: func(_ context.Context, ev core.Event) error {
		*events = append(*events, ev)
		return nil
	}}
}

func call(id, name string) core.ToolCall {
	return core.ToolCall{ID: id, Name: name, Arguments: json.RawMessage(`{}`)}
}

func TestSourceToolsAreListedPerModelRequest(t *testing.T) {
	src := &fakeSource{}
	src.set(echoTool("src_a"), echoTool("calculator"))
	m := &turnModel{turns: []model.Response{
		{ToolCalls: []core.ToolCall{call("1", "src_a")}},
		{ToolCalls: []core.ToolCall{call("2", "src_b")}},
		{Content: "done"},
	}}
	a, err := agent.New(agent.Config{ID: "a", Model: m, Tools: []*tool.Tool{tool.Calculator()}, Sources: []tool.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Info().Tools; len(got) != 2 || got[0].Name != "calculator" || got[1].Name != "src_a" {
		t.Fatalf("info lists %+v", got)
	}
	var evs []core.Event
	x := execution(&evs)
	orig := x.Emit
	x.Emit = func(ctx context.Context, ev core.Event) error {
		// The server's list changes while the first tool runs.
		if ev.Event == core.EventToolCallCompleted && ev.Tool.ToolName == "src_a" {
			src.set(echoTool("src_a"), echoTool("src_b"))
		}
		return orig(ctx, ev)
	}
	out, err := a.Execute(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if out.Content != "done" || len(out.Tools) != 2 || out.Tools[1].Result != "src_b:{}" {
		t.Fatalf("outcome %+v", out)
	}
	// The static calculator wins over the source's tool of the same name.
	if !slices.Equal(m.offered[0], []string{"calculator", "src_a"}) || !slices.Equal(m.offered[1], []string{"calculator", "src_a", "src_b"}) {
		t.Fatalf("tools offered per turn: %v", m.offered)
	}
}

func TestSourceFlagsPauseAndUnknownToolsFail(t *testing.T) {
	src := &fakeSource{}
	src.set(echoTool("src_write"), echoTool("src_read"))
	m := &turnModel{turns: []model.Response{
		{ToolCalls: []core.ToolCall{call("1", "src_read"), call("2", "gone"), call("3", "src_write")}},
	}}
	a, err := agent.New(agent.Config{ID: "a", Model: m, Sources: []tool.Source{src},
		SourceFlags: map[string]tool.Flags{"src_write": {RequiresConfirmation: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var evs []core.Event
	out, err := a.Execute(context.Background(), execution(&evs))
	if err != nil {
		t.Fatal(err)
	}
	if out.Paused == nil || len(out.Paused.Pending) != 1 || out.Paused.Pending[0].ToolName != "src_write" || !out.Paused.Pending[0].RequiresConfirmation {
		t.Fatalf("paused %+v", out.Paused)
	}
	var failed bool
	for _, ev := range evs {
		if ev.Event == core.EventToolCallError && ev.Tool.ToolName == "gone" {
			failed = true
		}
	}
	if !failed || len(out.Tools) != 2 || out.Tools[0].Result != "src_read:{}" {
		t.Fatalf("events %v, tools %+v", evs, out.Tools)
	}
	if info := a.Info(); !info.Tools[0].RequiresConfirmation || info.Tools[1].RequiresConfirmation {
		t.Fatalf("info flags: %+v", info.Tools)
	}
}
