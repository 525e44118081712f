package rest

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
)

// Each resource group declares its routes once, in a table of Routes (one
// per group file: core.go's system routes, runs.go, sessions.go,
// serviceaccounts.go). The fiber route, the OpenAPI operation and the
// auth policy entry are all derived from it: mount registers the typed
// handler with huma (or the raw one with fiber, documented by hand), and
// declares the route's access rule as the policy entry
// "rest:METHOD /path". Register then asks the policy to check that every
// served operation has an entry and every entry is served.

// Route is one REST route.
type Route struct {
	// Operation is the OpenAPI operation: Method, Path ({param}
	// placeholders), OperationID, Summary, Tags, Description... A Hidden
	// operation is served but left out of the document.
	huma.Operation
	// Access is who may call the route: the policy entry, without its id
	// (derived from Method and Path). nil is a route with no entry: it is
	// not mounted, and the start fails naming it.
	Access *auth.Operation
	// Owner says how the route treats records bound to a user under user
	// isolation.
	Owner OwnerRule
	// Errors are the error statuses the route answers besides the ones
	// every guarded route may give (see completeDocument).
	Errors []int
	// Also are success answers besides the documented one.
	Also map[int]string
	// DBScoped routes take AgentOS's db_id query parameter: one of the
	// databases /config lists; another is a 404, not ignored.
	DBScoped bool

	// One of: Handle registers a typed huma handler (see typed); Raw is a
	// plain fiber handler (forms, SSE) whose OpenAPI operation is
	// documented from Form and Resp (see documentRaw); Builtin routes are
	// served by huma itself (the document and schemas).
	Handle     func(api huma.API, op huma.Operation)
	Raw        fiber.Handler
	Form, Resp any
	Builtin    bool
}

// OwnerRule says how a route treats owner-bound records (runs, sessions)
// under user isolation.
type OwnerRule int

const (
	// OwnerNone: the route touches no owner-bound record.
	OwnerNone OwnerRule = iota
	// OwnerBound: the route acts on one record; another user's is
	// answered as absent (404).
	OwnerBound
	// OwnerFiltered: the route lists records; only the caller's own are
	// listed.
	OwnerFiltered
	// OwnerAssigned: the route creates a record bound to the caller.
	OwnerAssigned
)

// typed adapts a huma handler to Route.Handle.
func typed[I, O any](fn func(context.Context, *I) (*O, error)) func(huma.API, huma.Operation) {
	return func(api huma.API, op huma.Operation) { huma.Register(api, op, fn) }
}

// Access rules of the tables: the auth constructors without an id.
func public() *auth.Operation { op := auth.Public(""); return &op }
func scoped(resource, action, idParam string) *auth.Operation {
	op := auth.Scoped("", resource, action, idParam)
	return &op
}
func listed(resource, action string) *auth.Operation {
	op := auth.Listed("", resource, action)
	return &op
}
func adminOnly(op *auth.Operation) *auth.Operation { o := auth.AdminOnly(*op); return &o }

// ID is the route's operation id in the policy ("rest:GET /agents").
func (r *Route) ID() string { return auth.RESTOperationID(r.Method, r.Path) }

// policyEntry is the route's policy entry; false for a route without one.
func (r *Route) policyEntry() (auth.Operation, bool) {
	if r.Access == nil {
		return auth.Operation{}, false
	}
	op := *r.Access
	op.ID = r.ID()
	return op, true
}

// routes are every route of the adapter, group by group, in mount order.
func (h *Handler) routes() []Route {
	var all []Route
	for _, group := range [][]Route{h.coreRoutes(), h.runnableRoutes(), h.systemRoutes(), h.runRoutes(), h.sessionRoutes(), h.mediaRoutes(), h.approvalRoutes(), h.serviceAccountRoutes(), h.scheduleRoutes(), h.memoryRoutes(), h.knowledgeRoutes(), h.knowledgeRemoteRoutes(), h.learningRoutes(), h.componentRoutes(), h.traceRoutes(), h.metricRoutes(), h.evalRoutes(), h.docsRoutes()} {
		all = append(all, group...)
	}
	return all
}

// Operations are the policy entries of the REST routes (for a policy
// built before the adapter mounts, and for tests that walk the table).
func Operations() []auth.Operation {
	var out []auth.Operation
	for _, r := range (&Handler{}).routes() {
		if op, ok := r.policyEntry(); ok {
			out = append(out, op)
		}
	}
	return out
}

// mount serves the routes and declares their policy entries.
func (h *Handler) mount(routes []Route) {
	for i := range routes {
		r := &routes[i]
		h.byOperation[r.OperationID] = r
		h.policy.Served(r.ID())
		op, ok := r.policyEntry()
		if !ok {
			continue // CheckCoverage names it
		}
		h.policy.Declare(op)
		if r.DBScoped {
			r.Parameters = append(r.Parameters, &huma.Param{Name: "db_id", In: "query", Schema: &huma.Schema{Type: "string"},
				Description: "The database to use: one of those GET /config lists (default: the first)."})
			if !slices.Contains(r.Errors, http.StatusNotFound) {
				r.Errors = append(r.Errors, http.StatusNotFound)
			}
		}
		switch {
		case r.Builtin:
		case r.Raw != nil:
			h.srv.App.Add(r.Method, fiberPath(r.Path), h.guard(r.Method, r.Path, r.Raw))
			if !r.Hidden {
				doc := r.Operation
				h.documentRaw(&doc, r.Form, r.Resp)
			}
		default:
			r.Handle(h.api, r.Operation)
		}
	}
}

// fiberPath writes an OpenAPI path's {param} placeholders as fiber's :param.
func fiberPath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}

// docsRoutes are the document, its schemas and Swagger UI (/docs), whose
// assets are embedded in the binary (github.com/swaggest/swgui's v5emb).
func (h *Handler) docsRoutes() []Route {
	var out []Route
	for _, p := range []string{"/openapi.json", "/openapi.yaml", "/openapi-3.0.json", "/openapi-3.0.yaml", "/schemas/{schema}"} {
		out = append(out, Route{Operation: huma.Operation{Method: http.MethodGet, Path: p}, Access: public(), Builtin: true})
	}
	ui := h.swaggerUI()
	for _, p := range []string{"/docs", "/docs/{asset}"} {
		out = append(out, Route{Operation: huma.Operation{Method: http.MethodGet, Path: p, Hidden: true}, Access: public(), Raw: ui})
	}
	return out
}
