package auth

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/agentgate/agentgate/core"
)

// Operation is one thing a caller can do through some interface, and the
// scope it needs.
//
// Operation ids name the interface and the operation:
//
//	rest:<METHOD> <path>   an HTTP route, path as in the OpenAPI document
//	                       ({param} placeholders): "rest:GET /agents/{agent_id}"
//	mcp:<tool or method>   an MCP tool ("mcp:run_agent") or protocol method
//	                       ("mcp:tools/list"); per-agent tools share
//	                       "mcp:ask_{agent_id}"
//	a2a:<method>           an A2A JSON-RPC method, v1 ("a2a:SendMessage") and
//	                       v0.3 ("a2a:message/send") names; "a2a:agent-card"
//	                       for the public agent card
//	ws:<action>            a WebSocket client message ("ws:start")
//
// RESTOperationID builds the REST form from a fiber or OpenAPI path.
type Operation struct {
	ID string
	// Resource and Action name the scope needed (resource:action, or
	// resource:<id>:action for the id being acted on). An empty Resource on
	// a non-public operation means any authenticated caller may do it.
	Resource, Action string
	// IDParam names the request parameter that carries the resource id
	// (path parameter, tool argument, message field); "" when the operation
	// acts on the resource as a whole.
	IDParam string
	// List marks a list operation: a caller with only per-resource scopes
	// (resource:<id>:action) is admitted, and the handler filters the list
	// with Principal.VisibleIDs.
	List bool
	// Public operations need no credentials at all.
	Public bool
	// AdminOnly operations need an admin whatever scopes the caller holds.
	AdminOnly bool
}

// Scope returns the scope the operation needs for id ("" for global); the
// zero Scope when it needs none.
func (o Operation) Scope(id string) Scope {
	if o.Resource == "" {
		return Scope{}
	}
	return Scope{Resource: o.Resource, ID: id, Action: o.Action}
}

// Policy is the one table of operations. It is safe for concurrent use.
type Policy struct {
	mu  sync.RWMutex
	ops map[string]Operation
}

// NewPolicy returns an empty policy.
func NewPolicy() *Policy { return &Policy{ops: map[string]Operation{}} }

// Register adds op. It panics on an empty or duplicate id, on a non-public
// operation with an action but no resource (or the reverse), and on a public
// operation that names a scope.
func (p *Policy) Register(op Operation) {
	checkOperation(op)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.ops[op.ID]; dup {
		panic(fmt.Sprintf("auth: operation %q registered twice", op.ID))
	}
	p.ops[op.ID] = op
}

// Override replaces the registered operation with op's id (to relax or
// tighten a default). It panics when no such operation exists.
func (p *Policy) Override(op Operation) {
	checkOperation(op)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.ops[op.ID]; !ok {
		panic(fmt.Sprintf("auth: override of unknown operation %q", op.ID))
	}
	p.ops[op.ID] = op
}

func checkOperation(op Operation) {
	if strings.TrimSpace(op.ID) == "" {
		panic("auth: operation with an empty id")
	}
	if (op.Resource == "") != (op.Action == "") {
		panic(fmt.Sprintf("auth: operation %q: resource and action go together", op.ID))
	}
	if op.Public && (op.Resource != "" || op.AdminOnly) {
		panic(fmt.Sprintf("auth: operation %q: public operations need no scope", op.ID))
	}
}

// Lookup returns the operation with this id.
func (p *Policy) Lookup(id string) (Operation, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	op, ok := p.ops[id]
	return op, ok
}

