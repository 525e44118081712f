package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
)

// userScopes are what alice and bob hold: run agents, manage sessions.
var userScopes = []string{"agents:run", "sessions:read", "sessions:write", "sessions:delete"}

// TestAuthIsolation checks user isolation (on by default in jwt mode): a
// user's runs and sessions are bound to the token's subject, and another
// non-admin user gets 404 for them on every route; an admin sees all.
func TestAuthIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	alice := mint(t, "alice", userScopes...)
	bob := mint(t, "bob", userScopes...)
	admin := mint(t, "root", auth.AdminScope)

	getRun := func(t *testing.T, tok, agent, runID string) fullRun {
		t.Helper()
		var r fullRun
		decode(t, want(t, g, tok, http.MethodGet, "/agents/"+agent+"/runs/"+runID, nil, http.StatusOK), &r)
		return r
	}

	// alice starts a streaming run, claiming to be mallory in the form.
	ctx := testCtx(t, 20*time.Second)
	resp := g.do(t, ctx, http.MethodPost, "/agents/assistant/runs",
		strings.NewReader(url.Values{"message": {"stream me"}, "user_id": {"mallory"}}.Encode()),
		"application/x-www-form-urlencoded", bearer(alice))
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	if len(evs) == 0 || evs[len(evs)-1].Event != "RunCompleted" {
		t.Fatalf("alice's stream: %v", types(frames))
	}
	streamed := getRun(t, alice, "assistant", evs[0].RunID)

	// alice starts a background run, claiming to be bob.
	var acc struct {
		RunID     string `json:"run_id"`
		SessionID string `json:"session_id"`
	}
	decode(t, want(t, g, alice, http.MethodPost, "/agents/assistant/runs",
		formBody(url.Values{"message": {"later"}, "background": {"true"}, "stream": {"false"}, "user_id": {"bob"}}),
		http.StatusAccepted), &acc)
	var background fullRun
	for deadline := time.Now().Add(15 * time.Second); ; {
		background = getRun(t, alice, "assistant", acc.RunID)
		if background.Status == "COMPLETED" {
			break
		}
		if time.Now().After(deadline) || background.Status == "ERROR" || background.Status == "CANCELLED" {
			t.Fatalf("alice's background run: %+v", background)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// alice's paused run (for continue), and a session she creates for "bob".
	paused := pausedRun(t, g, alice, url.Values{"user_id": {"bob"}})
	var sess struct {
		SessionID string `json:"session_id"`
		UserID    string `json:"user_id"`
	}
	decode(t, want(t, g, alice, http.MethodPost, "/sessions",
		jsonBody(t, map[string]any{"session_name": "alice's notes", "user_id": "bob"}), http.StatusCreated), &sess)

	t.Run("bound_to_the_token", func(t *testing.T) {
		for name, r := range map[string]fullRun{"streamed": streamed, "background": background, "paused": paused} {
			if r.UserID != "alice" {
				t.Errorf("%s run: user_id %q, want alice (the token's subject, not the form's)", name, r.UserID)
			}
		}
		if sess.UserID != "alice" {
			t.Errorf("session created by alice for bob: user_id %q, want alice", sess.UserID)
		}
	})

	aliceSessions := []string{streamed.SessionID, background.SessionID, paused.SessionID, sess.SessionID}
	runs := []struct{ agent, id, session string }{
		{"assistant", streamed.RunID, streamed.SessionID},
		{"assistant", background.RunID, background.SessionID},
		{"approval-demo", paused.RunID, paused.SessionID},
	}

	t.Run("bob_cannot_touch_alices_runs", func(t *testing.T) {
		for _, r := range runs {
			base := "/agents/" + r.agent + "/runs/" + r.id
			expectDetail(t, g.do(t, ctx, http.MethodGet, base, nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodGet, base+"?session_id="+r.session, nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodPost, base+"/cancel", nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodPost, base+"/resume",
				strings.NewReader("last_event_index=-1"), "application/x-www-form-urlencoded", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodGet, base+"/stream", nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodGet, base+"/stream?last_event_index=0", nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodGet, "/sessions/"+r.session+"/runs/"+r.id, nil, "", bearer(bob)), http.StatusNotFound)
			// Listing the session's runs under the agent shows bob nothing.
			var list []fullRun
			decode(t, want(t, g, bob, http.MethodGet, "/agents/"+r.agent+"/runs?session_id="+r.session, nil, http.StatusOK), &list)
			if len(list) != 0 {
				t.Errorf("bob lists alice's runs in session %s: %+v", r.session, list)
			}
		}
		// Continue alice's paused run: 404, and it stays paused for her.
		cf := continueForm(t, paused)
		resp, b := call(t, g, bob, http.MethodPost, "/agents/approval-demo/runs/"+paused.RunID+"/continue", cf)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob continues alice's paused run: %d %s", resp.StatusCode, truncateBody(b))
		}
		if r := getRun(t, alice, "approval-demo", paused.RunID); r.Status != "PAUSED" {
			t.Errorf("after bob's continue, alice's run is %s", r.Status)
		}
		// Bob's cancel did not cancel alice's paused run either.
		if r := getRun(t, admin, "approval-demo", paused.RunID); r.Status != "PAUSED" {
			t.Errorf("after bob's cancel, alice's run is %s", r.Status)
		}
	})

	t.Run("bob_cannot_touch_alices_sessions", func(t *testing.T) {
		for _, sid := range aliceSessions {
			p := "/sessions/" + sid
			expectDetail(t, g.do(t, ctx, http.MethodGet, p, nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodGet, p+"/runs", nil, "", bearer(bob)), http.StatusNotFound)
			expectDetail(t, send(t, g, bob, http.MethodPatch, p, jsonBody(t, map[string]any{"session_name": "pwned"})), http.StatusNotFound)
			expectDetail(t, send(t, g, bob, http.MethodPost, p+"/rename", jsonBody(t, map[string]any{"session_name": "pwned"})), http.StatusNotFound)
			expectDetail(t, g.do(t, ctx, http.MethodDelete, p, nil, "", bearer(bob)), http.StatusNotFound)
			// Nor can he run an agent in it.
			expectDetail(t, send(t, g, bob, http.MethodPost, "/agents/assistant/runs",
				formBody(url.Values{"message": {"hijack"}, "stream": {"false"}, "session_id": {sid}})), http.StatusNotFound)
		}
		for _, q := range []string{"", "&user_id=alice"} {
			for _, id := range sessionIDs(t, g, bob, q) {
				if slices.Contains(aliceSessions, id) {
					t.Errorf("GET /sessions%s as bob lists alice's session %s", q, id)
				}
			}
		}
		// Bulk delete with alice's ids deletes nothing of hers.
		want(t, g, bob, http.MethodDelete, "/sessions", jsonBody(t, map[string]any{"session_ids": aliceSessions}), http.StatusNoContent)
		for _, sid := range aliceSessions {
			var s struct {
				SessionName string `json:"session_name"`
			}
			decode(t, want(t, g, alice, http.MethodGet, "/sessions/"+sid, nil, http.StatusOK), &s)
			if s.SessionName == "pwned" {
				t.Errorf("bob renamed alice's session %s", sid)
			}
		}
		mine := sessionIDs(t, g, alice, "")
		for _, sid := range aliceSessions {
			if !slices.Contains(mine, sid) {
				t.Errorf("alice's list lacks her session %s: %v", sid, mine)
			}
		}
	})

	t.Run("bob_has_his_own", func(t *testing.T) {
		r := completedRun(t, g, bob, "assistant", nil)
		if r.UserID != "bob" {
			t.Errorf("bob's run: user_id %q", r.UserID)
		}
		expectDetail(t, g.do(t, ctx, http.MethodGet, "/agents/assistant/runs/"+r.RunID, nil, "", bearer(alice)), http.StatusNotFound)
		if ids := sessionIDs(t, g, bob, ""); !slices.Contains(ids, r.SessionID) {
			t.Errorf("bob does not see his own session: %v", ids)
		}
		if ids := sessionIDs(t, g, alice, ""); slices.Contains(ids, r.SessionID) {
			t.Errorf("alice sees bob's session")
		}
		// An admin sees both users' data.
		all := sessionIDs(t, g, admin, "")
		for _, sid := range append([]string{r.SessionID}, aliceSessions...) {
			if !slices.Contains(all, sid) {
				t.Errorf("the admin's list lacks %s", sid)
			}
			want(t, g, admin, http.MethodGet, "/sessions/"+sid, nil, http.StatusOK)
		}
		for _, run := range runs {
			if got := getRun(t, admin, run.agent, run.id); got.UserID != "alice" {
				t.Errorf("admin reads alice's run %s: user_id %q", run.id, got.UserID)
			}
		}
	})

	t.Run("alice_continues_her_run", func(t *testing.T) {
		var r fullRun
		decode(t, want(t, g, alice, http.MethodPost, "/agents/approval-demo/runs/"+paused.RunID+"/continue",
			continueForm(t, paused), http.StatusOK), &r)
		if r.Status != "COMPLETED" || r.UserID != "alice" {
			t.Errorf("alice's continued run: %+v", r)
		}
	})

	t.Run("service_accounts", func(t *testing.T) {
		// Only an admin creates one; the token is shown once.
		sa := createServiceAccount(t, g, admin, "ci-bot", "agents:assistant:run", "sessions:read")
		if !strings.HasPrefix(sa.Token, auth.ServiceAccountTokenPrefix) || sa.TokenPrefix == "" ||
			!strings.HasPrefix(sa.Token, sa.TokenPrefix) || len(sa.TokenPrefix) >= len(sa.Token) {
			t.Errorf("created service account: token %q, prefix %q", sa.Token, sa.TokenPrefix)
		}
		for _, p := range []string{"/service-accounts/" + sa.ID, "/service-accounts", "/service-accounts?include_revoked=true"} {
			b := want(t, g, admin, http.MethodGet, p, nil, http.StatusOK)
			if strings.Contains(string(b), sa.Token) || strings.Contains(string(b), `"token"`) {
				t.Errorf("GET %s shows the token: %s", p, b)
			}
		}

		// The token works with its scopes, and only those.
		tok := sa.Token
		r := completedRun(t, g, tok, "assistant", url.Values{"user_id": {"alice"}})
		if r.UserID == "alice" || r.UserID == "" {
			t.Errorf("service-account run: user_id %q, want its own principal", r.UserID)
		}
		want(t, g, tok, http.MethodGet, "/sessions", nil, http.StatusOK)
		want(t, g, tok, http.MethodGet, "/sessions/"+r.SessionID, nil, http.StatusOK)
		for _, c := range []struct {
			method, path string
			body         *reqBody
		}{
			{http.MethodPost, "/agents/approval-demo/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"}})},
			{http.MethodGet, "/agents/assistant", nil},
			{http.MethodGet, "/config", nil},
			{http.MethodDelete, "/sessions/" + r.SessionID, nil},
			{http.MethodPost, "/sessions", jsonBody(t, map[string]any{})},
			{http.MethodGet, "/service-accounts", nil},
			{http.MethodPost, "/service-accounts", jsonBody(t, map[string]any{"name": "x", "scopes": []string{"sessions:read"}})},
		} {
			resp, b := call(t, g, tok, c.method, c.path, c.body)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("service account (agents:assistant:run, sessions:read): %s %s → %d, want 403: %s",
					c.method, c.path, resp.StatusCode, truncateBody(b))
			}
		}
		// Its data is isolated like a user's: it does not see alice's.
		expectDetail(t, g.do(t, ctx, http.MethodGet, "/sessions/"+sess.SessionID, nil, "", bearer(tok)), http.StatusNotFound)

		// A service account acting as alice sees alice's sessions.
		var asAlice serviceAccount
		decode(t, want(t, g, admin, http.MethodPost, "/service-accounts",
			jsonBody(t, map[string]any{"name": "alice-bot", "scopes": []string{"sessions:read"}, "user_id": "alice"}),
			http.StatusCreated), &asAlice)
		want(t, g, asAlice.Token, http.MethodGet, "/sessions/"+sess.SessionID, nil, http.StatusOK)

		// A non-admin cannot create one, even holding service_accounts:write,
		// and cannot escalate to admin through one.
		writer := mint(t, "alice", append([]string{"service_accounts:write", "service_accounts:read"}, userScopes...)...)
		for _, scopes := range [][]string{{"agents:run"}, {auth.AdminScope}, {"config:read"}} {
			resp, b := call(t, g, writer, http.MethodPost, "/service-accounts",
				jsonBody(t, map[string]any{"name": "escalate", "scopes": scopes}))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("non-admin creates a service account with %v: %d %s", scopes, resp.StatusCode, truncateBody(b))
			}
		}
		if b := want(t, g, admin, http.MethodGet, "/service-accounts?include_revoked=true", nil, http.StatusOK); strings.Contains(string(b), "escalate") {
			t.Errorf("a refused creation stored an account: %s", b)
		}

		// Revoking makes the token 401 at once.
		want(t, g, admin, http.MethodDelete, "/service-accounts/"+sa.ID, nil, http.StatusNoContent)
		resp, b := call(t, g, tok, http.MethodGet, "/sessions", nil)
		expect401(t, resp, b)
		resp, b = call(t, g, tok, http.MethodPost, "/agents/assistant/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"}}))
		expect401(t, resp, b)
		var got serviceAccount
		decode(t, want(t, g, admin, http.MethodGet, "/service-accounts/"+sa.ID, nil, http.StatusOK), &got)
		if got.RevokedAt == 0 {
			t.Errorf("revoked service account without revoked_at: %+v", got)
		}
		want(t, g, admin, http.MethodDelete, "/service-accounts/no-such-account", nil, http.StatusNotFound)
		// The other account still works.
		want(t, g, asAlice.Token, http.MethodGet, "/sessions", nil, http.StatusOK)
	})
}
