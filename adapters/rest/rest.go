// Package rest is the REST + SSE adapter: agno AgentOS-compatible routes for
// agents, runs and sessions, rendering core events as SSE frames and mapping
// forms onto Engine calls. It holds no run logic of its own.
package rest

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
	"github.com/agentgate/agentgate/core/eval"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/learning"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/metric"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Config configures the REST adapter.
type Config struct {
	// Name and Description describe this gateway in /config.
	Name        string
	Description string
	// Version is reported by /config and the OpenAPI document.
	Version string
	// Databases are the configured backends /config names; the first is
	// the db_id of every agent (where its sessions live).
	Databases []DatabaseInfo
	// Policy is the auth policy every route asks (default: a new one);
	// Register declares the routes' entries in it. The caller checks it
	// with CheckCoverage once every interface is mounted.
	Policy *auth.Policy
	// ServiceAccounts is the service accounts' store /service-accounts
	// serves (nil: those routes answer 501).
	ServiceAccounts auth.ServiceAccountStore
	// Schedules is the schedules' service /schedules serves (nil: those
	// routes answer 503).
	Schedules *schedule.Service
	// Memories is the memories' service /memories serves (nil: those
	// routes answer 503).
	Memories *memory.Service
	// Knowledge is the knowledge bases' service /knowledge serves (nil:
	// none is configured, those routes answer 404).
	Knowledge *knowledge.Service
	// Learnings is the learnings' service /learnings serves (nil: those
	// routes answer 503).
	Learnings *learning.Service
	// Evals is the evals' service /eval-runs serves (nil: those routes
	// answer 503).
	Evals *eval.Service
	// Components is the components' service /components serves (nil:
	// those routes answer 503).
	Components *component.Service
	// Traces is the traces' service /traces serves (nil: those routes
	// answer 503).
	Traces *trace.Service
	// Metrics is the metrics' service /metrics serves (nil: those routes
	// answer 503).
	Metrics *metric.Service
	// Media stores the files, images, audio and video runs are sent (its
	// limits, its URL client) and serves them back from its Store (nil: a
	// run form with media is refused).
	Media *media.Resolver
	// Interfaces are the interfaces /config lists (default REST alone),
	// asked on each request: the gateway mounts the others after REST.
	Interfaces func() []InterfaceInfo
	// MCPPath is where the MCP server is served ("" when it is not), as
	// /info reports it.
	MCPPath string
	// Docs describe security and servers in the OpenAPI document.
	Docs DocsOptions
}

// DatabaseInfo describes a configured backend in /config.
type DatabaseInfo struct {
	ID   string `json:"db_id"`
	Kind string `json:"kind"`
	// Migrator moves its schema (POST /databases/{db_id}/migrate); nil
	// when it cannot be migrated from the API.
	Migrator Migrator `json:"-"`
}

// Handler serves the REST routes.
type Handler struct {
	policy  *auth.Policy
	eng     *core.Engine
	srv     *httptransport.Server
	cfg     Config
	api     huma.API
	started int64
	// byOperation are the mounted routes by OpenAPI operation id.
	byOperation map[string]*Route
}

// statusOf is the one table from core error codes to HTTP statuses.
var statusOf = map[core.ErrorCode]int{
	core.CodeInvalid:      http.StatusBadRequest,
	core.CodeNotFound:     http.StatusNotFound,
	core.CodeConflict:     http.StatusConflict,
	core.CodeGone:         http.StatusGone,
	core.CodeUnauthorized: http.StatusUnauthorized,
	core.CodeForbidden:    http.StatusForbidden,
	core.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	core.CodeUnavailable:  http.StatusServiceUnavailable,
	core.CodeNotImpl:      http.StatusNotImplemented,
	core.CodeInternal:     http.StatusInternalServerError,

	core.CodeUnprocessable: http.StatusUnprocessableEntity, // an idempotency key sent with another request
}

