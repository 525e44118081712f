package rest

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// PageMeta is agno's pagination block.
type PageMeta struct {
	Page         int     `json:"page"`
	Limit        int     `json:"limit"`
	TotalPages   int     `json:"total_pages"`
	TotalCount   int     `json:"total_count"`
	SearchTimeMS float64 `json:"search_time_ms"`
}

// SessionPage is a page of sessions.
type SessionPage struct {
	Data []SessionSchema `json:"data"`
	Meta PageMeta        `json:"meta"`
}

// SessionSchema is a session as AgentOS answers it (agno os/schema.py
// SessionSchema): the summary is an object, not a bare string.
type SessionSchema struct {
	*core.Session
	Summary *SessionSummary `json:"session_summary,omitempty"`
}

// SessionSummary is agno's session summary object.
type SessionSummary struct {
	Summary string `json:"summary"`
}

func sessionSchema(s *core.Session) SessionSchema {
	out := SessionSchema{Session: s}
	if s.Summary != "" {
		out.Summary = &SessionSummary{Summary: s.Summary}
	}
	return out
}

// SessionDetail is one session with its chat history.
type SessionDetail struct {
	SessionSchema
	AgentSessionID string `json:"agent_session_id,omitempty"`
	// WorkflowName names a workflow session's workflow (agno's
	// WorkflowSessionDetailSchema).
	WorkflowName string         `json:"workflow_name,omitempty"`
	ChatHistory  []core.Message `json:"chat_history"`
	TotalTokens  int64          `json:"total_tokens"`
}

// CreateSessionBody is the body of POST /sessions. agno's client sends
// every field, null when unset, so each one may be null.
type CreateSessionBody struct {
	SessionID    *string        `json:"session_id,omitempty" nullable:"true"`
	SessionName  *string        `json:"session_name,omitempty" maxLength:"1024" nullable:"true"`
	SessionState map[string]any `json:"session_state,omitempty" nullable:"true"`
	Metadata     map[string]any `json:"metadata,omitempty" nullable:"true"`
	UserID       *string        `json:"user_id,omitempty" nullable:"true"`
	AgentID      *string        `json:"agent_id,omitempty" nullable:"true"`
	TeamID       *string        `json:"team_id,omitempty" nullable:"true"`
	WorkflowID   *string        `json:"workflow_id,omitempty" nullable:"true"`
}

// deref is the string p points to, or "".
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// UpdateSessionBody is the body of PATCH /sessions/{session_id}.
type UpdateSessionBody struct {
	SessionName  *string        `json:"session_name,omitempty" maxLength:"1024"`
	SessionState map[string]any `json:"session_state,omitempty"`
	Metadata     map[string]any `json:"metadata,omitempty"`
	// Summary is agno's summary object ({"summary": "..."}) or the text.
	Summary any `json:"summary,omitempty" doc:"The summary: agno's {\"summary\": \"...\"} object, or its text."`
}

// summaryText reads PATCH's summary: nil when absent.
func summaryText(v any) (*string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return &x, nil
	case map[string]any:
		if s, ok := x["summary"].(string); ok {
			return &s, nil
		}
	}
	return nil, core.Errorf(core.CodeInvalid, `summary must be {"summary": "<text>"} or a string`)
}

// RenameBody is the body of POST /sessions/{session_id}/rename.
type RenameBody struct {
	SessionName string `json:"session_name" minLength:"1" maxLength:"1024"`
}

// DeleteSessionsBody is the body of DELETE /sessions.
type DeleteSessionsBody struct {
	SessionIDs   []string `json:"session_ids" minItems:"1"`
	SessionTypes []string `json:"session_types,omitempty" doc:"Same length as session_ids when given."`
}

type sessionPath struct {
	SessionID string `path:"session_id"`
}

