// Package metric is the metrics resource group (AgentOS's /metrics, agno
// os/routers/metrics): daily aggregates of the stored runs and sessions —
// runs and sessions per kind of runnable, users, tokens, runs per model —
// its store interface and its service (the refresh, claimed in the
// database so that one runs at a time across replicas, incremental per
// day).
//
// # What a day counts
//
// A day is a UTC calendar day; a run or a session belongs to the day of its
// created_at. Per day:
//
//   - agent_runs_count, team_runs_count, workflow_runs_count: the top-level
//     runs (not the member runs of a team nor the step runs of a workflow,
//     which are child runs) of each kind;
//   - agent_sessions_count, team_sessions_count, workflow_sessions_count:
//     the sessions created that day, by session type;
//   - users_count: the distinct non-empty user ids of that day's runs and
//     sessions;
//   - token_metrics: the sums of every run's counters (child runs
//     included: a team leader's run counts only the leader's own model
//     usage, each member run its own), with agno's keys;
//   - model_metrics: per (model, provider), the runs that recorded a model
//     (child runs included), most used first.
//
// # Refresh
//
// A refresh recomputes the days that may have changed since the previous
// one — the days of the runs and sessions created or updated since it
// started (the watermark) — plus the days from the previous refresh's to
// today (so that a row computed while its day ran is completed), and
// writes one row per day. It is
// claimed in the database first (the refresh status row): while one is
// running anywhere, another is refused (ErrAlreadyRunning); a claim older
// than StaleAfter (a replica that died mid-refresh) may be taken over.
//
// # Isolation
//
// The aggregates are OS-wide: they count every user's activity. The REST
// adapter serves them to metrics:read (refresh: metrics:write) callers and,
// under user isolation, only to admins.
package metric

import (
	"context"
	"time"
)

// Period is the aggregation period of the rows (agno's
// aggregation_period); only daily rows exist.
const Period = "daily"

// DaySeconds is the length of a day bucket.
const DaySeconds = 24 * 60 * 60

// MetricsTokens are a day's token counters, agno's token_metrics keys.
type MetricsTokens struct {
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	TotalTokens       int64 `json:"total_tokens"`
	AudioTotalTokens  int64 `json:"audio_total_tokens"`
	AudioInputTokens  int64 `json:"audio_input_tokens"`
	AudioOutputTokens int64 `json:"audio_output_tokens"`
	CacheReadTokens   int64 `json:"cache_read_tokens"`
	CacheWriteTokens  int64 `json:"cache_write_tokens"`
	ReasoningTokens   int64 `json:"reasoning_tokens"`
}

// TokenKeys are the JSON keys of MetricsTokens, in field order: the keys
// summed from a run's stored metrics.
var TokenKeys = []string{"input_tokens", "output_tokens", "total_tokens", "audio_total_tokens", "audio_input_tokens",
	"audio_output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"}

// Fields returns pointers to the counters in TokenKeys order.
func (t *MetricsTokens) Fields() []*int64 {
	return []*int64{&t.InputTokens, &t.OutputTokens, &t.TotalTokens, &t.AudioTotalTokens, &t.AudioInputTokens,
		&t.AudioOutputTokens, &t.CacheReadTokens, &t.CacheWriteTokens, &t.ReasoningTokens}
}

// MetricsModelCount is one entry of model_metrics.
type MetricsModelCount struct {
	ModelID       string `json:"model_id"`
	ModelProvider string `json:"model_provider"`
	Count         int64  `json:"count"`
}

// Aggregate is what one day's stored runs and sessions add up to.
type Aggregate struct {
	AgentRuns, TeamRuns, WorkflowRuns             int64
	AgentSessions, TeamSessions, WorkflowSessions int64
	Users                                         int64
	Tokens                                        MetricsTokens
	Models                                        []MetricsModelCount
}

// Day is one stored daily row. Day is the Unix second its UTC day starts
// at; CreatedAt and UpdatedAt are Unix seconds. Completed is true once the
// row was computed after its day ended.
type Day struct {
	ID        string
	Day       int64
	Period    string
	Aggregate Aggregate
	Completed bool
	CreatedAt int64
	UpdatedAt int64
}

