package agent

// Session summaries (agno's enable_session_summaries): after each run a
// model summarises the session so far, the summary is stored on the
// session (GET /sessions/{id}'s session_summary), and the run's stream
// carries SessionSummaryStarted and SessionSummaryCompleted.

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// SessionStore is what session summaries need of the sessions' store
// (core.RunStore has it): the summary so far. The new one is stored by the
// engine with the run's completion (Outcome.SessionSummary), after the
// session itself.
type SessionStore interface {
	GetSession(ctx context.Context, id string) (*core.Session, error)
}

// SummaryConfig turns session summaries on.
type SummaryConfig struct {
	Store SessionStore
	// Model writes the summaries (nil: the agent's).
	Model model.Model
}

// SessionSummarizerMarker is in the summariser's instructions, so a
// scripted model can tell its requests from the agent's.
const SessionSummarizerMarker = "You summarise conversations"

const summaryPrompt = SessionSummarizerMarker + ` between a user and an AI assistant. Write a concise summary of the whole conversation so far: what the user wants, the facts and decisions that matter, what is still open. Answer with the summary only, in plain text, at most a few sentences.`

// maxSummaryInput bounds the conversation text sent to the summariser.
const maxSummaryInput = 32 << 10

// summarise writes the session's summary after a run: the summary so far,
// the session's history and this run's messages go to the model. The
// model's failure does not fail the run (the completed event then has no
// summary); a failure to emit does.
func (a *Agent) summarise(ctx context.Context, x *core.Execution, own []core.Message) (*string, error) {
	sc := a.cfg.Summaries
	if sc == nil || x.Run == nil || x.Run.SessionID == "" {
		return nil, nil
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventSessionSummaryStarted}); err != nil {
		return nil, err
	}
	ev := core.Event{Event: core.EventSessionSummaryCompleted}
	text, ok := a.summary(ctx, sc, x, own)
	if ok {
		raw, _ := json.Marshal(map[string]any{"summary": text, "updated_at": time.Now().UTC().Format(time.RFC3339)})
		ev.Detail().SessionSummary = raw
	}
	if err := x.Emit(ctx, ev); err != nil || !ok {
		return nil, err
	}
	return &text, nil
}

// summary asks the model for the session's summary.
func (a *Agent) summary(ctx context.Context, sc *SummaryConfig, x *core.Execution, own []core.Message) (string, bool) {
	var conv strings.Builder
	if s, err := sc.Store.GetSession(ctx, x.Run.SessionID); err == nil && s.Summary != "" {
		conv.WriteString("Summary so far: " + s.Summary + "\n\n")
	}
	for _, m := range append(append([]core.Message(nil), x.History...), own...) {
		if (m.Role != "user" && m.Role != "assistant") || strings.TrimSpace(m.Content) == "" {
			continue
		}
		conv.WriteString(m.Role + ": " + m.Content + "\n")
	}
	text := conv.String()
	if len(text) > maxSummaryInput { // keep the latest part
		text = strings.ToValidUTF8(text[len(text)-maxSummaryInput:], "")
	}
	m := sc.Model
	if m == nil {
		m = a.cfg.Model
	}
	resp, err := m.Generate(ctx, model.Request{Messages: []core.Message{
		{Role: "system", Content: summaryPrompt},
		{Role: "user", Content: text},
	}}, func(model.Delta) error { return nil })
	if err != nil {
		return "", false
	}
	out := strings.TrimSpace(resp.Content)
	return out, out != ""
}
