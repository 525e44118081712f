package workflow

import (
	"context"
	"maps"
	"slices"
	"strings"
)

// Builtins are the functions a configured (YAML) workflow's steps can
// run by name: echo (the step's input, unchanged) and join (every earlier
// step's output, under its name, by name).
func Builtins() map[string]*Function {
	return map[string]*Function{
		"echo": Func("echo", func(_ context.Context, in StepInput) (StepOutput, error) {
			return StepOutput{Content: in.Message}, nil
		}),
		"join": Func("join", func(_ context.Context, in StepInput) (StepOutput, error) {
			var parts []string
			for _, name := range slices.Sorted(maps.Keys(in.Previous)) {
				if r := in.Previous[name]; !r.Skipped && r.Content != "" && len(r.Steps) == 0 {
					parts = append(parts, "## "+name+"\n"+r.Content)
				}
			}
			return StepOutput{Content: strings.Join(parts, "\n\n")}, nil
		}),
	}
}
