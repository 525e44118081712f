package rest

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/memory"
)

// MemoryBody is the body of POST /memories and PATCH
// /memories/{memory_id} (AgentOS's UserMemoryCreateSchema; agent_id and
// team_id beyond it, on create).
type MemoryBody struct {
	Memory  string   `json:"memory" minLength:"1" maxLength:"5000" doc:"The memory's text."`
	UserID  *string  `json:"user_id,omitempty" nullable:"true" maxLength:"255" doc:"Whose memory it is (under user isolation, the caller's)."`
	Topics  []string `json:"topics,omitempty" nullable:"true" maxItems:"50" doc:"Topics; trimmed, duplicates dropped."`
	AgentID *string  `json:"agent_id,omitempty" nullable:"true" maxLength:"255"`
	TeamID  *string  `json:"team_id,omitempty" nullable:"true" maxLength:"255"`
}

func (b MemoryBody) input() memory.Input {
	return memory.Input{Memory: b.Memory, UserID: deref(b.UserID), Topics: b.Topics, AgentID: deref(b.AgentID), TeamID: deref(b.TeamID)}
}

// DeleteMemoriesBody is the body of DELETE /memories (AgentOS's
// DeleteMemoriesRequest).
type DeleteMemoriesBody struct {
	MemoryIDs []string `json:"memory_ids" minItems:"1" maxItems:"1000"`
	UserID    *string  `json:"user_id,omitempty" nullable:"true" doc:"Delete only this user's memories among them."`
}

// OptimizeMemoriesBody is AgentOS's OptimizeMemoriesRequest.
type OptimizeMemoriesBody struct {
	UserID string  `json:"user_id,omitempty" doc:"Whose memories to optimise (under user isolation, the caller's)."`
	Model  *string `json:"model,omitempty" nullable:"true" maxLength:"255" doc:"\"provider:model_id\" or a configured model's name (default: memory.model)."`
	Apply  *bool   `json:"apply,omitempty" nullable:"true" doc:"Write the result (default true); false is a dry run."`
}

// MemoryPage and UserMemoryStatsPage are AgentOS's paginated lists.
type MemoryPage struct {
	Data []memory.Memory `json:"data"`
	Meta PageMeta        `json:"meta"`
}

type UserMemoryStatsPage struct {
	Data []memory.UserStats `json:"data"`
	Meta PageMeta           `json:"meta"`
}

type memoryPath struct {
	ID     string `path:"memory_id"`
	UserID string `query:"user_id" doc:"The memory's user (another's is not found)."`
}

var errNoMemories = core.Errorf(core.CodeUnavailable, "memories are off on this gateway (memory.enabled: false)")

