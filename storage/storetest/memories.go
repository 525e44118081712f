package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/memory"
)

// testMemories covers memory.Store: CRUD, each filter, paging and sort,
// the full-text search (prefix terms, stemming, no LIKE or query syntax
// from the user's text), topics, per-user stats, deletes bound to a user
// and the atomic replacement of a user's memories. Memories of a shared
// database are told apart by a fresh user id per test.
func testMemories(t *testing.T, newBackend Factory) {
	parallel(t, "CRUDRoundTrip", func(t *testing.T) {
		s := newBackend(t).Memories
		want := fullMemory(newID("user"))
		mustCreateMemory(t, s, want)
		assertMemory(t, want, mustGetMemory(t, s, want.ID))

		if err := s.CreateMemory(t.Context(), want); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("CreateMemory of a taken id: %v, want ErrConflict", err)
		}

		upd := *want
		upd.Memory, upd.Topics, upd.Input, upd.Feedback, upd.UpdatedAt = "Prefers tea now", nil, "", "wrong", want.UpdatedAt+5
		upd.UserID, upd.AgentID, upd.TeamID, upd.CreatedAt = "someone-else", "other-agent", "other-team", 1 // not written
		if err := s.UpdateMemory(t.Context(), &upd); err != nil {
			t.Fatalf("UpdateMemory: %v", err)
		}
		exp := upd
		exp.Topics = []string{}
		exp.UserID, exp.AgentID, exp.TeamID, exp.CreatedAt = want.UserID, want.AgentID, want.TeamID, want.CreatedAt
		assertMemory(t, &exp, mustGetMemory(t, s, want.ID))

		if n, err := s.DeleteMemories(t.Context(), "", []string{want.ID, newID("mem")}); err != nil || n != 1 {
			t.Fatalf("DeleteMemories = %d, %v; want 1", n, err)
		}
		if _, err := s.GetMemory(t.Context(), want.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetMemory after delete: %v, want ErrNotFound", err)
		}
	})

	parallel(t, "Missing", func(t *testing.T) {
		s := newBackend(t).Memories
		m := fullMemory(newID("user"))
		if _, err := s.GetMemory(t.Context(), m.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetMemory: %v, want ErrNotFound", err)
		}
		if err := s.UpdateMemory(t.Context(), m); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("UpdateMemory: %v, want ErrNotFound", err)
		}
		if n, err := s.DeleteMemories(t.Context(), "", []string{m.ID}); err != nil || n != 0 {
			t.Errorf("DeleteMemories = %d, %v; want 0", n, err)
		}
		if n, err := s.DeleteMemories(t.Context(), "", nil); err != nil || n != 0 {
			t.Errorf("DeleteMemories of none = %d, %v; want 0", n, err)
		}
		if err := s.CreateMemory(t.Context(), &memory.Memory{Memory: "x"}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("CreateMemory without an id: %v, want ErrInvalid", err)
		}
	})

	parallel(t, "Filters", func(t *testing.T) {
		s := newBackend(t).Memories
		user, other := newID("user"), newID("user")
		agent, team := newID("agent"), newID("team")
		a := newMemory(user, "alpha", "work", "food")
		a.AgentID = agent
		b := newMemory(user, "beta", "food", `quote"d`)
		b.TeamID = team
		c := newMemory(user, "gamma", "100%")
		d := newMemory(user, "delta")
		e := newMemory(other, "epsilon", "work")
		e.AgentID = agent
		for _, m := range []*memory.Memory{a, b, c, d, e} {
			mustCreateMemory(t, s, m)
		}
		cases := []struct {
			name string
			f    memory.Filter
			want []*memory.Memory
		}{
			{"user", memory.Filter{UserID: user}, []*memory.Memory{a, b, c, d}},
			{"agent", memory.Filter{AgentID: agent}, []*memory.Memory{a, e}},
			{"user+agent", memory.Filter{UserID: user, AgentID: agent}, []*memory.Memory{a}},
			{"team", memory.Filter{UserID: user, TeamID: team}, []*memory.Memory{b}},
			{"one topic", memory.Filter{UserID: user, Topics: []string{"food"}}, []*memory.Memory{a, b}},
			{"any of topics", memory.Filter{UserID: user, Topics: []string{"work", "100%"}}, []*memory.Memory{a, c}},
			{"quoted topic", memory.Filter{UserID: user, Topics: []string{`quote"d`}}, []*memory.Memory{b}},
			{"topic is no pattern", memory.Filter{UserID: user, Topics: []string{"%"}}, nil},
			{"topic is exact", memory.Filter{UserID: user, Topics: []string{"Food", "foo"}}, nil},
			{"topics across users", memory.Filter{Topics: []string{"work"}, AgentID: agent}, []*memory.Memory{a, e}},
		}
		for _, c := range cases {
			got, total := mustListMemories(t, s, c.f)
			if !sameMemoryIDs(got, c.want) || total != len(c.want) {
				t.Errorf("%s: got %v (total %d), want %v", c.name, memoryIDs(got), total, ptrIDs(c.want))
			}
		}
	})

	parallel(t, "PagingAndSort", func(t *testing.T) {
		s := newBackend(t).Memories
		user := newID("user")
		var ms []*memory.Memory
		for i := range 5 {
			m := newMemory(user, "memory "+string(rune('a'+i)))
			m.CreatedAt = baseTime() + int64(i)
			m.UpdatedAt = baseTime() + int64(10-i) // updated in the reverse order
			mustCreateMemory(t, s, m)
			ms = append(ms, m)
		}
		ids := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, ms[i].ID)
			}
			return out
		}
		cases := []struct {
			name  string
			f     memory.Filter
			want  []string
			total int
		}{
			{"default updated_at desc", memory.Filter{UserID: user}, ids(0, 1, 2, 3, 4), 5},
			{"updated_at asc", memory.Filter{UserID: user, SortOrder: "asc"}, ids(4, 3, 2, 1, 0), 5},
			{"created_at desc", memory.Filter{UserID: user, SortBy: "created_at"}, ids(4, 3, 2, 1, 0), 5},
			{"created_at asc page 2", memory.Filter{UserID: user, SortBy: "created_at", SortOrder: "asc", Limit: 2, Page: 2}, ids(2, 3), 5},
			{"last page", memory.Filter{UserID: user, SortBy: "created_at", SortOrder: "asc", Limit: 2, Page: 3}, ids(4), 5},
			{"past the end", memory.Filter{UserID: user, Limit: 2, Page: 9}, nil, 5},
			{"every one", memory.Filter{UserID: user, Limit: -1, SortBy: "created_at", SortOrder: "asc"}, ids(0, 1, 2, 3, 4), 5},
		}
		for _, c := range cases {
			got, total := mustListMemories(t, s, c.f)
			if !slices.Equal(memoryIDs(got), c.want) || total != c.total {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", c.name, memoryIDs(got), total, c.want, c.total)
			}
		}
		// The default page is 20.
		for range 21 {
			mustCreateMemory(t, s, newMemory(user, "more"))
		}
		if got, total := mustListMemories(t, s, memory.Filter{UserID: user}); len(got) != 20 || total != 26 {
			t.Errorf("default page: %d memories (total %d), want 20 (26)", len(got), total)
		}
		for _, f := range []memory.Filter{{UserID: user, SortBy: "memory; DROP TABLE memories"}, {UserID: user, SortOrder: "sideways"}} {
			if _, _, err := s.ListMemories(t.Context(), f); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("ListMemories(%+v): %v, want ErrInvalid", f, err)
			}
		}
	})

	parallel(t, "Search", func(t *testing.T) {
		s := newBackend(t).Memories
		user := newID("user")
		coffee := newMemory(user, "Loves strong coffee every morning")
		tea := newMemory(user, "Drinks green tea in the afternoon")
		runs := newMemory(user, "Is 100% into running marathons")
		pct := newMemory(user, "Uses 50_50 splits, the % sign and many marks")
		for _, m := range []*memory.Memory{coffee, tea, runs, pct} {
			mustCreateMemory(t, s, m)
		}
		cases := []struct {
			search string
			want   []*memory.Memory
		}{
			{"coff", []*memory.Memory{coffee}},           // a prefix
			{"COFFEE", []*memory.Memory{coffee}},         // case
			{"coffee morning", []*memory.Memory{coffee}}, // every word, anywhere
			{"mornin", []*memory.Memory{coffee}},         // a word being typed: a prefix of the word, not its stem
			{"runs mornin", nil},                         // each word must match, stemmed or as written
			{"morning coffee", []*memory.Memory{coffee}},
			{"coffee tea", nil},                  // every word must match
			{"runs", []*memory.Memory{runs}},     // stemmed: runs ~ running
			{"marathon", []*memory.Memory{runs}}, // stemmed plural
			{"100%", []*memory.Memory{runs}},     // % is no wildcard
			{"%", nil},                           // no word: nothing
			{"_", nil},                           // no word: nothing
			{"o", nil},                           // a prefix of a word only, not a substring
			{`coffee" OR "tea`, nil},             // quotes are no syntax
			{"tea*", []*memory.Memory{tea}},      // * is no syntax either
			{"(green) -tea", []*memory.Memory{tea}},
			{"grün", nil},
		}
		for _, c := range cases {
			got, total := mustListMemories(t, s, memory.Filter{UserID: user, Search: c.search})
			if !sameMemoryIDs(got, c.want) || total != len(c.want) {
				t.Errorf("search %q: got %v (total %d), want %v", c.search, memoryTexts(got), total, ptrTexts(c.want))
			}
		}

		// The index follows updates and deletes.
		upd := *coffee
		upd.Memory, upd.UpdatedAt = "Switched to decaf espresso", coffee.UpdatedAt+1
		if err := s.UpdateMemory(t.Context(), &upd); err != nil {
			t.Fatal(err)
		}
		if got, _ := mustListMemories(t, s, memory.Filter{UserID: user, Search: "coffee"}); len(got) != 0 {
			t.Errorf("search coffee after the update: %v", memoryTexts(got))
		}
		if got, _ := mustListMemories(t, s, memory.Filter{UserID: user, Search: "espres"}); !sameMemoryIDs(got, []*memory.Memory{coffee}) {
			t.Errorf("search espres after the update: %v", memoryTexts(got))
		}
		if _, err := s.DeleteMemories(t.Context(), user, []string{tea.ID}); err != nil {
			t.Fatal(err)
		}
		if got, _ := mustListMemories(t, s, memory.Filter{UserID: user, Search: "tea"}); len(got) != 0 {
			t.Errorf("search tea after the delete: %v", memoryTexts(got))
		}
		// Search combines with the other filters and paging.
		got, total := mustListMemories(t, s, memory.Filter{UserID: user, Search: "ma", Limit: 1})
		if len(got) != 1 || total < 2 {
			t.Errorf("search ma, limit 1: %v, total %d", memoryTexts(got), total)
		}
		if got, _ := mustListMemories(t, s, memory.Filter{UserID: newID("user"), Search: "marathon"}); len(got) != 0 {
			t.Errorf("search of another user: %v", memoryTexts(got))
		}
	})

	parallel(t, "Topics", func(t *testing.T) {
		s := newBackend(t).Memories
		user, other := newID("user"), newID("user")
		mustCreateMemory(t, s, newMemory(user, "a", "zeta", "alpha"))
		mustCreateMemory(t, s, newMemory(user, "b", "alpha", "Beta"))
		mustCreateMemory(t, s, newMemory(user, "c"))
		mustCreateMemory(t, s, newMemory(other, "d", "omega"))
		got, err := s.MemoryTopics(t.Context(), user)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"Beta", "alpha", "zeta"}; !slices.Equal(got, want) {
			t.Errorf("MemoryTopics(user) = %v, want %v", got, want)
		}
		if got, err := s.MemoryTopics(t.Context(), newID("user")); err != nil || got == nil || len(got) != 0 {
			t.Errorf("MemoryTopics(nobody) = %#v, %v; want []", got, err)
		}
		all, err := s.MemoryTopics(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"alpha", "omega"} {
			if !slices.Contains(all, w) {
				t.Errorf("MemoryTopics(\"\") = %v lacks %q", all, w)
			}
		}
		if !slices.IsSorted(all) {
			t.Errorf("MemoryTopics(\"\") not sorted: %v", all)
		}
	})

	parallel(t, "UserStats", func(t *testing.T) {
		s := newBackend(t).Memories
		u1, u2 := newID("user"), newID("user")
		far := baseTime() + 1_000_000 // later than any other test's memories
		for i, u := range []string{u1, u1, u1, u2} {
			m := newMemory(u, "m")
			m.UpdatedAt = far + int64(i)
			mustCreateMemory(t, s, m)
		}
		got, total, err := s.UserMemoryStats(t.Context(), u1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := []memory.UserStats{{UserID: u1, TotalMemories: 3, LastMemoryUpdatedAt: far + 2}}; !reflect.DeepEqual(got, want) || total != 1 {
			t.Errorf("UserMemoryStats(u1) = %+v (total %d), want %+v", got, total, want)
		}
		got, total, err = s.UserMemoryStats(t.Context(), "", 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Most recent first: u2 (far+3), then u1 (far+2), before any other
		// test's users.
		if len(got) != 2 || got[0].UserID != u2 || got[0].TotalMemories != 1 || got[1].UserID != u1 || total < 2 {
			t.Errorf("UserMemoryStats page 1 = %+v (total %d)", got, total)
		}
		if got, total, err := s.UserMemoryStats(t.Context(), u1, 5, 3); err != nil || len(got) != 0 || total != 1 {
			t.Errorf("UserMemoryStats past the end = %+v, %d, %v", got, total, err)
		}
		if got, total, err := s.UserMemoryStats(t.Context(), newID("user"), 0, 0); err != nil || got == nil || len(got) != 0 || total != 0 {
			t.Errorf("UserMemoryStats(nobody) = %#v, %d, %v", got, total, err)
		}
	})

	parallel(t, "DeleteBoundToUser", func(t *testing.T) {
		s := newBackend(t).Memories
		alice, bob := newID("user"), newID("user")
		a1, a2 := newMemory(alice, "a1"), newMemory(alice, "a2")
		b1 := newMemory(bob, "b1")
		for _, m := range []*memory.Memory{a1, a2, b1} {
			mustCreateMemory(t, s, m)
		}
		n, err := s.DeleteMemories(t.Context(), alice, []string{a1.ID, b1.ID})
		if err != nil || n != 1 {
			t.Fatalf("DeleteMemories(alice, a1+b1) = %d, %v; want 1", n, err)
		}
		mustGetMemory(t, s, b1.ID)
		mustGetMemory(t, s, a2.ID)
		if _, err := s.GetMemory(t.Context(), a1.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("a1 after delete: %v", err)
		}
		if n, err := s.DeleteMemories(t.Context(), alice, []string{b1.ID}); err != nil || n != 0 {
			t.Fatalf("DeleteMemories(alice, b1) = %d, %v; want 0", n, err)
		}
		mustGetMemory(t, s, b1.ID)
	})

	parallel(t, "ReplaceUserMemories", func(t *testing.T) {
		s := newBackend(t).Memories
		alice, bob := newID("user"), newID("user")
		a1, a2 := newMemory(alice, "likes coffee"), newMemory(alice, "likes espresso")
		b1 := newMemory(bob, "likes tea")
		for _, m := range []*memory.Memory{a1, a2, b1} {
			mustCreateMemory(t, s, m)
		}
		merged := *newMemory("", "likes coffee and espresso", "drinks")
		if err := s.ReplaceUserMemories(t.Context(), alice, []memory.Memory{merged}); err != nil {
			t.Fatalf("ReplaceUserMemories: %v", err)
		}
		got, total := mustListMemories(t, s, memory.Filter{UserID: alice})
		merged.UserID = alice
		if total != 1 || len(got) != 1 {
			t.Fatalf("alice after the replace: %v", memoryTexts(got))
		}
		assertMemory(t, &merged, &got[0])
		if got, _ := mustListMemories(t, s, memory.Filter{UserID: alice, Search: "espresso"}); len(got) != 1 {
			t.Errorf("search after the replace: %v", memoryTexts(got))
		}
		mustGetMemory(t, s, b1.ID)

		// A taken id (bob's) rolls the whole replace back.
		dup := *newMemory(alice, "new one")
		dup.ID = b1.ID
		err := s.ReplaceUserMemories(t.Context(), alice, []memory.Memory{*newMemory(alice, "first"), dup})
		if !errors.Is(err, core.ErrConflict) {
			t.Fatalf("ReplaceUserMemories with a taken id: %v, want ErrConflict", err)
		}
		if got, _ := mustListMemories(t, s, memory.Filter{UserID: alice}); !sameMemoryIDs(got, []*memory.Memory{&merged}) {
			t.Fatalf("alice after a failed replace: %v, want only %q", memoryTexts(got), merged.Memory)
		}
		if b := mustGetMemory(t, s, b1.ID); b.UserID != bob || b.Memory != b1.Memory {
			t.Fatalf("bob's memory after a failed replace: %+v", b)
		}
		// Another user's memory, or no user, is refused before any write.
		if err := s.ReplaceUserMemories(t.Context(), alice, []memory.Memory{*newMemory(bob, "x")}); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("ReplaceUserMemories with bob's memory: %v, want ErrInvalid", err)
		}
		if err := s.ReplaceUserMemories(t.Context(), "", nil); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("ReplaceUserMemories without a user: %v, want ErrInvalid", err)
		}
		// Replacing with nothing deletes them all.
		if err := s.ReplaceUserMemories(t.Context(), alice, nil); err != nil {
			t.Fatal(err)
		}
		if _, total := mustListMemories(t, s, memory.Filter{UserID: alice}); total != 0 {
			t.Fatalf("alice after replacing with none: %d memories", total)
		}
		mustGetMemory(t, s, b1.ID)
	})

	parallel(t, "ReplaceMemories", func(t *testing.T) {
		st := newBackend(t).Memories
		s, ok := st.(memory.Replacer)
		if !ok {
			t.Fatalf("the memory store %T does not implement memory.Replacer", st)
		}
		alice, bob := newID("user"), newID("user")
		a1, a2, a3 := newMemory(alice, "a1"), newMemory(alice, "a2"), newMemory(alice, "written meanwhile")
		b1 := newMemory(bob, "b1")
		for _, m := range []*memory.Memory{a1, a2, a3, b1} {
			mustCreateMemory(t, st, m)
		}
		merged := *newMemory(alice, "a1 and a2")
		if err := s.ReplaceMemories(t.Context(), alice, []string{a1.ID, a2.ID, b1.ID, newID("mem")}, []memory.Memory{merged}); err != nil {
			t.Fatalf("ReplaceMemories: %v", err)
		}
		got, _ := mustListMemories(t, st, memory.Filter{UserID: alice})
		if !sameMemoryIDs(got, []*memory.Memory{a3, &merged}) {
			t.Fatalf("alice after ReplaceMemories: %v, want %q and %q", memoryTexts(got), a3.Memory, merged.Memory)
		}
		mustGetMemory(t, st, b1.ID) // another user's id among remove: kept
		// A taken id rolls it back: a3 stays.
		dup := *newMemory(alice, "dup")
		dup.ID = b1.ID
		if err := s.ReplaceMemories(t.Context(), alice, []string{a3.ID}, []memory.Memory{dup}); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("ReplaceMemories with a taken id: %v, want ErrConflict", err)
		}
		mustGetMemory(t, st, a3.ID)
		// Many ids at once (chunked where the engine binds one per id).
		var ids []string
		for range 1200 {
			ids = append(ids, newID("mem"))
		}
		ids = append(ids, a3.ID)
		if err := s.ReplaceMemories(t.Context(), alice, ids, nil); err != nil {
			t.Fatalf("ReplaceMemories of 1201 ids: %v", err)
		}
		if _, err := st.GetMemory(t.Context(), a3.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("a3 after its removal: %v", err)
		}
	})
}

