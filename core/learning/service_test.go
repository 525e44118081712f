package learning_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/learning"
	"github.com/agentgate/agentgate/storage/sqlite"
)

func newService(t *testing.T) *learning.Service {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Unix(1_750_000_000, 0)
	n := 0
	return learning.New(learning.Config{Store: st, Now: func() time.Time { n++; return now.Add(time.Duration(n) * time.Second) }})
}

func wantCode(t *testing.T, err error, code core.ErrorCode, contains string) {
	t.Helper()
	if core.CodeOf(err) != code || err == nil || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v (code %s), want %s containing %q", err, core.CodeOf(err), code, contains)
	}
}

var (
	admin = learning.Scope{}
	alice = learning.Scope{Bound: true, UserID: "alice"}
	bob   = learning.Scope{Bound: true, UserID: "bob"}
)

func content() map[string]any { return map[string]any{"name": "Ada"} }

func TestIdentityIDs(t *testing.T) {
	for _, c := range []struct {
		typ, user, session, entity, etype, ns, want string
	}{
		{"user_profile", "u1", "", "", "", "", "user_profile_u1"},
		{"user_memory", "u1", "", "", "", "", "memories_u1"},
		{"session_context", "", "s1", "", "", "", "session_context_s1"},
		{"entity_memory", "", "", "acme", "company", "", "entity_global_company_acme"},
		{"entity_memory", "", "", "acme", "company", "team-a", "entity_team-a_company_acme"},
		{"entity_memory", "u1", "", "acme", "company", "user", "entity_user_" + "bb82030dbc2bcaba" + "_company_acme"},
		{"entity_memory", "", "", "acme", "company", "user", ""},
		{"user_profile", "", "", "", "", "", ""},
		{"decision_log", "u1", "s1", "", "", "", ""},
	} {
		if got := learning.IdentityID(c.typ, c.user, c.session, c.entity, c.etype, c.ns); got != c.want {
			t.Errorf("IdentityID(%+v) = %q, want %q", c, got, c.want)
		}
	}
}

func TestCreate(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	l, err := s.Create(ctx, admin, learning.CreateInput{LearningType: "user_profile", UserID: "u1", Content: content(),
		Metadata: map[string]any{"k": "v"}})
	if err != nil || l.ID != "user_profile_u1" || l.CreatedAt == 0 || l.UpdatedAt != l.CreatedAt || l.Metadata["k"] != "v" {
		t.Fatalf("Create(user_profile) = %+v, %v", l, err)
	}
	_, err = s.Create(ctx, admin, learning.CreateInput{LearningType: "user_profile", UserID: "u1", Content: content()})
	wantCode(t, err, core.CodeConflict, "PATCH /learnings/user_profile_u1")
	_, err = s.Create(ctx, admin, learning.CreateInput{LearningType: "user_memory", Content: content()})
	wantCode(t, err, core.CodeUnprocessable, "keyed by its identity fields")
	_, err = s.Create(ctx, admin, learning.CreateInput{LearningType: "entity_memory", EntityID: "x", EntityType: "y", Namespace: "user", Content: content()})
	wantCode(t, err, core.CodeUnprocessable, `namespace="user"`)
	_, err = s.Create(ctx, admin, learning.CreateInput{LearningType: "entity_memory", EntityID: "x", EntityType: "y",
		Namespace: "user_0123456789abcdef_z", Content: content()})
	wantCode(t, err, core.CodeUnprocessable, "reserved")
	e, err := s.Create(ctx, admin, learning.CreateInput{LearningType: "entity_memory", EntityID: "acme", EntityType: "company", Content: content()})
	if err != nil || e.Namespace != "global" || e.ID != "entity_global_company_acme" {
		t.Fatalf("Create(entity_memory) = %+v, %v; want the global namespace stored", e, err)
	}
	d, err := s.Create(ctx, admin, learning.CreateInput{LearningType: "decision_log", Content: content()})
	if err != nil || len(d.ID) != 36 {
		t.Fatalf("Create(decision_log) = %+v, %v; want a uuid", d, err)
	}
	_, err = s.Create(ctx, admin, learning.CreateInput{Content: content()})
	wantCode(t, err, core.CodeUnprocessable, "learning_type is required")
	_, err = s.Create(ctx, admin, learning.CreateInput{LearningType: "x"})
	wantCode(t, err, core.CodeUnprocessable, "content is required")
	_, err = s.Create(ctx, admin, learning.CreateInput{LearningType: "x", AgentID: strings.Repeat("a", 256), Content: content()})
	wantCode(t, err, core.CodeUnprocessable, "agent_id is longer")

	// Under isolation: another user is forbidden, none is the caller.
	_, err = s.Create(ctx, alice, learning.CreateInput{LearningType: "note", UserID: "bob", Content: content()})
	wantCode(t, err, core.CodeForbidden, "another user")
	mine, err := s.Create(ctx, alice, learning.CreateInput{LearningType: "user_profile", Content: content()})
	if err != nil || mine.UserID != "alice" || mine.ID != "user_profile_alice" {
		t.Fatalf("Create as alice without a user = %+v, %v; want bound to alice", mine, err)
	}
}

