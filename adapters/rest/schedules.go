package rest

import (
	"context"
	"math"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
)

// ScheduleBody is the body of POST /schedules (AgentOS's ScheduleCreate:
// name and cron_expr required there, then checked by the service) and of
// PATCH /schedules/{schedule_id} (ScheduleUpdate: what it names changes).
// target, or AgentOS's endpoint and method naming a run endpoint, says
// what runs.
type ScheduleBody struct {
	Name              *string          `json:"name,omitempty" maxLength:"255"`
	Description       *string          `json:"description,omitempty" maxLength:"1024"`
	CronExpr          *string          `json:"cron_expr,omitempty" maxLength:"128" doc:"5-field cron, or @hourly, @daily..., or (beyond AgentOS) @every <duration> (at least 1s)."`
	Timezone          *string          `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone (default UTC)."`
	Endpoint          *string          `json:"endpoint,omitempty" maxLength:"512" doc:"AgentOS's form: a run endpoint, /agents|teams|workflows/{id}/runs."`
	Method            *string          `json:"method,omitempty" maxLength:"10" doc:"POST (the only one a run endpoint takes)."`
	Payload           map[string]any   `json:"payload,omitempty" doc:"The run's fields: message (required), session_id."`
	TimeoutSeconds    *int             `json:"timeout_seconds,omitempty" minimum:"1" maximum:"86400"`
	MaxRetries        *int             `json:"max_retries,omitempty" minimum:"0" maximum:"10"`
	RetryDelaySeconds *int             `json:"retry_delay_seconds,omitempty" minimum:"1" maximum:"3600"`
	Target            *schedule.Target `json:"target,omitempty" doc:"What runs (beyond AgentOS; or give endpoint)."`
	CatchUp           *string          `json:"catch_up,omitempty" enum:"once,none" doc:"Fires missed while every replica was down: once (default) or none."`
}

// input is the body as the service takes it. As in AgentOS, schedules:write
// is what creating one takes (its runs run as its owner); the target's own
// run scope is not asked for.
func (b ScheduleBody) input() schedule.Input {
	in := schedule.Input{Name: b.Name, Description: b.Description, CronExpr: b.CronExpr, Timezone: b.Timezone,
		Endpoint: b.Endpoint, Method: b.Method, TimeoutSeconds: b.TimeoutSeconds, MaxRetries: b.MaxRetries,
		RetryDelaySeconds: b.RetryDelaySeconds, Target: b.Target, CatchUp: b.CatchUp}
	if b.Payload != nil {
		in.Payload = &b.Payload
	}
	return in
}

// ScheduleStateResponse is AgentOS's answer to enable and disable.
type ScheduleStateResponse struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Enabled   bool   `json:"enabled"`
	NextRunAt int64  `json:"next_run_at,omitempty"`
	UpdatedAt int64  `json:"updated_at,omitempty"`
}

// SchedulePage and ScheduleRunPage are AgentOS's paginated lists.
type SchedulePage struct {
	Data []*schedule.Schedule `json:"data"`
	Meta PageMeta             `json:"meta"`
}

type ScheduleRunPage struct {
	Data []*schedule.ScheduleRun `json:"data"`
	Meta PageMeta                `json:"meta"`
}

type schedulePath struct {
	ID string `path:"schedule_id"`
}

func pageMeta(limit, page, total int) PageMeta {
	return PageMeta{Page: page, Limit: limit, TotalCount: total, TotalPages: int(math.Ceil(float64(total) / float64(limit)))}
}

var errNoSchedules = core.Errorf(core.CodeUnavailable, "schedules are off on this gateway (schedules.enabled: false)")

