package storetest

import (
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// testListSessions covers filters, sorting, pagination and the total count.
// Every test owns a fresh user id and filters by it, so other tests' rows in
// a shared database never show up.
func testListSessions(t *testing.T, newBackend Factory) {
	// seed creates n sessions of a new user, created_at base+i and
	// updated_at base+(n-i) (the reverse order), named name(i).
	seed := func(t *testing.T, s core.RunStore, n int, name func(i int) string) (string, []*core.Session) {
		t.Helper()
		user := newID("user")
		out := make([]*core.Session, n)
		for i := range n {
			sess := minimalSession()
			sess.UserID = user
			sess.SessionName = name(i)
			sess.CreatedAt = baseTime() + int64(i)
			sess.UpdatedAt = baseTime() + int64(n-i)
			out[i] = mustCreateSession(t, s, sess)
		}
		return user, out
	}
	list := func(t *testing.T, s core.RunStore, p core.ListSessionsParams) ([]*core.Session, int) {
		t.Helper()
		got, total, err := s.ListSessions(t.Context(), p)
		if err != nil {
			t.Fatalf("ListSessions(%+v): %v", p, err)
		}
		return got, total
	}
	ids := func(ss []*core.Session, order ...int) []string {
		out := make([]string, len(order))
		for i, o := range order {
			out[i] = ss[o].SessionID
		}
		return out
	}
	letters := func(i int) string { return string(rune('a' + i)) }

	parallel(t, "FilterByUserWithFullRows", func(t *testing.T) {
		s := newBackend(t).Runs
		user := newID("user")
		want := []*core.Session{fullSession(user), fullSession(user)}
		want[1].CreatedAt++
		for _, sess := range want {
			mustCreateSession(t, s, sess)
		}
		mustCreateSession(t, s, fullSession(newID("other-user")))
		got, total := list(t, s, core.ListSessionsParams{UserID: user, SortOrder: core.SortAsc})
		if total != 2 || len(got) != 2 {
			t.Fatalf("got %d sessions, total %d; want 2, 2", len(got), total)
		}
		for i := range want {
			assertSession(t, want[i], got[i])
		}
	})

	parallel(t, "DefaultIsCreatedAtDescending", func(t *testing.T) {
		s := newBackend(t).Runs
		user, ss := seed(t, s, 4, letters)
		got, total := list(t, s, core.ListSessionsParams{UserID: user})
		assertIDs(t, "default order", ids(ss, 3, 2, 1, 0), sessionIDs(got))
		if total != 4 {
			t.Fatalf("total %d, want 4", total)
		}
	})

	parallel(t, "SortByEachColumn", func(t *testing.T) {
		s := newBackend(t).Runs
		// created_at ascending: 0 1 2 3; updated_at ascending: 3 2 1 0;
		// names ascending: 2 (apple) 0 (banana) 3 (cherry) 1 (date).
		names := []string{"banana", "date", "apple", "cherry"}
		user, ss := seed(t, s, 4, func(i int) string { return names[i] })
		cases := []struct {
			by    string
			order core.SortOrder
			want  []string
		}{
			{"created_at", core.SortAsc, ids(ss, 0, 1, 2, 3)},
			{"created_at", core.SortDesc, ids(ss, 3, 2, 1, 0)},
			{"", core.SortAsc, ids(ss, 0, 1, 2, 3)},
			{"updated_at", core.SortAsc, ids(ss, 3, 2, 1, 0)},
			{"updated_at", core.SortDesc, ids(ss, 0, 1, 2, 3)},
			{"updated_at", "", ids(ss, 0, 1, 2, 3)},
			{"session_name", core.SortAsc, ids(ss, 2, 0, 3, 1)},
			{"session_name", core.SortDesc, ids(ss, 1, 3, 0, 2)},
		}
		for _, c := range cases {
			got, _ := list(t, s, core.ListSessionsParams{UserID: user, SortBy: c.by, SortOrder: c.order})
			assertIDs(t, "sort "+c.by+" "+string(c.order), c.want, sessionIDs(got))
		}
	})

	parallel(t, "InvalidSortIsInvalid", func(t *testing.T) {
		s := newBackend(t).Runs
		for _, p := range []core.ListSessionsParams{
			{SortBy: "run_id"},
			{SortBy: "created_at; DROP TABLE sessions"},
			{SortBy: "CREATED_AT"},
			{SortOrder: "sideways"},
			{SortBy: "updated_at", SortOrder: "ASC; --"},
		} {
			_, _, err := s.ListSessions(t.Context(), p)
			wantErr(t, err, core.ErrInvalid, "ListSessions sort_by "+p.SortBy+" sort_order "+string(p.SortOrder))
		}
	})

	parallel(t, "Pagination", func(t *testing.T) {
		s := newBackend(t).Runs
		user, ss := seed(t, s, 7, letters)
		p := core.ListSessionsParams{UserID: user, SortOrder: core.SortAsc, Limit: 3}
		for _, c := range []struct {
			page int
			want []string
		}{
			{0, ids(ss, 0, 1, 2)}, // page < 1 is page 1
			{1, ids(ss, 0, 1, 2)},
			{2, ids(ss, 3, 4, 5)},
			{3, ids(ss, 6)},
			{4, nil},
			{100, nil},
		} {
			p.Page = c.page
			got, total := list(t, s, p)
			assertIDs(t, "page", c.want, sessionIDs(got))
			if total != 7 {
				t.Fatalf("page %d: total %d, want 7", c.page, total)
			}
		}
		// No limit: everything, Page ignored.
		got, total := list(t, s, core.ListSessionsParams{UserID: user, SortOrder: core.SortAsc, Page: 3})
		assertIDs(t, "no limit", ids(ss, 0, 1, 2, 3, 4, 5, 6), sessionIDs(got))
		if total != 7 {
			t.Fatalf("no limit: total %d, want 7", total)
		}
	})

	parallel(t, "FilterBySessionIDsBeforePaging", func(t *testing.T) {
		s := newBackend(t).Runs
		user, ss := seed(t, s, 6, letters)
		// Only sessions 1, 3 and 4 may be seen: pages and total count them.
		p := core.ListSessionsParams{UserID: user, SortOrder: core.SortAsc, Limit: 2, Page: 1,
			SessionIDs: ids(ss, 4, 1, 3)}
		got, total := list(t, s, p)
		assertIDs(t, "page 1", ids(ss, 1, 3), sessionIDs(got))
		if total != 3 {
			t.Fatalf("total %d, want 3", total)
		}
		p.Page = 2
		got, _ = list(t, s, p)
		assertIDs(t, "page 2", ids(ss, 4), sessionIDs(got))
		// Empty but not nil: nothing.
		got, total = list(t, s, core.ListSessionsParams{UserID: user, SessionIDs: []string{}})
		if len(got) != 0 || total != 0 {
			t.Fatalf("empty id list gave %d sessions, total %d", len(got), total)
		}
	})

	parallel(t, "PaginationIsStableOnTies", func(t *testing.T) {
		// Every session has the same created_at, updated_at and name: the
		// pages must still partition the set, for every sort, both ways.
		s := newBackend(t).Runs
		user := newID("user")
		var all []string
		for range 9 {
			sess := minimalSession()
			sess.UserID, sess.SessionName = user, "same"
			all = append(all, mustCreateSession(t, s, sess).SessionID)
		}
		slices.Sort(all)
		for _, by := range []string{"created_at", "updated_at", "session_name"} {
			for _, order := range []core.SortOrder{core.SortAsc, core.SortDesc} {
				var seen []string
				for page := 1; page <= 5; page++ {
					got, total := list(t, s, core.ListSessionsParams{
						UserID: user, SortBy: by, SortOrder: order, Limit: 2, Page: page,
					})
					if total != 9 {
						t.Fatalf("total %d, want 9", total)
					}
					seen = append(seen, sessionIDs(got)...)
				}
				slices.Sort(seen)
				assertIDs(t, "pages of tied rows ("+by+" "+string(order)+")", all, seen)
			}
		}
	})

	parallel(t, "FilterByType", func(t *testing.T) {
		s := newBackend(t).Runs
		user := newID("user")
		byType := map[core.SessionType][]string{}
		for i, typ := range []core.SessionType{core.SessionAgent, core.SessionTeam, core.SessionAgent, core.SessionWorkflow} {
			sess := minimalSession()
			sess.UserID, sess.SessionType, sess.CreatedAt = user, typ, baseTime()+int64(i)
			mustCreateSession(t, s, sess)
			byType[typ] = append(byType[typ], sess.SessionID)
		}
		for typ, want := range byType {
			got, total := list(t, s, core.ListSessionsParams{UserID: user, Type: typ, SortOrder: core.SortAsc})
			assertIDs(t, "type "+string(typ), want, sessionIDs(got))
			if total != len(want) {
				t.Fatalf("type %s: total %d, want %d", typ, total, len(want))
			}
		}
	})

	parallel(t, "FilterByComponent", func(t *testing.T) {
		s := newBackend(t).Runs
		user := newID("user")
		agent, team, wf := newID("agent"), newID("team"), newID("wf")
		mk := func(i int, typ core.SessionType, f func(*core.Session)) string {
			sess := minimalSession()
			sess.UserID, sess.SessionType, sess.CreatedAt = user, typ, baseTime()+int64(i)
			f(sess)
			return mustCreateSession(t, s, sess).SessionID
		}
		a1 := mk(0, core.SessionAgent, func(x *core.Session) { x.AgentID = agent })
		t1 := mk(1, core.SessionTeam, func(x *core.Session) { x.TeamID = team })
		w1 := mk(2, core.SessionWorkflow, func(x *core.Session) { x.WorkflowID = wf })
		a2 := mk(3, core.SessionAgent, func(x *core.Session) { x.AgentID = agent })
		mk(4, core.SessionAgent, func(x *core.Session) { x.AgentID = newID("other-agent") })
		for _, c := range []struct {
			typ  core.SessionType
			id   string
			want []string
		}{
			{"", agent, []string{a1, a2}},
			{core.SessionAgent, agent, []string{a1, a2}},
			{core.SessionTeam, agent, nil},
			{"", team, []string{t1}},
			{core.SessionTeam, team, []string{t1}},
			{"", wf, []string{w1}},
			{core.SessionWorkflow, wf, []string{w1}},
			{"", newID("nobody"), nil},
		} {
			got, total := list(t, s, core.ListSessionsParams{UserID: user, Type: c.typ, ComponentID: c.id, SortOrder: core.SortAsc})
			assertIDs(t, "component "+string(c.typ), c.want, sessionIDs(got))
			if total != len(c.want) {
				t.Fatalf("component: total %d, want %d", total, len(c.want))
			}
		}
	})

	parallel(t, "FilterByComponentAcrossUsers", func(t *testing.T) {
		s := newBackend(t).Runs
		agent := newID("agent")
		var want []string
		for i := range 3 {
			sess := minimalSession()
			sess.UserID, sess.AgentID, sess.CreatedAt = newID("user"), agent, baseTime()+int64(i)
			want = append(want, mustCreateSession(t, s, sess).SessionID)
		}
		got, total := list(t, s, core.ListSessionsParams{ComponentID: agent, SortOrder: core.SortAsc})
		assertIDs(t, "component without user", want, sessionIDs(got))
		if total != 3 {
			t.Fatalf("total %d, want 3", total)
		}
	})

	parallel(t, "NameLikeIsCaseInsensitiveSubstring", func(t *testing.T) {
		s := newBackend(t).Runs
		names := []string{"Trip to Paris", "paris weekend", "Berlin", "PARISIAN food", "100% done", "1000 done", "snake_case", "snakeXcase"}
		user, ss := seed(t, s, len(names), func(i int) string { return names[i] })
		for _, c := range []struct {
			like string
			want []string
		}{
			{"paris", ids(ss, 0, 1, 3)},
			{"PARIS", ids(ss, 0, 1, 3)},
			{"rIs W", ids(ss, 1)},
			{"berlin", ids(ss, 2)},
			{"100%", ids(ss, 4)}, // % is a literal, not a wildcard
			{"e_c", ids(ss, 6)},  // _ is a literal too
			{"zzz", nil},
		} {
			got, total := list(t, s, core.ListSessionsParams{UserID: user, NameLike: c.like, SortOrder: core.SortAsc})
			assertIDs(t, "name like "+c.like, c.want, sessionIDs(got))
			if total != len(c.want) {
				t.Fatalf("name like %q: total %d, want %d", c.like, total, len(c.want))
			}
		}
	})

	parallel(t, "CombinedFiltersPageAndCount", func(t *testing.T) {
		s := newBackend(t).Runs
		user, agent := newID("user"), newID("agent")
		var want []string
		for i := range 10 {
			sess := minimalSession()
			sess.UserID, sess.CreatedAt = user, baseTime()+int64(i)
			sess.SessionName = "chat"
			if i%2 == 0 {
				sess.AgentID, sess.SessionName = agent, "Support chat"
				want = append(want, sess.SessionID)
			}
			mustCreateSession(t, s, sess)
		}
		slices.Reverse(want) // default: newest first
		p := core.ListSessionsParams{
			UserID: user, Type: core.SessionAgent, ComponentID: agent, NameLike: "SUPPORT",
			Limit: 2, Page: 2,
		}
		got, total := list(t, s, p)
		assertIDs(t, "combined", want[2:4], sessionIDs(got))
		if total != 5 {
			t.Fatalf("total %d, want 5", total)
		}
	})

	parallel(t, "NoMatchIsEmpty", func(t *testing.T) {
		s := newBackend(t).Runs
		got, total := list(t, s, core.ListSessionsParams{UserID: newID("nobody"), Limit: 10, Page: 1})
		if len(got) != 0 || total != 0 {
			t.Fatalf("got %d sessions, total %d", len(got), total)
		}
	})
}
