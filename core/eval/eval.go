// Package eval is the evals resource group (AgentOS's /eval-runs, agno
// os/routers/evals and agno/eval): eval runs of four types, each really
// computed over ordinary engine runs of the evaluated agent or team, its
// store interface and its service (validation, isolation, running).
//
// # Types
//
//   - accuracy: each iteration's output is scored 1-10 against
//     expected_output by a judge model, with its reason; eval_data is
//     agno's AccuracyResult (results, avg/mean/min/max/std_dev scores). The
//     eval passes when avg_score >= threshold (default 7).
//   - agent_as_judge: a judge model checks each output against criteria,
//     numeric (score 1-10, passed when score >= threshold) or binary
//     (passed true/false); eval_data is agno's AgentAsJudgeResult
//     (pass_rate...). The eval passes when every iteration passed.
//   - performance: warmup_runs unmeasured runs, then num_iterations
//     measured ones: wall time of each run (start to end, through the
//     engine) and the memory the process allocated meanwhile (Go's runtime
//     counters: MiB and allocations); eval_data is agno's
//     PerformanceResult (avg/min/max/std_dev/median/p95 of run_times and
//     memory_usages) plus the allocations and each run's engine metrics.
//   - reliability: each iteration's tool calls must include every
//     expected_tool_calls entry (with expected_tool_call_arguments, a
//     subset match), and no other tool unless allow_additional_tool_calls;
//     eval_data is agno's ReliabilityResult (eval_status PASSED|FAILED,
//     failed_tool_calls, passed_tool_calls) plus the reasons.
//
// Every evaluated run goes through the engine (core.Runner: traced,
// listed, cancellable) tagged with the eval run's id (Run.EvalRunID). An
// eval run is "running", then "completed" (computed; Passed says the
// verdict) or "failed" (it could not be computed: a run ended with an
// error or was cancelled, the judge failed or gave an unreadable answer:
// Error says why).
//
// # Isolation
//
// An eval run belongs to the user who started it. Under user isolation a
// caller that is not an admin (Scope.Bound) lists, reads, renames and
// deletes only its own; another's is not found.
package eval

import "context"

// Eval types (AgentOS's EvalType).
const (
	TypeAccuracy     = "accuracy"
	TypeAgentAsJudge = "agent_as_judge"
	TypePerformance  = "performance"
	TypeReliability  = "reliability"
)

// Types are the eval types, in the API's order.
var Types = []string{TypeAccuracy, TypeAgentAsJudge, TypePerformance, TypeReliability}

// Statuses of an eval run.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Scoring strategies of agent_as_judge.
const (
	ScoringNumeric = "numeric"
	ScoringBinary  = "binary"
)

// EvalRun is one eval run: AgentOS's EvalSchema plus its owner, status,
// verdict and engine runs. Times are Unix seconds.
type EvalRun struct {
	ID                     string
	AgentID                string
	TeamID                 string
	WorkflowID             string
	ModelID                string
	ModelProvider          string
	Name                   string
	EvaluatedComponentName string
	EvalType               string
	EvalData               map[string]any
	EvalInput              map[string]any
	UserID                 string
	Status                 string
	Passed                 *bool // nil until completed
	Error                  string
	RunIDs                 []string
	CreatedAt              int64
	UpdatedAt              int64
}

// Filter selects eval runs. Empty fields do not filter. Kind is agno's
// filter_type ("agent", "team", "workflow": the runs of that kind).
// Limit 0 is every row; Page counts from 1.
type Filter struct {
	AgentID    string
	TeamID     string
	WorkflowID string
	ModelID    string
	Kind       string
	EvalTypes  []string
	UserID     string
	Limit      int
	Page       int
	SortBy     string // "created_at" (default), "updated_at", "name"
	SortOrder  string // "desc" (default), "asc"
}

// Sort keys and orders.
const (
	SortCreatedAt = "created_at"
	SortUpdatedAt = "updated_at"
	SortName      = "name"
	OrderAsc      = "asc"
	OrderDesc     = "desc"
)

// Store keeps eval runs. A missing eval run is core.ErrNotFound (wrapped).
type Store interface {
	// CreateEvalRun inserts e; a taken id is core.ErrConflict.
	CreateEvalRun(ctx context.Context, e *EvalRun) error
	// GetEvalRun reads one eval run.
	GetEvalRun(ctx context.Context, id string) (*EvalRun, error)
	// RenameEvalRun sets the name and updated_at.
	RenameEvalRun(ctx context.Context, id, name string, updatedAt int64) error
	// SaveEvalResult replaces the outcome: status, passed, error,
	// eval_data, run_ids, model_id, model_provider and updated_at (never
	// the name, so a rename during a run survives its end).
	SaveEvalResult(ctx context.Context, e *EvalRun) error
	// DeleteEvalRuns deletes the eval runs of ids (only userID's, when not
	// empty) and reports how many.
	DeleteEvalRuns(ctx context.Context, ids []string, userID string) (int, error)
	// ListEvalRuns lists one page of the eval runs f selects and how many
	// it selects in all.
	ListEvalRuns(ctx context.Context, f Filter) ([]EvalRun, int, error)
}
