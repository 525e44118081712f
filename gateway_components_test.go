package agentgate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
)

const componentTestConfig = `
models:
  m: {provider: scripted}
agents:
  - id: file-agent
    model: m
`

func componentTestChecker(t testing.TB) componentChecker {
	cfg, err := ParseConfig([]byte(componentTestConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.applyDefaults()
	return componentChecker{&Gateway{cfg: cfg}}
}

// TestComponentCheck: a component's config is the config file's entry,
// checked by Config.Validate with the same field paths; a wrong id, an
// unknown field and a bad type are 422.
func TestComponentCheck(t *testing.T) {
	t.Parallel()
	c := componentTestChecker(t)
	for _, tc := range []struct {
		typ    string
		config string
		want   string // "" = valid
	}{
		{component.TypeAgent, `{"model": "m", "tools": ["calculator"], "max_turns": 3}`, ""},
		{component.TypeAgent, `{"model": "nope"}`, `agents[0] (comp): model "nope" is not declared under models`},
		{component.TypeAgent, `{"model": "m", "tools": ["nope"]}`, `agents[0] (comp): unknown tool "nope"`},
		{component.TypeAgent, `{"model": "m", "colour": "red"}`, `unknown field "colour"`},
		{component.TypeAgent, `{"model": "m", "max_turns": "many"}`, `cannot unmarshal string`},
		{component.TypeAgent, `{"model": "m", "id": "other"}`, `is not the component's id`},
		{component.TypeTeam, `{"mode": "broadcast", "members": ["file-agent"]}`, ""},
		{component.TypeTeam, `{"mode": "route", "members": ["ghost"], "model": "m"}`, `unknown member "ghost"`},
		{component.TypeWorkflow, `{"steps": [{"name": "s", "agent": "file-agent"}]}`, ""},
		{component.TypeWorkflow, `{"steps": [{"name": "s", "agent": "ghost"}]}`, `workflows[0]`},
		{"robot", `{}`, `component_type`},
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(tc.config), &m); err != nil {
			t.Fatal(err)
		}
		err := c.Check(tc.typ, "comp", m)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v, want valid", tc.typ, tc.config, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || core.CodeOf(err) != core.CodeUnprocessable):
			t.Errorf("%s %s: %v (%s), want 422 with %q", tc.typ, tc.config, err, core.CodeOf(err), tc.want)
		}
	}
}

// FuzzComponentCheck: any JSON object as any type's config is valid or a
// 422, never a panic.
func FuzzComponentCheck(f *testing.F) {
	for _, s := range []string{`{"model": "m"}`, `{"mode": "broadcast", "members": ["file-agent"]}`,
		`{"steps": [{"name": "s", "agent": "file-agent"}]}`, `{"tools": [{"mcp_server": "x"}]}`, `{"remote": {"a2a": "http://x"}}`,
		`{"steps": [{"name": "l", "loop": {"steps": [], "max_iterations": -1}}]}`} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	c := componentTestChecker(f)
	types := []string{component.TypeAgent, component.TypeTeam, component.TypeWorkflow}
	f.Fuzz(func(t *testing.T, config string, typ uint8) {
		var m map[string]any
		if json.Unmarshal([]byte(config), &m) != nil || m == nil {
			return
		}
		if err := c.Check(types[int(typ)%3], "fuzzed", m); err != nil && core.CodeOf(err) != core.CodeUnprocessable {
			t.Fatalf("%s: %v (%s), want 422", config, err, core.CodeOf(err))
		}
	})
}