// StatusOf maps an error to its HTTP status.
func StatusOf(err error) int {
	if s, ok := statusOf[core.CodeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// apiError is the error every route returns: {"detail": "..."}.
type apiError struct {
	status int
	httptransport.ErrorBody
	Errors []*huma.ErrorDetail `json:"errors,omitempty"`
}

func (e *apiError) Error() string  { return e.Detail }
func (e *apiError) GetStatus() int { return e.status }

func toAPIError(err error) *apiError {
	return &apiError{status: StatusOf(err), ErrorBody: errorBody(err)}
}

// fromErrorModel gives the errors huma writes itself (validation, unreadable
// bodies, and huma.WriteErr) the {"detail"} shape of every other error. It
// runs as a transformer of this adapter's API instead of replacing the global
// huma.NewError, so that another huma API in the same process (an embedder's)
// keeps huma's own error model.
//
// huma builds the ErrorModel from the errors it was given: validation errors
// are ErrorDetails, which always carry a location; any other error became a
// detail without one. Those are left out of "errors" and only fill an empty
// detail, and the first located error replaces the generic "validation
// failed".
func fromErrorModel(m *huma.ErrorModel) *apiError {
	e := &apiError{status: m.Status, ErrorBody: httptransport.ErrorBody{Detail: m.Detail}}
	for _, d := range m.Errors {
		switch {
		case d == nil:
		case d.Location != "":
			e.Errors = append(e.Errors, d)
			if e.Detail == "validation failed" || e.Detail == "" {
				e.Detail = d.Error()
			}
		case e.Detail == "":
			e.Detail = d.Message
		}
	}
	return e
}

// detailErrors is the adapter's transformer: it swaps huma's ErrorModel for
// an apiError. huma chose the response's Content-Type from the ErrorModel
// (application/problem+json); it is set back to the negotiated type, which
// is what an apiError body is sent with.
func detailErrors(api huma.API, ctx huma.Context, v any) (any, error) {
	m, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	ct, err := api.Negotiate(ctx.Header("Accept"))
	if err != nil {
		ct = "application/json"
	}
	ctx.SetHeader("Content-Type", ct)
	return fromErrorModel(m), nil
}

// documentErrors makes the OpenAPI document describe the errors as they are
// sent: huma documents its ErrorModel; the alias makes that schema the
// apiError's, and the hook files it under application/json, not
// application/problem+json.
func documentErrors(oapi *huma.OpenAPI) {
	oapi.Components.Schemas.RegisterTypeAlias(reflect.TypeOf(huma.ErrorModel{}), reflect.TypeOf(apiError{}))
	oapi.OnAddOperation = append(oapi.OnAddOperation, func(_ *huma.OpenAPI, op *huma.Operation) {
		for _, r := range op.Responses {
			if mt, ok := r.Content["application/problem+json"]; ok {
				delete(r.Content, "application/problem+json")
				r.Content["application/json"] = mt
			}
		}
	})
}

// Register mounts the REST routes, /openapi.json and /docs on srv's app.
func Register(srv *httptransport.Server, eng *core.Engine, cfg Config) *Handler {
	if cfg.Name == "" {
		cfg.Name = "agentgate"
	}
	hc := huma.DefaultConfig("agentgate", cfg.Version)
	hc.Info.Description = "Multi-protocol gateway for AI agents: REST + SSE API (AgentOS-compatible)."
	hc.CreateHooks = nil // no $schema links in bodies
	hc.DocsPath = ""     // /docs is served from embedded assets (registerDocs)
	hc.OpenAPIPath = "/openapi"
	hc.SchemasPath = "/schemas"
	var api huma.API
	hc.Transformers = append(hc.Transformers, func(ctx huma.Context, _ string, v any) (any, error) {
		return detailErrors(api, ctx, v)
	})
	documentErrors(hc.OpenAPI)
	api = humafiber.New(srv.App, hc)
	if cfg.Policy == nil {
		cfg.Policy = auth.NewPolicy()
	}
	h := &Handler{policy: cfg.Policy, eng: eng, srv: srv, cfg: cfg, api: api, started: time.Now().Unix(),
		byOperation: map[string]*Route{}}
	api.UseMiddleware(h.humaAuthz)
	h.mount(h.routes())
	h.completeDocument()
	return h
}

// API returns the huma API (to add documented routes).
func (h *Handler) API() huma.API { return h.api }

// fail answers a raw fiber route with the mapped error.
func fail(c *fiber.Ctx, err error) error {
	return httptransport.WriteError(c, StatusOf(err), errorBody(err))
}

// documentRaw adds a route served by a plain fiber handler (forms and SSE)
// to the OpenAPI document, with schemas generated from the Go types.
func (h *Handler) documentRaw(op *huma.Operation, form any, resp any) {
	reg := h.api.OpenAPI().Components.Schemas
	if form != nil {
		s := reg.Schema(reflect.TypeOf(form), true, "")
		op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data":               {Schema: s},
			"application/x-www-form-urlencoded": {Schema: s},
		}}
	}
	op.Responses = map[string]*huma.Response{
		"200": {Description: "The run as JSON, or its events as text/event-stream (id: event_index, event: type, data: event JSON).",
			Content: map[string]*huma.MediaType{
				"text/event-stream": {Schema: reg.Schema(reflect.TypeOf(core.Event{}), true, "")},
			}},
		"default": {Description: "Error", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeOf(httptransport.ErrorBody{}), true, "")},
		}},
	}
	if _, raw := resp.(rawBytes); raw {
		// The bytes of a medium, of its own content type.
		op.Responses["200"] = &huma.Response{Description: "The bytes, of their own content type.",
			Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Description: "The medium's bytes."}}}}
		h.api.OpenAPI().AddOperation(op)
		return
	}
	if resp != nil {
		op.Responses["200"].Content["application/json"] = &huma.MediaType{Schema: reg.Schema(reflect.TypeOf(resp), true, "")}
		if _, run := resp.(core.Run); !run {
			// Not a run route: a JSON answer only.
			r := op.Responses["200"]
			r.Description = "OK"
			delete(r.Content, "text/event-stream")
		}
	}
	h.api.OpenAPI().AddOperation(op)
}

