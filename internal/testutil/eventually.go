package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond until it reports true and fails the test if it
// has not within the given time: tests wait for a condition with a
// deadline, never a bare sleep.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
