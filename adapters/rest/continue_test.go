package rest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestParseKindContinueForm(t *testing.T) {
	const ct = "application/x-www-form-urlencoded"
	f, err := ParseKindContinueForm(core.KindWorkflow, ct,
		[]byte(`step_requirements=[{"step_id":"s1","confirmed":false,"confirmation_note":"no"},{"requirement_id":"r2","step_id":"s2","confirmed":true,"user_input":{"channel":"blog"}}]&stream=false`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.decisions(&core.Run{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || d[0].ToolCallID != "s1" || *d[0].Confirmed || d[0].ConfirmationNote != "no" ||
		d[1].ToolCallID != "s2" || !*d[1].Confirmed || len(d[1].UserInputSchema) != 1 ||
		d[1].UserInputSchema[0] != (core.UserInputField{Name: "channel", Value: "blog"}) || f.Stream {
		t.Errorf("step decisions = %+v (stream %v)", d, f.Stream)
	}
	// tools still work for every kind; each kind names what it misses.
	for _, k := range []core.Kind{core.KindAgent, core.KindTeam, core.KindWorkflow} {
		f, err := ParseKindContinueForm(k, ct, []byte(`tools=[{"tool_call_id":"c1","confirmed":true}]`))
		if err != nil || len(f.Tools) != 1 {
			t.Errorf("%s with tools: %+v, %v", k, f, err)
		}
	}
	for k, body := range map[core.Kind]string{
		core.KindAgent: "stream=true", core.KindTeam: "stream=true", core.KindWorkflow: "stream=true",
	} {
		if _, err := ParseKindContinueForm(k, ct, []byte(body)); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("%s without decisions: %v, want invalid", k, err)
		}
	}
	for _, body := range []string{`requirements=[1]`, `requirements={}`} {
		if _, err := ParseKindContinueForm(core.KindTeam, ct, []byte(body)); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("team %s: %v, want invalid", body, err)
		}
	}
}

func TestStepDecisionsOfExecutorsAndSchemas(t *testing.T) {
	yes := true
	d, err := stepDecisions([]StepDecision{
		{RequirementID: "r1", Confirmed: &yes, UserInputSchema: []core.UserInputField{{Name: "a", Value: "x"}, {Name: "b"}}},
		{StepID: "s2", ExecutorRequirements: []core.RunRequirement{{Confirmation: &yes, ToolExecution: &core.ToolExecution{ToolCallID: "c9"}}}},
	})
	if err != nil || len(d) != 2 || d[0].ToolCallID != "r1" || len(d[0].UserInputSchema) != 1 || d[0].UserInputSchema[0].Name != "a" ||
		d[1].ToolCallID != "c9" || !*d[1].Confirmed {
		t.Fatalf("decisions = %+v, %v", d, err)
	}
	if _, err := stepDecisions([]StepDecision{{StepID: "s", ExecutorRequirements: []core.RunRequirement{{ID: "q"}}}}); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("executor requirement without a tool call: %v", err)
	}
}

func TestRequirementDecisions(t *testing.T) {
	yes, result := true, "42"
	run := &core.Run{Requirements: []core.RunRequirement{
		{ID: "q1", MemberAgentID: "hitl", MemberRunID: "m1", ToolExecution: &core.ToolExecution{ToolCallID: "c1"}},
		{ID: "q2", MemberAgentID: "ext", MemberRunID: "m2", ToolExecution: &core.ToolExecution{ToolCallID: "c2"}},
	}}
	d, err := requirementDecisions(run, []core.RunRequirement{
		{MemberAgentID: "hitl", Confirmation: &yes, ConfirmationNote: "ok", ToolExecution: &core.ToolExecution{ToolCallID: "c1"}},
		{MemberRunID: "m2", ExternalExecutionResult: &result, ToolExecution: &core.ToolExecution{ToolCallID: "c2"}},
	})
	if err != nil || len(d) != 2 || !*d[0].Confirmed || d[0].ConfirmationNote != "ok" || d[1].Result != "42" {
		t.Fatalf("decisions = %+v, %v", d, err)
	}
	for _, bad := range []core.RunRequirement{
		{ToolExecution: &core.ToolExecution{ToolCallID: "c1"}, MemberAgentID: "ext"},
		{ToolExecution: &core.ToolExecution{ToolCallID: "c2"}, MemberRunID: "m1"},
		{ID: "q1"},
	} {
		if _, err := requirementDecisions(run, []core.RunRequirement{bad}); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("requirement %+v: %v, want invalid", bad, err)
		}
	}
}

func FuzzKindContinueForm(f *testing.F) {
	f.Add(false, "application/x-www-form-urlencoded", []byte(`requirements=[{"tool_execution":{"tool_call_id":"c"},"confirmation":true}]`))
	f.Add(true, "application/json", []byte(`{"step_requirements":[{"step_id":"s","confirmed":true,"user_input":{"a":1}}]}`))
	f.Add(true, "application/json", []byte(`{"step_requirements":[{"executor_requirements":[{"id":"q"}]}]}`))
	f.Fuzz(func(t *testing.T, workflow bool, ct string, body []byte) {
		k := core.KindTeam
		if workflow {
			k = core.KindWorkflow
		}
		form, err := ParseKindContinueForm(k, ct, body)
		if err != nil {
			if core.CodeOf(err) != core.CodeInvalid {
				t.Fatalf("error of code %s: %v", core.CodeOf(err), err)
			}
			return
		}
		run := &core.Run{Requirements: []core.RunRequirement{{ToolExecution: &core.ToolExecution{ToolCallID: "c"}, MemberAgentID: "m"}}}
		if _, err := form.decisions(run); err != nil && core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("decisions: error of code %s: %v", core.CodeOf(err), err)
		}
	})
}
