// Package testutil holds small helpers shared by tests: golden-file diffs
// for the adapters and the end-to-end suite, and recorders for model and
// agent tests (Deltas, Execute), and Eventually, the one wait-for-a-condition
// helper.
package testutil

import (
	"fmt"
	"strings"
)

// LineDiff shows the first lines (up to eight) where want and got differ,
// for golden-file failures.
func LineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w == g {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, w, g)
		if shown++; shown >= 8 {
			b.WriteString("  …\n")
			break
		}
	}
	return b.String()
}
