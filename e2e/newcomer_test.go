package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What a newcomer meets in the first hour: every error names its fix.

// TestErrorsNameTheFix checks the messages of the usual first mistakes,
// through the binary and over HTTP.
func TestErrorsNameTheFix(t *testing.T) {
	t.Parallel()

	t.Run("jwt_key_not_pem", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		// A shared secret with the default algorithm (RS256).
		env := []string{"AGENTGATE_AUTH_MODE=jwt", "AGENTGATE_JWT_KEY=" + authSecret}
		for _, args := range [][]string{{"config", "check"}, {"serve", "--addr", "127.0.0.1:0"}} {
			out, err := runCLI(t, ctx, env, args...)
			if err == nil {
				t.Fatalf("%v with a non-PEM RS256 key exited 0:\n%s", args, out)
			}
			for _, want := range []string{"RS256", "PEM", "HS256", "AGENTGATE_AUTH_JWT_ALGORITHM"} {
				if !strings.Contains(out, want) {
					t.Errorf("%v: the error should name %s:\n%s", args, want, out)
				}
			}
			if strings.Contains(out, "auth: auth:") {
				t.Errorf("%v: doubled prefix:\n%s", args, out)
			}
		}
	})

	t.Run("missing_variables", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		for _, c := range []struct {
			env  []string
			want string
		}{
			{[]string{"AGENTGATE_AUTH_MODE=key"}, "AGENTGATE_SECURITY_KEY"},
			{[]string{"AGENTGATE_AUTH_MODE=jwt"}, "AGENTGATE_JWT_KEY"},
		} {
			out, err := runCLI(t, ctx, c.env, "serve", "--addr", "127.0.0.1:0")
			if err == nil || !strings.Contains(out, c.want) || strings.Contains(out, "auth: auth:") {
				t.Errorf("serve with %v: %v; want an error naming %s, once prefixed:\n%s", c.env, err, c.want, out)
			}
		}
	})

	t.Run("rest_403_names_the_scope", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
		reader := mint(t, "carol", "agents:read")
		b := want(t, g, reader, http.MethodPost, "/agents/assistant/runs", formBody(map[string][]string{"message": {"hi"}}), http.StatusForbidden)
		if !strings.Contains(string(b), "agents:assistant:run") {
			t.Errorf("REST 403 should name the missing scope agents:assistant:run: %s", b)
		}
		b = want(t, g, reader, http.MethodGet, "/sessions", nil, http.StatusForbidden)
		if !strings.Contains(string(b), "sessions:read") {
			t.Errorf("REST 403 should name the missing scope sessions:read: %s", b)
		}
		b = want(t, g, reader, http.MethodGet, "/service-accounts", nil, http.StatusForbidden)
		if !strings.Contains(string(b), "agent_os:admin") {
			t.Errorf("an admin-only route's 403 should name agent_os:admin: %s", b)
		}
	})

	t.Run("run_401_mentions_token", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, "auth_mode: key\nsecurity_key: \""+authKey+"\"\n"+authAgents)
		ctx := testCtx(t, 20*time.Second)
		out, err := runCLI(t, ctx, nil, "run", "assistant", "hi", "--url", g.URL)
		if err == nil || !strings.Contains(out, "401") || !strings.Contains(out, "--token") || !strings.Contains(out, "AGENTGATE_TOKEN") {
			t.Errorf("agentgate run without a token against an auth gateway: %v; want a 401 naming --token and AGENTGATE_TOKEN:\n%s", err, out)
		}
		out, err = runCLI(t, ctx, nil, "run", "assistant", "hi", "--url", g.URL, "--token", "wrong-key-wrong-key")
		if err == nil || !strings.Contains(out, "401") || !strings.Contains(out, "refused") {
			t.Errorf("agentgate run with a wrong token: %v; want a 401 saying the token was refused:\n%s", err, out)
		}
		out, err = runCLI(t, ctx, nil, "run", "assistant", "hi", "--url", g.URL, "--token", authKey)
		if err != nil || !strings.Contains(out, "You said: hi") {
			t.Errorf("agentgate run with the key: %v\n%s", err, out)
		}
	})

	t.Run("multipart_wrong_boundary", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, errorsConfig)
		ctx := testCtx(t, 20*time.Second)
		body := "--right\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--right--\r\n"
		resp := g.do(t, ctx, http.MethodPost, "/agents/assistant/runs", strings.NewReader(body), "multipart/form-data; boundary=wrong", nil)
		d, _ := expectDetail(t, resp, http.StatusBadRequest)["detail"].(string)
		if !strings.Contains(d, "multipart") || !strings.Contains(d, `"wrong"`) || strings.Contains(d, "message is required") {
			t.Errorf("a wrong boundary: %q; want it to say the body is not multipart with boundary \"wrong\"", d)
		}
	})

	t.Run("mcp_batch", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, errorsConfig)
		batch := `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`
		resp, b := callHeader(t, g, http.MethodPost, "/mcp", &reqBody{ct: "application/json", data: []byte(batch)},
			map[string]string{"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("MCP batch: status %d, want 400: %s", resp.StatusCode, b)
		}
		code, msg := mcpRPCError(t, b)
		if code != -32600 || !strings.Contains(msg, "batch") || strings.Contains(msg, "not valid json") {
			t.Errorf("MCP batch: error %d %q; want -32600 saying batches are not supported", code, msg)
		}
	})
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
