package agentgate

import (
	"strings"
	"testing"
)

func TestObservabilityConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    ObservabilityConfig
		want string // "" for valid
	}{
		{"defaults", ObservabilityConfig{}, ""},
		{"off", ObservabilityConfig{PrometheusAddr: "off"}, ""},
		{"public needs opt-in", ObservabilityConfig{PrometheusAddr: "0.0.0.0:9464"}, "prometheus_public"},
		{"public opted in", ObservabilityConfig{PrometheusAddr: "0.0.0.0:9464", PrometheusPublic: true}, ""},
		{"bad addr", ObservabilityConfig{PrometheusAddr: "nonsense"}, "HOST:PORT"},
		{"ratio", ObservabilityConfig{SamplingRatio: 1.5}, "sampling_ratio"},
		{"protocol", ObservabilityConfig{OTLPEndpoint: "http://x:4318", OTLPProtocol: "thrift"}, "otlp_protocol"},
		{"headers without endpoint", ObservabilityConfig{OTLPHeaders: map[string]string{"a": "b"}}, "need otlp_endpoint"},
		{"retention", ObservabilityConfig{TraceRetention: -1}, "trace_retention"},
	} {
		err := tc.c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	c := ObservabilityConfig{}
	if !c.TracingOn() || c.Sampling() != 1 || c.Retention() != DefaultTraceRetention || c.AdminAddr() != DefaultPrometheusAddr {
		t.Fatalf("defaults: %v %v %v %q", c.TracingOn(), c.Sampling(), c.Retention(), c.AdminAddr())
	}
}
