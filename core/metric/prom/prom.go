// Package prom holds agentgate's Prometheus metrics: a RunObserver for
// runs, model requests and tool calls, a decorator of core.EventLog for
// the event log's latencies and resume outcomes, and counters the HTTP
// transport and the adapters report into (active streams and sockets,
// auth failures). Labels are bounded: kinds, statuses, interfaces, and
// model and tool names capped at MaxLabelValues distinct values (the rest
// are "other"); never run, session or user ids.
package prom

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric agentgate defines.
const Namespace = "agentgate"

// MaxLabelValues bounds the distinct model and tool names a metric keeps;
// further names are counted as "other".
const MaxLabelValues = 64

// Buckets of the latency histograms, in seconds (1 ms to ~2 min).
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2.5, 14)

// Metrics is one registry with every agentgate metric.
type Metrics struct {
	reg *prometheus.Registry

	runsStarted   *prometheus.CounterVec
	runsFinished  *prometheus.CounterVec
	runsActive    *prometheus.GaugeVec
	runDuration   *prometheus.HistogramVec
	runTTFE       *prometheus.HistogramVec
	modelLatency  *prometheus.HistogramVec
	modelTokens   *prometheus.CounterVec
	modelRequests *prometheus.CounterVec
	toolLatency   *prometheus.HistogramVec
	toolCalls     *prometheus.CounterVec
	toolErrors    *prometheus.CounterVec

	logLatency *prometheus.HistogramVec
	logErrors  *prometheus.CounterVec
	logSubs    prometheus.Gauge
	resumes    *prometheus.CounterVec

	jobWait *prometheus.HistogramVec
	jobRun  *prometheus.HistogramVec

	storeLatency *prometheus.HistogramVec
	storeGroups  *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec

	authFailures *prometheus.CounterVec
	streams      *prometheus.GaugeVec

	models, tools labelSet
}

// New returns the metrics registered on a registry of their own, with the
// Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.runsStarted = f.counter("runs_started_total", "Runs that started executing on this replica, by runnable kind and the interface that started them.", "kind", "interface")
	m.runsFinished = f.counter("runs_finished_total", "Runs that left this replica (finished or paused), by kind, status and interface.", "kind", "status", "interface")
	m.runsActive = f.gauge("runs_active", "Runs executing on this replica now, by interface.", "interface")
	m.runDuration = f.histogram("run_duration_seconds", "Time from a run's start on this replica to its end or pause, by kind and status.", "kind", "status")
	m.runTTFE = f.histogram("run_ttfe_seconds", "Time to first content event: from a run's start to its first RunContent (or reasoning/tool) event, by kind.", "kind")
	m.modelLatency = f.histogram("model_request_duration_seconds", "Model request latency (ModelRequestStarted to ModelRequestCompleted), by model.", "model")
	m.modelRequests = f.counter("model_requests_total", "Model requests completed, by model.", "model")
	m.modelTokens = f.counter("model_tokens_total", "Tokens of model requests, by model and direction (input, output).", "model", "direction")
	m.toolLatency = f.histogram("tool_call_duration_seconds", "Tool call latency (ToolCallStarted to ToolCallCompleted or ToolCallError), by tool.", "tool")
	m.toolCalls = f.counter("tool_calls_total", "Tool calls that ended, by tool and outcome (ok, error).", "tool", "outcome")
	m.toolErrors = f.counter("tool_call_errors_total", "Tool calls that failed, by tool.", "tool")
	m.logLatency = f.histogram("eventlog_op_duration_seconds", "Event log operation latency, by operation (append, append_finish, append_all, read, subscribe, finish).", "op")
	m.logErrors = f.counter("eventlog_errors_total", "Event log operations that failed (a refused resume is not a failure), by operation.", "op")
	m.logSubs = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "eventlog_subscriptions", Help: "Live tails of the event log open now."})
	m.reg.MustRegister(m.logSubs)
	m.resumes = f.counter("stream_resumes_total", "Resumes of a run's stream after a cursor: exact (gapless) or refused (the events are no longer kept).", "outcome")
	m.jobWait = f.histogram("queue_job_wait_seconds", "Time a queue job waited between becoming available and being taken by a worker, by kind (run, periodic, job).", "kind")
	m.jobRun = f.histogram("queue_job_duration_seconds", "Queue job attempts worked on this replica, by kind and outcome (ok, error).", "kind", "outcome")
	m.storeLatency = f.histogram("store_write_duration_seconds", "State store write transactions (a group of writes committed together), by backend.", "backend")
	m.storeGroups = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_write_group_size",
		Help: "Writes committed in one state store transaction (SQLite's group commit), by backend.", Buckets: prometheus.ExponentialBuckets(1, 2, 9)}, []string{"backend"})
	m.reg.MustRegister(m.storeGroups)
	m.storeErrors = f.counter("store_write_errors_total", "State store write transactions that failed, by backend.", "backend")
	m.authFailures = f.counter("auth_failures_total", "Requests (and WebSocket auth messages) refused for their credentials or signature, by reason and interface.", "reason", "interface")
	m.streams = f.gauge("active_streams", "SSE responses open now, by interface.", "interface")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.models.max, m.tools.max = MaxLabelValues, MaxLabelValues
	// Pre-create the bounded label values, so a scrape shows the families
	// at zero before anything happened.
	for _, o := range []string{"exact", "refused"} {
		m.resumes.WithLabelValues(o)
	}
	return m
}

