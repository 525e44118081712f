package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/learning"
)

// LearningBody is the body of POST /learnings (AgentOS's LearningCreate).
type LearningBody struct {
	LearningType string         `json:"learning_type" minLength:"1" maxLength:"255" doc:"e.g. user_profile, user_memory, session_context, entity_memory, decision_log."`
	Content      map[string]any `json:"content" doc:"The learning's content."`
	Namespace    string         `json:"namespace,omitempty" maxLength:"255" doc:"Scope of sharing: user, global (an entity memory's default) or your own."`
	UserID       string         `json:"user_id,omitempty" maxLength:"255" doc:"The owner; under user isolation the caller (another user is 403)."`
	AgentID      string         `json:"agent_id,omitempty" maxLength:"255"`
	TeamID       string         `json:"team_id,omitempty" maxLength:"255"`
	SessionID    string         `json:"session_id,omitempty" maxLength:"255"`
	EntityID     string         `json:"entity_id,omitempty" maxLength:"255"`
	EntityType   string         `json:"entity_type,omitempty" maxLength:"255"`
	Metadata     map[string]any `json:"metadata,omitempty"`
}

// LearningUpdateBody is the body of PATCH /learnings/{learning_id}
// (AgentOS's LearningUpdate): what it names replaces the stored value.
type LearningUpdateBody struct {
	Content  optionalObject `json:"content,omitempty" doc:"Replacement content (null is refused: omit it to keep the content)."`
	Metadata optionalObject `json:"metadata,omitempty" doc:"Replacement metadata (null clears it)."`
}

// optionalObject is an optional JSON object field that tells absent from
// null.
type optionalObject struct {
	Set   bool
	Value map[string]any
}

func (o *optionalObject) UnmarshalJSON(b []byte) error {
	o.Set = true
	o.Value = nil
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Schema is an object or null.
func (optionalObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, Nullable: true, AdditionalProperties: true}
}

// LearningPage and LearningUserPage are AgentOS's paginated lists.
type LearningPage struct {
	Data []learning.Learning `json:"data"`
	Meta PageMeta            `json:"meta"`
}

type LearningUserPage struct {
	Data []learning.LearningUserStats `json:"data"`
	Meta PageMeta                     `json:"meta"`
}

var errNoLearnings = core.Errorf(core.CodeUnavailable, "learnings are off on this gateway (learnings.enabled: false)")

