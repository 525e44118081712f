package schedule

import (
	"context"

	"github.com/agentgate/agentgate/core"
)

// Target is what a schedule runs: an agent, a team or a workflow.
type Target struct {
	Kind core.Kind `json:"kind" enum:"agent,team,workflow"`
	ID   string    `json:"id"`
}

// Ref is the target as the engine names runnables.
func (t Target) Ref() core.Ref { return core.Ref{Kind: t.Kind, ID: t.ID} }

// Endpoint is the target's AgentOS run endpoint (/agents/{id}/runs...),
// what AgentOS's endpoint field says of a schedule.
func (t Target) Endpoint() string { return "/" + string(t.Kind.OrAgent()) + "s/" + t.ID + "/runs" }

// What to do with fires missed for longer than the grace (see the package
// documentation).
const (
	CatchUpOnce = "once"
	CatchUpNone = "none"
)

// Schedule is a recurring run. Times are Unix seconds; NextRunAt is the
// next due time (0: none), kept while the schedule is disabled.
type Schedule struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Description       string         `json:"description,omitempty"`
	Method            string         `json:"method"`
	Endpoint          string         `json:"endpoint"`
	Payload           map[string]any `json:"payload,omitempty"`
	CronExpr          string         `json:"cron_expr"`
	Timezone          string         `json:"timezone"`
	TimeoutSeconds    int            `json:"timeout_seconds"`
	MaxRetries        int            `json:"max_retries"`
	RetryDelaySeconds int            `json:"retry_delay_seconds"`
	Enabled           bool           `json:"enabled"`
	NextRunAt         int64          `json:"next_run_at,omitempty"`
	CreatedAt         int64          `json:"created_at"`
	UpdatedAt         int64          `json:"updated_at,omitempty"`
	// Ours: what runs, as whom, and what to do with long-missed fires.
	Target  Target `json:"target"`
	UserID  string `json:"user_id,omitempty"`
	CatchUp string `json:"catch_up"`
}

// Statuses of a schedule run (AgentOS's).
const (
	StatusRunning   = "running"
	StatusSuccess   = "success"
	StatusFailed    = "failed"
	StatusPaused    = "paused"
	StatusTimeout   = "timeout"
	StatusCancelled = "cancelled"
)

// ScheduleRun is one attempt of one fire of a schedule. Times are Unix
// seconds (0: not yet).
type ScheduleRun struct {
	ID          string `json:"id"`
	ScheduleID  string `json:"schedule_id"`
	Attempt     int    `json:"attempt"`
	TriggeredAt int64  `json:"triggered_at,omitempty"`
	CompletedAt int64  `json:"completed_at,omitempty"`
	Status      string `json:"status"`
	// StatusCode is AgentOS's HTTP status of the call it made; a schedule
	// here starts its run directly, so it is never set.
	StatusCode   *int             `json:"status_code,omitempty"`
	RunID        string           `json:"run_id,omitempty"`
	SessionID    string           `json:"session_id,omitempty"`
	Error        string           `json:"error,omitempty"`
	Input        map[string]any   `json:"input,omitempty"`
	Output       map[string]any   `json:"output,omitempty"`
	Requirements []map[string]any `json:"requirements,omitempty"`
	CreatedAt    int64            `json:"created_at"`
	// Ours: the due time it fires (for a trigger, when it was asked), and
	// whether it was triggered by hand (outside the due times).
	DueAt  int64 `json:"due_at"`
	Manual bool  `json:"manual,omitempty"`
	// RetryAt is when a failed attempt is retried (0: it is not, or the
	// retry was claimed); TimeoutAt when a running one times out.
	RetryAt   int64 `json:"-"`
	TimeoutAt int64 `json:"-"`
}

// Active reports whether the run may still change status.
func (r *ScheduleRun) Active() bool { return r.Status == StatusRunning || r.Status == StatusPaused }

// ListParams filter and page a list of schedules.
type ListParams struct {
	// UserID, when not empty, lists only that user's schedules.
	UserID string
	// Enabled, when set, lists only enabled (or disabled) ones.
	Enabled *bool
	// IDs, when not nil, lists only those schedules (empty: none): what a
	// caller's per-resource scopes let it see.
	IDs []string
	// Limit <= 0 lists every one; Page < 1 is page 1.
	Limit, Page int
}

// Store is what the service keeps its state in (the state database; the
// storage backends implement it in storage/sqlstore).
type Store interface {
	// CreateSchedule inserts s; a name another schedule has is
	// core.ErrConflict.
	CreateSchedule(ctx context.Context, s *Schedule) error
	// GetSchedule returns the schedule or core.ErrNotFound.
	GetSchedule(ctx context.Context, id string) (*Schedule, error)
	// ListSchedules returns one page of the schedules matching p, oldest
	// first, and how many match in all.
	ListSchedules(ctx context.Context, p ListParams) ([]*Schedule, int, error)
	// UpdateSchedule writes every field of s but its id, owner and
	// created_at; a missing one is core.ErrNotFound, a taken name
	// core.ErrConflict.
	UpdateSchedule(ctx context.Context, s *Schedule) error
	// DeleteSchedule deletes the schedule and its runs' history, or
	// answers core.ErrNotFound.
	DeleteSchedule(ctx context.Context, id string) error
	// DueSchedules returns up to limit enabled schedules whose next_run_at
	// is set and at or before now, the most overdue first.
	DueSchedules(ctx context.Context, now int64, limit int) ([]*Schedule, error)
	// ClaimFire moves the schedule's next_run_at from due to next if it is
	// still enabled and due there, and then inserts run (nil: none), in
	// one transaction. It reports whether this caller won the claim; a run
	// that already exists (same schedule, due time and attempt) loses it.
	ClaimFire(ctx context.Context, scheduleID string, due, next int64, run *ScheduleRun) (bool, error)
	// CreateScheduleRun inserts run; one of a schedule's due time and
	// attempt recorded already is core.ErrConflict.
	CreateScheduleRun(ctx context.Context, run *ScheduleRun) error
	// GetScheduleRun returns the schedule run or core.ErrNotFound.
	GetScheduleRun(ctx context.Context, id string) (*ScheduleRun, error)
	// ListScheduleRuns returns one page of a schedule's runs, newest
	// first, and how many it has.
	ListScheduleRuns(ctx context.Context, scheduleID string, limit, page int) ([]*ScheduleRun, int, error)
	// ActiveScheduleRuns returns up to limit running or paused schedule
	// runs of every schedule, oldest first.
	ActiveScheduleRuns(ctx context.Context, limit int) ([]*ScheduleRun, error)
	// RetryableScheduleRuns returns up to limit schedule runs whose
	// retry_at is set and at or before now.
	RetryableScheduleRuns(ctx context.Context, now int64, limit int) ([]*ScheduleRun, error)
	// UpdateScheduleRun writes run's status, times, run and session ids,
	// error, output, requirements, retry_at and timeout_at if its stored
	// status is still from; it reports whether it did.
	UpdateScheduleRun(ctx context.Context, run *ScheduleRun, from string) (bool, error)
	// ClaimRetry clears the retry_at of the failed run failedID and
	// inserts next, in one transaction, if retry_at was still set; it
	// reports whether this caller won.
	ClaimRetry(ctx context.Context, failedID string, next *ScheduleRun) (bool, error)
}
