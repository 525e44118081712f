package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/auth"
)

// The memories' routes through the binary, on SQLite and Postgres, against
// agno's models (libs/agno/agno/os/routers/memory/schemas.py): create,
// list, full-text search, patch, delete, bulk delete, topics, user stats,
// and optimize with a scripted model (a dry run, then applied); bad input
// with the right status; user isolation.

// UserMemorySchema.
var memoryShape = &shape{Name: "UserMemorySchema", Source: "os/routers/memory/schemas.py", Fields: []field{
	req("memory_id", "string"), req("memory", "string"), opt("topics", "array|null").items("string"),
	opt("agent_id", "string|null"), opt("team_id", "string|null"), opt("user_id", "string|null"),
	opt("updated_at", datetime+"|null"),
}}

// UserStatsSchema.
var userStatsShape = &shape{Name: "UserStatsSchema", Source: "os/routers/memory/schemas.py", Fields: []field{
	req("user_id", "string"), req("total_memories", "integer"), opt("last_memory_updated_at", datetime+"|null"),
}}

// OptimizeMemoriesResponse.
var optimizeShape = &shape{Name: "OptimizeMemoriesResponse", Source: "os/routers/memory/schemas.py", Fields: []field{
	req("memories", "array").of(memoryShape), req("memories_before", "integer"), req("memories_after", "integer"),
	req("tokens_before", "integer"), req("tokens_after", "integer"), req("tokens_saved", "integer"),
	req("reduction_percentage", "number"),
}}

var memoryPageShape = &shape{Name: "PaginatedResponse[UserMemorySchema]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(memoryShape), req("meta", "object").of(paginationShape),
}}

var userStatsPageShape = &shape{Name: "PaginatedResponse[UserStatsSchema]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(userStatsShape), req("meta", "object").of(paginationShape),
}}

// memoriesConfig has a scripted summariser as memory.model: whatever the
// memories, it answers two (with a heading and list markers to parse).
const memoriesConfig = `
models:
  plain:
    provider: scripted
    model: plain-1
    script:
      - reply: "You said: {{input}}"
  summarizer:
    provider: scripted
    model: summarizer-1
    script:
      - reply: "Memories:\n- Likes coffee and espresso in the morning\n2. Lives in Paris\n"
memory:
  model: summarizer
agents:
  - id: assistant
    name: Assistant
    model: plain
`

func TestMemoriesREST(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkMemoriesREST(t, startGateway(t, memoriesConfig))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkMemoriesREST(t, startReplica(t, "pg", memoriesConfig, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
}

type memoryJSON struct {
	ID        string   `json:"memory_id"`
	Memory    string   `json:"memory"`
	Topics    []string `json:"topics"`
	UserID    string   `json:"user_id"`
	UpdatedAt int64    `json:"updated_at"`
}

type memoryPageJSON struct {
	Data []memoryJSON `json:"data"`
	Meta struct {
		Page       int `json:"page"`
		Limit      int `json:"limit"`
		TotalPages int `json:"total_pages"`
		TotalCount int `json:"total_count"`
	} `json:"meta"`
}

func memoryTexts(ms []memoryJSON) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Memory)
	}
	sort.Strings(out)
	return out
}