func (h *Handler) detail(ctx context.Context, s *core.Session) (*SessionDetail, error) {
	runs, err := h.eng.List(ctx, core.ListRunsParams{SessionID: s.SessionID})
	if err != nil {
		return nil, err
	}
	d := &SessionDetail{SessionSchema: sessionSchema(s), ChatHistory: []core.Message{}}
	if s.SessionType == core.SessionAgent {
		d.AgentSessionID = s.SessionID
	}
	if s.WorkflowID != "" {
		if w, err := h.eng.Runnable(core.KindWorkflow, s.WorkflowID); err == nil {
			d.WorkflowName = w.Info().Name
		}
	}
	if s.SessionName == "" && len(runs) > 0 {
		d.Session = namedAfter(s, runs[0])
	}
	for _, r := range runs {
		if r.ParentRunID != "" {
			// A team member's or a workflow step's run: its tokens count,
			// its messages are not the session's conversation.
			if r.Metrics != nil {
				d.TotalTokens += r.Metrics.TotalTokens
			}
			continue
		}
		for _, m := range r.Messages {
			if m.Role != "system" {
				d.ChatHistory = append(d.ChatHistory, m)
			}
		}
		if r.Metrics != nil {
			d.TotalTokens += r.Metrics.TotalTokens
		}
	}
	return d, nil
}

// namedAfter is an unnamed session (created before its first run) named
// after its first run's message, as AgentOS names it when it is read.
func namedAfter(s *core.Session, first *core.Run) *core.Session {
	named := *s
	named.SessionName = core.SessionNameOf(first.Input.InputContent)
	return &named
}

// session returns the session if the principal may see it (404 otherwise).
func (h *Handler) session(ctx context.Context, id string) (*core.Session, error) {
	return h.owned(ctx).Session(ctx, id)
}

