package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// WaitRunStatus waits until the engine reports run runID with status want
// and returns the run; it fails the test, naming the last status seen, if
// that has not happened within the given time.
func WaitRunStatus(t testing.TB, eng *core.Engine, runID string, want core.RunStatus, within time.Duration) *core.Run {
	t.Helper()
	var (
		r   *core.Run
		err error
	)
	Eventually(t, within, "run "+runID+" to be "+string(want), func() bool {
		r, err = eng.Get(context.Background(), runID)
		return err == nil && r.Status == want
	})
	return r
}
