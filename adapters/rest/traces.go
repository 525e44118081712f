package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace"
)

// TracePage, TraceSessionPage and TraceSearchPage are AgentOS's paginated
// lists of traces.
type TracePage struct {
	Data []trace.TraceSummary `json:"data"`
	Meta PageMeta             `json:"meta"`
}

type TraceSessionPage struct {
	Data []trace.SessionStats `json:"data"`
	Meta PageMeta             `json:"meta"`
}

// TraceSearchPage is POST /traces/search's page: TraceDetail items
// (group_by run) or TraceSessionStats items (group_by session).
type TraceSearchPage struct {
	Data any      `json:"data" doc:"TraceDetail objects (group_by run) or TraceSessionStats objects (group_by session)."`
	Meta PageMeta `json:"meta"`
}

// TraceSearchBody is the body of POST /traces/search (AgentOS's
// TraceSearchRequest).
type TraceSearchBody struct {
	Filter  filterJSON `json:"filter,omitempty" doc:"A FilterExpr: {\"op\":\"EQ|NEQ|GT|GTE|LT|LTE|CONTAINS|STARTSWITH\",\"key\":k,\"value\":v}, {\"op\":\"IN\",\"key\":k,\"values\":[...]}, {\"op\":\"AND|OR\",\"conditions\":[...]}, {\"op\":\"NOT\",\"condition\":{...}}. GET /traces/filter-schema lists the fields and their operators."`
	GroupBy string     `json:"group_by,omitempty" enum:"run,session" default:"run"`
	Page    int        `json:"page,omitempty" minimum:"1" default:"1"`
	Limit   int        `json:"limit,omitempty" minimum:"1" maximum:"100" default:"20"`
}

// filterJSON is a filter expression kept as JSON for core/trace to parse.
type filterJSON struct{ raw json.RawMessage }

func (f *filterJSON) UnmarshalJSON(b []byte) error {
	f.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Schema is an object or null.
func (filterJSON) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, Nullable: true, AdditionalProperties: true}
}

var errNoTraces = core.Errorf(core.CodeUnavailable, "traces are off on this gateway (observability.tracing: false)")

// parseTimeParam parses an ISO 8601 query parameter ("" is none); one that
// does not parse is 422 naming it.
func parseTimeParam(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := trace.ParseTime(v)
	if err != nil {
		return time.Time{}, core.Errorf(core.CodeUnprocessable, "%s: %v", name, err)
	}
	return t, nil
}

