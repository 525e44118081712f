package postgres

import (
	"github.com/agentgate/agentgate/internal/testutil"

	"testing"

	"github.com/agentgate/agentgate/core"
)

// TestPGArg: text is mapped for PostgreSQL (NUL and invalid UTF-8 become
// U+FFFD), and a value it leaves unchanged comes back as it came, without
// an allocation (boxing the same string again took one per bound text).
func TestPGArg(t *testing.T) {
	for in, want := range map[string]string{"ok": "ok", "": "", "a\x00b": "a\uFFFDb", "a\xffb": "a\uFFFDb"} {
		if got := pgArg(in); got != want {
			t.Errorf("pgArg(%q) = %q, want %q", in, got, want)
		}
	}
	if got := pgArg([]string{"a\x00"}).([]string); got[0] != "a\uFFFD" {
		t.Errorf("pgArg([]string) = %q", got)
	}
	if got := pgArg(int64(7)); got != int64(7) {
		t.Errorf("pgArg(7) = %v", got)
	}
	v := any("assistant")
	if n := testing.AllocsPerRun(100, func() { _ = pgArg(v) }); !testutil.RaceEnabled && n != 0 {
		t.Errorf("pgArg of valid text: %v allocations, want 0", n)
	}
}

// TestRunInSessionValues: CreateRunInSession's arguments, the run's then
// the session's, in one slice; and what building them allocates (before
// the write path was trimmed: 36).
func TestRunInSessionValues(t *testing.T) {
	r := &core.Run{
		RunID: "run-1", SessionID: "s-1", AgentID: "assistant", AgentName: "Assistant", Status: core.RunCompleted,
		Input:   core.RunInput{InputContent: "hello"},
		Content: "Hello! How can I help you today?", ContentType: "str", Model: "m", ModelProvider: "p",
		Messages:   []core.Message{{Role: "user", Content: "hello"}, {Role: "assistant", Content: "Hello!"}},
		Metrics:    &core.Metrics{InputTokens: 10, OutputTokens: 9, TotalTokens: 19},
		EventCount: 9, CreatedAt: 1_700_000_000_000, UpdatedAt: 1_700_000_000_100,
	}
	s := &core.Session{SessionID: r.SessionID, SessionType: core.SessionAgent, SessionName: "hello",
		AgentID: "assistant", CreatedAt: r.CreatedAt, UpdatedAt: r.CreatedAt}
	build := func() []any {
		args, err := runValues(r, sessionParams)
		if err != nil {
			t.Fatal(err)
		}
		if args, err = appendSessionValues(args, s); err != nil {
			t.Fatal(err)
		}
		return args
	}
	args := build()
	if len(args) != runParams+sessionParams || cap(args) != len(args) {
		t.Fatalf("%d arguments (capacity %d), want %d", len(args), cap(args), runParams+sessionParams)
	}
	if args[0] != "run-1" || args[6] != `{"input_content":"hello"}` || args[runParams-1] != nil ||
		args[runParams] != "s-1" || args[runParams+1] != "agent" {
		t.Errorf("arguments %#v", args)
	}
	// The slice; the run's 9 boxed non-empty strings, 2 timestamps and
	// boxed messages slice, its 3 JSON columns (string and boxing each);
	// the session's 4 strings and 2 timestamps.
	if n := testing.AllocsPerRun(100, func() { _ = build() }); !testutil.RaceEnabled && n > 25 {
		t.Errorf("building the arguments: %v allocations, want at most 25", n)
	}
}
