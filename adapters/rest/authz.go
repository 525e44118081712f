package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// The REST adapter asks auth's one policy about every route (it never
// decides): each route's operation id is "rest:METHOD /path/{param}", and
// the policy names the scope and the path parameter that is the resource
// id. The entries are declared by the route tables (routes.go); a route
// without one, or an entry without a route, stops the gateway at start
// (auth.Policy.CheckCoverage).

// authorize asks the policy; a refused token's own error explains a 401.
func (h *Handler) authorize(ctx context.Context, opID, resourceID string) error {
	err := h.policy.Authorize(ctx, opID, resourceID)
	if err != nil && httptransport.IsUnauthorized(err) {
		if ae := httptransport.AuthError(ctx); ae != nil {
			return ae
		}
	}
	if core.CodeOf(err) == core.CodeForbidden {
		// Name the scope that is missing, as MCP and A2A do.
		if op, ok := h.policy.Lookup(opID); ok {
			scope := op.Scope(resourceID).String()
			if op.AdminOnly || op.Resource == "" {
				scope = "agent_os:admin"
			}
			return &missingScope{err: core.Errorf(core.CodeForbidden, "%s: needs scope %s", core.MessageOf(err), scope), scope: scope}
		}
	}
	return err
}

// missingScope is a 403 with the scope the caller lacks, which the answer's
// WWW-Authenticate names (RFC 6750 insufficient_scope, as over MCP).
type missingScope struct {
	err   *core.Error
	scope string
}

func (m *missingScope) Error() string { return m.err.Error() }
func (m *missingScope) Unwrap() error { return m.err }

// challenge returns the WWW-Authenticate value of a refusal ("" for none).
func challenge(err error) string {
	if httptransport.IsUnauthorized(err) {
		return `Bearer realm="agentgate"`
	}
	var m *missingScope
	if errors.As(err, &m) {
		return `Bearer realm="agentgate", error="insufficient_scope", scope="` + m.scope + `"`
	}
	return ""
}

// humaAuthz is the huma middleware that guards every documented route.
func (h *Handler) humaAuthz(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	opID := auth.RESTOperationID(op.Method, op.Path)
	pol, _ := h.policy.Lookup(opID)
	resID := ""
	if pol.IDParam != "" {
		resID = ctx.Param(pol.IDParam)
	}
	if err := h.authorize(ctx.Context(), opID, resID); err != nil {
		if ch := challenge(err); ch != "" {
			ctx.SetHeader("WWW-Authenticate", ch)
		}
		_ = huma.WriteErr(h.api, ctx, StatusOf(err), core.MessageOf(err))
		return
	}
	if r := h.byOperation[op.OperationID]; r != nil && r.DBScoped {
		if id := ctx.Query("db_id"); id != "" {
			if _, ok := h.database(id); !ok {
				_ = huma.WriteErr(h.api, ctx, http.StatusNotFound, "database "+strconv.Quote(id)+" not found: GET /config lists the databases")
				return
			}
		}
	}
	next(ctx)
}

// guard wraps a plain fiber route (forms, SSE) with the same check.
func (h *Handler) guard(method, path string, fn fiber.Handler) fiber.Handler {
	opID := auth.RESTOperationID(method, path)
	pol, ok := h.policy.Lookup(opID)
	if !ok {
		panic(fmt.Sprintf("rest: route %s is not in the auth policy", opID))
	}
	return func(c *fiber.Ctx) error {
		resID := ""
		if pol.IDParam != "" {
			resID = c.Params(pol.IDParam)
		}
		if err := h.authorize(c.UserContext(), opID, resID); err != nil {
			if httptransport.IsUnauthorized(err) {
				return httptransport.Unauthorized(c, err)
			}
			if ch := challenge(err); ch != "" {
				c.Set(fiber.HeaderWWWAuthenticate, ch)
			}
			return fail(c, err)
		}
		return fn(c)
	}
}

// principal is the request's principal; without one (the adapter used
// without the transport's middleware) nothing is restricted.
func principal(ctx context.Context) *auth.Principal {
	if p, ok := auth.FromContext(ctx); ok {
		return p
	}
	return &auth.Principal{Kind: auth.KindAnonymous, Admin: true}
}

// owned is the principal's view of owner-bound records (user isolation:
// records of others are answered as not found).
func (h *Handler) owned(ctx context.Context) auth.Owned { return principal(ctx).Owned(h.eng) }

// visible filters ids of a resource by the principal's per-resource scopes.
func visible(ctx context.Context, resource, action string) func(id string) bool {
	all, ids := principal(ctx).VisibleIDs(resource, action)
	if all {
		return func(string) bool { return true }
	}
	return func(id string) bool { return slices.Contains(ids, id) }
}