// --- memory fixtures ----------------------------------------------------------

func fullMemory(userID string) *memory.Memory {
	now := baseTime()
	return &memory.Memory{
		ID:        newID("mem"),
		Memory:    `Likes 'single' and "double" quotes, ünïcode 👋; DROP TABLE memories; --`,
		Topics:    []string{"preferences", "food & drink", "ünï"},
		UserID:    userID,
		AgentID:   newID("agent"),
		TeamID:    newID("team"),
		Input:     "I like quotes",
		Feedback:  "good",
		CreatedAt: now - 10,
		UpdatedAt: now - 5,
	}
}

func newMemory(userID, text string, topics ...string) *memory.Memory {
	if topics == nil {
		topics = []string{}
	}
	return &memory.Memory{ID: newID("mem"), Memory: text, Topics: topics, UserID: userID,
		CreatedAt: baseTime(), UpdatedAt: baseTime()}
}

func mustCreateMemory(t *testing.T, s memory.Store, m *memory.Memory) {
	t.Helper()
	if err := s.CreateMemory(t.Context(), m); err != nil {
		t.Fatalf("CreateMemory: %v", err)
	}
}

func mustGetMemory(t *testing.T, s memory.Store, id string) *memory.Memory {
	t.Helper()
	m, err := s.GetMemory(t.Context(), id)
	if err != nil {
		t.Fatalf("GetMemory(%q): %v", id, err)
	}
	return m
}

