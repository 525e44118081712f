// Package a2a is the A2A (Agent2Agent) adapter: agent cards, JSON-RPC 2.0
// for both protocol generations (v1.0 PascalCase methods and v0.3 slash
// methods, told apart by method name and the A2A-Version header), and the
// v1.0 HTTP+JSON binding. It renders core events as A2A task updates and maps
// A2A requests onto Engine calls; run decisions stay in core and access
// decisions in auth (the adapter asks the policy, it never decides).
//
// Routes (mounted on the transport's fiber app):
//
//	GET  /.well-known/agent-card.json                    gateway card (agents as skills; one interface per agent, tenant = agent id)
//	GET  /a2a/agents/{id}/.well-known/agent-card.json    agent card (v1.0 + v0.3 union card)
//	POST /a2a/agents/{id}                                JSON-RPC 2.0, v1.0 and v0.3 (GET there: the agent card)
//	POST /a2a/agents/{id}/v1/message:send, /v1/message:stream   JSON-RPC 2.0 too (agno's A2AClient posts there)
//	POST /a2a/agents                                     JSON-RPC 2.0 of the gateway card (v1.0; params.tenant names the agent)
//	     /a2a/teams/{id}/…, /a2a/workflows/{id}/…         the same routes for a team and a workflow (card, JSON-RPC, HTTP+JSON)
//	     /a2a/agents/{id}/message:send, /message:stream, /tasks, /tasks/{tid}, /tasks/{tid}:cancel,
//	     /tasks/{tid}:subscribe (GET or POST), /tasks/{tid}/pushNotificationConfigs[/{cid}]   HTTP+JSON (v1.0)
//
// Mapping:
//
//   - task = run (task id = run_id), contextId = session_id; a message
//     without taskId starts a run (in contextId's session, or a new one).
//   - RunContent deltas are artifact updates of the artifact "response":
//     the first chunk of a stream creates it (append false), the next ones
//     append; RunContentCompleted (or the run's end) sends lastChunk.
//   - Tool activity (ToolCallStarted/Completed/Error) is a working status
//     update whose agent message carries a text part and a data part.
//   - RunPaused is input-required: the status message names the tool calls
//     waiting for confirmation (text, and a data part with the tools). A new
//     message on the same task continues the run: text "yes"/"no …" (the
//     rest of a "no" is the rejection note) or a data part
//     {"confirmed": bool, "note": "…"} or {"tools": [{"tool_call_id", "confirmed", "confirmation_note"}]}.
//     Tools that need user input or run on the caller's side make the data
//     part {"type": "input_required", ...}; their tools entries take
//     "user_input" {field: value} or "result".
//   - A team's or workflow's task is its own run (TeamRunContent… are read
//     by their base names; its members' forwarded events are not rendered).
//     A team paused by a member is input-required like an agent; each tool
//     in the data part also names the member (member_agent_id,
//     member_agent_name, member_run_id), and a message on the task
//     continues the team. Scopes: teams:<id>:run, workflows:<id>:run.
//   - RunCompleted, RunError, RunCancelled are completed, failed, canceled.
//     In v0.3 the last status update of a stream carries final: true, and
//     a message/stream opens with a status update rather than the task
//     (agno's A2AClient ends a stream at its first task frame).
//   - Streams (SendStreamingMessage, SubscribeToTask and their v0.3 twins)
//     are read from the event log (core.Engine.Subscribe), so they work from
//     any replica; SubscribeToTask sends the current task, then replays the
//     run's events from its start, then live ones. A dropped stream never
//     cancels the task (A2A tasks outlive their streams).
//
// Push notifications: configs live in memory per process, per task, behind
// one mutex (see pusher). A watcher per task follows the run's events from
// the log and POSTs each update (a v1.0 HTTP+JSON StreamResponse) to every
// config's URL, with its token (X-A2A-Notification-Token) and
// authentication (Authorization: <scheme> <credentials>), retrying with
// exponential backoff: at least once while the process lives, in order per
// config, and never in the run's way (the run only appends to the log).
// At shutdown the tasks still followed get their last updates delivered
// until Close's deadline. A restart loses the configs and the deliveries
// not yet made; another replica does not know them (the task itself, its
// events and every other method work on any replica).
package a2a
