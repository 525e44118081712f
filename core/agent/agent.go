// Package agent is the built-in LLM agent: a model, instructions, tools and
// session history, with the tool-call loop and human-in-the-loop pauses.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/mediaprep"
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
	// Sources offer tools that may change while the agent lives (MCP
	// servers). Their tools are listed anew for every model request.
	Sources []tool.Source
	// SourceFlags sets human-in-the-loop flags on tools of Sources, by
	// the tool's name as the model sees it.
	SourceFlags map[string]tool.Flags
	// MaxTurns bounds model requests per run (default 10).
	MaxTurns int
	// Memory, when set, gives the agent memory of its users (memory.go).
	Memory *MemoryConfig
	// Knowledge, when set, gives the agent a knowledge base (knowledge.go).
	Knowledge *KnowledgeConfig
	// Summaries, when set, summarises the session after each run
	// (summary.go).
	Summaries *SummaryConfig
}

// Agent is the built-in LLM agent. It is safe for concurrent runs.
type Agent struct {
	cfg   Config
	tools map[string]*tool.Tool // the static tools
	info  core.AgentInfo        // with the static tools
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
	if cfg.Memory != nil && cfg.Memory.Store == nil {
		return nil, fmt.Errorf("agent %s: memory needs a store", cfg.ID)
	}
	if cfg.Summaries != nil && cfg.Summaries.Store == nil {
		return nil, fmt.Errorf("agent %s: session summaries need a store", cfg.ID)
	}
	if cfg.Knowledge != nil && cfg.Knowledge.Search == nil {
		return nil, fmt.Errorf("agent %s: knowledge needs a search", cfg.ID)
	}
	a := &Agent{cfg: cfg, tools: map[string]*tool.Tool{}}
	if cfg.Knowledge != nil && cfg.Knowledge.SearchKnowledge {
		cfg.Tools = append(slices.Clip(cfg.Tools), a.knowledgeTool())
	}
	if cfg.Memory != nil && cfg.Memory.Agentic {
		cfg.Tools = append(slices.Clip(cfg.Tools), a.memoryTools()...)
	}
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

// Info implements core.Agent. It lists the sources' tools as last listed.
func (a *Agent) Info() core.AgentInfo {
	if len(a.cfg.Sources) == 0 {
		return a.info
	}
	info := a.info
	_, infos := a.toolset()
	info.Tools = infos
	return info
}

// toolset returns the tools offered for one model request: the static
// tools, then each source's current tools with their configured flags. A
// source tool whose name another tool already has is left out.
func (a *Agent) toolset() (map[string]*tool.Tool, []core.ToolInfo) {
	if len(a.cfg.Sources) == 0 {
		return a.tools, a.info.Tools
	}
	tools := make(map[string]*tool.Tool, len(a.tools)+8)
	infos := append(make([]core.ToolInfo, 0, len(a.info.Tools)+8), a.info.Tools...)
	for name, t := range a.tools {
		tools[name] = t
	}
	for _, src := range a.cfg.Sources {
		for _, t := range src.Tools() {
			if t == nil || t.Name == "" || tools[t.Name] != nil {
				continue
			}
			if f, ok := a.cfg.SourceFlags[t.Name]; ok {
				c := *t
				c.Flags = f
				t = &c
			}
			tools[t.Name] = t
			infos = append(infos, t.Info())
		}
	}
	return tools, infos
}

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
	tools, _ := a.toolset() // for the paused calls a continue resolves
	used := &refs{}
	if x.Run != nil {
		used.filters = x.Run.Input.KnowledgeFilters
	}
	if a.cfg.Knowledge != nil {
		ctx = context.WithValue(ctx, refsKey{}, used)
	}
	if x.Resume != nil {
		used.list = append(used.list, x.Resume.References...)
		if x.Resume.Metrics != nil {
			metrics = *x.Resume.Metrics
		}
		msgs = append(msgs, x.Resume.Messages...)
		inputAt = min(max(x.Resume.RunStart, 0), len(msgs))
		execs = append(execs, x.Resume.Done...)
		turns = x.Resume.Turns
		for _, p := range x.Resume.Pending {
			te, msg, err := a.resolve(ctx, x, tools, p)
			if err != nil {
				return nil, err
			}
			execs = append(execs, te)
			msgs = append(msgs, msg)
		}
	} else {
		mems, err := a.memoryContext(ctx, x.Run)
		if err != nil {
			return nil, err
		}
		refCtx, err := a.referencesContext(ctx, x.Message)
		if err != nil {
			return nil, err
		}
		if sys := joinSections(joinSections(a.cfg.Instructions, mems), refCtx); sys != "" {
			msgs = append(msgs, core.Message{Role: "system", Content: sys, CreatedAt: now})
		}
		msgs = append(msgs, x.History...)
		inputAt = len(msgs)
		user := core.Message{Role: "user", Content: x.Message, CreatedAt: now}
		if x.Run != nil {
			user.Media = x.Run.Input.Media()
		}
		msgs = append(msgs, user)
	}
	start := time.Now()
	prior := metrics.Duration
	media := &mediaprep.Cache{}
	for {
		if turns >= a.cfg.MaxTurns {
			return nil, &core.AgentError{Type: "max_turns", Err: fmt.Errorf("agent made %d model requests without a final answer", turns)}
		}
		turns++
		tools, infos := a.toolset() // sources may have changed since the last turn
		prepared, err := media.Prepare(ctx, a.cfg.Model, x.Media, msgs, inputAt)
		if err != nil {
			return nil, err
		}
		req := model.Request{Messages: prepared, Tools: infos}
		resp, err := model.Stream(ctx, a.cfg.Model, req, *a.info.Model, x.Emit)
		if err != nil {
			return nil, err
		}
		metrics.Add(resp.Usage)
		msgs = append(msgs, core.Message{Role: "assistant", Content: resp.Content, ToolCalls: resp.ToolCalls, CreatedAt: time.Now().Unix()})
		if len(resp.ToolCalls) == 0 {
			if err := x.Emit(ctx, core.Event{Event: core.EventRunContentCompleted}); err != nil {
				return nil, err
			}
			if err := a.updateMemories(ctx, x, runInput(msgs, inputAt)); err != nil {
				return nil, err
			}
			summary, err := a.summarise(ctx, x, msgs[inputAt:])
			if err != nil {
				return nil, err
			}
			metrics.Duration = prior + time.Since(start).Seconds()
			return &core.Outcome{Content: resp.Content, Messages: ownMessages(msgs, inputAt), Tools: execs, Metrics: metrics, References: used.all(), SessionSummary: summary}, nil
		}
		var pending, done []core.ToolExecution
		for _, call := range resp.ToolCalls {
			te := core.ToolExecution{ToolCallID: call.ID, ToolName: call.Name, ToolArgs: call.Arguments, CreatedAt: time.Now().Unix()}
			if t, ok := tools[call.Name]; ok && t.Pauses() {
				pending = append(pending, pauseFor(t, te))
				continue
			}
			te, msg, err := a.call(ctx, x, tools, te)
			if err != nil {
				return nil, err
			}
			done = append(done, te)
			msgs = append(msgs, msg)
		}
		execs = append(execs, done...)
		if len(pending) > 0 {
			metrics.Duration = prior + time.Since(start).Seconds()
			carried := metrics
			return &core.Outcome{
				Messages: ownMessages(msgs, inputAt), Tools: execs, Metrics: metrics,
				Paused: &core.PausedState{Messages: msgs, RunStart: inputAt, Pending: pending, Done: execs, Turns: turns, Metrics: &carried, References: used.all()},
			}, nil
		}
	}
}

