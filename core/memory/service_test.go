package memory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// newStore is a real (in-memory SQLite) memory store.
func newStore(t *testing.T) memory.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countingModel counts the model's calls.
type countingModel struct {
	model.Model
	calls atomic.Int32
}

func (c *countingModel) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	c.calls.Add(1)
	return c.Model.Generate(ctx, req, onDelta)
}

// newService is a service on a fresh store whose models are scripted ones
// by name: "merge" answers reply, "broken" fails, "empty" answers nothing.
func newService(t *testing.T, reply, defaultModel string) (*memory.Service, memory.Store, *countingModel) {
	t.Helper()
	st := newStore(t)
	merge := &countingModel{Model: scripted.New(scripted.Config{Model: "merge", Rules: []scripted.Rule{{Reply: reply}}})}
	models := map[string]model.Model{
		"merge":  merge,
		"broken": scripted.New(scripted.Config{Rules: []scripted.Rule{{Error: "boom"}}}),
		"empty":  scripted.New(scripted.Config{Rules: []scripted.Rule{{Reply: "\n  \n```\n```"}}}),
	}
	resolve := func(_ context.Context, name string) (model.Model, error) {
		if m, ok := models[name]; ok {
			return m, nil
		}
		return nil, core.Errorf(core.CodeInvalid, "unknown model %q", name)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc := memory.New(memory.Config{Store: st, Models: resolve, DefaultModel: defaultModel, Now: func() time.Time { return now }})
	return svc, st, merge
}

func code(err error) core.ErrorCode { return core.CodeOf(err) }

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t, "", "")
	ctx := t.Context()
	cases := []struct {
		name string
		in   memory.Input
		want string // part of the error; "" for success
	}{
		{"no user", memory.Input{Memory: "x"}, "no user_id"},
		{"blank user", memory.Input{Memory: "x", UserID: "  "}, "no user_id"},
		{"empty", memory.Input{Memory: "", UserID: "u"}, "empty"},
		{"blank", memory.Input{Memory: " \n\t", UserID: "u"}, "empty"},
		{"too long", memory.Input{Memory: strings.Repeat("é", 5001), UserID: "u"}, "over 5000"},
		{"bad utf-8", memory.Input{Memory: "a\xffb", UserID: "u"}, "UTF-8"},
		{"too many topics", memory.Input{Memory: "x", UserID: "u", Topics: manyTopics(51)}, "topics"},
		{"long topic", memory.Input{Memory: "x", UserID: "u", Topics: []string{strings.Repeat("t", 101)}}, "topic"},
		{"longest", memory.Input{Memory: strings.Repeat("é", 5000), UserID: "u"}, ""},
	}
	for _, c := range cases {
		m, err := svc.Create(ctx, "", c.in)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (code(err) != core.CodeInvalid || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v (%v), want an invalid error with %q", c.name, err, m, c.want)
		}
	}
}

func manyTopics(n int) []string {
	var out []string
	for i := range n {
		out = append(out, strings.Repeat("t", i+1))
	}
	return out
}