// DayAggregatedMetrics is AgentOS's DayAggregatedMetrics, the wire form of a Day.
type DayAggregatedMetrics struct {
	ID                    string              `json:"id"`
	AgentRunsCount        int64               `json:"agent_runs_count"`
	AgentSessionsCount    int64               `json:"agent_sessions_count"`
	TeamRunsCount         int64               `json:"team_runs_count"`
	TeamSessionsCount     int64               `json:"team_sessions_count"`
	WorkflowRunsCount     int64               `json:"workflow_runs_count"`
	WorkflowSessionsCount int64               `json:"workflow_sessions_count"`
	UsersCount            int64               `json:"users_count"`
	TokenMetrics          MetricsTokens       `json:"token_metrics"`
	ModelMetrics          []MetricsModelCount `json:"model_metrics"`
	Date                  time.Time           `json:"date" doc:"The UTC day, at midnight."`
	CreatedAt             time.Time           `json:"created_at"`
	UpdatedAt             time.Time           `json:"updated_at"`
}

// Wire is d's AgentOS form.
func (d Day) Wire() DayAggregatedMetrics {
	a := d.Aggregate
	models := a.Models
	if models == nil {
		models = []MetricsModelCount{}
	}
	return DayAggregatedMetrics{ID: d.ID, AgentRunsCount: a.AgentRuns, AgentSessionsCount: a.AgentSessions,
		TeamRunsCount: a.TeamRuns, TeamSessionsCount: a.TeamSessions, WorkflowRunsCount: a.WorkflowRuns,
		WorkflowSessionsCount: a.WorkflowSessions, UsersCount: a.Users, TokenMetrics: a.Tokens, ModelMetrics: models,
		Date: unixUTC(d.Day), CreatedAt: unixUTC(d.CreatedAt), UpdatedAt: unixUTC(d.UpdatedAt)}
}

func unixUTC(s int64) time.Time { return time.Unix(s, 0).UTC() }

// Refresh statuses (AgentOS's MetricsRefreshStatusResponse.status).
const (
	StatusIdle      = "idle"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// RefreshState is the refresh status row. Times are Unix seconds (0: not
// yet). Watermark is when the last successful refresh started: the runs
// and sessions changed since then are the ones the next one looks at.
type RefreshState struct {
	Status     string
	StartedAt  int64
	FinishedAt int64
	Error      string
	Watermark  int64
	// Token identifies the claim of the running refresh.
	Token string
}

// Store is what the metrics need of the state database: the aggregate
// queries over its runs and sessions (read-only), the daily rows and the
// refresh status row.
type Store interface {
	// MetricsAggregate adds up the runs and sessions created in [from, to).
	MetricsAggregate(ctx context.Context, from, to int64) (Aggregate, error)
	// MetricsChangedDays returns the start (Unix second) of every UTC day
	// holding a run or session created or updated at or after since,
	// ascending.
	MetricsChangedDays(ctx context.Context, since int64) ([]int64, error)
	// UpsertMetricsDays writes the rows, replacing the stored row of the
	// same day and period (its id and created_at are kept).
	UpsertMetricsDays(ctx context.Context, days []Day) error
	// ListMetricsDays returns the rows of the days in [from, to) (to <= 0:
	// no upper bound), ascending by day.
	ListMetricsDays(ctx context.Context, from, to int64) ([]Day, error)
	// ClaimMetricsRefresh marks the refresh running with token, started at
	// now, unless one is running that started after staleBefore; it
	// reports whether it claimed, and the state before the claim.
	ClaimMetricsRefresh(ctx context.Context, token string, now, staleBefore int64) (bool, RefreshState, error)
	// FinishMetricsRefresh ends the claim token holds: completed (errMsg
	// empty; watermark then becomes the given value) or failed. It reports
	// whether the claim was still token's.
	FinishMetricsRefresh(ctx context.Context, token string, finishedAt int64, errMsg string, watermark int64) (bool, error)
	// MetricsRefreshState returns the refresh status row.
	MetricsRefreshState(ctx context.Context) (RefreshState, error)
}
