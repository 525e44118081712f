//go:build race

package testutil

// RaceEnabled reports whether the race detector is on: it changes what
// allocates (sync.Pool drops items at random under it), so allocation
// bounds are only asserted without it.
const RaceEnabled = true
