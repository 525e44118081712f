package tracing

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace"
)

// GenAI semantic-convention attribute keys (gen_ai.*).
const (
	AttrGenAIOperation    = "gen_ai.operation.name"
	AttrGenAISystem       = "gen_ai.system"
	AttrGenAIProvider     = "gen_ai.provider.name"
	AttrGenAIRequestModel = "gen_ai.request.model"
	AttrGenAIInputTokens  = "gen_ai.usage.input_tokens"
	AttrGenAIOutputTokens = "gen_ai.usage.output_tokens"
	AttrGenAIAgentID      = "gen_ai.agent.id"
	AttrGenAIAgentName    = "gen_ai.agent.name"
	AttrGenAIConversation = "gen_ai.conversation.id"
	AttrGenAIToolName     = "gen_ai.tool.name"
	AttrGenAIToolCallID   = "gen_ai.tool.call.id"
	AttrGenAIToolArgs     = "gen_ai.tool.call.arguments"
	// AttrTTFT is the model request's time to first token, in seconds.
	AttrTTFT = "agentgate.llm.time_to_first_token"
	// AttrTotalTokens is the run's (or request's) total tokens.
	AttrTotalTokens = "agentgate.usage.total_tokens"
)

// maxValue bounds the input and output values recorded on a span.
const maxValue = 4096

// maxPaused bounds the paused runs whose span context is remembered for
// their continue.
const maxPaused = 10000

// The span kinds' start options, made once (an option is an interface
// value: making one per span allocates).
var (
	kindInternal = oteltrace.WithSpanKind(oteltrace.SpanKindInternal)
	kindServer   = oteltrace.WithSpanKind(oteltrace.SpanKindServer)
	kindClient   = oteltrace.WithSpanKind(oteltrace.SpanKindClient)
	// Start's options as slices: a variadic call through the Tracer
	// interface otherwise allocates its slice of options each time.
	startInternal = []oteltrace.SpanStartOption{kindInternal}
	startServer   = []oteltrace.SpanStartOption{kindServer}
)

// maxNames bounds the span names an Observer keeps made.
const maxNames = 4096

// spanNames keeps the span names made ("chat " + model, "invoke_agent " +
// agent name, ...): the same few names start every run's spans, and
// concatenating them anew allocates each time. Bounded: past maxNames a
// name is made each time.
type spanNames struct {
	mu sync.RWMutex
	m  map[[2]string]string // {operation, name} → "operation name"
}

// of is the span name op + " " + name.
func (s *spanNames) of(op, name string) string {
	k := [2]string{op, name}
	s.mu.RLock()
	full, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return full
	}
	full = op + " " + name
	s.mu.Lock()
	if s.m == nil {
		s.m = map[[2]string]string{}
	}
	if len(s.m) < maxNames {
		s.m[k] = full
	}
	s.mu.Unlock()
	return full
}

// Observer is the core.RunObserver building spans from runs' events.
type Observer struct {
	tracer oteltrace.Tracer
	prop   propagation.TraceContext
	names  spanNames

	runs sync.Map // run id → *runState

	pausedMu sync.Mutex
	paused   map[string]oteltrace.SpanContext // paused run → its last segment's span
}

// NewObserver returns an observer creating spans with tracer.
func NewObserver(tracer oteltrace.Tracer) *Observer {
	return &Observer{tracer: tracer, paused: map[string]oteltrace.SpanContext{}}
}

// runState is one executing run's open spans.
type runState struct {
	mu   sync.Mutex
	span oteltrace.Span
	ctx  context.Context
	// model is the open model request: its span is started when it ends
	// (backdated to its start), with every attribute at once, since no
	// span is its child and nothing reads it meanwhile.
	model     modelRequest
	modelOpen bool
	// tools are the open tool calls: mostly one or two at a time, so a
	// slice (its first ones in toolsBuf) rather than a map made per run.
	tools    []toolSpan
	toolsBuf [2]toolSpan
	steps    map[string]stepSpan
	// What the run span gets at its end, in one SetAttributes (each call
	// may grow the span's attributes anew): the output and usage of
	// RunCompleted, the error type of RunError.
	completed bool
	output    string
	hasUsage  bool
	usage     [3]int64 // input, output and total tokens
	errorType string
	// scratch is where a span's attributes are put together before the
	// span copies them (SetAttributes): one buffer per run, not a slice
	// per span. Guarded by mu.
	scratch [12]attribute.KeyValue
	// runAttrs are the run span's attributes known at its start, set with
	// those of its end in one SetAttributes (each call grows the span's
	// attributes anew; nothing reads an open span's).
	runAttrs []attribute.KeyValue
	runBuf   [24]attribute.KeyValue
	runID    string
	// startOpts and endOpts are the same for a span's start and end
	// options.
	startOpts [2]oteltrace.SpanStartOption
	endOpts   [1]oteltrace.SpanEndOption
}