// runInput is the user's message of the run (msgs[inputAt]).
func runInput(msgs []core.Message, inputAt int) string {
	if inputAt < len(msgs) && msgs[inputAt].Role == "user" {
		return msgs[inputAt].Content
	}
	return ""
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

// pauseFor marks a tool call that waits for a person or the caller, as
// the tool's flags say.
func pauseFor(t *tool.Tool, te core.ToolExecution) core.ToolExecution {
	te.RequiresConfirmation = t.RequiresConfirmation
	te.ExternalExecutionRequired = t.ExternalExecution
	if t.RequiresUserInput {
		te.RequiresUserInput = true
		te.UserInputSchema = userInputSchema(t)
	}
	if t.Approval != "" {
		te.ApprovalType = t.Approval
		if !te.Pauses() {
			// An approval with nothing else asked is a confirmation, by
			// an approver.
			te.RequiresConfirmation = true
		}
		if t.AutoContinue || t.ApprovalExpiresIn > 0 {
			te.Approval = &core.ApprovalPolicy{AutoContinue: t.AutoContinue, ExpiresIn: int64(t.ApprovalExpiresIn / time.Second)}
		}
	}
	return te
}

// userInputSchema lists the fields a user supplies: the tool's
// UserInputFields, or every property of its schema, in agno's shape.
func userInputSchema(t *tool.Tool) []core.UserInputField {
	props, _ := t.Parameters["properties"].(map[string]any)
	names := t.UserInputFields
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(props))
	}
	out := make([]core.UserInputField, 0, len(names))
	for _, name := range names {
		f := core.UserInputField{Name: name, FieldType: "str"}
		if p, ok := props[name].(map[string]any); ok {
			f.Description, _ = p["description"].(string)
			f.FieldType = pyType(p["type"])
		}
		out = append(out, f)
	}
	return out
}

// pyType names a JSON Schema type the way agno (Python) does.
func pyType(t any) string {
	switch t {
	case "integer":
		return "int"
	case "number":
		return "float"
	case "boolean":
		return "bool"
	case "array":
		return "list"
	case "object":
		return "dict"
	}
	return "str"
}

