package auth

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}

func TestPolicyRegister(t *testing.T) {
	p := NewPolicy()
	p.Register(Operation{ID: "x:a", Resource: "agents", Action: "read"})
	mustPanic(t, "duplicate", func() { p.Register(Operation{ID: "x:a", Public: true}) })
	mustPanic(t, "empty id", func() { p.Register(Operation{ID: ""}) })
	mustPanic(t, "blank id", func() { p.Register(Operation{ID: "  "}) })
	mustPanic(t, "resource without action", func() { p.Register(Operation{ID: "x:b", Resource: "agents"}) })
	mustPanic(t, "action without resource", func() { p.Register(Operation{ID: "x:c", Action: "read"}) })
	mustPanic(t, "public with scope", func() { p.Register(Operation{ID: "x:d", Public: true, Resource: "a", Action: "b"}) })
	mustPanic(t, "override unknown", func() { p.Override(Operation{ID: "x:zz", Public: true}) })
	if op, ok := p.Lookup("x:a"); !ok || op.Resource != "agents" {
		t.Fatalf("Lookup = %+v %v", op, ok)
	}
	if _, ok := p.Lookup("x:nope"); ok {
		t.Fatal("Lookup of unknown op")
	}
	p.Override(Operation{ID: "x:a", Public: true})
	if op, _ := p.Lookup("x:a"); !op.Public {
		t.Fatal("Override did not replace")
	}
	p.Register(Operation{ID: "a:first", Public: true})
	all := p.All()
	if len(all) != 2 || all[0].ID != "a:first" || all[1].ID != "x:a" {
		t.Fatalf("All = %+v", all)
	}
}

func TestAuthorizeOutcomes(t *testing.T) {
	p := NewPolicy()
	p.Register(Operation{ID: "pub", Public: true})
	p.Register(Operation{ID: "authed"})
	p.Register(Operation{ID: "get", Resource: "agents", Action: "read", IDParam: "agent_id"})
	p.Register(Operation{ID: "list", Resource: "agents", Action: "read", List: true})
	p.Register(Operation{ID: "create", Resource: "sessions", Action: "write"})
	p.Register(Operation{ID: "admin", Resource: "service_accounts", Action: "read", AdminOnly: true})

	anonOff := &Principal{Subject: "anonymous", Kind: KindAnonymous}               // auth on, no credentials
	anonOpen := &Principal{Subject: "anonymous", Kind: KindAnonymous, Admin: true} // mode none
	none := principalWith()
	global := principalWith("agents:read")
	perID := principalWith("agents:a1:read")
	saScoped := principalWith("service_accounts:read")
	admin := &Principal{Subject: "root", Kind: KindJWT, Admin: true}
	type tc struct {
		who  *Principal
		op   string
		id   string
		want core.ErrorCode // "" = allowed
	}
	cases := []tc{
		{nil, "pub", "", ""},
		{nil, "authed", "", core.CodeUnauthorized},
		{nil, "get", "a1", core.CodeUnauthorized},
		{anonOff, "pub", "", ""},
		{anonOff, "authed", "", core.CodeUnauthorized},
		{anonOff, "get", "a1", core.CodeUnauthorized},
		{anonOpen, "get", "a1", ""},
		{anonOpen, "admin", "", ""},
		{none, "authed", "", ""},
		{none, "get", "a1", core.CodeForbidden},
		{none, "list", "", core.CodeForbidden},
		{global, "get", "a1", ""},
		{global, "list", "", ""},
		{global, "create", "", core.CodeForbidden},
		{perID, "get", "a1", ""},
		{perID, "get", "a2", core.CodeForbidden},
		{perID, "get", "", core.CodeForbidden},
		{perID, "list", "", ""},
		{saScoped, "admin", "", core.CodeForbidden},
		{admin, "admin", "", ""},
		{admin, "create", "", ""},
		{admin, "nope", "", core.CodeInternal},
		{nil, "nope", "", core.CodeInternal},
	}
	for _, c := range cases {
		ctx := context.Background()
		if c.who != nil {
			ctx = WithPrincipal(ctx, c.who)
		}
		err := p.Authorize(ctx, c.op, c.id)
		name := fmt.Sprintf("%+v on %s(%q)", c.who, c.op, c.id)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || core.CodeOf(err) != c.want {
			t.Errorf("%s: got %v, want %s", name, err, c.want)
		}
	}
	// Messages are safe to show.
	err := p.Authorize(WithPrincipal(context.Background(), none), "get", "a1")
	if core.MessageOf(err) != "insufficient permissions" {
		t.Errorf("message %q", core.MessageOf(err))
	}
}