// startAt is the options of a span of kind starting at t, in st's buffer.
func (st *runState) startAt(kind oteltrace.SpanStartOption, t time.Time) []oteltrace.SpanStartOption {
	return append(st.startOpts[:0], kind, oteltrace.WithTimestamp(t))
}

// toolSpan is an open tool call: its span gets its attributes at its end,
// with its result, in one SetAttributes.
type toolSpan struct {
	id, name, args string
	span           oteltrace.Span
}

// attrs are t's attributes but its outcome's, appended to buf.
func (t *toolSpan) attrs(buf []attribute.KeyValue, runID string) []attribute.KeyValue {
	return append(buf,
		attribute.String(trace.AttrSpanType, trace.SpanTool),
		attribute.String(trace.AttrOpenInferenceKind, "TOOL"),
		attribute.String(AttrGenAIOperation, "execute_tool"),
		attribute.String(AttrGenAIToolName, t.name),
		attribute.String(AttrGenAIToolCallID, t.id),
		attribute.String(AttrGenAIToolArgs, t.args),
		attribute.String(trace.AttrInput, t.args),
		attribute.String(trace.AttrRunID, runID),
	)
}

// tool is the open tool call id and its index in st.tools (-1: none).
func (st *runState) tool(id string) (toolSpan, int) {
	for i, t := range st.tools {
		if t.id == id {
			return t, i
		}
	}
	return toolSpan{}, -1
}

// modelRequest is a model request under way.
type modelRequest struct {
	start                  time.Time
	runID, model, provider string
}

// endModel records the model request st has open as a span ending now,
// with usage (nil: none) and the status given, and closes it.
func (o *Observer) endModel(st *runState, ev *core.Event, code codes.Code, msg string) {
	if !st.modelOpen {
		return
	}
	m := &st.model
	st.modelOpen = false
	attrs := append(st.scratch[:0],
		attribute.String(trace.AttrSpanType, trace.SpanLLM),
		attribute.String(trace.AttrOpenInferenceKind, "LLM"),
		attribute.String(AttrGenAIOperation, "chat"),
		attribute.String(AttrGenAIRequestModel, m.model),
		attribute.String(trace.AttrRunID, m.runID),
	)
	if m.provider != "" {
		attrs = append(attrs, attribute.String(AttrGenAIProvider, m.provider), attribute.String(AttrGenAISystem, m.provider))
	}
	if ev != nil {
		attrs = append(attrs,
			attribute.Int64(AttrGenAIInputTokens, ev.InputTokens),
			attribute.Int64(AttrGenAIOutputTokens, ev.OutputTokens),
			attribute.Int64(AttrTotalTokens, ev.TotalTokens),
			attribute.Float64(AttrTTFT, ev.TimeToFirstToken),
		)
	}
	// The attributes are set on the started span, not passed in a start
	// option: the option would be boxed and its attributes copied into
	// the start config, then copied again into the span.
	_, span := o.tracer.Start(st.ctx, o.names.of("chat", m.model), st.startAt(kindClient, m.start)...)
	span.SetAttributes(attrs...)
	if code != codes.Unset {
		span.SetStatus(code, msg)
	}
	span.End()
}

type stepSpan struct {
	span oteltrace.Span
	ctx  context.Context
}

func runKind(run *core.Run) (op, typ, oi string) {
	switch run.Kind() {
	case core.KindTeam:
		return "invoke_team", trace.SpanTeam, "AGENT"
	case core.KindWorkflow:
		return "invoke_workflow", trace.SpanWorkflow, "CHAIN"
	default:
		return "invoke_agent", trace.SpanAgent, "AGENT"
	}
}

