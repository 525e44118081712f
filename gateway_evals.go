package agentgate

// The evals' wiring: their config, and the core/eval service on the state
// store, the engine and the configured models (the judges).

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/core/eval"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/core/trace/tracing"
	"github.com/agentgate/agentgate/queue/riverqueue"
)

// EvalsConfig configures the evals (/eval-runs, core/eval).
type EvalsConfig struct {
	// Enabled serves /eval-runs (default true; false answers them with
	// 503).
	Enabled *bool `yaml:"enabled"`
}

// On reports whether evals are served.
func (c EvalsConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// buildEvals builds the evals' service: the judge model_id names one of
// the config's models.
func (g *Gateway) buildEvals() error {
	if !g.cfg.Evals.On() {
		return nil
	}
	models := map[string]model.Model{}
	for name, mc := range g.cfg.Models {
		m, err := BuildModel(name, mc)
		if err != nil {
			return err
		}
		models[name] = m
	}
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	ec := eval.Config{Store: g.store, Runner: g.eng, Logger: g.logger,
		Model:  func(name string) (model.Model, bool) { m, ok := models[name]; return m, ok },
		Models: func() []string { return names }}
	if g.tracing != nil {
		ec.TraceJudge = judgeTracer(g.tracing.Provider.Tracer("github.com/agentgate/agentgate/eval"))
	}
	if q := g.queue; q != nil {
		ec.Enqueue = func(ctx context.Context, j eval.Job) error {
			_, err := q.InsertJob(ctx, evalRunJob, j)
			return err
		}
	}
	g.evals = eval.New(ec)
	if g.evalsReady != nil {
		close(g.evalsReady)
	}
	return nil
}

const (
	// evalRunJob is the queue's job name of a background eval run.
	evalRunJob = "eval_run"
	// evalRunAttempts bounds the attempts of one (a worker lost to a
	// crash uses one).
	evalRunAttempts = 3
)

// registerEvalJob registers the background eval runs' job on the durable
// queue (before it starts; the service is built later, after the agents:
// the worker waits for it). An eval run whose replica died is worked again
// by another (or by the same after a restart), from its start.
func (g *Gateway) registerEvalJob() error {
	if !g.cfg.Evals.On() || g.queue == nil {
		return nil
	}
	ready := make(chan struct{})
	g.evalsReady = ready
	opts := riverqueue.JobOptions{MaxAttempts: evalRunAttempts, Long: true,
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Second }}
	return g.queue.AddJob(evalRunJob, opts, func(ctx context.Context, raw json.RawMessage, attempt int) error {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := g.evals.Work(ctx, raw, attempt >= evalRunAttempts)
		if errors.Is(err, eval.ErrBadJob) {
			return riverqueue.Permanent(err)
		}
		return err
	})
}

// Evals is the gateway's evals service (nil when evals are off): what
// `agentgate eval` runs suites with in-process.
func (g *Gateway) Evals() *eval.Service { return g.evals }

// closeEvals ends the eval runs still executing (their records end
// failed), waiting for them up to ctx (at most 5 s).
func (g *Gateway) closeEvals(ctx context.Context) error {
	if g.evals == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return g.evals.Close(ctx)
}

// judgeTracer traces an eval's judge requests: a CLIENT span "chat
// <model>" (an LLM span, like a run's model requests) under the caller's
// trace context, with the eval run's id and the answer's token usage.
func judgeTracer(tr oteltrace.Tracer) func(context.Context, map[string]string, string, model.Model) (context.Context, func(*model.Response, error)) {
	return func(ctx context.Context, carrier map[string]string, evalRunID string, m model.Model) (context.Context, func(*model.Response, error)) {
		if len(carrier) > 0 {
			ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(carrier))
		}
		ctx, span := tr.Start(ctx, "chat "+m.ID(), oteltrace.WithSpanKind(oteltrace.SpanKindClient), oteltrace.WithAttributes(
			attribute.String(trace.AttrSpanType, trace.SpanLLM),
			attribute.String(trace.AttrOpenInferenceKind, "LLM"),
			attribute.String(tracing.AttrGenAIOperation, "chat"),
			attribute.String(tracing.AttrGenAIRequestModel, m.ID()),
			attribute.String(tracing.AttrGenAIProvider, m.Provider()),
			attribute.String(tracing.AttrGenAISystem, m.Provider()),
			attribute.String("agentgate.eval_run.id", evalRunID),
			attribute.String("agentgate.eval.role", "judge")))
		return ctx, func(resp *model.Response, err error) {
			if resp != nil {
				span.SetAttributes(attribute.Int64(tracing.AttrGenAIInputTokens, resp.Usage.InputTokens),
					attribute.Int64(tracing.AttrGenAIOutputTokens, resp.Usage.OutputTokens),
					attribute.Int64(tracing.AttrTotalTokens, resp.Usage.TotalTokens))
			}
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			} else {
				span.SetStatus(codes.Ok, "")
			}
			span.End()
		}
	}
}