// scheduleRoutes are /schedules (AgentOS §1.11). Schedules are owner-bound:
// under user isolation a non-admin lists and touches only their own (the
// service is given the owner to scope by), and another's is not found.
func (h *Handler) scheduleRoutes() []Route {
	tags := []string{"Schedules"}
	const id = "schedule_id"
	svc := func() (*schedule.Service, error) {
		if h.cfg.Schedules == nil {
			return nil, toAPIError(errNoSchedules)
		}
		return h.cfg.Schedules, nil
	}
	// scope is whose schedules the caller sees: under isolation its own,
	// otherwise every one ("").
	scope := func(ctx context.Context) string { return h.owned(ctx).UserID("") }
	state := func(sc *schedule.Schedule) *struct{ Body ScheduleStateResponse } {
		return &struct{ Body ScheduleStateResponse }{ScheduleStateResponse{ID: sc.ID, Name: sc.Name, Enabled: sc.Enabled,
			NextRunAt: sc.NextRunAt, UpdatedAt: sc.UpdatedAt}}
	}
	one := func(sc *schedule.Schedule, err error) (*struct{ Body *schedule.Schedule }, error) {
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body *schedule.Schedule }{sc}, nil
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "list-schedules", Method: http.MethodGet, Path: "/schedules",
			Summary: "List schedules", Tags: tags},
			Access: listed(auth.ResourceSchedules, auth.ActionRead), Owner: OwnerFiltered, Errors: []int{422},
			Handle: typed(func(ctx context.Context, in *struct {
				Enabled string `query:"enabled" enum:"true,false" doc:"Only enabled (or disabled) ones."`
				Limit   int    `query:"limit" default:"100" minimum:"1" maximum:"1000"`
				Page    int    `query:"page" default:"1" minimum:"1"`
			}) (*struct{ Body SchedulePage }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				var enabled *bool
				if in.Enabled != "" {
					v := in.Enabled == "true"
					enabled = &v
				}
				var ids []string // nil: every schedule; else only those the scopes name
				if all, scoped := principal(ctx).VisibleIDs(auth.ResourceSchedules, auth.ActionRead); !all {
					ids = append([]string{}, scoped...)
				}
				list, total, err := s.List(ctx, scope(ctx), enabled, ids, in.Limit, in.Page)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body SchedulePage }{SchedulePage{Data: list, Meta: pageMeta(in.Limit, in.Page, total)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "create-schedule", Method: http.MethodPost, Path: "/schedules",
			Summary: "Create a schedule", Tags: tags, DefaultStatus: http.StatusCreated},
			Access: scoped(auth.ResourceSchedules, auth.ActionWrite, ""), Owner: OwnerAssigned, Errors: []int{400, 409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body ScheduleBody }) (*struct{ Body *schedule.Schedule }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Create(ctx, h.owned(ctx).UserID(principal(ctx).UserID), in.Body.input()))
			})},
		{Operation: huma.Operation{OperationID: "get-schedule", Method: http.MethodGet, Path: "/schedules/{schedule_id}",
			Summary: "Get a schedule", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionRead, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *schedulePath) (*struct{ Body *schedule.Schedule }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Get(ctx, scope(ctx), in.ID))
			})},
		{Operation: huma.Operation{OperationID: "update-schedule", Method: http.MethodPatch, Path: "/schedules/{schedule_id}",
			Summary: "Update a schedule", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{400, 404, 409, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID   string `path:"schedule_id"`
				Body ScheduleBody
			}) (*struct{ Body *schedule.Schedule }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Update(ctx, scope(ctx), in.ID, in.Body.input()))
			})},
		{Operation: huma.Operation{OperationID: "delete-schedule", Method: http.MethodDelete, Path: "/schedules/{schedule_id}",
			Summary: "Delete a schedule and its history", Tags: tags, DefaultStatus: http.StatusNoContent},
			Access: scoped(auth.ResourceSchedules, auth.ActionDelete, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *schedulePath) (*struct{}, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				if err := s.Delete(ctx, scope(ctx), in.ID); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "enable-schedule", Method: http.MethodPost, Path: "/schedules/{schedule_id}/enable",
			Summary: "Enable a schedule (its next run is computed from now)", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *schedulePath) (*struct{ Body ScheduleStateResponse }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				sc, err := s.SetEnabled(ctx, scope(ctx), in.ID, true)
				if err != nil {
					return nil, toAPIError(err)
				}
				return state(sc), nil
			})},
		{Operation: huma.Operation{OperationID: "disable-schedule", Method: http.MethodPost, Path: "/schedules/{schedule_id}/disable",
			Summary: "Disable a schedule", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *schedulePath) (*struct{ Body ScheduleStateResponse }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				sc, err := s.SetEnabled(ctx, scope(ctx), in.ID, false)
				if err != nil {
					return nil, toAPIError(err)
				}
				return state(sc), nil
			})},
		{Operation: huma.Operation{OperationID: "trigger-schedule", Method: http.MethodPost, Path: "/schedules/{schedule_id}/trigger",
			Summary: "Run a schedule now and wait for the run (its next due time does not move)", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{404, 409},
			Handle: typed(func(ctx context.Context, in *schedulePath) (*struct{ Body *schedule.ScheduleRun }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				r, err := s.Trigger(ctx, scope(ctx), in.ID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body *schedule.ScheduleRun }{r}, nil
			})},
		{Operation: huma.Operation{OperationID: "list-schedule-runs", Method: http.MethodGet, Path: "/schedules/{schedule_id}/runs",
			Summary: "List a schedule's runs, newest first", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionRead, id), Owner: OwnerBound, Errors: []int{404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID    string `path:"schedule_id"`
				Limit int    `query:"limit" default:"100" minimum:"1" maximum:"1000"`
				Page  int    `query:"page" default:"1" minimum:"1"`
			}) (*struct{ Body ScheduleRunPage }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				list, total, err := s.Runs(ctx, scope(ctx), in.ID, in.Limit, in.Page)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body ScheduleRunPage }{ScheduleRunPage{Data: list, Meta: pageMeta(in.Limit, in.Page, total)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-schedule-run", Method: http.MethodGet, Path: "/schedules/{schedule_id}/runs/{run_id}",
			Summary: "Get one run of a schedule", Tags: tags},
			Access: scoped(auth.ResourceSchedules, auth.ActionRead, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				ID    string `path:"schedule_id"`
				RunID string `path:"run_id"`
			}) (*struct{ Body *schedule.ScheduleRun }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				r, err := s.Run(ctx, scope(ctx), in.ID, in.RunID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body *schedule.ScheduleRun }{r}, nil
			})},
	}
}