// resolve applies a decision on a paused tool call: a rejection, an
// external execution's result, or the user's input merged into the
// arguments before the call.
func (a *Agent) resolve(ctx context.Context, x *core.Execution, tools map[string]*tool.Tool, p core.ToolExecution) (core.ToolExecution, core.Message, error) {
	if p.Confirmed != nil && !*p.Confirmed {
		p.Result = core.ToolRejectedResult
		if p.ConfirmationNote != "" {
			p.Result += " " + p.ConfirmationNote
		}
		return p, core.Message{Role: "tool", ToolCallID: p.ToolCallID, Name: p.ToolName, Content: p.Result, CreatedAt: time.Now().Unix()}, nil
	}
	if p.RequiresUserInput {
		args, err := mergeInput(p.ToolArgs, p.UserInputSchema)
		if err != nil {
			return p, core.Message{}, &core.AgentError{Type: "tool_error", Err: fmt.Errorf("tool call %s: %w", p.ToolCallID, err)}
		}
		p.ToolArgs = args
	}
	if p.ExternalExecutionRequired {
		started := p
		if err := x.Emit(ctx, core.Event{Event: core.EventToolCallStarted, Tool: &started}); err != nil {
			return p, core.Message{}, err
		}
		done := p
		if err := x.Emit(ctx, core.Event{Event: core.EventToolCallCompleted, Tool: &done, Content: p.Result}); err != nil {
			return p, core.Message{}, err
		}
		return p, core.Message{Role: "tool", ToolCallID: p.ToolCallID, Name: p.ToolName, Content: p.Result, CreatedAt: time.Now().Unix()}, nil
	}
	return a.call(ctx, x, tools, p)
}

// mergeInput sets the user's values into the model's arguments object.
func mergeInput(raw json.RawMessage, fields []core.UserInputField) (json.RawMessage, error) {
	args := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, fmt.Errorf("arguments are not a JSON object: %v", err)
		}
		if args == nil {
			args = map[string]any{}
		}
	}
	for _, f := range fields {
		args[f.Name] = f.Value
	}
	return json.Marshal(args)
}

// call executes one tool, emitting ToolCallStarted and ToolCallCompleted or
// ToolCallError. A failing tool does not fail the run: its error goes back
// to the model.
func (a *Agent) call(ctx context.Context, x *core.Execution, tools map[string]*tool.Tool, te core.ToolExecution) (core.ToolExecution, core.Message, error) {
	started := te
	if err := x.Emit(ctx, core.Event{Event: core.EventToolCallStarted, Tool: &started}); err != nil {
		return te, core.Message{}, err
	}
	start := time.Now()
	var (
		result string
		media  []tool.Medium
		err    error
	)
	if t, ok := tools[te.ToolName]; !ok {
		err = fmt.Errorf("unknown tool %q", te.ToolName)
	} else {
		result, media, err = safeCall(core.WithRun(core.ToolContext(ctx, x.Run, te.ToolCallID), x.Run), t, te.ToolArgs)
	}
	if err == nil && len(media) > 0 {
		te.Media, result = storeToolMedia(ctx, x, te.ToolName, media, result)
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
		ev := core.Event{Event: core.EventToolCallCompleted, Tool: &done, Content: result}
		if len(te.Media) > 0 {
			ev.Detail().RunMedia = core.ToolMedia([]core.ToolExecution{te})
		}
		if err := x.Emit(ctx, ev); err != nil {
			return te, core.Message{}, err
		}
	}
	return te, core.Message{Role: "tool", ToolCallID: te.ToolCallID, Name: te.ToolName, Content: te.Result, CreatedAt: end.Unix()}, nil
}

func safeCall(ctx context.Context, t *tool.Tool, args json.RawMessage) (out string, media []tool.Medium, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tool %s failed: %v", t.Name, r)
		}
	}()
	if t.CallOutput != nil {
		o, err := t.CallOutput(ctx, args)
		return o.Text, o.Media, err
	}
	out, err = t.Call(ctx, args)
	return out, nil, err
}

// storeToolMedia stores the media a tool returned and returns their
// references, and the result the model gets: a medium that cannot be
// stored (no media store, a type the gateway does not take, over the
// limit) is said so in it, never silently dropped.
func storeToolMedia(ctx context.Context, x *core.Execution, toolName string, media []tool.Medium, result string) ([]core.MediaRef, string) {
	var refs []core.MediaRef
	for i, m := range media {
		name := m.Name
		if name == "" {
			name = fmt.Sprintf("%s-%d", toolName, i+1)
		}
		if x.StoreMedia == nil {
			result += fmt.Sprintf("\n[%s %q not kept: the gateway keeps no media]", m.MIMEType, name)
			continue
		}
		ref, err := x.StoreMedia(ctx, name, m.MIMEType, m.Data)
		if err != nil {
			result += fmt.Sprintf("\n[%s %q not kept: %v]", m.MIMEType, name, err)
			continue
		}
		refs = append(refs, ref)
	}
	return refs, result
}

var _ core.Agent = (*Agent)(nil)
