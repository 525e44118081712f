package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/agentgate/agentgate/auth"
)

// jwtExp returns a token's exp claim.
func jwtExp(t *testing.T, tok string) time.Time {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Exp == 0 {
		t.Fatalf("claims %s: %v", b, err)
	}
	return time.Unix(c.Exp, 0)
}

// TestWSCredentialsExpire: a socket's credentials are checked on every
// action, not only at the upgrade. A JWT (sent in the handshake, or by
// authenticate) closes the socket at its exp with 1008 "token expired",
// and acts normally until then; authenticate with a fresh token extends
// the socket. A service account deleted through the REST API is refused
// from its next action (error frame unauthorized, then 1008 "token
// revoked"), while another socket is unaffected by it.
func TestWSCredentialsExpire(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("auth_mode: jwt\njwt_key: \""+wsSecret+"\"\nauth:\n  jwt_algorithm: HS256\n"))
	short := func(t *testing.T, sub string) string {
		tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, wsSecret, sub, []string{"agents:run"}, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("jwt exp in the handshake", func(t *testing.T) {
		t.Parallel()
		tok := short(t, "alice")
		exp := jwtExp(t, tok)
		w, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + tok}})
		w.send(`{"action":"start","id":1,"agent_id":"quick","message":"hi"}`)
		w.expect("ack")
		code, text, _ := w.closeFrame(time.Until(exp) + 5*time.Second)
		closed := time.Now()
		if code != websocket.ClosePolicyViolation || text != "token expired" {
			t.Fatalf("closed with %d %q, want 1008 \"token expired\"", code, text)
		}
		if closed.Before(exp) || closed.After(exp.Add(2*time.Second)) {
			t.Errorf("closed at %v, the token expires at %v", closed.Format(time.StampMilli), exp.Format(time.StampMilli))
		}
		t.Logf("closed %v after exp", closed.Sub(exp).Round(time.Millisecond))
	})

	t.Run("jwt exp by authenticate, then extended", func(t *testing.T) {
		t.Parallel()
		w, _ := wsDial(t, g, nil)
		tok := short(t, "bob")
		exp := jwtExp(t, tok)
		w.send(map[string]any{"action": "authenticate", "id": 1, "token": tok})
		w.expect("authenticated")
		w.send(map[string]any{"action": "authenticate", "id": 2, "token": wsToken(t, "bob", "agents:run")})
		w.expect("authenticated")
		for time.Now().Before(exp.Add(500 * time.Millisecond)) {
			time.Sleep(100 * time.Millisecond)
		}
		w.send(`{"action":"ping","id":3}`)
		w.expect("pong")
		w.send(`{"action":"start","id":4,"agent_id":"quick","message":"hi"}`)
		w.expect("ack")

		// The other way round: a fresh token replaced by a short one.
		w2, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + wsToken(t, "bob", "agents:run")}})
		tok = short(t, "bob")
		w2.send(map[string]any{"action": "authenticate", "id": 1, "token": tok})
		w2.expect("authenticated")
		if code, text, _ := w2.closeFrame(time.Until(jwtExp(t, tok)) + 5*time.Second); code != websocket.ClosePolicyViolation || text != "token expired" {
			t.Fatalf("closed with %d %q, want 1008 \"token expired\"", code, text)
		}
	})

	t.Run("service account deleted", func(t *testing.T) {
		t.Parallel()
		admin := wsToken(t, "root", "agent_os:admin")
		sa := createServiceAccount(t, g, admin, "ws-bot", "agents:run")
		other := createServiceAccount(t, g, admin, "ws-bot-2", "agents:run")
		w, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + sa.Token}})
		w.send(`{"action":"start","id":1,"agent_id":"quick","message":"hi"}`)
		ack := w.expect("ack")
		w.untilEnd(ack.RunID, 0)
		w2, _ := wsDial(t, g, nil)
		w2.send(map[string]any{"action": "authenticate", "id": 1, "token": other.Token})
		w2.expect("authenticated")

		want(t, g, admin, http.MethodDelete, "/service-accounts/"+sa.ID, nil, http.StatusNoContent)
		w.send(`{"action":"ping","id":2}`)
		f := w.expect("error")
		if f.Code != "unauthorized" || string(f.ID) != "2" || !strings.Contains(f.Detail, "revoked") {
			t.Errorf("next action after the deletion: %s, want unauthorized (revoked)", f)
		}
		if code, text, rest := w.closeFrame(5 * time.Second); code != websocket.ClosePolicyViolation || text != "token revoked" || len(rest) != 0 {
			t.Errorf("closed with %d %q after %d more frames, want 1008 \"token revoked\" at once", code, text, len(rest))
		}
		w2.send(`{"action":"ping","id":2}`)
		w2.expect("pong")
		// The same token is refused at a new handshake too.
		if _, resp, err := websocket.DefaultDialer.Dial(g.wsURL(), http.Header{"Authorization": {"Bearer " + sa.Token}}); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("handshake with the deleted account's token: %v (resp %v), want 401", err, resp)
		}
	})
}

// TestMCPStdioCredentialsExpire: `agentgate mcp --stdio` authenticates its
// token once, at start, and every request checks that it still holds: a
// JWT past its exp is refused (token expired) from then on.
func TestMCPStdioCredentialsExpire(t *testing.T) {
	t.Parallel()
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, mcpJWTSecret, "carol", []string{"agents:story:run"}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	exp := jwtExp(t, tok)
	c, stderr, err := mcpStdio(t, mcpJWTConfig(""), "AGENTGATE_TOKEN="+tok)
	if err != nil {
		t.Fatalf("initialize: %v\n%s", err, stderr.String())
	}
	ctx := testCtx(t, 30*time.Second)
	if _, r, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "story", "message": "hi"}, nil); err != nil || r.Status != "COMPLETED" {
		t.Fatalf("run_agent before exp: %v %+v", err, r)
	}
	for time.Now().Before(exp.Add(200 * time.Millisecond)) {
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "story", "message": "hi"}, nil); err == nil || !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("run_agent after exp: %v, want token expired", err)
	}
}
