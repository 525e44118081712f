package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/agentgate/agentgate/auth"
)

// wsSecret is the HS256 secret of the jwt-mode gateway of the WS tests.
const wsSecret = "e2e-ws-hs256-secret-0123456789abcdef-012345"

func wsToken(t *testing.T, sub string, scopes ...string) string {
	t.Helper()
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, wsSecret, sub, scopes, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Every WebSocket action asks the one policy: in jwt mode a socket without
// credentials may only ping and authenticate (start is unauthorized), a
// token without the agent's run scope is forbidden, per-agent scopes admit
// only that agent, and user isolation hides other users' runs (not_found)
// and binds the user id.
func TestWSAuth(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("auth_mode: jwt\njwt_key: \""+wsSecret+"\"\nauth:\n  jwt_algorithm: HS256\n"))

	// A refused token in the handshake is refused there.
	_, resp, err := websocket.DefaultDialer.Dial(g.wsURL(), http.Header{"Authorization": {"Bearer not-a-jwt"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("handshake with a bad token: %v (resp %v), want 401", err, resp)
	}

	// No credentials: only the public actions.
	w, hello := wsDial(t, g, nil)
	if !hello.AuthRequired {
		t.Errorf("jwt mode without a token: connected frame %s, want auth_required", hello)
	}
	w.send(`{"action":"ping","id":1}`)
	w.expect("pong")
	w.send(`{"action":"start","id":2,"agent_id":"quick","message":"hi"}`)
	if f := w.expect("error"); f.Code != "unauthorized" || string(f.ID) != "2" {
		t.Errorf("start without a token: %s, want unauthorized", f)
	}
	w.send(`{"action":"subscribe","id":3,"run_id":"whatever"}`)
	if f := w.expect("error"); f.Code != "unauthorized" {
		t.Errorf("subscribe without a token: %s, want unauthorized", f)
	}
	w.send(`{"action":"authenticate","id":4,"token":"garbage"}`)
	if f := w.expect("error"); f.Code != "unauthorized" {
		t.Errorf("authenticate with garbage: %s", f)
	}

	// A valid token without the scope: forbidden.
	w.send(map[string]any{"action": "authenticate", "id": 5, "token": wsToken(t, "alice", "sessions:read")})
	if f := w.expect("authenticated"); string(f.ID) != "5" {
		t.Errorf("authenticated %s", f)
	}
	w.send(`{"action":"start","id":6,"agent_id":"quick","message":"hi"}`)
	if f := w.expect("error"); f.Code != "forbidden" {
		t.Errorf("start without agents:run: %s, want forbidden", f)
	}

	// A per-agent scope admits that agent only; the user id is the token's.
	w.send(map[string]any{"action": "authenticate", "id": 7, "token": wsToken(t, "alice", "agents:quick:run")})
	w.expect("authenticated")
	w.send(`{"action":"start","id":8,"agent_id":"story","message":"hi"}`)
	if f := w.expect("error"); f.Code != "forbidden" {
		t.Errorf("start of another agent: %s, want forbidden", f)
	}
	w.send(`{"action":"start","id":9,"agent_id":"quick","message":"hi","user_id":"mallory"}`)
	ack := w.expect("ack")
	w.untilEnd(ack.RunID, 0)
	admin := wsToken(t, "root", "agent_os:admin")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp = g.do(t, ctx, http.MethodGet, "/agents/quick/runs/"+ack.RunID, nil, "", map[string]string{"Authorization": "Bearer " + admin})
	var stored struct {
		UserID string `json:"user_id"`
	}
	decode(t, expectStatus(t, resp, http.StatusOK), &stored)
	if stored.UserID != "alice" {
		t.Errorf("run stored for user %q, want alice (the token's, not the frame's)", stored.UserID)
	}

	// Another user (credentials in the handshake) does not see alice's run.
	bob, hello := wsDial(t, g, http.Header{"Authorization": {"Bearer " + wsToken(t, "bob", "agents:run")}})
	if hello.AuthRequired {
		t.Errorf("handshake token: connected frame %s", hello)
	}
	for _, action := range []string{"subscribe", "cancel"} {
		bob.send(map[string]any{"action": action, "id": action, "run_id": ack.RunID})
		if f := bob.expect("error"); f.Code != "not_found" {
			t.Errorf("bob %s alice's run: %s, want not_found", action, f)
		}
	}
	// An admin does.
	root, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + admin}})
	root.send(map[string]any{"action": "subscribe", "id": "s", "run_id": ack.RunID})
	root.expect("ack")
	if evs := root.untilEnd(ack.RunID, 0); evs[len(evs)-1].Event != "RunCompleted" {
		t.Errorf("admin replay: %s", eventTypes(evs))
	}

	// Five refused authenticate actions in a row close the socket (1008).
	for i := range 5 {
		w.send(map[string]any{"action": "authenticate", "id": i, "token": "wrong"})
	}
	if code := w.closeCode(10 * time.Second); code != websocket.ClosePolicyViolation {
		t.Errorf("after 5 refused tokens: close code %d, want 1008", code)
	}
}