func runName(run *core.Run) (id, name string) {
	switch run.Kind() {
	case core.KindTeam:
		id, name = run.TeamID, run.TeamName
	case core.KindWorkflow:
		id, name = run.WorkflowID, run.WorkflowName
	default:
		id, name = run.AgentID, run.AgentName
	}
	if name == "" {
		name = id
	}
	return id, name
}

func clip(s string) string {
	if len(s) > maxValue {
		return s[:maxValue]
	}
	return s
}

// server reports whether iface is an adapter serving a caller.
func server(iface string) bool {
	switch iface {
	case "rest", "ws", "mcp", "a2a", "slack":
		return true
	}
	return false
}

// RunBegin starts the run's span: under the caller's trace (the carrier),
// under its parent run's span (or the step it executes) for a child, and
// in the trace of its paused segment for a continue.
func (o *Observer) RunBegin(ctx context.Context, run *core.Run, info core.ExecInfo) context.Context {
	if len(info.TraceCarrier) > 0 {
		ctx = o.prop.Extract(ctx, propagation.MapCarrier(info.TraceCarrier))
	}
	if info.Continue {
		o.pausedMu.Lock()
		sc, ok := o.paused[run.RunID]
		delete(o.paused, run.RunID)
		o.pausedMu.Unlock()
		if ok {
			ctx = oteltrace.ContextWithSpanContext(ctx, sc)
		}
	}
	if run.ParentRunID != "" && (run.StepName != "" || run.StepID != "") {
		if v, ok := o.runs.Load(run.ParentRunID); ok {
			p := v.(*runState)
			p.mu.Lock()
			if s, ok := p.steps[stepKey(run.StepID, run.StepName)]; ok {
				ctx = s.ctx
			}
			p.mu.Unlock()
		}
	}
	op, typ, oi := runKind(run)
	id, name := runName(run)
	opts := startInternal
	if server(info.Interface) {
		opts = startServer
	}
	ctx, span := o.tracer.Start(ctx, o.names.of(op, name), opts...)
	if !span.IsRecording() {
		return ctx // sampled out: its events cost a map miss
	}
	st := &runState{runID: run.RunID}
	attrs := append(st.runBuf[:0],
		attribute.String(trace.AttrSpanType, typ),
		attribute.String(trace.AttrOpenInferenceKind, oi),
		attribute.String(AttrGenAIOperation, op),
		attribute.String(trace.AttrRunID, run.RunID),
		attribute.String(trace.AttrSessionID, run.SessionID),
		attribute.String(AttrGenAIConversation, run.SessionID),
		attribute.String(AttrGenAIAgentID, id),
		attribute.String(AttrGenAIAgentName, name),
		attribute.String(trace.AttrInput, clip(run.Input.InputContent)),
	)
	if info.Interface != "" {
		attrs = append(attrs, attribute.String(trace.AttrInterface, info.Interface))
	}
	if run.UserID != "" {
		attrs = append(attrs, attribute.String(trace.AttrUserID, run.UserID))
	}
	if run.AgentID != "" {
		attrs = append(attrs, attribute.String(trace.AttrAgentID, run.AgentID))
	}
	if run.TeamID != "" {
		attrs = append(attrs, attribute.String(trace.AttrTeamID, run.TeamID))
	}
	if run.WorkflowID != "" {
		attrs = append(attrs, attribute.String(trace.AttrWorkflowID, run.WorkflowID))
	}
	if run.ParentRunID != "" {
		attrs = append(attrs, attribute.String(trace.AttrParentRun, run.ParentRunID))
	}
	if run.Model != "" {
		attrs = append(attrs, attribute.String(AttrGenAIRequestModel, run.Model))
	}
	if info.Restart > 0 {
		attrs = append(attrs, attribute.Int("agentgate.run.restart", info.Restart))
	}
	if info.Queued > 0 {
		attrs = append(attrs, attribute.Float64("agentgate.run.queued_seconds", info.Queued.Seconds()))
	}
	st.runAttrs = attrs
	if info.Continue {
		span.AddEvent("RunContinued")
	}
	st.span, st.ctx = span, ctx
	o.runs.Store(run.RunID, st)
	return ctx
}

func stepKey(id, name string) string {
	if id != "" {
		return id
	}
	return name
}

