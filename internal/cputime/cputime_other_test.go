//go:build !unix

package cputime_test

import (
	"testing"

	"github.com/agentgate/agentgate/internal/cputime"
)

// Without getrusage the CPU time is reported as unreadable, not as zero
// work.
func TestProcessUnreadable(t *testing.T) {
	if d, ok := cputime.Process(); ok || d != 0 {
		t.Fatalf("Process() = %v, %v; want 0, false", d, ok)
	}
}
