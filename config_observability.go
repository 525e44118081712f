package agentgate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ObservabilityConfig is the observability block: traces (stored in the
// state database and optionally exported over OTLP), their retention, and
// the admin listener with Prometheus metrics and pprof.
type ObservabilityConfig struct {
	// Tracing records OpenTelemetry spans of every run into the state
	// database (/traces). Default true; false records none (OTLP export
	// then needs it on too).
	Tracing *bool `yaml:"tracing"`
	// SamplingRatio is the share of traces recorded, 0 < r ≤ 1 (0 takes the
	// default, 1: every run). A caller's sampled traceparent is honoured.
	SamplingRatio float64 `yaml:"sampling_ratio"`
	// OTLPEndpoint, when set, also exports spans to an OpenTelemetry
	// collector: a URL (http://host:4318 for http, host:4317 or
	// http://host:4317 for grpc).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// OTLPProtocol is http (default) or grpc.
	OTLPProtocol string `yaml:"otlp_protocol"`
	// OTLPHeaders are sent with every export (an API key, ...).
	OTLPHeaders map[string]string `yaml:"otlp_headers"`
	// OTLPInsecure sends grpc exports without TLS (http follows the URL's
	// scheme).
	OTLPInsecure bool `yaml:"otlp_insecure"`
	// TraceRetention is how long stored traces are kept (default 720h, 30
	// days); a job running once across replicas deletes older ones.
	TraceRetention time.Duration `yaml:"trace_retention"`
	// PrometheusAddr is the admin listener serving Prometheus metrics on
	// /metrics (and pprof when enabled): default 127.0.0.1:9464, "off" for
	// none. A non-loopback address needs PrometheusPublic.
	PrometheusAddr string `yaml:"prometheus_addr"`
	// PrometheusPublic allows the admin listener on a non-loopback address.
	PrometheusPublic bool `yaml:"prometheus_public"`
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin
	// listener (default false).
	Pprof bool `yaml:"pprof"`
	// MetricsRefreshInterval is how often /metrics' daily aggregates are refreshed, once across replicas (default 15m, at least 1s).
	MetricsRefreshInterval time.Duration `yaml:"metrics_refresh_interval"`
}

// Defaults of the observability block.
const (
	DefaultTraceRetention = 30 * 24 * time.Hour
	DefaultPrometheusAddr = "127.0.0.1:9464"
)

// TracingOn reports whether runs are traced.
func (c ObservabilityConfig) TracingOn() bool { return c.Tracing == nil || *c.Tracing }

// Sampling is the sampling ratio with its default (1).
func (c ObservabilityConfig) Sampling() float64 {
	if c.SamplingRatio == 0 {
		return 1
	}
	return c.SamplingRatio
}

// Retention is the trace retention with its default.
func (c ObservabilityConfig) Retention() time.Duration {
	if c.TraceRetention == 0 {
		return DefaultTraceRetention
	}
	return c.TraceRetention
}

// AdminAddr is the admin listener's address ("" when it is off).
func (c ObservabilityConfig) AdminAddr() string {
	switch strings.TrimSpace(c.PrometheusAddr) {
	case "":
		return DefaultPrometheusAddr
	case "off", "false", "none":
		return ""
	default:
		return strings.TrimSpace(c.PrometheusAddr)
	}
}

// Validate checks the block.
func (c ObservabilityConfig) Validate() error {
	var errs []error
	if c.SamplingRatio < 0 || c.SamplingRatio > 1 {
		errs = append(errs, fmt.Errorf("observability.sampling_ratio must be in (0, 1], not %v", c.SamplingRatio))
	}
	switch c.OTLPProtocol {
	case "", "http", "grpc":
	default:
		errs = append(errs, fmt.Errorf("observability.otlp_protocol must be http or grpc, not %q", c.OTLPProtocol))
	}
	if c.OTLPEndpoint == "" && (c.OTLPProtocol != "" || len(c.OTLPHeaders) > 0) {
		errs = append(errs, errors.New("observability: otlp_protocol and otlp_headers need otlp_endpoint"))
	}
	if c.TraceRetention < 0 {
		errs = append(errs, errors.New("observability.trace_retention must not be negative (0 takes the default, 720h)"))
	}
	if c.MetricsRefreshInterval < 0 || c.MetricsRefreshInterval > 0 && c.MetricsRefreshInterval < time.Second {
		errs = append(errs, errors.New("observability.metrics_refresh_interval must be at least 1s (0 takes the default, 15m)"))
	}
	if addr := c.AdminAddr(); addr != "" {
		loopback, err := loopbackAddr(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("observability.prometheus_addr %q: want HOST:PORT or off: %v", addr, err))
		} else if !c.PrometheusPublic && !loopback {
			errs = append(errs, fmt.Errorf("observability.prometheus_addr %q is not a loopback address: set observability.prometheus_public: true to serve metrics (and pprof) there", addr))
		}
	}
	return errors.Join(errs...)
}