func checkMemoriesREST(t *testing.T, g *gateway) {
	ctx := testCtx(t, 60*time.Second)
	send := func(method, path string, body any, status int) []byte {
		t.Helper()
		return expectStatus(t, g.sendJSON(t, ctx, method, path, body), status)
	}
	detail := func(method, path string, body any, status int) string {
		t.Helper()
		d, _ := expectDetail(t, g.sendJSON(t, ctx, method, path, body), status)["detail"].(string)
		return d
	}
	create := func(user, text string, topics ...string) memoryJSON {
		t.Helper()
		var m memoryJSON
		decode(t, send(http.MethodPost, "/memories", map[string]any{"memory": text, "user_id": user, "topics": topics}, http.StatusOK), &m)
		return m
	}
	list := func(query string) memoryPageJSON {
		t.Helper()
		var p memoryPageJSON
		b := send(http.MethodGet, "/memories?"+query, nil, http.StatusOK)
		conform(t, "GET /memories?"+query, memoryPageShape, b)
		decode(t, b, &p)
		return p
	}

	// /config names the memories' database, as AgentOS does.
	cfg := conform(t, "GET /config", configShape, send(http.MethodGet, "/config", nil, http.StatusOK))
	if mem, _ := cfg["memory"].(map[string]any); mem == nil || len(mem["dbs"].([]any)) != 1 {
		t.Errorf("/config memory block: %v", cfg["memory"])
	}

	// Create, as agno's client sends it.
	first := conform(t, "POST /memories", memoryShape, send(http.MethodPost, "/memories", map[string]any{
		"memory": "  Likes coffee ", "user_id": "alice", "topics": []string{" drinks ", "drinks", "morning", ""},
	}, http.StatusOK))
	coffeeID, _ := first["memory_id"].(string)
	if first["memory"] != "Likes coffee" || first["user_id"] != "alice" || coffeeID == "" {
		t.Fatalf("created: %v", first)
	}
	if topics, _ := first["topics"].([]any); len(topics) != 2 || topics[0] != "drinks" || topics[1] != "morning" {
		t.Fatalf("topics not trimmed and deduplicated: %v", first["topics"])
	}
	espresso := create("alice", "Likes espresso in the morning", "drinks")
	paris := create("alice", "Lives in Paris, 100% happy there", "home")
	tea := create("bob", "Likes green tea", "drinks")
	if m := create("alice", "No topics"); m.Topics == nil || len(m.Topics) != 0 {
		t.Fatalf("a memory without topics: %+v (want [])", m)
	} else {
		send(http.MethodDelete, "/memories/"+m.ID, nil, http.StatusNoContent)
	}

	// Bad input.
	if d := detail(http.MethodPost, "/memories", map[string]any{"memory": "x"}, http.StatusBadRequest); !strings.Contains(d, "no user_id") {
		t.Errorf("no user_id: %q", d)
	}
	detail(http.MethodPost, "/memories", map[string]any{"memory": "", "user_id": "alice"}, http.StatusUnprocessableEntity)
	detail(http.MethodPost, "/memories", map[string]any{"user_id": "alice"}, http.StatusUnprocessableEntity)
	detail(http.MethodPost, "/memories", map[string]any{"memory": strings.Repeat("x", 5001), "user_id": "alice"}, http.StatusUnprocessableEntity)
	detail(http.MethodPost, "/memories", map[string]any{"memory": "   ", "user_id": "alice"}, http.StatusBadRequest)
	detail(http.MethodPost, "/memories", map[string]any{"memory": "x", "user_id": "alice", "topics": "not a list"}, http.StatusUnprocessableEntity)
	resp := g.do(t, ctx, http.MethodPost, "/memories", strings.NewReader(`{"memory": `), "application/json", nil)
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("malformed JSON: status %d", resp.StatusCode)
	}
	readAll(t, resp)
	for _, q := range []string{"sort_by=memory", "sort_order=up", "limit=0", "limit=1001", "page=0", "limit=x"} {
		detail(http.MethodGet, "/memories?"+q, nil, http.StatusUnprocessableEntity)
	}

	// List, filters, paging.
	p := list("user_id=alice")
	if p.Meta.TotalCount != 3 || len(p.Data) != 3 || p.Data[0].ID != paris.ID {
		t.Fatalf("alice's memories (newest first): %+v", p)
	}
	if p := list("user_id=alice&limit=2&page=2&sort_by=created_at&sort_order=asc"); len(p.Data) != 1 || p.Data[0].ID != paris.ID ||
		p.Meta.TotalCount != 3 || p.Meta.TotalPages != 2 || p.Meta.Page != 2 || p.Meta.Limit != 2 {
		t.Fatalf("page 2 of 2: %+v", p)
	}
	if p := list("topics=home,morning&user_id=alice"); !slices.Equal(memoryTexts(p.Data), []string{"Likes coffee", "Lives in Paris, 100% happy there"}) {
		t.Errorf("topics home or morning: %v", memoryTexts(p.Data))
	}
	if p := list("topics=drinks"); p.Meta.TotalCount < 3 {
		t.Errorf("topic drinks across users: %v", memoryTexts(p.Data))
	}

	// Full-text search: prefixes, case, stemming; % and quotes are no syntax.
	for q, want := range map[string][]string{
		"coff":            {"Likes coffee"},
		"LIKES":           {"Likes coffee", "Likes espresso in the morning"},
		"espresso mornin": {"Likes espresso in the morning"},
		"like":            {"Likes coffee", "Likes espresso in the morning"},
		"100%":            {"Lives in Paris, 100% happy there"},
		"%":               nil,
		`" OR "`:          nil,
		"tea":             nil, // bob's
	} {
		if got := memoryTexts(list("user_id=alice&search_content=" + url.QueryEscape(q)).Data); !slices.Equal(got, want) {
			t.Errorf("search %q: %v, want %v", q, got, want)
		}
	}

	// Get one.
	got := conform(t, "GET /memories/{id}", memoryShape, send(http.MethodGet, "/memories/"+coffeeID, nil, http.StatusOK))
	if got["memory"] != "Likes coffee" {
		t.Errorf("get: %v", got)
	}
	detail(http.MethodGet, "/memories/nope", nil, http.StatusNotFound)
	detail(http.MethodGet, "/memories/"+coffeeID+"?user_id=bob", nil, http.StatusNotFound)

	// Patch: text and topics change; the index follows.
	var patched memoryJSON
	decode(t, send(http.MethodPatch, "/memories/"+espresso.ID, map[string]any{"memory": "Prefers a double ristretto", "topics": []string{"coffee"}}, http.StatusOK), &patched)
	if patched.Memory != "Prefers a double ristretto" || !slices.Equal(patched.Topics, []string{"coffee"}) || patched.UserID != "alice" {
		t.Fatalf("patched: %+v", patched)
	}
	if got := memoryTexts(list("user_id=alice&search_content=ristr").Data); !slices.Equal(got, []string{"Prefers a double ristretto"}) {
		t.Errorf("search after the patch: %v", got)
	}
	if got := list("user_id=alice&search_content=espresso"); got.Meta.TotalCount != 0 {
		t.Errorf("the old text is still found: %v", memoryTexts(got.Data))
	}
	detail(http.MethodPatch, "/memories/"+espresso.ID, map[string]any{"memory": ""}, http.StatusUnprocessableEntity)
	detail(http.MethodPatch, "/memories/nope", map[string]any{"memory": "x"}, http.StatusNotFound)
	detail(http.MethodPatch, "/memories/"+espresso.ID, map[string]any{"memory": "moved", "user_id": "bob"}, http.StatusNotFound)

	// Topics and stats.
	var topics []string
	decode(t, send(http.MethodGet, "/memory_topics?user_id=alice", nil, http.StatusOK), &topics)
	if !slices.Equal(topics, []string{"coffee", "drinks", "home", "morning"}) {
		t.Errorf("alice's topics: %v", topics)
	}
	decode(t, send(http.MethodGet, "/memory_topics", nil, http.StatusOK), &topics)
	if !slices.Contains(topics, "drinks") || !slices.Contains(topics, "home") {
		t.Errorf("every topic: %v", topics)
	}
	b := send(http.MethodGet, "/user_memory_stats", nil, http.StatusOK)
	conform(t, "GET /user_memory_stats", userStatsPageShape, b)
	var stats struct {
		Data []struct {
			UserID string `json:"user_id"`
			Total  int    `json:"total_memories"`
			Last   int64  `json:"last_memory_updated_at"`
		} `json:"data"`
		Meta struct {
			TotalCount int `json:"total_count"`
		} `json:"meta"`
	}
	decode(t, b, &stats)
	counts := map[string]int{}
	for _, s := range stats.Data {
		counts[s.UserID] = s.Total
		if s.Last == 0 {
			t.Errorf("stats of %s without last_memory_updated_at", s.UserID)
		}
	}
	if counts["alice"] != 3 || counts["bob"] != 1 || stats.Meta.TotalCount != 2 {
		t.Errorf("stats: %+v", stats)
	}
	decode(t, send(http.MethodGet, "/user_memory_stats?user_id=bob&limit=5", nil, http.StatusOK), &stats)
	if len(stats.Data) != 1 || stats.Data[0].UserID != "bob" {
		t.Errorf("bob's stats: %+v", stats)
	}

	// Optimize: a dry run changes nothing.
	dry := conform(t, "POST /optimize-memories (dry run)", optimizeShape,
		send(http.MethodPost, "/optimize-memories", map[string]any{"user_id": "alice", "apply": false}, http.StatusOK))
	if n, _ := dry["memories_before"].(json.Number); n.String() != "3" {
		t.Errorf("memories_before: %v", dry)
	}
	if n, _ := dry["memories_after"].(json.Number); n.String() != "2" {
		t.Errorf("memories_after: %v", dry)
	}
	if p := list("user_id=alice"); p.Meta.TotalCount != 3 {
		t.Fatalf("a dry run changed alice's memories: %v", memoryTexts(p.Data))
	}
	// Applied (apply defaults to true): alice's memories are the result.
	var applied struct {
		Memories     []memoryJSON `json:"memories"`
		TokensBefore int          `json:"tokens_before"`
		TokensAfter  int          `json:"tokens_after"`
		TokensSaved  int          `json:"tokens_saved"`
		Reduction    float64      `json:"reduction_percentage"`
	}
	decode(t, send(http.MethodPost, "/optimize-memories", map[string]any{"user_id": "alice"}, http.StatusOK), &applied)
	want := []string{"Likes coffee and espresso in the morning", "Lives in Paris"}
	if !slices.Equal(memoryTexts(applied.Memories), want) || applied.TokensBefore <= 0 ||
		applied.TokensSaved != max(0, applied.TokensBefore-applied.TokensAfter) || applied.Reduction < 0 || applied.Reduction > 100 {
		t.Fatalf("applied: %+v", applied)
	}
	if p := list("user_id=alice"); !slices.Equal(memoryTexts(p.Data), want) {
		t.Fatalf("alice after the optimisation: %v", memoryTexts(p.Data))
	}
	if p := list("user_id=bob"); p.Meta.TotalCount != 1 || p.Data[0].ID != tea.ID {
		t.Fatalf("bob after alice's optimisation: %v", memoryTexts(p.Data))
	}
	detail(http.MethodGet, "/memories/"+coffeeID, nil, http.StatusNotFound)
	if d := detail(http.MethodPost, "/optimize-memories", map[string]any{"user_id": "alice", "model": "nope"}, http.StatusBadRequest); !strings.Contains(d, "nope") {
		t.Errorf("unknown model: %q", d)
	}
	detail(http.MethodPost, "/optimize-memories", map[string]any{"user_id": "alice", "model": "google:gemini"}, http.StatusBadRequest)
	detail(http.MethodPost, "/optimize-memories", map[string]any{}, http.StatusBadRequest)
	// A model named as provider:model_id (a scripted one echoes the list).
	var echoed struct {
		After int `json:"memories_after"`
	}
	decode(t, send(http.MethodPost, "/optimize-memories", map[string]any{"user_id": "alice", "model": "scripted:echo", "apply": false}, http.StatusOK), &echoed)
	if echoed.After == 0 {
		t.Errorf("optimise with scripted:echo: %+v", echoed)
	}

	// Delete one, then in bulk (bound to a user).
	alice := list("user_id=alice").Data
	send(http.MethodDelete, "/memories/"+alice[0].ID, nil, http.StatusNoContent)
	detail(http.MethodDelete, "/memories/"+alice[0].ID, nil, http.StatusNotFound)
	detail(http.MethodDelete, "/memories/"+tea.ID+"?user_id=alice", nil, http.StatusNotFound)
	send(http.MethodDelete, "/memories", map[string]any{"memory_ids": []string{alice[1].ID, tea.ID}, "user_id": "alice"}, http.StatusNoContent)
	if p := list("user_id=alice"); p.Meta.TotalCount != 0 {
		t.Errorf("alice after the bulk delete: %v", memoryTexts(p.Data))
	}
	send(http.MethodGet, "/memories/"+tea.ID, nil, http.StatusOK) // bob's, not alice's: kept
	detail(http.MethodDelete, "/memories", map[string]any{"memory_ids": []string{}}, http.StatusUnprocessableEntity)
	detail(http.MethodDelete, "/memories", map[string]any{}, http.StatusUnprocessableEntity)
	send(http.MethodDelete, "/memories", map[string]any{"memory_ids": []string{tea.ID}}, http.StatusNoContent)
	detail(http.MethodGet, "/memories/"+tea.ID, nil, http.StatusNotFound)
}

