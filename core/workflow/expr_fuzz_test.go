package workflow

import (
	"testing"
)

// FuzzCondition compiles and evaluates arbitrary condition and selector
// sources: either is an error or a value, never a panic or a hang.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		`input contains "publish"`, `len(steps["draft"].content) > 3`, `iteration >= 2 || previous == ""`,
		`steps["x"].success`, `session_state.flag == true`, `1 +`, `"a" ? "b" : "c"`, `[1, 2`, `user_input.k`,
		`repeat("a", 1000000000)`, `filter(1..100000000, # > 0)`, `input matches "(a+)+$"`,
	} {
		f.Add(s)
	}
	env := Env{Input: "publish this", Previous: "prev", Iteration: 2,
		Steps:        map[string]StepView{"draft": {Content: "hello", Success: true}},
		SessionState: map[string]any{"flag": true}, UserInput: map[string]any{"k": "v"}}
	f.Fuzz(func(t *testing.T, src string) {
		if c, err := CompileCondition(src); err == nil {
			if c.String() != src {
				t.Fatalf("source %q kept as %q", src, c.String())
			}
			_, _ = c.Bool(env)
		}
		if s, err := compileExpr(src, choiceExpr); err == nil {
			_ = s.literalChoices()
			_, _ = s.Choices(env)
		}
	})
}
