package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/google/uuid"
)

// parallel declares a parallel subtest.
func parallel(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t)
	})
}

func newID(prefix string) string { return prefix + "-" + uuid.NewString() }

func ptr[T any](v T) *T { return &v }

// baseTime is a fixed past second, so tests that order by time do not
// depend on the clock; each test offsets from it.
func baseTime() int64 { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).Unix() }

// --- fixtures ---------------------------------------------------------------

// fullSession returns a session with every field set.
func fullSession(userID string) *core.Session {
	now := baseTime()
	return &core.Session{
		SessionID:   newID("sess"),
		SessionName: `Trip to Paris — 'quotes' "and" ünïcode 👋; DROP TABLE sessions; --`,
		SessionType: core.SessionAgent,
		UserID:      userID,
		AgentID:     newID("agent"),
		TeamID:      newID("team"),
		WorkflowID:  newID("wf"),
		SessionState: map[string]any{
			"counter": float64(3),
			"ratio":   0.25,
			"flag":    false,
			"name":    "x",
			"nested":  map[string]any{"list": []any{"a", float64(1), true, nil}, "empty": map[string]any{}},
			"none":    nil,
		},
		Metadata:  map[string]any{"source": "storetest", "tags": []any{"x", "y"}},
		Summary:   "A summary\nwith a newline and a tab\t.",
		CreatedAt: now - 100,
		UpdatedAt: now - 50,
	}
}

// minimalSession returns a session with only the required fields set.
func minimalSession() *core.Session {
	return &core.Session{
		SessionID:   newID("sess"),
		SessionType: core.SessionAgent,
		CreatedAt:   baseTime(),
		UpdatedAt:   baseTime(),
	}
}

func sampleMessages(now int64) []core.Message {
	return []core.Message{
		{Role: "system", Content: "You are helpful.", CreatedAt: now},
		{Role: "user", Content: "Weather in Paris and Berlin? Ünïcode 👋 \"quoted\"", CreatedAt: now},
		{Role: "assistant", Content: "", CreatedAt: now + 1, ToolCalls: []core.ToolCall{
			{ID: "call_1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris","days":3,"units":{"temp":"C"}}`)},
			{ID: "call_2", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Berlin","days":1}`)},
		}},
		{Role: "tool", Content: "sunny, 24C", ToolCallID: "call_1", Name: "get_weather", CreatedAt: now + 2},
		{Role: "tool", Content: "rain", ToolCallID: "call_2", Name: "get_weather", CreatedAt: now + 2},
		{Role: "assistant", Content: "Paris: sunny. Berlin: rain.", CreatedAt: now + 3},
	}
}

func sampleTools(now int64) []core.ToolExecution {
	return []core.ToolExecution{
		{
			ToolCallID: "call_1", ToolName: "get_weather",
			ToolArgs:  json.RawMessage(`{"city":"Paris","days":3}`),
			Result:    "sunny, 24C",
			Metrics:   &core.ToolMetrics{StartTime: float64(now) + 0.5, EndTime: float64(now) + 1.75, Duration: 1.25},
			CreatedAt: now, RequiresConfirmation: true, Confirmed: ptr(true),
			ConfirmationNote: "ok, go ahead",
		},
		{
			ToolCallID: "call_2", ToolName: "get_weather",
			ToolArgs:      json.RawMessage(`{"city":"Berlin"}`),
			ToolCallError: true, Result: "upstream timeout", StopAfterToolCall: true,
			CreatedAt: now + 1, RequiresConfirmation: true, Confirmed: ptr(false),
			ConfirmationNote: "not this one",
		},
		{ToolCallID: "call_3", ToolName: "current_time", CreatedAt: now + 2},
	}
}

func sampleRequirements(now int64) []core.RunRequirement {
	return []core.RunRequirement{
		{
			ID: "req_1", CreatedAt: now,
			ToolExecution: &core.ToolExecution{
				ToolCallID: "call_9", ToolName: "delete_file",
				ToolArgs:             json.RawMessage(`{"path":"/tmp/x"}`),
				RequiresConfirmation: true, CreatedAt: now,
			},
		},
		{
			ID: "req_2", CreatedAt: now + 1,
			ToolExecution: &core.ToolExecution{
				ToolCallID: "call_10", ToolName: "send_mail",
				RequiresConfirmation: true, Confirmed: ptr(false), CreatedAt: now + 1,
			},
			Confirmation: ptr(false), ConfirmationNote: "do not send",
		},
		{ID: "req_3", CreatedAt: now + 2, Confirmation: ptr(true)},
	}
}

func samplePaused(now int64) *core.PausedState {
	return &core.PausedState{
		Messages: sampleMessages(now)[:3],
		Pending: []core.ToolExecution{
			{
				ToolCallID: "call_1", ToolName: "get_weather",
				ToolArgs:             json.RawMessage(`{"city":"Paris","days":3}`),
				RequiresConfirmation: true, CreatedAt: now,
			},
			{
				ToolCallID: "call_4", ToolName: "book_hotel",
				ToolArgs:             json.RawMessage(`{"nights":2}`),
				RequiresConfirmation: true, Confirmed: ptr(false), ConfirmationNote: "too expensive",
				CreatedAt: now,
			},
		},
		Done: []core.ToolExecution{{
			ToolCallID: "call_2", ToolName: "get_weather", Result: "rain", Confirmed: ptr(true),
			Metrics: &core.ToolMetrics{StartTime: float64(now), EndTime: float64(now) + 0.125, Duration: 0.125},
		}},
		Turns: 2,
	}
}