func TestIsolation(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	mk := func(user, typ string) *learning.Learning {
		t.Helper()
		l, err := s.Create(ctx, admin, learning.CreateInput{LearningType: typ, UserID: user, Content: content()})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b, shared := mk("alice", "note"), mk("bob", "note"), mk("", "note")

	// Reads: own and unowned; another's is not found.
	if _, err := s.Get(ctx, alice, a.ID); err != nil {
		t.Fatalf("alice reads hers: %v", err)
	}
	if _, err := s.Get(ctx, alice, shared.ID); err != nil {
		t.Fatalf("alice reads the shared one: %v", err)
	}
	_, err := s.Get(ctx, alice, b.ID)
	wantCode(t, err, core.CodeNotFound, "not found")
	if _, err := s.Get(ctx, admin, b.ID); err != nil {
		t.Fatalf("an admin reads bob's: %v", err)
	}

	// Lists: own and unowned; naming another user is forbidden.
	list, total, err := s.List(ctx, alice, learning.Filter{})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("alice lists %d of %d, %v; want hers and the shared one", len(list), total, err)
	}
	_, _, err = s.List(ctx, alice, learning.Filter{UserID: "bob"})
	wantCode(t, err, core.CodeForbidden, "another user")
	if _, total, _ := s.List(ctx, admin, learning.Filter{}); total != 3 {
		t.Fatalf("the admin lists %d, want 3", total)
	}
	if _, total, _ := s.List(ctx, admin, learning.Filter{UserID: "bob"}); total != 1 {
		t.Fatalf("the admin lists bob's: %d, want 1", total)
	}

	// Changes: own only; unowned is the admins'.
	upd, err := s.Update(ctx, alice, a.ID, learning.UpdateInput{Content: map[string]any{"name": "Alice"}, SetContent: true})
	if err != nil || upd.Content["name"] != "Alice" || upd.UpdatedAt <= a.UpdatedAt || upd.Metadata != nil {
		t.Fatalf("alice updates hers = %+v, %v", upd, err)
	}
	_, err = s.Update(ctx, alice, shared.ID, learning.UpdateInput{Content: content(), SetContent: true})
	wantCode(t, err, core.CodeForbidden, "only admins")
	_, err = s.Update(ctx, alice, b.ID, learning.UpdateInput{Content: content(), SetContent: true})
	wantCode(t, err, core.CodeNotFound, "not found")
	err = s.Delete(ctx, alice, shared.ID)
	wantCode(t, err, core.CodeForbidden, "only admins")
	err = s.Delete(ctx, bob, a.ID)
	wantCode(t, err, core.CodeNotFound, "not found")
	if _, err := s.Update(ctx, admin, shared.ID, learning.UpdateInput{Metadata: map[string]any{"m": 1}, SetMetadata: true}); err != nil {
		t.Fatalf("the admin updates the shared one: %v", err)
	}

	// Users: a bound caller sees itself; naming another is forbidden.
	users, total, err := s.Users(ctx, alice, learning.UsersFilter{})
	if err != nil || total != 1 || users[0].UserID != "alice" {
		t.Fatalf("alice's users = %+v (%d), %v", users, total, err)
	}
	_, _, err = s.Users(ctx, alice, learning.UsersFilter{UserID: "bob"})
	wantCode(t, err, core.CodeForbidden, "another user")
	if _, total, _ := s.Users(ctx, admin, learning.UsersFilter{}); total != 2 {
		t.Fatalf("the admin's users: %d, want 2 (no unowned)", total)
	}
	_, err = s.DeleteUser(ctx, alice, "bob", "")
	wantCode(t, err, core.CodeForbidden, "another user")
	if n, err := s.DeleteUser(ctx, alice, "alice", ""); err != nil || n != 1 {
		t.Fatalf("alice deletes hers: %d, %v", n, err)
	}
	if err := s.Delete(ctx, admin, shared.ID); err != nil {
		t.Fatalf("the admin deletes the shared one: %v", err)
	}
	err = s.Delete(ctx, admin, shared.ID)
	wantCode(t, err, core.CodeNotFound, "not found")
}