func TestCreateNormalizes(t *testing.T) {
	t.Parallel()
	svc, st, _ := newService(t, "", "")
	ctx := t.Context()
	m, err := svc.Create(ctx, "", memory.Input{Memory: "  Likes tea \n", UserID: " u1 ", Topics: []string{" food", "food", "", "drink ", "Food"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetMemory(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Memory != "Likes tea" || got.UserID != "u1" || strings.Join(got.Topics, "|") != "food|drink|Food" {
		t.Fatalf("stored %+v", got)
	}
	if got.CreatedAt != time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix() || got.UpdatedAt != got.CreatedAt {
		t.Fatalf("times %d %d", got.CreatedAt, got.UpdatedAt)
	}
	// No topics is an empty list, not null.
	m, err = svc.Create(ctx, "", memory.Input{Memory: "x", UserID: "u1"})
	if err != nil || m.Topics == nil || len(m.Topics) != 0 {
		t.Fatalf("no topics: %+v, %v", m, err)
	}
	// A bound caller's memory is theirs, whatever it asks.
	m, err = svc.Create(ctx, "alice", memory.Input{Memory: "x", UserID: "bob"})
	if err != nil || m.UserID != "alice" {
		t.Fatalf("bound create: %+v, %v", m, err)
	}
	if m, err = svc.Create(ctx, "alice", memory.Input{Memory: "x"}); err != nil || m.UserID != "alice" {
		t.Fatalf("bound create without user_id: %+v, %v", m, err)
	}
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	svc, st, _ := newService(t, "", "")
	ctx := t.Context()
	a, err := svc.Create(ctx, "", memory.Input{Memory: "alice's", UserID: "alice", Topics: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Create(ctx, "", memory.Input{Memory: "bob's", UserID: "bob", Topics: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, "alice", b.ID); code(err) != core.CodeNotFound {
		t.Errorf("alice gets bob's: %v", err)
	}
	if _, err := svc.Get(ctx, "alice", a.ID); err != nil {
		t.Errorf("alice gets her own: %v", err)
	}
	if _, err := svc.Update(ctx, "alice", b.ID, memory.Input{Memory: "mine now"}); code(err) != core.CodeNotFound {
		t.Errorf("alice updates bob's: %v", err)
	}
	if _, err := svc.Update(ctx, "", b.ID, memory.Input{Memory: "moved", UserID: "alice"}); code(err) != core.CodeNotFound {
		t.Errorf("update naming another user: %v", err)
	}
	if err := svc.Delete(ctx, "alice", "", b.ID); code(err) != core.CodeNotFound {
		t.Errorf("alice deletes bob's: %v", err)
	}
	if err := svc.Delete(ctx, "", "alice", b.ID); code(err) != core.CodeNotFound {
		t.Errorf("delete of bob's with user_id alice: %v", err)
	}
	if n, err := svc.DeleteMany(ctx, "alice", "bob", []string{a.ID, b.ID}); err != nil || n != 1 {
		t.Errorf("alice bulk-deletes: %d, %v", n, err)
	}
	if got, err := st.GetMemory(ctx, b.ID); err != nil || got.Memory != "bob's" {
		t.Fatalf("bob's memory after alice's attempts: %+v, %v", got, err)
	}
	list, total, err := svc.List(ctx, "alice", memory.Filter{UserID: "bob"})
	if err != nil || total != 0 || len(list) != 0 {
		t.Errorf("alice lists bob's: %v (%d), %v", list, total, err)
	}
	if list, _, err := svc.List(ctx, "bob", memory.Filter{}); err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("bob lists his: %v, %v", list, err)
	}
	if topics, err := svc.Topics(ctx, "alice", "bob"); err != nil || len(topics) != 0 {
		t.Errorf("alice's topics: %v, %v", topics, err)
	}
	if stats, total, err := svc.Stats(ctx, "bob", "", 0, 0); err != nil || total != 1 || stats[0].UserID != "bob" {
		t.Errorf("bob's stats: %v (%d), %v", stats, total, err)
	}
	if _, err := svc.Optimize(ctx, "alice", "bob", "merge", true); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetMemory(ctx, b.ID); err != nil || got.Memory != "bob's" {
		t.Fatalf("bob's memory after alice's optimisation: %+v, %v", got, err)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	svc, st, _ := newService(t, "", "")
	ctx := t.Context()
	in, fb := "the input", "ok"
	m, err := svc.Create(ctx, "", memory.Input{Memory: "x", UserID: "u", Topics: []string{"keep"}, Input: &in, Feedback: &fb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, "", m.ID, memory.Input{Memory: ""}); code(err) != core.CodeInvalid {
		t.Errorf("update to empty: %v", err)
	}
	if _, err := svc.Update(ctx, "", "nope", memory.Input{Memory: "y"}); code(err) != core.CodeNotFound {
		t.Errorf("update of a missing memory: %v", err)
	}
	u, err := svc.Update(ctx, "", m.ID, memory.Input{Memory: " y ", UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetMemory(ctx, m.ID)
	if u.Memory != "y" || got.Memory != "y" || strings.Join(got.Topics, ",") != "keep" || got.Input != in || got.Feedback != fb {
		t.Fatalf("after the update: %+v", got)
	}
	if _, err := svc.Update(ctx, "", m.ID, memory.Input{Memory: "z", Topics: []string{}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetMemory(ctx, m.ID); len(got.Topics) != 0 {
		t.Fatalf("topics not cleared: %+v", got)
	}
}

func TestListChecks(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t, "", "")
	for _, f := range []memory.Filter{{SortBy: "memory"}, {SortOrder: "up"}, {Limit: -1}, {Page: -1},
		{Search: strings.Repeat("a", 5001)}, {Topics: manyTopics(51)}} {
		if _, _, err := svc.List(t.Context(), "", f); code(err) != core.CodeInvalid {
			t.Errorf("List(%+v): %v, want invalid", f, err)
		}
	}
	if _, err := svc.DeleteMany(t.Context(), "", "", nil); code(err) != core.CodeInvalid {
		t.Errorf("DeleteMany of none: %v", err)
	}
}

func seed(t *testing.T, svc *memory.Service, user string, texts ...string) []*memory.Memory {
	t.Helper()
	var out []*memory.Memory
	for i, text := range texts {
		m, err := svc.Create(t.Context(), "", memory.Input{Memory: text, UserID: user, AgentID: "agent-1",
			Topics: []string{[]string{"food", "drink", "food"}[i%3]}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestOptimize(t *testing.T) {
	t.Parallel()
	reply := "Here are the memories:\n- Likes coffee and espresso, strong, in the morning\n2) Lives in Paris\n* lives in paris\n"
	svc, st, merge := newService(t, reply, "merge")
	ctx := t.Context()
	old := seed(t, svc, "u",
		"The user likes coffee",
		"The user likes espresso in the morning, strong",
		"The user lives in Paris, France, and has lived there for ten years",
		"User drinks coffee")
	other := seed(t, svc, "v", "Someone else")

	// A dry run: the result, nothing written.
	res, err := svc.Optimize(ctx, "", "u", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.MemoriesBefore != 4 || res.MemoriesAfter != 2 || len(res.Memories) != 2 {
		t.Fatalf("dry run: %+v", res)
	}
	if res.Memories[0].Memory != "Likes coffee and espresso, strong, in the morning" || res.Memories[1].Memory != "Lives in Paris" {
		t.Fatalf("parsed memories: %+v", res.Memories)
	}
	for _, m := range res.Memories {
		if m.UserID != "u" || m.AgentID != "agent-1" || strings.Join(m.Topics, ",") != "drink,food" || m.ID == "" {
			t.Fatalf("optimised memory: %+v", m)
		}
	}
	before := 0
	for _, m := range old {
		before += memory.EstimateTokens(m.Memory)
	}
	after := memory.EstimateTokens(res.Memories[0].Memory) + memory.EstimateTokens(res.Memories[1].Memory)
	if res.TokensBefore != before || res.TokensAfter != after || res.TokensSaved != before-after || after >= before {
		t.Fatalf("tokens: %+v (want %d → %d)", res, before, after)
	}
	wantPct := float64(int(float64(before-after)/float64(before)*10000+0.5)) / 100
	if res.ReductionPercentage != wantPct || res.ReductionPercentage <= 0 || res.ReductionPercentage > 100 {
		t.Fatalf("reduction %v, want %v", res.ReductionPercentage, wantPct)
	}
	if list, total, _ := st.ListMemories(ctx, memory.Filter{UserID: "u"}); total != 4 || len(list) != 4 {
		t.Fatalf("a dry run changed the memories: %d", total)
	}

	// Applied: the user's memories are the result; another's are kept.
	res, err = svc.Optimize(ctx, "", "u", "merge", true)
	if err != nil {
		t.Fatal(err)
	}
	list, total, err := st.ListMemories(ctx, memory.Filter{UserID: "u", SortBy: "created_at", SortOrder: "asc"})
	if err != nil || total != 2 {
		t.Fatalf("after apply: %v (%d), %v", list, total, err)
	}
	for _, m := range res.Memories {
		got, err := st.GetMemory(ctx, m.ID)
		if err != nil || got.Memory != m.Memory {
			t.Fatalf("applied memory %q: %+v, %v", m.ID, got, err)
		}
	}
	if _, err := st.GetMemory(ctx, old[0].ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("an old memory survived the apply: %v", err)
	}
	if _, err := st.GetMemory(ctx, other[0].ID); err != nil {
		t.Fatalf("another user's memory after the apply: %v", err)
	}
	if n := merge.calls.Load(); n != 2 {
		t.Fatalf("model calls %d, want 2", n)
	}
	// Searchable at once.
	if list, _, _ := st.ListMemories(ctx, memory.Filter{UserID: "u", Search: "espres"}); len(list) != 1 {
		t.Fatalf("search after the apply: %v", list)
	}
}

func TestOptimizeFailures(t *testing.T) {
	t.Parallel()
	svc, st, merge := newService(t, "- merged", "")
	ctx := t.Context()
	seed(t, svc, "u", "a", "b")
	cases := []struct {
		name, user, model string
		code              core.ErrorCode
		want              string
	}{
		{"no user", "", "merge", core.CodeInvalid, "no user_id"},
		{"no model configured", "u", "", core.CodeInvalid, "memory.model"},
		{"unknown model", "u", "nope", core.CodeInvalid, "unknown model"},
		{"model fails", "u", "broken", core.CodeUnavailable, "boom"},
		{"model answers nothing", "u", "empty", core.CodeUnavailable, "no memories"},
	}
	for _, c := range cases {
		_, err := svc.Optimize(ctx, "", c.user, c.model, true)
		if code(err) != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s with %q", c.name, err, c.code, c.want)
		}
	}
	if _, total, _ := st.ListMemories(ctx, memory.Filter{UserID: "u"}); total != 2 {
		t.Fatalf("failed optimisations changed the memories: %d left", total)
	}
	// A user without memories: no model call, nothing to do.
	res, err := svc.Optimize(ctx, "", "nobody", "merge", true)
	if err != nil || res.MemoriesBefore != 0 || res.MemoriesAfter != 0 || res.Memories == nil || merge.calls.Load() != 0 {
		t.Fatalf("optimise nobody: %+v, %v (calls %d)", res, err, merge.calls.Load())
	}
}

// writingModel is a model during whose call an agent writes a memory.
type writingModel struct {
	model.Model
	svc  *memory.Service
	user string
}

func (w *writingModel) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	if _, err := w.svc.Create(ctx, "", memory.Input{Memory: "Written while optimising", UserID: w.user}); err != nil {
		return nil, err
	}
	return w.Model.Generate(ctx, req, onDelta)
}

func TestOptimizeKeepsConcurrentWrites(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	var svc *memory.Service
	w := &writingModel{Model: scripted.New(scripted.Config{Rules: []scripted.Rule{{Reply: "- merged"}}}), user: "u"}
	svc = memory.New(memory.Config{Store: st, DefaultModel: "w",
		Models: func(context.Context, string) (model.Model, error) { return w, nil }})
	w.svc = svc
	seed(t, svc, "u", "a", "b")
	res, err := svc.Optimize(t.Context(), "", "u", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.MemoriesBefore != 2 || res.MemoriesAfter != 1 {
		t.Fatalf("result: %+v", res)
	}
	list, _, err := st.ListMemories(t.Context(), memory.Filter{UserID: "u", Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range list {
		texts = append(texts, m.Memory)
	}
	slices.Sort(texts)
	if !slices.Equal(texts, []string{"Written while optimising", "merged"}) {
		t.Fatalf("after the optimisation: %q, want the merged memory and the one written meanwhile", texts)
	}
}

func TestParseMemoryList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"- a\n- b\r\n\n- a", []string{"a", "b"}},
		{"1. first\n2) second\n10. tenth", []string{"first", "second", "tenth"}},
		{"Memories:\n```\n* x\n• y\n```", []string{"x", "y"}},
		{`"quoted"` + "\n'single'", []string{"quoted", "single"}},
		{"2024 was a year", []string{"2024 was a year"}},
		{"-not a bullet", []string{"-not a bullet"}},
		{"A\na", []string{"A"}},
	}
	for _, c := range cases {
		got := memory.ParseMemoryList(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("ParseMemoryList(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := memory.ParseMemoryList(strings.Repeat("x", 6000))
	if len(long) != 1 || len([]rune(long[0])) != memory.MaxMemoryChars {
		t.Errorf("a long line: %d characters", len(long[0]))
	}
}

func FuzzParseMemoryList(f *testing.F) {
	for _, s := range []string{"- a\n- b", "1) x\n```\n", "\"\"\n''", "é\xff", "Memories:\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range memory.ParseMemoryList(s) {
			if _, err := memory.CheckText(m); err != nil {
				t.Fatalf("ParseMemoryList(%q) gave %q, which CheckText refuses: %v", s, m, err)
			}
			if strings.ContainsAny(m, "\n\r") {
				t.Fatalf("a memory with a line break: %q", m)
			}
		}
	})
}

func TestEstimateTokens(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		"":                  0,
		"   ":               0,
		"a":                 1,
		"word":              1,
		"words":             2,
		"Likes coffee.":     2 + 2 + 1,
		"100% sure":         1 + 1 + 1,
		"ünïcode 👋":         2 + 1,
		"the user likes it": 1 + 1 + 2 + 1,
	}
	for in, want := range cases {
		if got := memory.EstimateTokens(in); got != want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", in, got, want)
		}
	}
}