// traceRoutes are /traces and /trace_session_stats (AgentOS §1.10). Under
// user isolation a non-admin reads only their own traces: lists and
// searches are bound to them, another user's trace is not found, and
// naming another user in a filter is 403.
func (h *Handler) traceRoutes() []Route {
	tags := []string{"Traces"}
	svc := func(dbID string) (*trace.Service, error) {
		if h.cfg.Traces == nil {
			return nil, toAPIError(errNoTraces)
		}
		if err := h.checkDB(dbID); err != nil {
			return nil, toAPIError(err)
		}
		return h.cfg.Traces, nil
	}
	scope := func(ctx context.Context) trace.Scope {
		o := h.owned(ctx)
		return trace.Scope{Bound: o.Bound(), UserID: o.UserID("")}
	}
	meta := func(limit, page, total int, start time.Time) PageMeta {
		m := pageMeta(limit, page, total)
		m.SearchTimeMS = float64(time.Since(start).Microseconds()) / 1000
		return m
	}
	read := func() *auth.Operation { return scoped(auth.ResourceTraces, auth.ActionRead, "") }
	type listIn struct {
		RunID      string `query:"run_id"`
		SessionID  string `query:"session_id"`
		UserID     string `query:"user_id"`
		AgentID    string `query:"agent_id"`
		TeamID     string `query:"team_id"`
		WorkflowID string `query:"workflow_id"`
		Status     string `query:"status" enum:"OK,ERROR,UNSET,"`
		StartTime  string `query:"start_time" doc:"Traces starting at or after this ISO 8601 time (e.g. 2025-11-19T10:00:00Z)."`
		EndTime    string `query:"end_time" doc:"Traces ending at or before this ISO 8601 time."`
		Page       int    `query:"page" default:"1" minimum:"1"`
		Limit      int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
		DBID       string `query:"db_id"`
	}
	filter := func(in *listIn) (trace.ListFilter, error) {
		start, err := parseTimeParam("start_time", in.StartTime)
		if err != nil {
			return trace.ListFilter{}, err
		}
		end, err := parseTimeParam("end_time", in.EndTime)
		if err != nil {
			return trace.ListFilter{}, err
		}
		return trace.ListFilter{RunID: in.RunID, SessionID: in.SessionID, UserID: in.UserID, AgentID: in.AgentID,
			TeamID: in.TeamID, WorkflowID: in.WorkflowID, Status: in.Status, StartTime: start, EndTime: end,
			Limit: in.Limit, Page: in.Page}, nil
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "list-traces", Method: http.MethodGet, Path: "/traces",
			Summary: "List traces", Tags: tags, Description: "Latest first. Under user isolation a non-admin lists their own traces."},
			Access: read(), Owner: OwnerFiltered, Errors: []int{403, 404, 422},
			Handle: typed(func(ctx context.Context, in *listIn) (*struct{ Body TracePage }, error) {
				s, err := svc(in.DBID)
				if err != nil {
					return nil, err
				}
				f, err := filter(in)
				if err != nil {
					return nil, toAPIError(err)
				}
				start := time.Now()
				list, total, err := s.List(ctx, scope(ctx), f)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body TracePage }{TracePage{Data: list, Meta: meta(in.Limit, in.Page, total, start)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-traces-filter-schema", Method: http.MethodGet, Path: "/traces/filter-schema",
			Summary: "The fields, operators and values POST /traces/search filters take", Tags: tags},
			Access: read(), Owner: OwnerNone,
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body trace.FilterSchema }, error) {
				return &struct{ Body trace.FilterSchema }{trace.Schema()}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-trace", Method: http.MethodGet, Path: "/traces/{trace_id}",
			Summary: "Get a trace with its span tree, or one of its spans", Tags: tags,
			Description: "Without span_id: the TraceDetail with its tree of TraceNodes (children by start time). With span_id: that span's TraceNode, without children."},
			Access: read(), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				TraceID string `path:"trace_id"`
				SpanID  string `query:"span_id"`
				RunID   string `query:"run_id"`
				DBID    string `query:"db_id"`
			}) (*struct{ Body any }, error) {
				s, err := svc(in.DBID)
				if err != nil {
					return nil, err
				}
				if in.SpanID != "" {
					n, err := s.Span(ctx, scope(ctx), in.TraceID, in.SpanID, in.RunID)
					if err != nil {
						return nil, toAPIError(err)
					}
					return &struct{ Body any }{n}, nil
				}
				d, err := s.Get(ctx, scope(ctx), in.TraceID, in.RunID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body any }{d}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-trace-session-stats", Method: http.MethodGet, Path: "/trace_session_stats",
			Summary: "Trace counts by session", Tags: tags, Description: "Sessions of the selected traces, latest trace first."},
			Access: read(), Owner: OwnerFiltered, Errors: []int{403, 404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				UserID     string `query:"user_id"`
				AgentID    string `query:"agent_id"`
				TeamID     string `query:"team_id"`
				WorkflowID string `query:"workflow_id"`
				StartTime  string `query:"start_time"`
				EndTime    string `query:"end_time"`
				Page       int    `query:"page" default:"1" minimum:"1"`
				Limit      int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
				DBID       string `query:"db_id"`
			}) (*struct{ Body TraceSessionPage }, error) {
				s, err := svc(in.DBID)
				if err != nil {
					return nil, err
				}
				f, err := filter(&listIn{UserID: in.UserID, AgentID: in.AgentID, TeamID: in.TeamID, WorkflowID: in.WorkflowID,
					StartTime: in.StartTime, EndTime: in.EndTime, Page: in.Page, Limit: in.Limit})
				if err != nil {
					return nil, toAPIError(err)
				}
				start := time.Now()
				list, total, err := s.SessionStats(ctx, scope(ctx), f)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body TraceSessionPage }{TraceSessionPage{Data: list, Meta: meta(in.Limit, in.Page, total, start)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "search-traces", Method: http.MethodPost, Path: "/traces/search",
			Summary: "Search traces with a filter expression", Tags: tags,
			Description: "An invalid filter (unknown field, operator not allowed for the field, value of the wrong type) is 400 naming it; a datetime value that does not parse is 422."},
			Access: read(), Owner: OwnerFiltered, Errors: []int{400, 403, 404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				DBID string `query:"db_id"`
				Body TraceSearchBody
			}) (*struct{ Body TraceSearchPage }, error) {
				s, err := svc(in.DBID)
				if err != nil {
					return nil, err
				}
				b := in.Body
				if b.Page == 0 {
					b.Page = 1
				}
				if b.Limit == 0 {
					b.Limit = trace.DefaultLimit
				}
				start := time.Now()
				res, err := s.Search(ctx, scope(ctx), trace.SearchInput{Filter: bytes.TrimSpace(b.Filter.raw), GroupBy: b.GroupBy,
					Limit: b.Limit, Page: b.Page})
				if err != nil {
					return nil, toAPIError(err)
				}
				var data any = res.Runs
				if b.GroupBy == trace.GroupBySession {
					data = res.Sessions
				}
				return &struct{ Body TraceSearchPage }{TraceSearchPage{Data: data, Meta: meta(b.Limit, b.Page, res.Total, start)}}, nil
			})},
	}
}
