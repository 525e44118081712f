// Package agent is the built-in LLM agent: a model, instructions, tools and
// session history, with the tool-call loop and human-in-the-loop pauses.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/tool"
)

// Config describes a built-in agent.
type Config struct {
	ID           string
	Name         string
	Description  string
	Instructions string
	// ModelName is the configured name of the model (what agents refer to).
	ModelName string
	Model     model.Model
	Tools     []*tool.Tool
	// MaxTurns bounds model requests per run (default 10).
	MaxTurns int
}

// Agent is the built-in LLM agent. It is safe for concurrent runs.
type Agent struct {
	cfg   Config
	tools map[string]*tool.Tool
	info  core.AgentInfo
}

// New validates cfg and returns the agent.
func New(cfg Config) (*Agent, error) {
	if cfg.ID == "" {
		return nil, errors.New("agent: id is required")
	}
	if cfg.Model == nil {
		return nil, fmt.Errorf("agent %s: a model is required", cfg.ID)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.ID
	}
	if cfg.MaxTurns <= 0 {
		cfg.MaxTurns = 10
	}
	a := &Agent{cfg: cfg, tools: map[string]*tool.Tool{}}
	a.info = core.AgentInfo{
		ID: cfg.ID, Name: cfg.Name, Description: cfg.Description, Instructions: cfg.Instructions,
		Model: &core.ModelInfo{Name: cfg.ModelName, Model: cfg.Model.ID(), Provider: cfg.Model.Provider()},
	}
	for _, t := range cfg.Tools {
		if t == nil || t.Name == "" || t.Call == nil {
			return nil, fmt.Errorf("agent %s: a tool has no name or no function", cfg.ID)
		}
		if _, dup := a.tools[t.Name]; dup {
			return nil, fmt.Errorf("agent %s: tool %q listed twice", cfg.ID, t.Name)
		}
		a.tools[t.Name] = t
		a.info.Tools = append(a.info.Tools, t.Info())
	}
	return a, nil
}

// Info implements core.Agent.
func (a *Agent) Info() core.AgentInfo { return a.info }

// Execute implements core.Agent: the tool-call loop.
func (a *Agent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	var (
		msgs    []core.Message
		execs   []core.ToolExecution
		metrics core.Metrics
		turns   int
		inputAt int // index in msgs of the run's input: history comes before
	)
	now := time.Now().Unix()
	if x.Resume != nil {
		msgs = append(msgs, x.Resume.Messages...)
		inputAt = min(max(x.Resume.RunStart, 0), len(msgs))
		execs = append(execs, x.Resume.Done...)
		turns = x.Resume.Turns
		for _, p := range x.Resume.Pending {
			te, msg, err := a.resolve(ctx, x, p)
			if err != nil {
				return nil, err
			}
			execs = append(execs, te)
			msgs = append(msgs, msg)
		}
	} else {
		if a.cfg.Instructions != "" {
			msgs = append(msgs, core.Message{Role: "system", Content: a.cfg.Instructions, CreatedAt: now})
		}
		msgs = append(msgs, x.History...)
		inputAt = len(msgs)
		msgs = append(msgs, core.Message{Role: "user", Content: x.Message, CreatedAt: now})
	}
	start := time.Now()
	for {
		if turns >= a.cfg.MaxTurns {
			return nil, &core.AgentError{Type: "max_turns", Err: fmt.Errorf("agent made %d model requests without a final answer", turns)}
		}
		turns++
		info := a.info.Model
		if err := x.Emit(ctx, core.Event{Event: core.EventModelRequestStarted, Model: info.Model, ModelProvider: info.Provider}); err != nil {
			return nil, err
		}
		reqStart := time.Now()
		var ttft float64
		var emitErr error // a failure to record an event is not the model's
		resp, err := a.cfg.Model.Generate(ctx, model.Request{Messages: msgs, Tools: a.info.Tools}, func(d model.Delta) error {
			if ttft == 0 {
				ttft = time.Since(reqStart).Seconds()
			}
			if d.Reasoning != "" {
				if emitErr = x.Emit(ctx, core.Event{Event: core.EventReasoningContentDelta, ReasoningContent: d.Reasoning}); emitErr != nil {
					return emitErr
				}
			}
			if d.Content != "" {
				emitErr = x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: d.Content, ContentType: "str"})
				return emitErr
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if emitErr != nil {
				return nil, emitErr
			}
			var ae *core.AgentError
			if errors.As(err, &ae) {
				return nil, err
			}
			return nil, &core.AgentError{Type: "model_error", Err: err}
		}
		u := resp.Usage
		u.TimeToFirstToken = ttft
		metrics.Add(u)
		if err := x.Emit(ctx, core.Event{
			Event: core.EventModelRequestCompleted, Model: info.Model, ModelProvider: info.Provider,
			InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.TotalTokens, TimeToFirstToken: ttft,
		}); err != nil {
			return nil, err
		}
		msgs = append(msgs, core.Message{Role: "assistant", Content: resp.Content, ToolCalls: resp.ToolCalls, CreatedAt: time.Now().Unix()})
		if len(resp.ToolCalls) == 0 {
			if err := x.Emit(ctx, core.Event{Event: core.EventRunContentCompleted}); err != nil {
				return nil, err
			}
			metrics.Duration = time.Since(start).Seconds()
			return &core.Outcome{Content: resp.Content, Messages: ownMessages(msgs, inputAt), Tools: execs, Metrics: metrics}, nil
		}
		var pending, done []core.ToolExecution
		for _, call := range resp.ToolCalls {
			te := core.ToolExecution{ToolCallID: call.ID, ToolName: call.Name, ToolArgs: call.Arguments, CreatedAt: time.Now().Unix()}
			if t, ok := a.tools[call.Name]; ok && t.RequiresConfirmation {
				te.RequiresConfirmation = true
				pending = append(pending, te)
				continue
			}
			te, msg, err := a.call(ctx, x, te)
			if err != nil {
				return nil, err
			}
			done = append(done, te)
			msgs = append(msgs, msg)
		}
		execs = append(execs, done...)
		if len(pending) > 0 {
			return &core.Outcome{
				Messages: ownMessages(msgs, inputAt), Tools: execs, Metrics: metrics,
				Paused: &core.PausedState{Messages: msgs, RunStart: inputAt, Pending: pending, Done: execs, Turns: turns},
			}, nil
		}
	}
}