// Core routes ------------------------------------------------------------

// HealthBody answers GET /health.
type HealthBody struct {
	Status         string `json:"status" example:"ok"`
	InstantiatedAt int64  `json:"instantiated_at"`
}

// AgentResponse describes one agent in AgentOS's shape (agno
// os/routers/agents/schema.py AgentResponse): the optional settings are
// objects, never bare lists or booleans, and db_id names the database
// its sessions live in (without it agno's Agent UI never loads them).
type AgentResponse struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	DBID          string          `json:"db_id"`
	Description   string          `json:"description,omitempty"`
	Model         *core.ModelInfo `json:"model,omitempty"`
	Tools         *AgentTools     `json:"tools,omitempty"`
	SystemMessage *AgentSystem    `json:"system_message,omitempty"`
	Streaming     AgentStreaming  `json:"streaming"`
	IsFactory     bool            `json:"is_factory"`
	IsComponent   bool            `json:"is_component"`
	// CurrentVersion and Stage are a component's (is_component) current
	// version and its stage.
	CurrentVersion *int   `json:"current_version,omitempty"`
	Stage          string `json:"stage,omitempty"`
}

// AgentTools is the tools block of an agent: {"tools": [...]}.
type AgentTools struct {
	Tools []core.ToolInfo `json:"tools"`
}

// AgentSystem is the system_message block: the agent's instructions.
type AgentSystem struct {
	Instructions string `json:"instructions,omitempty"`
}

// AgentStreaming is the streaming block: runs stream unless asked not to.
type AgentStreaming struct {
	Stream bool `json:"stream"`
}

// AgentSummary is an agent in /config.
type AgentSummary struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	DBID        string        `json:"db_id"`
	Model       *SummaryModel `json:"model,omitempty"`
}

// SummaryModel is the model of an agent summary: {id, provider}.
type SummaryModel struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
}

// InterfaceInfo names a served interface in /config.
type InterfaceInfo struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	Route   string `json:"route"`
}

