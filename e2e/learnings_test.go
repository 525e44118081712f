package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The learnings' REST routes through the binary, on SQLite and Postgres:
// AgentOS's shapes (agno os/routers/learnings/schema.py), the
// identity-keyed ids, filters and paging, bad input with the right status,
// and user isolation.

// libs/agno/agno/os/routers/learnings/schema.py LearningResponse.
var learningShape = &shape{Name: "LearningResponse", Source: "os/routers/learnings/schema.py", Fields: []field{
	req("learning_id", "string"), req("learning_type", "string"), opt("namespace", "string|null"),
	opt("user_id", "string|null"), opt("agent_id", "string|null"), opt("team_id", "string|null"),
	opt("session_id", "string|null"), opt("entity_id", "string|null"), opt("entity_type", "string|null"),
	opt("content", "object|null"), opt("metadata", "object|null"), opt("created_at", "integer|null"),
	opt("updated_at", "integer|null"),
}}

// LearningUserStats.
var learningUserShape = &shape{Name: "LearningUserStats", Source: "os/routers/learnings/schema.py", Fields: []field{
	req("user_id", "string"), req("total_learnings", "integer"), opt("last_learning_updated_at", "integer|null"),
}}

var learningPageShape = &shape{Name: "PaginatedResponse[LearningResponse]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(learningShape), req("meta", "object").of(paginationShape),
}}

var learningUserPageShape = &shape{Name: "PaginatedResponse[LearningUserStats]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(learningUserShape), req("meta", "object").of(paginationShape),
}}