// Registry is the metrics' registry (for more collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// GaugeFunc registers a gauge read from f at scrape time, with constant
// labels (active sockets of an interface, queue depth, ...).
func (m *Metrics) GaugeFunc(name, help string, labels prometheus.Labels, f func() float64) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: labels}, f))
}

// CounterFunc registers a counter read from f at scrape time (a count kept
// elsewhere, such as the trace exporter's dropped spans), with constant
// labels.
func (m *Metrics) CounterFunc(name, help string, labels prometheus.Labels, f func() float64) error {
	return m.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: labels}, f))
}

// TraceSpans registers the span exporter's counts: spans dropped because
// the trace store's queue was full, and spans whose write (to the state
// database, or over OTLP) failed.
func (m *Metrics) TraceSpans(dropped, storeFailed, otlpFailed func() int64) error {
	f := func(c func() int64) func() float64 { return func() float64 { return float64(c()) } }
	if err := m.CounterFunc("trace_spans_dropped_total", "Spans dropped because the trace store's queue was full (runs are never slowed by tracing).", nil, f(dropped)); err != nil {
		return err
	}
	if err := m.CounterFunc("trace_spans_failed_total", "Spans whose export failed, by sink (store: the state database, otlp: the collector).", prometheus.Labels{"sink": "store"}, f(storeFailed)); err != nil {
		return err
	}
	return m.CounterFunc("trace_spans_failed_total", "Spans whose export failed, by sink (store: the state database, otlp: the collector).", prometheus.Labels{"sink": "otlp"}, f(otlpFailed))
}

// StoreWrite records one committed write transaction of the state store:
// how long it took and how many writes it grouped (SQLite's group commit
// gathers the writes waiting at that moment; 1 elsewhere). backend is
// "sqlite" or "postgres".
func (m *Metrics) StoreWrite(backend string, d time.Duration, group int, err error) {
	m.storeLatency.WithLabelValues(backend).Observe(d.Seconds())
	m.storeGroups.WithLabelValues(backend).Observe(float64(group))
	if err != nil {
		m.storeErrors.WithLabelValues(backend).Inc()
	}
}

// QueueJob records one job attempt of the queue (River): how long the job
// waited to be taken and how long it ran, by kind (run, periodic, job)
// and outcome (ok, error).
func (m *Metrics) QueueJob(kind string, wait, run time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.jobWait.WithLabelValues(kind).Observe(wait.Seconds())
	m.jobRun.WithLabelValues(kind, outcome).Observe(run.Seconds())
}

// QueueDepth registers the queue's depth, counted by depth at scrape time
// (bounded by a short timeout; -1 when it cannot be counted).
func (m *Metrics) QueueDepth(depth func(ctx context.Context) (int64, error)) error {
	return m.GaugeFunc("queue_depth", "Jobs waiting in the queue (River: available, scheduled or retryable), across replicas.", nil, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}

// StreamResumed counts a resume of a run's stream after a cursor, however
// it is served (the event log, the cache of ended runs, the executor's
// own feed): outcome "exact" or "refused" (core.ResumeObserver).
func (m *Metrics) StreamResumed(outcome string) {
	if outcome == "exact" || outcome == "refused" {
		m.resumes.WithLabelValues(outcome).Inc()
	}
}

// AuthFailed counts a refusal on an interface (rest, ws, mcp, a2a,
// slack): a refused credential, a missing one a route needs, a bad Slack
// signature, a WebSocket's refused auth message, a rate-limited caller
// (httptransport.Hooks).
func (m *Metrics) AuthFailed(iface, reason string) {
	m.authFailures.WithLabelValues(reason, iface).Inc()
}

type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: latencyBuckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// labelSet caps a label's distinct values.
type labelSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
	max  int
}

func (s *labelSet) value(v string) string {
	if v == "" {
		return "unknown"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return v
	}
	if len(s.seen) >= s.max {
		return "other"
	}
	if s.seen == nil {
		s.seen = map[string]struct{}{}
	}
	s.seen[v] = struct{}{}
	return v
}

// StreamOpened counts an open SSE response of iface; closed ends it (once).
func (m *Metrics) StreamOpened(iface string) (closed func()) {
	g := m.streams.WithLabelValues(iface)
	g.Inc()
	var once sync.Once
	return func() { once.Do(g.Dec) }
}
