package team_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/scripted"
)

// funcModel asks for the same tool calls on every request (a leader
// that never finishes).
type funcModel struct {
	calls []scripted.Call
	n     atomic.Int32
}

func (m *funcModel) Provider() string { return "test" }
func (m *funcModel) ID() string       { return "loop" }
func (m *funcModel) Generate(_ context.Context, _ model.Request, _ func(model.Delta) error) (*model.Response, error) {
	n := m.n.Add(1)
	var out []core.ToolCall
	for i, c := range m.calls {
		b, _ := json.Marshal(c.Arguments)
		out = append(out, core.ToolCall{ID: fmt.Sprintf("loop_%d_%d", n, i), Name: c.Name, Arguments: b})
	}
	return &model.Response{ToolCalls: out}, nil
}