// All returns every operation sorted by id.
func (p *Policy) All() []Operation {
	p.mu.RLock()
	out := make([]Operation, 0, len(p.ops))
	for _, op := range p.ops {
		out = append(out, op)
	}
	p.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Authorize decides whether the principal in ctx may do operation opID on
// resourceID ("" when the operation acts on the resource as a whole). It
// returns nil when allowed; a core error of code CodeUnauthorized when
// credentials are needed and missing (no principal, or an anonymous
// non-admin one); CodeForbidden when the principal lacks the scope; and
// CodeInternal for an operation the table does not know (fail closed: every
// operation must be registered).
func (p *Policy) Authorize(ctx context.Context, opID, resourceID string) error {
	op, ok := p.Lookup(opID)
	if !ok {
		return core.Errorf(core.CodeInternal, "operation %q has no authorization policy", opID)
	}
	if op.Public {
		return nil
	}
	pr, ok := FromContext(ctx)
	if !ok {
		return errAuthRequired()
	}
	if pr.Admin {
		return nil
	}
	if pr.Anonymous() {
		return errAuthRequired()
	}
	if op.AdminOnly {
		return errForbidden()
	}
	if op.Resource == "" {
		return nil
	}
	if pr.Allows(op.Resource, resourceID, op.Action) {
		return nil
	}
	if op.List && resourceID == "" {
		if _, ids := pr.VisibleIDs(op.Resource, op.Action); len(ids) > 0 {
			return nil
		}
	}
	return errForbidden()
}

func errAuthRequired() error { return core.Errorf(core.CodeUnauthorized, "authentication required") }
func errForbidden() error    { return core.Errorf(core.CodeForbidden, "insufficient permissions") }

// RESTOperationID returns the operation id of an HTTP route: method upper
// case, path with fiber parameters (":agent_id", ":id?") written as
// OpenAPI placeholders ("{agent_id}"), a trailing slash dropped.
func RESTOperationID(method, path string) string {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if strings.Contains(path, ":") {
		segs := strings.Split(path, "/")
		for i, s := range segs {
			if len(s) > 1 && s[0] == ':' {
				segs[i] = "{" + strings.TrimRight(s[1:], "?+*") + "}"
			}
		}
		path = strings.Join(segs, "/")
	}
	return "rest:" + strings.ToUpper(method) + " " + path
}

// Operation ids used by more than the table.
const (
	OpMCPAskAgent  = "mcp:ask_{agent_id}" // every per-agent MCP tool; resource id = the agent
	OpA2AAgentCard = "a2a:agent-card"
)

// Resource names used in the default policy.
const (
	ResourceConfig          = "config"
	ResourceAgents          = "agents"
	ResourceSessions        = "sessions"
	ResourceServiceAccounts = "service_accounts"
	ResourceTeams           = "teams"
	ResourceWorkflows       = "workflows"
)

// Actions used in the default policy.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionDelete = "delete"
	ActionRun    = "run"
)

// DefaultPolicy returns the table for the routes, tools, methods and actions
// agentgate serves (mapped as in AgentOS's default route→scope map).
func DefaultPolicy() *Policy {
	p := NewPolicy()
	for _, op := range defaultOperations() {
		p.Register(op)
	}
	return p
}

