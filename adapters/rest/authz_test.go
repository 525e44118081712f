package rest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

const authzTestSecret = "authz-unit-test-secret-0123456789abcdef"

// authzServer registers the REST adapter on a fresh server in jwt mode
// (HS256), with an engine on a fresh SQLite store and no agents.
func authzServer(t *testing.T, pol *auth.Policy) *httptransport.Server {
	t.Helper()
	return authzServerWith(t, Config{Policy: pol})
}

// authzServerWith is authzServer with the adapter's configuration (its
// service accounts on the engine's store unless cfg names a store).
func authzServerWith(t *testing.T, cfg Config) *httptransport.Server {
	t.Helper()
	env := enginetest.New(t, enginetest.Options{})
	eng := env.Engine
	if cfg.ServiceAccounts == nil {
		cfg.ServiceAccounts = env.Store
	}
	a, err := auth.New(auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: authzTestSecret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptransport.New(httptransport.Config{Auth: a})
	Register(srv, eng, cfg)
	return srv
}

// registeredOperations returns the operation id of every route on the app
// (HEAD routes, which fiber adds for GET routes, map to their GET).
func registeredOperations(t *testing.T, srv *httptransport.Server) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	for _, r := range srv.App.GetRoutes(true) {
		method := r.Method
		switch method {
		case http.MethodHead:
			method = http.MethodGet
		case http.MethodOptions, http.MethodConnect, http.MethodTrace:
			continue
		}
		if strings.ContainsAny(r.Path, "*+") {
			t.Errorf("route %s %s has a wildcard: the policy cannot name it", r.Method, r.Path)
		}
		ops[auth.RESTOperationID(method, r.Path)] = true
	}
	if len(ops) == 0 {
		t.Fatal("the adapter registered no routes")
	}
	return ops
}

// TestAuthzEveryRouteInPolicy checks that every route the REST adapter
// registers on the fiber app is in the policy its tables declared, that no
// registered route is reachable without credentials unless the policy says
// it is public, and that every REST entry of the policy is a route.
func TestAuthzEveryRouteInPolicy(t *testing.T) {
	pol := auth.NewPolicy()
	srv := authzServer(t, pol)
	ops := registeredOperations(t, srv)
	var ids []string
	for id := range ops {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		op, ok := pol.Lookup(id)
		if !ok {
			t.Errorf("route %s is registered but not in the policy", id)
			continue
		}
		method, path, _ := strings.Cut(strings.TrimPrefix(id, "rest:"), " ")
		for _, p := range []string{"agent_id", "run_id", "session_id", "service_account_id", "schema"} {
			path = strings.ReplaceAll(path, "{"+p+"}", "x")
		}
		resp, err := srv.App.Test(httptest.NewRequest(method, path, nil), 5000)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case op.Public && resp.StatusCode == http.StatusUnauthorized:
			t.Errorf("%s is public but answers 401 without credentials: %s", id, b)
		case !op.Public && resp.StatusCode != http.StatusUnauthorized:
			t.Errorf("%s without credentials: %d, want 401: %s", id, resp.StatusCode, b)
		case !op.Public && resp.Header.Get("WWW-Authenticate") == "":
			t.Errorf("%s: 401 without WWW-Authenticate", id)
		}
	}
	var unserved []string
	for _, op := range pol.All() {
		if strings.HasPrefix(op.ID, "rest:") && !ops[op.ID] {
			unserved = append(unserved, op.ID)
		}
	}
	if len(unserved) > 0 {
		t.Errorf("policy REST operations not routed: %v", unserved)
	}
	if err := pol.CheckCoverage(); err != nil {
		t.Error(err)
	}
	t.Logf("%d routes registered, all in the policy, every entry routed", len(ids))
}

