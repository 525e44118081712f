package mcp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// agentSpec declares a scripted agent (the golden files' "agents.json").
type agentSpec struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Chunks      int    `json:"chunks"`
	// ChunkDelay is in milliseconds.
	ChunkDelay int `json:"chunk_delay_ms"`
	Rules      []struct {
		Match     string `json:"match"`
		ToolCalls []struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		} `json:"tool_calls"`
		Reply         string `json:"reply"`
		RejectedReply string `json:"rejected_reply"`
		Error         string `json:"error"`
	} `json:"rules"`
	Tools []struct {
		Name                 string `json:"name"`
		RequiresConfirmation bool   `json:"requires_confirmation"`
	} `json:"tools"`
}

func (s agentSpec) build(t testing.TB) core.Agent {
	t.Helper()
	cfg := scripted.Config{Model: "demo-1", Chunks: s.Chunks, ChunkDelay: time.Duration(s.ChunkDelay) * time.Millisecond}
	for _, r := range s.Rules {
		rule := scripted.Rule{Match: r.Match, Reply: r.Reply, RejectedReply: r.RejectedReply, Error: r.Error}
		for _, c := range r.ToolCalls {
			rule.ToolCalls = append(rule.ToolCalls, scripted.Call{Name: c.Name, Arguments: c.Arguments})
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	var tools []*tool.Tool
	for _, ref := range s.Tools {
		tl, ok := tool.Builtins()[ref.Name]
		if !ok {
			t.Fatalf("agent %s: unknown tool %q", s.ID, ref.Name)
		}
		tl.RequiresConfirmation = ref.RequiresConfirmation
		tools = append(tools, tl)
	}
	a, err := agent.New(agent.Config{ID: s.ID, Name: s.Name, Description: s.Description, ModelName: "demo",
		Model: scripted.New(cfg), Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func parseAgents(t testing.TB, data []byte) []core.Agent {
	t.Helper()
	var specs []agentSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&specs); err != nil {
		t.Fatalf("agents: %v", err)
	}
	out := make([]core.Agent, 0, len(specs))
	for _, s := range specs {
		out = append(out, s.build(t))
	}
	return out
}

// newEngine returns an engine on a fresh SQLite file and an in-memory log.
// With deterministic set, ids are "id-1", "id-2", … and the clock is fixed.
func newEngine(t testing.TB, deterministic bool, agents ...core.Agent) *core.Engine {
	t.Helper()
	cfg := core.EngineConfig{LeaseTTL: -1}
	if deterministic {
		var n atomic.Int64
		cfg.NewID = func() string { return fmt.Sprintf("id-%d", n.Add(1)) }
		cfg.Now = func() time.Time { return time.Unix(1700000000, 0) }
	}
	return enginetest.New(t, enginetest.Options{Engine: cfg}, agents...).Engine
}