func TestLearningsREST(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkLearningsREST(t, startGateway(t, contractConfig))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkLearningsREST(t, startReplica(t, "pg", contractConfig, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
}

func checkLearningsREST(t *testing.T, g *gateway) {
	ctx := testCtx(t, 60*time.Second)
	send := func(method, path string, body any, status int) []byte {
		t.Helper()
		return expectStatus(t, g.sendJSON(t, ctx, method, path, body), status)
	}
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}
	detail := func(b []byte) string {
		var e struct {
			Detail string `json:"detail"`
		}
		decode(t, b, &e)
		return e.Detail
	}

	// /config lists the learnings' domain (AgentOS's UI shows its page by it).
	cfg := conform(t, "GET /config", configShape, get("/config"))
	if l, _ := cfg["learning"].(map[string]any); l == nil || len(l["dbs"].([]any)) != 1 ||
		l["dbs"].([]any)[0].(map[string]any)["db_id"] != cfg["os_database"] {
		t.Errorf("/config learning = %v, want the state database", cfg["learning"])
	}

	// An identity-keyed type gets agno's id; a second create is 409.
	profile := conform(t, "POST /learnings", learningShape, send(http.MethodPost, "/learnings", map[string]any{
		"learning_type": "user_profile", "user_id": "ada", "agent_id": "assistant",
		"content": map[string]any{"name": "Ada", "facts": []any{"likes tea"}}, "metadata": map[string]any{"source": "e2e"},
	}, http.StatusCreated))
	if profile["learning_id"] != "user_profile_ada" || jsonType(profile["created_at"]) != "integer" || profile["content"].(map[string]any)["name"] != "Ada" {
		t.Fatalf("created = %v", profile)
	}
	if d := detail(send(http.MethodPost, "/learnings", map[string]any{"learning_type": "user_profile", "user_id": "ada",
		"content": map[string]any{}}, http.StatusConflict)); !strings.Contains(d, "PATCH /learnings/user_profile_ada") {
		t.Errorf("duplicate identity: %q", d)
	}
	entity := conform(t, "POST entity_memory", learningShape, send(http.MethodPost, "/learnings", map[string]any{
		"learning_type": "entity_memory", "entity_id": "acme", "entity_type": "company", "content": map[string]any{"industry": "rockets"},
	}, http.StatusCreated))
	if entity["learning_id"] != "entity_global_company_acme" || entity["namespace"] != "global" || entity["user_id"] != nil {
		t.Errorf("entity memory = %v, want the global namespace and no owner", entity)
	}
	decision := conform(t, "POST decision_log", learningShape, send(http.MethodPost, "/learnings", map[string]any{
		"learning_type": "decision_log", "user_id": "bea", "session_id": "s-1", "content": map[string]any{"decision": "ship"},
	}, http.StatusCreated))
	decisionID, _ := decision["learning_id"].(string)
	if len(decisionID) != 36 {
		t.Errorf("decision_log id = %q, want a uuid", decisionID)
	}

	// Bad input.
	for _, c := range []struct {
		body   map[string]any
		status int
		detail string
	}{
		{map[string]any{"learning_type": "user_memory", "content": map[string]any{}}, http.StatusUnprocessableEntity, "identity fields"},
		{map[string]any{"learning_type": "note"}, http.StatusUnprocessableEntity, "content"},
		{map[string]any{"content": map[string]any{}}, http.StatusUnprocessableEntity, "learning_type"},
		{map[string]any{"learning_type": "note", "content": "not an object"}, http.StatusUnprocessableEntity, "content"},
		{map[string]any{"learning_type": "entity_memory", "entity_id": "x", "entity_type": "y", "namespace": "user_0123456789abcdef",
			"content": map[string]any{}}, http.StatusUnprocessableEntity, "reserved"},
		{map[string]any{"learning_type": strings.Repeat("t", 300), "content": map[string]any{}}, http.StatusUnprocessableEntity, ""},
	} {
		if d := detail(send(http.MethodPost, "/learnings", c.body, c.status)); !strings.Contains(d, c.detail) {
			t.Errorf("POST %v: detail %q, want it to name %q", c.body, d, c.detail)
		}
	}
	resp := g.do(t, ctx, http.MethodPost, "/learnings", strings.NewReader(`{"learning_type": "note", "content": {`), "application/json", nil)
	expectStatus(t, resp, http.StatusBadRequest)

	// Get, list, filters, paging.
	conform(t, "GET /learnings/{id}", learningShape, get("/learnings/user_profile_ada"))
	if d := detail(expectStatus(t, g.get(t, ctx, "/learnings/nope"), http.StatusNotFound)); !strings.Contains(d, "not found") {
		t.Errorf("missing learning: %q", d)
	}
	page := conform(t, "GET /learnings", learningPageShape, get("/learnings"))
	if data, _ := page["data"].([]any); len(data) != 3 {
		t.Errorf("GET /learnings lists %d, want 3", len(data))
	}
	meta, _ := page["meta"].(map[string]any)
	if fmt.Sprint(meta["limit"]) != "100" || fmt.Sprint(meta["total_count"]) != "3" || fmt.Sprint(meta["page"]) != "1" {
		t.Errorf("meta = %v, want AgentOS's default limit 100", meta)
	}
	for q, want := range map[string]string{
		"learning_type=entity_memory": "entity_global_company_acme", "user_id=ada": "user_profile_ada",
		"agent_id=assistant": "user_profile_ada", "session_id=s-1": decisionID, "namespace=global": "entity_global_company_acme",
		"entity_id=acme": "entity_global_company_acme", "entity_type=company": "entity_global_company_acme",
	} {
		p := conform(t, "GET /learnings?"+q, learningPageShape, get("/learnings?"+q))
		data, _ := p["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["learning_id"] != want {
			t.Errorf("GET /learnings?%s = %v, want %s", q, data, want)
		}
	}
	p := conform(t, "GET /learnings paged", learningPageShape, get("/learnings?limit=2&page=2&sort_by=created_at&sort_order=asc"))
	if data, _ := p["data"].([]any); len(data) != 1 || fmt.Sprint(p["meta"].(map[string]any)["total_pages"]) != "2" {
		t.Errorf("page 2 of 2 = %v", p)
	}
	for _, q := range []string{"limit=0", "limit=1001", "page=0", "sort_order=up"} {
		expectStatus(t, g.get(t, ctx, "/learnings?"+q), http.StatusUnprocessableEntity)
	}
	get("/learnings?sort_by=whatever") // ignored, as agno does

	// Users.
	users := conform(t, "GET /learnings/users", learningUserPageShape, get("/learnings/users"))
	data, _ := users["data"].([]any)
	if len(data) != 2 || fmt.Sprint(users["meta"].(map[string]any)["limit"]) != "20" {
		t.Errorf("users = %v, want ada and bea (no unowned), limit 20", users)
	}
	users = conform(t, "GET /learnings/users?sort_by=user_id", learningUserPageShape, get("/learnings/users?sort_by=user_id&sort_order=asc&learning_type=user_profile"))
	if data, _ := users["data"].([]any); len(data) != 1 || data[0].(map[string]any)["user_id"] != "ada" || fmt.Sprint(data[0].(map[string]any)["total_learnings"]) != "1" {
		t.Errorf("users of user_profile = %v", users)
	}

	// Patch: content and metadata replace; null content is refused; an
	// empty patch changes nothing.
	upd := conform(t, "PATCH /learnings/{id}", learningShape, send(http.MethodPatch, "/learnings/user_profile_ada",
		map[string]any{"content": map[string]any{"name": "Ada L."}}, http.StatusOK))
	if upd["content"].(map[string]any)["name"] != "Ada L." || upd["metadata"].(map[string]any)["source"] != "e2e" {
		t.Errorf("patched = %v, want the new content and the metadata kept", upd)
	}
	if d := detail(send(http.MethodPatch, "/learnings/user_profile_ada", map[string]any{"content": nil}, http.StatusUnprocessableEntity)); !strings.Contains(d, "content cannot be null") {
		t.Errorf("null content: %q", d)
	}
	upd = conform(t, "PATCH metadata null", learningShape, send(http.MethodPatch, "/learnings/user_profile_ada", map[string]any{"metadata": nil}, http.StatusOK))
	if upd["metadata"] != nil || upd["content"].(map[string]any)["name"] != "Ada L." {
		t.Errorf("metadata cleared = %v", upd)
	}
	conform(t, "PATCH empty", learningShape, send(http.MethodPatch, "/learnings/user_profile_ada", map[string]any{}, http.StatusOK))
	send(http.MethodPatch, "/learnings/nope", map[string]any{"content": map[string]any{}}, http.StatusNotFound)
	send(http.MethodPatch, "/learnings/user_profile_ada", map[string]any{"content": []any{1}}, http.StatusUnprocessableEntity)

	// Deletes.
	send(http.MethodDelete, "/learnings/"+url.PathEscape(decisionID), nil, http.StatusNoContent)
	send(http.MethodDelete, "/learnings/"+url.PathEscape(decisionID), nil, http.StatusNotFound)
	send(http.MethodDelete, "/learnings/users/ada?learning_type=other", nil, http.StatusNoContent)
	get("/learnings/user_profile_ada") // another type: kept
	send(http.MethodDelete, "/learnings/users/ada", nil, http.StatusNoContent)
	expectStatus(t, g.get(t, ctx, "/learnings/user_profile_ada"), http.StatusNotFound)
	send(http.MethodDelete, "/learnings/users/nobody", nil, http.StatusNoContent) // none: still 204
	get("/learnings/entity_global_company_acme")                                  // unowned: untouched
}

// TestLearningsIsolation: under user isolation a non-admin lists its own
// learnings and those with no owner, reads an unowned one but cannot change
// it (403), gets 404 for another user's, and naming another user is 403.
func TestLearningsIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	scopes := []string{"learnings:read", "learnings:write", "learnings:delete"}
	alice, bob := mint(t, "alice", scopes...), mint(t, "bob", scopes...)
	admin := mint(t, "root", "agent_os:admin")
	reader := mint(t, "carol", "learnings:read")
	var l struct {
		ID     string `json:"learning_id"`
		UserID string `json:"user_id"`
	}
	// Alice creates without a user: bound to her.
	decode(t, want(t, g, alice, http.MethodPost, "/learnings", jsonBody(t, map[string]any{"learning_type": "user_profile",
		"content": map[string]any{"name": "Alice"}}), http.StatusCreated), &l)
	if l.ID != "user_profile_alice" || l.UserID != "alice" {
		t.Fatalf("alice's create = %+v, want bound to her", l)
	}
	want(t, g, alice, http.MethodPost, "/learnings", jsonBody(t, map[string]any{"learning_type": "note", "user_id": "bob",
		"content": map[string]any{}}), http.StatusForbidden)
	want(t, g, bob, http.MethodPost, "/learnings", jsonBody(t, map[string]any{"learning_type": "user_profile",
		"content": map[string]any{"name": "Bob"}}), http.StatusCreated)
	want(t, g, admin, http.MethodPost, "/learnings", jsonBody(t, map[string]any{"learning_type": "entity_memory", "entity_id": "acme",
		"entity_type": "company", "content": map[string]any{}}), http.StatusCreated)
	want(t, g, reader, http.MethodPost, "/learnings", jsonBody(t, map[string]any{"learning_type": "note", "content": map[string]any{}}), http.StatusForbidden)

	list := func(tok, q string) []string {
		t.Helper()
		var page struct {
			Data []struct {
				ID string `json:"learning_id"`
			} `json:"data"`
		}
		decode(t, want(t, g, tok, http.MethodGet, "/learnings"+q, nil, http.StatusOK), &page)
		var out []string
		for _, d := range page.Data {
			out = append(out, d.ID)
		}
		return out
	}
	if got := list(alice, ""); len(got) != 2 || !slices.Contains(got, "user_profile_alice") || !slices.Contains(got, "entity_global_company_acme") {
		t.Errorf("alice lists %v, want hers and the unowned one", got)
	}
	if got := list(admin, ""); len(got) != 3 {
		t.Errorf("the admin lists %v, want all 3", got)
	}
	if got := list(admin, "?user_id=bob"); len(got) != 1 || got[0] != "user_profile_bob" {
		t.Errorf("the admin lists bob's: %v", got)
	}
	want(t, g, alice, http.MethodGet, "/learnings?user_id=bob", nil, http.StatusForbidden)
	want(t, g, alice, http.MethodGet, "/learnings/user_profile_bob", nil, http.StatusNotFound)
	want(t, g, alice, http.MethodPatch, "/learnings/user_profile_bob", jsonBody(t, map[string]any{"content": map[string]any{}}), http.StatusNotFound)
	want(t, g, alice, http.MethodDelete, "/learnings/user_profile_bob", nil, http.StatusNotFound)
	want(t, g, alice, http.MethodGet, "/learnings/entity_global_company_acme", nil, http.StatusOK)
	want(t, g, alice, http.MethodPatch, "/learnings/entity_global_company_acme", jsonBody(t, map[string]any{"content": map[string]any{}}), http.StatusForbidden)
	want(t, g, alice, http.MethodDelete, "/learnings/entity_global_company_acme", nil, http.StatusForbidden)
	want(t, g, alice, http.MethodGet, "/learnings/users?user_id=bob", nil, http.StatusForbidden)
	want(t, g, alice, http.MethodDelete, "/learnings/users/bob", nil, http.StatusForbidden)
	var users struct {
		Data []struct {
			UserID string `json:"user_id"`
		} `json:"data"`
	}
	decode(t, want(t, g, alice, http.MethodGet, "/learnings/users", nil, http.StatusOK), &users)
	if len(users.Data) != 1 || users.Data[0].UserID != "alice" {
		t.Errorf("alice's users = %+v", users)
	}
	want(t, g, reader, http.MethodDelete, "/learnings/users/carol", nil, http.StatusForbidden) // no learnings:delete
	want(t, g, "", http.MethodGet, "/learnings", nil, http.StatusUnauthorized)

	want(t, g, alice, http.MethodPatch, "/learnings/user_profile_alice", jsonBody(t, map[string]any{"content": map[string]any{"name": "Al"}}), http.StatusOK)
	want(t, g, alice, http.MethodDelete, "/learnings/users/alice", nil, http.StatusNoContent)
	want(t, g, admin, http.MethodGet, "/learnings/user_profile_bob", nil, http.StatusOK)
	want(t, g, admin, http.MethodDelete, "/learnings/entity_global_company_acme", nil, http.StatusNoContent)
	if got := list(admin, ""); len(got) != 1 || got[0] != "user_profile_bob" {
		t.Errorf("left after the deletes: %v, want bob's", got)
	}
}