// TestRouteTableCoverage checks the start-time check in both directions
// through the adapter: a policy entry no route serves (the service-account
// PATCH the hand-written table used to list) and a route declared without
// an access rule are both named, and such a route is not mounted.
func TestRouteTableCoverage(t *testing.T) {
	pol := auth.NewPolicy()
	stale := auth.AdminOnly(auth.Scoped("rest:PATCH /service-accounts/{service_account_id}", auth.ResourceServiceAccounts, auth.ActionWrite, "service_account_id"))
	pol.Register(stale)
	authzServer(t, pol)
	err := pol.CheckCoverage()
	if err == nil || !strings.Contains(err.Error(), "nothing serves: "+stale.ID) {
		t.Fatalf("stale entry: CheckCoverage = %v", err)
	}

	// The handlers are not called: no engine is needed.
	pol = auth.NewPolicy()
	h := Register(httptransport.New(httptransport.Config{}), nil, Config{Policy: pol})
	if err := pol.CheckCoverage(); err != nil {
		t.Fatalf("the adapter's own tables: %v", err)
	}
	h.mount([]Route{{Operation: huma.Operation{OperationID: "unguarded", Method: http.MethodGet, Path: "/unguarded"},
		Handle: typed(func(context.Context, *struct{}) (*struct{ Body string }, error) {
			return &struct{ Body string }{"reached"}, nil
		})}})
	err = pol.CheckCoverage()
	if err == nil || !strings.Contains(err.Error(), "without an authorization policy entry: rest:GET /unguarded") {
		t.Fatalf("route without entry: CheckCoverage = %v", err)
	}
	resp, err := h.srv.App.Test(httptest.NewRequest(http.MethodGet, "/unguarded", nil), 5000)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a route without policy entry was mounted: %d", resp.StatusCode)
	}
}

// TestRouteOwnerRules checks that every route on an owner-bound record
// (a run_id or session_id in its path) says how it treats another user's,
// and that every route of the runs and sessions tables has a rule.
func TestRouteOwnerRules(t *testing.T) {
	h := &Handler{}
	for _, r := range append(h.runRoutes(), h.sessionRoutes()...) {
		if r.Owner == OwnerNone {
			t.Errorf("%s: no owner rule", r.ID())
		}
		if (strings.Contains(r.Path, "{run_id}") || strings.Contains(r.Path, "{session_id}")) && r.Owner != OwnerBound {
			t.Errorf("%s acts on one owner-bound record: want OwnerBound, got %d", r.ID(), r.Owner)
		}
	}
}

// TestAuthzServiceAccountNoEscalation relaxes POST /service-accounts to
// non-admins holding service_accounts:write (the default policy makes it
// admin-only, which hides this check) and checks that such a caller can
// grant only scopes it holds itself.
func TestAuthzServiceAccountNoEscalation(t *testing.T) {
	pol := auth.NewPolicy()
	pol.Declare(Operations()...)
	pol.Override(auth.Operation{ID: "rest:POST /service-accounts", Resource: auth.ResourceServiceAccounts, Action: auth.ActionWrite})
	srv := authzServer(t, pol)
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, authzTestSecret, "alice",
		[]string{"service_accounts:write", "agents:assistant:run", "sessions:*"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	create := func(scopes ...string) (int, string) {
		body, _ := json.Marshal(map[string]any{"name": "bot", "scopes": scopes})
		req := httptest.NewRequest(http.MethodPost, "/service-accounts", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.App.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		scopes []string
		want   int
	}{
		{[]string{"agents:assistant:run"}, http.StatusCreated},
		{[]string{"sessions:read", "sessions:delete", "sessions:abc:write"}, http.StatusCreated},
		{[]string{"agents:run"}, http.StatusForbidden},
		{[]string{"agents:*:run"}, http.StatusForbidden},
		{[]string{"agents:approval-demo:run"}, http.StatusForbidden},
		{[]string{"agents:assistant:read"}, http.StatusForbidden},
		{[]string{"agents:assistant:*"}, http.StatusForbidden},
		{[]string{"agents:assistant:run", "config:read"}, http.StatusForbidden},
		{[]string{auth.AdminScope}, http.StatusForbidden},
		{[]string{"service_accounts:read"}, http.StatusForbidden},
		{[]string{"not a scope"}, http.StatusBadRequest},
	} {
		if got, b := create(c.scopes...); got != c.want {
			t.Errorf("non-admin holding service_accounts:write, agents:assistant:run, sessions:* grants %v: %d, want %d: %s",
				c.scopes, got, c.want, b)
		}
	}
}
