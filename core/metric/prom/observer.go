package prom

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Observer returns the core.RunObserver recording run, model and tool
// metrics (register it with Engine.AddRunObserver).
func (m *Metrics) Observer() core.RunObserver { return &observer{m: m} }

type observer struct{ m *Metrics }

// StreamResumed counts a resume's outcome (core.ResumeObserver).
func (o *observer) StreamResumed(outcome string) { o.m.StreamResumed(outcome) }

var _ core.ResumeObserver = (*observer)(nil)

type runState struct {
	mu        sync.Mutex
	kind      string
	iface     string
	start     time.Time
	firstSeen atomic.Bool          // set under mu; read without it by later tokens
	models    map[string]time.Time // model request start, by model
	tools     map[string]time.Time // tool call start, by tool call id
}

type stateKey struct{}

func (o *observer) RunBegin(ctx context.Context, run *core.Run, info core.ExecInfo) context.Context {
	iface := info.Interface
	if iface == "" {
		iface = "unknown"
	}
	st := &runState{kind: string(run.Kind()), iface: iface, start: time.Now()}
	o.m.runsStarted.WithLabelValues(st.kind, iface).Inc()
	o.m.runsActive.WithLabelValues(iface).Inc()
	return context.WithValue(ctx, stateKey{}, st)
}

func (o *observer) RunEvent(ctx context.Context, run *core.Run, ev *core.Event) {
	if ev == nil {
		return
	}
	typ := strings.TrimPrefix(string(ev.Event), "Team")
	content := false
	switch typ {
	case string(core.EventRunContent), string(core.EventReasoningContentDelta), string(core.EventRunContentCompleted):
		content = true
	case string(core.EventToolCallStarted), string(core.EventModelRequestStarted), string(core.EventModelRequestCompleted),
		string(core.EventToolCallCompleted), string(core.EventToolCallError):
	default:
		return // not measured
	}
	st, _ := ctx.Value(stateKey{}).(*runState)
	if st == nil || content && st.firstSeen.Load() {
		return // (a token after the first: nothing to measure)
	}
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	switch typ {
	case string(core.EventRunContent), string(core.EventReasoningContentDelta), string(core.EventToolCallStarted), string(core.EventRunContentCompleted):
		if !st.firstSeen.Load() && (ev.RunID == "" || ev.RunID == run.RunID) {
			st.firstSeen.Store(true)
			o.m.runTTFE.WithLabelValues(st.kind).Observe(now.Sub(st.start).Seconds())
		}
	}
	switch typ {
	case string(core.EventModelRequestStarted):
		if st.models == nil {
			st.models = map[string]time.Time{}
		}
		st.models[ev.RunID+"\x00"+ev.Model] = now
	case string(core.EventModelRequestCompleted):
		model := o.m.models.value(ev.Model)
		key := ev.RunID + "\x00" + ev.Model
		d := -1.0
		if ev.Metrics != nil && ev.Metrics.Duration > 0 {
			d = ev.Metrics.Duration
		} else if t, ok := st.models[key]; ok {
			d = now.Sub(t).Seconds()
		}
		delete(st.models, key)
		if d >= 0 {
			o.m.modelLatency.WithLabelValues(model).Observe(d)
		}
		o.m.modelRequests.WithLabelValues(model).Inc()
		in, out := ev.InputTokens, ev.OutputTokens
		if ev.Metrics != nil && in == 0 && out == 0 {
			in, out = ev.Metrics.InputTokens, ev.Metrics.OutputTokens
		}
		o.m.modelTokens.WithLabelValues(model, "input").Add(float64(max(in, 0)))
		o.m.modelTokens.WithLabelValues(model, "output").Add(float64(max(out, 0)))
	case string(core.EventToolCallStarted):
		if ev.Tool != nil {
			if st.tools == nil {
				st.tools = map[string]time.Time{}
			}
			st.tools[ev.Tool.ToolCallID] = now
		}
	case string(core.EventToolCallCompleted), string(core.EventToolCallError):
		if ev.Tool == nil {
			return
		}
		tool := o.m.tools.value(ev.Tool.ToolName)
		d := -1.0
		if ev.Tool.Metrics != nil && ev.Tool.Metrics.Duration > 0 {
			d = ev.Tool.Metrics.Duration
		} else if t, ok := st.tools[ev.Tool.ToolCallID]; ok {
			d = now.Sub(t).Seconds()
		}
		delete(st.tools, ev.Tool.ToolCallID)
		if d >= 0 {
			o.m.toolLatency.WithLabelValues(tool).Observe(d)
		}
		if typ == string(core.EventToolCallError) || ev.Tool.ToolCallError {
			o.m.toolErrors.WithLabelValues(tool).Inc()
			o.m.toolCalls.WithLabelValues(tool, "error").Inc()
		} else {
			o.m.toolCalls.WithLabelValues(tool, "ok").Inc()
		}
	}
}

func (o *observer) RunEnd(ctx context.Context, run *core.Run, status core.RunStatus, err error) {
	st, _ := ctx.Value(stateKey{}).(*runState)
	if st == nil {
		return
	}
	s := string(status)
	o.m.runsFinished.WithLabelValues(st.kind, s, st.iface).Inc()
	o.m.runsActive.WithLabelValues(st.iface).Dec()
	o.m.runDuration.WithLabelValues(st.kind, s).Observe(time.Since(st.start).Seconds())
}
