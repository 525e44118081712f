package testutil

import (
	"context"
	"strings"
	"sync"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// Deltas records the deltas a model streams (model.Model.Generate's
// onDelta). It is safe for concurrent use.
type Deltas struct {
	mu   sync.Mutex
	list []model.Delta
}

// On records d; pass it as onDelta.
func (d *Deltas) On(x model.Delta) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, x)
	return nil
}

// List returns the recorded deltas in order.
func (d *Deltas) List() []model.Delta {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]model.Delta(nil), d.list...)
}

// Text returns the recorded content and reasoning, joined, and how many
// deltas there were.
func (d *Deltas) Text() (content, reasoning string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c, r strings.Builder
	for _, x := range d.list {
		c.WriteString(x.Content)
		r.WriteString(x.Reasoning)
	}
	return c.String(), r.String(), len(d.list)
}

// Execute runs agent a on message outside any engine, recording the events
// it emits, and returns its outcome and those events.
func Execute(ctx context.Context, a core.Agent, message string) (*core.Outcome, []core.Event, error) {
	var (
		mu     sync.Mutex
		events []core.Event
	)
	x := &core.Execution{
		Run:     &core.Run{RunID: "run-1", SessionID: "session-1", AgentID: a.Info().ID, Status: core.RunRunning},
		Message: message,
		Emit: func(_ context.Context, ev core.Event) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
			return nil
		},
	}
	out, err := a.Execute(ctx, x)
	mu.Lock()
	defer mu.Unlock()
	return out, append([]core.Event(nil), events...), err
}