// RunEvent records one event of a run (or of a child forwarded into its
// stream) on the run's spans.
func (o *Observer) RunEvent(_ context.Context, _ *core.Run, ev *core.Event) {
	if ev.Event == core.EventRunContent {
		return // a streamed token: most of a run's events, none a span's
	}
	base := ev.Base()
	if !spanEvent(base) {
		return
	}
	v, ok := o.runs.Load(ev.RunID)
	if !ok {
		return
	}
	st := v.(*runState)
	st.mu.Lock()
	defer st.mu.Unlock()
	switch base {
	case core.EventModelRequestStarted:
		o.endModel(st, nil, codes.Unset, "") // one left open: it ends here
		st.model = modelRequest{start: time.Now(), runID: ev.RunID, model: ev.Model, provider: ev.ModelProvider}
		st.modelOpen = true
	case core.EventModelRequestCompleted:
		o.endModel(st, ev, codes.Ok, "")
	case core.EventToolCallStarted:
		if ev.Tool == nil {
			return
		}
		args := clip(string(ev.Tool.ToolArgs))
		name := o.names.of("execute_tool", ev.Tool.ToolName)
		var span oteltrace.Span
		if m := ev.Tool.Metrics; m != nil && m.StartTime > 0 {
			_, span = o.tracer.Start(st.ctx, name, st.startAt(kindInternal, unixSeconds(m.StartTime))...)
		} else {
			_, span = o.tracer.Start(st.ctx, name, startInternal...)
		}
		if st.tools == nil {
			st.tools = st.toolsBuf[:0]
		}
		st.tools = append(st.tools, toolSpan{id: ev.Tool.ToolCallID, name: ev.Tool.ToolName, args: args, span: span})
	case core.EventToolCallCompleted, core.EventToolCallError:
		if ev.Tool == nil {
			return
		}
		t, i := st.tool(ev.Tool.ToolCallID)
		if i < 0 {
			return
		}
		st.tools = slices.Delete(st.tools, i, i+1)
		span := t.span
		attrs := t.attrs(st.scratch[:0], st.runID)
		if base == core.EventToolCallError || ev.Tool.ToolCallError {
			msg := ev.Error
			if msg == "" {
				msg = ev.Tool.Result
			}
			span.SetAttributes(attrs...)
			span.SetStatus(codes.Error, msg)
			span.AddEvent("exception", oteltrace.WithAttributes(attribute.String("exception.message", msg)))
		} else {
			span.SetAttributes(append(attrs, attribute.String(trace.AttrOutput, clip(ev.Tool.Result)))...)
			span.SetStatus(codes.Ok, "")
		}
		if m := ev.Tool.Metrics; m != nil && m.EndTime > 0 {
			st.endOpts[0] = oteltrace.WithTimestamp(unixSeconds(m.EndTime))
			span.End(st.endOpts[:]...)
		} else {
			span.End()
		}
	case core.EventStepStarted:
		if st.steps == nil {
			st.steps = map[string]stepSpan{}
		}
		name := ev.StepName
		if name == "" {
			name = ev.StepID
		}
		attrs := append(st.scratch[:0],
			attribute.String(trace.AttrSpanType, trace.SpanStep),
			attribute.String(trace.AttrOpenInferenceKind, "CHAIN"),
			attribute.String(trace.AttrRunID, ev.RunID),
			attribute.String("agentgate.step.name", name),
		)
		if ev.StepIndex != nil {
			attrs = append(attrs, attribute.Int("agentgate.step.index", *ev.StepIndex))
		}
		ctx, span := o.tracer.Start(st.ctx, o.names.of("step", name))
		span.SetAttributes(attrs...)
		st.steps[stepKey(ev.StepID, ev.StepName)] = stepSpan{span: span, ctx: ctx}
	case core.EventStepCompleted, core.EventStepError:
		k := stepKey(ev.StepID, ev.StepName)
		s, ok := st.steps[k]
		if !ok {
			return
		}
		delete(st.steps, k)
		if base == core.EventStepError {
			s.span.SetStatus(codes.Error, firstOf(ev.Error, ev.Content))
		} else {
			s.span.SetAttributes(attribute.String(trace.AttrOutput, clip(ev.Content)))
			s.span.SetStatus(codes.Ok, "")
		}
		s.span.End()
	case core.EventRunPaused:
		attrs := []attribute.KeyValue{attribute.Int("agentgate.requirements", len(ev.Requirements))}
		for i, r := range ev.Requirements {
			if r.ToolExecution != nil && i < 16 {
				attrs = append(attrs, attribute.String("agentgate.requirement."+strconv.Itoa(i)+".tool", r.ToolExecution.ToolName))
			}
		}
		st.span.AddEvent("RunPaused", oteltrace.WithAttributes(attrs...))
	case core.EventRunCompleted:
		st.completed, st.output, st.hasUsage = true, clip(ev.Content), false
		if m := ev.Metrics; m != nil {
			st.hasUsage, st.usage = true, [3]int64{m.InputTokens, m.OutputTokens, m.TotalTokens}
		}
	case core.EventRunError:
		st.span.SetStatus(codes.Error, firstOf(ev.Content, ev.Error))
		if ev.ErrorType != "" {
			st.errorType = ev.ErrorType
		}
	case core.EventRunCancelled:
		st.span.AddEvent("RunCancelled", oteltrace.WithAttributes(attribute.String("reason", ev.Reason)))
	case core.EventCustom:
		if k, _ := ev.Data["kind"].(string); k == "run_restarted" {
			st.span.AddEvent("RunRestarted")
		}
	}
}