// ownMessages is what a run stores as its messages: the instructions and
// everything from the run's input on, not the session's history (which
// the stored runs before it already hold).
func ownMessages(msgs []core.Message, start int) []core.Message {
	out := make([]core.Message, 0, len(msgs)-start+1)
	if len(msgs) > 0 && msgs[0].Role == "system" && start > 0 {
		out = append(out, msgs[0])
	}
	return append(out, msgs[start:]...)
}

// resolve applies a user's decision on a paused tool call.
func (a *Agent) resolve(ctx context.Context, x *core.Execution, p core.ToolExecution) (core.ToolExecution, core.Message, error) {
	if p.Confirmed != nil && !*p.Confirmed {
		p.Result = core.ToolRejectedResult
		if p.ConfirmationNote != "" {
			p.Result += " " + p.ConfirmationNote
		}
		return p, core.Message{Role: "tool", ToolCallID: p.ToolCallID, Name: p.ToolName, Content: p.Result, CreatedAt: time.Now().Unix()}, nil
	}
	return a.call(ctx, x, p)
}

// call executes one tool, emitting ToolCallStarted and ToolCallCompleted or
// ToolCallError. A failing tool does not fail the run: its error goes back
// to the model.
func (a *Agent) call(ctx context.Context, x *core.Execution, te core.ToolExecution) (core.ToolExecution, core.Message, error) {
	started := te
	if err := x.Emit(ctx, core.Event{Event: core.EventToolCallStarted, Tool: &started}); err != nil {
		return te, core.Message{}, err
	}
	start := time.Now()
	var (
		result string
		err    error
	)
	if t, ok := a.tools[te.ToolName]; !ok {
		err = fmt.Errorf("unknown tool %q", te.ToolName)
	} else {
		result, err = safeCall(ctx, t, te.ToolArgs)
	}
	end := time.Now()
	te.Metrics = &core.ToolMetrics{
		StartTime: float64(start.UnixMilli()) / 1000, EndTime: float64(end.UnixMilli()) / 1000,
		Duration: end.Sub(start).Seconds(),
	}
	if ctx.Err() != nil {
		return te, core.Message{}, ctx.Err()
	}
	if err != nil {
		te.ToolCallError = true
		te.Result = "Error: " + err.Error()
		done := te
		if err := x.Emit(ctx, core.Event{Event: core.EventToolCallError, Tool: &done, Error: err.Error()}); err != nil {
			return te, core.Message{}, err
		}
	} else {
		te.Result = result
		done := te
		if err := x.Emit(ctx, core.Event{Event: core.EventToolCallCompleted, Tool: &done, Content: result}); err != nil {
			return te, core.Message{}, err
		}
	}
	return te, core.Message{Role: "tool", ToolCallID: te.ToolCallID, Name: te.ToolName, Content: te.Result, CreatedAt: end.Unix()}, nil
}

func safeCall(ctx context.Context, t *tool.Tool, args json.RawMessage) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tool %s failed: %v", t.Name, r)
		}
	}()
	return t.Call(ctx, args)
}

var _ core.Agent = (*Agent)(nil)