// splitTopics reads AgentOS's comma-separated topics parameter.
func splitTopics(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// memoryRoutes are AgentOS's memory routes (§1.5). Memories are
// owner-bound: under user isolation a non-admin reads, searches,
// optimises and deletes only their own (user_id is forced to the caller's)
// and another's memory is not found.
func (h *Handler) memoryRoutes() []Route {
	tags := []string{"Memory"}
	const id = "memory_id"
	// svc is the service and the caller's scope: under isolation its own
	// user id, otherwise "" (any user).
	svc := func(ctx context.Context) (*memory.Service, string, error) {
		if h.cfg.Memories == nil {
			return nil, "", toAPIError(errNoMemories)
		}
		o := h.owned(ctx)
		scope := o.UserID("")
		if o.Bound() && scope == "" {
			return nil, "", toAPIError(core.Errorf(core.CodeForbidden, "user isolation: the caller has no user id"))
		}
		return h.cfg.Memories, scope, nil
	}
	one := func(m *memory.Memory, err error) (*struct{ Body *memory.Memory }, error) {
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body *memory.Memory }{m}, nil
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "create-memory", Method: http.MethodPost, Path: "/memories",
			Summary: "Create a memory", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionWrite, ""), Owner: OwnerAssigned, Errors: []int{400, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body MemoryBody }) (*struct{ Body *memory.Memory }, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				return one(s.Create(ctx, scope, in.Body.input()))
			})},
		{Operation: huma.Operation{OperationID: "list-memories", Method: http.MethodGet, Path: "/memories",
			Summary: "List and search memories", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionRead, ""), Owner: OwnerFiltered, Errors: []int{400, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				UserID        string `query:"user_id"`
				AgentID       string `query:"agent_id"`
				TeamID        string `query:"team_id"`
				Topics        string `query:"topics" doc:"Comma-separated: memories with any of them."`
				SearchContent string `query:"search_content" maxLength:"5000" doc:"Full-text search of the text: every word, as a prefix (stemmed)."`
				Limit         int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
				Page          int    `query:"page" default:"1" minimum:"1"`
				SortBy        string `query:"sort_by" default:"updated_at" enum:"updated_at,created_at"`
				SortOrder     string `query:"sort_order" default:"desc" enum:"asc,desc"`
			}) (*struct{ Body MemoryPage }, error) {
				start := time.Now()
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				list, total, err := s.List(ctx, scope, memory.Filter{UserID: in.UserID, AgentID: in.AgentID, TeamID: in.TeamID,
					Topics: splitTopics(in.Topics), Search: in.SearchContent, Limit: in.Limit, Page: in.Page,
					SortBy: in.SortBy, SortOrder: in.SortOrder})
				if err != nil {
					return nil, toAPIError(err)
				}
				meta := pageMeta(in.Limit, in.Page, total)
				meta.SearchTimeMS = float64(time.Since(start).Microseconds()) / 1000
				return &struct{ Body MemoryPage }{MemoryPage{Data: list, Meta: meta}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-memory", Method: http.MethodGet, Path: "/memories/{memory_id}",
			Summary: "Get a memory", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionRead, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *memoryPath) (*struct{ Body *memory.Memory }, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				m, err := s.Get(ctx, scope, in.ID)
				if err == nil && scope == "" && in.UserID != "" && m.UserID != in.UserID {
					err = core.Errorf(core.CodeNotFound, "memory %q of user %q not found", in.ID, in.UserID)
				}
				return one(m, err)
			})},
		{Operation: huma.Operation{OperationID: "update-memory", Method: http.MethodPatch, Path: "/memories/{memory_id}",
			Summary: "Update a memory", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{400, 404, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID   string `path:"memory_id"`
				Body MemoryBody
			}) (*struct{ Body *memory.Memory }, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				return one(s.Update(ctx, scope, in.ID, in.Body.input()))
			})},
		{Operation: huma.Operation{OperationID: "delete-memory", Method: http.MethodDelete, Path: "/memories/{memory_id}",
			Summary: "Delete a memory", Tags: tags, DefaultStatus: http.StatusNoContent},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionDelete, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *memoryPath) (*struct{}, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				if err := s.Delete(ctx, scope, in.UserID, in.ID); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "delete-memories", Method: http.MethodDelete, Path: "/memories",
			Summary: "Delete memories in bulk", Tags: tags, DefaultStatus: http.StatusNoContent},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionDelete, ""), Owner: OwnerFiltered, Errors: []int{400, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body DeleteMemoriesBody }) (*struct{}, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				// Only the caller's own (or user_id's) are deleted; others are
				// skipped, as unknown ids are.
				if _, err := s.DeleteMany(ctx, scope, deref(in.Body.UserID), in.Body.MemoryIDs); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "list-memory-topics", Method: http.MethodGet, Path: "/memory_topics",
			Summary: "List the memories' topics", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionRead, ""), Owner: OwnerFiltered,
			Handle: typed(func(ctx context.Context, in *struct {
				UserID string `query:"user_id"`
			}) (*struct{ Body []string }, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				topics, err := s.Topics(ctx, scope, in.UserID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body []string }{topics}, nil
			})},
		{Operation: huma.Operation{OperationID: "user-memory-stats", Method: http.MethodGet, Path: "/user_memory_stats",
			Summary: "Count each user's memories", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionRead, ""), Owner: OwnerFiltered, Errors: []int{422},
			Handle: typed(func(ctx context.Context, in *struct {
				UserID string `query:"user_id"`
				Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
				Page   int    `query:"page" default:"1" minimum:"1"`
			}) (*struct{ Body UserMemoryStatsPage }, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				stats, total, err := s.Stats(ctx, scope, in.UserID, in.Limit, in.Page)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body UserMemoryStatsPage }{UserMemoryStatsPage{Data: stats, Meta: pageMeta(in.Limit, in.Page, total)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "optimize-memories", Method: http.MethodPost, Path: "/optimize-memories",
			Summary: "Summarise a user's memories into fewer with a model", Tags: tags,
			Description: "With apply (the default) the user's memories are replaced by the result in one transaction; apply: false is a dry run."},
			DBScoped: true, Access: scoped(auth.ResourceMemories, auth.ActionWrite, ""), Owner: OwnerFiltered, Errors: []int{400, 413, 422, 503},
			Handle: typed(func(ctx context.Context, in *struct{ Body OptimizeMemoriesBody }) (*struct{ Body *memory.OptimizeResult }, error) {
				s, scope, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				apply := in.Body.Apply == nil || *in.Body.Apply
				res, err := s.Optimize(ctx, scope, in.Body.UserID, deref(in.Body.Model), apply)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body *memory.OptimizeResult }{res}, nil
			})},
	}
}
