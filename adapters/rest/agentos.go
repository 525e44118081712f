package rest

import (
	"slices"

	"github.com/agentgate/agentgate/core"
)

// RunSchema is a run as AgentOS lists it (agno os/schema.py RunSchema):
// the stored run plus run_input, the user's message, and
// run_response_format. Both are there from the run's start: agno's Agent
// UI lists a session's runs during its first run and shows run_input as
// the user's message.
type RunSchema struct {
	*core.Run
	RunInput          string `json:"run_input"`
	RunResponseFormat string `json:"run_response_format"`
}

func runSchema(r *core.Run) RunSchema {
	format := "text"
	if r.ContentType != "" && r.ContentType != "str" {
		format = "json"
	}
	return RunSchema{Run: runOutput(r), RunInput: r.Input.InputContent, RunResponseFormat: format}
}

func runSchemas(runs []*core.Run) []RunSchema {
	out := make([]RunSchema, 0, len(runs))
	for _, r := range runs {
		out = append(out, runSchema(r))
	}
	return out
}

// runOutput is the run as agno's RunOutput carries it. A paused run lists
// the tool calls it waits for among its tools (the client sends them back,
// decided, to continue) and says in its content what it waits for; the
// store keeps them only as requirements.
func runOutput(r *core.Run) *core.Run {
	r = withMediaURLs(r)
	if r.Status != core.RunPaused || len(r.Requirements) == 0 {
		return r
	}
	out := *r
	out.Tools = slices.Clone(r.Tools)
	for _, req := range r.Requirements {
		t := req.ToolExecution
		if t == nil || slices.ContainsFunc(out.Tools, func(x core.ToolExecution) bool { return x.ToolCallID == t.ToolCallID }) {
			continue
		}
		out.Tools = append(out.Tools, *t)
	}
	if out.Content == "" {
		out.Content = pausedContent(r.Requirements)
	}
	return &out
}

// pausedContent says what a paused run needs, in AgentOS's words.
func pausedContent(reqs []core.RunRequirement) string {
	var confirm, input, external bool
	for _, req := range reqs {
		if t := req.ToolExecution; t != nil {
			confirm = confirm || (t.RequiresConfirmation && t.Confirmed == nil)
			input = input || t.RequiresUserInput
			external = external || t.ExternalExecutionRequired
		}
	}
	var needs []string
	if confirm {
		needs = append(needs, "confirmation")
	}
	if input {
		needs = append(needs, "user input")
	}
	if external {
		needs = append(needs, "external execution")
	}
	switch len(needs) {
	case 0:
		return ""
	case 1:
		return "I have tools to execute, but I need " + needs[0] + "."
	case 2:
		return "I have tools to execute, but I need " + needs[0] + " or " + needs[1] + "."
	}
	return "I have tools to execute, but I need " + needs[0] + ", " + needs[1] + ", or " + needs[2] + "."
}
