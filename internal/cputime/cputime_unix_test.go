//go:build unix

package cputime_test

import (
	"testing"

	"github.com/agentgate/agentgate/internal/cputime"
)

// The CPU time moves forward while the process computes.
func TestProcessMoves(t *testing.T) {
	c0, ok := cputime.Process()
	if !ok {
		t.Fatal("getrusage failed")
	}
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i ^ (x >> 3)
	}
	c1, _ := cputime.Process()
	if c1 <= c0 {
		t.Fatalf("CPU time %v then %v after a busy loop (%d)", c0, c1, x)
	}
}
