package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestPostgresOutageAnswers503: the gateway reaches Postgres through a
// proxy that the test cuts. While Postgres is unreachable the gateway stays
// up (/health 200), /ready answers 503, requests that need the database
// fail promptly with 503 (never hang), and once Postgres is reachable again
// the same process serves runs without a restart.
func TestPostgresOutageAnswers503(t *testing.T) {
	t.Parallel()
	b := newBackends(t, "")
	pu, err := url.Parse(b.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, pu.Host)
	a := startReplica(t, "A", replicaConfig(), proxiedEnv(t, b, proxy, true)...)

	ctx := testCtx(t, 60*time.Second)
	blocking := func() (int, string, time.Duration) {
		start := time.Now()
		resp := a.postForm(t, ctx, "/agents/approver/runs", url.Values{"message": {"x"}, "stream": {"false"}})
		body := string(readAll(t, resp))
		return resp.StatusCode, body, time.Since(start)
	}
	if code, body, _ := blocking(); code != http.StatusOK {
		t.Fatalf("before the outage: %d %s", code, body)
	}

	proxy.Partition()
	if _, d := a.waitReady(t, http.StatusServiceUnavailable, 15*time.Second); d > 15*time.Second {
		t.Fatalf("/ready did not turn 503")
	}
	if resp := a.get(t, ctx, "/health"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/health during the outage: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	for _, path := range []string{"/sessions", "/agents/approver/runs?session_id=s"} {
		start := time.Now()
		resp := a.get(t, ctx, path)
		body := string(readAll(t, resp))
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "detail") {
			t.Fatalf("GET %s during the outage: %d %s, want 503 with a detail", path, resp.StatusCode, body)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("GET %s took %v during the outage: it must fail promptly", path, d)
		}
	}
	if code, body, d := blocking(); code != http.StatusServiceUnavailable || d > 10*time.Second {
		t.Fatalf("a run during the outage: %d after %v %s, want a prompt 503", code, d, body)
	}

	proxy.Heal()
	if _, d := a.waitReady(t, http.StatusOK, 20*time.Second); d > 20*time.Second {
		t.Fatalf("/ready did not recover")
	}
	if code, body, _ := blocking(); code != http.StatusOK || !strings.Contains(body, `"status":"PAUSED"`) {
		t.Fatalf("after the outage: %d %s", code, body)
	}
	if !a.alive() {
		t.Fatal("the gateway process died")
	}
}