// DomainConfig is one domain block of /config (AgentOS's SessionConfig
// and its siblings in agno os/config.py): the databases serving it.
type DomainConfig struct {
	DBs []DomainDB `json:"dbs"`
}

// DomainDB is one database of a domain block.
type DomainDB struct {
	DBID         string        `json:"db_id"`
	DomainConfig DomainDisplay `json:"domain_config"`
	Tables       []string      `json:"tables"`
}

// DomainDisplay is how a UI labels a database.
type DomainDisplay struct {
	DisplayName string `json:"display_name"`
}

// ConfigBody answers GET /config (agno os/schema.py ConfigResponse).
type ConfigBody struct {
	OSID        string          `json:"os_id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Version     string          `json:"version"`
	Agents      []AgentSummary  `json:"agents"`
	Teams       []AgentSummary  `json:"teams"`
	Workflows   []AgentSummary  `json:"workflows"`
	Interfaces  []InterfaceInfo `json:"interfaces"`
	// Databases are the ids of the databases (AgentOS lists ids only).
	Databases []string `json:"databases"`
	// OSDatabase is the database of the gateway's own state.
	OSDatabase string `json:"os_database,omitempty"`
	// Session is the sessions' domain block: sessions and their runs.
	Session *DomainConfig `json:"session,omitempty"`
	// Memory is the memories' block (when they are served).
	Memory *DomainConfig `json:"memory,omitempty"`
	// Knowledge is the knowledge bases' domain block, when some are
	// configured.
	Knowledge *DomainConfig `json:"knowledge,omitempty"`
	// Learning is the learnings' domain block, when they are served.
	Learning *DomainConfig `json:"learning,omitempty"`
	// Traces is the traces' domain block, when they are served.
	Traces *DomainConfig `json:"traces,omitempty"`
	// Evals is the evals' domain block, when they are served.
	Evals *DomainConfig `json:"evals,omitempty"`
	// Metrics is the metrics' domain block, when they are served.
	Metrics *DomainConfig `json:"metrics,omitempty"`
}

// dbID is the id of the database the sessions live in.
func (h *Handler) dbID() string {
	if len(h.cfg.Databases) > 0 {
		return h.cfg.Databases[0].ID
	}
	return ""
}

func summaryModel(m *core.ModelInfo) *SummaryModel {
	if m == nil {
		return nil
	}
	return &SummaryModel{ID: m.Model, Provider: m.Provider}
}

func (h *Handler) agentResponse(a core.Agent) AgentResponse { return h.agentInfoResponse(a.Info()) }

func (h *Handler) coreRoutes() []Route {
	return []Route{
		{Operation: huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/health", Summary: "Liveness", Tags: []string{"Core"}},
			Access: public(),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body HealthBody }, error) {
				return &struct{ Body HealthBody }{HealthBody{Status: "ok", InstantiatedAt: h.started}}, nil
			})},
		{Operation: huma.Operation{OperationID: "ready", Method: http.MethodGet, Path: "/ready", Summary: "Readiness: the state store and the event log answer", Tags: []string{"Core"},
			Responses: map[string]*huma.Response{"503": {Description: "A backend does not answer"}}},
			Access: public(),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct {
				Status int
				Body   core.Readiness
			}, error) {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				r := h.eng.Ready(cctx)
				status := http.StatusOK
				if !r.Ready {
					status = http.StatusServiceUnavailable
				}
				return &struct {
					Status int
					Body   core.Readiness
				}{status, r}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-config", Method: http.MethodGet, Path: "/config", Summary: "Gateway configuration", Tags: []string{"Core"}},
			Access: scoped(auth.ResourceConfig, auth.ActionRead, ""),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body ConfigBody }, error) {
				b := ConfigBody{OSID: h.cfg.Name, Name: h.cfg.Name, Description: h.cfg.Description, Version: h.cfg.Version,
					Agents: []AgentSummary{}, Teams: []AgentSummary{}, Workflows: []AgentSummary{},
					Interfaces: []InterfaceInfo{{Type: "rest", Version: "1", Route: "/"}},
					Databases:  []string{}, OSDatabase: h.dbID()}
				if len(h.cfg.Databases) > 0 {
					b.Session = &DomainConfig{DBs: []DomainDB{}}
				}
				for _, d := range h.cfg.Databases {
					b.Databases = append(b.Databases, d.ID)
					b.Session.DBs = append(b.Session.DBs, DomainDB{DBID: d.ID, DomainConfig: DomainDisplay{DisplayName: d.ID}, Tables: []string{}})
				}
				if h.cfg.Memories != nil && b.Session != nil {
					b.Memory = &DomainConfig{DBs: b.Session.DBs} // one database holds both
				}
				if h.cfg.Knowledge != nil && len(h.cfg.Databases) > 0 {
					d := h.cfg.Databases[0] // the state database keeps them
					b.Knowledge = &DomainConfig{DBs: []DomainDB{{DBID: d.ID, DomainConfig: DomainDisplay{DisplayName: d.ID},
						Tables: []string{"knowledge_contents", "knowledge_chunks"}}}}
				}
				if h.cfg.Learnings != nil && len(h.cfg.Databases) > 0 {
					d := h.cfg.Databases[0] // the state database keeps them
					b.Learning = &DomainConfig{DBs: []DomainDB{{DBID: d.ID, DomainConfig: DomainDisplay{DisplayName: d.ID}, Tables: []string{"learnings"}}}}
				}
				if h.cfg.Traces != nil && len(h.cfg.Databases) > 0 {
					d := h.cfg.Databases[0] // the state database keeps them
					b.Traces = &DomainConfig{DBs: []DomainDB{{DBID: d.ID, DomainConfig: DomainDisplay{DisplayName: d.ID}, Tables: []string{"traces", "spans"}}}}
				}
				if h.cfg.Evals != nil && len(h.cfg.Databases) > 0 {
					d := h.cfg.Databases[0] // the state database keeps them
					b.Evals = &DomainConfig{DBs: []DomainDB{{DBID: d.ID, DomainConfig: DomainDisplay{DisplayName: d.ID}, Tables: []string{"eval_runs"}}}}
				}
				if h.cfg.Metrics != nil && len(h.cfg.Databases) > 0 {
					d := h.cfg.Databases[0] // the state database keeps them
					b.Metrics = &DomainConfig{DBs: []DomainDB{{DBID: d.ID, DomainConfig: DomainDisplay{DisplayName: d.ID}, Tables: []string{"metrics_days"}}}}
				}
				if h.cfg.Interfaces != nil {
					b.Interfaces = h.cfg.Interfaces()
				}
				b.Agents = h.summaries(ctx, core.KindAgent, auth.ResourceAgents)
				b.Teams = h.summaries(ctx, core.KindTeam, auth.ResourceTeams)
				b.Workflows = h.summaries(ctx, core.KindWorkflow, auth.ResourceWorkflows)
				return &struct{ Body ConfigBody }{b}, nil
			})},
		{Operation: huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/agents", Summary: "List agents", Tags: []string{"Agents"}},
			Access: listed(auth.ResourceAgents, auth.ActionRead),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body []AgentResponse }, error) {
				out := []AgentResponse{}
				see := visible(ctx, auth.ResourceAgents, auth.ActionRead)
				for _, a := range h.eng.Agents() {
					if see(a.Info().ID) {
						out = append(out, h.agentResponse(a))
					}
				}
				return &struct{ Body []AgentResponse }{out}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-agent", Method: http.MethodGet, Path: "/agents/{agent_id}", Summary: "Get an agent", Tags: []string{"Agents"}},
			Access: scoped(auth.ResourceAgents, auth.ActionRead, "agent_id"), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				AgentID string `path:"agent_id"`
			}) (*struct{ Body AgentResponse }, error) {
				a, err := h.eng.Agent(in.AgentID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body AgentResponse }{h.agentResponse(a)}, nil
			})},
	}
}