func TestBoundWithoutUser(t *testing.T) {
	s := newService(t)
	nobody := learning.Scope{Bound: true}
	if _, _, err := s.List(t.Context(), nobody, learning.Filter{}); core.CodeOf(err) != core.CodeForbidden {
		t.Errorf("List: %v", err)
	}
	if _, err := s.Create(t.Context(), nobody, learning.CreateInput{LearningType: "x", Content: content()}); core.CodeOf(err) != core.CodeForbidden {
		t.Errorf("Create: %v", err)
	}
	if _, _, err := s.Users(t.Context(), nobody, learning.UsersFilter{}); core.CodeOf(err) != core.CodeForbidden {
		t.Errorf("Users: %v", err)
	}
	if _, err := s.DeleteUser(t.Context(), nobody, "x", ""); core.CodeOf(err) != core.CodeForbidden {
		t.Errorf("DeleteUser: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	l, err := s.Create(ctx, admin, learning.CreateInput{LearningType: "note", Content: content(), Metadata: map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	same, err := s.Update(ctx, admin, l.ID, learning.UpdateInput{})
	if err != nil || same.UpdatedAt != l.UpdatedAt {
		t.Fatalf("an empty update = %+v, %v; want it unchanged", same, err)
	}
	_, err = s.Update(ctx, admin, l.ID, learning.UpdateInput{SetContent: true})
	wantCode(t, err, core.CodeUnprocessable, "content cannot be null")
	got, err := s.Update(ctx, admin, l.ID, learning.UpdateInput{SetMetadata: true})
	if err != nil || got.Metadata != nil || got.Content["name"] != "Ada" {
		t.Fatalf("metadata set to null = %+v, %v; want it cleared, the content kept", got, err)
	}
	_, err = s.Update(ctx, admin, "nope", learning.UpdateInput{SetMetadata: true})
	wantCode(t, err, core.CodeNotFound, `"nope" not found`)
}

func TestListDefaults(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	for range 3 {
		if _, err := s.Create(ctx, admin, learning.CreateInput{LearningType: "note", Content: content()}); err != nil {
			t.Fatal(err)
		}
	}
	// An unknown sort key is the default (agno ignores it), limits are
	// clamped.
	list, total, err := s.List(ctx, admin, learning.Filter{SortBy: "nonsense", SortOrder: "sideways", Limit: 5000})
	if err != nil || total != 3 || len(list) != 3 || list[0].UpdatedAt < list[2].UpdatedAt {
		t.Fatalf("List = %d of %d, %v; want 3, newest first", len(list), total, err)
	}
	list, _, _ = s.List(ctx, admin, learning.Filter{SortBy: "created_at", SortOrder: "asc", Limit: 1, Page: 2})
	if len(list) != 1 {
		t.Fatalf("page 2 of 1 = %d", len(list))
	}
	if _, err := s.DeleteUser(ctx, admin, "", ""); core.CodeOf(err) != core.CodeUnprocessable {
		t.Fatalf("DeleteUser of no user: %v", err)
	}
}
