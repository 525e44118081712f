package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestCORSLoopbackByDefault is a browser's view: a chat UI served on this
// machine (agno's Agent UI on http://localhost:3000, or any loopback port)
// calls a gateway without auth, which listens on the loopback only, with
// no CORS configuration; the preflight is answered before auth. With auth
// on, only the configured origins are allowed, loopback ones included.
func TestCORSLoopbackByDefault(t *testing.T) {
	t.Parallel()
	uiPort := strconv.Itoa(freePort(t))
	preflight := func(g *gateway, origin string) *http.Response {
		t.Helper()
		resp, _ := callHeader(t, g, http.MethodOptions, "/agents/assistant/runs", nil, map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization,content-type",
		})
		return resp
	}
	allowed := func(t *testing.T, g *gateway, origin string) {
		t.Helper()
		resp := preflight(g, origin)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("preflight from %s: %d, Access-Control-Allow-Origin %q, want 204 and the origin",
				origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
			t.Errorf("preflight from %s: Access-Control-Allow-Methods %q lacks POST", origin, got)
		}
		if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "content-type") {
			t.Errorf("preflight from %s: Access-Control-Allow-Headers %q lacks Content-Type", origin, got)
		}
	}
	refused := func(t *testing.T, g *gateway, origin string) {
		t.Helper()
		if got := preflight(g, origin).Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want none", origin, got)
		}
	}

	t.Run("auth_off", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, authAgents)
		for _, o := range []string{"http://127.0.0.1:" + uiPort, "http://localhost:3000", "http://[::1]:" + uiPort, "http://localhost"} {
			allowed(t, g, o)
		}
		// The answer itself is readable by the page.
		resp, _ := callHeader(t, g, http.MethodGet, "/agents", nil, map[string]string{"Origin": "http://127.0.0.1:" + uiPort})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:"+uiPort {
			t.Errorf("GET /agents from the loopback UI: %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		for _, o := range []string{"https://evil.example.com", "http://127.0.0.1.evil.example.com:" + uiPort,
			"http://localhost.evil.example.com", "https://localhost:3000", "http://10.0.0.1:" + uiPort, "null"} {
			refused(t, g, o)
		}
		resp, _ = callHeader(t, g, http.MethodGet, "/agents", nil, map[string]string{"Origin": "https://evil.example.com"})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET /agents from another origin: ACAO %q, want none", got)
		}
	})

	t.Run("auth_on", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, "auth_mode: key\nsecurity_key: \""+authKey+"\"\nauth:\n  cors_origins: [\"http://localhost:3000\"]\n"+authAgents)
		allowed(t, g, "http://localhost:3000") // without the key: before auth
		refused(t, g, "http://127.0.0.1:"+uiPort)
		refused(t, g, "http://localhost:3001")
		resp, _ := callHeader(t, g, http.MethodGet, "/agents", nil, map[string]string{"Origin": "http://localhost:3000", "Authorization": "Bearer " + authKey})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
			t.Errorf("GET /agents from the configured origin: %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}

		// Auth on and nothing configured: no origin at all.
		g2 := startGateway(t, "auth_mode: key\nsecurity_key: \""+authKey+"\"\n"+authAgents)
		refused(t, g2, "http://127.0.0.1:"+uiPort)
	})
}