func defaultOperations() []Operation {
	public := func(id string) Operation { return Operation{ID: id, Public: true} }
	authed := func(id string) Operation { return Operation{ID: id} }
	scoped := func(id, res, act, idParam string) Operation {
		return Operation{ID: id, Resource: res, Action: act, IDParam: idParam}
	}
	list := func(id, res, act string) Operation {
		return Operation{ID: id, Resource: res, Action: act, List: true}
	}
	admin := func(op Operation) Operation { op.AdminOnly = true; return op }
	const (
		agentID   = "agent_id"
		sessionID = "session_id"
	)
	return []Operation{
		// REST: core and documentation.
		public("rest:GET /health"),
		public("rest:GET /ready"),
		public("rest:GET /openapi.json"),
		public("rest:GET /openapi.yaml"),
		public("rest:GET /openapi-3.0.json"),
		public("rest:GET /openapi-3.0.yaml"),
		public("rest:GET /docs"),
		public("rest:GET /docs/{asset}"),
		public("rest:GET /schemas/{schema}"),
		scoped("rest:GET /config", ResourceConfig, ActionRead, ""),

		// REST: agents and runs. Run routes act on the agent: agents:<id>:run.
		list("rest:GET /agents", ResourceAgents, ActionRead),
		scoped("rest:GET /agents/{agent_id}", ResourceAgents, ActionRead, agentID),
		scoped("rest:POST /agents/{agent_id}/runs", ResourceAgents, ActionRun, agentID),
		scoped("rest:GET /agents/{agent_id}/runs", ResourceAgents, ActionRun, agentID),
		scoped("rest:GET /agents/{agent_id}/runs/{run_id}", ResourceAgents, ActionRun, agentID),
		scoped("rest:POST /agents/{agent_id}/runs/{run_id}/cancel", ResourceAgents, ActionRun, agentID),
		scoped("rest:POST /agents/{agent_id}/runs/{run_id}/continue", ResourceAgents, ActionRun, agentID),
		scoped("rest:POST /agents/{agent_id}/runs/{run_id}/resume", ResourceAgents, ActionRun, agentID),
		scoped("rest:GET /agents/{agent_id}/runs/{run_id}/stream", ResourceAgents, ActionRun, agentID),

		// REST: teams and workflows (served empty until they exist).
		scoped("rest:GET /teams", ResourceTeams, ActionRead, ""),
		scoped("rest:GET /workflows", ResourceWorkflows, ActionRead, ""),

		// REST: sessions.
		list("rest:GET /sessions", ResourceSessions, ActionRead),
		scoped("rest:POST /sessions", ResourceSessions, ActionWrite, ""),
		scoped("rest:DELETE /sessions", ResourceSessions, ActionDelete, ""),
		scoped("rest:GET /sessions/{session_id}", ResourceSessions, ActionRead, sessionID),
		scoped("rest:PATCH /sessions/{session_id}", ResourceSessions, ActionWrite, sessionID),
		scoped("rest:POST /sessions/{session_id}/rename", ResourceSessions, ActionWrite, sessionID),
		scoped("rest:DELETE /sessions/{session_id}", ResourceSessions, ActionDelete, sessionID),
		scoped("rest:GET /sessions/{session_id}/runs", ResourceSessions, ActionRead, sessionID),
		scoped("rest:GET /sessions/{session_id}/runs/{run_id}", ResourceSessions, ActionRead, sessionID),

		// REST: service accounts (admin only unless overridden).
		admin(list("rest:GET /service-accounts", ResourceServiceAccounts, ActionRead)),
		admin(scoped("rest:POST /service-accounts", ResourceServiceAccounts, ActionWrite, "")),
		admin(scoped("rest:GET /service-accounts/{service_account_id}", ResourceServiceAccounts, ActionRead, "service_account_id")),
		admin(scoped("rest:PATCH /service-accounts/{service_account_id}", ResourceServiceAccounts, ActionWrite, "service_account_id")),
		admin(scoped("rest:POST /service-accounts/{service_account_id}/rotate", ResourceServiceAccounts, ActionWrite, "service_account_id")),
		admin(scoped("rest:DELETE /service-accounts/{service_account_id}", ResourceServiceAccounts, ActionDelete, "service_account_id")),

		// REST: Slack verifies its own requests (signing secret).
		public("rest:POST /slack/events"),
		public("rest:POST /slack/interactions"),

		// MCP: protocol methods need a caller; tools need their REST twin's scope.
		authed("mcp:initialize"),
		authed("mcp:notifications/initialized"),
		authed("mcp:ping"),
		authed("mcp:tools/list"),
		scoped("mcp:get_config", ResourceConfig, ActionRead, ""),
		scoped("mcp:run_agent", ResourceAgents, ActionRun, agentID),
		scoped("mcp:continue_run", ResourceAgents, ActionRun, agentID),
		scoped("mcp:cancel_run", ResourceAgents, ActionRun, agentID),
		list("mcp:get_sessions", ResourceSessions, ActionRead),
		scoped("mcp:get_session_runs", ResourceSessions, ActionRead, sessionID),
		scoped(OpMCPAskAgent, ResourceAgents, ActionRun, agentID),

		// A2A: every method acts on the agent the endpoint serves.
		public(OpA2AAgentCard),
		scoped("a2a:GetExtendedAgentCard", ResourceAgents, ActionRead, agentID),
		scoped("a2a:SendMessage", ResourceAgents, ActionRun, agentID),
		scoped("a2a:SendStreamingMessage", ResourceAgents, ActionRun, agentID),
		scoped("a2a:GetTask", ResourceAgents, ActionRun, agentID),
		scoped("a2a:ListTasks", ResourceAgents, ActionRun, agentID),
		scoped("a2a:CancelTask", ResourceAgents, ActionRun, agentID),
		scoped("a2a:SubscribeToTask", ResourceAgents, ActionRun, agentID),
		scoped("a2a:agent/getAuthenticatedExtendedCard", ResourceAgents, ActionRead, agentID),
		scoped("a2a:message/send", ResourceAgents, ActionRun, agentID),
		scoped("a2a:message/stream", ResourceAgents, ActionRun, agentID),
		scoped("a2a:tasks/get", ResourceAgents, ActionRun, agentID),
		scoped("a2a:tasks/list", ResourceAgents, ActionRun, agentID),
		scoped("a2a:tasks/cancel", ResourceAgents, ActionRun, agentID),
		scoped("a2a:tasks/resubscribe", ResourceAgents, ActionRun, agentID),

		// WebSocket: authenticate and ping come before credentials.
		public("ws:authenticate"),
		public("ws:ping"),
		scoped("ws:start", ResourceAgents, ActionRun, agentID),
		scoped("ws:subscribe", ResourceAgents, ActionRun, agentID),
		scoped("ws:continue", ResourceAgents, ActionRun, agentID),
		scoped("ws:cancel", ResourceAgents, ActionRun, agentID),
	}
}
