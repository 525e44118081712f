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
	mu     sync.RWMutex
	ops    map[string]Operation
	served map[string]bool
}

// NewPolicy returns an empty policy.
func NewPolicy() *Policy { return &Policy{ops: map[string]Operation{}, served: map[string]bool{}} }

// Declare registers each operation the policy does not have yet (an entry
// registered or overridden before stays as it is). Adapters declare the
// operations of their tables when they mount.
func (p *Policy) Declare(ops ...Operation) {
	for _, op := range ops {
		if _, ok := p.Lookup(op.ID); !ok {
			p.Register(op)
		}
	}
}

// Served records that an adapter really serves these operations (it
// mounted the route, dispatches the method or tool). CheckCoverage
// compares them with the table.
func (p *Policy) Served(ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		p.served[id] = true
	}
}

// CheckCoverage fails, naming them, when a served operation has no entry
// (it would be refused at every call, fail closed) or an entry has no
// served operation (a stale or mistyped entry, which would silently
// govern nothing). The gateway calls it once every interface is mounted.
func (p *Policy) CheckCoverage() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var noEntry, noRoute []string
	for id := range p.served {
		if _, ok := p.ops[id]; !ok {
			noEntry = append(noEntry, id)
		}
	}
	for id := range p.ops {
		if !p.served[id] {
			noRoute = append(noRoute, id)
		}
	}
	sort.Strings(noEntry)
	sort.Strings(noRoute)
	var msgs []string
	if len(noEntry) > 0 {
		msgs = append(msgs, "served without an authorization policy entry: "+strings.Join(noEntry, ", "))
	}
	if len(noRoute) > 0 {
		msgs = append(msgs, "policy entries that nothing serves: "+strings.Join(noRoute, ", "))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("auth policy: %s", strings.Join(msgs, "; "))
	}
	return nil
}

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

// Resource names used in the adapters' tables.
const (
	ResourceConfig          = "config"
	ResourceAgents          = "agents"
	ResourceSessions        = "sessions"
	ResourceServiceAccounts = "service_accounts"
	ResourceTeams           = "teams"
	ResourceWorkflows       = "workflows"
	ResourceApprovals       = "approvals"
	ResourceSchedules       = "schedules"
	ResourceMemories        = "memories"
	ResourceKnowledge       = "knowledge"
	ResourceLearnings       = "learnings"
	ResourceTraces          = "traces"
	ResourceMetrics         = "metrics"
	ResourceEvals           = "evals"
	ResourceComponents      = "components"
)

// ResourceOf is the scope resource of a kind of runnable: agents, teams
// or workflows.
func ResourceOf(k core.Kind) string {
	switch k {
	case core.KindTeam:
		return ResourceTeams
	case core.KindWorkflow:
		return ResourceWorkflows
	}
	return ResourceAgents
}

// Actions used in the adapters' tables.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionDelete = "delete"
	ActionRun    = "run"
)

// Constructors of the common shapes, for the adapters' tables.

// Public is an operation that needs no credentials.
func Public(id string) Operation { return Operation{ID: id, Public: true} }

// Authenticated is an operation any authenticated caller may do.
func Authenticated(id string) Operation { return Operation{ID: id} }

// Scoped is an operation that needs resource:action (or
// resource:<id>:action on the id in idParam).
func Scoped(id, resource, action, idParam string) Operation {
	return Operation{ID: id, Resource: resource, Action: action, IDParam: idParam}
}

// Listed is a list operation on resource (see Operation.List).
func Listed(id, resource, action string) Operation {
	return Operation{ID: id, Resource: resource, Action: action, List: true}
}

// AdminOnly returns op refused to non-admins whatever their scopes.
func AdminOnly(op Operation) Operation { op.AdminOnly = true; return op }