func TestRESTOperationID(t *testing.T) {
	for _, c := range [][3]string{
		{"GET", "/agents/:agent_id", "rest:GET /agents/{agent_id}"},
		{"post", "/agents/:agent_id/runs/:run_id/continue", "rest:POST /agents/{agent_id}/runs/{run_id}/continue"},
		{"GET", "/agents/{agent_id}", "rest:GET /agents/{agent_id}"},
		{"GET", "/sessions/", "rest:GET /sessions"},
		{"GET", "/", "rest:GET /"},
		{"GET", "/x/:id?", "rest:GET /x/{id}"},
	} {
		if got := RESTOperationID(c[0], c[1]); got != c[2] {
			t.Errorf("RESTOperationID(%s, %s) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

// testPolicy has one operation of each shape the adapters' tables use,
// under the ids the tests of this package ask about (the real tables live
// in the adapters; the root package's DefaultPolicy joins them).
func testPolicy() *Policy {
	p := NewPolicy()
	p.Declare(
		Public("rest:GET /health"),
		Listed("rest:GET /agents", ResourceAgents, ActionRead),
		Scoped("rest:GET /agents/{agent_id}", ResourceAgents, ActionRead, "agent_id"),
		Scoped("rest:POST /agents/{agent_id}/runs", ResourceAgents, ActionRun, "agent_id"),
		Scoped("rest:GET /config", ResourceConfig, ActionRead, ""),
		Scoped("rest:DELETE /sessions/{session_id}", ResourceSessions, ActionDelete, "session_id"),
		AdminOnly(Listed("rest:GET /service-accounts", ResourceServiceAccounts, ActionRead)),
		AdminOnly(Scoped("rest:DELETE /service-accounts/{service_account_id}", ResourceServiceAccounts, ActionDelete, "service_account_id")),
		Authenticated("mcp:tools/list"),
		Scoped(OpMCPAskAgent, ResourceAgents, ActionRun, "agent_id"),
		Public(OpA2AAgentCard),
		Scoped("a2a:SendMessage", ResourceAgents, ActionRun, "agent_id"),
		Public("ws:authenticate"),
		Scoped("ws:start", ResourceAgents, ActionRun, "agent_id"),
	)
	return p
}

// TestPolicyCoverage checks the start-time check in both directions: an
// operation served without an entry and an entry nothing serves are both
// named; a policy whose entries are exactly what is served passes.
func TestPolicyCoverage(t *testing.T) {
	p := NewPolicy()
	p.Declare(Public("rest:GET /health"), Scoped("rest:PATCH /service-accounts/{service_account_id}", ResourceServiceAccounts, ActionWrite, "service_account_id"))
	p.Served("rest:GET /health", "rest:GET /new-route")
	err := p.CheckCoverage()
	if err == nil {
		t.Fatal("no error for a route without entry and an entry without route")
	}
	for _, want := range []string{
		"served without an authorization policy entry: rest:GET /new-route",
		"policy entries that nothing serves: rest:PATCH /service-accounts/{service_account_id}",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "/health") {
		t.Errorf("error names a covered route: %v", err)
	}
	p.Served("rest:PATCH /service-accounts/{service_account_id}")
	p.Declare(Public("rest:GET /new-route"))
	if err := p.CheckCoverage(); err != nil {
		t.Fatalf("covered policy: %v", err)
	}
	// Declare keeps an entry registered (or overridden) before.
	p.Override(Operation{ID: "rest:GET /health", Resource: ResourceConfig, Action: ActionRead})
	p.Declare(Public("rest:GET /health"))
	if op, _ := p.Lookup("rest:GET /health"); op.Public {
		t.Error("Declare replaced an overridden entry")
	}
}

// TestPolicyMatrix checks every operation of a table of every shape: the
// anonymous caller (auth on) gets 401 unless public; a caller with no scope
// gets 403 unless the operation needs none; the exact scope (global and
// per-id) is enough; a neighbouring scope (other action, other id, other
// resource) is not; admin-only operations refuse scoped non-admins.
func TestPolicyMatrix(t *testing.T) {
	p := testPolicy()
	ops := p.All()
	if !sort.SliceIsSorted(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID }) {
		t.Fatal("All not sorted")
	}
	bg := context.Background()
	as := func(pr *Principal) context.Context { return WithPrincipal(bg, pr) }
	anon := &Principal{Subject: "anonymous", Kind: KindAnonymous}
	var lines []string
	for _, op := range ops {
		kind := strings.SplitN(op.ID, ":", 2)[0]
		if !slices.Contains([]string{"rest", "mcp", "a2a", "ws"}, kind) {
			t.Errorf("%s: unknown interface prefix", op.ID)
		}
		if kind == "rest" && !strings.HasPrefix(strings.SplitN(op.ID, " ", 2)[1], "/") {
			t.Errorf("%s: rest id without a path", op.ID)
		}
		err := p.Authorize(as(anon), op.ID, "x")
		if op.Public {
			if err != nil {
				t.Errorf("%s: public op refused anonymous: %v", op.ID, err)
			}
			lines = append(lines, op.ID+" public")
			continue
		}
		if core.CodeOf(err) != core.CodeUnauthorized {
			t.Errorf("%s: anonymous got %v", op.ID, err)
		}
		if err := p.Authorize(as(&Principal{Kind: KindKey, Admin: true}), op.ID, "x"); err != nil {
			t.Errorf("%s: admin refused: %v", op.ID, err)
		}
		if op.Resource == "" {
			if err := p.Authorize(as(principalWith()), op.ID, ""); err != nil {
				t.Errorf("%s: authenticated caller refused: %v", op.ID, err)
			}
			lines = append(lines, op.ID+" authenticated")
			continue
		}
		if _, err := ParseScope(op.Scope("").String()); err != nil {
			t.Errorf("%s: scope %q does not parse: %v", op.ID, op.Scope(""), err)
		}
		wantOK := func(pr *Principal, id string) {
			t.Helper()
			err := p.Authorize(as(pr), op.ID, id)
			if op.AdminOnly {
				if core.CodeOf(err) != core.CodeForbidden {
					t.Errorf("%s: admin-only op allowed %v: %v", op.ID, pr.ScopeStrings(), err)
				}
			} else if err != nil {
				t.Errorf("%s: %v on %q refused: %v", op.ID, pr.ScopeStrings(), id, err)
			}
		}
		wantNo := func(pr *Principal, id string) {
			t.Helper()
			if err := p.Authorize(as(pr), op.ID, id); core.CodeOf(err) != core.CodeForbidden {
				t.Errorf("%s: %v on %q: got %v, want forbidden", op.ID, pr.ScopeStrings(), id, err)
			}
		}
		wantNo(principalWith(), "x")
		wantOK(principalWith(op.Scope("").String()), "x")
		wantOK(principalWith(op.Scope("*").String()), "x")
		wantOK(principalWith(op.Resource+":*"), "x")
		other := "write"
		if op.Action == "write" {
			other = "read"
		}
		wantNo(principalWith(op.Resource+":"+other), "x")
		wantNo(principalWith("other_resource:"+op.Action), "x")
		if op.IDParam != "" {
			wantOK(principalWith(op.Scope("x").String()), "x")
			wantNo(principalWith(op.Scope("y").String()), "x")
			wantNo(principalWith(op.Scope("x").String()), "") // no id given: per-id scope is not enough
		}
		if op.List {
			wantOK(principalWith(op.Scope("x").String()), "")
		}
		line := fmt.Sprintf("%s %s", op.ID, op.Scope(""))
		if op.IDParam != "" {
			line += " id=" + op.IDParam
		}
		if op.List {
			line += " list"
		}
		if op.AdminOnly {
			line += " admin-only"
		}
		lines = append(lines, line)
	}
	if testing.Verbose() {
		t.Log("policy:\n" + strings.Join(lines, "\n"))
	}
}
