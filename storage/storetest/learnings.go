package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/learning"
)

// testLearnings covers learning.Store: CRUD, the unique id, each filter,
// the owner filter with unowned records, sorting and paging, the users'
// stats and deleting a user's learnings. Records of a shared database are
// told apart by a learning type of their own.
func testLearnings(t *testing.T, newBackend Factory) {
	parallel(t, "CRUDRoundTrip", func(t *testing.T) {
		s := newBackend(t).Learnings
		want := fullLearning(newID("type"), newID("user"))
		mustCreateLearning(t, s, want)
		assertLearning(t, want, mustGetLearning(t, s, want.ID))

		upd := *want
		upd.Content = map[string]any{"name": "Ada", "facts": []any{"likes tea"}}
		upd.Metadata, upd.UpdatedAt = nil, baseTime()+99
		upd.UserID, upd.LearningType, upd.CreatedAt = "someone-else", "other", 1 // not written by an update
		if err := s.UpdateLearning(t.Context(), &upd); err != nil {
			t.Fatalf("UpdateLearning: %v", err)
		}
		exp := *want
		exp.Content, exp.Metadata, exp.UpdatedAt = upd.Content, nil, upd.UpdatedAt
		assertLearning(t, &exp, mustGetLearning(t, s, want.ID))

		if err := s.DeleteLearning(t.Context(), want.ID); err != nil {
			t.Fatalf("DeleteLearning: %v", err)
		}
		if _, err := s.GetLearning(t.Context(), want.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetLearning after delete: %v, want ErrNotFound", err)
		}
	})

	parallel(t, "Missing", func(t *testing.T) {
		s := newBackend(t).Learnings
		l := fullLearning(newID("type"), "")
		if _, err := s.GetLearning(t.Context(), l.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetLearning: %v, want ErrNotFound", err)
		}
		if err := s.UpdateLearning(t.Context(), l); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("UpdateLearning: %v, want ErrNotFound (it never inserts)", err)
		}
		if _, err := s.GetLearning(t.Context(), l.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("UpdateLearning inserted: %v", err)
		}
		if err := s.DeleteLearning(t.Context(), l.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("DeleteLearning: %v, want ErrNotFound", err)
		}
	})

	parallel(t, "DuplicateID", func(t *testing.T) {
		s := newBackend(t).Learnings
		a := fullLearning(newID("type"), newID("user"))
		mustCreateLearning(t, s, a)
		dup := fullLearning(a.LearningType, "")
		dup.ID = a.ID
		if err := s.CreateLearning(t.Context(), dup); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("CreateLearning of a taken id: %v, want ErrConflict", err)
		}
		assertLearning(t, a, mustGetLearning(t, s, a.ID))
	})

	parallel(t, "EmptyValues", func(t *testing.T) {
		s := newBackend(t).Learnings
		l := &learning.Learning{ID: newID("l"), LearningType: newID("type"), CreatedAt: baseTime(), UpdatedAt: baseTime()}
		mustCreateLearning(t, s, l)
		got := mustGetLearning(t, s, l.ID)
		if got.Content == nil || len(got.Content) != 0 || got.Metadata != nil || got.UserID != "" {
			t.Fatalf("empty learning read back as %+v: want content {} and no metadata, no owner", got)
		}
		l2 := &learning.Learning{ID: newID("l"), LearningType: l.LearningType, Content: map[string]any{},
			Metadata: map[string]any{}, CreatedAt: baseTime(), UpdatedAt: baseTime()}
		mustCreateLearning(t, s, l2)
		if got := mustGetLearning(t, s, l2.ID); got.Metadata == nil {
			t.Fatalf("empty metadata read back as nil")
		}
	})

	parallel(t, "Filters", func(t *testing.T) {
		s := newBackend(t).Learnings
		typ := newID("type")
		base := fullLearning(typ, newID("user"))
		mustCreateLearning(t, s, base)
		// One record differing from base in each field, so each filter
		// picks base and not it.
		others := map[string]func(l *learning.Learning){
			"agent_id": func(l *learning.Learning) { l.AgentID = newID("agent") }, "team_id": func(l *learning.Learning) { l.TeamID = newID("team") },
			"session_id": func(l *learning.Learning) { l.SessionID = newID("sess") }, "namespace": func(l *learning.Learning) { l.Namespace = newID("ns") },
			"entity_id": func(l *learning.Learning) { l.EntityID = newID("ent") }, "entity_type": func(l *learning.Learning) { l.EntityType = newID("et") },
			"user_id": func(l *learning.Learning) { l.UserID = newID("user") },
		}
		for _, change := range others {
			o := *base
			o.ID = newID("l")
			change(&o)
			mustCreateLearning(t, s, &o)
		}
		for field, f := range map[string]learning.Filter{
			"agent_id":    {AgentID: base.AgentID},
			"team_id":     {TeamID: base.TeamID},
			"session_id":  {SessionID: base.SessionID},
			"namespace":   {Namespace: base.Namespace},
			"entity_id":   {EntityID: base.EntityID},
			"entity_type": {EntityType: base.EntityType},
			"user_id":     {UserID: base.UserID},
		} {
			f.LearningType = typ
			got, total, err := s.ListLearnings(t.Context(), f)
			if err != nil {
				t.Fatalf("ListLearnings(%s): %v", field, err)
			}
			if total != len(others) || len(got) != total || slices.ContainsFunc(got, func(l learning.Learning) bool {
				v := reflect.ValueOf(l)
				return v.FieldByName(goField(field)).String() != reflect.ValueOf(*base).FieldByName(goField(field)).String()
			}) {
				t.Errorf("ListLearnings(%s) = %d of %d: want the %d that share base's %s", field, len(got), total, len(others), field)
			}
		}
		all, total, err := s.ListLearnings(t.Context(), learning.Filter{LearningType: typ})
		if err != nil || total != len(others)+1 || len(all) != total {
			t.Fatalf("ListLearnings(type) = %d of %d, %v; want %d", len(all), total, err, len(others)+1)
		}
		if _, total, _ := s.ListLearnings(t.Context(), learning.Filter{LearningType: newID("none")}); total != 0 {
			t.Fatalf("an unknown type lists %d", total)
		}
	})

	parallel(t, "OwnerWithUnowned", func(t *testing.T) {
		s := newBackend(t).Learnings
		typ, user := newID("type"), newID("user")
		mine, shared, theirs := fullLearning(typ, user), fullLearning(typ, ""), fullLearning(typ, newID("user"))
		for _, l := range []*learning.Learning{mine, shared, theirs} {
			mustCreateLearning(t, s, l)
		}
		got, total, err := s.ListLearnings(t.Context(), learning.Filter{LearningType: typ, UserID: user, WithUnowned: true})
		if err != nil || total != 2 || !sameIDs(got, mine.ID, shared.ID) {
			t.Fatalf("own with unowned = %v (%d), %v; want mine and the shared one", ids(got), total, err)
		}
		got, total, err = s.ListLearnings(t.Context(), learning.Filter{LearningType: typ, UserID: user})
		if err != nil || total != 1 || !sameIDs(got, mine.ID) {
			t.Fatalf("own = %v (%d), %v; want mine only", ids(got), total, err)
		}
	})

	parallel(t, "SortAndPage", func(t *testing.T) {
		s := newBackend(t).Learnings
		typ := newID("type")
		var made []*learning.Learning
		for i := range 5 {
			l := fullLearning(typ, "")
			l.CreatedAt, l.UpdatedAt = baseTime()+int64(i), baseTime()+int64(10-i) // created asc = updated desc
			mustCreateLearning(t, s, l)
			made = append(made, l)
		}
		page := func(f learning.Filter) []string {
			t.Helper()
			f.LearningType = typ
			got, total, err := s.ListLearnings(t.Context(), f)
			if err != nil || total != 5 {
				t.Fatalf("ListLearnings(%+v): total %d, %v", f, total, err)
			}
			return ids(got)
		}
		want := []string{made[0].ID, made[1].ID}
		if got := page(learning.Filter{Limit: 2, Page: 1}); !slices.Equal(got, want) { // updated_at desc by default
			t.Errorf("page 1 = %v, want %v", got, want)
		}
		if got := page(learning.Filter{Limit: 2, Page: 3}); !slices.Equal(got, []string{made[4].ID}) {
			t.Errorf("page 3 = %v, want the last one", got)
		}
		if got := page(learning.Filter{Limit: 2, Page: 4}); len(got) != 0 {
			t.Errorf("page 4 = %v, want none (and still the total)", got)
		}
		if got := page(learning.Filter{SortBy: learning.SortCreatedAt, SortOrder: learning.OrderAsc, Limit: 3}); !slices.Equal(got, ids(deref(made[:3]))) {
			t.Errorf("created_at asc = %v", got)
		}
		if got := page(learning.Filter{SortBy: learning.SortUpdatedAt, SortOrder: learning.OrderAsc}); got[0] != made[4].ID || len(got) != 5 {
			t.Errorf("updated_at asc, no limit = %v", got)
		}
		if _, _, err := s.ListLearnings(t.Context(), learning.Filter{SortBy: "content; DROP TABLE learnings"}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("an unknown sort key: %v, want ErrInvalid", err)
		}
	})

	parallel(t, "Users", func(t *testing.T) {
		s := newBackend(t).Learnings
		typ := newID("type")
		a, b, c := "a-"+newID("user"), "b-"+newID("user"), "c-"+newID("user")
		for _, u := range []struct {
			user    string
			updated []int64
		}{{a, []int64{5, 1}}, {b, []int64{9}}, {c, []int64{2, 3, 4}}, {"", []int64{100}}} {
			for _, up := range u.updated {
				l := fullLearning(typ, u.user)
				l.UpdatedAt = baseTime() + up
				mustCreateLearning(t, s, l)
			}
		}
		other := fullLearning(newID("type"), a) // another type: not counted with the type filter
		mustCreateLearning(t, s, other)

		got, total, err := s.LearningUsers(t.Context(), learning.UsersFilter{LearningType: typ})
		stat := func(u string, n int, last int64) learning.LearningUserStats {
			return learning.LearningUserStats{UserID: u, TotalLearnings: n, LastLearningUpdatedAt: baseTime() + last}
		}
		want := []learning.LearningUserStats{stat(b, 1, 9), stat(a, 2, 5), stat(c, 3, 4)}
		if err != nil || total != 3 || !reflect.DeepEqual(got, want) {
			t.Fatalf("LearningUsers = %+v (%d), %v; want %+v (last update desc, no unowned)", got, total, err, want)
		}
		got, total, _ = s.LearningUsers(t.Context(), learning.UsersFilter{LearningType: typ, SortBy: learning.SortUserID,
			SortOrder: learning.OrderAsc, Limit: 2, Page: 2})
		if total != 3 || len(got) != 1 || got[0].UserID != c {
			t.Fatalf("by user id, page 2 of 2 = %+v (%d)", got, total)
		}
		got, total, _ = s.LearningUsers(t.Context(), learning.UsersFilter{UserID: a})
		if total != 1 || len(got) != 1 || got[0].TotalLearnings != 3 {
			t.Fatalf("user a over every type = %+v (%d), want 3 learnings", got, total)
		}
		if _, total, _ := s.LearningUsers(t.Context(), learning.UsersFilter{LearningType: typ, Limit: 2, Page: 5}); total != 3 {
			t.Fatalf("a page past the end: total %d, want 3", total)
		}
	})

	parallel(t, "DeleteUser", func(t *testing.T) {
		s := newBackend(t).Learnings
		typ, user, other := newID("type"), newID("user"), newID("user")
		keep := fullLearning(newID("type"), user)
		mine1, mine2, theirs, shared := fullLearning(typ, user), fullLearning(typ, user), fullLearning(typ, other), fullLearning(typ, "")
		for _, l := range []*learning.Learning{keep, mine1, mine2, theirs, shared} {
			mustCreateLearning(t, s, l)
		}
		n, err := s.DeleteUserLearnings(t.Context(), user, typ)
		if err != nil || n != 2 {
			t.Fatalf("DeleteUserLearnings(of a type) = %d, %v; want 2", n, err)
		}
		for _, l := range []*learning.Learning{keep, theirs, shared} {
			mustGetLearning(t, s, l.ID)
		}
		if n, err := s.DeleteUserLearnings(t.Context(), user, ""); err != nil || n != 1 {
			t.Fatalf("DeleteUserLearnings(every type) = %d, %v; want 1", n, err)
		}
		if n, err := s.DeleteUserLearnings(t.Context(), user, ""); err != nil || n != 0 {
			t.Fatalf("DeleteUserLearnings again = %d, %v; want 0", n, err)
		}
		if _, err := s.DeleteUserLearnings(t.Context(), "", ""); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("DeleteUserLearnings of no user: %v, want ErrInvalid (never every unowned record)", err)
		}
		mustGetLearning(t, s, shared.ID)
	})
}

