package workflow

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestNewRefusesBadDefinitions(t *testing.T) {
	t.Parallel()
	fn := Func("f", nil)
	known := Options{Known: func(k core.Kind, id string) bool { return id == "ok" }}
	cases := []struct {
		name string
		step Step
		want string
	}{
		{"no target", Step{Name: "s"}, "exactly one of an agent, a team or a function"},
		{"two targets", Step{Name: "s", Agent: "ok", Team: "ok"}, "exactly one"},
		{"unknown agent", Step{Name: "s", Agent: "ghost"}, `step s: agent "ghost" is not declared`},
		{"unknown team", Step{Name: "s", Team: "ghost"}, `team "ghost" is not declared`},
		{"function without body", Step{Name: "s", Func: fn}, `function "f" has no body`},
		{"bad condition", Step{Name: "c", Type: TypeCondition, Condition: "input ==", Steps: []Step{{Name: "a", Agent: "ok"}}}, "step c: invalid expression"},
		{"non-bool condition", Step{Name: "c", Type: TypeCondition, Condition: "input", Steps: []Step{{Name: "a", Agent: "ok"}}}, "invalid expression"},
		{"unknown variable", Step{Name: "c", Type: TypeCondition, Condition: "nope > 1", Steps: []Step{{Name: "a", Agent: "ok"}}}, "unknown name nope"},
		{"router without routes", Step{Name: "r", Type: TypeRouter, Selector: `"a"`}, "a router needs choices"},
		{"router naming a missing choice", Step{Name: "r", Type: TypeRouter, Selector: `input == "x" ? "a" : "zz"`, Choices: []Step{{Name: "a", Agent: "ok"}}}, `the selector names "zz"`},
		{"nested unknown agent", Step{Name: "p", Type: TypeParallel, Steps: []Step{{Name: "inner", Agent: "ghost"}}}, "step p/inner: agent"},
		{"empty group", Step{Name: "g", Type: TypeSteps}, "a steps step needs steps"},
		{"unknown type", Step{Name: "x", Type: "dance"}, `unknown step type "dance"`},
		{"bad on_error", Step{Name: "s", Agent: "ok", OnError: "explode"}, "on_error must be"},
		{"user input without schema", Step{Name: "s", Agent: "ok", RequiresUserInput: true}, "needs a user_input_schema"},
		{"bad loop end", Step{Name: "l", Type: TypeLoop, EndCondition: "((", Steps: []Step{{Name: "a", Agent: "ok"}}}, "step l: invalid expression"},
		{"router with selector and agent", Step{Name: "r", Type: TypeRouter, Selector: `"a"`, Agent: "ok", Choices: []Step{{Name: "a", Agent: "ok"}}}, "not both"},
		{"router with unknown agent", Step{Name: "r", Type: TypeRouter, Agent: "ghost", Choices: []Step{{Name: "a", Agent: "ok"}}}, `agent "ghost" is not declared`},
		{"bad input", Step{Name: "s", Agent: "ok", Input: "1 + 1"}, "invalid expression"},
	}
	for _, c := range cases {
		_, err := New(Definition{ID: "wf", Steps: []Step{c.step}}, known)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "workflow wf") {
			t.Errorf("%s: err = %v, want it to name the workflow and contain %q", c.name, err, c.want)
		}
	}
	if _, err := New(Definition{ID: "wf", Steps: []Step{{Name: "a", Agent: "ok"}, {Name: "a", Agent: "ok"}}}, known); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("duplicate names: %v", err)
	}
	if _, err := New(Definition{ID: "wf"}, known); err == nil {
		t.Error("a workflow without steps was accepted")
	}
	if _, err := New(Definition{ID: "wf", Steps: []Step{{Name: "r", Type: TypeRouter, Selector: `input == "x" ? "a" : "b"`,
		Choices: []Step{{Name: "a", Agent: "ok"}, {Name: "b", Agent: "ok"}}}}}, known); err != nil {
		t.Errorf("a good router was refused: %v", err)
	}
}
