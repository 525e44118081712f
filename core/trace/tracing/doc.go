// Package tracing is the instrumentation of runs: a core.RunObserver that
// builds OpenTelemetry spans from a run's events (the run, its model
// requests, tool calls, member runs and workflow steps, HITL pauses and
// continues as events), the TracerProvider (sampling, resource
// service.name=agentgate), a span processor that stores finished spans
// through a core/trace.SpanWriter off the run's path (bounded queue that
// drops and counts), and the optional OTLP export (HTTP or gRPC).
package tracing