// goField is the Learning field of a filter's column name.
func goField(col string) string {
	return map[string]string{"agent_id": "AgentID", "team_id": "TeamID", "session_id": "SessionID", "namespace": "Namespace",
		"entity_id": "EntityID", "entity_type": "EntityType", "user_id": "UserID"}[col]
}

func fullLearning(typ, user string) *learning.Learning {
	return &learning.Learning{
		ID: newID("learning"), LearningType: typ, Namespace: "global", UserID: user,
		AgentID: newID("agent"), TeamID: newID("team"), SessionID: newID("sess"), EntityID: newID("ent"), EntityType: "person",
		Content:   map[string]any{"name": `Ada — 'quotes' "and" ünïcode 👋`, "facts": []any{"a", float64(2), true, nil}, "nested": map[string]any{"x": 0.5}},
		Metadata:  map[string]any{"source": "storetest"},
		CreatedAt: baseTime(), UpdatedAt: baseTime() + 1,
	}
}

func mustCreateLearning(t *testing.T, s learning.Store, l *learning.Learning) {
	t.Helper()
	if err := s.CreateLearning(t.Context(), l); err != nil {
		t.Fatalf("CreateLearning: %v", err)
	}
}

func mustGetLearning(t *testing.T, s learning.Store, id string) *learning.Learning {
	t.Helper()
	l, err := s.GetLearning(t.Context(), id)
	if err != nil {
		t.Fatalf("GetLearning(%s): %v", id, err)
	}
	return l
}

func assertLearning(t *testing.T, want, got *learning.Learning) {
	t.Helper()
	w := *want
	if w.Content == nil {
		w.Content = map[string]any{}
	}
	if !reflect.DeepEqual(&w, got) {
		t.Fatalf("learning read back as\n%+v\nwant\n%+v", got, &w)
	}
}

func ids(ls []learning.Learning) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func deref(ls []*learning.Learning) []learning.Learning {
	out := make([]learning.Learning, len(ls))
	for i, l := range ls {
		out[i] = *l
	}
	return out
}

func sameIDs(got []learning.Learning, want ...string) bool {
	g := ids(got)
	slices.Sort(g)
	slices.Sort(want)
	return slices.Equal(g, want)
}