// fullRun returns a run of sessionID with every field set, Paused included
// (CancelRequested excepted: it is sticky, see the CancelIntent tests).
func fullRun(sessionID string) *core.Run {
	now := baseTime()
	return &core.Run{
		RunID:         newID("run"),
		SessionID:     sessionID,
		AgentID:       newID("agent"),
		AgentName:     "Helper",
		UserID:        newID("user"),
		Status:        core.RunPaused,
		Input:         core.RunInput{InputContent: "Weather in Paris and Berlin?\nThanks 👋"},
		Content:       "Paris: sunny. 'Berlin': \"rain\".",
		ContentType:   "str",
		Model:         "gpt-4o-mini",
		ModelProvider: "openai",
		Messages:      sampleMessages(now),
		Tools:         sampleTools(now),
		Requirements:  sampleRequirements(now),
		Metrics: &core.Metrics{
			InputTokens: 1234, OutputTokens: 56, TotalTokens: 1290,
			TimeToFirstToken: 0.3125, Duration: 2.5,
		},
		Error:      "tool get_weather failed",
		ErrorType:  "tool_error",
		Background: true,
		EventCount: 42,
		Paused:     samplePaused(now),
		CreatedAt:  now,
		UpdatedAt:  now + 7,
	}
}

// minimalRun returns a run with only the fields the engine always sets.
func minimalRun(sessionID string) *core.Run {
	return &core.Run{
		RunID:     newID("run"),
		SessionID: sessionID,
		AgentID:   "assistant",
		Status:    core.RunPending,
		Input:     core.RunInput{InputContent: "hi"},
		CreatedAt: baseTime(),
		UpdatedAt: baseTime(),
	}
}

// cloneRun deep-copies r through JSON (Paused included). It is safe to
// call from any goroutine.
func cloneRun(r *core.Run) *core.Run {
	var c core.Run
	mustRoundTrip(r, &c)
	c.LeaseOwner, c.LeaseUntil = r.LeaseOwner, r.LeaseUntil
	if r.Paused != nil {
		c.Paused = new(core.PausedState)
		mustRoundTrip(r.Paused, c.Paused)
	}
	return &c
}

func mustRoundTrip(from, to any) {
	b, err := json.Marshal(from)
	if err == nil {
		err = json.Unmarshal(b, to)
	}
	if err != nil {
		panic(fmt.Sprintf("storetest: copy %T: %v", from, err))
	}
}

// --- store helpers ----------------------------------------------------------

func mustCreateSession(t *testing.T, s core.RunStore, sess *core.Session) *core.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.SessionID, err)
	}
	return sess
}

func mustCreateRun(t *testing.T, s core.RunStore, r *core.Run) *core.Run {
	t.Helper()
	if err := s.CreateRun(t.Context(), r); err != nil {
		t.Fatalf("CreateRun(%s): %v", r.RunID, err)
	}
	return r
}

func mustGetRun(t *testing.T, s core.RunStore, id string) *core.Run {
	t.Helper()
	r, err := s.GetRun(t.Context(), id)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", id, err)
	}
	return r
}

func mustGetSession(t *testing.T, s core.RunStore, id string) *core.Session {
	t.Helper()
	sess, err := s.GetSession(t.Context(), id)
	if err != nil {
		t.Fatalf("GetSession(%s): %v", id, err)
	}
	return sess
}

// --- assertions -------------------------------------------------------------

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, target)
	}
}

// assertRun checks that got equals want field by field, Paused included.
// Equality is semantic JSON equality: backends may re-encode JSON (key
// order, whitespace of raw tool arguments, a nil raw message read back as
// null) and may not tell a nil slice or map from an empty one, but every
// value, and the difference between a nil and a false *bool, must survive.
func assertRun(t *testing.T, want, got *core.Run) {
	t.Helper()
	if got == nil {
		t.Fatalf("run %s: got nil", want.RunID)
	}
	assertJSONEqual(t, "run "+want.RunID, want, got)
	if want.LeaseOwner != got.LeaseOwner || want.LeaseUntil != got.LeaseUntil {
		t.Fatalf("run %s: lease %q until %d, want %q until %d", want.RunID, got.LeaseOwner, got.LeaseUntil, want.LeaseOwner, want.LeaseUntil)
	}
	if (want.Paused == nil) != (got.Paused == nil) {
		t.Fatalf("run %s: Paused: want nil=%v, got nil=%v", want.RunID, want.Paused == nil, got.Paused == nil)
	}
	if want.Paused != nil {
		assertJSONEqual(t, "run "+want.RunID+" Paused", want.Paused, got.Paused)
	}
}

func assertSession(t *testing.T, want, got *core.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("session %s: got nil", want.SessionID)
	}
	assertJSONEqual(t, "session "+want.SessionID, want, got)
}

func assertJSONEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	w, g := canonical(t, want), canonical(t, got)
	if reflect.DeepEqual(w, g) {
		return
	}
	wm, wok := w.(map[string]any)
	gm, gok := g.(map[string]any)
	if !wok || !gok {
		t.Fatalf("%s differs:\nwant %s\n got %s", what, compact(w), compact(g))
	}
	keys := map[string]bool{}
	for k := range wm {
		keys[k] = true
	}
	for k := range gm {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		if !reflect.DeepEqual(wm[k], gm[k]) {
			fmt.Fprintf(&b, "\n  %s:\n    want %s\n     got %s", k, compact(wm[k]), compact(gm[k]))
		}
	}
	t.Fatalf("%s differs in:%s", what, b.String())
}

// canonical turns v into generic JSON values (maps, slices, float64...), so
// comparisons ignore key order, whitespace and other encoding details.
func canonical(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func sessionIDs(ss []*core.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.SessionID
	}
	return out
}

func runIDs(rs []*core.Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RunID
	}
	return out
}

func assertIDs(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s:\nwant %v\n got %v", what, want, got)
	}
}
