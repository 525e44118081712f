package rest

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// The OpenAPI document says what the routes really answer: the statuses
// each one gives (with the {"detail"} body for errors), how to
// authenticate when auth is on, and where the API is served. /docs renders
// it with Swagger UI, whose assets are embedded in the binary (it works
// offline, with no CDN).

// Security scheme names in components.securitySchemes.
const (
	SchemeJWT            = "jwt"
	SchemeSecurityKey    = "securityKey"
	SchemeServiceAccount = "serviceAccount"
)

// DocsOptions describe how the document presents the API.
type DocsOptions struct {
	// AuthMode is none, key or jwt: with key or jwt the document has
	// security schemes and each guarded operation requires one.
	AuthMode string
	// RateLimited adds 429 to every operation.
	RateLimited bool
	// ServerURL is the URL clients reach the API at (a configured public
	// URL); "" documents the server as "/" (where the document is served).
	ServerURL string
}

// completeDocument adds statuses, security and servers to the document,
// once every route is registered.
func (h *Handler) completeDocument() {
	o := h.cfg.Docs
	doc := h.api.OpenAPI()
	reg := doc.Components.Schemas
	errSchema := reg.Schema(reflect.TypeOf(httptransport.ErrorBody{}), true, "")
	server := o.ServerURL
	if server == "" {
		server = "/"
	}
	doc.Servers = []*huma.Server{{URL: server, Description: "this gateway"}}
	authOn := o.AuthMode == auth.ModeKey || o.AuthMode == auth.ModeJWT
	if authOn {
		doc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
			SchemeServiceAccount: {Type: "http", Scheme: "bearer",
				Description: "A service-account token (agw_sa_…), created by an admin with POST /service-accounts."},
		}
		if o.AuthMode == auth.ModeJWT {
			doc.Components.SecuritySchemes[SchemeJWT] = &huma.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
				Description: "A JWT with sub, exp and scopes (agentgate token mints one)."}
		} else {
			doc.Components.SecuritySchemes[SchemeSecurityKey] = &huma.SecurityScheme{Type: "http", Scheme: "bearer",
				Description: "The gateway's security key (an admin)."}
		}
	}
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{
			http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
			http.MethodPatch: item.Patch, http.MethodDelete: item.Delete,
		} {
			if op == nil {
				continue
			}
			pol, _ := h.policy.Lookup(auth.RESTOperationID(method, path))
			var route Route
			if r := h.byOperation[op.OperationID]; r != nil {
				route = *r
			}
			statuses := slices.Clone(route.Errors)
			if !pol.Public {
				statuses = append(statuses, http.StatusServiceUnavailable)
				if authOn {
					statuses = append(statuses, http.StatusUnauthorized, http.StatusForbidden)
					scheme := SchemeSecurityKey
					if o.AuthMode == auth.ModeJWT {
						scheme = SchemeJWT
					}
					op.Security = []map[string][]string{{scheme: {}}, {SchemeServiceAccount: {}}}
				}
			} else if authOn {
				op.Security = []map[string][]string{} // public: no credentials
			}
			if o.RateLimited && !slices.Contains([]string{"/health", "/ready"}, path) {
				statuses = append(statuses, http.StatusTooManyRequests)
			}
			if op.Responses == nil {
				op.Responses = map[string]*huma.Response{}
			}
			for _, s := range statuses {
				code := strconv.Itoa(s)
				if _, ok := op.Responses[code]; ok {
					continue
				}
				op.Responses[code] = &huma.Response{Description: http.StatusText(s),
					Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}}
			}
			for s, desc := range route.Also {
				r := &huma.Response{Description: desc}
				if s == http.StatusAccepted {
					r.Content = map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeOf(BackgroundAccepted{}), true, "")}}
				}
				op.Responses[strconv.Itoa(s)] = r
			}
		}
	}
}

// swaggerUI serves Swagger UI from assets embedded in the binary.
func (h *Handler) swaggerUI() fiber.Handler {
	return adaptor.HTTPHandler(v5emb.NewHandlerWithConfig(swgui.Config{
		Title: h.cfg.Name + " API", SwaggerJSON: "/openapi.json", BasePath: "/docs/",
	}))
}
