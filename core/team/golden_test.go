package team_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/core"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// volatile are the fields whose values depend on the clock.
var volatile = map[string]bool{"created_at": true, "updated_at": true, "time_to_first_token": true,
	"duration": true, "start_time": true, "end_time": true, "error_id": true}

// frames renders events as SSE frames (event: TYPE, data: JSON) with ids
// normalised (run-1, run-2 … and session-1 in order of appearance) and the
// clock's values left out. With byMember, the members' forwarded events
// (which run in parallel) are grouped per member, in the order members
// first appear, after the team's events that came before the first of
// them: the frames then do not depend on scheduling.
func frames(t *testing.T, evs []core.Event, byMember bool) []byte {
	t.Helper()
	if byMember {
		evs = groupMembers(evs)
	}
	ids, done := map[string]string{}, map[string]bool{}
	runs, sessions := 0, 0
	norm := func(key, s string) string {
		if n, ok := ids[s]; ok {
			return n
		}
		if done[s] {
			return s
		}
		switch key {
		case "run_id", "parent_run_id", "member_run_id":
			runs++
			ids[s] = fmt.Sprintf("run-%d", runs)
		case "session_id":
			sessions++
			ids[s] = fmt.Sprintf("session-%d", sessions)
		default:
			return s
		}
		done[ids[s]] = true
		return ids[s]
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range x {
					if !yield(k) {
						return
					}
				}
			}) {
				if volatile[k] {
					delete(x, k)
					continue
				}
				x[k] = walk(k, x[k])
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(key, x[i])
			}
			return x
		case string:
			return norm(key, x)
		}
		return v
	}
	var b bytes.Buffer
	for _, ev := range evs {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		// run_id first, so a run's number is the order its events appear.
		if id, ok := m["run_id"].(string); ok {
			m["run_id"] = norm("run_id", id)
		}
		if byMember {
			delete(m, "event_index") // scheduling decides it
		}
		out, err := json.Marshal(walk("", m))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", ev.Event, out)
	}
	return b.Bytes()
}

func groupMembers(evs []core.Event) []core.Event {
	var head, tail []core.Event
	var order []string
	by := map[string][]core.Event{}
	for _, ev := range evs {
		switch {
		case ev.Forwarded():
			if _, ok := by[ev.AgentID]; !ok {
				order = append(order, ev.AgentID)
			}
			by[ev.AgentID] = append(by[ev.AgentID], ev)
		case len(order) == 0:
			head = append(head, ev)
		default:
			tail = append(tail, ev)
		}
	}
	slices.Sort(order)
	out := head
	for _, id := range order {
		out = append(out, by[id]...)
	}
	return append(out, tail...)
}

// golden compares frames with testdata/NAME.txtar (its "frames" file);
// -update rewrites it.
func golden(t *testing.T, name, comment string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name+".txtar")
	if *update {
		ar := &txtar.Archive{Comment: []byte(comment + "\n"), Files: []txtar.File{{Name: "frames", Data: got}}}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	for _, f := range ar.Files {
		if f.Name == "frames" {
			if !bytes.Equal(f.Data, got) {
				t.Fatalf("%s differs from the golden frames (run with -update if intended):\n%s", file, diff(string(f.Data), string(got)))
			}
			return
		}
	}
	t.Fatalf("%s has no frames file", file)
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i+1, a, b)
		}
	}
	return ""
}

// checkFidelity checks a team stream (all its segments, in order) for the
// points agno's users ask for: dense indices; the team's own events
// carry its ids; every TeamToolCallStarted has its TeamToolCallCompleted
// or TeamToolCallError; members' events are labelled with the member's
// agent_id and the parent_run_id, under agent names (never TeamRunContent).
func checkFidelity(t *testing.T, run *core.Run, evs []core.Event) {
	t.Helper()
	open := map[string]bool{}
	for i, ev := range evs {
		if ev.EventIndex != int64(i) {
			t.Fatalf("event %d has index %d: %v", i, ev.EventIndex, types(evs))
		}
		if !ev.Event.Valid() {
			t.Fatalf("event %d: unknown type %s", i, ev.Event)
		}
		if !ev.Forwarded() {
			if ev.RunID != run.RunID || ev.TeamID != run.TeamID || ev.AgentID != "" {
				t.Fatalf("team event %d not the team's: %+v", i, ev)
			}
			if ev.Base() != ev.Event && !strings.HasPrefix(string(ev.Event), "Team") {
				t.Fatalf("team event %d named %s", i, ev.Event)
			}
			switch ev.Event {
			case "TeamToolCallStarted":
				open[ev.Tool.ToolCallID] = true
			case "TeamToolCallCompleted", "TeamToolCallError":
				if !open[ev.Tool.ToolCallID] {
					t.Fatalf("event %d: %s of a tool call that never started", i, ev.Event)
				}
				delete(open, ev.Tool.ToolCallID)
			}
			continue
		}
		if ev.ParentRunID == "" || ev.RunID == run.RunID || ev.NestedDepth < 1 {
			t.Fatalf("member event %d not labelled: %+v", i, ev)
		}
		if ev.AgentID == "" && ev.TeamID == "" {
			t.Fatalf("member event %d names no member: %+v", i, ev)
		}
		if ev.AgentID != "" && strings.HasPrefix(string(ev.Event), "Team") {
			t.Fatalf("member %s's event %d is named %s", ev.AgentID, i, ev.Event)
		}
	}
	if len(open) > 0 {
		t.Fatalf("tool calls started and never completed: %v in %v", open, types(evs))
	}
}
