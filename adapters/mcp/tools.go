package mcp

import (
	"encoding/json"
	"fmt"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/agentgate/agentgate/core"
)

// The tool definitions: names, descriptions, JSON Schemas (written out, so
// tools/list is exactly what the golden file shows) and annotations.

const runArgsDoc = `"session_id":{"type":"string","description":"A session to continue: the agent sees its earlier runs. Empty starts a new session."},` +
	`"user_id":{"type":"string","description":"The user the run is for. Under user isolation it is always the caller's own user."},` +
	`"idempotency_key":{"type":"string","maxLength":255,"description":"Makes the call safe to retry (after a dropped connection): a call with the same key and arguments follows the run the first one started, from its start, instead of starting another. At most 255 printable ASCII characters."}`

var (
	runAgentSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"agent_id":{"type":"string","description":"The agent to run (get_config lists them)."},` +
		`"message":{"type":"string","description":"The user's message."},` + runArgsDoc +
		`},"required":["agent_id","message"],"additionalProperties":false}`)

	runTeamSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"team_id":{"type":"string","description":"The team to run (get_config lists them)."},` +
		`"message":{"type":"string","description":"The user's message."},` + runArgsDoc +
		`},"required":["team_id","message"],"additionalProperties":false}`)

	runWorkflowSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"workflow_id":{"type":"string","description":"The workflow to run (get_config lists them)."},` +
		`"message":{"type":"string","description":"The workflow's input."},` + runArgsDoc +
		`},"required":["workflow_id","message"],"additionalProperties":false}`)

	askSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"message":{"type":"string","description":"The user's message."},` + runArgsDoc +
		`},"required":["message"],"additionalProperties":false}`)

	continueSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"run_id":{"type":"string","description":"The paused run."},` +
		`"agent_id":{"type":"string","description":"The run's agent (optional; checked when given)."},` +
		`"session_id":{"type":"string","description":"The run's session (optional; checked when given)."},` +
		`"tools":{"type":"array","description":"One decision per pending tool call (none for a call whose approval an approver resolved: its decision is read from the store).","items":{"type":"object","properties":{` +
		`"tool_call_id":{"type":"string","description":"The pending tool call."},` +
		`"confirmed":{"type":"boolean","description":"true runs the tool call, false rejects it."},` +
		`"confirmation_note":{"type":"string","description":"Why it was rejected (the agent sees it)."},` +
		`"user_input":{"type":"object","description":"Values of the fields a tool requiring user input asks for, by name."},` +
		`"result":{"type":"string","description":"The result of a tool you executed yourself (external execution)."}` +
		`},"required":["tool_call_id"],"additionalProperties":false}}` +
		`},"required":["run_id"],"additionalProperties":false}`)

	cancelSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"run_id":{"type":"string","description":"The run to cancel."},` +
		`"agent_id":{"type":"string","description":"The run's agent (optional; checked when given)."},` +
		`"session_id":{"type":"string","description":"The run's session (optional; checked when given)."}` +
		`},"required":["run_id"],"additionalProperties":false}`)

	sessionsSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"type":{"type":"string","enum":["agent","team","workflow"],"default":"agent"},` +
		`"component_id":{"type":"string","description":"Only sessions of this agent (team, workflow)."},` +
		`"user_id":{"type":"string","description":"Only sessions of this user (under user isolation: always the caller's)."},` +
		`"session_name":{"type":"string","description":"Case-insensitive part of the session name."},` +
		`"limit":{"type":"integer","minimum":1,"maximum":1000,"default":20},` +
		`"page":{"type":"integer","minimum":1,"default":1},` +
		`"sort_by":{"type":"string","enum":["created_at","updated_at","session_name"],"default":"created_at"},` +
		`"sort_order":{"type":"string","enum":["asc","desc"],"default":"desc"}` +
		`},"additionalProperties":false}`)

	sessionRunsSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"session_id":{"type":"string","description":"The session."}` +
		`},"required":["session_id"],"additionalProperties":false}`)

	noArgsSchema = json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false}`)

	runResultSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"run_id":{"type":"string"},"session_id":{"type":"string"},"agent_id":{"type":"string"},` +
		`"status":{"type":"string","enum":["COMPLETED","PAUSED","ERROR","CANCELLED"]},` +
		`"content":{"type":"string","description":"The answer (COMPLETED)."},` +
		`"pending_tools":{"type":"array","description":"The tool calls waiting for a decision (PAUSED).","items":{"type":"object","properties":{` +
		`"tool_call_id":{"type":"string"},"tool_name":{"type":"string"},"tool_args":{},"requires_confirmation":{"type":"boolean"},` +
		`"requires_user_input":{"type":"boolean"},"user_input_schema":{"type":"array","items":{"type":"object"}},"external_execution_required":{"type":"boolean"}` +
		`},"required":["tool_call_id","tool_name"]}},` +
		`"continue_run":{"type":"object","description":"The continue_run arguments (PAUSED): add confirmed (or user_input, or result) to each tool."},` +
		`"error":{"type":"string"},"error_type":{"type":"string"},"reason":{"type":"string"}` +
		`},"required":["run_id","session_id","agent_id","status"]}`)

	cancelResultSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"run_id":{"type":"string"},"status":{"type":"string","enum":["PENDING","RUNNING","PAUSED","COMPLETED","CANCELLED","ERROR"]}` +
		`},"required":["run_id","status"]}`)
)

const runDoc = " The answer's text streams as notifications/progress when the call carries a progressToken. " +
	"A run that needs a decision on a tool call returns status PAUSED with the pending tool calls and the continue_run arguments; " +
	"a failed or cancelled run is an error result that says why."

func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcpgo.ToolAnnotation {
	return mcpgo.ToolAnnotation{Title: title, ReadOnlyHint: &readOnly, DestructiveHint: &destructive,
		IdempotentHint: &idempotent, OpenWorldHint: &openWorld}
}

func builtinTools() []mcpgo.Tool {
	return []mcpgo.Tool{
		{Name: ToolRunAgent, Title: "Run an agent",
			Description:    "Run an agent on a message and return its answer." + runDoc,
			RawInputSchema: runAgentSchema, RawOutputSchema: runResultSchema,
			Annotations: annotations("Run an agent", false, false, false, true)},
		{Name: ToolContinueRun, Title: "Continue a paused run",
			Description: "Resume a PAUSED run with a decision on each pending tool call (confirmed true runs it, false rejects it). " +
				"It goes on like run_agent and returns the same way.",
			RawInputSchema: continueSchema, RawOutputSchema: runResultSchema,
			Annotations: annotations("Continue a paused run", false, false, false, true)},
		{Name: ToolCancelRun, Title: "Cancel a run",
			Description:    "Cancel a running or paused run; a finished run is left as it is. Returns the run's status.",
			RawInputSchema: cancelSchema, RawOutputSchema: cancelResultSchema,
			Annotations: annotations("Cancel a run", false, true, true, false)},
		{Name: ToolGetSessions, Title: "List sessions",
			Description:    "List sessions (conversations) with paging: {data: [session], meta: {page, limit, total_pages, total_count}}.",
			RawInputSchema: sessionsSchema,
			Annotations:    annotations("List sessions", true, false, true, false)},
		{Name: ToolGetSessionRuns, Title: "List a session's runs",
			Description:    "List the runs of a session, oldest first: each run's input, answer and status (a paused run with its pending tool calls).",
			RawInputSchema: sessionRunsSchema,
			Annotations:    annotations("List a session's runs", true, false, true, false)},
		{Name: ToolGetConfig, Title: "Gateway configuration",
			Description:    "Describe this gateway: name, version and the agents it serves (with their ask_<agent> tools).",
			RawInputSchema: noArgsSchema,
			Annotations:    annotations("Gateway configuration", true, false, true, false)},
	}
}

// runnableTools are run_team and run_workflow, listed once the engine has
// a team (a workflow). Their results are run_agent's, with team_id or
// workflow_id (agent_id is empty).
func runnableTools() map[core.Kind]mcpgo.Tool {
	t := []mcpgo.Tool{
		{Name: ToolRunTeam, Title: "Run a team",
			Description:    "Run a team (a leader and its member agents) on a message and return the team's answer." + runDoc,
			RawInputSchema: runTeamSchema, RawOutputSchema: runResultSchema,
			Annotations: annotations("Run a team", false, false, false, true)},
		{Name: ToolRunWorkflow, Title: "Run a workflow",
			Description:    "Run a workflow (its steps in order) on an input and return its final output." + runDoc,
			RawInputSchema: runWorkflowSchema, RawOutputSchema: runResultSchema,
			Annotations: annotations("Run a workflow", false, false, false, true)},
	}
	return map[core.Kind]mcpgo.Tool{core.KindTeam: t[0], core.KindWorkflow: t[1]}
}

// askTool is the per-agent tool of an agent.
func askTool(name, agentName, description string) mcpgo.Tool {
	if description == "" {
		description = fmt.Sprintf("Ask the %s agent.", agentName)
	}
	return mcpgo.Tool{Name: name, Title: agentName, Description: description,
		RawInputSchema: askSchema, RawOutputSchema: runResultSchema,
		Annotations: annotations(agentName, false, false, false, true)}
}

// AskToolName is the name of an agent's ask tool: "ask_" and the agent id
// with every character MCP does not allow in tool names (outside
// A-Z a-z 0-9 _ - .) replaced by "_", cut to 128 characters.
func AskToolName(agentID string) string {
	b := []byte(AskPrefix + agentID)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}
