package auth

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	valid := []struct {
		in   string
		want Scope
		str  string
	}{
		{"agents:read", Scope{"agents", "", "read"}, "agents:read"},
		{"agents:web-agent:run", Scope{"agents", "web-agent", "run"}, "agents:web-agent:run"},
		{"agents:*:run", Scope{"agents", "*", "run"}, "agents:*:run"},
		{"agents:*", Scope{"agents", "", "*"}, "agents:*"},
		{"agents:a1:*", Scope{"agents", "a1", "*"}, "agents:a1:*"},
		{"agent_os:admin", Scope{"agent_os", "", "admin"}, "agent_os:admin"},
		{"system:read", Scope{"config", "", "read"}, "config:read"},
		{"system:*", Scope{"config", "", "*"}, "config:*"},
		{"sessions:u1:s1:read", Scope{"sessions", "u1:s1", "read"}, "sessions:u1:s1:read"},
		{"service_accounts:write", Scope{"service_accounts", "", "write"}, "service_accounts:write"},
		{"agents:Agent.v2:run", Scope{"agents", "Agent.v2", "run"}, "agents:Agent.v2:run"},
		{"agents:é:run", Scope{"agents", "é", "run"}, "agents:é:run"},
	}
	for _, c := range valid {
		got, err := ParseScope(c.in)
		if err != nil {
			t.Errorf("ParseScope(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseScope(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if got.String() != c.str {
			t.Errorf("ParseScope(%q).String() = %q, want %q", c.in, got.String(), c.str)
		}
		again, err := ParseScope(got.String())
		if err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", c.in, again, err)
		}
	}
	invalid := []string{
		"", "agents", ":read", "agents:", "agents::read", "::", ":", "age nts:read",
		"agents:a b:run", "agents:a\tb:run", "agents:a\x00b:run", "*:read", "agents:x:re ad",
		"agents:x:", "agents:re*d", "agents/x:read", strings.Repeat("a", 600) + ":read",
		"agents:\xff:run",
	}
	for _, in := range invalid {
		if s, err := ParseScope(in); err == nil {
			t.Errorf("ParseScope(%q) = %+v, want an error", in, s)
		}
	}
	if !MustParseScope("agent_os:admin").IsAdmin() || MustParseScope("agent_os:x:admin").IsAdmin() {
		t.Error("IsAdmin")
	}
	if _, err := ParseScopes([]string{"agents:read", "bad"}); err == nil {
		t.Error("ParseScopes accepted a bad scope")
	}
}

func principalWith(scopes ...string) *Principal {
	p := &Principal{Subject: "u", UserID: "u", Kind: KindJWT}
	for _, s := range scopes {
		p.Scopes = append(p.Scopes, MustParseScope(s))
	}
	return p
}

func TestAllows(t *testing.T) {
	cases := []struct {
		scopes               []string
		resource, id, action string
		want                 bool
	}{
		{[]string{"agents:read"}, "agents", "a1", "read", true},
		{[]string{"agents:read"}, "agents", "", "read", true},
		{[]string{"agents:read"}, "agents", "a1", "run", false},
		{[]string{"agents:read"}, "sessions", "a1", "read", false},
		{[]string{"agents:a1:run"}, "agents", "a1", "run", true},
		{[]string{"agents:a1:run"}, "agents", "a2", "run", false},
		{[]string{"agents:a1:run"}, "agents", "", "run", false},
		{[]string{"agents:a1:run"}, "agents", "a1", "read", false},
		{[]string{"agents:*:run"}, "agents", "a2", "run", true},
		{[]string{"agents:*:run"}, "agents", "", "run", true},
		{[]string{"agents:*"}, "agents", "a9", "delete", true},
		{[]string{"agents:a1:*"}, "agents", "a1", "read", true},
		{[]string{"agents:a1:*"}, "agents", "a2", "read", false},
		{[]string{"system:read"}, "config", "", "read", true},
		{[]string{"agent_os:admin"}, "agents", "a1", "run", false}, // admin comes from Principal.Admin
		{nil, "agents", "a1", "read", false},
		{[]string{"agents:a1:run", "agents:a2:run"}, "agents", "a2", "run", true},
	}
	for _, c := range cases {
		p := principalWith(c.scopes...)
		if got := p.Allows(c.resource, c.id, c.action); got != c.want {
			t.Errorf("%v Allows(%s,%q,%s) = %v, want %v", c.scopes, c.resource, c.id, c.action, got, c.want)
		}
	}
	admin := &Principal{Admin: true}
	if !admin.Allows("anything", "x", "delete") {
		t.Error("admin not allowed")
	}
	var nilP *Principal
	if nilP.Allows("agents", "", "read") {
		t.Error("nil principal allowed")
	}
}