func (h *Handler) sessionRoutes() []Route {
	tags := []string{"Sessions"}
	var routes []Route
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "list-sessions", Method: http.MethodGet, Path: "/sessions", Summary: "List sessions", Tags: tags},
		DBScoped: true, Access: listed(auth.ResourceSessions, auth.ActionRead), Owner: OwnerFiltered, Errors: []int{422},
		Handle: typed(func(ctx context.Context, in *struct {
			Type        string `query:"type" enum:"agent,team,workflow" default:"agent"`
			ComponentID string `query:"component_id"`
			UserID      string `query:"user_id"`
			SessionName string `query:"session_name" doc:"Case-insensitive part of the name."`
			Limit       int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
			Page        int    `query:"page" default:"1" minimum:"1"`
			SortBy      string `query:"sort_by" default:"created_at" enum:"created_at,updated_at,session_name"`
			SortOrder   string `query:"sort_order" default:"desc" enum:"asc,desc"`
		}) (*struct{ Body SessionPage }, error) {
			start := time.Now()
			userID := h.owned(ctx).UserID(in.UserID)
			var ids []string // nil: every session; else only those the scopes name
			if all, scoped := principal(ctx).VisibleIDs(auth.ResourceSessions, auth.ActionRead); !all {
				ids = append([]string{}, scoped...)
			}
			list, total, err := h.eng.ListSessions(ctx, core.ListSessionsParams{
				SessionIDs: ids,
				Type:       core.SessionType(in.Type), ComponentID: in.ComponentID, UserID: userID, NameLike: in.SessionName,
				SortBy: in.SortBy, SortOrder: core.SortOrder(in.SortOrder), Limit: in.Limit, Page: in.Page,
			})
			if err != nil {
				return nil, toAPIError(err)
			}
			data := make([]SessionSchema, 0, len(list))
			for _, s := range list {
				if s.SessionName == "" {
					// Rare: sessions a run creates are named then.
					first, err := h.eng.List(ctx, core.ListRunsParams{SessionID: s.SessionID, Limit: 1})
					if err != nil {
						return nil, toAPIError(err)
					}
					if len(first) > 0 {
						s = namedAfter(s, first[0])
					}
				}
				data = append(data, sessionSchema(s))
			}
			pages := int(math.Ceil(float64(total) / float64(in.Limit)))
			return &struct{ Body SessionPage }{SessionPage{Data: data, Meta: PageMeta{
				Page: in.Page, Limit: in.Limit, TotalPages: pages, TotalCount: total,
				SearchTimeMS: float64(time.Since(start).Microseconds()) / 1000,
			}}}, nil
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "create-session", Method: http.MethodPost, Path: "/sessions", Summary: "Create a session", Tags: tags, DefaultStatus: http.StatusCreated},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionWrite, ""), Owner: OwnerAssigned, Errors: []int{400, 409, 413, 422},
		Handle: typed(func(ctx context.Context, in *struct {
			Type string `query:"type" enum:"agent,team,workflow" default:"agent"`
			Body CreateSessionBody
		}) (*struct{ Body *SessionDetail }, error) {
			// Session ids are global, so a client-chosen id that is taken
			// cannot be created whoever holds it: the answer (409, the
			// same detail) is the same for one of the caller's own
			// sessions and another user's, and names no owner. Reading
			// routes answer another user's session as absent (404);
			// generated ids are random, so only ids clients chose can be
			// probed this way.
			b := in.Body
			s, err := h.eng.CreateSession(ctx, &core.Session{
				SessionID: deref(b.SessionID), SessionName: deref(b.SessionName), SessionType: core.SessionType(in.Type),
				SessionState: b.SessionState, Metadata: b.Metadata, UserID: h.owned(ctx).UserID(deref(b.UserID)),
				AgentID: deref(b.AgentID), TeamID: deref(b.TeamID), WorkflowID: deref(b.WorkflowID),
			})
			if err != nil {
				return nil, toAPIError(err)
			}
			d, err := h.detail(ctx, s)
			if err != nil {
				return nil, toAPIError(err)
			}
			return &struct{ Body *SessionDetail }{d}, nil
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "get-session", Method: http.MethodGet, Path: "/sessions/{session_id}", Summary: "Get a session with its chat history", Tags: tags},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionRead, "session_id"), Owner: OwnerBound, Errors: []int{404},
		Handle: typed(func(ctx context.Context, in *sessionPath) (*struct{ Body *SessionDetail }, error) {
			s, err := h.session(ctx, in.SessionID)
			if err != nil {
				return nil, toAPIError(err)
			}
			d, err := h.detail(ctx, s)
			if err != nil {
				return nil, toAPIError(err)
			}
			return &struct{ Body *SessionDetail }{d}, nil
		})})
	update := func(ctx context.Context, p core.UpdateSessionParams) (*struct{ Body *SessionDetail }, error) {
		if _, err := h.session(ctx, p.SessionID); err != nil {
			return nil, toAPIError(err)
		}
		s, err := h.eng.UpdateSession(ctx, p)
		if err != nil {
			return nil, toAPIError(err)
		}
		d, err := h.detail(ctx, s)
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body *SessionDetail }{d}, nil
	}
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "update-session", Method: http.MethodPatch, Path: "/sessions/{session_id}", Summary: "Update a session", Tags: tags},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionWrite, "session_id"), Owner: OwnerBound, Errors: []int{400, 404, 413, 422},
		Handle: typed(func(ctx context.Context, in *struct {
			SessionID string `path:"session_id"`
			Body      UpdateSessionBody
		}) (*struct{ Body *SessionDetail }, error) {
			summary, err := summaryText(in.Body.Summary)
			if err != nil {
				return nil, toAPIError(err)
			}
			return update(ctx, core.UpdateSessionParams{SessionID: in.SessionID, SessionName: in.Body.SessionName,
				SessionState: in.Body.SessionState, Metadata: in.Body.Metadata, Summary: summary})
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "rename-session", Method: http.MethodPost, Path: "/sessions/{session_id}/rename", Summary: "Rename a session", Tags: tags},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionWrite, "session_id"), Owner: OwnerBound, Errors: []int{400, 404, 413, 422},
		Handle: typed(func(ctx context.Context, in *struct {
			SessionID string `path:"session_id"`
			Body      RenameBody
		}) (*struct{ Body *SessionDetail }, error) {
			name := in.Body.SessionName
			return update(ctx, core.UpdateSessionParams{SessionID: in.SessionID, SessionName: &name})
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "delete-session", Method: http.MethodDelete, Path: "/sessions/{session_id}", Summary: "Delete a session and its runs", Tags: tags, DefaultStatus: http.StatusNoContent},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionDelete, "session_id"), Owner: OwnerBound, Errors: []int{404},
		Handle: typed(func(ctx context.Context, in *sessionPath) (*struct{}, error) {
			if _, err := h.session(ctx, in.SessionID); err != nil {
				return nil, toAPIError(err)
			}
			n, err := h.eng.DeleteSessions(ctx, []string{in.SessionID})
			if err != nil {
				return nil, toAPIError(err)
			}
			if n == 0 {
				return nil, toAPIError(core.Errorf(core.CodeNotFound, "session %q not found", in.SessionID))
			}
			return nil, nil
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "delete-sessions", Method: http.MethodDelete, Path: "/sessions", Summary: "Delete sessions in bulk", Tags: tags, DefaultStatus: http.StatusNoContent},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionDelete, ""), Owner: OwnerFiltered, Errors: []int{400, 413, 422},
		Handle: typed(func(ctx context.Context, in *struct{ Body DeleteSessionsBody }) (*struct{}, error) {
			if len(in.Body.SessionTypes) > 0 && len(in.Body.SessionTypes) != len(in.Body.SessionIDs) {
				return nil, toAPIError(core.Errorf(core.CodeInvalid, "session_ids and session_types must have the same length"))
			}
			// Only the caller's own sessions are deleted.
			ids := h.owned(ctx).Sessions(ctx, in.Body.SessionIDs)
			if _, err := h.eng.DeleteSessions(ctx, ids); err != nil {
				return nil, toAPIError(err)
			}
			return nil, nil
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "list-session-runs", Method: http.MethodGet, Path: "/sessions/{session_id}/runs", Summary: "List a session's runs", Tags: tags},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionRead, "session_id"), Owner: OwnerBound, Errors: []int{404},
		Handle: typed(func(ctx context.Context, in *struct {
			SessionID     string `path:"session_id"`
			CreatedAfter  int64  `query:"created_after" doc:"Unix seconds"`
			CreatedBefore int64  `query:"created_before" doc:"Unix seconds"`
		}) (*struct{ Body []RunSchema }, error) {
			if _, err := h.session(ctx, in.SessionID); err != nil {
				return nil, toAPIError(err)
			}
			runs, err := h.eng.List(ctx, core.ListRunsParams{SessionID: in.SessionID, CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore})
			if err != nil {
				return nil, toAPIError(err)
			}
			return &struct{ Body []RunSchema }{runSchemas(runs)}, nil
		})})
	routes = append(routes, Route{Operation: huma.Operation{OperationID: "get-session-run", Method: http.MethodGet, Path: "/sessions/{session_id}/runs/{run_id}", Summary: "Get one run of a session", Tags: tags},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionRead, "session_id"), Owner: OwnerBound, Errors: []int{404},
		Handle: typed(func(ctx context.Context, in *struct {
			SessionID string `path:"session_id"`
			RunID     string `path:"run_id"`
		}) (*struct{ Body RunSchema }, error) {
			run, err := h.owned(ctx).Run(ctx, in.RunID)
			if err == nil && run.SessionID != in.SessionID {
				err = core.ErrNotFound
			}
			if core.CodeOf(err) == core.CodeNotFound {
				// Absent, of another session or of another user: one answer.
				err = core.Errorf(core.CodeNotFound, "run %q not found in session %q", in.RunID, in.SessionID)
			}
			if err != nil {
				return nil, toAPIError(err)
			}
			return &struct{ Body RunSchema }{runSchema(run)}, nil
		})})
	return routes
}