// TestMemoriesOff: memory.enabled false answers the routes with 503 and
// /config names no memory database.
func TestMemoriesOff(t *testing.T) {
	t.Parallel()
	g := startGateway(t, strings.Replace(memoriesConfig, "memory:\n", "memory:\n  enabled: false\n", 1))
	ctx := testCtx(t, 20*time.Second)
	expectDetail(t, g.get(t, ctx, "/memories"), http.StatusServiceUnavailable)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/optimize-memories", map[string]any{"user_id": "u"}), http.StatusServiceUnavailable)
	var cfg map[string]any
	decode(t, expectStatus(t, g.get(t, ctx, "/config"), http.StatusOK), &cfg)
	if _, ok := cfg["memory"]; ok {
		t.Errorf("/config has a memory block with memories off: %v", cfg["memory"])
	}
}

// TestMemoriesIsolation: under user isolation a memory belongs to its
// caller whatever user_id the request names; another user lists,
// searches, reads, patches, deletes and optimises none of it; an admin
// sees every one.
func TestMemoriesIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	scopes := []string{"memories:read", "memories:write", "memories:delete"}
	alice, bob := mint(t, "alice", scopes...), mint(t, "bob", scopes...)
	admin := mint(t, "root", "agent_os:admin")
	var m memoryJSON
	decode(t, want(t, g, alice, http.MethodPost, "/memories", jsonBody(t, map[string]any{"memory": "Alice's secret", "user_id": "bob", "topics": []string{"secret"}}), http.StatusOK), &m)
	if m.UserID != "alice" {
		t.Fatalf("a bound caller's memory belongs to %q", m.UserID)
	}
	want(t, g, bob, http.MethodPost, "/memories", jsonBody(t, map[string]any{"memory": "Bob's note"}), http.StatusOK)

	var p memoryPageJSON
	decode(t, want(t, g, bob, http.MethodGet, "/memories?user_id=alice&search_content=secret", nil, http.StatusOK), &p)
	if p.Meta.TotalCount != 0 {
		t.Errorf("bob finds alice's memories: %v", memoryTexts(p.Data))
	}
	decode(t, want(t, g, bob, http.MethodGet, "/memories", nil, http.StatusOK), &p)
	if !slices.Equal(memoryTexts(p.Data), []string{"Bob's note"}) {
		t.Errorf("bob lists %v", memoryTexts(p.Data))
	}
	want(t, g, bob, http.MethodGet, "/memories/"+m.ID, nil, http.StatusNotFound)
	want(t, g, bob, http.MethodPatch, "/memories/"+m.ID, jsonBody(t, map[string]any{"memory": "mine"}), http.StatusNotFound)
	want(t, g, bob, http.MethodDelete, "/memories/"+m.ID, nil, http.StatusNotFound)
	want(t, g, bob, http.MethodDelete, "/memories", jsonBody(t, map[string]any{"memory_ids": []string{m.ID}, "user_id": "alice"}), http.StatusNoContent)
	var opt struct {
		Before int `json:"memories_before"`
	}
	decode(t, want(t, g, bob, http.MethodPost, "/optimize-memories", jsonBody(t, map[string]any{"user_id": "alice", "model": "scripted:x"}), http.StatusOK), &opt)
	if opt.Before != 1 { // bob's own one
		t.Errorf("bob's optimisation of alice's memories saw %d", opt.Before)
	}
	var topics []string
	decode(t, want(t, g, bob, http.MethodGet, "/memory_topics?user_id=alice", nil, http.StatusOK), &topics)
	if len(topics) != 0 {
		t.Errorf("bob sees alice's topics: %v", topics)
	}
	var stats struct {
		Data []struct {
			UserID string `json:"user_id"`
		} `json:"data"`
	}
	decode(t, want(t, g, bob, http.MethodGet, "/user_memory_stats", nil, http.StatusOK), &stats)
	if len(stats.Data) != 1 || stats.Data[0].UserID != "bob" {
		t.Errorf("bob's stats: %+v", stats)
	}

	// Alice's memory survived all of it; the admin sees both users'.
	var got memoryJSON
	decode(t, want(t, g, alice, http.MethodGet, "/memories/"+m.ID, nil, http.StatusOK), &got)
	if got.Memory != "Alice's secret" {
		t.Errorf("alice's memory: %+v", got)
	}
	decode(t, want(t, g, admin, http.MethodGet, "/memories?search_content=secret", nil, http.StatusOK), &p)
	if p.Meta.TotalCount != 1 {
		t.Errorf("the admin finds %v", memoryTexts(p.Data))
	}
	// Without the scope: 403.
	want(t, g, mint(t, "carol", "sessions:read"), http.MethodGet, "/memories", nil, http.StatusForbidden)
}

