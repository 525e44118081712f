package agentgate

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/anthropic"
	"github.com/agentgate/agentgate/core/model/openai"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/remote"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/tool/httptool"
	"github.com/agentgate/agentgate/core/tool/mcptool"
	"github.com/agentgate/agentgate/core/tool/scheduletool"
	"github.com/agentgate/agentgate/transport/egress"
)

// BuildModel returns the model a ModelConfig declares.
func BuildModel(name string, mc ModelConfig) (model.Model, error) {
	retries := 2
	if mc.MaxRetries != nil {
		retries = *mc.MaxRetries
		if retries == 0 {
			retries = -1 // the providers read 0 as their default
		}
	}
	switch mc.Provider {
	case "scripted":
		rules := make([]scripted.Rule, 0, len(mc.Script))
		for _, r := range mc.Script {
			calls := make([]scripted.Call, 0, len(r.ToolCalls))
			for _, c := range r.ToolCalls {
				calls = append(calls, scripted.Call{Name: c.Name, Arguments: c.Arguments})
			}
			rules = append(rules, scripted.Rule{Match: r.Match, System: r.System, ToolCalls: calls, Reply: r.Reply, RejectedReply: r.RejectedReply, Error: r.Error})
		}
		return scripted.New(scripted.Config{Model: mc.Model, Chunks: mc.Chunks, ChunkDelay: mc.ChunkDelay, Rules: rules}), nil
	case "openai":
		m, err := openai.New(openai.Config{
			Model: mc.Model, BaseURL: mc.BaseURL, APIKey: mc.APIKey, Timeout: mc.Timeout, MaxRetries: retries,
			MaxTokens: mc.MaxTokens, Temperature: mc.Temperature, Headers: mc.Headers,
		})
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", name, err)
		}
		return m, nil
	case "anthropic":
		m, err := anthropic.New(anthropic.Config{
			Model: mc.Model, BaseURL: mc.BaseURL, APIKey: mc.APIKey, Timeout: mc.Timeout, MaxRetries: retries,
			MaxTokens: mc.MaxTokens, Temperature: mc.Temperature, ThinkingBudget: mc.ThinkingBudget, Headers: mc.Headers,
		})
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", name, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("model %s: provider %q is not available", name, mc.Provider)
}

// buildHTTPTool builds an http_tools entry. guard (nil when only
// validating) dials the tool's calls when its URL template lets the
// arguments — the model, so whoever writes the prompt — choose the host:
// then internal addresses are refused as for any caller-chosen URL.
func buildHTTPTool(name string, hc HTTPToolConfig, guard *egress.Guard) (*tool.Tool, error) {
	spec := httptool.Spec{
		Name: name, Description: hc.Description, Parameters: hc.Parameters, Method: hc.Method, URL: hc.URL,
		Headers: hc.Headers, Body: hc.Body, Timeout: hc.Timeout, MaxResponseBytes: hc.MaxResponseBytes,
	}
	if guard != nil && templatedHost(hc.URL) {
		spec.Dial = guard.DialContext
	}
	return httptool.New(spec)
}

// templatedHost reports whether an RFC 6570 URL template may expand to a
// host the arguments choose: an expression before the end of its
// authority ("http://{host}/", "{+url}", "https://api.example{+path}",
// conservatively also "https://api.example{/path}").
func templatedHost(tmpl string) bool {
	i := strings.Index(tmpl, "://")
	if i < 0 {
		return strings.Contains(tmpl, "{")
	}
	authority := tmpl[i+3:]
	if end := strings.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	return strings.Contains(tmpl[:i], "{") || strings.Contains(authority, "{")
}

// knownTool reports whether name is a built-in or a declared HTTP tool.
func (c *Config) knownTool(name string) bool {
	if _, ok := tool.Builtins()[name]; ok {
		return true
	}
	if name == scheduletool.SetName {
		return true // the schedule tool set
	}
	_, ok := c.HTTPTools[name]
	return ok
}

// startMCPServer connects to a declared MCP server once; agents that use
// it share the connection.
func (g *Gateway) startMCPServer(ctx context.Context, started map[string]tool.Source, name string) (tool.Source, error) {
	if src, ok := started[name]; ok {
		return src, nil
	}
	mc := g.cfg.MCPServers[name]
	src, err := mcptool.Start(ctx, mc.Config(name, g.logger, Version))
	if err != nil {
		return nil, err
	}
	started[name] = src
	g.sources = append(g.sources, src)
	return src, nil
}

func (g *Gateway) buildAgents(ctx context.Context) error {
	g.models = map[string]model.Model{}
	for name, mc := range g.cfg.Models {
		m, err := BuildModel(name, mc)
		if err != nil {
			return err
		}
		g.models[name] = m
	}
	g.mcpStarted = map[string]tool.Source{}
	for _, ac := range g.cfg.Agents {
		a, err := g.buildAgent(ctx, ac)
		if err != nil {
			return err
		}
		if err := g.eng.RegisterAgent(a); err != nil {
			return err
		}
	}
	return g.buildTeams()
}

// buildAgent builds the agent of an agents entry (validated), with the
// gateway's models and MCP connections (started on first use). The
// components build theirs with it too.
func (g *Gateway) buildAgent(ctx context.Context, ac AgentConfig) (core.Runnable, error) {
	models, started := g.models, g.mcpStarted
	if ac.Remote != nil {
		// The operator's URL is dialled as configured; what the remote
		// names elsewhere (a card's interface URL, a redirect) follows
		// the egress rules.
		rc := ac.remoteConfig()
		rc.Dial = g.egress.DialContext
		return remote.New(rc)
	}
	var (
		tools   []*tool.Tool
		sources []tool.Source
		flags   = map[string]tool.Flags{}
		using   = map[string]bool{}
	)
	for _, ref := range ac.Tools {
		f := ref.Flags()
		if ref.MCPServer != "" {
			if !using[ref.MCPServer] {
				src, err := g.startMCPServer(ctx, started, ref.MCPServer)
				if err != nil {
					return nil, fmt.Errorf("agent %s: %w", ac.ID, err)
				}
				using[ref.MCPServer] = true
				sources = append(sources, src)
			}
			if ref.Name != "" {
				flags[ref.Name] = f
			}
			continue
		}
		if ref.Name == scheduletool.SetName {
			if g.schedules == nil {
				return nil, fmt.Errorf("agent %s: the schedule tools need schedules (schedules.enabled is false)", ac.ID)
			}
			for _, st := range scheduletool.Tools(g.schedules) {
				st.Flags = f
				tools = append(tools, st)
			}
			continue
		}
		var t *tool.Tool
		if b, ok := tool.Builtins()[ref.Name]; ok {
			t = b
		} else if hc, ok := g.cfg.HTTPTools[ref.Name]; ok {
			var err error
			if t, err = buildHTTPTool(ref.Name, hc, g.egress); err != nil {
				return nil, fmt.Errorf("agent %s: http tool %s: %w", ac.ID, ref.Name, err)
			}
		} else {
			return nil, fmt.Errorf("agent %s: unknown tool %q", ac.ID, ref.Name)
		}
		t.Flags = f
		tools = append(tools, t)
	}
	return agent.New(agent.Config{
		ID: ac.ID, Name: ac.Name, Description: ac.Description, Instructions: ac.Instructions,
		ModelName: ac.Model, Model: models[ac.Model], Tools: tools, Sources: sources, SourceFlags: flags,
		MaxTurns: ac.MaxTurns, Memory: g.agentMemory(ac.Memory, models),
		Knowledge: g.agentKnowledge(ac), Summaries: g.agentSummaries(ac, models),
	})
}
