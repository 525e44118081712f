package mediatest

import (
	"context"
	"slices"
	"sync"

	"github.com/agentgate/agentgate/core"
)

// ReadAgent is an agent ("reader") that reads every medium of its run's
// input from the media store (up to 1 MiB each) and answers "read"; Got
// lists the bytes it read. The interfaces' tests use it to show a run has
// its media.
type ReadAgent struct {
	mu  sync.Mutex
	got []string
}

// Info implements core.Agent.
func (a *ReadAgent) Info() core.AgentInfo { return core.AgentInfo{ID: "reader", Name: "reader"} }

// Execute implements core.Agent.
func (a *ReadAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	for _, m := range x.Run.Input.Media() {
		b, err := core.ReadMedia(ctx, x.Media, m.ID, 1<<20)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.got = append(a.got, string(b))
		a.mu.Unlock()
	}
	return &core.Outcome{Content: "read"}, nil
}

// Got returns the bytes of each medium read so far, in order.
func (a *ReadAgent) Got() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}