func TestVisibleIDs(t *testing.T) {
	cases := []struct {
		scopes  []string
		all     bool
		ids     []string
		comment string
	}{
		{[]string{"agents:read"}, true, nil, "global"},
		{[]string{"agents:*:read"}, true, nil, "wildcard id"},
		{[]string{"agents:*"}, true, nil, "wildcard action"},
		{[]string{"agents:b:read", "agents:a:read", "agents:b:read", "agents:c:run", "sessions:x:read"}, false, []string{"a", "b"}, "per id, sorted, deduplicated"},
		{[]string{"agents:a:*"}, false, []string{"a"}, "per id any action"},
		{[]string{"agents:run"}, false, nil, "other action"},
		{nil, false, nil, "nothing"},
	}
	for _, c := range cases {
		all, ids := principalWith(c.scopes...).VisibleIDs("agents", "read")
		if all != c.all || !slices.Equal(ids, c.ids) {
			t.Errorf("%s: VisibleIDs = %v %v, want %v %v", c.comment, all, ids, c.all, c.ids)
		}
	}
	if all, _ := (&Principal{Admin: true}).VisibleIDs("agents", "read"); !all {
		t.Error("admin sees all")
	}
	var nilP *Principal
	if all, ids := nilP.VisibleIDs("agents", "read"); all || ids != nil {
		t.Error("nil principal sees something")
	}
}

func TestCanGrant(t *testing.T) {
	p := principalWith("agents:read", "agents:a1:run", "sessions:*")
	parse := func(ss ...string) []Scope { s, _ := ParseScopes(ss); return s }
	for _, c := range []struct {
		scopes []string
		want   bool
	}{
		{[]string{"agents:read"}, true},
		{[]string{"agents:a9:read"}, true},
		{[]string{"agents:a1:run"}, true},
		{[]string{"agents:a2:run"}, false},
		{[]string{"agents:run"}, false},
		{[]string{"agents:*:run"}, false},
		{[]string{"sessions:x:delete", "sessions:write"}, true},
		{[]string{"sessions:*"}, true},
		{[]string{"agents:*"}, false},
		{[]string{"agent_os:admin"}, false},
		{nil, true},
	} {
		if got := p.CanGrant(parse(c.scopes...)); got != c.want {
			t.Errorf("CanGrant(%v) = %v, want %v", c.scopes, got, c.want)
		}
	}
	if !(&Principal{Admin: true}).CanGrant(parse("agent_os:admin")) {
		t.Error("admin cannot grant admin")
	}
}

func TestPrincipalContextAndIsolation(t *testing.T) {
	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("principal in an empty context")
	}
	if _, ok := FromContext(WithPrincipal(ctx, nil)); ok {
		t.Fatal("nil principal reported present")
	}
	p := &Principal{Subject: "alice", UserID: "alice", Isolated: true}
	got, ok := FromContext(WithPrincipal(ctx, p))
	if !ok || got != p {
		t.Fatal("principal lost")
	}
	if !p.CanAccessUser("alice") || p.CanAccessUser("bob") || p.CanAccessUser("") {
		t.Error("isolated CanAccessUser")
	}
	if p.BindUserID("bob") != "alice" || p.BindUserID("") != "alice" {
		t.Error("isolated BindUserID")
	}
	open := &Principal{Subject: "alice", UserID: "alice"}
	if !open.CanAccessUser("bob") || open.BindUserID("bob") != "bob" {
		t.Error("non-isolated principal restricted")
	}
	if got := principalWith("agents:read", "system:write").ScopeStrings(); !slices.Equal(got, []string{"agents:read", "config:write"}) {
		t.Errorf("ScopeStrings = %v", got)
	}
}
