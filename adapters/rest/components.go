package rest

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
)

// ComponentBody is the body of POST /components (AgentOS's
// ComponentCreate). With config, version 1 is created.
type ComponentBody struct {
	Name          string         `json:"name" minLength:"1" maxLength:"255"`
	ComponentID   string         `json:"component_id,omitempty" maxLength:"255" doc:"Default: made from name (lower case, '-' between words)."`
	ComponentType string         `json:"component_type" enum:"agent,team,workflow"`
	Description   string         `json:"description,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
	Config        map[string]any `json:"config,omitempty" doc:"Version 1: the agent, team or workflow entry as in the config file's agents, teams or workflows list (without its id)."`
	Label         string         `json:"label,omitempty" maxLength:"255"`
	Stage         string         `json:"stage,omitempty" enum:"draft,published" doc:"Version 1's stage (default draft)."`
	Notes         string         `json:"notes,omitempty"`
	SetCurrent    *bool          `json:"set_current,omitempty" doc:"Make a published version 1 current (default true)."`
}

// ComponentUpdateBody is the body of PATCH /components/{component_id}
// (AgentOS's ComponentUpdate).
type ComponentUpdateBody struct {
	Name           *string        `json:"name,omitempty" maxLength:"255"`
	Description    *string        `json:"description,omitempty"`
	ComponentType  *string        `json:"component_type,omitempty" enum:"agent,team,workflow" doc:"Cannot change."`
	Metadata       optionalObject `json:"metadata,omitempty"`
	CurrentVersion *int           `json:"current_version,omitempty" minimum:"1" doc:"A published version (as set-current)."`
}

// ComponentConfigBody is the body of POST /components/{component_id}/configs
// (AgentOS's ConfigCreate).
type ComponentConfigBody struct {
	Config     map[string]any `json:"config" doc:"The agent, team or workflow entry as in the config file (without its id)."`
	Version    int            `json:"version,omitempty" minimum:"1" doc:"Default: one more than the highest."`
	Label      string         `json:"label,omitempty" maxLength:"255"`
	Stage      string         `json:"stage,omitempty" enum:"draft,published" doc:"Default draft."`
	Notes      string         `json:"notes,omitempty"`
	Links      []any          `json:"links,omitempty" doc:"Accepted for AgentOS clients; a config names its members and steps by id."`
	SetCurrent *bool          `json:"set_current,omitempty" doc:"Make a published version current (default true)."`
}

// ComponentConfigUpdateBody is the body of PATCH
// /components/{component_id}/configs/{version} (AgentOS's ConfigUpdate):
// drafts only. stage published publishes the draft.
type ComponentConfigUpdateBody struct {
	Config     map[string]any `json:"config,omitempty"`
	Label      *string        `json:"label,omitempty" maxLength:"255"`
	Stage      *string        `json:"stage,omitempty" enum:"draft,published"`
	Notes      *string        `json:"notes,omitempty"`
	Links      []any          `json:"links,omitempty"`
	SetCurrent *bool          `json:"set_current,omitempty" doc:"Make the published version current (default: when the component has none)."`
}

// ComponentPage is AgentOS's Paginated[ComponentResponse].
type ComponentPage struct {
	Data []component.Component `json:"data"`
	Meta PageMeta              `json:"meta"`
}

var errNoComponents = core.Errorf(core.CodeUnavailable, "components are off on this gateway (components.enabled: false)")

// versionParam is a version path parameter: a positive integer.
func versionParam(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > component.MaxVersion {
		return 0, toAPIError(core.Errorf(core.CodeInvalid, "version %q is not a version number (a positive integer)", s))
	}
	return v, nil
}

// componentRoutes are /components (AgentOS §1.13). Components are not
// owner-bound: the components scope (read, write, delete) guards them.
func (h *Handler) componentRoutes() []Route {
	tags := []string{"Components"}
	const id = "component_id"
	const res = auth.ResourceComponents
	svc := func() (*component.Service, error) {
		if h.cfg.Components == nil {
			return nil, toAPIError(errNoComponents)
		}
		return h.cfg.Components, nil
	}
	one := func(c *component.Component, err error) (*struct{ Body *component.Component }, error) {
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body *component.Component }{c}, nil
	}
	conf := func(c *component.Config, err error) (*struct{ Body *component.Config }, error) {
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body *component.Config }{c}, nil
	}
	type byID struct {
		ID string `path:"component_id"`
	}
	type byVersion struct {
		ID      string `path:"component_id"`
		Version string `path:"version" doc:"A version number."`
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "list-components", Method: http.MethodGet, Path: "/components",
			Summary: "List components", Tags: tags},
			Access: scoped(res, auth.ActionRead, ""), Errors: []int{422},
			Handle: typed(func(ctx context.Context, in *struct {
				ComponentType string `query:"component_type" enum:"agent,team,workflow"`
				Limit         int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
				Page          int    `query:"page" default:"1" minimum:"1"`
			}) (*struct{ Body ComponentPage }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				start := time.Now()
				list, total, err := s.List(ctx, component.Filter{Type: in.ComponentType, Limit: in.Limit, Page: in.Page})
				if err != nil {
					return nil, toAPIError(err)
				}
				m := pageMeta(in.Limit, in.Page, total)
				m.SearchTimeMS = float64(time.Since(start).Microseconds()) / 1000
				return &struct{ Body ComponentPage }{ComponentPage{Data: list, Meta: m}}, nil
			})},
		{Operation: huma.Operation{OperationID: "create-component", Method: http.MethodPost, Path: "/components",
			Summary: "Create a component", Tags: tags, DefaultStatus: http.StatusCreated,
			Description: "A component is an agent, team or workflow kept in the database, in versions. Its config is the config file's entry of its type, checked as `agentgate config check` checks it (422 with the same field paths). An id of the config file's runnables is 409."},
			Access: scoped(res, auth.ActionWrite, ""), Errors: []int{409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body ComponentBody }) (*struct{ Body *component.Component }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				b := in.Body
				c, _, err := s.Create(ctx, component.CreateInput{ID: b.ComponentID, Type: b.ComponentType, Name: b.Name,
					Description: b.Description, Metadata: b.Metadata, Config: b.Config, Label: b.Label, Stage: b.Stage,
					Notes: b.Notes, SetCurrent: b.SetCurrent})
				return one(c, err)
			})},
		{Operation: huma.Operation{OperationID: "get-component", Method: http.MethodGet, Path: "/components/{component_id}",
			Summary: "Get a component", Tags: tags},
			Access: scoped(res, auth.ActionRead, id), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{ Body *component.Component }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Get(ctx, in.ID))
			})},
		{Operation: huma.Operation{OperationID: "update-component", Method: http.MethodPatch, Path: "/components/{component_id}",
			Summary: "Update a component", Tags: tags},
			Access: scoped(res, auth.ActionWrite, id), Errors: []int{404, 409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID   string `path:"component_id"`
				Body ComponentUpdateBody
			}) (*struct{ Body *component.Component }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				b := in.Body
				return one(s.Update(ctx, in.ID, component.UpdateInput{Name: b.Name, Description: b.Description,
					Type: b.ComponentType, Metadata: b.Metadata.Value, SetMetadata: b.Metadata.Set, CurrentVersion: b.CurrentVersion}))
			})},
		{Operation: huma.Operation{OperationID: "delete-component", Method: http.MethodDelete, Path: "/components/{component_id}",
			Summary: "Delete a component", Tags: tags, DefaultStatus: http.StatusNoContent,
			Description: "Soft: the id stays taken; runs of the component already started finish."},
			Access: scoped(res, auth.ActionDelete, id), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{}, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				if err := s.Delete(ctx, in.ID); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "list-component-configs", Method: http.MethodGet, Path: "/components/{component_id}/configs",
			Summary: "List a component's versions", Tags: tags},
			Access: scoped(res, auth.ActionRead, id), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				ID            string `path:"component_id"`
				IncludeConfig bool   `query:"include_config" default:"true"`
			}) (*struct{ Body []component.Config }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				list, err := s.ListConfigs(ctx, in.ID)
				if err != nil {
					return nil, toAPIError(err)
				}
				if !in.IncludeConfig {
					for i := range list {
						list[i].Config = map[string]any{}
					}
				}
				return &struct{ Body []component.Config }{list}, nil
			})},
		{Operation: huma.Operation{OperationID: "create-component-config", Method: http.MethodPost, Path: "/components/{component_id}/configs",
			Summary: "Create a version of a component", Tags: tags, DefaultStatus: http.StatusCreated},
			Access: scoped(res, auth.ActionWrite, id), Errors: []int{404, 409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID   string `path:"component_id"`
				Body ComponentConfigBody
			}) (*struct{ Body *component.Config }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				b := in.Body
				return conf(s.CreateConfig(ctx, in.ID, component.ConfigInput{Config: b.Config, Version: b.Version, Label: b.Label,
					Stage: b.Stage, Notes: b.Notes, SetCurrent: b.SetCurrent}))
			})},
		{Operation: huma.Operation{OperationID: "get-component-current-config", Method: http.MethodGet, Path: "/components/{component_id}/configs/current",
			Summary: "Get a component's current version", Tags: tags},
			Access: scoped(res, auth.ActionRead, id), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{ Body *component.Config }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return conf(s.Current(ctx, in.ID))
			})},
		{Operation: huma.Operation{OperationID: "get-component-config", Method: http.MethodGet, Path: "/components/{component_id}/configs/{version}",
			Summary: "Get a version of a component", Tags: tags},
			Access: scoped(res, auth.ActionRead, id), Errors: []int{404, 422},
			Handle: typed(func(ctx context.Context, in *byVersion) (*struct{ Body *component.Config }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				v, err := versionParam(in.Version)
				if err != nil {
					return nil, err
				}
				return conf(s.GetConfig(ctx, in.ID, v))
			})},
		{Operation: huma.Operation{OperationID: "update-component-config", Method: http.MethodPatch, Path: "/components/{component_id}/configs/{version}",
			Summary: "Update (or publish) a draft", Tags: tags,
			Description: "Drafts only: a published version is immutable (409). stage published publishes the draft."},
			Access: scoped(res, auth.ActionWrite, id), Errors: []int{404, 409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID      string `path:"component_id"`
				Version string `path:"version"`
				Body    ComponentConfigUpdateBody
			}) (*struct{ Body *component.Config }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				v, err := versionParam(in.Version)
				if err != nil {
					return nil, err
				}
				b := in.Body
				return conf(s.UpdateConfig(ctx, in.ID, v, component.ConfigUpdate{Config: b.Config, Label: b.Label, Stage: b.Stage,
					Notes: b.Notes, SetCurrent: b.SetCurrent}))
			})},
		{Operation: huma.Operation{OperationID: "delete-component-config", Method: http.MethodDelete, Path: "/components/{component_id}/configs/{version}",
			Summary: "Delete a draft", Tags: tags, DefaultStatus: http.StatusNoContent,
			Description: "Drafts only: a published version is immutable (409)."},
			Access: scoped(res, auth.ActionDelete, id), Errors: []int{404, 409, 422},
			Handle: typed(func(ctx context.Context, in *byVersion) (*struct{}, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				v, err := versionParam(in.Version)
				if err != nil {
					return nil, err
				}
				if err := s.DeleteConfig(ctx, in.ID, v); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "set-component-current-config", Method: http.MethodPost, Path: "/components/{component_id}/configs/{version}/set-current",
			Summary: "Make a published version current (publish, roll back)", Tags: tags,
			Description: "The version runs at once on every replica (within components.refresh). A draft is 409: publish it first."},
			Access: scoped(res, auth.ActionWrite, id), Errors: []int{404, 409, 422},
			Handle: typed(func(ctx context.Context, in *byVersion) (*struct{ Body *component.Component }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				v, err := versionParam(in.Version)
				if err != nil {
					return nil, err
				}
				return one(s.SetCurrent(ctx, in.ID, v))
			})},
	}
}
