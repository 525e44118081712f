package agentgate

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

const workflowBase = `
models:
  m: {provider: scripted}
agents:
  - {id: writer, model: m}
teams:
  - {id: some-team, mode: broadcast, members: [writer]}
workflows:
`

func TestConfigWorkflowValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"ok", `
  - id: wf
    steps:
      - {name: a, agent: writer}
      - name: p
        type: parallel
        steps: [{name: x, agent: writer}, {name: y, function: echo}, {name: z, team: some-team}]
      - {name: c, type: condition, condition: 'input contains "go"', steps: [{name: j, function: join}]}
      - {name: l, type: loop, max_iterations: 2, end_condition: 'iteration >= 1', steps: [{name: e, function: echo}]}
      - {name: r, type: router, selector: 'input == "a" ? "one" : "two"', choices: [{name: one, agent: writer}, {name: two, function: echo}]}
`, ""},
		{"unknown agent", `
  - id: wf
    steps: [{name: ask, agent: ghost}]
`, `workflows[0]: workflow wf: step ask: agent "ghost" is not declared (line 9)`},
		{"unknown team", `
  - id: wf
    steps: [{name: crew, team: ghost-team}]
`, `workflows[0]: workflow wf: step crew: team "ghost-team" is not declared`},
		{"unknown function", `
  - id: wf
    steps: [{name: p, type: steps, steps: [{name: fn, function: nope}]}]
`, `workflow wf: step p/fn: function "nope" is not a built-in workflow function (echo, join)`},
		{"no target", `
  - id: wf
    steps: [{name: s}]
`, "workflow wf: step s: a step runs exactly one of an agent, a team or a function"},
		{"router naming a missing step", `
  - id: wf
    steps: [{name: r, type: router, selector: '"missing"', choices: [{name: one, agent: writer}]}]
`, `workflow wf: step r: the selector names "missing", which is not one of its choices`},
		{"router with no routes", `
  - id: wf
    steps: [{name: r, type: router, selector: '"one"'}]
`, "workflow wf: step r: a router needs choices"},
		{"invalid expression", `
  - id: wf
    steps: [{name: c, type: condition, condition: 'input contains', steps: [{name: e, function: echo}]}]
`, "workflow wf: step c: invalid expression"},
		{"invalid loop expression", `
  - id: wf
    steps: [{name: l, type: loop, end_condition: 'iteration >=', steps: [{name: e, function: echo}]}]
`, "workflow wf: step l: invalid expression"},
		{"duplicate id", `
  - {id: wf, steps: [{name: e, function: echo}]}
  - {id: wf, steps: [{name: e, function: echo}]}
`, `workflows[1]: id "wf" is used twice`},
		{"no id", `
  - steps: [{name: e, function: echo}]
`, "workflows[0]: id is required"},
		{"no steps", `
  - id: wf
`, "workflow wf: it has no steps"},
		{"bad on_error", `
  - id: wf
    steps: [{name: e, function: echo, on_error: maybe}]
`, "on_error must be fail, skip or continue"},
	}
	for _, c := range cases {
		cfg, err := ParseConfig([]byte(workflowBase + strings.TrimPrefix(c.yaml, "\n")))
		if err != nil {
			t.Fatalf("%s: parse: %v", c.name, err)
		}
		cfg.applyDefaults()
		err = cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestConfigWorkflowUnknownKeyIsRefused(t *testing.T) {
	t.Parallel()
	_, err := ParseConfig([]byte(workflowBase + "  - {id: wf, steps: [{name: e, function: echo, agnet: writer}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "agnet") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmbeddedConfigHasTheDemoWorkflow(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Workflows) != 1 || cfg.Workflows[0].ID != "content-pipeline" {
		t.Fatalf("workflows = %+v", cfg.Workflows)
	}
}

// TestReadmeWorkflowSnippet: the README's workflow example is a valid
// config over the embedded default's agents.
func TestReadmeWorkflowSnippet(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Workflows\n.*?```yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("no yaml block under \"Workflows\" in README.md")
	}
	base := "models: {demo: {provider: scripted}}\nagents: [{id: assistant, model: demo}]\n"
	cfg, err := ParseConfig(append([]byte(base), m[1]...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Workflows) != 1 || len(cfg.Workflows[0].Steps) != 5 {
		t.Fatalf("workflows = %+v", cfg.Workflows)
	}
}
