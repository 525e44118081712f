package agentgate

import (
	"strings"
	"testing"
	"time"
)

func TestMetricsRefreshInterval(t *testing.T) {
	if got := (ObservabilityConfig{}).MetricsRefresh(); got != DefaultMetricsRefreshInterval {
		t.Fatalf("default interval %v", got)
	}
	for _, c := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {time.Second, true}, {time.Hour, true}, {500 * time.Millisecond, false}, {-time.Second, false}} {
		err := ObservabilityConfig{MetricsRefreshInterval: c.d}.Validate()
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "metrics_refresh_interval")) {
			t.Errorf("metrics_refresh_interval %v: %v", c.d, err)
		}
	}
}
