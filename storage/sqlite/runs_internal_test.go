package sqlite

import (
	"github.com/agentgate/agentgate/internal/testutil"

	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// agentRun is a finished agent run as a blocking run stores it: the one
// write of the embedded default's hot path.
func agentRun(id string) *core.Run {
	return &core.Run{
		RunID: id, SessionID: "s-" + id, AgentID: "assistant", AgentName: "Assistant", Status: core.RunCompleted,
		Input:   core.RunInput{InputContent: "hello"},
		Content: "Hello! How can I help you today?", ContentType: "str", Model: "m", ModelProvider: "p",
		Messages: []core.Message{
			{Role: "user", Content: "hello"},
			{Role: "assistant", Content: "Hello! How can I help you today?"},
		},
		Metrics:    &core.Metrics{InputTokens: 10, OutputTokens: 9, TotalTokens: 19},
		EventCount: 9, CreatedAt: 1_700_000_000_000, UpdatedAt: 1_700_000_000_100,
	}
}

// TestRunInsertShape: an agent's top-level run leaves its kind columns to
// their defaults, any other run binds them; both read back whole.
func TestRunInsertShape(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	step := 2
	for _, c := range []struct {
		name string
		set  func(r *core.Run)
		base bool
	}{
		{"agent", func(*core.Run) {}, true},
		{"team", func(r *core.Run) { r.AgentID, r.TeamID, r.TeamName = "", "t", "Team" }, false},
		{"workflow step", func(r *core.Run) { r.WorkflowID, r.StepIndex = "w", &step }, false},
		{"member", func(r *core.Run) { r.ParentRunID, r.NestedDepth = "parent", 1 }, false},
		{"scheduled agent", func(r *core.Run) { r.ScheduleID, r.ScheduleRunID = "sch", "sr" }, false},
	} {
		r := agentRun("run-" + c.name)
		c.set(r)
		ins, err := newRunInsert(r)
		if err != nil {
			t.Fatal(err)
		}
		wantSQL, wantArgs := insertRunSQL, 1+runValueCount
		if c.base {
			wantSQL, wantArgs = insertBaseRunSQL, 1+runValueCount-runKindCount
		}
		if ins.sql != wantSQL || len(ins.args) != wantArgs {
			t.Errorf("%s: insert of %d values (base %v), want %d (base %v)", c.name, len(ins.args), ins.sql == insertBaseRunSQL, wantArgs, c.base)
		}
		if _, err := st.CreateRunInSession(ctx, &core.Session{SessionID: r.SessionID, SessionType: core.SessionAgent}, r); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := st.GetRun(ctx, r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if got.TeamID != r.TeamID || got.TeamName != r.TeamName || got.WorkflowID != r.WorkflowID ||
			got.ParentRunID != r.ParentRunID || got.NestedDepth != r.NestedDepth ||
			(got.StepIndex == nil) != (r.StepIndex == nil) || got.ScheduleID != r.ScheduleID ||
			got.ScheduleRunID != r.ScheduleRunID || got.Content != r.Content || got.EventCount != r.EventCount ||
			len(got.Messages) != 2 || got.Metrics == nil || *got.Metrics != *r.Metrics {
			t.Errorf("%s: read back %+v", c.name, got)
		}
	}
}

// TestRunWriteAllocs bounds what encoding a run and its session for the
// run path allocates. Most of it is the driver's due (every value is boxed
// into an interface); before the write path was trimmed the same run took
// 28 (the values were gathered in four slices, the input boxed by value,
// each JSON column encoded with a buffer of its own).
func TestRunWriteAllocs(t *testing.T) {
	r := agentRun("run-1")
	s := &core.Session{SessionID: r.SessionID, SessionType: core.SessionAgent, SessionName: "hello",
		AgentID: "assistant", CreatedAt: r.CreatedAt, UpdatedAt: r.CreatedAt}
	// The args slice and the insert; 9 boxed non-empty strings, 2 boxed
	// timestamps and the boxed messages slice; the input, messages and
	// metrics JSON (a string and its boxing each).
	if n := testing.AllocsPerRun(100, func() { _, _ = newRunInsert(r) }); !testutil.RaceEnabled && n > 20 {
		t.Errorf("a run's insert: %v allocations, want at most 20", n)
	}
	// The args slice and the insert; 4 boxed strings and 2 timestamps.
	if n := testing.AllocsPerRun(100, func() { _, _ = newSessionInsert(s) }); !testutil.RaceEnabled && n > 8 {
		t.Errorf("a session's insert: %v allocations, want at most 8", n)
	}
}

// TestUpdateRunSQL: the statements built once are those built on demand,
// with a placeholder for every argument UpdateRun binds.
func TestUpdateRunSQL(t *testing.T) {
	for n := range 6 {
		for _, expired := range []bool{false, true} {
			for _, owner := range []bool{false, true} {
				q := updateRunSQL(n, expired, owner)
				if q != buildUpdateRunSQL(n, expired, owner) {
					t.Errorf("updateRunSQL(%d, %v, %v) differs from the statement built on demand", n, expired, owner)
				}
				want := 1 + runValueCount + n + b2i(expired) + b2i(owner)
				if got := strings.Count(q, "?"); got != want {
					t.Errorf("updateRunSQL(%d, %v, %v): %d placeholders, want %d", n, expired, owner, got, want)
				}
			}
		}
	}
}
