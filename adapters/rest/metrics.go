package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric"
)

// MetricsResponse is AgentOS's MetricsResponse.
type MetricsResponse struct {
	Metrics   []metric.DayAggregatedMetrics `json:"metrics"`
	UpdatedAt *time.Time                    `json:"updated_at" doc:"When the newest of these rows was written (null: none)."`
}

// MetricsRefreshResponse is AgentOS's MetricsRefreshResponse.
type MetricsRefreshResponse struct {
	Status  string `json:"status" enum:"started,already_running"`
	Message string `json:"message,omitempty"`
}

// MetricsRefreshStatusResponse is AgentOS's MetricsRefreshStatusResponse.
type MetricsRefreshStatusResponse struct {
	Status     string     `json:"status" enum:"idle,running,completed,failed"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Error      *string    `json:"error"`
}

// refreshAnswer is POST /metrics/refresh's body: the refreshed days
// (DayAggregatedMetrics[]) or a MetricsRefreshResponse.
type refreshAnswer struct{ v any }

func (a refreshAnswer) MarshalJSON() ([]byte, error) { return json.Marshal(a.v) }

// Schema is one of the two.
func (refreshAnswer) Schema(r huma.Registry) *huma.Schema {
	return &huma.Schema{OneOf: []*huma.Schema{
		r.Schema(reflect.TypeFor[[]metric.DayAggregatedMetrics](), true, ""),
		r.Schema(reflect.TypeFor[MetricsRefreshResponse](), true, ""),
	}}
}

var (
	errNoMetrics = core.Errorf(core.CodeUnavailable, "metrics are off on this gateway")
	// errMetricsIsolated: the aggregates count every user's activity.
	errMetricsIsolated = core.Errorf(core.CodeForbidden, "metrics are OS-wide aggregates: under user isolation only an admin reads or refreshes them")
)

func unixPtr(s int64) *time.Time {
	if s <= 0 {
		return nil
	}
	t := time.Unix(s, 0).UTC()
	return &t
}

func wireDays(days []metric.Day) []metric.DayAggregatedMetrics {
	out := make([]metric.DayAggregatedMetrics, 0, len(days))
	for _, d := range days {
		out = append(out, d.Wire())
	}
	return out
}

// metricRoutes are /metrics (AgentOS §1.9): the daily aggregates the
// refresh job computes from the stored runs and sessions, OS-wide (see
// core/metric). Under user isolation they are an admin's.
func (h *Handler) metricRoutes() []Route {
	tags := []string{"Metrics"}
	svc := func(ctx context.Context) (*metric.Service, error) {
		if h.cfg.Metrics == nil {
			return nil, toAPIError(errNoMetrics)
		}
		if h.owned(ctx).Bound() {
			return nil, toAPIError(errMetricsIsolated)
		}
		return h.cfg.Metrics, nil
	}
	type refreshOut struct {
		Status int
		Body   refreshAnswer
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "get-metrics", Method: http.MethodGet, Path: "/metrics",
			Summary: "Get the daily metrics between two dates", Tags: tags,
			Description: "The stored daily aggregates (UTC days) between starting_date and ending_date, both inclusive (either may be omitted). " +
				"Rows are written by the refresh (POST /metrics/refresh, and a periodic job)."},
			DBScoped: true, Access: scoped(auth.ResourceMetrics, auth.ActionRead, ""), Errors: []int{400, 403, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				StartingDate string `query:"starting_date" doc:"YYYY-MM-DD (inclusive)."`
				EndingDate   string `query:"ending_date" doc:"YYYY-MM-DD (inclusive)."`
			}) (*struct{ Body MetricsResponse }, error) {
				s, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				r, err := metric.ParseRange(in.StartingDate, in.EndingDate)
				if err != nil {
					return nil, toAPIError(err)
				}
				days, latest, err := s.Get(ctx, r)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body MetricsResponse }{MetricsResponse{Metrics: wireDays(days), UpdatedAt: latest}}, nil
			})},
		{Operation: huma.Operation{OperationID: "refresh-metrics", Method: http.MethodPost, Path: "/metrics/refresh",
			Summary: "Recompute the daily metrics", Tags: tags,
			Description: "Recomputes the days with runs or sessions created or updated since the previous refresh, plus today, and answers their rows. " +
				"background=true answers 202 at once and runs it in the background (poll GET /metrics/refresh/status). " +
				"One refresh runs at a time across replicas: while one runs, the answer is {\"status\": \"already_running\"} (202 in the background, else 200).",
			Responses: map[string]*huma.Response{
				"202": {Description: "Background refresh started, or already running.", Content: map[string]*huma.MediaType{
					"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/MetricsRefreshResponse"}}}},
			}},
			DBScoped: true, Access: scoped(auth.ResourceMetrics, auth.ActionWrite, ""), Errors: []int{403},
			Handle: typed(func(ctx context.Context, in *struct {
				Background bool `query:"background" doc:"Run in the background and answer 202 at once."`
			}) (*refreshOut, error) {
				s, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				running := MetricsRefreshResponse{Status: "already_running", Message: "A metrics refresh is already in progress for this database"}
				if in.Background {
					err := s.RefreshBackground(ctx)
					switch {
					case errors.Is(err, metric.ErrAlreadyRunning):
						return &refreshOut{http.StatusAccepted, refreshAnswer{running}}, nil
					case err != nil:
						return nil, toAPIError(err)
					}
					return &refreshOut{http.StatusAccepted, refreshAnswer{MetricsRefreshResponse{Status: "started", Message: "Metrics refresh started in background"}}}, nil
				}
				days, err := s.Refresh(ctx)
				switch {
				case errors.Is(err, metric.ErrAlreadyRunning):
					return &refreshOut{http.StatusOK, refreshAnswer{running}}, nil
				case err != nil:
					return nil, toAPIError(err)
				}
				return &refreshOut{http.StatusOK, refreshAnswer{wireDays(days)}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-metrics-refresh-status", Method: http.MethodGet, Path: "/metrics/refresh/status",
			Summary: "Status of the latest metrics refresh", Tags: tags,
			Description: "idle (never refreshed), running, completed or failed, as the database records it: the same on every replica."},
			DBScoped: true, Access: scoped(auth.ResourceMetrics, auth.ActionRead, ""), Errors: []int{403},
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body MetricsRefreshStatusResponse }, error) {
				s, err := svc(ctx)
				if err != nil {
					return nil, err
				}
				st, err := s.Status(ctx)
				if err != nil {
					return nil, toAPIError(err)
				}
				b := MetricsRefreshStatusResponse{Status: st.Status, StartedAt: unixPtr(st.StartedAt), FinishedAt: unixPtr(st.FinishedAt)}
				if st.Error != "" {
					b.Error = &st.Error
				}
				return &struct{ Body MetricsRefreshStatusResponse }{b}, nil
			})},
	}
}