func mustListMemories(t *testing.T, s memory.Store, f memory.Filter) ([]memory.Memory, int) {
	t.Helper()
	got, total, err := s.ListMemories(t.Context(), f)
	if err != nil {
		t.Fatalf("ListMemories(%+v): %v", f, err)
	}
	if got == nil {
		t.Fatalf("ListMemories(%+v) = nil, want a non-nil slice", f)
	}
	return got, total
}

func assertMemory(t *testing.T, want, got *memory.Memory) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("memory:\n got %+v\nwant %+v", got, want)
	}
}

func memoryIDs(ms []memory.Memory) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func memoryTexts(ms []memory.Memory) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Memory)
	}
	return out
}

func ptrIDs(ms []*memory.Memory) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func ptrTexts(ms []*memory.Memory) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Memory)
	}
	return out
}

// sameMemoryIDs reports whether got holds exactly want's memories, in any
// order.
func sameMemoryIDs(got []memory.Memory, want []*memory.Memory) bool {
	a, b := memoryIDs(got), ptrIDs(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// FuzzMemorySearch fuzzes the full-text search of s with the user's query
// as it comes: whatever it holds (FTS5 or tsquery syntax, quotes, %, NUL,
// invalid UTF-8), the search answers without an error, and a query made of
// a stored word finds its memory. Backends call it from a Fuzz test.
func FuzzMemorySearch(f *testing.F, s memory.Store) {
	user := newID("user")
	m := newMemory(user, "Loves strong coffee every morning")
	if err := s.CreateMemory(f.Context(), m); err != nil {
		f.Fatal(err)
	}
	for _, q := range []string{"coff", `"coffee" OR x`, "coffee*", "NEAR(a b)", "a & !b | c:*", "'", `\`, "%", "_",
		"col:coffee", "^coffee", "-coffee", "(", "é\xff", "a\x00b", "strong   coffee"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, total, err := s.ListMemories(t.Context(), memory.Filter{UserID: user, Search: q})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		if total != len(got) || total > 1 {
			t.Fatalf("search %q: %d memories, total %d", q, len(got), total)
		}
		for _, w := range []string{"coffee", "strong", "morning", "loves", "every"} {
			if q == w && total != 1 {
				t.Fatalf("search %q did not find %q", q, m.Memory)
			}
		}
	})
}