// learningRoutes are /learnings (AgentOS §1.6). Under user isolation a
// non-admin sees its own learnings and those with no owner, changes only
// its own, and naming another user is 403 (see core/learning).
func (h *Handler) learningRoutes() []Route {
	tags := []string{"Learnings"}
	const id = "learning_id"
	svc := func() (*learning.Service, error) {
		if h.cfg.Learnings == nil {
			return nil, toAPIError(errNoLearnings)
		}
		return h.cfg.Learnings, nil
	}
	scope := func(ctx context.Context) learning.Scope {
		o := h.owned(ctx)
		return learning.Scope{Bound: o.Bound(), UserID: o.UserID("")}
	}
	one := func(l *learning.Learning, err error) (*struct{ Body *learning.Learning }, error) {
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body *learning.Learning }{l}, nil
	}
	meta := func(limit, page, total int, start time.Time) PageMeta {
		m := pageMeta(limit, page, total)
		m.SearchTimeMS = float64(time.Since(start).Microseconds()) / 1000
		return m
	}
	type byID struct {
		ID string `path:"learning_id"`
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "list-learnings", Method: http.MethodGet, Path: "/learnings",
			Summary: "List learnings", Tags: tags},
			Access: scoped(auth.ResourceLearnings, auth.ActionRead, ""), Owner: OwnerFiltered, Errors: []int{403, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				LearningType string `query:"learning_type"`
				UserID       string `query:"user_id"`
				AgentID      string `query:"agent_id"`
				TeamID       string `query:"team_id"`
				SessionID    string `query:"session_id"`
				Namespace    string `query:"namespace"`
				EntityID     string `query:"entity_id"`
				EntityType   string `query:"entity_type"`
				Limit        int    `query:"limit" default:"100" minimum:"1" maximum:"1000"`
				Page         int    `query:"page" default:"1" minimum:"1"`
				SortBy       string `query:"sort_by" doc:"updated_at (default) or created_at; another key is the default."`
				SortOrder    string `query:"sort_order" default:"desc" enum:"asc,desc"`
			}) (*struct{ Body LearningPage }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				start := time.Now()
				list, total, err := s.List(ctx, scope(ctx), learning.Filter{LearningType: in.LearningType, UserID: in.UserID,
					AgentID: in.AgentID, TeamID: in.TeamID, SessionID: in.SessionID, Namespace: in.Namespace, EntityID: in.EntityID,
					EntityType: in.EntityType, Limit: in.Limit, Page: in.Page, SortBy: in.SortBy, SortOrder: in.SortOrder})
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body LearningPage }{LearningPage{Data: list, Meta: meta(in.Limit, in.Page, total, start)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "create-learning", Method: http.MethodPost, Path: "/learnings",
			Summary: "Create a learning", Tags: tags, DefaultStatus: http.StatusCreated,
			Description: "Identity-keyed types (user_profile, user_memory, session_context, entity_memory) get the id agno's learning stores derive from their identity fields; an existing one is 409 (PATCH it)."},
			Access: scoped(auth.ResourceLearnings, auth.ActionWrite, ""), Owner: OwnerAssigned, Errors: []int{403, 409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body LearningBody }) (*struct{ Body *learning.Learning }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				b := in.Body
				return one(s.Create(ctx, scope(ctx), learning.CreateInput{LearningType: b.LearningType, Content: b.Content,
					Namespace: b.Namespace, UserID: b.UserID, AgentID: b.AgentID, TeamID: b.TeamID, SessionID: b.SessionID,
					EntityID: b.EntityID, EntityType: b.EntityType, Metadata: b.Metadata}))
			})},
		{Operation: huma.Operation{OperationID: "list-learning-users", Method: http.MethodGet, Path: "/learnings/users",
			Summary: "List the users owning learnings, with their counts", Tags: tags},
			Access: scoped(auth.ResourceLearnings, auth.ActionRead, ""), Owner: OwnerFiltered, Errors: []int{403, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				LearningType string `query:"learning_type"`
				UserID       string `query:"user_id"`
				Limit        int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
				Page         int    `query:"page" default:"1" minimum:"1"`
				SortBy       string `query:"sort_by" doc:"last_learning_updated_at (default) or user_id."`
				SortOrder    string `query:"sort_order" default:"desc" enum:"asc,desc"`
			}) (*struct{ Body LearningUserPage }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				start := time.Now()
				list, total, err := s.Users(ctx, scope(ctx), learning.UsersFilter{LearningType: in.LearningType, UserID: in.UserID,
					Limit: in.Limit, Page: in.Page, SortBy: in.SortBy, SortOrder: in.SortOrder})
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body LearningUserPage }{LearningUserPage{Data: list, Meta: meta(in.Limit, in.Page, total, start)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "delete-learning-user", Method: http.MethodDelete, Path: "/learnings/users/{user_id}",
			Summary: "Delete a user's learnings", Tags: tags, DefaultStatus: http.StatusNoContent},
			Access: scoped(auth.ResourceLearnings, auth.ActionDelete, ""), Owner: OwnerBound, Errors: []int{403},
			Handle: typed(func(ctx context.Context, in *struct {
				UserID       string `path:"user_id"`
				LearningType string `query:"learning_type" doc:"Only the learnings of this type."`
			}) (*struct{}, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				if _, err := s.DeleteUser(ctx, scope(ctx), in.UserID, in.LearningType); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "get-learning", Method: http.MethodGet, Path: "/learnings/{learning_id}",
			Summary: "Get a learning", Tags: tags},
			Access: scoped(auth.ResourceLearnings, auth.ActionRead, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{ Body *learning.Learning }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Get(ctx, scope(ctx), in.ID))
			})},
		{Operation: huma.Operation{OperationID: "update-learning", Method: http.MethodPatch, Path: "/learnings/{learning_id}",
			Summary: "Update a learning's content or metadata", Tags: tags},
			Access: scoped(auth.ResourceLearnings, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{403, 404, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID   string `path:"learning_id"`
				Body LearningUpdateBody
			}) (*struct{ Body *learning.Learning }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				b := in.Body
				return one(s.Update(ctx, scope(ctx), in.ID, learning.UpdateInput{Content: b.Content.Value, SetContent: b.Content.Set,
					Metadata: b.Metadata.Value, SetMetadata: b.Metadata.Set}))
			})},
		{Operation: huma.Operation{OperationID: "delete-learning", Method: http.MethodDelete, Path: "/learnings/{learning_id}",
			Summary: "Delete a learning", Tags: tags, DefaultStatus: http.StatusNoContent},
			Access: scoped(auth.ResourceLearnings, auth.ActionDelete, id), Owner: OwnerBound, Errors: []int{403, 404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{}, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				if err := s.Delete(ctx, scope(ctx), in.ID); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
	}
}