// matrixLearner owns the auth matrix's learnings.
const matrixLearner = "matrix-learner"

// learningBody is a valid POST /learnings body of a type with generated
// ids (so it can be sent again), owned by user.
func learningBody(user string) map[string]any {
	return map[string]any{"learning_type": "decision_log", "user_id": user, "content": map[string]any{"decision": "test"}}
}

// createLearning creates a learning of user as tok and returns its id.
func createLearning(t testing.TB, g *gateway, tok, user string) string {
	t.Helper()
	var l struct {
		ID string `json:"learning_id"`
	}
	decode(t, want(t, g, tok, http.MethodPost, "/learnings", jsonBody(t, learningBody(user)), http.StatusCreated), &l)
	return l.ID
}

// TestLearningsOff: learnings: {enabled: false} answers /learnings with 503
// saying how to turn them on, and /config leaves their domain out.
func TestLearningsOff(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "learnings: {enabled: false}\n"+contractConfig)
	ctx := testCtx(t, 30*time.Second)
	b := expectStatus(t, g.get(t, ctx, "/learnings"), http.StatusServiceUnavailable)
	if !strings.Contains(string(b), "learnings.enabled") {
		t.Errorf("503 body %s: want it to name learnings.enabled", b)
	}
	cfg := decodeAny(t, expectStatus(t, g.get(t, ctx, "/config"), http.StatusOK)).(map[string]any)
	if _, ok := cfg["learning"]; ok {
		t.Errorf("/config lists learnings while they are off: %v", cfg["learning"])
	}
}