// createMemory creates a memory of the user matrix-memories as tok.
func createMemory(t testing.TB, g *gateway, tok string) string {
	t.Helper()
	var m memoryJSON
	decode(t, want(t, g, tok, http.MethodPost, "/memories", jsonBody(t, map[string]any{
		"memory": "Prefers short answers", "user_id": "matrix-memories", "topics": []string{"style"}}), http.StatusOK), &m)
	return m.ID
}

// memorySpec is the body of the matrix's memory writes.
func memorySpec(t *testing.T, _ *matrixFixtures) (map[string]string, string, *reqBody) {
	return nil, "", jsonBody(t, map[string]any{"memory": "Written by the matrix", "user_id": "matrix-memories"})
}

// TestAuthMatrixMemoryScopes pins the scope each memory route needs (the
// matrix derives its checks from the policy, so it would follow a route
// table that declared the wrong action): AgentOS's memories:read, write
// and delete.
func TestAuthMatrixMemoryScopes(t *testing.T) {
	t.Parallel()
	pol := agentgate.DefaultPolicy()
	for id, want := range map[string]struct{ action, idParam string }{
		"rest:GET /memories":                {auth.ActionRead, ""},
		"rest:POST /memories":               {auth.ActionWrite, ""},
		"rest:DELETE /memories":             {auth.ActionDelete, ""},
		"rest:GET /memories/{memory_id}":    {auth.ActionRead, "memory_id"},
		"rest:PATCH /memories/{memory_id}":  {auth.ActionWrite, "memory_id"},
		"rest:DELETE /memories/{memory_id}": {auth.ActionDelete, "memory_id"},
		"rest:GET /memory_topics":           {auth.ActionRead, ""},
		"rest:GET /user_memory_stats":       {auth.ActionRead, ""},
		"rest:POST /optimize-memories":      {auth.ActionWrite, ""},
	} {
		op, ok := pol.Lookup(id)
		if !ok {
			t.Errorf("%s is not in the policy", id)
			continue
		}
		if op.Public || op.AdminOnly || op.Resource != auth.ResourceMemories || op.Action != want.action || op.IDParam != want.idParam {
			t.Errorf("%s: %+v, want memories:%s (id param %q)", id, op, want.action, want.idParam)
		}
	}
}