// spanEvent reports whether RunEvent records events of type base.
func spanEvent(base core.EventType) bool {
	switch base {
	case core.EventModelRequestStarted, core.EventModelRequestCompleted,
		core.EventToolCallStarted, core.EventToolCallCompleted, core.EventToolCallError,
		core.EventStepStarted, core.EventStepCompleted, core.EventStepError,
		core.EventRunPaused, core.EventRunCompleted, core.EventRunError, core.EventRunCancelled,
		core.EventCustom:
		return true
	}
	return false
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func unixSeconds(s float64) time.Time {
	return time.Unix(0, int64(s*float64(time.Second)))
}

// ToolContext is ctx with the span of run's open tool call toolCallID,
// so what the tool calls out continues the trace under the tool's span.
func (o *Observer) ToolContext(ctx context.Context, run *core.Run, toolCallID string) context.Context {
	v, ok := o.runs.Load(run.RunID)
	if !ok {
		return ctx
	}
	st := v.(*runState)
	st.mu.Lock()
	t, i := st.tool(toolCallID)
	st.mu.Unlock()
	if i < 0 {
		return ctx
	}
	return oteltrace.ContextWithSpan(ctx, t.span)
}

// RunEnd ends the run's span (and whatever it left open).
func (o *Observer) RunEnd(_ context.Context, run *core.Run, status core.RunStatus, err error) {
	v, ok := o.runs.LoadAndDelete(run.RunID)
	if !ok {
		return
	}
	st := v.(*runState)
	st.mu.Lock()
	defer st.mu.Unlock()
	open := "run ended"
	if status == core.RunPaused {
		open = "run paused"
	}
	if status == core.RunError {
		o.endModel(st, nil, codes.Error, open)
	} else {
		o.endModel(st, nil, codes.Unset, "")
	}
	for _, t := range st.tools {
		t.span.SetAttributes(t.attrs(st.scratch[:0], st.runID)...)
		if status == core.RunError {
			t.span.SetStatus(codes.Error, open)
		}
		t.span.End()
	}
	for _, s := range st.steps {
		if status == core.RunError {
			s.span.SetStatus(codes.Error, open)
		}
		s.span.End()
	}
	end := st.runAttrs
	if st.completed {
		end = append(end, attribute.String(trace.AttrOutput, st.output))
		if m := st.usage; st.hasUsage {
			end = append(end,
				attribute.Int64(AttrGenAIInputTokens, m[0]),
				attribute.Int64(AttrGenAIOutputTokens, m[1]),
				attribute.Int64(AttrTotalTokens, m[2]),
			)
		}
	}
	if st.errorType != "" {
		end = append(end, attribute.String("error.type", st.errorType))
	}
	end = append(end, attribute.String("agentgate.run.status", string(status)))
	st.span.SetAttributes(end...)
	switch status {
	case core.RunError:
		msg := run.Error
		if err != nil {
			msg = err.Error()
		}
		st.span.SetStatus(codes.Error, msg)
	case core.RunCompleted:
		st.span.SetStatus(codes.Ok, "")
	case core.RunPaused:
		o.pausedMu.Lock()
		if len(o.paused) < maxPaused {
			o.paused[run.RunID] = st.span.SpanContext()
		}
		o.pausedMu.Unlock()
	}
	st.span.End()
}

var _ core.ToolObserver = (*Observer)(nil)
